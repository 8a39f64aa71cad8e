/*
 * Scalar reference dot products for the float types and the 32-element
 * legacy quants, each against its activation partner type:
 *   F32·F32, F16·F16, BF16·BF16 (products in float, sum in double),
 *   Q4_0·Q8_0, Q5_0·Q8_0, Q8_0·Q8_0, Q4_1·Q8_1, Q5_1·Q8_1
 *   (exact int32 sum per block, then one float update per block).
 * Bit-exact with ggml's scalar paths (ggml_vec_dot_f32/f16/bf16 without SIMD,
 * ggml_vec_dot_*_generic): same float operations in the same order.
 */
#include "quant_blocks.h"

#include "fp16.h"

static uint32_t load_u32_le(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

void nib_vec_dot_f32_f32(int64_t n, float *out, const void *vx, const void *vy) {
    const float *x = vx, *y = vy; /* [n], [n] */
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) {
        const float p = x[i] * y[i];
        sum += (double)p;
    }
    *out = (float)sum;
}

void nib_vec_dot_f16_f16(int64_t n, float *out, const void *vx, const void *vy) {
    const uint16_t *x = vx, *y = vy; /* [n], [n] */
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) {
        const float p = nib_fp16_to_fp32(x[i]) * nib_fp16_to_fp32(y[i]);
        sum += (double)p;
    }
    *out = (float)sum;
}

void nib_vec_dot_bf16_bf16(int64_t n, float *out, const void *vx, const void *vy) {
    const uint16_t *x = vx, *y = vy; /* [n], [n] */
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) {
        const float p = nib_bf16_to_fp32(x[i]) * nib_bf16_to_fp32(y[i]);
        sum += (double)p;
    }
    *out = (float)sum;
}

void nib_vec_dot_q4_0_q8_0(int64_t n, float *out, const void *vx, const void *vy) {
    const struct nib_block_q4_0 *x = vx; /* [n/32] */
    const struct nib_block_q8_0 *y = vy; /* [n/32] */
    const int64_t nb = n / NIB_QK8_0;
    float sumf = 0.0f;
    for (int64_t ib = 0; ib < nb; ib++) {
        int sumi = 0;
        for (int j = 0; j < NIB_QK8_0 / 2; j++) {
            const int v0 = (x[ib].qs[j] & 0x0F) - 8;
            const int v1 = (x[ib].qs[j] >> 4) - 8;
            sumi += v0 * y[ib].qs[j] + v1 * y[ib].qs[j + NIB_QK8_0 / 2];
        }
        /* ggml: sumf += sumi * dx * dy, evaluated left to right */
        const float t = (float)sumi * nib_fp16_to_fp32(x[ib].d);
        const float u = t * nib_fp16_to_fp32(y[ib].d);
        sumf += u;
    }
    *out = sumf;
}

void nib_vec_dot_q4_1_q8_1(int64_t n, float *out, const void *vx, const void *vy) {
    const struct nib_block_q4_1 *x = vx; /* [n/32] */
    const struct nib_block_q8_1 *y = vy; /* [n/32] */
    const int64_t nb = n / NIB_QK8_1;
    float sumf = 0.0f;
    for (int64_t ib = 0; ib < nb; ib++) {
        int sumi = 0;
        for (int j = 0; j < NIB_QK8_1 / 2; j++) {
            const int v0 = x[ib].qs[j] & 0x0F;
            const int v1 = x[ib].qs[j] >> 4;
            sumi += v0 * y[ib].qs[j] + v1 * y[ib].qs[j + NIB_QK8_1 / 2];
        }
        /* ggml: sumf += (dx * dy) * sumi + mx * sy; y.s carries dy * sum(qy) */
        const float dd = nib_fp16_to_fp32(x[ib].d) * nib_fp16_to_fp32(y[ib].d);
        const float a  = dd * (float)sumi;
        const float b  = nib_fp16_to_fp32(x[ib].m) * nib_fp16_to_fp32(y[ib].s);
        const float ab = a + b;
        sumf += ab;
    }
    *out = sumf;
}

void nib_vec_dot_q5_0_q8_0(int64_t n, float *out, const void *vx, const void *vy) {
    const struct nib_block_q5_0 *x = vx; /* [n/32] */
    const struct nib_block_q8_0 *y = vy; /* [n/32] */
    const int64_t nb = n / NIB_QK8_0;
    float sumf = 0.0f;
    for (int64_t ib = 0; ib < nb; ib++) {
        const uint32_t qh = load_u32_le(x[ib].qh);
        int sumi = 0;
        for (int j = 0; j < NIB_QK8_0 / 2; j++) {
            const int h0 = (int)((qh >> j) & 1) << 4;
            const int h1 = (int)((qh >> (j + 16)) & 1) << 4;
            const int v0 = ((x[ib].qs[j] & 0x0F) | h0) - 16;
            const int v1 = ((x[ib].qs[j] >> 4) | h1) - 16;
            sumi += v0 * y[ib].qs[j] + v1 * y[ib].qs[j + NIB_QK8_0 / 2];
        }
        const float dd = nib_fp16_to_fp32(x[ib].d) * nib_fp16_to_fp32(y[ib].d);
        const float t  = dd * (float)sumi;
        sumf += t;
    }
    *out = sumf;
}

void nib_vec_dot_q5_1_q8_1(int64_t n, float *out, const void *vx, const void *vy) {
    const struct nib_block_q5_1 *x = vx; /* [n/32] */
    const struct nib_block_q8_1 *y = vy; /* [n/32] */
    const int64_t nb = n / NIB_QK8_1;
    float sumf = 0.0f;
    for (int64_t ib = 0; ib < nb; ib++) {
        const uint32_t qh = load_u32_le(x[ib].qh);
        int sumi = 0;
        for (int j = 0; j < NIB_QK8_1 / 2; j++) {
            const int h0 = (int)((qh >> j) & 1) << 4;
            const int h1 = (int)((qh >> (j + 16)) & 1) << 4;
            const int v0 = (x[ib].qs[j] & 0x0F) | h0;
            const int v1 = (x[ib].qs[j] >> 4) | h1;
            sumi += v0 * y[ib].qs[j] + v1 * y[ib].qs[j + NIB_QK8_1 / 2];
        }
        const float dd = nib_fp16_to_fp32(x[ib].d) * nib_fp16_to_fp32(y[ib].d);
        const float a  = dd * (float)sumi;
        const float b  = nib_fp16_to_fp32(x[ib].m) * nib_fp16_to_fp32(y[ib].s);
        const float ab = a + b;
        sumf += ab;
    }
    *out = sumf;
}

void nib_vec_dot_q8_0_q8_0(int64_t n, float *out, const void *vx, const void *vy) {
    const struct nib_block_q8_0 *x = vx; /* [n/32] */
    const struct nib_block_q8_0 *y = vy; /* [n/32] */
    const int64_t nb = n / NIB_QK8_0;
    float sumf = 0.0f;
    for (int64_t ib = 0; ib < nb; ib++) {
        int sumi = 0;
        for (int j = 0; j < NIB_QK8_0; j++) sumi += x[ib].qs[j] * y[ib].qs[j];
        /* ggml: sumf += sumi * (dx * dy) */
        const float dd = nib_fp16_to_fp32(x[ib].d) * nib_fp16_to_fp32(y[ib].d);
        const float t  = (float)sumi * dd;
        sumf += t;
    }
    *out = sumf;
}
