/*
 * Importance-weighted quantization of one row to the K-quants Q2_K..Q6_K,
 * bit-identical with ggml's quantize_row_q*_K_impl (what quantize_q2_K etc.
 * run when given quant_weights, e.g. by llama-quantize --imatrix).
 *
 * Per 256-element super-block: element weights qw[j] * sqrt(sigma2 + x[j]^2)
 * with sigma2 = mean(x^2) of the super-block (Q2_K) or twice it (Q3_K, Q4_K,
 * Q5_K); Q6_K weighs by qw alone (nib_quant_q6_K_row). Sub-block scales come
 * from the weighted searches (make_qkx3_quants, make_qx_quants), and the
 * scales themselves are quantized by a search weighted with the sub-block
 * weight sums (make_qp_quants, make_qx_quants for Q3_K) rather than rounded
 * against the largest scale as the reference path does. Then every value is
 * re-quantized with the rounded scales (sub-blocks whose scale rounds to zero
 * keep their first-stage quants).
 */
#include "quant_blocks.h"

#include "fp16.h"
#include "quant_search.h"

#include <math.h>
#include <string.h>

/* sum of x^2 over one super-block, in order */
static float sum_sq(const float *x) {
    float s = 0.0f;
    for (int j = 0; j < NIB_QK_K; j++) {
        const float sq = x[j] * x[j];
        s += sq;
    }
    return s;
}

/* weight[l] = qw[l] * sqrt(sigma2 + x[l]^2) for n elements; returns their sum */
static float group_weights(int n, const float *x, const float *qw, float sigma2, float *weight) {
    float sumw = 0.0f;
    for (int l = 0; l < n; l++) {
        const float sq = x[l] * x[l];
        const float s  = sigma2 + sq;
        weight[l] = qw[l] * sqrtf(s);
    }
    for (int l = 0; l < n; l++) sumw += weight[l];
    return sumw;
}

/* ------------------------------------------------------------- Q2_K */

void nib_quant_weighted_q2_K(const float *src, void *dst, int64_t n, const float *qw) {
    struct nib_block_q2_K *y = dst; /* [n/256] */
    const struct nib_qkx_params par = {3, -0.9f, 0.05f, 36, false};
    for (int64_t i = 0; i < n / NIB_QK_K; i++) {
        const float *x = src + i * NIB_QK_K;
        const float *qwi = qw + i * NIB_QK_K;
        uint8_t L[NIB_QK_K], Ls[16], Lm[16];
        float mins[16], scales[16], sw[16], weight[16];
        const float sigma2 = sum_sq(x) / NIB_QK_K;
        for (int j = 0; j < 16; j++) {
            sw[j] = group_weights(16, x + 16 * j, qwi + 16 * j, sigma2, weight);
            scales[j] = nib_make_qkx_quants(16, x + 16 * j, weight, L + 16 * j, &mins[j], &par);
        }
        const float dm0 = nib_make_qp_quants(16, 15, scales, Ls, sw);
        const float mm0 = nib_make_qp_quants(16, 15, mins, Lm, sw);
        y[i].d    = nib_fp32_to_fp16(dm0);
        y[i].dmin = nib_fp32_to_fp16(mm0);
        const float dm = nib_fp16_to_fp32(y[i].d);
        const float mm = nib_fp16_to_fp32(y[i].dmin);
        for (int j = 0; j < 16; j++) y[i].scales[j] = (uint8_t)(Ls[j] | (Lm[j] << 4));
        for (int j = 0; j < 16; j++) {
            const float d = dm * (float)(y[i].scales[j] & 0xF);
            if (d == 0.0f) continue;
            const float m = mm * (float)(y[i].scales[j] >> 4);
            for (int l = 0; l < 16; l++) {
                const float t = x[16 * j + l] + m;
                L[16 * j + l] = (uint8_t)nib_clamp_int(nib_nearest_int(t / d), 0, 3);
            }
        }
        nib_pack_2bit(L, y[i].qs);
    }
}

/* ------------------------------------------------------------- Q3_K */

/* Sixteen 6-bit scale codes Ls (0..63) into the 12 packed bytes. */
static void q3_K_pack(const int8_t *Ls, uint8_t *packed /* [12] */) {
    memset(packed, 0, 12);
    for (int j = 0; j < 16; j++) {
        int l = Ls[j];
        if (j < 8) {
            packed[j] = (uint8_t)(l & 0xF);
        } else {
            packed[j - 8] |= (uint8_t)((l & 0xF) << 4);
        }
        l >>= 4;
        packed[j % 4 + 8] |= (uint8_t)(l << (2 * (j / 4)));
    }
}

