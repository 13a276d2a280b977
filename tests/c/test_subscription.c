/* Subscription sets through the C ABI: add the simulator's points (and one WebId it does not
 * know) to one set, poll their messages tagged by shard, read the rejected WebId with its
 * reason, remove and re-add, stats, callbacks, drain after close; and bad input: NULLs,
 * invalid UTF-8, malformed WebIds, stale handles, the channel bound. */
#include "check.h"

#define MAX_IDS 32

/* The WebIds of the simulator's ad hoc URL (its points), split in place. */
static int adhoc_web_ids(char *buf, size_t cap, const char *ids[], int max) {
    snprintf(buf, cap, "%s", env_url("SIM_ADHOC"));
    int n = 0;
    char *p = strchr(buf, '?');
    while (p && n < max) {
        char *w = strstr(p, "webId=");
        if (!w) break;
        w += 6;
        char *end = strchr(w, '&');
        if (end) *end = '\0';
        ids[n++] = w;
        p = end ? end + 1 : NULL;
    }
    return n;
}

static void poll_add_remove_close(void) {
    static char buf[8192];
    const char *ids[MAX_IDS + 1];
    int n = adhoc_web_ids(buf, sizeof buf, ids, MAX_IDS);
    CHECK(n >= 4);
    ids[n] = "F1DPnoSuchPointAtAll"; /* unknown to the simulator: its shard is refused (404) */

    pwa_config *cfg = pwa_config_new();
    CHECK_STATUS(pwa_config_set(cfg, "max_streams_per_channel", "2"), PWA_OK);
    pwa_subscription_t set = 0;
    CHECK_STATUS(pwa_subscription_open(env_url("SIM_BASE"), cfg, NULL, NULL, &set), PWA_OK);
    pwa_config_free(cfg);
    CHECK(set != 0);

    pwa_subscription_add_report report;
    memset(&report, 0xff, sizeof report);
    CHECK_STATUS(pwa_subscription_add(set, ids, (size_t)n + 1, &report), PWA_OK);
    CHECK(report.added == (uint64_t)n);
    CHECK(report.rejected == 1);
    CHECK(report.duplicates == 0);
    /* Again: all duplicates now (the rejected one is tried again and rejected again). */
    CHECK_STATUS(pwa_subscription_add(set, ids, (size_t)n, &report), PWA_OK);
    CHECK(report.added == 0 && report.duplicates == (uint64_t)n);

    char web_id[128], reason[1024];
    size_t need_w = 0, need_r = 0;
    CHECK_STATUS(pwa_subscription_rejected(set, 0, web_id, sizeof web_id, &need_w, reason,
                                           sizeof reason, &need_r),
                 PWA_OK);
    CHECK(strcmp(web_id, "F1DPnoSuchPointAtAll") == 0);
    CHECK(need_w == strlen(web_id) + 1);
    CHECK(strstr(reason, "404") != NULL);
    CHECK(strstr(reason, "F1DPnoSuchPointAtAll") != NULL);
    CHECK_STATUS(pwa_subscription_rejected(set, 0, web_id, 4, NULL, reason, sizeof reason, NULL),
                 PWA_ERR_BUFFER_TOO_SMALL);
    CHECK_STATUS(pwa_subscription_rejected(set, 1, web_id, sizeof web_id, NULL, reason,
                                           sizeof reason, NULL),
                 PWA_ERR_INVALID_ARGUMENT);

    pwa_set_stats stats;
    CHECK_STATUS(pwa_subscription_stats(set, &stats), PWA_OK);
    CHECK(stats.streams == (uint64_t)n);
    CHECK(stats.shards >= (uint64_t)(n + 1) / 2);
    CHECK(stats.shards_open == stats.shards);
    CHECK(stats.rejected == 1);
    pwa_shard_stats shard;
    CHECK_STATUS(pwa_subscription_shard_stats(set, 0, &shard), PWA_OK);
    CHECK(shard.state == PWA_STATE_OPEN && shard.streams >= 1 && shard.streams <= 2);
    CHECK_STATUS(pwa_subscription_shard_stats(set, 1000, &shard), PWA_ERR_INVALID_ARGUMENT);

    /* Messages of several shards, each naming one of our WebIds. */
    int shards_seen[64] = {0};
    int distinct = 0;
    for (int k = 0; k < 40; k++) {
        pwa_message *msg = NULL;
        uint32_t sh = 0;
        CHECK_STATUS(pwa_subscription_poll_next(set, 10000, &msg, &sh), PWA_OK);
        if (!msg) break;
        CHECK(sh >= 1);
        if (sh < 64 && !shards_seen[sh]) {
            shards_seen[sh] = 1;
            distinct++;
        }
        const char *json = pwa_message_json(msg, NULL);
        CHECK(strstr(json, "F1DPnoSuchPointAtAll") == NULL);
        pwa_message_free(msg);
    }
    CHECK(distinct >= 2);

    /* Remove the first WebId: once remove returned, none of its values comes. */
    size_t removed = 99;
    CHECK_STATUS(pwa_subscription_remove(set, ids, 1, &removed), PWA_OK);
    CHECK(removed == 1);
    for (int k = 0; k < 30; k++) {
        pwa_message *msg = NULL;
        CHECK_STATUS(pwa_subscription_poll_next(set, 10000, &msg, NULL), PWA_OK);
        if (!msg) break;
        CHECK(strstr(pwa_message_json(msg, NULL), ids[0]) == NULL);
        pwa_message_free(msg);
    }
    CHECK_STATUS(pwa_subscription_stats(set, &stats), PWA_OK);
    CHECK(stats.streams == (uint64_t)n - 1);
    CHECK_STATUS(pwa_subscription_add(set, ids, 1, &report), PWA_OK);
    CHECK(report.added == 1);

    CHECK_STATUS(pwa_subscription_close(set), PWA_OK);
    CHECK_STATUS(pwa_subscription_close(set), PWA_OK);
    pwa_status st;
    pwa_message *msg = NULL;
    while ((st = pwa_subscription_poll_next(set, 10000, &msg, NULL)) == PWA_OK) {
        pwa_message_free(msg);
    }
    CHECK_STATUS(st, PWA_CLOSED);
    CHECK(msg == NULL);
    CHECK_STATUS(pwa_subscription_poll_next(set, 0, &msg, NULL), PWA_CLOSED);
    CHECK_STATUS(pwa_subscription_add(set, ids, 1, NULL), PWA_CLOSED);
    CHECK_STATUS(pwa_subscription_free(set), PWA_OK);
    CHECK_STATUS(pwa_subscription_free(set), PWA_ERR_INVALID_HANDLE);
    CHECK_STATUS(pwa_subscription_poll_next(set, 0, &msg, NULL), PWA_ERR_INVALID_HANDLE);
}

