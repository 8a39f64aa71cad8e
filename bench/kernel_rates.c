/*
 * kernel_rates.c — the CPU matmul kernels alone: GMAC/s of nib_op_matmul for
 * each weight type on one n_out x n_in matrix against T activation rows, in
 * the kernel variant NIB_CPU picks (best of R runs), with the packed copy
 * where the model loader would make one. Built and run by bench/kernels.sh.
 *
 *   kernel_rates [-n N_IN] [-o N_OUT] [-T TOKENS] [-t THREADS] [-r RUNS] [-y TYPE]
 *
 * -y: that weight type only (its name as `nib inspect` prints it, e.g. q4_K).
 */
#include "dispatch.h"
#include "ops_ref.h"
#include "repack.h"
#include "type_traits.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <strings.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static float uniform(void) { /* xorshift64*, in [-0.5, 0.5) */
    rng ^= rng >> 12, rng ^= rng << 25, rng ^= rng >> 27;
    return (float)((rng * 2685821657736338717ull) >> 40) / (float)(1 << 24) - 0.5f;
}

int main(int argc, char **argv) {
    int64_t n = 2048, n_out = 2048;
    int T = 64, threads = 1, runs = 10;
    const char *only = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "-n")) n = atoll(argv[i + 1]);
        else if (!strcmp(argv[i], "-o")) n_out = atoll(argv[i + 1]);
        else if (!strcmp(argv[i], "-T")) T = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-t")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-r")) runs = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-y")) only = argv[i + 1];
        else {
            fprintf(stderr, "usage: kernel_rates [-n N_IN] [-o N_OUT] [-T TOKENS] [-t THREADS] [-r RUNS] [-y TYPE]\n");
            return 2;
        }
    }
    if (n <= 0 || n % 256 || n_out <= 0 || n_out % 8 || T <= 0 || threads <= 0 || runs <= 0) {
        fprintf(stderr, "kernel_rates: N_IN must be a positive multiple of 256, N_OUT of 8; the rest positive\n");
        return 2;
    }
    const int types[] = { NIB_TYPE_Q4_0, NIB_TYPE_Q4_1, NIB_TYPE_Q5_0, NIB_TYPE_Q5_1, NIB_TYPE_Q8_0, NIB_TYPE_Q2_K,
                          NIB_TYPE_Q3_K, NIB_TYPE_Q4_K, NIB_TYPE_Q5_K, NIB_TYPE_Q6_K, NIB_TYPE_F16 };
    printf("| type | variant | rows x cols | tokens | threads | GMAC/s | ms |\n| --- | --- | ---: | ---: | ---: | ---: | ---: |\n");
    float *wf = malloc(sizeof(float) * (size_t)n), *y = malloc(sizeof(float) * (size_t)(n_out * T));
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
        const int ty = types[ti];
        const struct nib_type_traits *tt = nib_type_traits(ty);
        if (only && strcasecmp(only, tt->name)) continue;
        const int pt = tt->vec_dot_type;
        const size_t wrow = nib_type_row_bytes(ty, n), xrow = nib_type_row_bytes(pt, n);
        unsigned char *w = malloc(wrow * (size_t)n_out), *xq = malloc(xrow * (size_t)T);
        for (int64_t o = 0; o < n_out; o++) {
            for (int64_t i = 0; i < n; i++) wf[i] = uniform();
            tt->from_float(wf, w + (size_t)o * wrow, n);
        }
        for (int t = 0; t < T; t++) {
            for (int64_t i = 0; i < n; i++) wf[i] = uniform();
            nib_cpu_kernels()->quantize_act[pt](wf, xq + (size_t)t * xrow, n);
        }
        void *packed = NULL;
        const size_t ps = nib_repack_size(ty, n, n_out);
        /* on huge pages where the system gives them, as the model loader's copy (engine/model_pack.c) */
        if (ps && nib_op_packs(ty, n_out) && !posix_memalign(&packed, 2u << 20, ps)) {
            madvise(packed, ps, MADV_HUGEPAGE);
            nib_repack_groups(ty, w, wrow, n, 0, n_out / 8, nib_op_packed_paired(ty, n_out), packed);
        }
        double best = 1e30;
        for (int r = 0; r < runs; r++) {
            const double t0 = now();
            nib_op_matmul(ty, w, wrow, packed, n, n_out, xq, xrow, T, y, 0, threads);
            const double dt = now() - t0;
            best = dt < best ? dt : best;
        }
        printf("| %s | %s | %lld x %lld | %d | %d | %.1f | %.3f |\n", tt->name, nib_cpu_kernels()->name, (long long)n_out,
               (long long)n, T, threads, (double)n * (double)n_out * T / best / 1e9, best * 1e3);
        free(w), free(xq), free(packed);
    }
    free(wf), free(y);
    return 0;
}
