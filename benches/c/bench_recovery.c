/*
 * bench_recovery.c — reconnect after a simulator restart, and the watchdog's firing time.
 *
 *   bench_recovery URL restart DOWN_MS ROUNDS DELAY_S
 *   bench_recovery URL watchdog TIMEOUT_S DELAY_S
 *
 * URL is a ws://127.0.0.1:PORT/... channel URL of a simulator that sends data (and, with
 * includeInitialValues=true, a message at once on every connect). The channel is opened with
 * reconnect=true and reconnect_initial_delay = reconnect_max_delay = DELAY_S (so every delay
 * after the immediate first retry is DELAY_S x0.5..x1 with jitter).
 *
 * restart: ROUNDS times, GET /_sim/restart?ms=DOWN_MS (the simulator resets every connection
 * and stops listening for DOWN_MS). A probe thread connects to the port every 0.5 ms to see
 * when the server is back (t_back). Measured: t_back -> first message polled after the
 * PWA_EVENT_RECONNECTED event; and the backoff delay in force at t_back (the delay_ms of the
 * last PWA_EVENT_RECONNECTING before it). Target: recovery <= that delay + 50 ms.
 *
 * watchdog: dead_channel_timeout = TIMEOUT_S; GET /_sim/restart?ms=(TIMEOUT_S*1000 + 5000):
 * time from PWA_EVENT_DISCONNECTED to pwa_channel_poll_next returning PWA_WATCHDOG_TIMEOUT.
 *
 * Prints one JSON object.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "piwebasync.h"

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void sleep_ms(double ms) {
    struct timespec ts = {(time_t)(ms / 1000), (long)((ms - (time_t)(ms / 1000) * 1000) * 1e6)};
    nanosleep(&ts, NULL);
}

static char host[64];
static int port;

static int tcp_connect(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, host, &a.sin_addr);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* GET path on the simulator's control endpoint; returns once the answer came. */
static int http_get(const char *path) {
    int fd = tcp_connect();
    if (fd < 0) return -1;
    char req[512], buf[4096];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\n\r\n", path, host, port);
    if (write(fd, req, (size_t)n) != n) {
        close(fd);
        return -1;
    }
    ssize_t r;
    int ok = 0;
    while ((r = read(fd, buf, sizeof buf - 1)) > 0) {
        buf[r] = 0;
        if (strstr(buf, " 200 ")) ok = 1;
    }
    close(fd);
    return ok ? 0 : -1;
}

struct shared {
    pthread_mutex_t lock;
    double last_reconnecting_at;
    double last_delay_ms;
    double reconnected_at;
    double disconnected_at;
    int reconnected;
};
static struct shared S = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, 0, 0};

static void on_state(void *user, pwa_channel_t ch, const pwa_state_event *ev) {
    (void)user;
    (void)ch;
    double t = now_ms();
    pthread_mutex_lock(&S.lock);
    if (ev->kind == PWA_EVENT_RECONNECTING) {
        S.last_reconnecting_at = t;
        S.last_delay_ms = (double)ev->delay_ms;
    } else if (ev->kind == PWA_EVENT_RECONNECTED) {
        S.reconnected_at = t;
        S.reconnected = 1;
    } else if (ev->kind == PWA_EVENT_DISCONNECTED) {
        S.disconnected_at = t;
    }
    pthread_mutex_unlock(&S.lock);
}

struct restart_job {
    int down_ms;
    double t_back;
    double delay_at_back;
    int failed;
};

