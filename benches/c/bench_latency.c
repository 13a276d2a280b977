/*
 * bench_latency.c — send-to-poll-return latency through pwa_channel_poll_next.
 *
 *   bench_latency URL N SKIP
 *
 * The simulator (--rate) stamps each message right before sending it: the first value's
 * Timestamp. The clock (CLOCK_REALTIME, the same clock on loopback) is read as soon as
 * pwa_channel_poll_next returns; the typed timestamp (pwa_value.timestamp_ns) is read after.
 * The first SKIP messages are not counted (connection warm-up). Prints one JSON object with
 * p50 / p99 / p99.9 / max in microseconds.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "piwebasync.h"

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int cmp(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static double pct(const int64_t *v, long n, double q) {
    if (n == 0) return 0;
    long i = (long)(q * n + 0.999999999);
    if (i < 1) i = 1;
    if (i > n) i = n;
    return v[i - 1] / 1000.0;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s URL N SKIP\n", argv[0]);
        return 2;
    }
    long n = atol(argv[2]), skip = atol(argv[3]);
    int64_t *lat = malloc(sizeof *lat * (size_t)(n > 0 ? n : 1));
    pwa_channel_t ch = 0;
    pwa_status st = pwa_channel_open(argv[1], NULL, NULL, &ch);
    if (st != PWA_OK || !lat) {
        fprintf(stderr, "open: %s\n", pwa_status_name(st));
        return 1;
    }
    long got = 0, seen = 0;
    int bad = 0;
    while (got < n) {
        pwa_message *msg = NULL;
        st = pwa_channel_poll_next(ch, 10000, &msg);
        int64_t t = now_ns();
        if (st != PWA_OK) break;
        pwa_value v;
        if (pwa_message_value(msg, 0, &v) == PWA_OK && v.timestamp_valid) {
            if (++seen > skip) lat[got++] = t - v.timestamp_ns;
        } else {
            bad++;
        }
        pwa_message_free(msg);
    }
    qsort(lat, (size_t)got, sizeof *lat, cmp);
    printf("{\"kind\":\"latency\",\"samples\":%ld,\"p50_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,\"max_us\":%.1f,\"bad\":%d}\n",
           got, pct(lat, got, 0.5), pct(lat, got, 0.99), pct(lat, got, 0.999), got ? lat[got - 1] / 1000.0 : 0.0, bad);
    fflush(stdout);
    free(lat);
    pwa_channel_close(ch);
    pwa_channel_free(ch);
    pwa_shutdown(2000);
    return got == n ? 0 : 1;
}
