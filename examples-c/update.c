/*
 * update.c — switch a running channel to another URL with pwa_channel_update.
 *
 *   update URL1 URL2 [-n COUNT] [-s SWITCH_AFTER] [--no-rollback] [--expect-rollback]
 *          [-c key=value]...
 *
 * Opens a channel on URL1, prints SWITCH_AFTER messages (default 5), then updates the channel
 * to URL2 and prints messages until COUNT in total (default 20). Each line shows which URL the
 * message came from (pwa_message_url): the update is make-before-break, so the last messages
 * of URL1 may still come after the update returned, then URL2's follow.
 *
 * If URL2 cannot be reached, the update fails: with rollback (the default) it returns
 * PWA_ROLLED_BACK and the channel goes on at URL1; with --no-rollback it returns
 * PWA_UPDATE_FAILED and the channel ends.
 *
 * Exit status: 0 when the update returned PWA_OK and messages from both URLs were seen.
 * With --expect-rollback (try URL2 = ws://127.0.0.1:1/x): 0 when the update returned
 * PWA_ROLLED_BACK and every later message still came from URL1. Otherwise 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "piwebasync.h"

static long long now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void print_error(const char *what, pwa_status st, pwa_channel_t ch) {
    char buf[512] = "";
    if (ch) pwa_channel_last_error(ch, buf, sizeof buf, NULL);
    else pwa_last_error(buf, sizeof buf, NULL);
    fprintf(stderr, "%s: %s (%s): %s\n", what, pwa_status_name(st), pwa_status_str(st), buf);
}

/* One line per message: its number, its first value (or "heartbeat") and the URL it came from. */
static void print_message(long n, const pwa_message *msg) {
    pwa_value v;
    pwa_stream_info s;
    printf("#%ld ", n);
    if (pwa_message_value(msg, 0, &v) == PWA_OK && pwa_message_stream(msg, v.stream_index, &s) == PWA_OK)
        printf("%s=%s", s.name, v.text);
    else
        printf("heartbeat");
    printf(" from %s\n", pwa_message_url(msg));
}

int main(int argc, char **argv) {
    const char *url1 = NULL, *url2 = NULL;
    long limit = 20, switch_after = 5;
    int rollback = 1, expect_rollback = 0;
    pwa_config *cfg = pwa_config_new();
    if (!cfg) return 1;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-n") == 0 && i + 1 < argc) {
            limit = strtol(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "-s") == 0 && i + 1 < argc) {
            switch_after = strtol(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--no-rollback") == 0) {
            rollback = 0;
        } else if (strcmp(argv[i], "--expect-rollback") == 0) {
            expect_rollback = 1;
        } else if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
            char *kv = argv[++i], *eq = strchr(kv, '=');
            pwa_status st = PWA_ERR_INVALID_ARGUMENT;
            if (eq) {
                *eq = '\0';
                st = pwa_config_set(cfg, kv, eq + 1);
            }
            if (st != PWA_OK) {
                print_error(eq ? "config" : "-c expects key=value", st, 0);
                pwa_config_free(cfg);
                return 1;
            }
        } else if (argv[i][0] != '-' && !url1) {
            url1 = argv[i];
        } else if (argv[i][0] != '-' && !url2) {
            url2 = argv[i];
        } else {
            url2 = NULL; /* unknown option: show the usage */
            break;
        }
    }
    if (!url1 || !url2 || switch_after >= limit) {
        fprintf(stderr, "usage: %s URL1 URL2 [-n COUNT] [-s SWITCH_AFTER < COUNT] [--no-rollback] "
                        "[--expect-rollback] [-c key=value]...\n", argv[0]);
        pwa_config_free(cfg);
        return 1;
    }

    printf("opening %s\n", url1);
    pwa_channel_t ch = 0;
    pwa_status st = pwa_channel_open(url1, cfg, NULL, &ch);
    pwa_config_free(cfg); /* the channel copied what it needs */
    if (st != PWA_OK) {
        print_error("open", st, 0);
        return 1;
    }

    int updated = 0;
    pwa_status update = PWA_OK;
    long count = 0, from_url1 = 0, from_url2 = 0, after_update = 0;
    pwa_status end = PWA_OK;
    while (count < limit) {
        if (count == switch_after && !updated) {
            updated = 1;
            printf("updating to %s (rollback %s)\n", url2, rollback ? "on" : "off");
            long long started = now_ms();
            update = pwa_channel_update(ch, url2, rollback); /* blocks until switched or failed */
            printf("update: %s (%s) in %lld ms\n", pwa_status_name(update), pwa_status_str(update),
                   now_ms() - started);
            if (update != PWA_OK) print_error("update", update, ch);
        }
        pwa_message *msg = NULL;
        st = pwa_channel_poll_next(ch, 5000, &msg);
        if (st != PWA_OK) { /* PWA_TIMEOUT, or the channel ended (PWA_UPDATE_FAILED ...) */
            end = st;
            print_error("poll", st, ch);
            break;
        }
        print_message(++count, msg);
        const char *from = pwa_message_url(msg); /* a password in it would show as "***" */
        if (strcmp(from, url1) == 0) from_url1++;
        if (strcmp(from, url2) == 0) from_url2++;
        if (updated) after_update++;
        pwa_message_free(msg);
    }

    pwa_state state = PWA_STATE_CLOSED;
    pwa_channel_state(ch, &state);
    printf("%ld messages: %ld from URL1, %ld from URL2; update %s; channel %s\n", count, from_url1,
           from_url2, pwa_status_name(update), state == PWA_STATE_OPEN ? "open" : "not open");
    pwa_channel_close(ch);
    pwa_channel_free(ch);
    pwa_shutdown(5000);

    int ok;
    if (expect_rollback) /* a failed update leaves the channel streaming from URL1 */
        ok = update == PWA_ROLLED_BACK && end == PWA_OK && after_update > 0 && from_url2 == 0 &&
             from_url1 == count && state == PWA_STATE_OPEN;
    else
        ok = update == PWA_OK && end == PWA_OK && from_url1 > 0 && from_url2 > 0;
    printf("%s\n", ok ? "OK" : "FAILED");
    return ok ? 0 : 1;
}
