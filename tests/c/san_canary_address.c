/* Canary of scripts/sanitize.sh address: leaks configurations made by the library. Under
 * LeakSanitizer this must be reported (exit 86): proof that the sanitizer sees the library's
 * own allocations. Not a test of the library; never run outside that script. */
#include <stdio.h>

#include "piwebasync.h"

int main(void) {
    /* Eight configurations, each pointer overwritten by the next: at least seven are lost for
     * sure (LeakSanitizer scans stacks and registers conservatively, so a stale copy of the
     * last pointer may keep that one looking reachable). */
    pwa_config *cfg = NULL;
    for (int i = 0; i < 8; i++) {
        cfg = pwa_config_new();
        if (cfg == NULL) {
            fprintf(stderr, "pwa_config_new returned NULL\n");
            return 2;
        }
    }
    printf("leaked pwa_configs on purpose\n");
    return 0;
}
