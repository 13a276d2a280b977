/*
 * watchdog.c — keep a channel alive through server outages, and give up when one lasts too long.
 *
 *   watchdog URL [-t DEAD_MS] [-n COUNT] [--expect STATUS] [-c key=value]...
 *
 * The channel reconnects on its own (reconnect=true, first retry after 0.2 s, then doubling up
 * to 1 s). If no connection is up again within DEAD_MS milliseconds (default 3000;
 * dead_channel_timeout), it ends with PWA_WATCHDOG_TIMEOUT. Connection events (connected,
 * disconnected and why, reconnecting with attempt and delay, reconnected, closed) are printed
 * by the state callback on the library's callback thread; messages are polled on the main
 * thread (two threads: an event line may show up a few message lines late). After COUNT
 * messages (default: none, run until the channel ends) the program closes the channel itself,
 * which ends it with PWA_CLOSED.
 *
 * Try it: run it against piwebasync-sim, then stop the simulator (watchdog timeout), or
 * `curl http://HOST:PORT/_sim/restart?ms=500` (a short outage: it reconnects and goes on).
 *
 * Exit status: 0 when the channel ended with STATUS (a name such as PWA_CLOSED; default
 * PWA_WATCHDOG_TIMEOUT), else 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "piwebasync.h"

/* Runs on the channel's callback thread, in order with the channel's other events. */
static void on_state(void *user, pwa_channel_t ch, const pwa_state_event *ev) {
    (void)user;
    (void)ch;
    switch (ev->kind) {
    case PWA_EVENT_CONNECTED: printf("[state] connected to %s\n", ev->url); break;
    case PWA_EVENT_RECONNECTED: printf("[state] reconnected to %s\n", ev->url); break;
    case PWA_EVENT_DISCONNECTED:
        printf("[state] disconnected: %s: %s\n", pwa_status_name(ev->status), ev->message);
        break;
    case PWA_EVENT_RECONNECTING:
        printf("[state] reconnecting: attempt %u in %llu ms\n", ev->attempt, (unsigned long long)ev->delay_ms);
        break;
    case PWA_EVENT_CLOSED: /* always the last event, exactly once */
        printf("[state] closed: %s: %s\n", pwa_status_name(ev->status), ev->message);
        break;
    default: break; /* UPDATED, ROLLED_BACK: this program does not update */
    }
}

static int set_key(pwa_config *cfg, const char *key, const char *value) {
    pwa_status st = pwa_config_set(cfg, key, value);
    if (st != PWA_OK) {
        char err[512];
        pwa_last_error(err, sizeof err, NULL);
        fprintf(stderr, "config %s: %s: %s\n", key, pwa_status_name(st), err);
    }
    return st == PWA_OK;
}

int main(int argc, char **argv) {
    const char *url = NULL, *expect = "PWA_WATCHDOG_TIMEOUT";
    long dead_ms = 3000, limit = -1;
    int ok = 1;
    pwa_config *cfg = pwa_config_new();
    if (!cfg) return 1;
    setvbuf(stdout, NULL, _IOLBF, 0); /* two threads print: keep whole lines, show them at once */

    /* Our defaults first: -c given on the command line overrides them. */
    ok = set_key(cfg, "reconnect", "true") && set_key(cfg, "reconnect_initial_delay", "0.2") &&
         set_key(cfg, "reconnect_max_delay", "1");
    for (int i = 1; ok && i < argc; i++) {
        if (strcmp(argv[i], "-t") == 0 && i + 1 < argc) {
            dead_ms = strtol(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "-n") == 0 && i + 1 < argc) {
            limit = strtol(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--expect") == 0 && i + 1 < argc) {
            expect = argv[++i];
        } else if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
            char *kv = argv[++i], *eq = strchr(kv, '=');
            if (!eq) {
                fprintf(stderr, "-c expects key=value, got '%s'\n", kv);
                ok = 0;
                break;
            }
            *eq = '\0';
            ok = set_key(cfg, kv, eq + 1);
        } else if (!url && argv[i][0] != '-') {
            url = argv[i];
        } else {
            url = NULL;
            break;
        }
    }
    if (ok && (!url || dead_ms < 0)) {
        fprintf(stderr, "usage: %s URL [-t DEAD_MS] [-n COUNT] [--expect STATUS] [-c key=value]...\n", argv[0]);
        ok = 0;
    }
    if (ok) { /* durations are seconds, with a fraction */
        char secs[32];
        snprintf(secs, sizeof secs, "%ld.%03ld", dead_ms / 1000, dead_ms % 1000);
        ok = set_key(cfg, "dead_channel_timeout", secs);
    }
    if (!ok) {
        pwa_config_free(cfg);
        return 1;
    }

    pwa_callbacks cbs = {NULL, on_state, NULL}; /* state events only: messages are polled */
    pwa_channel_t ch = 0;
    pwa_status st = pwa_channel_open(url, cfg, &cbs, &ch);
    pwa_config_free(cfg);
    if (st != PWA_OK) {
        char err[512];
        pwa_last_error(err, sizeof err, NULL);
        fprintf(stderr, "open: %s: %s\n", pwa_status_name(st), err);
        return 1;
    }
    printf("streaming; dead_channel_timeout %ld ms\n", dead_ms);

    /* Poll until the channel ends. While it reconnects, polls just time out. */
    long count = 0;
    for (;;) {
        pwa_message *msg = NULL;
        st = pwa_channel_poll_next(ch, 1000, &msg);
        if (st == PWA_TIMEOUT) continue;
        if (st != PWA_OK) break; /* the terminal status: the buffer is drained */
        size_t values = 0;
        pwa_message_value_count(msg, &values);
        printf("#%ld %zu value(s)\n", ++count, values);
        pwa_message_free(msg);
        if (count == limit) pwa_channel_close(ch); /* then poll drains and returns PWA_CLOSED */
    }

    char why[512];
    pwa_channel_last_error(ch, why, sizeof why, NULL);
    pwa_stats stats = {0};
    pwa_channel_stats(ch, &stats);
    printf("channel ended: %s (%s) after %ld messages, %llu reconnect(s)\n", pwa_status_name(st), why, count,
           (unsigned long long)stats.reconnects);
    pwa_channel_free(ch); /* runs no callback afterwards */
    pwa_shutdown(5000);
    int rc = strcmp(pwa_status_name(st), expect) == 0 ? 0 : 1;
    if (rc) printf("expected %s\n", expect);
    return rc;
}
