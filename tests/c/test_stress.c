/* Several threads open, poll, update, close and free channels at random, sharing handles,
 * for a bounded time: every call returns an expected status, nothing crashes or hangs (each
 * thread finishes), and under valgrind nothing leaks. */
#include <pthread.h>

#include "check.h"

#define THREADS 4
#define SLOTS 6
#define SECONDS 4

static pthread_mutex_t slots_lock = PTHREAD_MUTEX_INITIALIZER;
static pwa_channel_t slots[SLOTS];
static const char *urls[3];
static pthread_mutex_t check_lock = PTHREAD_MUTEX_INITIALIZER;
static long ops[5];

static int one_of(pwa_status st, const pwa_status *allowed, int n) {
    for (int i = 0; i < n; i++)
        if (st == allowed[i]) return 1;
    return 0;
}

#define EXPECT_ONE_OF(st, ...)                                                               \
    do {                                                                                     \
        const pwa_status allowed_[] = {__VA_ARGS__};                                         \
        if (!one_of((st), allowed_, (int)(sizeof allowed_ / sizeof allowed_[0]))) {          \
            pthread_mutex_lock(&check_lock);                                                 \
            CHECK_STATUS((st), allowed_[0]);                                                 \
            pthread_mutex_unlock(&check_lock);                                               \
        }                                                                                    \
    } while (0)

static pwa_channel_t take_slot(int i) {
    pthread_mutex_lock(&slots_lock);
    pwa_channel_t h = slots[i];
    pthread_mutex_unlock(&slots_lock);
    return h;
}

static void *worker(void *arg) {
    unsigned seed = (unsigned)(size_t)arg * 7919u + 17u;
    time_t end = time(NULL) + SECONDS;
    pwa_config *cfg = pwa_config_new();
    pwa_config_set(cfg, "max_queue", "8");
    pwa_config_set(cfg, "open_timeout", "20");
    pwa_config_set(cfg, "close_timeout", "2");
    while (time(NULL) < end) {
        int slot = rand_r(&seed) % SLOTS;
        int op = rand_r(&seed) % 5;
        pwa_channel_t h = take_slot(slot);
        switch (op) {
        case 0: { /* open into an empty slot */
            if (h != 0) break;
            pwa_channel_t nh = 0;
            pwa_status st = pwa_channel_open(urls[rand_r(&seed) % 3], cfg, NULL, &nh);
            EXPECT_ONE_OF(st, PWA_OK, PWA_ERR_OPEN_TIMEOUT);
            if (st != PWA_OK) break;
            pthread_mutex_lock(&slots_lock);
            int stored = slots[slot] == 0;
            if (stored) slots[slot] = nh;
            pthread_mutex_unlock(&slots_lock);
            if (!stored) EXPECT_ONE_OF(pwa_channel_free(nh), PWA_OK);
            break;
        }
        case 1: { /* poll a few */
            for (int k = 0; k < 5; k++) {
                pwa_message *m = NULL;
                pwa_status st = pwa_channel_poll_next(h, 20, &m);
                EXPECT_ONE_OF(st, PWA_OK, PWA_TIMEOUT, PWA_CLOSED, PWA_CLOSED_ERROR, PWA_UPDATE_FAILED,
                              PWA_ERR_INVALID_HANDLE, PWA_ERR_BUSY);
                if (st == PWA_OK) {
                    CHECK(pwa_message_json(m, NULL) != NULL);
                    pwa_message_free(m);
                }
            }
            break;
        }
        case 2: { /* update: a live endpoint, or a dead one with or without rollback */
            int pick = rand_r(&seed) % 4;
            const char *to = pick < 3 ? urls[pick] : "ws://127.0.0.1:1/piwebapi/streams/x/channel";
            pwa_status st = pwa_channel_update(h, to, rand_r(&seed) % 2);
            EXPECT_ONE_OF(st, PWA_OK, PWA_ROLLED_BACK, PWA_UPDATE_FAILED, PWA_CLOSED, PWA_CLOSED_ERROR,
                          PWA_ERR_BUSY, PWA_ERR_INVALID_HANDLE);
            break;
        }
        case 3:
            EXPECT_ONE_OF(pwa_channel_close(h), PWA_OK, PWA_ERR_INVALID_HANDLE);
            break;
        case 4: { /* free: sometimes a handle another thread is using right now */
            pthread_mutex_lock(&slots_lock);
            if (slots[slot] == h) slots[slot] = 0;
            pthread_mutex_unlock(&slots_lock);
            EXPECT_ONE_OF(pwa_channel_free(h), PWA_OK, PWA_ERR_INVALID_HANDLE);
            break;
        }
        }
        pthread_mutex_lock(&check_lock);
        ops[op]++;
        pthread_mutex_unlock(&check_lock);
    }
    pwa_config_free(cfg);
    return NULL;
}

int main(void) {
    urls[0] = env_url("SIM_STREAM");
    urls[1] = env_url("SIM_STREAMSET");
    urls[2] = env_url("SIM_ADHOC");
    pthread_t threads[THREADS];
    for (intptr_t i = 0; i < THREADS; i++) pthread_create(&threads[i], NULL, worker, (void *)i);
    for (int i = 0; i < THREADS; i++) pthread_join(threads[i], NULL); /* a deadlock fails by timeout */
    for (int i = 0; i < SLOTS; i++)
        if (slots[i]) EXPECT_ONE_OF(pwa_channel_free(slots[i]), PWA_OK);
    printf("ops: open %ld, poll %ld, update %ld, close %ld, free %ld\n", ops[0], ops[1], ops[2], ops[3], ops[4]);
    CHECK(ops[0] > 0 && ops[1] > 0 && ops[2] > 0 && ops[4] > 0);
    CHECK_STATUS(pwa_shutdown(10000), PWA_OK);
    return finish("test_stress");
}
