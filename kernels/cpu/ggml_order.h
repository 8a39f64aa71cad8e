/*
 * ggml_order.h — the float order of llama.cpp's x86 AVX2 CPU build, as
 * portable scalar C.
 *
 * nib agrees with llama.cpp bit for bit where the arithmetic allows it, and
 * the golden outputs come from ggml's AVX2+FMA ("haswell") CPU variant. Where
 * a float result depends on summation order, on fused multiply-adds or on
 * ggml's vectorized exp, the helpers here reproduce that variant lane by lane:
 *   - ggml_v_expf (AVX2 form) and the SiLU built on it;
 *   - the 8-lane horizontal sums: tree8 (hi+lo, then +movehl, then +movehdup:
 *     pairs (i, i+4), (i, i+2), (0, 1)) used by tinyBLAS and the softmax, and
 *     hadd8 (GGML_F32x8_REDUCE: (i, i+4), then hadd twice: pairs (0,1), (2,3))
 *     used by ggml_vec_dot_f16/f32.
 * Lane counts: EPR 8 floats per register, STEP 32 (four registers) for
 * ggml_vec_dot_f16/f32, KN 8 for tinyBLAS.
 */
#ifndef NIB_GGML_ORDER_H
#define NIB_GGML_ORDER_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#define NIB_GGML_EPR 8
#define NIB_GGML_STEP 32

static inline uint32_t nib_f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static inline float nib_bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* One lane of ggml_v_expf (__m256 form). */
static inline float nib_ggml_expf(float x) {
    const float r = 0x1.8p23f;
    const float z = fmaf(x, 0x1.715476p+0f, r);
    const float n = z - r;
    const float b = fmaf(-n, 0x1.7f7d1cp-20f, fmaf(-n, 0x1.62e4p-1f, x));
    const uint32_t e = nib_f32_bits(z) << 23;
    const float k = nib_bits_f32(e + nib_f32_bits(1.0f));
    const float u = b * b;
    const float j = fmaf(fmaf(fmaf(0x1.0e4020p-7f, b, 0x1.573e2ep-5f), u, fmaf(0x1.555e66p-3f, b, 0x1.fffdb6p-2f)), u,
                         0x1.ffffecp-1f * b);
    if (!(fabsf(n) > 126.0f)) return fmaf(j, k, k);
    const uint32_t g = n <= 0.0f ? 0x82000000u : 0u;
    const float s1 = nib_bits_f32(g + 0x7f000000u), s2 = nib_bits_f32(e - g);
    if (fabsf(n) > 192.0f) return s1 * s1;
    return fmaf(s2, j, s2) * s1;
}

/* One lane of ggml_v_silu: x / (1 + exp(-x)). */
static inline float nib_ggml_silu(float x) {
    return x / (1.0f + nib_ggml_expf(0.0f - x));
}

/* tinyBLAS hsum(__m256) and the softmax's chunk sum. */
static inline float nib_tree8(const float *v, size_t stride) {
    float a[4];
    for (int i = 0; i < 4; i++) a[i] = v[(size_t)(i + 4) * stride] + v[(size_t)i * stride];
    return (a[0] + a[2]) + (a[1] + a[3]);
}

/* GGML_F32x8_REDUCE's last step on one register. */
static inline float nib_hadd8(const float *v, size_t stride) {
    float a[4];
    for (int i = 0; i < 4; i++) a[i] = v[(size_t)i * stride] + v[(size_t)(i + 4) * stride];
    return (a[0] + a[1]) + (a[2] + a[3]);
}

#endif
