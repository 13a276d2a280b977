/* gap_fill from C: after an outage of the ARCHIVE simulator (which keeps a recorded history),
 * backfilled messages are flagged by pwa_message_get_info and pwa_message_is_backfilled, and
 * PWA_EVENT_BACKFILL_DONE counts exactly their values; when the recorded endpoint answers
 * 500, PWA_EVENT_BACKFILL_FAILED names every stream's missing range (pwa_missing_range) and
 * live data goes on. Under valgrind and AddressSanitizer this also checks the event's arrays. */
#include "check.h"

#include <pthread.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int started, done, failed;
static uint64_t done_count, done_missing;
static pwa_status failed_status;
static size_t failed_missing;
static int failed_ranges_ok;
static int failed_message_ok;

static void on_state(void *user, pwa_channel_t h, const pwa_state_event *e) {
    (void)user;
    (void)h;
    pthread_mutex_lock(&lock);
    switch (e->kind) {
    case PWA_EVENT_BACKFILL_STARTED:
        started++;
        CHECK(strstr(e->url, "/recorded?") != NULL);
        CHECK(e->count >= 1);
        break;
    case PWA_EVENT_BACKFILL_DONE:
        done++;
        done_count = e->count;
        done_missing = e->missing_count;
        CHECK((e->missing_count == 0) == (e->missing == NULL));
        break;
    case PWA_EVENT_BACKFILL_FAILED: {
        failed++;
        failed_status = e->status;
        failed_missing = e->missing_count;
        failed_message_ok = strstr(e->message, "not recovered") != NULL;
        int ok = e->missing != NULL;
        for (size_t i = 0; ok && i < e->missing_count; i++) {
            const pwa_missing_range *r = &e->missing[i];
            ok = strlen(r->web_id) > 4 && r->from_exclusive == 1 && r->from_unix_ns < r->to_unix_ns &&
                 r->from_unix_ns > 1600000000LL * 1000000000LL;
        }
        failed_ranges_ok = ok;
        break;
    }
    default:
        break;
    }
    pthread_mutex_unlock(&lock);
}

static int get(int *v) {
    pthread_mutex_lock(&lock);
    int x = *v;
    pthread_mutex_unlock(&lock);
    return x;
}

/* Poll until `*flag` is non-zero and then a live message with values came (or 30 s): polled
 * messages and events are not synchronised, and the backfilled messages still queued at the
 * event come before live ones. Returns the values of backfilled messages. */
static uint64_t poll_until(pwa_channel_t h, int *flag, uint64_t *live_values) {
    uint64_t backfilled = 0;
    int live_after = 0;
    for (int i = 0; i < 300 && !live_after; i++) {
        int was_set = get(flag);
        pwa_message *m = NULL;
        pwa_status st = pwa_channel_poll_next(h, 100, &m);
        if (st == PWA_TIMEOUT) continue;
        CHECK_STATUS(st, PWA_OK);
        if (st != PWA_OK) break;
        pwa_message_info info;
        CHECK_STATUS(pwa_message_get_info(m, &info), PWA_OK);
        int32_t flagged = -1;
        CHECK_STATUS(pwa_message_is_backfilled(m, &flagged), PWA_OK);
        CHECK(flagged == info.is_backfilled);
        if (info.is_backfilled) {
            CHECK(info.is_rewritten == 1);
            backfilled += info.value_count;
        } else {
            if (live_values) *live_values += info.value_count;
            if (was_set && info.value_count > 0) live_after = 1;
        }
        pwa_message_free(m);
    }
    CHECK(live_after);
    return backfilled;
}

int main(void) {
    const char *url = env_url("ARCHIVE_ADHOC");
    const char *base = env_url("ARCHIVE_BASE");
    pwa_config *cfg = pwa_config_new();
    CHECK_STATUS(pwa_config_set(cfg, "gap_fill", "true"), PWA_OK);
    CHECK_STATUS(pwa_config_set(cfg, "reconnect", "true"), PWA_OK);
    CHECK_STATUS(pwa_config_set(cfg, "reconnect_initial_delay", "0.1"), PWA_OK);
    CHECK_STATUS(pwa_config_set(cfg, "gap_fill_max_values", "-1"), PWA_ERR_INVALID_ARGUMENT);
    CHECK(last_error_contains("gap_fill_max_values"));
    pwa_callbacks cbs = {NULL, on_state, NULL};
    pwa_channel_t h = 0;
    CHECK_STATUS(pwa_channel_open(url, cfg, &cbs, &h), PWA_OK);
    pwa_config_free(cfg);
    pwa_message *m = NULL;
    CHECK_STATUS(pwa_channel_poll_next(h, 20000, &m), PWA_OK);
    pwa_message_free(m);

    /* An outage: filled, and counted exactly. */
    CHECK(sim_control(base, "restart?ms=1500") == 0);
    uint64_t backfilled = poll_until(h, &done, NULL);
    pthread_mutex_lock(&lock);
    CHECK(started == 1);
    CHECK(done_count == backfilled);
    CHECK(done_missing == 0);
    pthread_mutex_unlock(&lock);
    CHECK(backfilled > 0);

    /* The recorded endpoint fails: reported per stream, and live data goes on. */
    CHECK(sim_control(base, "recorded_fault?mode=500") == 0);
    CHECK(sim_control(base, "restart?ms=1000") == 0);
    uint64_t live = 0;
    CHECK(poll_until(h, &failed, &live) == 0);
    pthread_mutex_lock(&lock);
    CHECK(failed_status == PWA_ERR_HTTP_STATUS);
    CHECK(failed_missing >= 1);
    CHECK(failed_ranges_ok);
    CHECK(failed_message_ok);
    pthread_mutex_unlock(&lock);
    CHECK(sim_control(base, "recorded_fault?mode=off") == 0);
    for (int i = 0; i < 5; i++) {
        CHECK_STATUS(pwa_channel_poll_next(h, 20000, &m), PWA_OK);
        pwa_message_free(m);
    }

    CHECK_STATUS(pwa_channel_close(h), PWA_OK);
    pwa_status st;
    while ((st = pwa_channel_poll_next(h, 20000, &m)) == PWA_OK) pwa_message_free(m);
    CHECK_STATUS(st, PWA_CLOSED);
    CHECK_STATUS(pwa_channel_free(h), PWA_OK);
    return finish("test_gap_fill");
}
