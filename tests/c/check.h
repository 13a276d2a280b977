/* Minimal test support for the C tests: checks that count, simulator URLs from the
 * environment, and the simulator's control endpoint. */
#ifndef PWA_TEST_CHECK_H
#define PWA_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _WIN32 /* cross-compiled with mingw-w64 and run under Wine (scripts/test-windows.sh) */
#include <winsock2.h>
#include <windows.h>
#else
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#endif

#include "piwebasync.h"

/* Per test program. Checks also run on callback and worker threads, so the counters are
 * updated atomically (a lost increment of checks_failed would hide a failure; ThreadSanitizer
 * reported the plain ++ as a data race). */
static int checks_failed = 0;
static int checks_run = 0;
#define COUNT_CHECK_(counter) ((void)__atomic_add_fetch(&(counter), 1, __ATOMIC_RELAXED))

#define CHECK(cond)                                                                    \
    do {                                                                               \
        COUNT_CHECK_(checks_run);                                                      \
        if (!(cond)) {                                                                 \
            COUNT_CHECK_(checks_failed);                                               \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);   \
        }                                                                              \
    } while (0)

#define CHECK_STATUS(expr, expected)                                                   \
    do {                                                                               \
        pwa_status got_ = (expr);                                                      \
        COUNT_CHECK_(checks_run);                                                      \
        if (got_ != (expected)) {                                                      \
            char err_[512];                                                            \
            pwa_last_error(err_, sizeof err_, NULL);                                   \
            COUNT_CHECK_(checks_failed);                                               \
            fprintf(stderr, "%s:%d: %s returned %s, expected %s (last error: %s)\n",   \
                    __FILE__, __LINE__, #expr, pwa_status_name(got_),                  \
                    pwa_status_name(expected), err_);                                  \
        }                                                                              \
    } while (0)

static inline int finish(const char *name) {
    int run = __atomic_load_n(&checks_run, __ATOMIC_RELAXED);
    int failed = __atomic_load_n(&checks_failed, __ATOMIC_RELAXED);
    printf("%s: %d checks, %d failed\n", name, run, failed);
    return failed == 0 ? 0 : 1;
}

/* A simulator URL exported by scripts/run-c-tests.sh, e.g. env_url("SIM_STREAM"). */
static inline const char *env_url(const char *name) {
    const char *v = getenv(name);
    if (!v || !*v) {
        fprintf(stderr, "environment variable %s is not set: run through scripts/run-c-tests.sh\n", name);
        exit(2);
    }
    return v;
}

/* Contains `needle`? */
static inline int last_error_contains(const char *needle) {
    char buf[1024];
    pwa_last_error(buf, sizeof buf, NULL);
    return strstr(buf, needle) != NULL;
}

static inline int channel_error_contains(pwa_channel_t h, const char *needle) {
    char buf[1024];
    pwa_channel_last_error(h, buf, sizeof buf, NULL);
    return strstr(buf, needle) != NULL;
}

/* GET http://127.0.0.1:PORT/_sim/<command> on the simulator whose base URL is `base`
 * (ws://127.0.0.1:PORT/...). Returns 0 when it answered 200. */
static inline int sim_control(const char *base, const char *command) {
    const char *p = strstr(base, "://");
    if (!p) return -1;
    p = strchr(p + 3, ':');
    if (!p) return -1;
    int port = atoi(p + 1);
#ifdef _WIN32
    static int wsa_started = 0;
    if (!wsa_started) {
        WSADATA wsa;
        if (WSAStartup(MAKEWORD(2, 2), &wsa) != 0) return -1;
        wsa_started = 1;
    }
    SOCKET fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd == INVALID_SOCKET) return -1;
#define close closesocket
#define write(fd, buf, len) send(fd, buf, (int)(len), 0)
#define read(fd, buf, len) recv(fd, buf, (int)(len), 0)
#else
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
#endif
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((unsigned short)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        close(fd);
        return -1;
    }
    char req[512];
    int n = snprintf(req, sizeof req, "GET /_sim/%s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", command);
    if (write(fd, req, (size_t)n) != n) {
        close(fd);
        return -1;
    }
    char resp[256] = {0};
    long got = (long)read(fd, resp, sizeof resp - 1);
    close(fd);
#ifdef _WIN32
#undef close
#undef write
#undef read
#endif
    return (got > 12 && strncmp(resp + 9, "200", 3) == 0) ? 0 : -1;
}

static inline void sleep_ms(long ms) {
#ifdef _WIN32
    Sleep((DWORD)ms);
#else
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
#endif
}

#endif
