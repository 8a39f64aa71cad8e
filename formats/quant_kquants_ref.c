/*
 * Reference quantization to the K-quants Q2_K..Q6_K, bit-exact with ggml's
 * quantize_row_q*_K_ref (the deterministic quantizers behind model files
 * made without an importance matrix).
 *
 * Each super-block is quantized in two stages, as ggml does: first every
 * sub-block gets its own float scale (and min) by a small search, then those
 * scales are themselves quantized to 4/6/8 bits against one fp16 super-scale
 * and the values are re-quantized with the rounded scales. The searches are
 * ggml's make_qx_quants (Q6_K), make_q3_quants (Q3_K) and make_qkx2_quants
 * (Q2_K, Q4_K, Q5_K; the shared ones in quant_search.c), with every float
 * operation in ggml's order, one per expression. Sub-blocks whose rounded scale is zero keep the quants of the
 * first stage, exactly as in ggml.
 */
#include "quant_blocks.h"

#include "fp16.h"
#include "quant_search.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

/* ---------------------------------------------------- make_q3_quants */

/* One pass of ggml's coordinate descent: try moving each quant to its
 * optimum given the others; keep moves that improve sumlx^2 / suml2.
 * Returns the number of quants changed. */
static int q3_refine_pass(int n, int nmax, const float *x, int8_t *L, float *sumlx, float *suml2) {
    int n_changed = 0;
    for (int i = 0; i < n; i++) {
        const float w   = x[i] * x[i];
        const float wx  = w * x[i];
        const float old = wx * (float)L[i];
        float slx = *sumlx - old;
        if (!(slx > 0)) continue;
        const float wl  = w * (float)L[i];
        const float wll = wl * (float)L[i];
        float sl2 = *suml2 - wll;
        const float num = x[i] * sl2;
        const int new_l = nib_clamp_int(nib_nearest_int(num / slx), -nmax, nmax - 1);
        if (new_l == L[i]) continue;
        const float add_x = wx * (float)new_l;
        slx += add_x;
        const float wn  = w * (float)new_l;
        const float wnn = wn * (float)new_l;
        sl2 += wnn;
        const float s2 = slx * slx;
        const float lhs = s2 * *suml2;
        const float b2 = *sumlx * *sumlx;
        const float rhs = b2 * sl2;
        if (sl2 > 0 && lhs > rhs) {
            L[i] = (int8_t)new_l;
            *sumlx = slx;
            *suml2 = sl2;
            n_changed++;
        }
    }
    return n_changed;
}

