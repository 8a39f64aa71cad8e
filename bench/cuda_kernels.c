/*
 * cuda_kernels.c — the decode matvec (nib_cuda_matvec) against the GPU's
 * copy bandwidth: for Q4_0, Q8_0, Q4_K, Q6_K and F16 weights of the 7B
 * shapes (rows x cols: 4096x4096, 11008x4096, 4096x11008, 32000x4096), the
 * microseconds per call, the GB/s of weight bytes read and their share of
 * nib_cuda_copy_bandwidth (read + write of a 256 MiB device copy). Weights
 * are random blocks with small fp16 scales, put in the GPU layout by
 * nib_cuda_weight_upload; the calls cycle through copies of the matrix
 * spanning at least 256 MiB, so each call reads from HBM, not from the L2
 * cache (50 MiB on an H100), as decode does. Each figure is the mean ± sd
 * of R repetitions of N back-to-back calls (wall clock, nib_cuda_sync at
 * the ends), after a warm-up. Built only with -DNIB_CUDA=ON.
 *
 *   bench_cuda_kernels [-n CALLS] [-r REPS]
 */
#include "cuda_backend.h"
#include "nib.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t next_u64(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Random GGUF blocks of type with finite, small scales (fp16 0.01 = 0x211F). */
static void fill(int type, uint8_t *w, size_t bytes) {
    for (size_t i = 0; i + 8 <= bytes; i += 8) {
        const uint64_t v = next_u64();
        memcpy(w + i, &v, 8);
    }
    int block = 0, off[2] = { -1, -1 };
    switch (type) {
    case NIB_TYPE_Q4_0: block = 18, off[0] = 0; break;
    case NIB_TYPE_Q8_0: block = 34, off[0] = 0; break;
    case NIB_TYPE_Q4_K: block = 144, off[0] = 0, off[1] = 2; break;
    case NIB_TYPE_Q6_K: block = 210, off[0] = 208; break;
    case NIB_TYPE_F16:
        for (size_t i = 0; i + 2 <= bytes; i += 2) w[i + 1] &= 0xBB; /* exponent below 15: finite, |v| < 1 */
        return;
    default: return;
    }
    const uint8_t d[2] = { 0x1F, 0x21 };
    for (size_t b = 0; b + (size_t)block <= bytes; b += (size_t)block)
        for (int k = 0; k < 2; k++)
            if (off[k] >= 0) memcpy(w + b + off[k], d, 2);
}

static int check(int rc, const struct nib_error *err, const char *what) {
    if (rc) fprintf(stderr, "bench_cuda_kernels: %s: %s\n", what, err->msg);
    return rc;
}

