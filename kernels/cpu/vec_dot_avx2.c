/*
 * vec_dot_avx2.c — AVX2 + FMA + F16C kernels for the float types and the
 * 32-element legacy quants, and the activation quantizers (Q8_0, Q8_1, Q8_K).
 * This file alone is built with -mavx2 -mfma -mf16c; dispatch.c reaches it
 * only after cpu_features.c has confirmed the CPU and OS support it.
 *
 * Dot products. Per 32-element block the integer dot product is exact: the
 * weight quants are widened to bytes, multiplied with the int8 activations by
 * maddubs (unsigned x signed bytes -> int16 pair sums; a signed weight gives
 * its sign to the activation first) and madd (-> int32). Each block then
 * costs one fma of its combined scale into eight float lanes. The result
 * equals the scalar reference up to the order of float additions (see
 * dispatch.h and tests/test_kernels.cc for the bound).
 *
 * Quantizers. Byte-identical to the reference for finite input: the same
 * scalar formulas for scales (and the same fp16 conversion), the same
 * products, and round-to-nearest-even by _mm256_round_ps, which is what
 * nearbyintf (default rounding mode) and ggml's 1.5*2^23 trick compute.
 */
#include "avx2_util.h"
#include "dispatch.h"
#include "fp16.h"
#include "quant_blocks.h"

#include <immintrin.h>
#include <math.h>
#include <string.h>


static inline float hmax_f32x8(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

/* A little-endian 32-bit mask -> 32 bytes, 0xFF where the bit is set. */
static inline __m256i bits_to_bytes(const uint8_t *p /* [4] */) {
    uint32_t w;
    memcpy(&w, p, sizeof(w));
    /* Byte j takes source byte j / 8 (each 128-bit half holds all four). */
    const __m256i spread = _mm256_shuffle_epi8(_mm256_set1_epi32((int)w),
                                               _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
                                                                2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
    const __m256i bit = _mm256_set1_epi64x((long long)0x8040201008040201ULL);
    return _mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit);
}

/* ---- float types, in ggml_vec_dot_f32/f16/bf16's AVX2 order: 32 products
 * per step into four 8-lane accumulators, then GGML_F32x8_REDUCE (a0+a2,
 * a1+a3, a0+a1, halves, two hadds) or, for BF16, (a0+a2)+(a1+a3) and tree8;
 * leftovers as ggml adds them. ---- */

static inline float reduce4_f32x8(__m256 a0, __m256 a1, __m256 a2, __m256 a3) {
    a0 = _mm256_add_ps(_mm256_add_ps(a0, a2), _mm256_add_ps(a1, a3));
    const __m128 t0 = _mm_add_ps(_mm256_castps256_ps128(a0), _mm256_extractf128_ps(a0, 1));
    const __m128 t1 = _mm_hadd_ps(t0, t0);
    return _mm_cvtss_f32(_mm_hadd_ps(t1, t1));
}

void NIB_X86_FN(nib_vec_dot_f32_f32)(int64_t n, float *out, const void *vx, const void *vy) {
    const float *x = vx, *y = vy; /* [n], [n] */
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        prefetch_stream(x + i, 32 * 4);
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8), a1);
        a2 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 16), _mm256_loadu_ps(y + i + 16), a2);
        a3 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 24), _mm256_loadu_ps(y + i + 24), a3);
    }
    float sum = reduce4_f32x8(a0, a1, a2, a3);
    for (; i < n; i++) sum += x[i] * y[i];
    *out = sum;
}

void NIB_X86_FN(nib_vec_dot_f16_f16)(int64_t n, float *out, const void *vx, const void *vy) {
    const uint16_t *x = vx, *y = vy; /* [n], [n] fp16 bits */
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        prefetch_stream(x + i, 32 * 2);
        a0 = _mm256_fmadd_ps(load_f16x8(x + i), load_f16x8(y + i), a0);
        a1 = _mm256_fmadd_ps(load_f16x8(x + i + 8), load_f16x8(y + i + 8), a1);
        a2 = _mm256_fmadd_ps(load_f16x8(x + i + 16), load_f16x8(y + i + 16), a2);
        a3 = _mm256_fmadd_ps(load_f16x8(x + i + 24), load_f16x8(y + i + 24), a3);
    }
    double sum = reduce4_f32x8(a0, a1, a2, a3);
    for (; i < n; i++) sum += (double)(fp16_to_f32(x[i]) * fp16_to_f32(y[i]));
    *out = (float)sum;
}

static inline __m256 load_bf16x8(const uint16_t *p) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p)), 16));
}