struct seen {
    int messages;
    int rejected;
    int closed;
    int shard_events;
    int after_closed;
};

static void on_message(void *user, pwa_subscription_t set, uint32_t shard,
                       const pwa_message *msg) {
    struct seen *s = user;
    (void)set;
    CHECK(shard >= 1);
    CHECK(pwa_message_json(msg, NULL) != NULL);
    if (s->closed) s->after_closed++;
    __atomic_add_fetch(&s->messages, 1, __ATOMIC_SEQ_CST);
}

static void on_state(void *user, pwa_subscription_t set, const pwa_subscription_event *e) {
    struct seen *s = user;
    (void)set;
    if (s->closed) s->after_closed++;
    switch (e->kind) {
    case PWA_SET_EVENT_SHARD:
        CHECK(e->shard_event != NULL && e->shard >= 1);
        s->shard_events++;
        break;
    case PWA_SET_EVENT_REJECTED:
        CHECK(strcmp(e->web_id, "F1DPnoSuchPointAtAll") == 0);
        CHECK(strstr(e->message, "404") != NULL);
        s->rejected++;
        break;
    case PWA_SET_EVENT_CLOSED:
        CHECK(e->status == PWA_CLOSED);
        __atomic_store_n(&s->closed, 1, __ATOMIC_SEQ_CST);
        break;
    default:
        CHECK(!"unknown event kind");
    }
}

