/*
 * vec_dot_neon_quants.h — aarch64 NEON dot products of every quantized weight
 * type with its activation partner (Q8_0, Q8_1, Q8_K), as static inline
 * bodies shared by the two integer variants:
 *   vec_dot_neon_i8.c       plain ARMv8-A (vmull_s8 + vpadalq_s16),
 *   vec_dot_neon_dotprod.c  built with +dotprod (vdotq_s32).
 * Each includer first defines
 *   static inline int32x4_t neon_dot_i8(int32x4_t acc, int8x16_t a, int8x16_t b);
 * which adds the 16 products a[k] * b[k] into acc. How the products spread
 * over the four lanes is the includer's choice: every caller here uses only
 * the lanes' total, or converts each lane (a sum of at most 8 products, below
 * 2^24, so exact) to float. This is the one header in kernels/cpu that is not
 * self-contained; it is never included elsewhere.
 *
 * Integer sums are exact and fit int32 (the largest, Q6_K, stays below 2^28),
 * so only the float steps differ from the reference: legacy quants add one
 * fused scale-times-lane step per block into one of two 4-lane accumulators
 * (Q4_1/Q5_1 add their min terms into a scalar); K-quants add d * isum per
 * block into one scalar and the min term into another, combined at the end.
 * No float chain is longer than the number of blocks plus 4, the bound
 * tests/test_kernels.cc allows.
 */
#ifndef NIB_VEC_DOT_NEON_QUANTS_H
#define NIB_VEC_DOT_NEON_QUANTS_H

#include "fp16.h"
#include "quant_blocks.h"

#include <arm_neon.h>
#include <string.h>

static inline int8x16_t nq_s8(uint8x16_t v) { return vreinterpretq_s8_u8(v); }

/* Sum of the 32 products of two int8x16 pairs. */
static inline int32_t nq_dot32(int8x16_t a0, int8x16_t b0, int8x16_t a1, int8x16_t b1) {
    return vaddvq_s32(neon_dot_i8(neon_dot_i8(vdupq_n_s32(0), a0, b0), a1, b1));
}

/* Q5_0/Q5_1: the 32 fifth bits (a little-endian uint32) as 0x10 bytes:
 * *lo for elements 0..15, *hi for 16..31. */
static inline void nq_q5_high_bits(const uint8_t *qh4, uint8x16_t *lo, uint8x16_t *hi) {
    static const uint8_t idx_lo[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1 };
    static const uint8_t idx_hi[16] = { 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3 };
    static const uint8_t bit[16] = { 1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128 };
    uint32_t w;
    memcpy(&w, qh4, sizeof(w));
    const uint8x16_t bytes = vreinterpretq_u8_u32(vdupq_n_u32(w));
    const uint8x16_t b = vld1q_u8(bit), m = vdupq_n_u8(0x10);
    *lo = vandq_u8(vtstq_u8(vqtbl1q_u8(bytes, vld1q_u8(idx_lo)), b), m);
    *hi = vandq_u8(vtstq_u8(vqtbl1q_u8(bytes, vld1q_u8(idx_hi)), b), m);
}

/* ------------------------------------------------ 32-element legacy quants */

/* One block's products, spread over four lanes. */
static inline int32x4_t nq_block_q4_0(const struct nib_block_q4_0 *x, const struct nib_block_q8_0 *y) {
    const uint8x16_t q = vld1q_u8(x->qs);
    const int8x16_t eight = vdupq_n_s8(8);
    const int8x16_t lo = vsubq_s8(nq_s8(vandq_u8(q, vdupq_n_u8(0x0F))), eight);
    const int8x16_t hi = vsubq_s8(nq_s8(vshrq_n_u8(q, 4)), eight);
    return neon_dot_i8(neon_dot_i8(vdupq_n_s32(0), lo, vld1q_s8(y->qs)), hi, vld1q_s8(y->qs + 16));
}

