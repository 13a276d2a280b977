/*
 * bench_parse.c — typed parsing through the C ABI, without a network.
 *
 *   bench_parse FILE SECONDS
 *
 * FILE holds one channel message (captured from the simulator). For about SECONDS:
 * pwa_message_from_json, pwa_message_value_count, pwa_message_value for every value (reading
 * timestamp_ns and number), pwa_message_free. Prints messages/s and values/s as JSON.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "piwebasync.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s FILE SECONDS\n", argv[0]);
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    if (!f) return 1;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = malloc((size_t)len + 1);
    if (!text || fread(text, 1, (size_t)len, f) != (size_t)len) return 1;
    fclose(f);
    double secs = atof(argv[2]);
    long msgs = 0;
    unsigned long long values = 0;
    double sum = 0;
    int bad = 0;
    double t0 = now_s(), t1 = t0;
    while (t1 - t0 < secs) {
        for (int i = 0; i < 16; i++) {
            pwa_message *m = NULL;
            if (pwa_message_from_json(text, (size_t)len, &m) != PWA_OK) return 1;
            size_t n = 0;
            pwa_message_value_count(m, &n);
            pwa_value v;
            for (size_t k = 0; k < n; k++) {
                if (pwa_message_value(m, k, &v) != PWA_OK || !v.timestamp_valid) bad++;
                sum += (double)(v.timestamp_ns & 0xff) + (v.kind == PWA_VALUE_DOUBLE ? v.number : 0.0);
            }
            values += n;
            msgs++;
            pwa_message_free(m);
        }
        t1 = now_s();
    }
    double el = t1 - t0;
    printf("{\"kind\":\"c_parse\",\"bytes\":%ld,\"values_per_msg\":%llu,\"msg_per_s\":%.1f,\"values_per_s\":%.1f,\"bad\":%d,\"checksum\":%.1f}\n",
           len, msgs ? values / (unsigned long long)msgs : 0, msgs / el, values / el, bad, sum);
    free(text);
    return bad ? 1 : 0;
}
