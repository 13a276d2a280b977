/* A host that exits with channels open and without pwa_shutdown: two polled channels and one
 * with callbacks stream from the simulator, then main returns (ExitProcess runs with the
 * library's threads alive and its DLL loaded). scripts/test-windows.sh fails it unless it exits
 * 0 within 5 s.
 * usage: host_exit_open STREAM_URL ADHOC_URL */
#include <windows.h>
#include <stdio.h>

#include "piwebasync.h"

static volatile LONG callback_messages = 0;
static void on_message(void *user, pwa_channel_t ch, const pwa_message *m) {
    (void)user; (void)ch; (void)m;
    InterlockedIncrement(&callback_messages);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s STREAM_URL ADHOC_URL\n", argv[0]);
        return 2;
    }
    pwa_channel_t a = 0, b = 0, c = 0;
    pwa_callbacks cbs = {NULL, NULL, NULL};
    cbs.on_message = on_message;
    pwa_status s;
    if ((s = pwa_channel_open(argv[1], NULL, NULL, &a)) != PWA_OK ||
        (s = pwa_channel_open(argv[2], NULL, NULL, &b)) != PWA_OK ||
        (s = pwa_channel_open(argv[1], NULL, &cbs, &c)) != PWA_OK) {
        fprintf(stderr, "pwa_channel_open: %s\n", pwa_status_name(s));
        return 1;
    }
    for (int i = 0; i < 3; i++) {
        pwa_message *m = NULL;
        if ((s = pwa_channel_poll_next(a, 10000, &m)) != PWA_OK ||
            (pwa_message_free(m), s = pwa_channel_poll_next(b, 10000, &m)) != PWA_OK) {
            fprintf(stderr, "pwa_channel_poll_next: %s\n", pwa_status_name(s));
            return 1;
        }
        pwa_message_free(m);
    }
    for (int i = 0; i < 500 && callback_messages == 0; i++) Sleep(10);
    if (callback_messages == 0) {
        fprintf(stderr, "no message by callback within 5 s\n");
        return 1;
    }
    printf("3 channels streaming; exiting without closing them\n");
    fflush(stdout);
    return 0;
}