static inline int32x4_t nq_block_q4_1(const struct nib_block_q4_1 *x, const struct nib_block_q8_1 *y) {
    const uint8x16_t q = vld1q_u8(x->qs);
    const int8x16_t lo = nq_s8(vandq_u8(q, vdupq_n_u8(0x0F))), hi = nq_s8(vshrq_n_u8(q, 4));
    return neon_dot_i8(neon_dot_i8(vdupq_n_s32(0), lo, vld1q_s8(y->qs)), hi, vld1q_s8(y->qs + 16));
}

static inline int32x4_t nq_block_q5_0(const struct nib_block_q5_0 *x, const struct nib_block_q8_0 *y) {
    uint8x16_t h_lo, h_hi;
    nq_q5_high_bits(x->qh, &h_lo, &h_hi);
    const uint8x16_t q = vld1q_u8(x->qs);
    const int8x16_t sixteen = vdupq_n_s8(16);
    const int8x16_t lo = vsubq_s8(nq_s8(vorrq_u8(vandq_u8(q, vdupq_n_u8(0x0F)), h_lo)), sixteen);
    const int8x16_t hi = vsubq_s8(nq_s8(vorrq_u8(vshrq_n_u8(q, 4), h_hi)), sixteen);
    return neon_dot_i8(neon_dot_i8(vdupq_n_s32(0), lo, vld1q_s8(y->qs)), hi, vld1q_s8(y->qs + 16));
}

static inline int32x4_t nq_block_q5_1(const struct nib_block_q5_1 *x, const struct nib_block_q8_1 *y) {
    uint8x16_t h_lo, h_hi;
    nq_q5_high_bits(x->qh, &h_lo, &h_hi);
    const uint8x16_t q = vld1q_u8(x->qs);
    const int8x16_t lo = nq_s8(vorrq_u8(vandq_u8(q, vdupq_n_u8(0x0F)), h_lo));
    const int8x16_t hi = nq_s8(vorrq_u8(vshrq_n_u8(q, 4), h_hi));
    return neon_dot_i8(neon_dot_i8(vdupq_n_s32(0), lo, vld1q_s8(y->qs)), hi, vld1q_s8(y->qs + 16));
}

static inline int32x4_t nq_block_q8_0(const struct nib_block_q8_0 *x, const struct nib_block_q8_0 *y) {
    return neon_dot_i8(neon_dot_i8(vdupq_n_s32(0), vld1q_s8(x->qs), vld1q_s8(y->qs)), vld1q_s8(x->qs + 16),
                       vld1q_s8(y->qs + 16));
}

/* acc += lanes * (dx * dy), dx and dy the blocks' fp16 scales. */
static inline float32x4_t nq_fma_lanes(float32x4_t acc, int32x4_t lanes, uint16_t dx, uint16_t dy) {
    return vfmaq_n_f32(acc, vcvtq_f32_s32(lanes), nib_fp16_to_fp32(dx) * nib_fp16_to_fp32(dy));
}

/* Even and odd blocks go to two accumulators (two independent chains). */
static inline void nq_q4_0(int64_t n, float *out, const void *vx, const void *vy) {
    const struct nib_block_q4_0 *x = vx; /* [n/32] */
    const struct nib_block_q8_0 *y = vy; /* [n/32] */
    const int64_t nb = n / NIB_QK8_0;
    float32x4_t acc0 = vdupq_n_f32(0.0f), acc1 = vdupq_n_f32(0.0f);
    int64_t i = 0;
    for (; i + 2 <= nb; i += 2) {
        acc0 = nq_fma_lanes(acc0, nq_block_q4_0(x + i, y + i), x[i].d, y[i].d);
        acc1 = nq_fma_lanes(acc1, nq_block_q4_0(x + i + 1, y + i + 1), x[i + 1].d, y[i + 1].d);
    }
    if (i < nb) acc0 = nq_fma_lanes(acc0, nq_block_q4_0(x + i, y + i), x[i].d, y[i].d);
    *out = vaddvq_f32(vaddq_f32(acc0, acc1));
}

