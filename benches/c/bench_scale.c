/*
 * bench_scale.c — many idle channels: time to open them, resident memory per channel, idle CPU.
 *
 *   bench_scale URL N IDLE_SECONDS
 *
 * One warm-up channel is opened first (it starts the library's runtime; not counted). Then N
 * channels are opened one after the other with pwa_channel_open (poll mode: no callback
 * thread), all to URL (a quiet simulator sending heartbeats). After 1 s of settling:
 * VmRSS (/proc/self/status) before vs after, divided by N; CPU time of the process
 * (getrusage) over IDLE_SECONDS, while the main thread sleeps, as a percentage of one core.
 * The heartbeats are
 * polled once at the end (the count shows the channels were alive; none may have ended).
 * Prints one JSON object.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "piwebasync.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static long rss_kib(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = 0;
    if (!f) return 0;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "VmRSS:", 6) == 0) kib = atol(line + 6);
    }
    fclose(f);
    return kib;
}

static double cpu_s(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* Poll every channel once without waiting; returns the messages taken. */
static long drain(const pwa_channel_t *ch, long n, int *ended) {
    long got = 0;
    for (long i = 0; i < n; i++) {
        pwa_message *msg;
        pwa_status st;
        while ((st = pwa_channel_poll_next(ch[i], 0, &msg)) == PWA_OK) {
            pwa_message_free(msg);
            got++;
        }
        if (st != PWA_TIMEOUT) (*ended)++;
    }
    return got;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s URL N IDLE_SECONDS\n", argv[0]);
        return 2;
    }
    const char *url = argv[1];
    long n = atol(argv[2]);
    double idle = atof(argv[3]);
    pwa_channel_t warm = 0;
    pwa_channel_t *ch = calloc((size_t)n, sizeof *ch);
    pwa_status st = pwa_channel_open(url, NULL, NULL, &warm);
    if (st != PWA_OK || !ch) {
        fprintf(stderr, "open: %s\n", pwa_status_name(st));
        return 1;
    }
    struct timespec pause = {0, 200 * 1000 * 1000};
    nanosleep(&pause, NULL);
    long rss0 = rss_kib();
    double t0 = now_s();
    for (long i = 0; i < n; i++) {
        st = pwa_channel_open(url, NULL, NULL, &ch[i]);
        if (st != PWA_OK) {
            char buf[512];
            pwa_last_error(buf, sizeof buf, NULL);
            fprintf(stderr, "open #%ld: %s: %s\n", i, pwa_status_name(st), buf);
            return 1;
        }
    }
    double open_secs = now_s() - t0;
    int ended = 0;
    long msgs = 0;
    struct timespec settle = {1, 0};
    nanosleep(&settle, NULL);
    /* Idle: the application sleeps (heartbeats wait in the queues); only the library runs. */
    double c0 = cpu_s(), w0 = now_s();
    struct timespec window = {(time_t)idle, (long)((idle - (time_t)idle) * 1e9)};
    nanosleep(&window, NULL);
    double cpu = (cpu_s() - c0) / (now_s() - w0) * 100.0;
    long rss1 = rss_kib();
    msgs = drain(ch, n, &ended); /* the heartbeats that arrived, and whether any channel ended */
    printf("{\"kind\":\"scale\",\"channels\":%ld,\"open_secs\":%.4f,\"rss_before_kib\":%ld,\"rss_after_kib\":%ld,"
           "\"kib_per_channel\":%.2f,\"idle_cpu_pct\":%.3f,\"heartbeats\":%ld,\"ended\":%d}\n",
           n, open_secs, rss0, rss1, (double)(rss1 - rss0) / n, cpu, msgs, ended);
    fflush(stdout);
    /* Close them all at once (non-blocking), then stop the runtime. */
    for (long i = 0; i < n; i++) pwa_channel_close(ch[i]);
    pwa_channel_close(warm);
    pwa_shutdown(3000);
    return ended ? 1 : 0;
}
