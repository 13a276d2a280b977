/* A host that loads piwebasync.dll at run time, as plugin hosts and LabVIEW do: LoadLibrary,
 * stream a few messages from the simulator, free the channel, FreeLibrary, and live on for
 * 300 ms, ROUNDS times in one process, then exit. The library's threads run from the DLL, so it
 * pins itself: after FreeLibrary it must still be loaded (else those threads would crash the
 * host), and the next round gets the same, running library.
 * With --shutdown, round 1 calls pwa_shutdown before FreeLibrary, and the later rounds expect
 * PWA_ERR_SHUTDOWN from pwa_channel_open (the library cannot be restarted in a process).
 * scripts/test-windows.sh runs it under Wine and fails it unless it exits 0 within 5 s.
 * usage: host_loadlibrary URL ROUNDS [--shutdown] */
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "piwebasync.h"

typedef pwa_status (*open_fn)(const char *, const pwa_config *, const pwa_callbacks *, pwa_channel_t *);
typedef pwa_status (*poll_fn)(pwa_channel_t, int32_t, pwa_message **);
typedef void (*msg_free_fn)(pwa_message *);
typedef pwa_status (*free_fn)(pwa_channel_t);
typedef pwa_status (*shutdown_fn)(int32_t);
typedef const char *(*name_fn)(pwa_status);

#define LOAD(var, type, name)                                                       \
    type var = (type)(void (*)(void))GetProcAddress(dll, name);                     \
    if (!var) {                                                                     \
        fprintf(stderr, "round %d: GetProcAddress(%s) failed\n", round, name);      \
        return 1;                                                                   \
    }

static int one_round(const char *url, int round, int shutdown) {
    HMODULE dll = LoadLibraryW(L"piwebasync.dll");
    if (!dll) {
        fprintf(stderr, "round %d: LoadLibrary(piwebasync.dll) failed: error %lu\n", round, GetLastError());
        return 1;
    }
    LOAD(open, open_fn, "pwa_channel_open")
    LOAD(poll, poll_fn, "pwa_channel_poll_next")
    LOAD(msg_free, msg_free_fn, "pwa_message_free")
    LOAD(chan_free, free_fn, "pwa_channel_free")
    LOAD(shut, shutdown_fn, "pwa_shutdown")
    LOAD(name, name_fn, "pwa_status_name")
    pwa_channel_t h = 0;
    pwa_status s = open(url, NULL, NULL, &h);
    if (shutdown && round > 1) {
        if (s != PWA_ERR_SHUTDOWN) {
            fprintf(stderr, "round %d: pwa_channel_open after pwa_shutdown: %s, expected PWA_ERR_SHUTDOWN\n",
                    round, name(s));
            return 1;
        }
    } else {
        if (s != PWA_OK) {
            fprintf(stderr, "round %d: pwa_channel_open: %s\n", round, name(s));
            return 1;
        }
        for (int i = 0; i < 3; i++) {
            pwa_message *m = NULL;
            s = poll(h, 10000, &m);
            if (s != PWA_OK) {
                fprintf(stderr, "round %d: pwa_channel_poll_next: %s\n", round, name(s));
                return 1;
            }
            msg_free(m);
        }
        if ((s = chan_free(h)) != PWA_OK) {
            fprintf(stderr, "round %d: pwa_channel_free: %s\n", round, name(s));
            return 1;
        }
        if (shutdown && (s = shut(5000)) != PWA_OK) {
            fprintf(stderr, "round %d: pwa_shutdown: %s\n", round, name(s));
            return 1;
        }
    }
    if (!FreeLibrary(dll)) {
        fprintf(stderr, "round %d: FreeLibrary failed: error %lu\n", round, GetLastError());
        return 1;
    }
    if (GetModuleHandleW(L"piwebasync.dll") == NULL) {
        fprintf(stderr, "round %d: piwebasync.dll was unloaded by FreeLibrary: it did not pin itself\n", round);
        return 1;
    }
    Sleep(300);
    printf("round %d: %s, FreeLibrary, still loaded and running 300 ms later\n", round,
           shutdown && round > 1 ? "PWA_ERR_SHUTDOWN as expected" : "3 messages");
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s URL ROUNDS [--shutdown]\n", argv[0]);
        return 2;
    }
    int rounds = atoi(argv[2]);
    int shutdown = argc > 3 && strcmp(argv[3], "--shutdown") == 0;
    for (int round = 1; round <= rounds; round++)
        if (one_round(argv[1], round, shutdown) != 0) return 1;
    return 0;
}