static inline void nq_q5_0(int64_t n, float *out, const void *vx, const void *vy) {
    const struct nib_block_q5_0 *x = vx; /* [n/32] */
    const struct nib_block_q8_0 *y = vy; /* [n/32] */
    const int64_t nb = n / NIB_QK8_0;
    float32x4_t acc0 = vdupq_n_f32(0.0f), acc1 = vdupq_n_f32(0.0f);
    int64_t i = 0;
    for (; i + 2 <= nb; i += 2) {
        acc0 = nq_fma_lanes(acc0, nq_block_q5_0(x + i, y + i), x[i].d, y[i].d);
        acc1 = nq_fma_lanes(acc1, nq_block_q5_0(x + i + 1, y + i + 1), x[i + 1].d, y[i + 1].d);
    }
    if (i < nb) acc0 = nq_fma_lanes(acc0, nq_block_q5_0(x + i, y + i), x[i].d, y[i].d);
    *out = vaddvq_f32(vaddq_f32(acc0, acc1));
}

static inline void nq_q8_0(int64_t n, float *out, const void *vx, const void *vy) {
    const struct nib_block_q8_0 *x = vx; /* [n/32] */
    const struct nib_block_q8_0 *y = vy; /* [n/32] */
    const int64_t nb = n / NIB_QK8_0;
    float32x4_t acc0 = vdupq_n_f32(0.0f), acc1 = vdupq_n_f32(0.0f);
    int64_t i = 0;
    for (; i + 2 <= nb; i += 2) {
        acc0 = nq_fma_lanes(acc0, nq_block_q8_0(x + i, y + i), x[i].d, y[i].d);
        acc1 = nq_fma_lanes(acc1, nq_block_q8_0(x + i + 1, y + i + 1), x[i + 1].d, y[i + 1].d);
    }
    if (i < nb) acc0 = nq_fma_lanes(acc0, nq_block_q8_0(x + i, y + i), x[i].d, y[i].d);
    *out = vaddvq_f32(vaddq_f32(acc0, acc1));
}

/* Q4_1/Q5_1: plus m * s per block (y.s carries dy * sum(qy)) into a scalar. */
static inline void nq_q4_1(int64_t n, float *out, const void *vx, const void *vy) {
    const struct nib_block_q4_1 *x = vx; /* [n/32] */
    const struct nib_block_q8_1 *y = vy; /* [n/32] */
    const int64_t nb = n / NIB_QK8_1;
    float32x4_t acc0 = vdupq_n_f32(0.0f), acc1 = vdupq_n_f32(0.0f);
    float summs = 0.0f;
    int64_t i = 0;
    for (; i + 2 <= nb; i += 2) {
        acc0 = nq_fma_lanes(acc0, nq_block_q4_1(x + i, y + i), x[i].d, y[i].d);
        acc1 = nq_fma_lanes(acc1, nq_block_q4_1(x + i + 1, y + i + 1), x[i + 1].d, y[i + 1].d);
    }
    if (i < nb) acc0 = nq_fma_lanes(acc0, nq_block_q4_1(x + i, y + i), x[i].d, y[i].d);
    for (i = 0; i < nb; i++) summs += nib_fp16_to_fp32(x[i].m) * nib_fp16_to_fp32(y[i].s);
    *out = vaddvq_f32(vaddq_f32(acc0, acc1)) + summs;
}