void NIB_X86_FN(nib_vec_dot_bf16_bf16)(int64_t n, float *out, const void *vx, const void *vy) {
    const uint16_t *x = vx, *y = vy; /* [n], [n] bf16 bits */
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) { /* bf16 products are exact: fma or not, the same sums */
        prefetch_stream(x + i, 32 * 2);
        a0 = _mm256_fmadd_ps(load_bf16x8(x + i), load_bf16x8(y + i), a0);
        a1 = _mm256_fmadd_ps(load_bf16x8(x + i + 8), load_bf16x8(y + i + 8), a1);
        a2 = _mm256_fmadd_ps(load_bf16x8(x + i + 16), load_bf16x8(y + i + 16), a2);
        a3 = _mm256_fmadd_ps(load_bf16x8(x + i + 24), load_bf16x8(y + i + 24), a3);
    }
    double sum = hsum_f32x8(_mm256_add_ps(_mm256_add_ps(a0, a2), _mm256_add_ps(a1, a3)));
    for (; i < n; i++) {
        uint32_t bx = (uint32_t)x[i] << 16, by = (uint32_t)y[i] << 16;
        float fx, fy;
        memcpy(&fx, &bx, 4);
        memcpy(&fy, &by, 4);
        sum += (double)(fx * fy);
    }
    *out = (float)sum;
}

/* ---- the same three in tinyBLAS's order (llama.cpp's prompt path): one
 * 8-lane fma accumulator over 8-element steps, then tree8. n % 8 == 0. ---- */

void NIB_X86_FN(nib_gemm_dot_f32_f32)(int64_t n, float *out, const void *vx, const void *vy) {
    const float *x = vx, *y = vy; /* [n], [n] */
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n; i += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), acc);
    *out = hsum_f32x8(acc);
}

void NIB_X86_FN(nib_gemm_dot_f16_f16)(int64_t n, float *out, const void *vx, const void *vy) {
    const uint16_t *x = vx, *y = vy; /* [n], [n] */
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n; i += 8) acc = _mm256_fmadd_ps(load_f16x8(x + i), load_f16x8(y + i), acc);
    *out = hsum_f32x8(acc);
}

void NIB_X86_FN(nib_gemm_dot_bf16_bf16)(int64_t n, float *out, const void *vx, const void *vy) {
    const uint16_t *x = vx, *y = vy; /* [n], [n] */
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n; i += 8) acc = _mm256_fmadd_ps(load_bf16x8(x + i), load_bf16x8(y + i), acc);
    *out = hsum_f32x8(acc);
}

/* ---- float weights in prompt batches: NIB_GEMM_TILE_ROWS weight rows x 4
 * activation rows per call, each pair in gemm_dot's order (one 8-lane fma
 * accumulator, then hsum_f32x8), every weight and activation vector loaded
 * and converted once per tile instead of once per pair. ---- */

static inline __m256 load_float8(int type, const void *p, int64_t i) {
    if (type == NIB_TYPE_F32) return _mm256_loadu_ps((const float *)p + i);
    if (type == NIB_TYPE_F16) return load_f16x8((const uint16_t *)p + i);
    return load_bf16x8((const uint16_t *)p + i);
}

#define TILE_ROWS (NIB_VNNI ? 4 : 2) /* 16 or 8 accumulators: what the registers hold */

static inline __attribute__((always_inline)) void float_tile(int type, int64_t n, float *out, const char *w,
                                                             size_t w_row_bytes, const char *x, size_t x_row_bytes) {
    __m256 acc[TILE_ROWS][4];
    for (int r = 0; r < TILE_ROWS; r++)
        for (int t = 0; t < 4; t++) acc[r][t] = _mm256_setzero_ps();
    for (int64_t i = 0; i < n; i += 8) {
        __m256 xv[4];
        for (int t = 0; t < 4; t++) xv[t] = load_float8(type, x + (size_t)t * x_row_bytes, i);
        for (int r = 0; r < TILE_ROWS; r++) {
            const __m256 wv = load_float8(type, w + (size_t)r * w_row_bytes, i);
            for (int t = 0; t < 4; t++) acc[r][t] = _mm256_fmadd_ps(wv, xv[t], acc[r][t]);
        }
    }
    for (int r = 0; r < TILE_ROWS; r++)
        for (int t = 0; t < 4; t++) out[4 * r + t] = hsum_f32x8(acc[r][t]);
}

