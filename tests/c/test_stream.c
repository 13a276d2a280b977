/* Open, poll and close on each endpoint; initial values; heartbeats; drain after close;
 * server close 1000 and a reset connection give their terminal statuses. */
#include "check.h"

static pwa_status next(pwa_channel_t h, int timeout_ms, char *json_out, size_t cap) {
    pwa_message *msg = NULL;
    pwa_status st = pwa_channel_poll_next(h, timeout_ms, &msg);
    if (st == PWA_OK) {
        size_t len = 0;
        const char *json = pwa_message_json(msg, &len);
        if (json_out) snprintf(json_out, cap, "%s", json);
        CHECK(strlen(json) == len);
        CHECK(strncmp(pwa_message_url(msg), "ws://127.0.0.1:", 15) == 0);
        pwa_message_free(msg);
    } else {
        CHECK(msg == NULL);
    }
    return st;
}

static void each_endpoint(void) {
    const char *names[] = {"SIM_STREAM", "SIM_STREAMSET", "SIM_ADHOC"};
    for (int i = 0; i < 3; i++) {
        pwa_channel_t h = 0;
        CHECK_STATUS(pwa_channel_open(env_url(names[i]), NULL, NULL, &h), PWA_OK);
        pwa_state state = -1;
        CHECK_STATUS(pwa_channel_state(h, &state), PWA_OK);
        CHECK(state == PWA_STATE_OPEN);
        static char json[1 << 16];
        for (int k = 0; k < 3; k++) {
            CHECK_STATUS(next(h, 10000, json, sizeof json), PWA_OK);
            CHECK(strstr(json, "\"Items\"") != NULL);
            CHECK(strstr(json, "\"WebId\"") != NULL);
            CHECK(strstr(json, "\"Timestamp\"") != NULL);
        }
        CHECK_STATUS(pwa_channel_close(h), PWA_OK);
        CHECK_STATUS(pwa_channel_close(h), PWA_OK); /* idempotent */
        pwa_status st;
        while ((st = next(h, 10000, NULL, 0)) == PWA_OK) {
        }
        CHECK_STATUS(st, PWA_CLOSED);
        CHECK_STATUS(next(h, 0, NULL, 0), PWA_CLOSED);
        CHECK_STATUS(pwa_channel_state(h, &state), PWA_OK);
        CHECK(state == PWA_STATE_CLOSED);
        CHECK_STATUS(pwa_channel_free(h), PWA_OK);
    }
}

static void initial_values_and_heartbeats(void) {
    /* The quiet simulator sends no data: the only messages are initial values and heartbeats. */
    char url[1024];
    snprintf(url, sizeof url, "%s&includeInitialValues=true", env_url("QUIET_ADHOC"));
    pwa_channel_t h = 0;
    CHECK_STATUS(pwa_channel_open(url, NULL, NULL, &h), PWA_OK);
    static char json[1 << 16];
    CHECK_STATUS(next(h, 5000, json, sizeof json), PWA_OK);
    CHECK(strstr(json, "\"Value\"") != NULL);
    CHECK_STATUS(next(h, 300, NULL, 0), PWA_TIMEOUT); /* quiet: nothing else */
    pwa_channel_free(h);

    snprintf(url, sizeof url, "%s?heartbeatRate=2", env_url("QUIET_STREAM"));
    CHECK_STATUS(pwa_channel_open(url, NULL, NULL, &h), PWA_OK);
    for (int i = 0; i < 2; i++) {
        CHECK_STATUS(next(h, 10000, json, sizeof json), PWA_OK);
        CHECK(strstr(json, "\"Items\":[]") != NULL);
        CHECK(strstr(json, "\"WebId\"") == NULL);
    }
    pwa_channel_free(h);
}

static void drain_after_close(void) {
    pwa_channel_t h = 0;
    CHECK_STATUS(pwa_channel_open(env_url("SIM_ADHOC"), NULL, NULL, &h), PWA_OK);
    pwa_stats stats;
    for (int i = 0; i < 200; i++) { /* let at least 10 messages pile up, unpolled */
        pwa_channel_stats(h, &stats);
        if (stats.messages >= 10) break;
        sleep_ms(50);
    }
    pwa_status outcome = -1;
    CHECK_STATUS(pwa_channel_outcome(h, &outcome), PWA_OK);
    CHECK_STATUS(outcome, PWA_OK); /* still running */
    CHECK_STATUS(pwa_channel_close(h), PWA_OK);
    /* The outcome is known once the channel ended, before its buffer is drained. */
    for (int i = 0; i < 200 && outcome == PWA_OK; i++) {
        pwa_channel_outcome(h, &outcome);
        if (outcome == PWA_OK) sleep_ms(50);
    }
    CHECK_STATUS(outcome, PWA_CLOSED);
    pwa_channel_stats(h, &stats);
    CHECK(stats.queue_depth >= 10); /* nothing was taken by asking */
    unsigned long long polled = 0;
    pwa_status st;
    while ((st = next(h, 10000, NULL, 0)) == PWA_OK) polled++;
    CHECK_STATUS(st, PWA_CLOSED);
    CHECK_STATUS(next(h, 0, NULL, 0), PWA_CLOSED);
    CHECK_STATUS(pwa_channel_outcome(h, &outcome), PWA_OK);
    CHECK_STATUS(outcome, PWA_CLOSED);
    pwa_channel_stats(h, &stats);
    CHECK(polled >= 10);
    CHECK(polled == stats.messages); /* every message received was handed over */
    CHECK(stats.queue_depth == 0);
    pwa_channel_free(h);
}

static void server_side_endings(void) {
    pwa_channel_t h = 0;
    CHECK_STATUS(pwa_channel_open(env_url("SIM_STREAM"), NULL, NULL, &h), PWA_OK);
    CHECK_STATUS(next(h, 10000, NULL, 0), PWA_OK);
    CHECK(sim_control(env_url("SIM_BASE"), "close?code=1000") == 0);
    pwa_status st;
    while ((st = next(h, 10000, NULL, 0)) == PWA_OK) {
    }
    CHECK_STATUS(st, PWA_CLOSED);
    CHECK(channel_error_contains(h, "code 1000"));
    pwa_channel_free(h);

    CHECK_STATUS(pwa_channel_open(env_url("SIM_STREAM"), NULL, NULL, &h), PWA_OK);
    CHECK_STATUS(next(h, 10000, NULL, 0), PWA_OK);
    CHECK(sim_control(env_url("SIM_BASE"), "reset") == 0);
    while ((st = next(h, 10000, NULL, 0)) == PWA_OK) {
    }
    CHECK_STATUS(st, PWA_CLOSED_ERROR);
    CHECK_STATUS(next(h, 0, NULL, 0), PWA_CLOSED_ERROR);
    pwa_status outcome = PWA_OK;
    CHECK_STATUS(pwa_channel_outcome(h, &outcome), PWA_OK);
    CHECK_STATUS(outcome, PWA_CLOSED_ERROR);
    char why[512];
    pwa_channel_last_error(h, why, sizeof why, NULL);
    CHECK(strlen(why) > 0);
    printf("reset gave: %s\n", why);
    pwa_channel_free(h);
}

int main(void) {
    each_endpoint();
    initial_values_and_heartbeats();
    drain_after_close();
    server_side_endings();
    pwa_shutdown(5000);
    return finish("test_stream");
}
