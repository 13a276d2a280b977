/* Reconnect, watchdog, refused credentials while reconnecting, update (success, rollback,
 * failure), state and stats — from C, with faults injected through the simulator's control
 * endpoint. The QUIET simulator is used where a fault must not disturb other tests' data. */
#include "check.h"

static pwa_status drain(pwa_channel_t h, long *count) {
    pwa_message *m = NULL;
    pwa_status st;
    while ((st = pwa_channel_poll_next(h, 20000, &m)) == PWA_OK) {
        pwa_message_free(m);
        if (count) (*count)++;
    }
    return st;
}

static int wait_state(pwa_channel_t h, pwa_state want) {
    for (int i = 0; i < 2000; i++) {
        pwa_state s = -1;
        pwa_channel_state(h, &s);
        if (s == want) return 1;
        sleep_ms(10);
    }
    return 0;
}

static pwa_config *reconnecting(const char *dead_channel_timeout) {
    pwa_config *cfg = pwa_config_new();
    pwa_config_set(cfg, "reconnect", "true");
    pwa_config_set(cfg, "reconnect_initial_delay", "0.05");
    pwa_config_set(cfg, "reconnect_max_delay", "0.2");
    pwa_config_set(cfg, "dead_channel_timeout", dead_channel_timeout);
    return cfg;
}

static void reconnect_after_reset(void) {
    pwa_config *cfg = reconnecting("30");
    pwa_channel_t h = 0;
    CHECK_STATUS(pwa_channel_open(env_url("SIM_STREAM"), cfg, NULL, &h), PWA_OK);
    pwa_config_free(cfg);
    pwa_message *m = NULL;
    CHECK_STATUS(pwa_channel_poll_next(h, 20000, &m), PWA_OK);
    pwa_message_free(m);
    CHECK(sim_control(env_url("SIM_BASE"), "reset") == 0);
    pwa_stats st;
    for (int i = 0; i < 2000; i++) {
        pwa_channel_stats(h, &st);
        if (st.reconnects >= 1) break;
        sleep_ms(10);
    }
    CHECK(st.reconnects == 1);
    for (int i = 0; i < 5; i++) { /* data flows again; poll never saw the fault */
        CHECK_STATUS(pwa_channel_poll_next(h, 20000, &m), PWA_OK);
        pwa_message_free(m);
    }
    CHECK(wait_state(h, PWA_STATE_OPEN));
    CHECK_STATUS(pwa_channel_close(h), PWA_OK);
    CHECK_STATUS(drain(h, NULL), PWA_CLOSED);
    CHECK_STATUS(pwa_channel_free(h), PWA_OK);
}

static void watchdog(void) {
    pwa_config *cfg = reconnecting("0.5");
    pwa_channel_t h = 0;
    CHECK_STATUS(pwa_channel_open(env_url("QUIET_STREAM"), cfg, NULL, &h), PWA_OK);
    pwa_config_free(cfg);
    CHECK(sim_control(env_url("QUIET_BASE"), "restart?ms=4000") == 0);
    CHECK_STATUS(drain(h, NULL), PWA_WATCHDOG_TIMEOUT);
    CHECK_STATUS(drain(h, NULL), PWA_WATCHDOG_TIMEOUT);
    CHECK(channel_error_contains(h, "dead_channel_timeout"));
    CHECK(channel_error_contains(h, "could not connect"));
    CHECK_STATUS(pwa_channel_free(h), PWA_OK);
    sleep_ms(4500); /* the quiet simulator is back */
}

static void auth_refused_while_reconnecting(void) {
    pwa_config *cfg = reconnecting("30");
    pwa_channel_t h = 0;
    CHECK_STATUS(pwa_channel_open(env_url("QUIET_STREAM"), cfg, NULL, &h), PWA_OK);
    pwa_config_free(cfg);
    CHECK(sim_control(env_url("QUIET_BASE"), "reject?status=401&ms=3000") == 0);
    CHECK(sim_control(env_url("QUIET_BASE"), "reset") == 0);
    CHECK_STATUS(drain(h, NULL), PWA_ERR_AUTH);
    CHECK(channel_error_contains(h, "401"));
    CHECK_STATUS(pwa_channel_free(h), PWA_OK);
    sleep_ms(3200);
}

static void updates(void) {
    pwa_channel_t h = 0;
    CHECK_STATUS(pwa_channel_open(env_url("SIM_STREAM"), NULL, NULL, &h), PWA_OK);
    CHECK_STATUS(pwa_channel_update(h, env_url("SIM_ADHOC"), 0), PWA_OK);
    pwa_message *m = NULL;
    int from_new = 0;
    for (int i = 0; i < 200 && !from_new; i++) { /* old endpoint's last messages first */
        CHECK_STATUS(pwa_channel_poll_next(h, 20000, &m), PWA_OK);
        from_new = strcmp(pwa_message_url(m), env_url("SIM_ADHOC")) == 0;
        pwa_message_free(m);
    }
    CHECK(from_new);
    pwa_stats st;
    CHECK_STATUS(pwa_channel_stats(h, &st), PWA_OK);
    CHECK(st.updates == 1);

    const char *dead = "ws://127.0.0.1:1/piwebapi/streams/x/channel";
    CHECK_STATUS(pwa_channel_update(h, dead, 1), PWA_ROLLED_BACK);
    CHECK(last_error_contains("rolled back"));
    CHECK_STATUS(pwa_channel_poll_next(h, 20000, &m), PWA_OK);
    CHECK(strcmp(pwa_message_url(m), env_url("SIM_ADHOC")) == 0);
    pwa_message_free(m);
    CHECK_STATUS(pwa_channel_update(h, "not a url", 1), PWA_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(pwa_channel_update(h, NULL, 1), PWA_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(pwa_channel_update(h, dead, 0), PWA_UPDATE_FAILED);
    CHECK_STATUS(drain(h, NULL), PWA_UPDATE_FAILED);
    CHECK_STATUS(pwa_channel_update(h, env_url("SIM_STREAM"), 1), PWA_UPDATE_FAILED);
    pwa_state s = -1;
    CHECK_STATUS(pwa_channel_state(h, &s), PWA_OK);
    CHECK(s == PWA_STATE_CLOSED);
    CHECK_STATUS(pwa_channel_free(h), PWA_OK);
}

int main(void) {
    reconnect_after_reset();
    watchdog();
    auth_refused_while_reconnecting();
    updates();
    CHECK_STATUS(pwa_shutdown(5000), PWA_OK);
    return finish("test_resilience");
}