void NIB_X86_FN(nib_gemm_tile_f32)(int64_t n, float *out, const void *w, size_t w_row_bytes, const void *x,
                                   size_t x_row_bytes) {
    float_tile(NIB_TYPE_F32, n, out, w, w_row_bytes, x, x_row_bytes);
}
void NIB_X86_FN(nib_gemm_tile_f16)(int64_t n, float *out, const void *w, size_t w_row_bytes, const void *x,
                                   size_t x_row_bytes) {
    float_tile(NIB_TYPE_F16, n, out, w, w_row_bytes, x, x_row_bytes);
}
void NIB_X86_FN(nib_gemm_tile_bf16)(int64_t n, float *out, const void *w, size_t w_row_bytes, const void *x,
                                    size_t x_row_bytes) {
    float_tile(NIB_TYPE_BF16, n, out, w, w_row_bytes, x, x_row_bytes);
}
int NIB_X86_FN(nib_gemm_tile_rows)(void) { return TILE_ROWS; }

/* ---- legacy quants: one block -> acc += d * (8 lanes of int32 sums).
 * One accumulator in block order, then the 8-lane sum (plus, for Q4_1/Q5_1,
 * the running sum of m*s): the float order of ggml's x86 kernels, so the
 * results match llama.cpp's bit for bit rather than to an ulp (an ulp here
 * can flip a later rounding of an activation and then a greedy choice). ---- */

static inline __m256 block_q4_0(const struct nib_block_q4_0 *x, const struct nib_block_q8_0 *y, __m256 acc) {
    const __m256i qx = _mm256_sub_epi8(unpack_nibbles(x->qs), _mm256_set1_epi8(8)); /* [-8, 7] */
    const __m256 d = _mm256_set1_ps(fp16_to_f32(x->d) * fp16_to_f32(y->d));
    return _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dot_s8_s8(qx, load32(y->qs))), acc);
}

static inline __m256 block_q5_0(const struct nib_block_q5_0 *x, const struct nib_block_q8_0 *y, __m256 acc) {
    /* q - 16 in one OR: where the 5th bit is clear, 0xF0 | nibble is nibble - 16. */
    const __m256i hi = _mm256_andnot_si256(bits_to_bytes(x->qh), _mm256_set1_epi8((char)0xF0));
    const __m256i qx = _mm256_or_si256(unpack_nibbles(x->qs), hi); /* [-16, 15] */
    const __m256 d = _mm256_set1_ps(fp16_to_f32(x->d) * fp16_to_f32(y->d));
    return _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dot_s8_s8(qx, load32(y->qs))), acc);
}

static inline __m256 block_q8_0(const struct nib_block_q8_0 *x, const struct nib_block_q8_0 *y, __m256 acc) {
    const __m256 d = _mm256_set1_ps(fp16_to_f32(x->d) * fp16_to_f32(y->d));
    return _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dot_s8_s8(load32(x->qs), load32(y->qs))), acc);
}

/* Q4_1/Q5_1 also add m * s per block, s = d_y * sum(q_y) carried by Q8_1. */
static inline __m256 block_q4_1(const struct nib_block_q4_1 *x, const struct nib_block_q8_1 *y, __m256 acc,
                                float *summs) {
    const __m256 d = _mm256_set1_ps(fp16_to_f32(x->d) * fp16_to_f32(y->d));
    *summs += fp16_to_f32(x->m) * fp16_to_f32(y->s);
    return _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dot_u8_s8(unpack_nibbles(x->qs), load32(y->qs))), acc);
}

static inline __m256 block_q5_1(const struct nib_block_q5_1 *x, const struct nib_block_q8_1 *y, __m256 acc,
                                float *summs) {
    const __m256i hi = _mm256_and_si256(bits_to_bytes(x->qh), _mm256_set1_epi8(0x10));
    const __m256i qx = _mm256_or_si256(unpack_nibbles(x->qs), hi); /* [0, 31] */
    const __m256 d = _mm256_set1_ps(fp16_to_f32(x->d) * fp16_to_f32(y->d));
    *summs += fp16_to_f32(x->m) * fp16_to_f32(y->s);
    return _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dot_u8_s8(qx, load32(y->qs))), acc);
}

void NIB_X86_FN(nib_vec_dot_q4_0_q8_0)(int64_t n, float *out, const void *vx, const void *vy) {
    const struct nib_block_q4_0 *x = vx; /* [n/32] */
    const struct nib_block_q8_0 *y = vy; /* [n/32] */
    const int64_t nb = n / NIB_QK8_0;
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        prefetch_stream(x + i, sizeof x[i]);
        acc = block_q4_0(x + i, y + i, acc);
    }
    *out = hsum_f32x8(acc);
}

