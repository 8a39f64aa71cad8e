/*
 * avx2_util.h — small AVX2 helpers shared by the vec_dot_avx2*.c files (only
 * included from files compiled with -mavx2 -mfma -mf16c).
 */
#ifndef NIB_AVX2_UTIL_H
#define NIB_AVX2_UTIL_H

#include <immintrin.h>
#include <stdint.h>

/* The 8-lane float sum in ggml's order (hsum_float_8). */
static inline float hsum_f32x8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline float fp16_to_f32(uint16_t h) { return _cvtsh_ss(h); }

#endif
