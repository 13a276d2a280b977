/*
 * stream.c — open a PI Web API channel and print what it streams.
 *
 *   stream URL [-n COUNT] [-c key=value]... [auth and TLS options]
 *
 * URL is a channel URL, e.g. wss://pi/piwebapi/streams/{webId}/channel?includeInitialValues=true
 * -n stops after COUNT messages (default: until Ctrl-C or the channel ends);
 * -c sets any configuration key (see pwa_config_set in piwebasync.h), e.g. -c reconnect=true.
 *
 * Authentication (sent over wss:// only, unless --allow-insecure-auth):
 *   --user NAME              HTTP Basic as NAME (auth=basic); the password from:
 *   --password-env VAR       the environment variable VAR (keeps it out of `ps`), or
 *   --password PASSWORD      the command line
 *   --token-env VAR          a Bearer token (auth=bearer) from the environment variable VAR
 *   --token TOKEN            a Bearer token from the command line
 *   --allow-insecure-auth    allow credentials over unencrypted ws://
 *   --origin ORIGIN          send an Origin header
 * TLS (wss://; the system's trust store by default):
 *   --ca-file PEM            trust only the CA certificates in PEM
 *   --ca-add                 ... in addition to the system's store
 *   --client-cert PEM --client-key PEM   present a client certificate
 *   --insecure               do not verify the server's certificate (testing only)
 *
 * Exit status: 0 after COUNT messages, Ctrl-C or a normal close; 1 on any failure.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* gmtime_r */
#endif
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "piwebasync.h"

static volatile sig_atomic_t stop_requested = 0;

static void on_signal(int sig) {
    (void)sig;
    stop_requested = 1;
}

static void print_last_error(const char *what, pwa_status st) {
    char buf[512];
    pwa_last_error(buf, sizeof buf, NULL);
    fprintf(stderr, "%s: %s (%s): %s\n", what, pwa_status_name(st), pwa_status_str(st), buf);
}

/* Print a message's stream count and its first values, through the typed accessors: no JSON
 * parser needed. Timestamps are nanoseconds since the Unix epoch; `text` is every value's
 * text form (number, string, digital state name, ...). */
static void summarize(const pwa_message *msg) {
    size_t len = 0, streams = 0, values = 0;
    int32_t heartbeat = 0;
    pwa_message_json(msg, &len);
    pwa_message_is_heartbeat(msg, &heartbeat);
    pwa_message_stream_count(msg, &streams);
    pwa_message_value_count(msg, &values);
    if (heartbeat) {
        printf("heartbeat (%zu bytes)\n", len);
        return;
    }
    printf("%zu stream(s), %zu value(s), %zu bytes:", streams, values, len);
    for (size_t k = 0; k < values && k < 3; k++) {
        pwa_value v;
        pwa_stream_info s;
        if (pwa_message_value(msg, k, &v) != PWA_OK || pwa_message_stream(msg, v.stream_index, &s) != PWA_OK)
            break;
        time_t secs = (time_t)(v.timestamp_ns / 1000000000);
        struct tm tm;
        char when[32] = "?";
        if (v.timestamp_valid && gmtime_r(&secs, &tm)) strftime(when, sizeof when, "%H:%M:%S", &tm);
        printf(" %s=%s%s%s @%s%s", s.name, v.text, v.units[0] ? " " : "", v.units, when, v.good ? "" : " (bad)");
    }
    printf("%s\n", values > 3 ? " ..." : "");
}

static const char usage[] =
    "usage: %s URL [-n COUNT] [-c key=value]... [--user NAME (--password-env VAR | --password PW)]\n"
    "       [--token-env VAR | --token TOKEN] [--allow-insecure-auth] [--origin ORIGIN]\n"
    "       [--ca-file PEM [--ca-add]] [--client-cert PEM --client-key PEM] [--insecure]\n";

/* Set one key; on failure print why and return 0. The value is not printed (it may be a
 * password); the library's message never contains it either. */
static int set_key(pwa_config *cfg, const char *key, const char *value) {
    pwa_status st = pwa_config_set(cfg, key, value);
    if (st != PWA_OK) {
        print_last_error("config", st);
        return 0;
    }
    return 1;
}

/* An option that maps to a configuration key, with the value from the next argument (or,
 * for the *-env options, from the environment variable it names). */
struct option_key {
    const char *option;
    const char *key;
    const char *fixed_value; /* for flags: the value to set; NULL: take the next argument */
    int from_env;
};

