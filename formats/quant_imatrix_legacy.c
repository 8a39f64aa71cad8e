/*
 * Importance-weighted quantization of one row to the 32-element legacy
 * quants, bit-identical with ggml's quantize_row_q4_0/q4_1/q5_0/q5_1_impl
 * (what quantize_q4_0 etc. run when given quant_weights, e.g. by
 * llama-quantize --imatrix).
 *
 * Every block gets per-element weights qw[j] * sqrt(sigma2 + x[j]^2), sigma2
 * the mean of x^2 over the WHOLE ROW, and its scale from a weighted search:
 * make_qx_quants for the symmetric Q4_0/Q5_0, make_qkx3_quants for Q4_1/Q5_1
 * (whose min is then not the block minimum, unlike the reference rounding).
 * Q8_0 and the float types ignore the weights, as ggml's quantize_q8_0 and
 * ggml_quantize_chunk do.
 */
#include "quant_blocks.h"

#include "fp16.h"
#include "quant_search.h"

#include <math.h>
#include <string.h>

/* mean of x^2 over the row, summed in order as ggml does */
static float row_sigma2(const float *x, int64_t n) {
    float sum_x2 = 0.0f;
    for (int64_t j = 0; j < n; j++) {
        const float sq = x[j] * x[j];
        sum_x2 += sq;
    }
    return sum_x2 / (float)n;
}

/* weight[j] = qw[j] * sqrt(sigma2 + x[j]^2) for one block of 32 */
static void block_weights(const float *xb, const float *qw, float sigma2, float *weight /* [32] */) {
    for (int j = 0; j < 32; j++) {
        const float sq = xb[j] * xb[j];
        const float s  = sigma2 + sq;
        weight[j] = qw[j] * sqrtf(s);
    }
}

static void store_u32_le(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

void nib_quant_weighted_q4_0(const float *src, void *dst, int64_t n, const float *qw) {
    struct nib_block_q4_0 *y = dst; /* [n/32] */
    const float sigma2 = row_sigma2(src, n);
    for (int64_t ib = 0; ib < n / NIB_QK4_0; ib++) {
        const float *xb = src + NIB_QK4_0 * ib;
        float weight[NIB_QK4_0];
        int8_t L[NIB_QK4_0];
        block_weights(xb, qw + NIB_QK4_0 * ib, sigma2, weight);
        const float d = nib_make_qx_quants(NIB_QK4_0, 8, xb, L, weight);
        y[ib].d = nib_fp32_to_fp16(d);
        for (int j = 0; j < 16; j++) y[ib].qs[j] = (uint8_t)(L[j] | (L[j + 16] << 4));
    }
}

/* Q4_1 / Q5_1: asymmetric, nmax 15 / 31; L[32] and the fp16 d, m. */
static void weighted_qkx_block(const float *xb, const float *qw, float sigma2, int nmax, uint8_t *L,
                               uint16_t *d_out, uint16_t *m_out) {
    const struct nib_qkx_params par = {nmax, -0.9f, 0.05f, 36, false};
    float weight[32];
    block_weights(xb, qw, sigma2, weight);
    float min;
    const float d = nib_make_qkx_quants(32, xb, weight, L, &min, &par);
    *d_out = nib_fp32_to_fp16(d);
    *m_out = nib_fp32_to_fp16(-min);
}

void nib_quant_weighted_q4_1(const float *src, void *dst, int64_t n, const float *qw) {
    struct nib_block_q4_1 *y = dst; /* [n/32] */
    const float sigma2 = row_sigma2(src, n);
    for (int64_t ib = 0; ib < n / NIB_QK4_1; ib++) {
        uint8_t L[NIB_QK4_1];
        weighted_qkx_block(src + NIB_QK4_1 * ib, qw + NIB_QK4_1 * ib, sigma2, 15, L, &y[ib].d, &y[ib].m);
        for (int j = 0; j < 16; j++) y[ib].qs[j] = (uint8_t)(L[j] | (L[j + 16] << 4));
    }
}

/* low nibbles into qs, 5th bits into qh (Q5_0 / Q5_1 layout) */
static void pack_q5(const uint8_t *L /* [32] */, uint8_t *qs /* [16] */, uint8_t *qh /* [4] */) {
    uint32_t h = 0;
    for (int j = 0; j < 16; j++) {
        const uint8_t xi0 = L[j], xi1 = L[j + 16];
        qs[j] = (uint8_t)((xi0 & 0x0F) | ((xi1 & 0x0F) << 4));
        h |= ((xi0 & 0x10u) >> 4) << j;
        h |= ((xi1 & 0x10u) >> 4) << (j + 16);
    }
    store_u32_le(qh, h);
}

void nib_quant_weighted_q5_0(const float *src, void *dst, int64_t n, const float *qw) {
    struct nib_block_q5_0 *y = dst; /* [n/32] */
    const float sigma2 = row_sigma2(src, n);
    for (int64_t ib = 0; ib < n / NIB_QK5_0; ib++) {
        const float *xb = src + NIB_QK5_0 * ib;
        float weight[NIB_QK5_0];
        int8_t L[NIB_QK5_0];
        block_weights(xb, qw + NIB_QK5_0 * ib, sigma2, weight);
        const float d = nib_make_qx_quants(NIB_QK5_0, 16, xb, L, weight);
        y[ib].d = nib_fp32_to_fp16(d);
        uint8_t Lu[NIB_QK5_0];
        for (int j = 0; j < NIB_QK5_0; j++) Lu[j] = (uint8_t)L[j];
        pack_q5(Lu, y[ib].qs, y[ib].qh);
    }
}

void nib_quant_weighted_q5_1(const float *src, void *dst, int64_t n, const float *qw) {
    struct nib_block_q5_1 *y = dst; /* [n/32] */
    const float sigma2 = row_sigma2(src, n);
    for (int64_t ib = 0; ib < n / NIB_QK5_1; ib++) {
        uint8_t L[NIB_QK5_1];
        weighted_qkx_block(src + NIB_QK5_1 * ib, qw + NIB_QK5_1 * ib, sigma2, 31, L, &y[ib].d, &y[ib].m);
        pack_q5(L, y[ib].qs, y[ib].qh);
    }
}

/* ggml ignores quant_weights for these (quantize_q8_0, ggml_quantize_chunk). */
void nib_quant_weighted_q8_0(const float *src, void *dst, int64_t n, const float *qw) {
    (void)qw;
    nib_quant_from_float_q8_0(src, dst, n);
}

void nib_quant_weighted_f32(const float *src, void *dst, int64_t n, const float *qw) {
    (void)qw;
    nib_quant_from_float_f32(src, dst, n);
}

void nib_quant_weighted_f16(const float *src, void *dst, int64_t n, const float *qw) {
    (void)qw;
    nib_quant_from_float_f16(src, dst, n);
}

void nib_quant_weighted_bf16(const float *src, void *dst, int64_t n, const float *qw) {
    (void)qw;
    nib_quant_from_float_bf16(src, dst, n);
}
