/* Bad input of every kind gets a clear status and message, never a crash. */
#include "check.h"

static void handles(void) {
    pwa_message *msg = (pwa_message *)0x1;
    CHECK_STATUS(pwa_channel_poll_next(0, 0, &msg), PWA_ERR_INVALID_HANDLE);
    CHECK(msg == NULL);
    CHECK(last_error_contains("handle is 0"));
    CHECK_STATUS(pwa_channel_close(0), PWA_ERR_INVALID_HANDLE);
    CHECK_STATUS(pwa_channel_free(0), PWA_ERR_INVALID_HANDLE);
    CHECK_STATUS(pwa_channel_close(0x123456789abcULL), PWA_ERR_INVALID_HANDLE);
    CHECK_STATUS(pwa_channel_poll_next(0xffffffffffffffffULL, 0, &msg), PWA_ERR_INVALID_HANDLE);

    pwa_channel_t h = 0;
    CHECK_STATUS(pwa_channel_open(env_url("SIM_STREAM"), NULL, NULL, &h), PWA_OK);
    CHECK(h != 0);
    CHECK_STATUS(pwa_channel_free(h), PWA_OK);
    CHECK_STATUS(pwa_channel_poll_next(h, 0, &msg), PWA_ERR_INVALID_HANDLE);
    CHECK(last_error_contains("freed, stale or never issued"));
    CHECK_STATUS(pwa_channel_close(h), PWA_ERR_INVALID_HANDLE);
    CHECK_STATUS(pwa_channel_free(h), PWA_ERR_INVALID_HANDLE);
    char buf[64];
    CHECK_STATUS(pwa_channel_last_error(h, buf, sizeof buf, NULL), PWA_ERR_INVALID_HANDLE);
    pwa_status outcome;
    CHECK_STATUS(pwa_channel_outcome(h, &outcome), PWA_ERR_INVALID_HANDLE);
}

