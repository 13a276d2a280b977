/* Canary of scripts/sanitize.sh thread: two threads write one variable without
 * synchronisation. ThreadSanitizer must report the race (exit 66): proof that the runtime is
 * active and that tests/c/tsan.supp does not suppress everything. It also calls the library
 * (pwa_version), so the instrumented build is loaded. Never run outside that script. */
#include <pthread.h>
#include <stdio.h>

#include "piwebasync.h"

static int shared_counter;

static void *bump(void *arg) {
    (void)arg;
    for (int i = 0; i < 1000; i++) {
        shared_counter++; /* the race, on purpose */
    }
    return NULL;
}

int main(void) {
    pthread_t a, b;
    pthread_create(&a, NULL, bump, NULL);
    pthread_create(&b, NULL, bump, NULL);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    printf("library %s, counter %d\n", pwa_version(), shared_counter);
    return 0;
}