static inline void nq_q5_1(int64_t n, float *out, const void *vx, const void *vy) {
    const struct nib_block_q5_1 *x = vx; /* [n/32] */
    const struct nib_block_q8_1 *y = vy; /* [n/32] */
    const int64_t nb = n / NIB_QK8_1;
    float32x4_t acc0 = vdupq_n_f32(0.0f), acc1 = vdupq_n_f32(0.0f);
    float summs = 0.0f;
    int64_t i = 0;
    for (; i + 2 <= nb; i += 2) {
        acc0 = nq_fma_lanes(acc0, nq_block_q5_1(x + i, y + i), x[i].d, y[i].d);
        acc1 = nq_fma_lanes(acc1, nq_block_q5_1(x + i + 1, y + i + 1), x[i + 1].d, y[i + 1].d);
    }
    if (i < nb) acc0 = nq_fma_lanes(acc0, nq_block_q5_1(x + i, y + i), x[i].d, y[i].d);
    for (i = 0; i < nb; i++) summs += nib_fp16_to_fp32(x[i].m) * nib_fp16_to_fp32(y[i].s);
    *out = vaddvq_f32(vaddq_f32(acc0, acc1)) + summs;
}

/* ------------------------------------------------------------- K-quants */

/* sum over the 16 groups of 16 of bsums[g] * m[g], m[g] unsigned bytes. */
static inline int32_t nq_bsums_dot_u8(const int16_t *bsums /* [16] */, uint8x16_t m) {
    const int16x8_t b0 = vld1q_s16(bsums), b1 = vld1q_s16(bsums + 8);
    const int16x8_t m0 = vreinterpretq_s16_u16(vmovl_u8(vget_low_u8(m)));
    const int16x8_t m1 = vreinterpretq_s16_u16(vmovl_high_u8(m));
    int32x4_t s = vmull_s16(vget_low_s16(b0), vget_low_s16(m0));
    s = vmlal_high_s16(s, b0, m0);
    s = vmlal_s16(s, vget_low_s16(b1), vget_low_s16(m1));
    s = vmlal_high_s16(s, b1, m1);
    return vaddvq_s32(s);
}

static inline void nq_q2_K(int64_t n, float *out, const void *vx, const void *vy) {
    const struct nib_block_q2_K *x = vx; /* [n/256] */
    const struct nib_block_q8_K *y = vy; /* [n/256] */
    const int64_t nb = n / NIB_QK_K;
    const uint8x16_t m3 = vdupq_n_u8(3);
    float sumf = 0.0f, summ = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        const uint8x16_t sc = vld1q_u8(x[i].scales);
        uint8_t scale[16];
        vst1q_u8(scale, vandq_u8(sc, vdupq_n_u8(0x0F)));
        const int32_t summs = nq_bsums_dot_u8(y[i].bsums, vshrq_n_u8(sc, 4));
        const int8_t *q8 = y[i].qs;
        int32_t isum = 0;
        for (int half = 0; half < 2; half++) {
            uint8x16_t b0 = vld1q_u8(x[i].qs + 32 * half), b1 = vld1q_u8(x[i].qs + 32 * half + 16);
            for (int k = 0; k < 4; k++, q8 += 32) { /* bit pair k: elements 32k..32k+31 of this half */
                const int g = 8 * half + 2 * k;
                isum += vaddvq_s32(neon_dot_i8(vdupq_n_s32(0), nq_s8(vandq_u8(b0, m3)), vld1q_s8(q8))) * scale[g];
                isum += vaddvq_s32(neon_dot_i8(vdupq_n_s32(0), nq_s8(vandq_u8(b1, m3)), vld1q_s8(q8 + 16))) * scale[g + 1];
                b0 = vshrq_n_u8(b0, 2);
                b1 = vshrq_n_u8(b1, 2);
            }
        }
        const float dall = y[i].d * nib_fp16_to_fp32(x[i].d);
        const float dmin = y[i].d * nib_fp16_to_fp32(x[i].dmin);
        sumf += dall * (float)isum;
        summ += dmin * (float)summs;
    }
    *out = sumf - summ;
}

