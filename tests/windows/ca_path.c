/* tls_ca_file given as a Windows path (drive letter, backslashes, non-ASCII characters),
 * passed to the library as UTF-8 the way a Windows program gets it: from its UTF-16 command
 * line (wmain), converted with WideCharToMultiByte(CP_UTF8). Connects to a wss:// simulator
 * with Basic auth and takes one message. With --no-ca it expects PWA_ERR_TLS instead (the
 * Windows certificate store does not hold the test CA), with the certificate problem named.
 * usage: ca_path URL USER PASSWORD CA_PATH | ca_path URL USER PASSWORD --no-ca */
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "piwebasync.h"

static char *utf8(const wchar_t *w) {
    int n = WideCharToMultiByte(CP_UTF8, 0, w, -1, NULL, 0, NULL, NULL);
    char *s = n > 0 ? malloc((size_t)n) : NULL;
    if (!s || WideCharToMultiByte(CP_UTF8, 0, w, -1, s, n, NULL, NULL) != n) {
        fprintf(stderr, "WideCharToMultiByte failed\n");
        exit(2);
    }
    return s;
}

int wmain(int argc, wchar_t **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: ca_path URL USER PASSWORD (CA_PATH | --no-ca)\n");
        return 2;
    }
    char *url = utf8(argv[1]), *user = utf8(argv[2]), *pw = utf8(argv[3]), *ca = utf8(argv[4]);
    int no_ca = strcmp(ca, "--no-ca") == 0;
    pwa_config *cfg = pwa_config_new();
    char err[1024] = "";
    if (pwa_config_set(cfg, "auth", "basic") != PWA_OK || pwa_config_set(cfg, "username", user) != PWA_OK || pwa_config_set(cfg, "password", pw) != PWA_OK ||
        (!no_ca && pwa_config_set(cfg, "tls_ca_file", ca) != PWA_OK)) {
        pwa_last_error(err, sizeof err, NULL);
        fprintf(stderr, "pwa_config_set: %s\n", err);
        return 1;
    }
    pwa_channel_t h = 0;
    pwa_status s = pwa_channel_open(url, cfg, NULL, &h);
    pwa_config_free(cfg);
    if (s == PWA_OK) {
        pwa_message *m = NULL;
        s = pwa_channel_poll_next(h, 20000, &m);
        if (s == PWA_OK) pwa_message_free(m);
        else pwa_channel_last_error(h, err, sizeof err, NULL);
        pwa_channel_free(h);
    } else {
        pwa_last_error(err, sizeof err, NULL);
    }
    printf("%s%s%s\n", pwa_status_name(s), *err ? ": " : "", err);
    if (no_ca) {
        if (s != PWA_ERR_TLS || !strstr(err, "certificate")) {
            fprintf(stderr, "expected PWA_ERR_TLS naming the certificate problem\n");
            return 1;
        }
        return 0;
    }
    return s == PWA_OK ? 0 : 1;
}
