/* Typed access to messages without a JSON parser: walk every value of a recorded multi-stream
 * message (tests/data/multi_stream.json), check known values, and compare a checksum of all
 * values with the one tests/data/values_checksum.py computes independently with Python's json
 * module. Also: heartbeats and unparsable text, bad indices, the URL builders, and
 * pwa_channel_poll_json against the simulator. */
#include <math.h>
#include <stdint.h>

#include "check.h"

#define DATA_FILE "tests/data/multi_stream.json"

/* The same mixing as tests/data/values_checksum.py. */
static uint64_t fnv(const char *s) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return h;
}
static void mix(uint64_t *h, uint64_t x) { *h = (*h ^ x) * 0x100000001b3ULL; }

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    *len = fread(buf, 1, (size_t)n, f);
    buf[*len] = 0;
    fclose(f);
    return buf;
}

static uint64_t checksum(const pwa_message *msg, size_t *count) {
    uint64_t h = 0xcbf29ce484222325ULL;
    size_t n = 0;
    CHECK_STATUS(pwa_message_value_count(msg, &n), PWA_OK);
    for (size_t k = 0; k < n; k++) {
        pwa_value v;
        CHECK_STATUS(pwa_message_value(msg, k, &v), PWA_OK);
        mix(&h, v.stream_index);
        mix(&h, (uint64_t)v.kind);
        mix(&h, (uint64_t)v.timestamp_valid);
        mix(&h, (uint64_t)v.timestamp_ns);
        mix(&h, (uint64_t)v.good);
        mix(&h, (uint64_t)v.questionable);
        mix(&h, (uint64_t)v.substituted);
        mix(&h, (uint64_t)v.annotated);
        switch (v.kind) {
        case PWA_VALUE_DOUBLE: {
            uint64_t bits;
            memcpy(&bits, &v.number, sizeof bits);
            mix(&h, bits);
            break;
        }
        case PWA_VALUE_INT64:
        case PWA_VALUE_BOOL: mix(&h, (uint64_t)v.integer); break;
        case PWA_VALUE_STRING: mix(&h, fnv(v.text)); break;
        case PWA_VALUE_DIGITAL:
            mix(&h, (uint64_t)v.integer);
            mix(&h, fnv(v.text));
            mix(&h, (uint64_t)v.is_system);
            break;
        default: break;
        }
        mix(&h, fnv(v.units));
        mix(&h, (uint64_t)(int64_t)v.error_count);
        mix(&h, (uint64_t)(int64_t)v.web_exception_status);
    }
    *count = n;
    return h;
}