void nib_quant_weighted_q3_K(const float *src, void *dst, int64_t n, const float *qw) {
    struct nib_block_q3_K *y = dst; /* [n/256] */
    for (int64_t i = 0; i < n / NIB_QK_K; i++) {
        const float *x = src + i * NIB_QK_K;
        const float *qwi = qw + i * NIB_QK_K;
        int8_t L[NIB_QK_K], Ls[16];
        float scales[16], sw[16], weight[16];
        const float sigma2 = 2 * sum_sq(x) / NIB_QK_K;
        for (int j = 0; j < 16; j++) {
            sw[j] = group_weights(16, x + 16 * j, qwi + 16 * j, sigma2, weight);
            scales[j] = nib_make_qx_quants(16, 4, x + 16 * j, L + 16 * j, weight);
        }
        const float d_block = nib_make_qx_quants(16, 32, scales, Ls, sw);
        q3_K_pack(Ls, y[i].scales);
        y[i].d = nib_fp32_to_fp16(d_block);
        nib_q3_K_quants(x, L, &y[i]);
    }
}

/* ------------------------------------------------------ Q4_K / Q5_K */

/* Shared by Q4_K (nmax 15) and Q5_K (nmax 31): the 6-bit packed scales, the
 * two fp16 super-scales and the final quants L[256] in [0, nmax]. ggml's
 * Q5_K clamps the scale codes to 63 before packing, Q4_K does not (make_qp_quants
 * caps them at 63 already, except for wrapped negative codes). */
static void q45_K_weighted(const float *x, const float *qw, int nmax, uint8_t *packed /* [12] */,
                           uint16_t *d_out, uint16_t *dmin_out, uint8_t *L /* [256] */) {
    const struct nib_qkx_params par = {nmax, -0.9f, 0.05f, 36, false};
    uint8_t Ls[8], Lm[8];
    float weights[32], sw[8], mins[8], scales[8];
    const float sigma2 = 2 * sum_sq(x) / NIB_QK_K;
    for (int j = 0; j < 8; j++) {
        sw[j] = group_weights(32, x + 32 * j, qw + 32 * j, sigma2, weights);
        scales[j] = nib_make_qkx_quants(32, x + 32 * j, weights, L + 32 * j, &mins[j], &par);
    }
    const float d_block = nib_make_qp_quants(8, 63, scales, Ls, sw);
    const float m_block = nib_make_qp_quants(8, 63, mins, Lm, sw);
    for (int j = 0; j < 8; j++) {
        uint8_t ls = Ls[j], lm = Lm[j];
        if (nmax == 31) {
            ls = ls < 63 ? ls : 63;
            lm = lm < 63 ? lm : 63;
        }
        nib_pack_scale_min_k4(j, ls, lm, packed);
    }
    *d_out    = nib_fp32_to_fp16(d_block);
    *dmin_out = nib_fp32_to_fp16(m_block);
    nib_q45_K_levels(x, packed, *d_out, *dmin_out, nmax, L);
}

void nib_quant_weighted_q4_K(const float *src, void *dst, int64_t n, const float *qw) {
    struct nib_block_q4_K *y = dst; /* [n/256] */
    for (int64_t i = 0; i < n / NIB_QK_K; i++) {
        uint8_t L[NIB_QK_K];
        q45_K_weighted(src + i * NIB_QK_K, qw + i * NIB_QK_K, 15, y[i].scales, &y[i].d, &y[i].dmin, L);
        for (int j = 0; j < NIB_QK_K; j += 64) {
            for (int l = 0; l < 32; l++) y[i].qs[j / 2 + l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 4));
        }
    }
}

void nib_quant_weighted_q5_K(const float *src, void *dst, int64_t n, const float *qw) {
    struct nib_block_q5_K *y = dst; /* [n/256] */
    for (int64_t i = 0; i < n / NIB_QK_K; i++) {
        uint8_t L[NIB_QK_K];
        q45_K_weighted(src + i * NIB_QK_K, qw + i * NIB_QK_K, 31, y[i].scales, &y[i].d, &y[i].dmin, L);
        nib_pack_q5_K(L, &y[i]);
    }
}

/* ------------------------------------------------------------- Q6_K */

void nib_quant_weighted_q6_K(const float *src, void *dst, int64_t n, const float *qw) {
    nib_quant_q6_K_row(src, dst, n, qw);
}