int main(int argc, char **argv) {
    int calls = 200, reps = 5;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-n") && i + 1 < argc) calls = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-r") && i + 1 < argc) reps = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: bench_cuda_kernels [-n CALLS] [-r REPS]\n");
            return 2;
        }
    }
    if (calls < 1 || reps < 1 || reps > 100) {
        fprintf(stderr, "bench_cuda_kernels: bad arguments\n");
        return 2;
    }
    struct nib_error err = { 0 };
    struct nib_cuda_device dev;
    if (nib_cuda_device_count() == 0) {
        fprintf(stderr, "bench_cuda_kernels: no CUDA device\n");
        return 1;
    }
    if (check(nib_cuda_use_device(0, &err), &err, "device") || check(nib_cuda_device_get(0, &dev, &err), &err, "device"))
        return 1;
    double copy_gbps = 0;
    if (check(nib_cuda_copy_bandwidth((size_t)256 << 20, &copy_gbps, &err), &err, "copy bandwidth")) return 1;
    printf("%s, %d SMs: copy %.0f GB/s (read + write); %d calls x %d reps, weights cycled over >= 256 MiB\n\n", dev.name,
           dev.sm_count, copy_gbps, calls, reps);
    printf("| type | rows x cols | us per call | GB/s of weights | %% of copy |\n|---|---|---|---|---|\n");

    const int types[] = { NIB_TYPE_Q4_0, NIB_TYPE_Q8_0, NIB_TYPE_Q4_K, NIB_TYPE_Q6_K, NIB_TYPE_F16 };
    const int64_t shapes[][2] = { { 4096, 4096 }, { 11008, 4096 }, { 4096, 11008 }, { 32000, 4096 } };
    const int64_t max_cols = 11008;
    float *x = nib_cuda_malloc(sizeof(float) * max_cols, &err), *y = nib_cuda_malloc(sizeof(float) * 32000, &err);
    float *hx = malloc(sizeof(float) * max_cols);
    if (!x || !y || !hx) return check(NIB_E_NOMEM, &err, "malloc"), 1;
    for (int64_t i = 0; i < max_cols; i++) hx[i] = (float)((int64_t)(next_u64() % 2001) - 1000) / 1000.0f;
    if (check(nib_cuda_upload(x, hx, sizeof(float) * max_cols, &err), &err, "upload")) return 1;
    void *scratch = nib_cuda_malloc(nib_cuda_matvec_scratch_bytes(max_cols), &err);

    int failed = 0;
    for (size_t t = 0; t < sizeof types / sizeof types[0] && !failed; t++) {
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0] && !failed; s++) {
            const int type = types[t];
            const int64_t rows = shapes[s][0], cols = shapes[s][1];
            const size_t raw = nib_type_row_bytes(type, cols) * (size_t)rows, bytes = nib_cuda_weight_bytes(type, rows, cols);
            size_t n_copies = ((size_t)256 << 20) / bytes + 1;
            if (n_copies > 64) n_copies = 64;
            uint8_t *host = malloc(raw);
            void *copies[64] = { 0 };
            if (!host) return check(NIB_E_NOMEM, &err, "malloc"), 1;
            fill(type, host, raw);
            for (size_t c = 0; c < n_copies && !failed; c++) {
                if (!(copies[c] = nib_cuda_malloc(bytes, &err))) failed = check(err.status, &err, "weights");
                else if (c == 0) failed = check(nib_cuda_weight_upload(type, rows, cols, host, copies[0], &err), &err, "upload");
                else failed = check(nib_cuda_copy(copies[c], copies[0], bytes, &err), &err, "copy");
            }
            free(host);
            double sum = 0, sum2 = 0;
            for (int i = 0; i < 20 && !failed; i++)
                failed = check(nib_cuda_matvec(type, copies[i % n_copies], rows, cols, x, y, scratch, &err), &err, "matvec");
            if (!failed) failed = check(nib_cuda_sync(&err), &err, "sync");
            for (int r = 0; r < reps && !failed; r++) {
                const double t0 = now_s();
                for (int i = 0; i < calls && !failed; i++)
                    failed = check(nib_cuda_matvec(type, copies[i % n_copies], rows, cols, x, y, scratch, &err), &err, "matvec");
                if (!failed) failed = check(nib_cuda_sync(&err), &err, "sync");
                const double us = (now_s() - t0) * 1e6 / calls;
                sum += us, sum2 += us * us;
            }
            for (size_t c = 0; c < n_copies; c++) nib_cuda_free(copies[c]);
            if (failed) break;
            const double mean = sum / reps, sd = sqrt(fmax(0.0, sum2 / reps - mean * mean)), gbps = (double)bytes / mean / 1e3;
            printf("| %s | %lld x %lld | %.2f ± %.2f | %.0f | %.1f |\n", nib_type_name(type), (long long)rows, (long long)cols,
                   mean, sd, gbps, 100.0 * gbps / copy_gbps);
            fflush(stdout);
        }
    }
    nib_cuda_free(scratch);
    nib_cuda_free(x);
    nib_cuda_free(y);
    free(hx);
    return failed ? 1 : 0;
}
