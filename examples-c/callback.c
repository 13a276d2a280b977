/*
 * callback.c — receive a PI Web API channel through callbacks instead of polling.
 *
 *   callback URL [-n COUNT] [-c key=value]...
 *
 * Messages and state events arrive on a thread the library owns, in order. The main thread
 * only waits until COUNT messages arrived (or the channel ended, or Ctrl-C), then frees the
 * channel: after pwa_channel_free returns, no callback runs any more.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "piwebasync.h"

struct app {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    long messages;
    long limit;
    int closed;
    pwa_status terminal;
};

static volatile sig_atomic_t stop_requested = 0;
static void on_signal(int sig) { (void)sig; stop_requested = 1; }

/* Runs on the channel's callback thread. The message is borrowed: valid until we return. */
static void on_message(void *user, pwa_channel_t ch, const pwa_message *msg) {
    struct app *app = user;
    size_t len = 0;
    pwa_message_json(msg, &len);
    pthread_mutex_lock(&app->lock);
    long n = ++app->messages;
    pthread_mutex_unlock(&app->lock);
    printf("#%ld %zu bytes from %s\n", n, len, pwa_message_url(msg));
    if (app->limit > 0 && n == app->limit) {
        pwa_channel_close(ch); /* non-blocking calls are fine inside a callback */
    }
    pthread_cond_signal(&app->changed);
}

static const char *event_name(pwa_event_kind kind) {
    switch (kind) {
    case PWA_EVENT_CONNECTED: return "connected";
    case PWA_EVENT_DISCONNECTED: return "disconnected";
    case PWA_EVENT_RECONNECTING: return "reconnecting";
    case PWA_EVENT_RECONNECTED: return "reconnected";
    case PWA_EVENT_UPDATED: return "updated";
    case PWA_EVENT_ROLLED_BACK: return "rolled back";
    case PWA_EVENT_CLOSED: return "closed";
    default: return "?";
    }
}

static void on_state(void *user, pwa_channel_t ch, const pwa_state_event *ev) {
    struct app *app = user;
    (void)ch;
    printf("[state] %s", event_name(ev->kind));
    if (ev->kind == PWA_EVENT_RECONNECTING) printf(" attempt %u in %llu ms", ev->attempt, (unsigned long long)ev->delay_ms);
    if (ev->url[0]) printf(" %s", ev->url);
    if (ev->message[0]) printf(" (%s: %s)", pwa_status_name(ev->status), ev->message);
    printf("\n");
    if (ev->kind == PWA_EVENT_CLOSED) { /* always the last callback, exactly once */
        pthread_mutex_lock(&app->lock);
        app->closed = 1;
        app->terminal = ev->status;
        pthread_mutex_unlock(&app->lock);
        pthread_cond_signal(&app->changed);
    }
}

int main(int argc, char **argv) {
    struct app app = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, -1, 0, PWA_OK};
    const char *url = NULL;
    pwa_config *cfg = pwa_config_new();
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-n") == 0 && i + 1 < argc) {
            app.limit = strtol(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
            char *kv = argv[++i], *eq = strchr(kv, '=');
            if (!eq) { fprintf(stderr, "-c expects key=value\n"); pwa_config_free(cfg); return 1; }
            *eq = '\0';
            if (pwa_config_set(cfg, kv, eq + 1) != PWA_OK) {
                char err[256];
                pwa_last_error(err, sizeof err, NULL);
                fprintf(stderr, "config: %s\n", err);
                pwa_config_free(cfg);
                return 1;
            }
        } else if (!url) {
            url = argv[i];
        }
    }
    if (!url) {
        fprintf(stderr, "usage: %s URL [-n COUNT] [-c key=value]...\n", argv[0]);
        pwa_config_free(cfg);
        return 1;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);

    pwa_callbacks cbs = {on_message, on_state, &app};
    pwa_channel_t ch = 0;
    pwa_status st = pwa_channel_open(url, cfg, &cbs, &ch);
    pwa_config_free(cfg);
    if (st != PWA_OK) {
        char err[512];
        pwa_last_error(err, sizeof err, NULL);
        fprintf(stderr, "open: %s: %s\n", pwa_status_name(st), err);
        return 1;
    }

    pthread_mutex_lock(&app.lock);
    while (!app.closed && !stop_requested) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 200 * 1000000L; /* wake up now and then to notice Ctrl-C */
        if (until.tv_nsec >= 1000000000L) { until.tv_sec++; until.tv_nsec -= 1000000000L; }
        pthread_cond_timedwait(&app.changed, &app.lock, &until);
    }
    pthread_mutex_unlock(&app.lock);

    pwa_channel_free(ch); /* waits for a running callback; none runs afterwards */
    pwa_shutdown(5000);
    printf("%ld messages; channel ended with %s\n", app.messages, app.closed ? pwa_status_name(app.terminal) : "(not ended)");
    return (app.closed && app.terminal == PWA_CLOSED) || stop_requested ? 0 : 1;
}