void NIB_X86_FN(nib_vec_dot_q5_0_q8_0)(int64_t n, float *out, const void *vx, const void *vy) {
    const struct nib_block_q5_0 *x = vx; /* [n/32] */
    const struct nib_block_q8_0 *y = vy; /* [n/32] */
    const int64_t nb = n / NIB_QK8_0;
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        prefetch_stream(x + i, sizeof x[i]);
        acc = block_q5_0(x + i, y + i, acc);
    }
    *out = hsum_f32x8(acc);
}

void NIB_X86_FN(nib_vec_dot_q8_0_q8_0)(int64_t n, float *out, const void *vx, const void *vy) {
    const struct nib_block_q8_0 *x = vx; /* [n/32] */
    const struct nib_block_q8_0 *y = vy; /* [n/32] */
    const int64_t nb = n / NIB_QK8_0;
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        prefetch_stream(x + i, sizeof x[i]);
        acc = block_q8_0(x + i, y + i, acc);
    }
    *out = hsum_f32x8(acc);
}

/* Q8_0 against up to 4 activation rows: |x| and sign(x) once per block, the
 * four scale products d_x * d_y in one multiply (dy: the rows' fp16 scales as
 * floats, [block][4]), then block_q8_0's steps per row: the vec_dot's bits. */
static inline __attribute__((always_inline)) void q8_0_rows(int64_t nb, const struct nib_block_q8_0 *x, const void *vy,
                                                            size_t y_row_bytes, const float *dy, float *out, const int NT) {
    const struct nib_block_q8_0 *y[4];
    __m256 acc[4];
    for (int t = 0; t < NT; t++) {
        y[t] = (const struct nib_block_q8_0 *)((const char *)vy + (size_t)t * y_row_bytes);
        acc[t] = _mm256_setzero_ps();
    }
    for (int64_t i = 0; i < nb; i++) {
        prefetch_stream(x + i, sizeof x[i]);
        const __m256i qx = load32(x[i].qs), ax = _mm256_sign_epi8(qx, qx);
        float d[4];
        _mm_storeu_ps(d, _mm_mul_ps(_mm_set1_ps(fp16_to_f32(x[i].d)), _mm_loadu_ps(dy + 4 * i)));
        for (int t = 0; t < NT; t++) {
            const __m256i p = dot_u8_s8(ax, _mm256_sign_epi8(load32(y[t][i].qs), qx));
            acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(d[t]), _mm256_cvtepi32_ps(p), acc[t]);
        }
    }
    for (int t = 0; t < NT; t++) out[t] = hsum_f32x8(acc[t]);
}

void NIB_X86_FN(nib_dot4_q8_0_q8_0)(int64_t n, float *out, const void *vx, const void *vy, size_t y_row_bytes, int n_rows,
                             const float *dy) {
    const int64_t nb = n / NIB_QK8_0;
    switch (n_rows) {
    case 4: q8_0_rows(nb, vx, vy, y_row_bytes, dy, out, 4); break;
    case 3: q8_0_rows(nb, vx, vy, y_row_bytes, dy, out, 3); break;
    case 2: q8_0_rows(nb, vx, vy, y_row_bytes, dy, out, 2); break;
    default: q8_0_rows(nb, vx, vy, y_row_bytes, dy, out, 1); break;
    }
}

/* Q5_0, Q4_1 and Q5_1 against up to 4 activation rows: each block's weights
 * unpacked once (and for Q5_0 made unsigned with their signs, once), then
 * per row block_q5_0's / block_q4_1's / block_q5_1's steps: the vec_dot's bits. */