static inline void nq_q3_K(int64_t n, float *out, const void *vx, const void *vy) {
    const struct nib_block_q3_K *x = vx; /* [n/256] */
    const struct nib_block_q8_K *y = vy; /* [n/256] */
    const int64_t nb = n / NIB_QK_K;
    const uint32_t kmask1 = 0x03030303, kmask2 = 0x0f0f0f0f;
    const uint8x16_t m3 = vdupq_n_u8(3), one = vdupq_n_u8(1);
    float sumf = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        /* The sixteen 6-bit scales (nib_q3_K_unpack_scales, four at a time), minus 32. */
        uint32_t aux[3], utmp[4];
        memcpy(aux, x[i].scales, sizeof(aux));
        utmp[0] = (aux[0] & kmask2) | (((aux[2] >> 0) & kmask1) << 4);
        utmp[1] = (aux[1] & kmask2) | (((aux[2] >> 2) & kmask1) << 4);
        utmp[2] = ((aux[0] >> 4) & kmask2) | (((aux[2] >> 4) & kmask1) << 4);
        utmp[3] = ((aux[1] >> 4) & kmask2) | (((aux[2] >> 6) & kmask1) << 4);
        int8_t scale[16];
        vst1q_s8(scale, vsubq_s8(vld1q_s8((const int8_t *)utmp), vdupq_n_s8(32)));
        uint8x16_t h0 = vld1q_u8(x[i].hmask), h1 = vld1q_u8(x[i].hmask + 16);
        const int8_t *q8 = y[i].qs;
        int32_t isum = 0;
        for (int half = 0; half < 2; half++) {
            uint8x16_t b0 = vld1q_u8(x[i].qs + 32 * half), b1 = vld1q_u8(x[i].qs + 32 * half + 16);
            for (int k = 0; k < 4; k++, q8 += 32) { /* group 4 * half + k: its hmask bit is bit 0 of h */
                const int g = 8 * half + 2 * k;
                const int8x16_t v0 = vsubq_s8(nq_s8(vandq_u8(b0, m3)), nq_s8(vshlq_n_u8(vbicq_u8(one, h0), 2)));
                const int8x16_t v1 = vsubq_s8(nq_s8(vandq_u8(b1, m3)), nq_s8(vshlq_n_u8(vbicq_u8(one, h1), 2)));
                isum += vaddvq_s32(neon_dot_i8(vdupq_n_s32(0), v0, vld1q_s8(q8))) * scale[g];
                isum += vaddvq_s32(neon_dot_i8(vdupq_n_s32(0), v1, vld1q_s8(q8 + 16))) * scale[g + 1];
                b0 = vshrq_n_u8(b0, 2);
                b1 = vshrq_n_u8(b1, 2);
                h0 = vshrq_n_u8(h0, 1);
                h1 = vshrq_n_u8(h1, 1);
            }
        }
        const float d = nib_fp16_to_fp32(x[i].d) * y[i].d;
        sumf += d * (float)isum;
    }
    *out = sumf;
}

/* Q4_K/Q5_K: the eight 6-bit scales into scale[8]; returns the sum over
 * sub-blocks of min * (sum of its 32 activation quants). */
static inline int32_t nq_q4_K_scales_mins(const uint8_t *packed /* [12] */, const int16_t *bsums, uint8_t scale[8]) {
    const uint32_t kmask1 = 0x3f3f3f3f, kmask2 = 0x0f0f0f0f, kmask3 = 0x03030303;
    uint32_t utmp[3];
    memcpy(utmp, packed, sizeof(utmp));
    const uint32_t mins_lo = utmp[1] & kmask1;
    const uint32_t mins_hi = ((utmp[2] >> 4) & kmask2) | (((utmp[1] >> 6) & kmask3) << 4);
    const uint32_t sc_lo = utmp[0] & kmask1;
    const uint32_t sc_hi = (utmp[2] & kmask2) | (((utmp[0] >> 6) & kmask3) << 4);
    memcpy(scale, &sc_lo, 4);
    memcpy(scale + 4, &sc_hi, 4);
    const int16x8_t mins = vreinterpretq_s16_u16(vmovl_u8(vcreate_u8((uint64_t)mins_lo | ((uint64_t)mins_hi << 32))));
    const int16x8_t q8sums = vpaddq_s16(vld1q_s16(bsums), vld1q_s16(bsums + 8)); /* per 32 elements */
    const int32x4_t s = vmlal_high_s16(vmull_s16(vget_low_s16(q8sums), vget_low_s16(mins)), q8sums, mins);
    return vaddvq_s32(s);
}

