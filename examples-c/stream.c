/*
 * stream.c — open a PI Web API channel and print what it streams.
 *
 *   stream URL [-n COUNT] [-c key=value]...
 *
 * URL is a channel URL, e.g. wss://pi/piwebapi/streams/{webId}/channel?includeInitialValues=true
 * -n stops after COUNT messages (default: until Ctrl-C or the channel ends);
 * -c sets any configuration key (see pwa_config_set in piwebasync.h), e.g. -c reconnect=true.
 *
 * Exit status: 0 after COUNT messages, Ctrl-C or a normal close; 1 on any failure.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "piwebasync.h"

static volatile sig_atomic_t stop_requested = 0;

static void on_signal(int sig) {
    (void)sig;
    stop_requested = 1;
}

static void print_last_error(const char *what, pwa_status st) {
    char buf[512];
    pwa_last_error(buf, sizeof buf, NULL);
    fprintf(stderr, "%s: %s (%s): %s\n", what, pwa_status_name(st), pwa_status_str(st), buf);
}

/* Count the streams of a message and show the first value. A plain text scan keeps this
 * example free of a JSON parser; it is enough for the shape PI Web API sends. */
static void summarize(const char *json, size_t len) {
    int streams = 0;
    const char *p = json;
    while ((p = strstr(p, "\"WebId\"")) != NULL) {
        streams++;
        p += 7;
    }
    const char *v = strstr(json, "\"Value\":");
    if (streams == 0) {
        printf("heartbeat (%zu bytes)\n", len);
    } else if (v) {
        int n = 0;
        while (v[8 + n] && v[8 + n] != ',' && v[8 + n] != '}' && n < 40) n++;
        printf("%d stream(s), %zu bytes, first value: %.*s\n", streams, len, n, v + 8);
    } else {
        printf("%d stream(s), %zu bytes\n", streams, len);
    }
}

int main(int argc, char **argv) {
    const char *url = NULL;
    long limit = -1;
    pwa_config *cfg = pwa_config_new();
    if (!cfg) return 1;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-n") == 0 && i + 1 < argc) {
            limit = strtol(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
            char *kv = argv[++i];
            char *eq = strchr(kv, '=');
            if (!eq) {
                fprintf(stderr, "-c expects key=value, got '%s'\n", kv);
                pwa_config_free(cfg);
                return 1;
            }
            *eq = '\0';
            pwa_status st = pwa_config_set(cfg, kv, eq + 1);
            if (st != PWA_OK) {
                print_last_error("config", st);
                pwa_config_free(cfg);
                return 1;
            }
        } else if (!url && argv[i][0] != '-') {
            url = argv[i];
        } else {
            fprintf(stderr, "usage: %s URL [-n COUNT] [-c key=value]...\n", argv[0]);
            pwa_config_free(cfg);
            return 1;
        }
    }
    if (!url) {
        fprintf(stderr, "usage: %s URL [-n COUNT] [-c key=value]...\n", argv[0]);
        pwa_config_free(cfg);
        return 1;
    }

    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);

    printf("piwebasync %s, opening %s\n", pwa_version(), url);
    pwa_channel_t ch = 0;
    pwa_status st = pwa_channel_open(url, cfg, NULL, &ch);
    pwa_config_free(cfg); /* the channel copied what it needs */
    if (st != PWA_OK) {
        print_last_error("open", st);
        return 1;
    }

    long count = 0;
    int rc = 0;
    while (!stop_requested && (limit < 0 || count < limit)) {
        pwa_message *msg = NULL;
        st = pwa_channel_poll_next(ch, 200, &msg); /* short timeout: notice Ctrl-C */
        if (st == PWA_TIMEOUT) continue;
        if (st != PWA_OK) {
            char why[512];
            pwa_channel_last_error(ch, why, sizeof why, NULL);
            printf("channel ended: %s (%s)\n", pwa_status_name(st), why);
            rc = (st == PWA_CLOSED) ? 0 : 1;
            break;
        }
        size_t len = 0;
        const char *json = pwa_message_json(msg, &len);
        printf("#%ld ", ++count);
        summarize(json, len);
        pwa_message_free(msg);
    }

    pwa_stats stats;
    if (pwa_channel_stats(ch, &stats) == PWA_OK) {
        printf("received %llu messages, %llu bytes\n", (unsigned long long)stats.messages,
               (unsigned long long)stats.bytes);
    }
    pwa_channel_close(ch);
    pwa_channel_free(ch);
    pwa_shutdown(5000);
    return rc;
}