static inline __attribute__((always_inline)) void legacy_rows(int type, int64_t nb, const void *vx, const void *vy,
                                                              size_t y_row_bytes, float *out, const int NT) {
    __m256 acc[4];
    float summs[4];
    for (int t = 0; t < NT; t++) acc[t] = _mm256_setzero_ps(), summs[t] = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        __m256i qx, ux;
        float dx, mx = 0.0f;
        if (type == NIB_TYPE_Q5_0) {
            const struct nib_block_q5_0 *x = (const struct nib_block_q5_0 *)vx + i;
            qx = _mm256_or_si256(unpack_nibbles(x->qs), _mm256_andnot_si256(bits_to_bytes(x->qh), _mm256_set1_epi8((char)0xF0)));
            ux = _mm256_sign_epi8(qx, qx);
            dx = fp16_to_f32(x->d);
        } else if (type == NIB_TYPE_Q4_1) {
            const struct nib_block_q4_1 *x = (const struct nib_block_q4_1 *)vx + i;
            qx = ux = unpack_nibbles(x->qs);
            dx = fp16_to_f32(x->d), mx = fp16_to_f32(x->m);
        } else { /* Q5_1 */
            const struct nib_block_q5_1 *x = (const struct nib_block_q5_1 *)vx + i;
            qx = ux = _mm256_or_si256(unpack_nibbles(x->qs), _mm256_and_si256(bits_to_bytes(x->qh), _mm256_set1_epi8(0x10)));
            dx = fp16_to_f32(x->d), mx = fp16_to_f32(x->m);
        }
        for (int t = 0; t < NT; t++) {
            const char *row = (const char *)vy + (size_t)t * y_row_bytes;
            if (type == NIB_TYPE_Q5_0) {
                const struct nib_block_q8_0 *y = (const struct nib_block_q8_0 *)row + i;
                const __m256 d = _mm256_set1_ps(dx * fp16_to_f32(y->d));
                acc[t] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dot_u8_s8(ux, _mm256_sign_epi8(load32(y->qs), qx))), acc[t]);
            } else {
                const struct nib_block_q8_1 *y = (const struct nib_block_q8_1 *)row + i;
                const __m256 d = _mm256_set1_ps(dx * fp16_to_f32(y->d));
                summs[t] += mx * fp16_to_f32(y->s);
                acc[t] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dot_u8_s8(ux, load32(y->qs))), acc[t]);
            }
        }
    }
    for (int t = 0; t < NT; t++) out[t] = hsum_f32x8(acc[t]) + summs[t];
}

#define LEGACY_DOT4(name, type)                                                                                       \
    void NIB_X86_FN(name)(int64_t n, float *out, const void *vx, const void *vy, size_t y_row_bytes, int n_rows,     \
                          const float *dy) {                                                                          \
        (void)dy; /* the activations' scales are read from their blocks */                                           \
        const int64_t nb = n / 32;                                                                                    \
        switch (n_rows) {                                                                                             \
        case 4: legacy_rows(type, nb, vx, vy, y_row_bytes, out, 4); break;                                            \
        case 3: legacy_rows(type, nb, vx, vy, y_row_bytes, out, 3); break;                                            \
        case 2: legacy_rows(type, nb, vx, vy, y_row_bytes, out, 2); break;                                            \
        default: legacy_rows(type, nb, vx, vy, y_row_bytes, out, 1); break;                                           \
        }                                                                                                             \
    }
LEGACY_DOT4(nib_dot4_q5_0_q8_0, NIB_TYPE_Q5_0)
LEGACY_DOT4(nib_dot4_q4_1_q8_1, NIB_TYPE_Q4_1)
LEGACY_DOT4(nib_dot4_q5_1_q8_1, NIB_TYPE_Q5_1)
#undef LEGACY_DOT4

#if NIB_VNNI
/* Four Q8_0 weight rows against four activation rows, each (row, token)
 * lane sum as q8_0_rows gives it, with fewer steps per pair: the weights go
 * unsigned once per block (q + 128, one xor), so vpdpbusd takes them against
 * the activations as they are, starting from -128 * (each lane's four
 * activation bytes) (once per block and token, for all rows): the lanes hold
 * the exact signed sums. Then the same cvt and fma with d_x * d_y as the
 * vec_dot: its bits. Sixteen named accumulators (an array of them ends up
 * in memory). */
#define Q8_PAIR(r, t)                                                                                           \
    acc##r##t = _mm256_fmadd_ps(_mm256_broadcast_ss(&d[r][t]), _mm256_cvtepi32_ps(_mm256_dpbusd_epi32(b##t, w##r, y##t)), \
                                acc##r##t)
#define Q8_TOKEN(t)                                                                                            \
    const __m256i y##t = load32(a##t[i].qs);                                                                   \
    const __m256i b##t = _mm256_sub_epi32(zero, _mm256_dpbusd_epi32(zero, flip, y##t))