static void null_pointers_and_utf8(void) {
    pwa_channel_t h = 7;
    CHECK_STATUS(pwa_channel_open(NULL, NULL, NULL, &h), PWA_ERR_INVALID_ARGUMENT);
    CHECK(h == 0);
    CHECK(last_error_contains("url is NULL"));
    CHECK_STATUS(pwa_channel_open(env_url("SIM_STREAM"), NULL, NULL, NULL), PWA_ERR_INVALID_ARGUMENT);
    CHECK(last_error_contains("out is NULL"));
    const char bad_utf8[] = {'w', 's', ':', '/', '/', (char)0xff, (char)0xfe, 0};
    CHECK_STATUS(pwa_channel_open(bad_utf8, NULL, NULL, &h), PWA_ERR_INVALID_ARGUMENT);
    CHECK(last_error_contains("not valid UTF-8"));
    CHECK_STATUS(pwa_channel_open("not a url", NULL, NULL, &h), PWA_ERR_INVALID_ARGUMENT);
    CHECK(last_error_contains("invalid channel URL"));
    CHECK_STATUS(pwa_channel_open("ftp://127.0.0.1/x", NULL, NULL, &h), PWA_ERR_INVALID_ARGUMENT);
    CHECK(last_error_contains("scheme"));

    CHECK_STATUS(pwa_channel_poll_next(1, 0, NULL), PWA_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(pwa_channel_state(1, NULL), PWA_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(pwa_channel_outcome(1, NULL), PWA_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(pwa_channel_stats(1, NULL), PWA_ERR_INVALID_ARGUMENT);
    CHECK(pwa_message_json(NULL, NULL) == NULL);
    CHECK(pwa_message_url(NULL) == NULL);
    pwa_message_free(NULL);
    pwa_config_free(NULL);

    pwa_config *cfg = pwa_config_new();
    CHECK(cfg != NULL);
    CHECK_STATUS(pwa_config_set(NULL, "reconnect", "true"), PWA_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(pwa_config_set(cfg, NULL, "true"), PWA_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(pwa_config_set(cfg, "reconnect", NULL), PWA_ERR_INVALID_ARGUMENT);
    CHECK(last_error_contains("reconnect"));
    const char bad_value[] = {(char)0xc3, (char)0x28, 0};
    CHECK_STATUS(pwa_config_set(cfg, "open_timeout", bad_value), PWA_ERR_INVALID_ARGUMENT);
    CHECK(last_error_contains("not valid UTF-8"));
    pwa_config_free(cfg);
}

static void config_errors_name_the_key(void) {
    pwa_config *cfg = pwa_config_new();
    CHECK_STATUS(pwa_config_set(cfg, "no_such_key", "1"), PWA_ERR_INVALID_ARGUMENT);
    CHECK(last_error_contains("unknown configuration key 'no_such_key'"));
    CHECK_STATUS(pwa_config_set(cfg, "max_queue", "lots"), PWA_ERR_INVALID_ARGUMENT);
    CHECK(last_error_contains("max_queue"));
    CHECK_STATUS(pwa_config_set(cfg, "open_timeout", "-3"), PWA_ERR_INVALID_ARGUMENT);
    CHECK(last_error_contains("open_timeout"));
    CHECK_STATUS(pwa_config_set(cfg, "reconnect", "perhaps"), PWA_ERR_INVALID_ARGUMENT);
    CHECK(last_error_contains("reconnect"));
    CHECK_STATUS(pwa_config_set(cfg, "max_queue_bytes", "0"), PWA_ERR_INVALID_ARGUMENT);
    CHECK(last_error_contains("max_queue_bytes"));
    CHECK_STATUS(pwa_config_set(cfg, "max_queue_bytes", "1048576"), PWA_OK);
    CHECK_STATUS(pwa_config_set(cfg, "max_queue", "16"), PWA_OK);
    CHECK_STATUS(pwa_config_set(cfg, "open_timeout", "2.5"), PWA_OK);
    pwa_config_free(cfg);
}

/* pwa_config_get reads values back as pwa_config_set takes them, never a secret; pwa_config_key
 * lists every key with its default, which a fresh configuration holds. */
static void config_get_and_key_listing(void) {
    pwa_config *cfg = pwa_config_new();
    char buf[256];
    size_t need = 0;
    CHECK_STATUS(pwa_config_set(cfg, "open_timeout", "2.5"), PWA_OK);
    CHECK_STATUS(pwa_config_get(cfg, "open_timeout", buf, sizeof buf, &need), PWA_OK);
    CHECK(strcmp(buf, "2.5") == 0 && need == 4);
    CHECK_STATUS(pwa_config_set(cfg, "password", "hunter2"), PWA_OK);
    CHECK_STATUS(pwa_config_get(cfg, "password", buf, sizeof buf, NULL), PWA_OK);
    CHECK(strcmp(buf, "***") == 0);
    CHECK_STATUS(pwa_config_get(cfg, "max_queue", buf, 2, &need), PWA_ERR_BUFFER_TOO_SMALL);
    CHECK(need == 5);
    CHECK_STATUS(pwa_config_get(cfg, "no_such_key", buf, sizeof buf, NULL), PWA_ERR_INVALID_ARGUMENT);
    CHECK(last_error_contains("no_such_key"));
    CHECK_STATUS(pwa_config_get(NULL, "max_queue", buf, sizeof buf, NULL), PWA_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(pwa_config_get(cfg, NULL, buf, sizeof buf, NULL), PWA_ERR_INVALID_ARGUMENT);
    pwa_config_free(cfg);

    pwa_config *fresh = pwa_config_new();
    size_t n = pwa_config_key_count();
    int saw_queue_bytes = 0, secrets = 0;
    CHECK(n >= 20);
    for (size_t i = 0; i < n; i++) {
        pwa_config_key_info k;
        CHECK_STATUS(pwa_config_key(i, &k), PWA_OK);
        CHECK(k.name && k.kind && k.default_value && k.doc && k.doc[0] != '\0');
        secrets += k.is_secret != 0;
        if (strcmp(k.name, "max_queue_bytes") == 0) {
            saw_queue_bytes = 1;
            CHECK(strcmp(k.default_value, "33554432") == 0);
        }
        if (strncmp(k.name, "header.", 7) != 0) {
            CHECK_STATUS(pwa_config_get(fresh, k.name, buf, sizeof buf, NULL), PWA_OK);
            CHECK(strcmp(buf, k.default_value) == 0);
        }
    }
    CHECK(saw_queue_bytes && secrets == 2);
    pwa_config_key_info k;
    CHECK_STATUS(pwa_config_key(n, &k), PWA_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(pwa_config_key(0, NULL), PWA_ERR_INVALID_ARGUMENT);
    pwa_config_free(fresh);
}

static void failed_opens(void) {
    pwa_channel_t h = 0;
    pwa_config *cfg = pwa_config_new();
    CHECK_STATUS(pwa_config_set(cfg, "open_timeout", "5"), PWA_OK);
    /* Port 1 on loopback: nothing listens there. */
    CHECK_STATUS(pwa_channel_open("ws://127.0.0.1:1/piwebapi/streams/x/channel", cfg, NULL, &h), PWA_ERR_CONNECT);
    CHECK(last_error_contains("ws://127.0.0.1:1/piwebapi/streams/x/channel"));

    char url[512];
    snprintf(url, sizeof url, "%s/streams/F1DPnosuchpoint/channel", env_url("SIM_BASE"));
    CHECK_STATUS(pwa_channel_open(url, cfg, NULL, &h), PWA_ERR_HTTP_STATUS);
    CHECK(last_error_contains("404"));
    CHECK(last_error_contains(url));
    snprintf(url, sizeof url, "%s/nothing/here", env_url("SIM_BASE"));
    CHECK_STATUS(pwa_channel_open(url, cfg, NULL, &h), PWA_ERR_HTTP_STATUS);

    CHECK_STATUS(pwa_channel_open(env_url("AUTH_STREAM"), cfg, NULL, &h), PWA_ERR_AUTH);
    CHECK(last_error_contains("401"));
    CHECK(h == 0);
    pwa_config_free(cfg);
}

static void error_buffers(void) {
    pwa_channel_open(NULL, NULL, NULL, NULL);
    size_t needed = 0;
    CHECK_STATUS(pwa_last_error(NULL, 0, &needed), PWA_ERR_BUFFER_TOO_SMALL);
    CHECK(needed > 1);
    char small[4];
    CHECK_STATUS(pwa_last_error(small, sizeof small, &needed), PWA_ERR_BUFFER_TOO_SMALL);
    CHECK(strlen(small) == 3);
    char *big = malloc(needed);
    CHECK_STATUS(pwa_last_error(big, needed, NULL), PWA_OK);
    CHECK(strlen(big) + 1 == needed);
    free(big);
}

static void statuses(void) {
    CHECK(strcmp(pwa_status_name(PWA_CLOSED), "PWA_CLOSED") == 0);
    CHECK(strcmp(pwa_status_name(PWA_ERR_AUTH), "PWA_ERR_AUTH") == 0);
    CHECK(strcmp(pwa_status_name(9999), "PWA_UNKNOWN") == 0);
    CHECK(strlen(pwa_status_str(PWA_WATCHDOG_TIMEOUT)) > 0);
    char v[32];
    snprintf(v, sizeof v, "%d.%d.%d", PWA_VERSION_MAJOR, PWA_VERSION_MINOR, PWA_VERSION_PATCH);
    CHECK(strcmp(pwa_version(), v) == 0);
}

int main(void) {
    handles();
    null_pointers_and_utf8();
    config_errors_name_the_key();
    config_get_and_key_listing();
    failed_opens();
    error_buffers();
    statuses();
    pwa_shutdown(5000);
    return finish("test_bad_input");
}