static void recorded_message(void) {
    size_t len = 0;
    char *json = read_file(DATA_FILE, &len);
    CHECK(json != NULL);
    if (!json) return;
    pwa_message *msg = NULL;
    CHECK_STATUS(pwa_message_from_json(json, len, &msg), PWA_OK);
    free(json); /* the message keeps its own copy */

    pwa_message_info info;
    CHECK_STATUS(pwa_message_get_info(msg, &info), PWA_OK);
    CHECK(info.stream_count == 6);
    CHECK(info.value_count == 14);
    CHECK(info.is_heartbeat == 0 && info.is_unparsable == 0);
    CHECK(strcmp(info.parse_error, "") == 0);
    CHECK(strcmp(pwa_message_url(msg), "") == 0);

    /* The checksum of all values, against Python's. */
    size_t count = 0;
    uint64_t sum = checksum(msg, &count);
    char expected[128] = {0};
#ifdef _WIN32
    /* Under Wine there is no python3 to start: scripts/test-windows.sh runs the same script
     * natively beforehand and passes its output line in PWA_VALUES_CHECKSUM. */
    snprintf(expected, sizeof expected, "%s\n", env_url("PWA_VALUES_CHECKSUM"));
#else
    FILE *py = popen("python3 tests/data/values_checksum.py " DATA_FILE, "r");
    CHECK(py != NULL);
    if (py) {
        if (!fgets(expected, sizeof expected, py)) expected[0] = 0;
        CHECK(pclose(py) == 0);
    }
#endif
    char got[128];
    snprintf(got, sizeof got, "%016llx %zu\n", (unsigned long long)sum, count);
    printf("checksum of %zu values: %s", count, got);
    if (strcmp(got, expected) != 0) fprintf(stderr, "python computed: %s", expected);
    CHECK(strcmp(got, expected) == 0);

    /* Streams. */
    pwa_stream_info s;
    CHECK_STATUS(pwa_message_stream(msg, 0, &s), PWA_OK);
    CHECK(strcmp(s.web_id, "F1DPEmoryo_bV0GzilxLXH31pgjowAAAQUJDX1BJX09QU1xBSUM2ODEwNTkuUFY") == 0);
    CHECK(strcmp(s.name, "AIC681059.PV") == 0);
    CHECK(strcmp(s.path, "\\\\ABC_PI_Ops\\AIC681059.PV") == 0);
    CHECK(strcmp(s.units, "m3/h") == 0);
    CHECK(s.first_value == 0 && s.value_count == 3 && s.has_web_exception == 0);
    CHECK_STATUS(pwa_message_stream(msg, 2, &s), PWA_OK);
    CHECK(strcmp(s.name, "Phase") == 0 && s.first_value == 5 && s.value_count == 1);
    CHECK(strcmp(s.units, "") == 0);
    CHECK_STATUS(pwa_message_stream(msg, 4, &s), PWA_OK);
    CHECK(s.has_web_exception == 1 && s.web_exception_status == 502);
    CHECK(strcmp(s.web_exception_errors, "Data archive unreachable.\nRetry later.") == 0);
    CHECK_STATUS(pwa_message_stream(msg, 5, &s), PWA_OK);
    CHECK(s.value_count == 0 && s.first_value == 14);

    /* Values of every kind. */
    pwa_value v;
    CHECK_STATUS(pwa_message_value(msg, 0, &v), PWA_OK);
    /* The cast rounds the literal to double: on x86 with the x87 FPU, C99 evaluates floating
       constants in long double (FLT_EVAL_METHOD 2), and 50.40764L is not the double. */
    CHECK(v.kind == PWA_VALUE_DOUBLE && v.number == (double)50.40764 && v.integer == 50);
    CHECK(v.timestamp_valid == 1 && v.timestamp_ns == 1670594798435012800LL);
    CHECK(strcmp(v.timestamp_text, "2022-12-09T14:06:38.4350128Z") == 0);
    CHECK(strcmp(v.text, "50.40764") == 0 && strcmp(v.units, "m3/h") == 0);
    CHECK(v.good == 1 && v.questionable == 0 && v.substituted == 0 && v.annotated == 0);
    CHECK(v.stream_index == 0 && v.error_count == 0 && strcmp(v.errors, "") == 0);
    CHECK_STATUS(pwa_message_value(msg, 2, &v), PWA_OK);
    CHECK(v.timestamp_ns == 1622527200500000000LL); /* 08:00:00.5+02:00 */
    CHECK(v.substituted == 1 && v.annotated == 1 && strcmp(v.units, "m3/h") == 0); /* stream's */
    CHECK_STATUS(pwa_message_value(msg, 3, &v), PWA_OK);
    CHECK(v.kind == PWA_VALUE_INT64 && v.integer == 1234567 && v.number == 1234567.0);
    CHECK(v.good == 1 && v.stream_index == 1); /* "Good": "true" */
    CHECK_STATUS(pwa_message_value(msg, 4, &v), PWA_OK);
    CHECK(v.integer == -42 && v.timestamp_ns == -100 && v.annotated == 0);
    CHECK_STATUS(pwa_message_value(msg, 5, &v), PWA_OK);
    CHECK(v.kind == PWA_VALUE_STRING && strcmp(v.text, "Heating \"B\" \xc3\xbc") == 0);
    CHECK(v.timestamp_ns == 4102444800000000000LL && isnan(v.number));
    CHECK_STATUS(pwa_message_value(msg, 6, &v), PWA_OK);
    CHECK(v.kind == PWA_VALUE_DIGITAL && strcmp(v.text, "Active") == 0 && v.integer == 1 && v.is_system == 0);
    CHECK_STATUS(pwa_message_value(msg, 7, &v), PWA_OK);
    CHECK(v.kind == PWA_VALUE_DIGITAL && strcmp(v.text, "Shutdown") == 0 && v.integer == 254);
    CHECK(v.is_system == 1 && v.good == 0);
    CHECK_STATUS(pwa_message_value(msg, 8, &v), PWA_OK);
    CHECK(v.kind == PWA_VALUE_BOOL && v.integer == 1 && strcmp(v.text, "true") == 0);
    CHECK_STATUS(pwa_message_value(msg, 10, &v), PWA_OK);
    CHECK(v.kind == PWA_VALUE_NULL && v.good == 0 && v.error_count == 1 && v.stream_index == 4);
    CHECK(strcmp(v.errors, "Value: Point not found.; Check the tag name.") == 0);
    CHECK(strcmp(v.units, "degC") == 0 && strcmp(v.text, "") == 0);
    CHECK_STATUS(pwa_message_value(msg, 11, &v), PWA_OK);
    CHECK(v.kind == PWA_VALUE_OTHER && strcmp(v.text, "[1, 2, 3]") == 0);
    CHECK_STATUS(pwa_message_value(msg, 12, &v), PWA_OK);
    CHECK(v.kind == PWA_VALUE_OTHER && v.has_web_exception == 1 && v.web_exception_status == 500);
    CHECK(strcmp(v.web_exception_errors, "Partial failure.") == 0);
    CHECK_STATUS(pwa_message_value(msg, 13, &v), PWA_OK);
    CHECK(v.kind == PWA_VALUE_DOUBLE && v.number == 3.25);
    CHECK(v.timestamp_valid == 0 && v.timestamp_ns == 0 && v.error_count == 1);
    CHECK(strstr(v.errors, "Timestamp: invalid timestamp 'not-a-time'") == v.errors);
    CHECK(strcmp(pwa_value_kind_name(v.kind), "DOUBLE") == 0);

    /* Out of range and NULL. */
    CHECK_STATUS(pwa_message_value(msg, 14, &v), PWA_ERR_INVALID_ARGUMENT);
    CHECK(last_error_contains("value index 14 is out of range: the message has 14 values"));
    CHECK_STATUS(pwa_message_stream(msg, 6, &s), PWA_ERR_INVALID_ARGUMENT);
    CHECK(last_error_contains("stream index 6 is out of range"));
    CHECK_STATUS(pwa_message_value(msg, 0, NULL), PWA_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(pwa_message_value(NULL, 0, &v), PWA_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(pwa_message_get_info(NULL, &info), PWA_ERR_INVALID_ARGUMENT);

    /* Strings copied into a buffer (LabVIEW style). */
    size_t needed = 0;
    CHECK_STATUS(pwa_message_copy_string(msg, PWA_FIELD_STREAM_NAME, 3, NULL, 0, &needed), PWA_ERR_BUFFER_TOO_SMALL);
    CHECK(needed == strlen("PUMP01.STAT") + 1);
    char buf[64];
    CHECK_STATUS(pwa_message_copy_string(msg, PWA_FIELD_STREAM_NAME, 3, buf, sizeof buf, &needed), PWA_OK);
    CHECK(strcmp(buf, "PUMP01.STAT") == 0);
    CHECK_STATUS(pwa_message_copy_string(msg, PWA_FIELD_VALUE_UNITS, 10, buf, sizeof buf, NULL), PWA_OK);
    CHECK(strcmp(buf, "degC") == 0);
    CHECK_STATUS(pwa_message_copy_string(msg, PWA_FIELD_VALUE_TEXT, 99, buf, sizeof buf, NULL), PWA_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(pwa_message_copy_string(msg, 12345, 0, buf, sizeof buf, NULL), PWA_ERR_INVALID_ARGUMENT);
    pwa_message_free(msg);
}

static void heartbeats_and_garbage(void) {
    const char *heartbeats[] = {"", "  \r\n\t", "{}", "{\"Links\":{}}", "{\"Items\":[]}", "{\"Items\":null}",
                                "{\"Links\":{},\"Items\":[{\"WebId\":\"F1DPx\",\"Items\":[]}]}"};
    for (size_t i = 0; i < sizeof heartbeats / sizeof heartbeats[0]; i++) {
        pwa_message *msg = NULL;
        CHECK_STATUS(pwa_message_from_json(heartbeats[i], (size_t)-1, &msg), PWA_OK);
        int32_t hb = -1, bad = -1;
        CHECK_STATUS(pwa_message_is_heartbeat(msg, &hb), PWA_OK);
        CHECK_STATUS(pwa_message_is_unparsable(msg, &bad), PWA_OK);
        CHECK(hb == 1 && bad == 0);
        pwa_message_free(msg);
    }
    const char *garbage[] = {"not json", "[1,2,3]", "{\"Items\":5}", "{\"Items\":[{\"Items\":[{\"Good\":\"maybe\"}]}]}",
                             "{\"Items\":[", "null", "\"Items\""};
    for (size_t i = 0; i < sizeof garbage / sizeof garbage[0]; i++) {
        pwa_message *msg = NULL;
        CHECK_STATUS(pwa_message_from_json(garbage[i], strlen(garbage[i]), &msg), PWA_OK);
        pwa_message_info info;
        CHECK_STATUS(pwa_message_get_info(msg, &info), PWA_OK);
        CHECK(info.is_unparsable == 1 && info.is_heartbeat == 0 && info.stream_count == 0);
        CHECK(strlen(info.parse_error) > 0);
        CHECK(strcmp(pwa_message_json(msg, NULL), garbage[i]) == 0); /* the text is kept */
        pwa_message_free(msg);
    }
    /* A message-level WebException is not a heartbeat. */
    pwa_message *msg = NULL;
    CHECK_STATUS(pwa_message_from_json("{\"WebException\":{\"StatusCode\":503,\"Errors\":[\"busy\"]}}", (size_t)-1, &msg), PWA_OK);
    pwa_message_info info;
    CHECK_STATUS(pwa_message_get_info(msg, &info), PWA_OK);
    CHECK(info.is_heartbeat == 0 && info.has_web_exception == 1 && info.web_exception_status == 503);
    CHECK(strcmp(info.web_exception_errors, "busy") == 0);
    pwa_message_free(msg);

    CHECK_STATUS(pwa_message_from_json(NULL, 0, &msg), PWA_ERR_INVALID_ARGUMENT);
    CHECK(msg == NULL);
    const char bad_utf8[] = {'{', (char)0xff, '}', 0};
    CHECK_STATUS(pwa_message_from_json(bad_utf8, 3, &msg), PWA_ERR_INVALID_ARGUMENT);
    CHECK(last_error_contains("not valid UTF-8"));
    CHECK_STATUS(pwa_message_from_json("{}", 2, NULL), PWA_ERR_INVALID_ARGUMENT);
}

/* "ws://127.0.0.1:P/piwebapi/streams/ID/channel" -> ID */
static void web_id_of(const char *url, char *out, size_t cap) {
    const char *p = strstr(url, "/streams/");
    out[0] = 0;
    if (!p) return;
    p += strlen("/streams/");
    size_t n = strcspn(p, "/");
    if (n >= cap) n = cap - 1;
    memcpy(out, p, n);
    out[n] = 0;
}

static void url_builders(void) {
    char id[256], url[1024], http_base[512];
    web_id_of(env_url("SIM_STREAM"), id, sizeof id);
    CHECK(strlen(id) > 0);
    /* ws:// base -> exactly the simulator's own URL; an http:// base gives the same. */
    CHECK_STATUS(pwa_url_stream(env_url("SIM_BASE"), id, NULL, url, sizeof url, NULL), PWA_OK);
    CHECK(strcmp(url, env_url("SIM_STREAM")) == 0);
    snprintf(http_base, sizeof http_base, "http://%s", env_url("SIM_BASE") + strlen("ws://"));
    pwa_url_options o;
    memset(&o, 0, sizeof o);
    o.include_initial_values = 1;
    o.heartbeat_rate = 2;
    o.web_id_type = PWA_WEBID_TYPE_ID_ONLY;
    size_t needed = 0;
    CHECK_STATUS(pwa_url_stream(http_base, id, &o, NULL, 0, &needed), PWA_ERR_BUFFER_TOO_SMALL);
    CHECK_STATUS(pwa_url_stream(http_base, id, &o, url, sizeof url, NULL), PWA_OK);
    CHECK(strlen(url) + 1 == needed);
    CHECK(strncmp(url, "ws://", 5) == 0);
    CHECK(strstr(url, "/channel?includeInitialValues=true&heartbeatRate=2&webIdType=IDOnly") != NULL);
    /* The built URL opens. */
    pwa_channel_t h = 0;
    CHECK_STATUS(pwa_channel_open(url, NULL, NULL, &h), PWA_OK);
    pwa_message *msg = NULL;
    CHECK_STATUS(pwa_channel_poll_next(h, 10000, &msg), PWA_OK);
    size_t n = 0;
    CHECK_STATUS(pwa_message_value_count(msg, &n), PWA_OK);
    CHECK(n >= 1);
    pwa_message_free(msg);
    pwa_channel_free(h);

    memset(&o, 0, sizeof o);
    o.name_filter = "Flow *";
    o.search_full_hierarchy = 1;
    CHECK_STATUS(pwa_url_streamset("https://pi.example.com/piwebapi", "F1EmAbc", &o, url, sizeof url, NULL), PWA_OK);
    CHECK(strcmp(url, "wss://pi.example.com/piwebapi/streamsets/F1EmAbc/channel?nameFilter=Flow%20*&searchFullHierarchy=true") == 0);
    CHECK_STATUS(pwa_url_stream("https://pi.example.com/piwebapi", "F1DPa", &o, url, sizeof url, NULL), PWA_ERR_INVALID_ARGUMENT);
    CHECK(last_error_contains("nameFilter applies only to stream-set channels"));
    CHECK_STATUS(pwa_url_adhoc("https://pi:8443/piwebapi/", "A1, B2\nC3", NULL, url, sizeof url, NULL), PWA_OK);
    CHECK(strcmp(url, "wss://pi:8443/piwebapi/streamsets/channel?webId=A1&webId=B2&webId=C3") == 0);

    /* Split: 3 URLs of at most 61 bytes (28 + 16 + 17 = 61: two WebIds fit exactly). */
    size_t count = 0;
    CHECK_STATUS(pwa_url_adhoc_split("http://h/p", "AAAAAAAAAA,BBBBBBBBBB,CCCCCCCCCC,DDDDDDDDDD,EEEEEEEEEE", NULL, 61, url, sizeof url,
                                     &needed, &count),
                 PWA_OK);
    CHECK(count == 3);
    CHECK(strcmp(url, "ws://h/p/streamsets/channel?webId=AAAAAAAAAA&webId=BBBBBBBBBB\n"
                      "ws://h/p/streamsets/channel?webId=CCCCCCCCCC&webId=DDDDDDDDDD\n"
                      "ws://h/p/streamsets/channel?webId=EEEEEEEEEE") == 0);
    CHECK_STATUS(pwa_url_adhoc_split("http://h/p", "AAAAAAAAAA", NULL, 30, url, sizeof url, NULL, &count), PWA_ERR_INVALID_ARGUMENT);
    CHECK(last_error_contains("does not fit"));

    /* Bad input. */
    CHECK_STATUS(pwa_url_stream("ftp://h/piwebapi", "A", NULL, url, sizeof url, NULL), PWA_ERR_INVALID_ARGUMENT);
    CHECK(last_error_contains("scheme"));
    CHECK_STATUS(pwa_url_stream("https://h/piwebapi?x=1", "A", NULL, url, sizeof url, NULL), PWA_ERR_INVALID_ARGUMENT);
    CHECK(last_error_contains("query"));
    CHECK_STATUS(pwa_url_stream("piwebapi", "A", NULL, url, sizeof url, NULL), PWA_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(pwa_url_stream("https://h/piwebapi", "", NULL, url, sizeof url, NULL), PWA_ERR_INVALID_ARGUMENT);
    CHECK(last_error_contains("empty"));
    CHECK_STATUS(pwa_url_stream("https://h/piwebapi", "a/b", NULL, url, sizeof url, NULL), PWA_ERR_INVALID_ARGUMENT);
    CHECK(last_error_contains("A-Z"));
    CHECK_STATUS(pwa_url_stream(NULL, "A", NULL, url, sizeof url, NULL), PWA_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(pwa_url_adhoc("https://h/piwebapi", " , ", NULL, url, sizeof url, NULL), PWA_ERR_INVALID_ARGUMENT);
    o.web_id_type = 99;
    CHECK_STATUS(pwa_url_streamset("https://h/piwebapi", "A", &o, url, sizeof url, NULL), PWA_ERR_INVALID_ARGUMENT);
}

static void poll_json(void) {
    pwa_channel_t h = 0;
    CHECK_STATUS(pwa_channel_open(env_url("SIM_STREAM"), NULL, NULL, &h), PWA_OK);
    size_t needed = 0;
    /* Size query: the message stays queued. */
    CHECK_STATUS(pwa_channel_poll_json(h, 10000, NULL, 0, &needed), PWA_ERR_BUFFER_TOO_SMALL);
    CHECK(needed > 1);
    CHECK(last_error_contains("stays queued"));
    size_t first = needed;
    char *small = malloc(first - 1);
    CHECK_STATUS(pwa_channel_poll_json(h, 0, small, first - 1, &needed), PWA_ERR_BUFFER_TOO_SMALL);
    CHECK(needed == first); /* the same message */
    free(small);
    char *buf = malloc(first);
    CHECK_STATUS(pwa_channel_poll_json(h, 0, buf, first, &needed), PWA_OK);
    CHECK(needed == first && strlen(buf) + 1 == first);
    pwa_message *msg = NULL;
    CHECK_STATUS(pwa_message_from_json(buf, (size_t)-1, &msg), PWA_OK);
    pwa_message_info info;
    CHECK_STATUS(pwa_message_get_info(msg, &info), PWA_OK);
    CHECK(info.is_unparsable == 0 && info.stream_count >= 1);
    pwa_message_free(msg);
    free(buf);

    static char big[1 << 16];
    CHECK_STATUS(pwa_channel_poll_json(h, 10000, big, sizeof big, &needed), PWA_OK);
    CHECK(strstr(big, "\"Items\"") != NULL);
    CHECK_STATUS(pwa_channel_poll_json(h, 10000, NULL, 5, &needed), PWA_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(pwa_channel_close(h), PWA_OK);
    pwa_status st;
    while ((st = pwa_channel_poll_json(h, 10000, big, sizeof big, &needed)) == PWA_OK) {
    }
    CHECK_STATUS(st, PWA_CLOSED);
    CHECK(needed == 0);
    CHECK_STATUS(pwa_channel_free(h), PWA_OK);
    CHECK_STATUS(pwa_channel_poll_json(h, 0, big, sizeof big, &needed), PWA_ERR_INVALID_HANDLE);
}

int main(void) {
    recorded_message();
    heartbeats_and_garbage();
    url_builders();
    poll_json();
    pwa_shutdown(5000);
    return finish("test_values");
}
