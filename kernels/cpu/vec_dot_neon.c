/*
 * vec_dot_neon.c — aarch64 NEON (ASIMD) kernels for the float types and the
 * activation quantizers (Q8_0, Q8_1, Q8_K). Plain ARMv8-A: every aarch64 CPU
 * runs them. Built on aarch64 only; dispatch.c reaches them only after
 * cpu_features.c has seen HWCAP_ASIMD. The integer dot products live in
 * vec_dot_neon_i8.c and vec_dot_neon_dotprod.c.
 *
 * Float dots (F32, F16, BF16). fp16 and bf16 widen to fp32 exactly; products
 * are fused into four 4-lane accumulators (16 elements a step), then 4
 * elements a step into the first, the lanes reduced by a tree, and at most
 * three leftover elements added last. The longest chain of float additions
 * is n/16 + 3 + 4 + 3, inside the n/8 + 3 that tests/test_kernels.cc allows
 * for float types.
 *
 * Quantizers. Byte-identical to the reference for finite input: the same
 * scalar formulas for scales (and the same scalar fp16 conversion), the same
 * float products, and round-to-nearest-even by vcvtnq_s32_f32, which is what
 * nearbyintf (default rounding mode) and ggml's 1.5*2^23 trick compute for
 * values this small.
 */
#include "dispatch.h"
#include "fp16.h"
#include "quant_blocks.h"

#include <arm_neon.h>
#include <math.h>
#include <string.h>

/* ---------------------------------------------------------------- floats */

/* 4 floats of x and y: widened by the caller's loader. */
typedef float32x4_t (*load4_fn)(const void *p, int64_t i);

static inline float32x4_t load4_f32(const void *p, int64_t i) { return vld1q_f32((const float *)p + i); }

static inline float32x4_t load4_f16(const void *p, int64_t i) {
    return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16((const uint16_t *)p + i)));
}

static inline float32x4_t load4_bf16(const void *p, int64_t i) {
    return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16((const uint16_t *)p + i), 16));
}

/* The shared loop; always inlined with a constant loader, so no indirect
 * calls remain. Returns the sum of the first n4 = n - n % 4 products. */
static inline __attribute__((always_inline)) float dot_f32x4(int64_t n4, const void *x, const void *y, load4_fn load) {
    float32x4_t acc[4] = { vdupq_n_f32(0.0f), vdupq_n_f32(0.0f), vdupq_n_f32(0.0f), vdupq_n_f32(0.0f) };
    int64_t i = 0;
    for (; i + 16 <= n4; i += 16) {
        for (int k = 0; k < 4; k++) acc[k] = vfmaq_f32(acc[k], load(x, i + 4 * k), load(y, i + 4 * k));
    }
    for (; i < n4; i += 4) acc[0] = vfmaq_f32(acc[0], load(x, i), load(y, i));
    return vaddvq_f32(vaddq_f32(vaddq_f32(acc[0], acc[1]), vaddq_f32(acc[2], acc[3])));
}

void nib_vec_dot_f32_f32_neon(int64_t n, float *out, const void *vx, const void *vy) {
    const float *x = vx, *y = vy; /* [n], [n] */
    const int64_t n4 = n & ~(int64_t)3;
    float sum = dot_f32x4(n4, x, y, load4_f32);
    for (int64_t i = n4; i < n; i++) sum += x[i] * y[i];
    *out = sum;
}

void nib_vec_dot_f16_f16_neon(int64_t n, float *out, const void *vx, const void *vy) {
    const uint16_t *x = vx, *y = vy; /* [n], [n] */
    const int64_t n4 = n & ~(int64_t)3;
    float sum = dot_f32x4(n4, x, y, load4_f16);
    for (int64_t i = n4; i < n; i++) sum += nib_fp16_to_fp32(x[i]) * nib_fp16_to_fp32(y[i]);
    *out = sum;
}

void nib_vec_dot_bf16_bf16_neon(int64_t n, float *out, const void *vx, const void *vy) {
    const uint16_t *x = vx, *y = vy; /* [n], [n] */
    const int64_t n4 = n & ~(int64_t)3;
    float sum = dot_f32x4(n4, x, y, load4_bf16);
    for (int64_t i = n4; i < n; i++) sum += nib_bf16_to_fp32(x[i]) * nib_bf16_to_fp32(y[i]);
    *out = sum;
}

/* ------------------------------------------------------------ quantizers */