static void callbacks(void) {
    static char buf[8192];
    const char *ids[MAX_IDS + 1];
    int n = adhoc_web_ids(buf, sizeof buf, ids, MAX_IDS);
    ids[n] = "F1DPnoSuchPointAtAll";
    struct seen seen;
    memset(&seen, 0, sizeof seen);
    pwa_subscription_callbacks cb = {on_message, on_state, &seen};
    pwa_subscription_t set = 0;
    CHECK_STATUS(pwa_subscription_open(env_url("SIM_BASE"), NULL, NULL, &cb, &set), PWA_OK);
    CHECK_STATUS(pwa_subscription_add(set, ids, (size_t)n + 1, NULL), PWA_OK);
    for (int i = 0; i < 500 && __atomic_load_n(&seen.messages, __ATOMIC_SEQ_CST) < 5; i++) {
        sleep_ms(20);
    }
    CHECK(__atomic_load_n(&seen.messages, __ATOMIC_SEQ_CST) >= 5);
    pwa_message *msg = NULL;
    CHECK_STATUS(pwa_subscription_poll_next(set, 0, &msg, NULL), PWA_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(pwa_subscription_close(set), PWA_OK);
    for (int i = 0; i < 500 && !__atomic_load_n(&seen.closed, __ATOMIC_SEQ_CST); i++) {
        sleep_ms(20);
    }
    CHECK_STATUS(pwa_subscription_free(set), PWA_OK);
    CHECK(seen.closed == 1);
    CHECK(seen.rejected == 1);
    CHECK(seen.shard_events >= 2); /* connected and closed, at least */
    CHECK(seen.after_closed == 0);
}

static void bad_input(void) {
    pwa_subscription_t set = 7;
    CHECK_STATUS(pwa_subscription_open(NULL, NULL, NULL, NULL, &set), PWA_ERR_INVALID_ARGUMENT);
    CHECK(set == 0);
    CHECK_STATUS(pwa_subscription_open("ws://127.0.0.1:1/piwebapi", NULL, NULL, NULL, NULL),
                 PWA_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(pwa_subscription_open("\xff\xfe", NULL, NULL, NULL, &set),
                 PWA_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(pwa_subscription_open("not a url", NULL, NULL, NULL, &set),
                 PWA_ERR_INVALID_ARGUMENT);
    pwa_url_options opts;
    memset(&opts, 0, sizeof opts);
    opts.name_filter = "Flow*"; /* stream-set channels only */
    CHECK_STATUS(pwa_subscription_open(env_url("SIM_BASE"), NULL, &opts, NULL, &set),
                 PWA_ERR_INVALID_ARGUMENT);
    CHECK(last_error_contains("nameFilter"));

    pwa_config *cfg = pwa_config_new();
    CHECK_STATUS(pwa_config_set(cfg, "max_channels", "0"), PWA_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(pwa_config_set(cfg, "max_channels", "1"), PWA_OK);
    CHECK_STATUS(pwa_config_set(cfg, "max_streams_per_channel", "1"), PWA_OK);
    CHECK_STATUS(pwa_subscription_open(env_url("SIM_BASE"), cfg, NULL, NULL, &set), PWA_OK);
    pwa_config_free(cfg);
    static char buf[8192];
    const char *ids[MAX_IDS];
    int n = adhoc_web_ids(buf, sizeof buf, ids, MAX_IDS);
    CHECK_STATUS(pwa_subscription_add(set, NULL, 1, NULL), PWA_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(pwa_subscription_add(set, NULL, 0, NULL), PWA_OK);
    const char *bad[] = {ids[0], NULL};
    CHECK_STATUS(pwa_subscription_add(set, bad, 2, NULL), PWA_ERR_INVALID_ARGUMENT);
    CHECK(last_error_contains("web_ids[1]"));
    const char *utf[] = {"\xc3\x28"};
    CHECK_STATUS(pwa_subscription_add(set, utf, 1, NULL), PWA_ERR_INVALID_ARGUMENT);
    const char *spaces[] = {"has space"};
    CHECK_STATUS(pwa_subscription_add(set, spaces, 1, NULL), PWA_ERR_INVALID_ARGUMENT);
    /* The bound: one channel of one stream; two streams need two. Nothing is added. */
    CHECK(n >= 2);
    CHECK_STATUS(pwa_subscription_add(set, ids, 2, NULL), PWA_ERR_LIMIT);
    CHECK(last_error_contains("max_channels"));
    pwa_set_stats stats;
    CHECK_STATUS(pwa_subscription_stats(set, &stats), PWA_OK);
    CHECK(stats.streams == 0 && stats.shards == 0);
    CHECK_STATUS(pwa_subscription_add(set, ids, 1, NULL), PWA_OK);
    CHECK_STATUS(pwa_subscription_stats(set, NULL), PWA_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(pwa_subscription_poll_next(set, 0, NULL, NULL), PWA_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(pwa_subscription_free(set), PWA_OK);
    CHECK_STATUS(pwa_subscription_close(set), PWA_ERR_INVALID_HANDLE);
    CHECK_STATUS(pwa_subscription_close(0), PWA_ERR_INVALID_HANDLE);
    CHECK_STATUS(pwa_subscription_add(12345, ids, 1, NULL), PWA_ERR_INVALID_HANDLE);
    CHECK(strcmp(pwa_status_name(PWA_ERR_LIMIT), "PWA_ERR_LIMIT") == 0);
}

int main(void) {
    poll_add_remove_close();
    callbacks();
    bad_input();
    pwa_shutdown(5000);
    return finish("test_subscription");
}