#define Q8_ROW(r)                                                                                              \
    const __m256i w##r = _mm256_xor_si256(load32(x##r[i].qs), flip);                                          \
    _mm_storeu_ps(d[r], _mm_mul_ps(_mm_set1_ps(fp16_to_f32(x##r[i].d)), dy4))

void NIB_X86_FN(nib_dot4x4_q8_0_q8_0)(int64_t n, float *out, const void *vx, size_t x_row_bytes, const void *vy,
                                      size_t y_row_bytes, const float *dy) {
    const int64_t nb = n / NIB_QK8_0;
    const struct nib_block_q8_0 *x0 = vx, *x1 = (const void *)((const char *)vx + x_row_bytes),
                                *x2 = (const void *)((const char *)vx + 2 * x_row_bytes),
                                *x3 = (const void *)((const char *)vx + 3 * x_row_bytes);
    const struct nib_block_q8_0 *a0 = vy, *a1 = (const void *)((const char *)vy + y_row_bytes),
                                *a2 = (const void *)((const char *)vy + 2 * y_row_bytes),
                                *a3 = (const void *)((const char *)vy + 3 * y_row_bytes);
    const __m256i flip = _mm256_set1_epi8((char)0x80), zero = _mm256_setzero_si256();
    __m256 acc00 = _mm256_setzero_ps(), acc01 = acc00, acc02 = acc00, acc03 = acc00, acc10 = acc00, acc11 = acc00,
           acc12 = acc00, acc13 = acc00, acc20 = acc00, acc21 = acc00, acc22 = acc00, acc23 = acc00, acc30 = acc00,
           acc31 = acc00, acc32 = acc00, acc33 = acc00;
    for (int64_t i = 0; i < nb; i++) {
        /* the 16 scale products d_x * d_y, 4 per multiply, read back as
         * broadcasts (a load port's work, not a vector unit's) */
        float d[4][4];
        const __m128 dy4 = _mm_loadu_ps(dy + 4 * i);
        Q8_ROW(0);
        Q8_ROW(1);
        Q8_ROW(2);
        Q8_ROW(3);
        {
            Q8_TOKEN(0);
            Q8_PAIR(0, 0); Q8_PAIR(1, 0); Q8_PAIR(2, 0); Q8_PAIR(3, 0);
        }
        {
            Q8_TOKEN(1);
            Q8_PAIR(0, 1); Q8_PAIR(1, 1); Q8_PAIR(2, 1); Q8_PAIR(3, 1);
        }
        {
            Q8_TOKEN(2);
            Q8_PAIR(0, 2); Q8_PAIR(1, 2); Q8_PAIR(2, 2); Q8_PAIR(3, 2);
        }
        {
            Q8_TOKEN(3);
            Q8_PAIR(0, 3); Q8_PAIR(1, 3); Q8_PAIR(2, 3); Q8_PAIR(3, 3);
        }
    }
    const __m256 all[16] = { acc00, acc01, acc02, acc03, acc10, acc11, acc12, acc13,
                             acc20, acc21, acc22, acc23, acc30, acc31, acc32, acc33 };
    for (int k = 0; k < 16; k++) out[k] = hsum_f32x8(all[k]);
}
#undef Q8_PAIR
#undef Q8_TOKEN
#undef Q8_ROW

/* Eight Q8_0 weight rows (x_row_bytes apart) against one activation row,
 * each row's vec_dot bits, two rows to a 512-bit vector (row 2p in lanes
 * 0-7, row 2p+1 in lanes 8-15: each half is the vec_dot's 8-lane
 * accumulator). The lane sums are dot4x4's (weights xor 0x80, vpdpbusd from
 * -128 * the activation's lane sums); the eight rows' scales come in one
 * gather (the dword at each block's head: d and two quants), d_x * d_y in one
 * multiply, each pair's halves by a permute. The vec_dot is bound by its
 * one accumulator's fma chain (28.6 GB/s of weights from L2, one thread);
 * eight chains are not. Each call prefetches the next eight rows (the
 * rows are contiguous, so that is the next group's stream) into L2, its
 * share per block. */
void NIB_X86_FN(nib_dot8_q8_0_q8_0)(int64_t n, float *out, const void *vx, size_t x_row_bytes, const void *vy) {
    const int64_t nb = n / NIB_QK8_0;
    const struct nib_block_q8_0 *y = vy;
    const char *x = vx, *next = x + 8 * x_row_bytes;
    const int rb = (int)x_row_bytes;
    const __m256i rows = _mm256_setr_epi32(0, rb, 2 * rb, 3 * rb, 4 * rb, 5 * rb, 6 * rb, 7 * rb);
    const __m512i flip = _mm512_set1_epi8((char)0x80), zero = _mm512_setzero_si512();
    __m512i halves[4];
    for (int p = 0; p < 4; p++)
        halves[p] = _mm512_inserti64x4(_mm512_set1_epi32(2 * p), _mm256_set1_epi32(2 * p + 1), 1);
    __m512 acc[4] = { _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps() };
    const size_t group_per_block = 8 * sizeof(struct nib_block_q8_0);
    for (int64_t i = 0; i < nb; i++) {
        for (size_t l = 0; l < group_per_block; l += 64) _mm_prefetch(next + (size_t)i * group_per_block + l, _MM_HINT_T1);
        const char *xb = x + (size_t)i * sizeof(struct nib_block_q8_0);
        const __m128i h = _mm256_cvtepi32_epi16(_mm256_i32gather_epi32((const int *)(const void *)xb, rows, 1));
        const __m512 d = _mm512_castps256_ps512(_mm256_mul_ps(_mm256_cvtph_ps(h), _mm256_set1_ps(fp16_to_f32(y[i].d))));
        const __m512i yq = _mm512_broadcast_i64x4(load32(y[i].qs));
        const __m512i base = _mm512_sub_epi32(zero, _mm512_dpbusd_epi32(zero, flip, yq));
        for (int p = 0; p < 4; p++) {
            const struct nib_block_q8_0 *x0 = (const void *)(xb + (size_t)(2 * p) * x_row_bytes);
            const struct nib_block_q8_0 *x1 = (const void *)(xb + (size_t)(2 * p + 1) * x_row_bytes);
            const __m512i w = _mm512_xor_si512(_mm512_inserti64x4(_mm512_castsi256_si512(load32(x0->qs)), load32(x1->qs), 1), flip);
            acc[p] = _mm512_fmadd_ps(_mm512_permutexvar_ps(halves[p], d), _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(base, w, yq)),
                                     acc[p]);
        }
    }
    for (int p = 0; p < 4; p++) {
        out[2 * p] = hsum_f32x8(_mm512_castps512_ps256(acc[p]));
        out[2 * p + 1] = hsum_f32x8(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(acc[p]), 1)));
    }
}
#else
/* AVX2: eight Q8_0 weight rows (x_row_bytes apart) against one activation
 * row, each row block_q8_0's steps in its own accumulator: the vec_dot's
 * bits, eight fma chains where the vec_dot has one (its latency bound the
 * one-token matmul from cache). Prefetches the next eight rows' share per
 * block, as the AVX-512 dot8. */
void NIB_X86_FN(nib_dot8_q8_0_q8_0)(int64_t n, float *out, const void *vx, size_t x_row_bytes, const void *vy) {
    const int64_t nb = n / NIB_QK8_0;
    const struct nib_block_q8_0 *y = vy;
    const char *x = vx, *next = x + 8 * x_row_bytes;
    __m256 acc[8];
    for (int r = 0; r < 8; r++) acc[r] = _mm256_setzero_ps();
    const size_t group_per_block = 8 * sizeof(struct nib_block_q8_0);
    for (int64_t i = 0; i < nb; i++) {
        for (size_t l = 0; l < group_per_block; l += 64) _mm_prefetch(next + (size_t)i * group_per_block + l, _MM_HINT_T1);
        for (int r = 0; r < 8; r++)
            acc[r] = block_q8_0((const struct nib_block_q8_0 *)(x + (size_t)r * x_row_bytes) + i, y + i, acc[r]);
    }
    for (int r = 0; r < 8; r++) out[r] = hsum_f32x8(acc[r]);
}
#endif

void NIB_X86_FN(nib_vec_dot_q4_1_q8_1)(int64_t n, float *out, const void *vx, const void *vy) {
    const struct nib_block_q4_1 *x = vx; /* [n/32] */
    const struct nib_block_q8_1 *y = vy; /* [n/32] */
    const int64_t nb = n / NIB_QK8_1;
    __m256 acc = _mm256_setzero_ps();
    float summs = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        prefetch_stream(x + i, sizeof x[i]);
        acc = block_q4_1(x + i, y + i, acc, &summs);
    }
    *out = hsum_f32x8(acc) + summs;
}

