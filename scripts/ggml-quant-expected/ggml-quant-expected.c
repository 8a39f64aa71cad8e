/*
 * ggml-quant-expected — prints the expected digests of tests/quant_imatrix_expected.h:
 * ggml's own quantizers (ggml_quantize_chunk from the prebuilt libggml-base
 * of ../shared/ref, i.e. quantize_<type>(src, dst, nrow, n_per_row, imatrix))
 * on the inputs and importance weights that tests/test_quant_imatrix.cc makes.
 * A developer tool: never built by CMake, never used by the tests.
 *   build.sh REF_DIR && build/ggml-quant-expected > tests/quant_imatrix_expected.h
 * make_input / make_weights / the seeds are C copies of the test's; keep them
 * in step.
 */
#include "ggml.h"

#include <math.h>
#include <openssl/sha.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_next(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static float rng_uniform(uint64_t *s) {
    return (float)((int64_t)(rng_next(s) >> 40) - (1 << 23)) / (float)(1 << 23);
}

/* test_quant.cc's make_input, kinds 0..7 */
static void make_input(int kind, uint64_t seed, float *x, int64_t n) {
    uint64_t s = seed;
    for (int64_t i = 0; i < n; i++) {
        const float u = rng_uniform(&s);
        float v;
        switch (kind) {
        case 0: v = u; break;
        case 1: v = u * 30000.0f; break;
        case 2: v = 0.0f; break;
        case 3: v = (i % 29 == 3) ? 100.0f : u * 0.015625f; break;
        case 4: v = ((i / 64) % 2 == 0) ? u * 1e-6f : u * 1e-20f; break;
        case 5: v = (i % 32 == 7) ? -2.0f + u * 0.25f : u * 0.5f; break;
        case 6: v = (i % 32 == 0) ? 127.0f : (i % 32 == 17) ? -127.0f : (float)((int)(i % 61) - 30) + 0.5f; break;
        default: v = u * u * u * 16.0f; break;
        }
        x[i] = v;
    }
}

/* test_quant_imatrix.cc's make_weights: 0 ones, 1 random positive,
 * 2 random with zeros (every 5th and columns 64..95), 3 2^-20 .. 2^21 */
static void make_weights(int pattern, uint64_t seed, float *w, int64_t n) {
    uint64_t s = seed;
    for (int64_t i = 0; i < n; i++) {
        const float u = fabsf(rng_uniform(&s)) + 0.0625f;
        float v;
        switch (pattern) {
        case 0: v = 1.0f; break;
        case 1: v = u; break;
        case 2: v = (i % 5 == 2 || (i >= 64 && i < 96)) ? 0.0f : u; break;
        default: v = ldexpf(u, (int)(rng_next(&s) % 41) - 20); break;
        }
        w[i] = v;
    }
}

static const struct { enum ggml_type type; const char *name; } kTypes[] = {
    {GGML_TYPE_F32, "F32"},   {GGML_TYPE_F16, "F16"},   {GGML_TYPE_BF16, "BF16"},
    {GGML_TYPE_Q4_0, "Q4_0"}, {GGML_TYPE_Q4_1, "Q4_1"}, {GGML_TYPE_Q5_0, "Q5_0"},
    {GGML_TYPE_Q5_1, "Q5_1"}, {GGML_TYPE_Q8_0, "Q8_0"}, {GGML_TYPE_Q2_K, "Q2_K"},
    {GGML_TYPE_Q3_K, "Q3_K"}, {GGML_TYPE_Q4_K, "Q4_K"}, {GGML_TYPE_Q5_K, "Q5_K"},
    {GGML_TYPE_Q6_K, "Q6_K"},
};
static const int64_t kRows[2] = {3, 2}, kCols[2] = {256, 512};

int main(void) {
    printf("/*\n * quant_imatrix_expected.h — made by scripts/ggml-quant-expected (do not edit).\n"
           " * sha256 of ggml_quantize_chunk(type, x, dst, 0, rows, cols, w) for (3 x 256)\n"
           " * followed by (2 x 512), x = make_input(kind, imatrix_input_seed(kind, s)),\n"
           " * w = make_weights(pattern, imatrix_weight_seed(pattern, s)), s = 0, 1.\n"
           " * Included once, inside test_quant_imatrix.cc's anonymous namespace.\n */\n"
           "struct ImatrixCase { int type; int kind; int pattern; const char *sha; };\n"
           "const ImatrixCase kImatrixCases[] = {\n");
    for (size_t t = 0; t < sizeof(kTypes) / sizeof(kTypes[0]); t++) {
        for (int kind = 0; kind < 8; kind++) {
            for (int pat = 0; pat < 4; pat++) {
                SHA256_CTX ctx;
                SHA256_Init(&ctx);
                for (int s = 0; s < 2; s++) {
                    const int64_t rows = kRows[s], cols = kCols[s];
                    float *x = malloc(sizeof(float) * rows * cols), *w = malloc(sizeof(float) * cols);
                    const size_t bytes = ggml_row_size(kTypes[t].type, cols) * rows;
                    void *dst = calloc(1, bytes);
                    make_input(kind, 7000 + 10 * kind + s, x, rows * cols);
                    make_weights(pat, 8000 + 10 * pat + s, w, cols);
                    if (ggml_quantize_chunk(kTypes[t].type, x, dst, 0, rows, cols, w) != bytes) return 1;
                    SHA256_Update(&ctx, dst, bytes);
                    free(x); free(w); free(dst);
                }
                unsigned char md[32];
                SHA256_Final(md, &ctx);
                printf("    {NIB_TYPE_%s, %d, %d, \"", kTypes[t].name, kind, pat);
                for (int i = 0; i < 32; i++) printf("%02x", md[i]);
                printf("\"},\n");
            }
        }
    }
    printf("};\n");
    return 0;
}