/* ggml's make_q3_quants with do_rmse: quants in [0, 2*nmax), x ~ scale * (L - nmax). */
static float make_q3_quants_rmse(int n, int nmax, const float *x, int8_t *L) {
    float amax;
    const float max = nib_signed_absmax(n, x, &amax);
    if (amax < NIB_GROUP_MAX_EPS) {
        memset(L, 0, (size_t)n);
        return 0.0f;
    }
    const float iscale = (float)-nmax / max;
    float sumlx = 0.0f, suml2 = 0.0f;
    for (int i = 0; i < n; i++) {
        const float s = iscale * x[i];
        const int l = nib_clamp_int(nib_nearest_int(s), -nmax, nmax - 1);
        L[i] = (int8_t)l;
        const float w   = x[i] * x[i];
        const float wx  = w * x[i];
        const float wxl = wx * (float)l;
        sumlx += wxl;
        const float wl  = w * (float)l;
        const float wll = wl * (float)l;
        suml2 += wll;
    }
    for (int itry = 0; itry < 5; itry++) {
        if (!q3_refine_pass(n, nmax, x, L, &sumlx, &suml2)) break;
    }
    for (int i = 0; i < n; i++) L[i] = (int8_t)(L[i] + nmax);
    return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

/* ------------------------------------------------------------- Q2_K */

/* Quantize the sub-block scales (or mins) v[16] >= 0 to 4 bits against
 * max_v / 15; returns the fp16 super-scale, stores nibbles at `shift`. */
static uint16_t q2_K_pack_scales(const float *v, float max_v, uint8_t *scales, int shift) {
    if (!(max_v > 0)) return nib_fp32_to_fp16(0.0f);
    const float iscale = 15.f / max_v;
    for (int j = 0; j < 16; j++) {
        const float s = iscale * v[j];
        scales[j] |= (uint8_t)(nib_nearest_int(s) << shift);
    }
    return nib_fp32_to_fp16(max_v / 15.f);
}

void nib_quant_from_float_q2_K(const float *src, void *dst, int64_t n) {
    struct nib_block_q2_K *y = dst; /* [n/256] */
    const struct nib_qkx_params par = {3, -0.5f, 0.1f, 15, true};
    const int64_t nb = n / NIB_QK_K;
    for (int64_t i = 0; i < nb; i++) {
        const float *x = src + i * NIB_QK_K;
        uint8_t L[NIB_QK_K];
        float mins[16], scales[16], weights[16];
        float max_scale = 0, max_min = 0;
        for (int j = 0; j < 16; j++) {
            for (int l = 0; l < 16; l++) weights[l] = fabsf(x[16 * j + l]);
            scales[j] = nib_make_qkx_quants(16, x + 16 * j, weights, L + 16 * j, &mins[j], &par);
            if (scales[j] > max_scale) max_scale = scales[j];
            if (mins[j] > max_min) max_min = mins[j];
        }
        memset(y[i].scales, 0, sizeof(y[i].scales));
        y[i].d    = q2_K_pack_scales(scales, max_scale, y[i].scales, 0);
        y[i].dmin = q2_K_pack_scales(mins, max_min, y[i].scales, 4);
        for (int j = 0; j < 16; j++) {
            const float d = nib_fp16_to_fp32(y[i].d) * (float)(y[i].scales[j] & 0xF);
            if (d == 0.0f) continue;
            const float dm = nib_fp16_to_fp32(y[i].dmin) * (float)(y[i].scales[j] >> 4);
            for (int l = 0; l < 16; l++) {
                const float t = x[16 * j + l] + dm;
                L[16 * j + l] = (uint8_t)nib_clamp_int(nib_nearest_int(t / d), 0, 3);
            }
        }
        nib_pack_2bit(L, y[i].qs);
    }
}

/* ------------------------------------------------------------- Q3_K */

/* Sixteen signed scales -> 6-bit biased codes against max_scale / -32;
 * returns the fp16 super-scale. */
static uint16_t q3_K_pack_scales(const float *scales, float max_scale, uint8_t *packed /* [12] */) {
    memset(packed, 0, 12);
    if (max_scale == 0.0f) return nib_fp32_to_fp16(0.0f);
    const float iscale = -32.f / max_scale;
    for (int j = 0; j < 16; j++) {
        const float s = iscale * scales[j];
        int8_t l = (int8_t)nib_nearest_int(s);
        l = (int8_t)(nib_clamp_int(l, -32, 31) + 32);
        if (j < 8) {
            packed[j] = (uint8_t)(l & 0xF);
        } else {
            packed[j - 8] |= (uint8_t)((l & 0xF) << 4);
        }
        packed[j % 4 + 8] |= (uint8_t)((l >> 4) << (2 * (j / 4)));
    }
    return nib_fp32_to_fp16(1 / iscale);
}

void nib_quant_from_float_q3_K(const float *src, void *dst, int64_t n) {
    struct nib_block_q3_K *y = dst; /* [n/256] */
    const int64_t nb = n / NIB_QK_K;
    for (int64_t i = 0; i < nb; i++) {
        const float *x = src + i * NIB_QK_K;
        int8_t L[NIB_QK_K];
        float scales[16];
        float max_scale = 0, amax = 0;
        for (int j = 0; j < 16; j++) {
            scales[j] = make_q3_quants_rmse(16, 4, x + 16 * j, L + 16 * j);
            const float a = fabsf(scales[j]);
            if (a > amax) {
                amax = a;
                max_scale = scales[j];
            }
        }
        y[i].d = q3_K_pack_scales(scales, max_scale, y[i].scales);
        nib_q3_K_quants(x, L, &y[i]);
    }
}

/* ------------------------------------------------------ Q4_K / Q5_K */

/* Shared by Q4_K (nmax 15) and Q5_K (nmax 31): first-stage scales and mins
 * for the 8 sub-blocks of 32, the 6-bit packed scales, the two fp16 super
 * scales, and the final quants L[256] in [0, nmax]. */
static void q45_K_quantize(const float *x, const struct nib_qkx_params *par, uint8_t *packed /* [12] */,
                           uint16_t *d_out, uint16_t *dmin_out, uint8_t *L /* [256] */) {
    float mins[8], scales[8], weights[32];
    float max_scale = 0, max_min = 0;
    for (int j = 0; j < 8; j++) {
        const float *xj = x + 32 * j;
        float sum_x2 = 0;
        for (int l = 0; l < 32; l++) {
            const float sq = xj[l] * xj[l];
            sum_x2 += sq;
        }
        const float av_x = sqrtf(sum_x2 / 32);
        for (int l = 0; l < 32; l++) weights[l] = av_x + fabsf(xj[l]);
        scales[j] = nib_make_qkx_quants(32, xj, weights, L + 32 * j, &mins[j], par);
        if (scales[j] > max_scale) max_scale = scales[j];
        if (mins[j] > max_min) max_min = mins[j];
    }
    const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
    const float inv_min   = max_min > 0 ? 63.f / max_min : 0.f;
    for (int j = 0; j < 8; j++) {
        const float s = inv_scale * scales[j];
        const float m = inv_min * mins[j];
        uint8_t ls = (uint8_t)nib_nearest_int(s);
        uint8_t lm = (uint8_t)nib_nearest_int(m);
        ls = ls < 63 ? ls : 63;
        lm = lm < 63 ? lm : 63;
        nib_pack_scale_min_k4(j, ls, lm, packed);
    }
    *d_out    = nib_fp32_to_fp16(max_scale / 63.f);
    *dmin_out = nib_fp32_to_fp16(max_min / 63.f);
    nib_q45_K_levels(x, packed, *d_out, *dmin_out, par->nmax, L);
}

void nib_quant_from_float_q4_K(const float *src, void *dst, int64_t n) {
    struct nib_block_q4_K *y = dst; /* [n/256] */
    const struct nib_qkx_params par = {15, -1.f, 0.1f, 20, false};
    const int64_t nb = n / NIB_QK_K;
    for (int64_t i = 0; i < nb; i++) {
        uint8_t L[NIB_QK_K];
        q45_K_quantize(src + i * NIB_QK_K, &par, y[i].scales, &y[i].d, &y[i].dmin, L);
        for (int j = 0; j < NIB_QK_K; j += 64) {
            for (int l = 0; l < 32; l++) y[i].qs[j / 2 + l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 4));
        }
    }
}