void NIB_X86_FN(nib_vec_dot_q5_1_q8_1)(int64_t n, float *out, const void *vx, const void *vy) {
    const struct nib_block_q5_1 *x = vx; /* [n/32] */
    const struct nib_block_q8_1 *y = vy; /* [n/32] */
    const int64_t nb = n / NIB_QK8_1;
    __m256 acc = _mm256_setzero_ps();
    float summs = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        prefetch_stream(x + i, sizeof x[i]);
        acc = block_q5_1(x + i, y + i, acc, &summs);
    }
    *out = hsum_f32x8(acc) + summs;
}

/* ---- activation quantizers ---- */

static inline __m256 abs_ps(__m256 v) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v); }

/* round-to-nearest-even(v * mul) as int32 */
static inline __m256i round_mul(__m256 v, __m256 mul) {
    return _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v, mul), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}

/* 4 x 8 int32 (in [-128, 127]) -> 32 int8 in element order. The packs work
 * per 128-bit half, leaving 4-byte groups in the order 0 2 4 6 1 3 5 7. */
static inline __m256i pack_i8(__m256i a, __m256i b, __m256i c, __m256i d) {
    const __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(a, b), _mm256_packs_epi32(c, d));
    return _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

/* Quantizes one 32-element block as quantize_act.c's q8_0_row: d = amax/127,
 * multiplier 127/amax. Returns d; the int32 quants go to q[4]. */