static void *restart_thread(void *arg) {
    struct restart_job *j = arg;
    char path[128];
    snprintf(path, sizeof path, "/_sim/restart?ms=%d", j->down_ms);
    if (http_get(path) != 0) {
        j->failed = 1;
        return NULL;
    }
    /* The listener is closed now; probe until it is back. */
    for (;;) {
        int fd = tcp_connect();
        if (fd >= 0) {
            j->t_back = now_ms();
            close(fd);
            break;
        }
        sleep_ms(0.5);
    }
    pthread_mutex_lock(&S.lock);
    j->delay_at_back = S.last_delay_ms;
    pthread_mutex_unlock(&S.lock);
    return NULL;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: %s URL restart DOWN_MS ROUNDS DELAY_S | URL watchdog TIMEOUT_S DELAY_S\n", argv[0]);
        return 2;
    }
    const char *url = argv[1];
    const char *mode = argv[2];
    if (sscanf(url, "ws://%63[^:]:%d", host, &port) != 2) {
        fprintf(stderr, "URL must be ws://HOST:PORT/...\n");
        return 2;
    }
    int watchdog = strcmp(mode, "watchdog") == 0;
    const char *delay = watchdog ? argv[4] : (argc > 5 ? argv[5] : "0.1");
    pwa_config *cfg = pwa_config_new();
    pwa_config_set(cfg, "reconnect", "true");
    pwa_config_set(cfg, "reconnect_initial_delay", delay);
    pwa_config_set(cfg, "reconnect_max_delay", delay);
    if (watchdog) pwa_config_set(cfg, "dead_channel_timeout", argv[3]);
    pwa_callbacks cbs = {NULL, on_state, NULL};
    pwa_channel_t ch = 0;
    pwa_status st = pwa_channel_open(url, cfg, &cbs, &ch);
    pwa_config_free(cfg);
    if (st != PWA_OK) {
        fprintf(stderr, "open: %s\n", pwa_status_name(st));
        return 1;
    }
    pwa_message *msg;
    /* Let data flow a little. */
    double until = now_ms() + 200;
    while (now_ms() < until) {
        if (pwa_channel_poll_next(ch, 50, &msg) == PWA_OK) pwa_message_free(msg);
    }

    if (watchdog) {
        double timeout_ms = atof(argv[3]) * 1000;
        char path[128];
        snprintf(path, sizeof path, "/_sim/restart?ms=%d", (int)timeout_ms + 5000);
        if (http_get(path) != 0) {
            fprintf(stderr, "control request failed\n");
            return 1;
        }
        double t_end = 0;
        for (;;) {
            st = pwa_channel_poll_next(ch, 20000, &msg);
            if (st == PWA_OK) {
                pwa_message_free(msg);
                continue;
            }
            t_end = now_ms();
            break;
        }
        pthread_mutex_lock(&S.lock);
        double t_disc = S.disconnected_at;
        pthread_mutex_unlock(&S.lock);
        printf("{\"kind\":\"watchdog\",\"configured_ms\":%.0f,\"observed_ms\":%.1f,\"status\":\"%s\"}\n", timeout_ms,
               t_end - t_disc, pwa_status_name(st));
        pwa_channel_free(ch);
        pwa_shutdown(2000);
        return st == PWA_WATCHDOG_TIMEOUT ? 0 : 1;
    }

    int down_ms = atoi(argv[3]);
    int rounds = atoi(argv[4]);
    double *rec = calloc((size_t)rounds, sizeof *rec);
    double *over = calloc((size_t)rounds, sizeof *over);
    double max_delay = 0;
    int done = 0;
    for (int r = 0; r < rounds; r++) {
        pthread_mutex_lock(&S.lock);
        S.reconnected = 0;
        pthread_mutex_unlock(&S.lock);
        struct restart_job job = {down_ms, 0, 0, 0};
        pthread_t th;
        pthread_create(&th, NULL, restart_thread, &job);
        /* Poll until a message arrives after the reconnect. */
        double t_first = 0;
        for (;;) {
            st = pwa_channel_poll_next(ch, 10000, &msg);
            if (st != PWA_OK) break;
            double t = now_ms();
            pwa_message_free(msg);
            pthread_mutex_lock(&S.lock);
            int rc = S.reconnected;
            pthread_mutex_unlock(&S.lock);
            if (rc) {
                t_first = t;
                break;
            }
        }
        pthread_join(th, NULL);
        if (st != PWA_OK || job.failed || t_first == 0) {
            fprintf(stderr, "round %d failed: %s\n", r, pwa_status_name(st));
            break;
        }
        rec[done] = t_first - job.t_back;
        over[done] = rec[done] - job.delay_at_back;
        if (job.delay_at_back > max_delay) max_delay = job.delay_at_back;
        done++;
        /* Let it stream again before the next round. */
        until = now_ms() + 300;
        while (now_ms() < until) {
            if (pwa_channel_poll_next(ch, 50, &msg) == PWA_OK) pwa_message_free(msg);
        }
    }
    qsort(rec, (size_t)done, sizeof *rec, cmp);
    qsort(over, (size_t)done, sizeof *over, cmp);
    printf("{\"kind\":\"restart\",\"rounds\":%d,\"down_ms\":%d,\"backoff_s\":%s,\"median_ms\":%.1f,\"max_ms\":%.1f,"
           "\"max_delay_in_force_ms\":%.0f,\"max_over_delay_ms\":%.1f}\n",
           done, down_ms, delay, done ? rec[done / 2] : 0, done ? rec[done - 1] : 0, max_delay, done ? over[done - 1] : 0);
    fflush(stdout);
    pwa_channel_close(ch);
    pwa_channel_free(ch);
    pwa_shutdown(2000);
    return done == rounds ? 0 : 1;
}