static inline void nq_q4_K(int64_t n, float *out, const void *vx, const void *vy) {
    const struct nib_block_q4_K *x = vx; /* [n/256] */
    const struct nib_block_q8_K *y = vy; /* [n/256] */
    const int64_t nb = n / NIB_QK_K;
    const uint8x16_t m4 = vdupq_n_u8(0x0F);
    float sumf = 0.0f, summ = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        uint8_t scale[8];
        const int32_t mins = nq_q4_K_scales_mins(x[i].scales, y[i].bsums, scale);
        const uint8_t *q4 = x[i].qs;
        const int8_t *q8 = y[i].qs;
        int32_t isum = 0;
        for (int j = 0; j < 4; j++, q4 += 32, q8 += 64) { /* 64 elements: low nibbles, then high */
            const uint8x16_t b0 = vld1q_u8(q4), b1 = vld1q_u8(q4 + 16);
            isum += nq_dot32(nq_s8(vandq_u8(b0, m4)), vld1q_s8(q8), nq_s8(vandq_u8(b1, m4)), vld1q_s8(q8 + 16)) *
                    scale[2 * j];
            isum += nq_dot32(nq_s8(vshrq_n_u8(b0, 4)), vld1q_s8(q8 + 32), nq_s8(vshrq_n_u8(b1, 4)), vld1q_s8(q8 + 48)) *
                    scale[2 * j + 1];
        }
        const float d = nib_fp16_to_fp32(x[i].d) * y[i].d;
        const float dmin = nib_fp16_to_fp32(x[i].dmin) * y[i].d;
        sumf += d * (float)isum;
        summ += dmin * (float)mins;
    }
    *out = sumf - summ;
}

static inline void nq_q5_K(int64_t n, float *out, const void *vx, const void *vy) {
    const struct nib_block_q5_K *x = vx; /* [n/256] */
    const struct nib_block_q8_K *y = vy; /* [n/256] */
    const int64_t nb = n / NIB_QK_K;
    const uint8x16_t m4 = vdupq_n_u8(0x0F), one = vdupq_n_u8(1), two = vdupq_n_u8(2);
    float sumf = 0.0f, summ = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        uint8_t scale[8];
        const int32_t mins = nq_q4_K_scales_mins(x[i].scales, y[i].bsums, scale);
        const uint8_t *q5 = x[i].qs;
        const int8_t *q8 = y[i].qs;
        uint8x16_t h0 = vld1q_u8(x[i].qh), h1 = vld1q_u8(x[i].qh + 16);
        int32_t isum = 0;
        for (int j = 0; j < 4; j++, q5 += 32, q8 += 64) { /* qh bits 2j (low nibbles) and 2j+1 (high) */
            const uint8x16_t b0 = vld1q_u8(q5), b1 = vld1q_u8(q5 + 16);
            const uint8x16_t lo0 = vorrq_u8(vandq_u8(b0, m4), vshlq_n_u8(vandq_u8(h0, one), 4));
            const uint8x16_t lo1 = vorrq_u8(vandq_u8(b1, m4), vshlq_n_u8(vandq_u8(h1, one), 4));
            const uint8x16_t hi0 = vorrq_u8(vshrq_n_u8(b0, 4), vshlq_n_u8(vandq_u8(h0, two), 3));
            const uint8x16_t hi1 = vorrq_u8(vshrq_n_u8(b1, 4), vshlq_n_u8(vandq_u8(h1, two), 3));
            isum += nq_dot32(nq_s8(lo0), vld1q_s8(q8), nq_s8(lo1), vld1q_s8(q8 + 16)) * scale[2 * j];
            isum += nq_dot32(nq_s8(hi0), vld1q_s8(q8 + 32), nq_s8(hi1), vld1q_s8(q8 + 48)) * scale[2 * j + 1];
            h0 = vshrq_n_u8(h0, 2);
            h1 = vshrq_n_u8(h1, 2);
        }
        const float d = nib_fp16_to_fp32(x[i].d) * y[i].d;
        const float dmin = nib_fp16_to_fp32(x[i].dmin) * y[i].d;
        sumf += d * (float)isum;
        summ += dmin * (float)mins;
    }
    *out = sumf - summ;
}