static inline float q8_block(const float *x /* [32] */, int8_t *qs /* [32] */, __m256i q[4]) {
    const __m256 v0 = _mm256_loadu_ps(x), v1 = _mm256_loadu_ps(x + 8);
    const __m256 v2 = _mm256_loadu_ps(x + 16), v3 = _mm256_loadu_ps(x + 24);
    const __m256 m = _mm256_max_ps(_mm256_max_ps(abs_ps(v0), abs_ps(v1)), _mm256_max_ps(abs_ps(v2), abs_ps(v3)));
    const float amax = hmax_f32x8(m);
    const float d = amax / 127.f, id = amax != 0.0f ? 127.f / amax : 0.0f;
    const __m256 mul = _mm256_set1_ps(id);
    q[0] = round_mul(v0, mul);
    q[1] = round_mul(v1, mul);
    q[2] = round_mul(v2, mul);
    q[3] = round_mul(v3, mul);
    _mm256_storeu_si256((__m256i *)qs, pack_i8(q[0], q[1], q[2], q[3]));
    return d;
}

void NIB_X86_FN(nib_quantize_act_q8_0)(const float *x, void *vy, int64_t n) {
    struct nib_block_q8_0 *y = vy; /* [n/32] */
    for (int64_t b = 0; b < n / NIB_QK8_0; b++) {
        __m256i q[4];
        y[b].d = nib_fp32_to_fp16(q8_block(x + b * NIB_QK8_0, y[b].qs, q));
    }
}

void NIB_X86_FN(nib_quantize_act_q8_1)(const float *x, void *vy, int64_t n) {
    struct nib_block_q8_1 *y = vy; /* [n/32] */
    for (int64_t b = 0; b < n / NIB_QK8_1; b++) {
        __m256i q[4];
        const float d = q8_block(x + b * NIB_QK8_1, y[b].qs, q);
        const int sum = hsum_i32x8(_mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3])));
        y[b].d = nib_fp32_to_fp16(d);
        y[b].s = nib_fp32_to_fp16(d * (float)sum);
    }
}

/* As nib_quant_from_float_q8_K: the scale comes from the first element of
 * largest magnitude (its sign included), quants are clamped to <= 127. */
void NIB_X86_FN(nib_quantize_act_q8_K)(const float *x, void *vy, int64_t n) {
    struct nib_block_q8_K *y = vy; /* [n/256] */
    for (int64_t b = 0; b < n / NIB_QK_K; b++, x += NIB_QK_K) {
        __m256 m = _mm256_setzero_ps();
        for (int k = 0; k < NIB_QK_K; k += 8) m = _mm256_max_ps(m, abs_ps(_mm256_loadu_ps(x + k)));
        const float amax = hmax_f32x8(m);
        if (amax == 0.0f) {
            memset(&y[b], 0, sizeof(y[b]));
            continue;
        }
        int first = 0;
        for (int k = 0; k < NIB_QK_K; k += 8) {
            const __m256 eq = _mm256_cmp_ps(abs_ps(_mm256_loadu_ps(x + k)), _mm256_set1_ps(amax), _CMP_EQ_OQ);
            const int mask = _mm256_movemask_ps(eq);
            if (mask) {
                first = k + __builtin_ctz((unsigned)mask);
                break;
            }
        }
        const float iscale = -127.f / x[first];
        const __m256 mul = _mm256_set1_ps(iscale);
        const __m256i top = _mm256_set1_epi32(127);
        for (int g = 0; g < NIB_QK_K; g += 32) {
            const __m256i q0 = _mm256_min_epi32(round_mul(_mm256_loadu_ps(x + g), mul), top);
            const __m256i q1 = _mm256_min_epi32(round_mul(_mm256_loadu_ps(x + g + 8), mul), top);
            const __m256i q2 = _mm256_min_epi32(round_mul(_mm256_loadu_ps(x + g + 16), mul), top);
            const __m256i q3 = _mm256_min_epi32(round_mul(_mm256_loadu_ps(x + g + 24), mul), top);
            _mm256_storeu_si256((__m256i *)(y[b].qs + g), pack_i8(q0, q1, q2, q3));
            y[b].bsums[g / 16] = (int16_t)hsum_i32x8(_mm256_add_epi32(q0, q1));
            y[b].bsums[g / 16 + 1] = (int16_t)hsum_i32x8(_mm256_add_epi32(q2, q3));
        }
        y[b].d = 1 / iscale;
    }
}
