/*
 * consumer.c: an out-of-tree user of the *installed* piwebasync (scripts/test-install.sh builds
 * it with CMake's find_package and with pkg-config, shared and static, and runs it against the
 * simulator). Written in C89 and compiled with -std=c89 -pedantic -Werror, so it also proves the
 * installed header is C89-clean.
 *
 *   consumer URL COUNT   streams COUNT messages from URL; exit 0 on success
 *
 * It defines its own mi_malloc and mi_free, as a host that embeds mimalloc would: linking it
 * statically fails with "multiple definition of `mi_malloc'" if the static library exports
 * mimalloc's symbols, and the check at the end fails if the library called the host's ones.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "piwebasync.h"

static unsigned long host_mi_calls = 0;

void *mi_malloc(size_t size);
void mi_free(void *p);

void *mi_malloc(size_t size) {
    host_mi_calls++;
    return malloc(size);
}

void mi_free(void *p) {
    free(p);
}

static int fail(const char *what, pwa_status st) {
    char buf[512];
    buf[0] = '\0';
    pwa_last_error(buf, sizeof buf, NULL);
    fprintf(stderr, "consumer: %s: %s: %s\n", what, pwa_status_name(st), buf);
    return 1;
}

int main(int argc, char **argv) {
    char header_version[64];
    pwa_channel_t ch = 0;
    pwa_config *cfg;
    pwa_status st;
    long want, got = 0, values = 0;
    void *own;

    if (argc != 3 || (want = atol(argv[2])) <= 0) {
        fprintf(stderr, "usage: %s URL COUNT\n", argv[0]);
        return 2;
    }
    /* The header this was compiled with and the library it loaded must be the same version. */
    sprintf(header_version, "%d.%d.%d", PWA_VERSION_MAJOR, PWA_VERSION_MINOR, PWA_VERSION_PATCH);
    if (strcmp(header_version, pwa_version()) != 0) {
        fprintf(stderr, "consumer: header %s, library %s\n", header_version, pwa_version());
        return 1;
    }
    own = mi_malloc(16); /* the host's own allocator works beside the library's */
    mi_free(own);

    cfg = pwa_config_new();
    if (!cfg) return fail("pwa_config_new", PWA_ERR_PANIC);
    st = pwa_config_set(cfg, "open_timeout", "10");
    if (st != PWA_OK) return fail("pwa_config_set", st);
    st = pwa_channel_open(argv[1], cfg, NULL, &ch);
    pwa_config_free(cfg);
    if (st != PWA_OK) return fail("pwa_channel_open", st);
    while (got < want) {
        pwa_message *msg = NULL;
        size_t n = 0;
        st = pwa_channel_poll_next(ch, 10000, &msg);
        if (st != PWA_OK) return fail("pwa_channel_poll_next", st);
        pwa_message_value_count(msg, &n);
        values += (long)n;
        pwa_message_free(msg);
        got++;
    }
    pwa_channel_free(ch);
    pwa_shutdown(5000);
    if (values == 0) {
        fprintf(stderr, "consumer: %ld messages but no value in any of them\n", got);
        return 1;
    }
    if (host_mi_calls != 1) {
        fprintf(stderr, "consumer: the host's mi_malloc was called %lu times (expected once, by "
                        "the host): the library resolved its allocator to the host's\n",
                host_mi_calls);
        return 1;
    }
    printf("consumer: piwebasync %s, %ld messages, %ld values\n", pwa_version(), got, values);
    return 0;
}
