/* Callbacks from C: order, exactly-once closed (last), close from a callback works, blocking
 * calls from a callback are refused, free waits for a running callback. */
#include <pthread.h>

#include "check.h"

struct seen {
    pthread_mutex_t lock;
    long messages;
    long after_closed; /* callbacks that came after the closed event: must stay 0 */
    int closed;
    pwa_status terminal;
    int connected_first;
    int events;
    pwa_status free_in_cb, poll_in_cb, update_in_cb, shutdown_in_cb, close_in_cb, poll0_in_cb;
    int tried;
    long close_after;
};

static void on_message(void *user, pwa_channel_t ch, const pwa_message *msg) {
    struct seen *s = user;
    pthread_mutex_lock(&s->lock);
    if (s->closed) s->after_closed++;
    long n = ++s->messages;
    int try_now = s->close_after > 0 && n == s->close_after && !s->tried;
    if (try_now) s->tried = 1;
    pthread_mutex_unlock(&s->lock);
    CHECK(pwa_message_json(msg, NULL) != NULL);
    if (try_now) {
        pwa_message *m = NULL;
        s->free_in_cb = pwa_channel_free(ch);
        s->poll_in_cb = pwa_channel_poll_next(ch, 100, &m);
        s->poll0_in_cb = pwa_channel_poll_next(ch, 0, &m); /* non-blocking: a callback channel cannot be polled */
        s->update_in_cb = pwa_channel_update(ch, "ws://127.0.0.1:1/x", 1);
        s->shutdown_in_cb = pwa_shutdown(100);
        s->close_in_cb = pwa_channel_close(ch);
    }
}

static void on_state(void *user, pwa_channel_t ch, const pwa_state_event *ev) {
    struct seen *s = user;
    (void)ch;
    pthread_mutex_lock(&s->lock);
    if (s->closed) s->after_closed++;
    if (s->events++ == 0) s->connected_first = (ev->kind == PWA_EVENT_CONNECTED);
    if (ev->kind == PWA_EVENT_CLOSED) {
        s->closed++;
        s->terminal = ev->status;
    }
    pthread_mutex_unlock(&s->lock);
}

static int wait_closed(struct seen *s) {
    for (int i = 0; i < 2000; i++) {
        pthread_mutex_lock(&s->lock);
        int c = s->closed;
        pthread_mutex_unlock(&s->lock);
        if (c) return 1;
        sleep_ms(10);
    }
    return 0;
}

static void close_from_callback(void) {
    struct seen s;
    memset(&s, 0, sizeof s);
    pthread_mutex_init(&s.lock, NULL);
    s.close_after = 5;
    pwa_callbacks cbs = {on_message, on_state, &s};
    pwa_channel_t h = 0;
    CHECK_STATUS(pwa_channel_open(env_url("SIM_STREAM"), NULL, &cbs, &h), PWA_OK);
    CHECK(wait_closed(&s));
    CHECK(s.connected_first);
    CHECK_STATUS(s.free_in_cb, PWA_ERR_RECURSIVE_CALL);
    CHECK_STATUS(s.poll_in_cb, PWA_ERR_RECURSIVE_CALL);
    CHECK_STATUS(s.poll0_in_cb, PWA_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(s.update_in_cb, PWA_ERR_RECURSIVE_CALL);
    CHECK_STATUS(s.shutdown_in_cb, PWA_ERR_RECURSIVE_CALL);
    CHECK_STATUS(s.close_in_cb, PWA_OK);
    CHECK_STATUS(s.terminal, PWA_CLOSED);
    /* A callback channel cannot be polled; its outcome can be asked. */
    pwa_status outcome = PWA_OK;
    CHECK_STATUS(pwa_channel_outcome(h, &outcome), PWA_OK);
    CHECK_STATUS(outcome, s.terminal);
    CHECK_STATUS(pwa_channel_free(h), PWA_OK);
    sleep_ms(100);
    CHECK(s.closed == 1);
    CHECK(s.after_closed == 0);
    CHECK(s.messages >= 5);
    pthread_mutex_destroy(&s.lock);
}

static void on_message_slow(void *user, pwa_channel_t ch, const pwa_message *msg) {
    (void)msg; (void)ch;
    struct seen *s = user;
    pthread_mutex_lock(&s->lock);
    s->messages++;
    pthread_mutex_unlock(&s->lock);
    sleep_ms(100);
}

/* s->messages, read under the lock the callback writes it under. */
static long messages_seen(struct seen *s) {
    pthread_mutex_lock(&s->lock);
    long n = s->messages;
    pthread_mutex_unlock(&s->lock);
    return n;
}

static void free_while_callback_runs(void) {
    struct seen s;
    memset(&s, 0, sizeof s);
    pthread_mutex_init(&s.lock, NULL);
    pwa_callbacks cbs = {on_message_slow, on_state, &s};
    pwa_channel_t h = 0;
    CHECK_STATUS(pwa_channel_open(env_url("SIM_STREAM"), NULL, &cbs, &h), PWA_OK);
    for (int i = 0; i < 1000 && messages_seen(&s) == 0; i++) sleep_ms(5);
    CHECK_STATUS(pwa_channel_free(h), PWA_OK);
    pthread_mutex_lock(&s.lock);
    long n = s.messages;
    int closed = s.closed;
    pthread_mutex_unlock(&s.lock);
    CHECK(closed == 1); /* delivered before free returned */
    sleep_ms(300);
    CHECK(s.messages == n); /* nothing after free */
    CHECK_STATUS(pwa_channel_close(h), PWA_ERR_INVALID_HANDLE);
    pthread_mutex_destroy(&s.lock);
}

int main(void) {
    close_from_callback();
    free_while_callback_runs();
    CHECK_STATUS(pwa_shutdown(5000), PWA_OK);
    return finish("test_callbacks");
}