/* max |x[i]| over 4 * n_vec4 floats. maxNum, like the reference's fmaxf
 * (and its Q8_K `ax > amax`), skips NaNs. */
static inline float amax_f32(const float *x, int n_vec4) {
    float32x4_t m = vdupq_n_f32(0.0f);
    for (int k = 0; k < n_vec4; k++) m = vmaxnmq_f32(m, vabsq_f32(vld1q_f32(x + 4 * k)));
    return vmaxnmvq_f32(m);
}

/* 16 floats times m, rounded half to even, to int8 (values already lie in
 * [-127, 127]; the saturating narrowings never clip). */
static inline int8x16_t round16(const float *x, float m) {
    int32x4_t q[4];
    for (int k = 0; k < 4; k++) q[k] = vcvtnq_s32_f32(vmulq_n_f32(vld1q_f32(x + 4 * k), m));
    const int16x8_t lo = vcombine_s16(vqmovn_s32(q[0]), vqmovn_s32(q[1]));
    const int16x8_t hi = vcombine_s16(vqmovn_s32(q[2]), vqmovn_s32(q[3]));
    return vcombine_s8(vqmovn_s16(lo), vqmovn_s16(hi));
}

void nib_quantize_act_q8_0_neon(const float *x, void *vy, int64_t n) {
    struct nib_block_q8_0 *y = vy; /* [n/32] */
    for (int64_t b = 0; b < n / NIB_QK8_0; b++, x += NIB_QK8_0) {
        const float amax = amax_f32(x, NIB_QK8_0 / 4);
        const float d = amax / 127.f, id = amax != 0.0f ? 127.f / amax : 0.0f;
        y[b].d = nib_fp32_to_fp16(d);
        vst1q_s8(y[b].qs, round16(x, id));
        vst1q_s8(y[b].qs + 16, round16(x + 16, id));
    }
}

void nib_quantize_act_q8_1_neon(const float *x, void *vy, int64_t n) {
    struct nib_block_q8_1 *y = vy; /* [n/32] */
    for (int64_t b = 0; b < n / NIB_QK8_1; b++, x += NIB_QK8_1) {
        const float amax = amax_f32(x, NIB_QK8_1 / 4);
        const float d = amax / 127.f, id = amax != 0.0f ? 127.f / amax : 0.0f;
        const int8x16_t q0 = round16(x, id), q1 = round16(x + 16, id);
        vst1q_s8(y[b].qs, q0);
        vst1q_s8(y[b].qs + 16, q1);
        const int32_t sum = (int32_t)vaddlvq_s8(q0) + (int32_t)vaddlvq_s8(q1);
        y[b].d = nib_fp32_to_fp16(d);
        y[b].s = nib_fp32_to_fp16(d * (float)sum);
    }
}

/* Q8_K: scaled by -127 / max, max being the first element of largest
 * magnitude (with its sign), quants capped at 127 as the reference does. */
void nib_quantize_act_q8_K_neon(const float *x, void *vy, int64_t n) {
    struct nib_block_q8_K *y = vy; /* [n/256] */
    for (int64_t b = 0; b < n / NIB_QK_K; b++, x += NIB_QK_K) {
        const float amax = amax_f32(x, NIB_QK_K / 4);
        if (amax == 0.0f) {
            memset(&y[b], 0, sizeof(y[b]));
            continue;
        }
        int j = 0;
        while (j < NIB_QK_K - 1 && fabsf(x[j]) != amax) j++;
        const float iscale = -127.f / x[j];
        const int32x4_t cap = vdupq_n_s32(127);
        for (int g = 0; g < NIB_QK_K / 16; g++) {
            int32x4_t q[4];
            for (int k = 0; k < 4; k++) {
                q[k] = vminq_s32(vcvtnq_s32_f32(vmulq_n_f32(vld1q_f32(x + 16 * g + 4 * k), iscale)), cap);
            }
            const int16x8_t lo = vcombine_s16(vqmovn_s32(q[0]), vqmovn_s32(q[1]));
            const int16x8_t hi = vcombine_s16(vqmovn_s32(q[2]), vqmovn_s32(q[3]));
            vst1q_s8(y[b].qs + 16 * g, vcombine_s8(vqmovn_s16(lo), vqmovn_s16(hi)));
            y[b].bsums[g] = (int16_t)vaddvq_s16(vaddq_s16(lo, hi));
        }
        y[b].d = 1.0f / iscale;
    }
}
