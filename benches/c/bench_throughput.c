/*
 * bench_throughput.c — messages/s and values/s delivered by piwebasync to C.
 *
 *   bench_throughput URL N MODE [VALUES_PER_MSG]
 *
 * MODE:
 *   poll-json   pwa_channel_poll_next + pwa_message_json (raw JSON only, no typed parsing)
 *   poll-typed  pwa_channel_poll_next + pwa_message_value_count + pwa_message_value for
 *               every value (reads timestamp_ns and number of each)
 *   cb-json     on_message callback, pwa_message_json only
 *   cb-typed    on_message callback, every value read as in poll-typed
 * VALUES_PER_MSG is used for values/s in the json modes (the typed modes count them).
 *
 * The simulator sends N data messages then closes; timed from the first message to the N-th:
 * rate = (N - 1) / elapsed. Prints one JSON object.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "piwebasync.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

struct state {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    long target;
    int typed;
    long count;
    unsigned long long values;
    unsigned long long bytes;
    double first, last;
    double checksum;
    int closed;
    pwa_status terminal;
    int bad;
};

/* Reads the message; returns its number of values (typed) or 0. */
static size_t consume(struct state *s, const pwa_message *msg) {
    size_t len = 0;
    const char *json = pwa_message_json(msg, &len);
    if (!json) s->bad++;
    s->bytes += len;
    if (!s->typed) return 0;
    size_t n = 0;
    if (pwa_message_value_count(msg, &n) != PWA_OK) {
        s->bad++;
        return 0;
    }
    pwa_value v;
    for (size_t k = 0; k < n; k++) {
        if (pwa_message_value(msg, k, &v) != PWA_OK || !v.timestamp_valid) {
            s->bad++;
            continue;
        }
        s->checksum += (double)(v.timestamp_ns & 0xffff) + (v.kind == PWA_VALUE_DOUBLE ? v.number : (double)v.integer);
    }
    return n;
}

static void on_message(void *user, pwa_channel_t ch, const pwa_message *msg) {
    struct state *s = user;
    (void)ch;
    double t = now_s();
    if (s->count == 0) s->first = t;
    s->values += consume(s, msg);
    s->count++;
    s->last = s->typed ? now_s() : t;
    if (s->count == s->target) {
        pthread_mutex_lock(&s->lock);
        pthread_cond_signal(&s->cond);
        pthread_mutex_unlock(&s->lock);
    }
}

static void on_state(void *user, pwa_channel_t ch, const pwa_state_event *ev) {
    struct state *s = user;
    (void)ch;
    if (ev->kind == PWA_EVENT_CLOSED) {
        pthread_mutex_lock(&s->lock);
        s->closed = 1;
        s->terminal = ev->status;
        pthread_cond_signal(&s->cond);
        pthread_mutex_unlock(&s->lock);
    }
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s URL N poll-json|poll-typed|cb-json|cb-typed [VALUES_PER_MSG]\n", argv[0]);
        return 2;
    }
    const char *url = argv[1];
    long n = atol(argv[2]);
    const char *mode = argv[3];
    long vpm = argc > 4 ? atol(argv[4]) : 1;
    int cb = strncmp(mode, "cb-", 3) == 0;
    struct state s;
    memset(&s, 0, sizeof s);
    pthread_mutex_init(&s.lock, NULL);
    pthread_cond_init(&s.cond, NULL);
    s.target = n;
    s.typed = strstr(mode, "typed") != NULL;

    pwa_callbacks cbs = {on_message, on_state, &s};
    pwa_channel_t ch = 0;
    /* Raw-JSON readers tell the library not to parse on receive; typed readers keep the
     * default (auto: the network thread parses when this one falls behind). */
    pwa_config *cfg = pwa_config_new();
    if (!s.typed) pwa_config_set(cfg, "parse_on_receive", "false");
    pwa_status st = pwa_channel_open(url, cfg, cb ? &cbs : NULL, &ch);
    pwa_config_free(cfg);
    if (st != PWA_OK) {
        char buf[512];
        pwa_last_error(buf, sizeof buf, NULL);
        fprintf(stderr, "open: %s: %s\n", pwa_status_name(st), buf);
        return 1;
    }
    if (cb) {
        pthread_mutex_lock(&s.lock);
        while (s.count < n && !s.closed) pthread_cond_wait(&s.cond, &s.lock);
        pthread_mutex_unlock(&s.lock);
    } else {
        while (s.count < n) {
            pwa_message *msg = NULL;
            st = pwa_channel_poll_next(ch, 10000, &msg);
            if (st != PWA_OK) {
                s.terminal = st;
                break;
            }
            double t = now_s();
            if (s.count == 0) s.first = t;
            s.values += consume(&s, msg);
            pwa_message_free(msg);
            s.count++;
            s.last = s.typed ? now_s() : t;
        }
    }
    long count = s.count;
    double secs = s.last - s.first;
    unsigned long long values = s.typed ? s.values : (unsigned long long)count * (unsigned long long)vpm;
    double rate = secs > 0 ? (count - 1) / secs : 0;
    double vrate = secs > 0 && count > 0 ? (double)values * (count - 1) / count / secs : 0;
    printf("{\"kind\":\"%s\",\"messages\":%ld,\"values\":%llu,\"bytes\":%llu,\"secs\":%.6f,"
           "\"msg_per_s\":%.1f,\"values_per_s\":%.1f,\"bad\":%d,\"checksum\":%.1f}\n",
           mode, count, values, s.bytes, secs, rate, vrate, s.bad, s.checksum);
    fflush(stdout);
    pwa_channel_close(ch);
    pwa_channel_free(ch);
    pwa_shutdown(2000);
    return (count == n && s.bad == 0) ? 0 : 1;
}
