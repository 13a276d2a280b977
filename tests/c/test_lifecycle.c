/* Process lifecycle: a call in a forked child fails at once; a process may exit without
 * pwa_shutdown (run many times); shutdown with open channels delivers their closed events,
 * lets buffered messages drain, and refuses later opens. */
#include "check.h"

#ifdef _WIN32 /* no fork on Windows: the child processes are started with _spawnl */
#include <process.h>
#else
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#endif

/* Child mode: configure the runtime, open, take a few messages, return from main with the
 * channel open. */
static int exit_early(const char *url) {
    if (pwa_runtime_configure(0) != PWA_ERR_INVALID_ARGUMENT) return 5;
    if (pwa_runtime_configure(1) != PWA_OK) return 6; /* before the first open: accepted */
    pwa_channel_t h = 0;
    if (pwa_channel_open(url, NULL, NULL, &h) != PWA_OK) return 3;
    if (pwa_runtime_configure(2) != PWA_ERR_INVALID_ARGUMENT) return 7; /* too late now */
    for (int i = 0; i < 3; i++) {
        pwa_message *m = NULL;
        if (pwa_channel_poll_next(h, 10000, &m) != PWA_OK) return 4;
        pwa_message_free(m);
    }
    return 0; /* no free, no shutdown */
}

#ifndef _WIN32 /* fork handling is Unix-only, as is fork */
static void forked_child_fails_fast(void) {
    pwa_channel_t h = 0;
    CHECK_STATUS(pwa_channel_open(env_url("SIM_STREAM"), NULL, NULL, &h), PWA_OK);
    pid_t pid = fork();
    if (pid == 0) {
        alarm(10); /* a hang kills the child: the parent sees a signal */
        pwa_channel_t h2 = 0;
        int ok = pwa_channel_open(env_url("SIM_STREAM"), NULL, NULL, &h2) == PWA_ERR_SHUTDOWN;
        pwa_message *m = NULL;
        ok = ok && pwa_channel_poll_next(h, 1000, &m) == PWA_ERR_SHUTDOWN;
        ok = ok && pwa_channel_close(h) == PWA_ERR_SHUTDOWN;
        ok = ok && pwa_channel_free(h) == PWA_ERR_SHUTDOWN;
        ok = ok && last_error_contains("fork");
        _exit(ok ? 0 : 1);
    }
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* The parent is unaffected. */
    pwa_message *m = NULL;
    CHECK_STATUS(pwa_channel_poll_next(h, 10000, &m), PWA_OK);
    pwa_message_free(m);
    CHECK_STATUS(pwa_channel_free(h), PWA_OK);
}

#endif

static void exit_without_shutdown(const char *self) {
    for (int i = 0; i < 20; i++) {
#ifdef _WIN32
        /* A hang is caught by the runner's timeout. */
        intptr_t code = _spawnl(_P_WAIT, self, self, "--exit-early", env_url("SIM_STREAM"), (char *)NULL);
        CHECK(code == 0);
        if (code != 0) fprintf(stderr, "child %d exited with %ld\n", i, (long)code);
#else
        pid_t pid = fork();
        if (pid == 0) {
            alarm(30);
            execl(self, self, "--exit-early", env_url("SIM_STREAM"), (char *)NULL);
            _exit(2);
        }
        int status = 0;
        CHECK(waitpid(pid, &status, 0) == pid);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        if (!WIFEXITED(status)) fprintf(stderr, "child %d ended by signal %d\n", i, WTERMSIG(status));
        else if (WEXITSTATUS(status) != 0) fprintf(stderr, "child %d exited with %d\n", i, WEXITSTATUS(status));
#endif
    }
}

static int closed_events;
static pwa_status closed_status;
static void on_state(void *user, pwa_channel_t ch, const pwa_state_event *ev) {
    (void)user; (void)ch;
    if (ev->kind == PWA_EVENT_CLOSED) {
        closed_events++;
        closed_status = ev->status;
    }
}

static void shutdown_with_open_channels(void) {
    pwa_channel_t polled = 0, evented = 0;
    CHECK_STATUS(pwa_channel_open(env_url("SIM_ADHOC"), NULL, NULL, &polled), PWA_OK);
    pwa_callbacks cbs = {NULL, on_state, NULL};
    CHECK_STATUS(pwa_channel_open(env_url("SIM_STREAM"), NULL, &cbs, &evented), PWA_OK);
    pwa_stats st;
    for (int i = 0; i < 400; i++) {
        pwa_channel_stats(polled, &st);
        if (st.messages >= 3) break;
        sleep_ms(25);
    }
    CHECK_STATUS(pwa_shutdown(10000), PWA_OK);
    CHECK(closed_events == 1);
    CHECK_STATUS(closed_status, PWA_CLOSED);
    long drained = 0;
    pwa_message *m = NULL;
    pwa_status s;
    while ((s = pwa_channel_poll_next(polled, 1000, &m)) == PWA_OK) {
        pwa_message_free(m);
        drained++;
    }
    CHECK(drained >= 3);
    CHECK_STATUS(s, PWA_CLOSED);
    pwa_channel_t h = 0;
    CHECK_STATUS(pwa_channel_open(env_url("SIM_STREAM"), NULL, NULL, &h), PWA_ERR_SHUTDOWN);
    CHECK_STATUS(pwa_channel_free(polled), PWA_OK);
    CHECK_STATUS(pwa_channel_free(evented), PWA_OK);
    CHECK(closed_events == 1);
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "--exit-early") == 0) return exit_early(argv[2]);
#ifndef _WIN32
    forked_child_fails_fast();
#endif
    exit_without_shutdown(argv[0]);
    shutdown_with_open_channels();
    return finish("test_lifecycle");
}
