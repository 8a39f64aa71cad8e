/*
 * attention_avx2.h — the softmax steps the x86 attention files share
 * (attention_avx2.c, attention_decode_avx2.c), in attention_ref.c's order:
 *   softmax_exp:     exp(s - max) in place, 8 keys at a time, the 8-lane
 *                    sums (tree8) accumulated in a double;
 *   max_of:          the largest score;
 *   normalize_probs: exp(s - max) / sum, rounded to fp16 as the
 *                    probabilities meet fp16 V;
 * the 8-lane sums of eight vectors at once (sums8_f32x8); and the tile
 * kernels' steps tile_n_max, tile_queries_f16, tile_k_rows8.
 * Include only from files built with the x86 ISA flags.
 */
#ifndef NIB_ATTENTION_AVX2_H
#define NIB_ATTENTION_AVX2_H

#include "avx2_util.h"

#include "attention_ref.h"

#include <immintrin.h>
#include <math.h>
#include <stdint.h>

/* Lane l of the result: the 8-lane sum of a[l], by transposes, with the
 * additions of hsum_f32x8 (lanes (i, i+4), then (0+2) + (1+3): tinyBLAS)
 * or, where hadd, of hadd8 (lanes (i, i+4), then (0+1) + (2+3):
 * ggml_vec_dot_f16's GGML_F32x8_REDUCE). */
static inline __attribute__((always_inline)) __m256 sums8_f32x8(const __m256 a[8], const int hadd) {
    __m256 p[4]; /* p[i] = [a[i]'s 4 pair sums | a[i+4]'s] */
    for (int i = 0; i < 4; i++)
        p[i] = _mm256_add_ps(_mm256_permute2f128_ps(a[i], a[i + 4], 0x20), _mm256_permute2f128_ps(a[i], a[i + 4], 0x31));
    __m256 z0, z1; /* z0 = [a0's two sums, a1's | a4's, a5's], z1 the same for a2, a3, a6, a7 */
    if (hadd) {
        z0 = _mm256_add_ps(_mm256_shuffle_ps(p[0], p[1], _MM_SHUFFLE(2, 0, 2, 0)), _mm256_shuffle_ps(p[0], p[1], _MM_SHUFFLE(3, 1, 3, 1)));
        z1 = _mm256_add_ps(_mm256_shuffle_ps(p[2], p[3], _MM_SHUFFLE(2, 0, 2, 0)), _mm256_shuffle_ps(p[2], p[3], _MM_SHUFFLE(3, 1, 3, 1)));
    } else {
        z0 = _mm256_add_ps(_mm256_shuffle_ps(p[0], p[1], _MM_SHUFFLE(1, 0, 1, 0)), _mm256_shuffle_ps(p[0], p[1], _MM_SHUFFLE(3, 2, 3, 2)));
        z1 = _mm256_add_ps(_mm256_shuffle_ps(p[2], p[3], _MM_SHUFFLE(1, 0, 1, 0)), _mm256_shuffle_ps(p[2], p[3], _MM_SHUFFLE(3, 2, 3, 2)));
    }
    return _mm256_add_ps(_mm256_shuffle_ps(z0, z1, _MM_SHUFFLE(2, 0, 2, 0)), _mm256_shuffle_ps(z0, z1, _MM_SHUFFLE(3, 1, 3, 1)));
}

/* The longest KV length of a tile's queries. */
static inline int32_t tile_n_max(const struct nib_attn_tile *t) {
    int32_t n_max = 0;
    for (int i = 0; i < t->n_q; i++) n_max = t->n_kv[i] > n_max ? t->n_kv[i] : n_max;
    return n_max;
}

/* Each query rounded to fp16 (it meets fp16 K in fp16), as floats into
 * qf, hd apart (hd a multiple of 8). */
static inline void tile_queries_f16(const struct nib_attn_tile *t, int hd, float *qf) {
    for (int i = 0; i < t->n_q; i++)
        for (int d = 0; d < hd; d += 8)
            _mm256_storeu_ps(qf + (size_t)i * (size_t)hd + d,
                             _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_loadu_ps(t->q[i] + d), _MM_FROUND_TO_NEAREST_INT)));
}

/* exp(s - max) in place, 8 keys at a time (padding keys give 0); the tree8
 * sums accumulated in a double, as attention_ref.c's softmax_exp. */
static inline double softmax_exp(float *scores, int32_t n_kv, float max) {
    double sum = 0.0;
    for (int32_t j = 0; j < n_kv; j += 8) {
        __m256 s;
        if (j + 8 <= n_kv) {
            s = nib_v_expf_avx2(_mm256_sub_ps(_mm256_loadu_ps(scores + j), _mm256_set1_ps(max)));
            _mm256_storeu_ps(scores + j, s);
        } else {
            float tmp[8];
            for (int l = 0; l < 8; l++) tmp[l] = j + l < n_kv ? scores[j + l] - max : -INFINITY;
            s = nib_v_expf_avx2(_mm256_loadu_ps(tmp));
            _mm256_storeu_ps(tmp, s);
            for (int l = 0; j + l < n_kv; l++) scores[j + l] = tmp[l];
        }
        sum += (double)hsum_f32x8(s);
    }
    return sum;
}

/* The largest score (the scalar loop's result: max is order-free, and
 * max_ps(s, m) keeps m where s is not greater, as `s > m ? s : m`). */
static inline float max_of(const float *s, int32_t n) {
    __m256 m = _mm256_set1_ps(-INFINITY);
    int32_t j = 0;
    for (; j + 8 <= n; j += 8) m = _mm256_max_ps(_mm256_loadu_ps(s + j), m);
    float lanes[8], max = -INFINITY;
    _mm256_storeu_ps(lanes, m);
    for (int l = 0; l < 8; l++) max = lanes[l] > max ? lanes[l] : max;
    for (; j < n; j++) max = s[j] > max ? s[j] : max;
    return max;
}

/* softmax: exp(s - max) / sum, the probabilities rounded to fp16, as they
 * meet fp16 V. */
static inline void normalize_probs(float *scores, int32_t n_kv, float max) {
    const double sum = softmax_exp(scores, n_kv, max);
    const __m256 inv = _mm256_set1_ps((float)(1.0 / sum));
    int32_t j;
    for (j = 0; j + 8 <= n_kv; j += 8)
        _mm256_storeu_ps(scores + j, _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_mul_ps(_mm256_loadu_ps(scores + j), inv), _MM_FROUND_TO_NEAREST_INT)));
    for (; j < n_kv; j++) scores[j] = fp16_to_f32(_cvtss_sh(scores[j] * _mm256_cvtss_f32(inv), _MM_FROUND_TO_NEAREST_INT));
}

/* The K rows of keys j0..j0+7 as floats into kf (hd apart); keys past
 * n_max give zero rows. */
static inline void tile_k_rows8(float *kf, const uint16_t *k_base, size_t row_stride, size_t head_off, const int32_t *slot,
                                int32_t j0, int32_t n_max, int hd) {
    for (int l = 0; l < 8; l++) {
        float *row = kf + (size_t)l * (size_t)hd;
        if (j0 + l < n_max) {
            const uint16_t *k = k_base + (size_t)slot[j0 + l] * row_stride + head_off;
            for (int d = 0; d < hd; d += 8) _mm256_storeu_ps(row + d, load_f16x8(k + d));
        } else {
            for (int d = 0; d < hd; d += 8) _mm256_storeu_ps(row + d, _mm256_setzero_ps());
        }
    }
}

#endif