/* Q6_K: quants taken unsigned (0..63); the -32 comes back through the
 * activation block sums: isum - 32 * sum(scale[g] * bsums[g]). */
static inline void nq_q6_K(int64_t n, float *out, const void *vx, const void *vy) {
    const struct nib_block_q6_K *x = vx; /* [n/256] */
    const struct nib_block_q8_K *y = vy; /* [n/256] */
    const int64_t nb = n / NIB_QK_K;
    const uint8x16_t m4 = vdupq_n_u8(0x0F), m3 = vdupq_n_u8(3);
    float sumf = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        const int8_t *sc = x[i].scales;
        const int8x16_t scales = vld1q_s8(sc);
        const int16x8_t s0 = vmovl_s8(vget_low_s8(scales)), s1 = vmovl_high_s8(scales);
        const int16x8_t b0 = vld1q_s16(y[i].bsums), b1 = vld1q_s16(y[i].bsums + 8);
        int32x4_t pm = vmull_s16(vget_low_s16(b0), vget_low_s16(s0));
        pm = vmlal_high_s16(pm, b0, s0);
        pm = vmlal_s16(pm, vget_low_s16(b1), vget_low_s16(s1));
        pm = vmlal_high_s16(pm, b1, s1);
        const int32_t isum_mins = vaddvq_s32(pm);
        const int8_t *q8 = y[i].qs;
        int32_t isum = 0;
        for (int half = 0; half < 2; half++) {
            const uint8_t *ql = x[i].ql + 64 * half, *qh = x[i].qh + 32 * half;
            const uint8x16_t l0 = vld1q_u8(ql), l1 = vld1q_u8(ql + 16), l2 = vld1q_u8(ql + 32), l3 = vld1q_u8(ql + 48);
            uint8x16_t h0 = vld1q_u8(qh), h1 = vld1q_u8(qh + 16);
            /* quarter k: low nibbles of ql[0..31] (k = 0), ql[32..63] (k = 1), then
             * the high nibbles (k = 2, 3); high bits = qh bit pair k. */
            for (int k = 0; k < 4; k++, q8 += 32) {
                const uint8x16_t a = k & 1 ? l2 : l0, b = k & 1 ? l3 : l1;
                const uint8x16_t n0 = k < 2 ? vandq_u8(a, m4) : vshrq_n_u8(a, 4);
                const uint8x16_t n1 = k < 2 ? vandq_u8(b, m4) : vshrq_n_u8(b, 4);
                const uint8x16_t v0 = vorrq_u8(n0, vshlq_n_u8(vandq_u8(h0, m3), 4));
                const uint8x16_t v1 = vorrq_u8(n1, vshlq_n_u8(vandq_u8(h1, m3), 4));
                const int g = 8 * half + 2 * k;
                isum += vaddvq_s32(neon_dot_i8(vdupq_n_s32(0), nq_s8(v0), vld1q_s8(q8))) * sc[g];
                isum += vaddvq_s32(neon_dot_i8(vdupq_n_s32(0), nq_s8(v1), vld1q_s8(q8 + 16))) * sc[g + 1];
                h0 = vshrq_n_u8(h0, 2);
                h1 = vshrq_n_u8(h1, 2);
            }
        }
        const float d = nib_fp16_to_fp32(x[i].d) * y[i].d;
        sumf += d * (float)(isum - 32 * isum_mins);
    }
    *out = sumf;
}

#endif