void nib_quant_from_float_q5_K(const float *src, void *dst, int64_t n) {
    struct nib_block_q5_K *y = dst; /* [n/256] */
    const struct nib_qkx_params par = {31, -0.5f, 0.1f, 15, false};
    const int64_t nb = n / NIB_QK_K;
    for (int64_t i = 0; i < nb; i++) {
        uint8_t L[NIB_QK_K];
        q45_K_quantize(src + i * NIB_QK_K, &par, y[i].scales, &y[i].d, &y[i].dmin, L);
        nib_pack_q5_K(L, &y[i]);
    }
}

/* ------------------------------------------------------------- Q6_K */

/* ggml's quantize_row_q6_K_impl: with qw (importance weights, one per
 * element of the row) the first-stage search weighs by qw itself (no sigma
 * term, unlike the other types); with qw NULL it is quantize_row_q6_K_ref. */
void nib_quant_q6_K_row(const float *src, void *dst, int64_t n, const float *qw) {
    struct nib_block_q6_K *y = dst; /* [n/256] */
    const int64_t nb = n / NIB_QK_K;
    for (int64_t i = 0; i < nb; i++) {
        const float *x = src + i * NIB_QK_K;
        const float *qwi = qw ? qw + i * NIB_QK_K : NULL;
        int8_t L[NIB_QK_K];
        float scales[16];
        float max_scale = 0, max_abs_scale = 0;
        for (int ib = 0; ib < 16; ib++) {
            scales[ib] = nib_make_qx_quants(16, 32, x + 16 * ib, L + 16 * ib, qwi ? qwi + 16 * ib : NULL);
            const float a = fabsf(scales[ib]);
            if (a > max_abs_scale) {
                max_abs_scale = a;
                max_scale = scales[ib];
            }
        }
        if (max_abs_scale < NIB_GROUP_MAX_EPS) {
            memset(&y[i], 0, sizeof(y[i]));
            continue;
        }
        const float iscale = -128.f / max_scale;
        y[i].d = nib_fp32_to_fp16(1 / iscale);
        for (int ib = 0; ib < 16; ib++) {
            const float s = iscale * scales[ib];
            const int v = nib_nearest_int(s);
            y[i].scales[ib] = (int8_t)(v < 127 ? v : 127);
        }
        for (int j = 0; j < 16; j++) {
            const float d = nib_fp16_to_fp32(y[i].d) * (float)y[i].scales[j];
            if (d == 0.0f) continue;
            for (int l = 0; l < 16; l++) {
                const int q = nib_clamp_int(nib_nearest_int(x[16 * j + l] / d), -32, 31);
                L[16 * j + l] = (int8_t)(q + 32);
            }
        }
        for (int h = 0; h < 2; h++) { /* two 128-element halves */
            const int8_t *Lh = L + 128 * h;
            uint8_t *ql = y[i].ql + 64 * h;
            uint8_t *qh = y[i].qh + 32 * h;
            for (int l = 0; l < 32; l++) {
                ql[l]      = (uint8_t)((Lh[l] & 0xF) | ((Lh[l + 64] & 0xF) << 4));
                ql[l + 32] = (uint8_t)((Lh[l + 32] & 0xF) | ((Lh[l + 96] & 0xF) << 4));
                qh[l] = (uint8_t)((Lh[l] >> 4) | ((Lh[l + 32] >> 4) << 2) | ((Lh[l + 64] >> 4) << 4) |
                                  ((Lh[l + 96] >> 4) << 6));
            }
        }
    }
}

void nib_quant_from_float_q6_K(const float *src, void *dst, int64_t n) { nib_quant_q6_K_row(src, dst, n, NULL); }