static const struct option_key option_keys[] = {
    {"--user", "username", NULL, 0},
    {"--password", "password", NULL, 0},
    {"--password-env", "password", NULL, 1},
    {"--token", "bearer_token", NULL, 0},
    {"--token-env", "bearer_token", NULL, 1},
    {"--allow-insecure-auth", "allow_insecure_auth", "true", 0},
    {"--origin", "origin", NULL, 0},
    {"--ca-file", "tls_ca_file", NULL, 0},
    {"--ca-add", "tls_ca_file_mode", "add", 0},
    {"--client-cert", "tls_client_cert", NULL, 0},
    {"--client-key", "tls_client_key", NULL, 0},
    {"--insecure", "tls_insecure_skip_verify", "true", 0},
};

int main(int argc, char **argv) {
    const char *url = NULL;
    long limit = -1;
    int ok = 1;
    int have_user = 0, have_token = 0;
    pwa_config *cfg = pwa_config_new();
    if (!cfg) return 1;

    for (int i = 1; ok && i < argc; i++) {
        const struct option_key *opt = NULL;
        for (size_t k = 0; k < sizeof option_keys / sizeof option_keys[0]; k++) {
            if (strcmp(argv[i], option_keys[k].option) == 0) opt = &option_keys[k];
        }
        if (opt) {
            const char *value = opt->fixed_value;
            if (!value) {
                if (i + 1 >= argc) {
                    fprintf(stderr, "%s needs a value\n", opt->option);
                    ok = 0;
                    break;
                }
                value = argv[++i];
                if (opt->from_env) {
                    const char *name = value;
                    value = getenv(name);
                    if (!value) {
                        fprintf(stderr, "%s: the environment variable %s is not set\n", opt->option, name);
                        ok = 0;
                        break;
                    }
                }
            }
            if (strcmp(opt->key, "username") == 0) have_user = 1;
            if (strcmp(opt->key, "bearer_token") == 0) have_token = 1;
            ok = set_key(cfg, opt->key, value);
        } else if (strcmp(argv[i], "-n") == 0 && i + 1 < argc) {
            limit = strtol(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
            char *kv = argv[++i];
            char *eq = strchr(kv, '=');
            if (!eq) {
                fprintf(stderr, "-c expects key=value, got '%s'\n", kv);
                ok = 0;
                break;
            }
            *eq = '\0';
            ok = set_key(cfg, kv, eq + 1);
        } else if (!url && argv[i][0] != '-') {
            url = argv[i];
        } else {
            fprintf(stderr, usage, argv[0]);
            ok = 0;
        }
    }
    /* --user means Basic, --token means Bearer. */
    if (ok && have_user && have_token) {
        fprintf(stderr, "--user and --token exclude each other\n");
        ok = 0;
    }
    if (ok && have_user) ok = set_key(cfg, "auth", "basic");
    if (ok && have_token) ok = set_key(cfg, "auth", "bearer");
    if (ok && !url) {
        fprintf(stderr, usage, argv[0]);
        ok = 0;
    }
    if (!ok) {
        pwa_config_free(cfg); /* wipes the password or token it holds */
        return 1;
    }

    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);

    printf("piwebasync %s, opening %s\n", pwa_version(), url);
    pwa_channel_t ch = 0;
    pwa_status st = pwa_channel_open(url, cfg, NULL, &ch);
    pwa_config_free(cfg); /* the channel copied what it needs */
    if (st != PWA_OK) {
        print_last_error("open", st);
        return 1;
    }

    long count = 0;
    int rc = 0;
    while (!stop_requested && (limit < 0 || count < limit)) {
        pwa_message *msg = NULL;
        st = pwa_channel_poll_next(ch, 200, &msg); /* short timeout: notice Ctrl-C */
        if (st == PWA_TIMEOUT) continue;
        if (st != PWA_OK) {
            char why[512];
            pwa_channel_last_error(ch, why, sizeof why, NULL);
            printf("channel ended: %s (%s)\n", pwa_status_name(st), why);
            rc = (st == PWA_CLOSED) ? 0 : 1;
            break;
        }
        printf("#%ld ", ++count);
        summarize(msg);
        pwa_message_free(msg);
    }

    pwa_stats stats;
    if (pwa_channel_stats(ch, &stats) == PWA_OK) {
        printf("received %llu messages, %llu bytes\n", (unsigned long long)stats.messages,
               (unsigned long long)stats.bytes);
    }
    pwa_channel_close(ch);
    pwa_channel_free(ch);
    pwa_shutdown(5000);
    return rc;
}
