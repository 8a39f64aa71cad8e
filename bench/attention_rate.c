/*
 * attention_rate.c — the prompt attention tile alone (nib_op_attention_tile,
 * batch order, fp16 K/V): one K/V head over a causal prompt of N tokens
 * (default 512), the query heads of a GQA group (default 8) for TOKENS
 * consecutive tokens a tile (default 4: TinyLlama's tiles of 32 heads), as
 * engine/forward.c calls it. Prints the best of R runs as ms per K/V head
 * and GMAC/s (Q.K and P.V multiply-adds). NIB_CPU picks the variant.
 *   build/bench_attention [-n 512] [-d 64] [-g 8] [-r 5]
 */
#include "attention_ref.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    int n = 512, hd = 64, group = 8, reps = 5;
    for (int i = 1; i + 1 < argc; i += 2) {
        const int v = atoi(argv[i + 1]);
        if (!strcmp(argv[i], "-n")) n = v;
        else if (!strcmp(argv[i], "-d")) hd = v;
        else if (!strcmp(argv[i], "-g")) group = v;
        else if (!strcmp(argv[i], "-r")) reps = v;
        else break;
    }
    if (n < 1 || hd < 1 || hd > 1024 || group < 1 || group > NIB_ATTN_TILE_MAX || reps < 1) {
        fprintf(stderr, "usage: bench_attention [-n TOKENS] [-d HEAD_DIM <= 1024] [-g GROUP <= %d] [-r REPS]\n", NIB_ATTN_TILE_MAX);
        return 2;
    }
    const int tokens = NIB_ATTN_TILE_MAX / group;
    uint16_t *k = malloc(sizeof(uint16_t) * (size_t)n * (size_t)hd), *v = malloc(sizeof(uint16_t) * (size_t)n * (size_t)hd);
    int32_t *slot = malloc(sizeof(int32_t) * (size_t)n);
    float *q = malloc(sizeof(float) * (size_t)hd * NIB_ATTN_TILE_MAX), *out = malloc(sizeof(float) * (size_t)hd * NIB_ATTN_TILE_MAX);
    float *scratch = malloc(sizeof(float) * nib_attention_tile_scratch(n, hd));
    if (!k || !v || !slot || !q || !out || !scratch) {
        fprintf(stderr, "bench_attention: out of memory\n");
        return 1;
    }
    srand(1);
    for (size_t i = 0; i < (size_t)n * (size_t)hd; i++) { /* fp16 values in [1, 2) and [0.5, 1) */
        k[i] = (uint16_t)(0x3c00 | (rand() & 0x3ff));
        v[i] = (uint16_t)(0x3800 | (rand() & 0x3ff));
    }
    for (int i = 0; i < n; i++) slot[i] = i;
    for (int i = 0; i < hd * NIB_ATTN_TILE_MAX; i++) q[i] = (float)(rand() % 1000) / 1000.0f;
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        const double t0 = now();
        for (int t0k = 0; t0k < n; t0k += tokens) {
            struct nib_attn_tile t;
            memset(&t, 0, sizeof t);
            t.order = NIB_ATTN_BATCH;
            for (int tt = t0k; tt < t0k + tokens && tt < n; tt++)
                for (int h = 0; h < group; h++) {
                    t.q[t.n_q] = q + (size_t)t.n_q * (size_t)hd;
                    t.out[t.n_q] = out + (size_t)t.n_q * (size_t)hd;
                    t.n_kv[t.n_q++] = tt + 1;
                }
            nib_op_attention_tile(&t, hd, k, v, (size_t)hd, 0, slot, 0.125f, scratch);
        }
        const double d = now() - t0;
        best = d < best ? d : best;
    }
    double macs = 0;
    for (int i = 1; i <= n; i++) macs += 2.0 * i * hd * group;
    printf("attention tile: %d tokens, head_dim %d, %d query heads per K/V head: %.3f ms per K/V head, %.1f GMAC/s\n", n, hd,
           group, best * 1e3, macs / best / 1e9);
    free(k), free(v), free(slot), free(q), free(out), free(scratch);
    return 0;
}
