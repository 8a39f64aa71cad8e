/*
 * quant_search.h — ggml's per-group scale searches, shared by the reference
 * K-quantizers (quant_kquants_ref.c) and the importance-weighted quantizers
 * (quant_imatrix_*.c). Internal to formats/.
 *
 * Each function quantizes one small group x[n] (n <= 32) and returns the
 * float scale it chose; every float operation happens in ggml's order, so
 * results are bit-identical with ggml-quants.c (the project builds with
 * -ffp-contract=off). Stateless and thread-safe.
 */
#ifndef NIB_QUANT_SEARCH_H
#define NIB_QUANT_SEARCH_H

#include "quant_blocks.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* Groups whose max |x| is below this are "all zero" (ggml's GROUP_MAX_EPS). */
#define NIB_GROUP_MAX_EPS 1e-15f

static inline int nib_clamp_int(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* First element of largest magnitude, with its sign; *amax_out = |it|. */
static inline float nib_signed_absmax(int n, const float *x, float *amax_out) {
    float max = 0.0f, amax = 0.0f;
    for (int i = 0; i < n; i++) {
        const float ax = fabsf(x[i]);
        if (ax > amax) {
            amax = ax;
            max  = x[i];
        }
    }
    *amax_out = amax;
    return max;
}

/* ggml's make_qx_quants with rmse_type 1: symmetric quants L in [0, 2*nmax),
 * x ~ scale * (L - nmax), scale chosen among 19 candidates by weighted least
 * squares. Weights qw[n], or x^2 when qw is NULL. */
float nib_make_qx_quants(int n, int nmax, const float *x, int8_t *L, const float *qw);

/* Parameters of ggml's make_qkx2_quants / make_qkx3_quants. */
struct nib_qkx_params {
    int   nmax;
    float rmin, rdelta;
    int   nstep;     /* >= 1 */
    bool  use_mad;   /* weighted |error| instead of weighted error^2 */
};

/* ggml's make_qkx2_quants, and make_qkx3_quants with non-NULL weights (the
 * two agree then): asymmetric quants L in [0, nmax], x ~ scale * L - the_min,
 * trying nstep + 1 scales and solving weighted least squares for each. */
float nib_make_qkx_quants(int n, const float *x, const float *weights, uint8_t *L, float *the_min,
                          const struct nib_qkx_params *p);

/* ggml's make_qp_quants: quants of non-negative values (sub-block scales)
 * x ~ scale * L, L <= nmax, weights qw[n]. L is uint8_t as in ggml: a
 * negative input wraps exactly as there. */
float nib_make_qp_quants(int n, int nmax, const float *x, uint8_t *L, const float *qw);

/* Q2_K / Q3_K low bits: byte l of each 32-byte group holds elements l, l+32,
 * l+64, l+96 of that 128-element half. */
/* Q3_K's last step, shared by the reference and weighted quantizers: with
 * y->scales and y->d set, each of x's 256 values quantized against its
 * sub-block's scale (y->d * (scale - 32)) to -4..3, stored + 4 in L (a
 * sub-block whose scale is 0 keeps the first pass's L, as ggml), then the
 * high bits into y->hmask, the low two into y->qs (quantize_row_q3_K_*). */
void nib_q3_K_quants(const float *x /* [256] */, int8_t *L /* [256] */, struct nib_block_q3_K *y);

/* Q4_K/Q5_K's last step, shared by the reference and weighted quantizers:
 * each of x's 8 sub-blocks quantized to 0..nmax against its scale and min
 * unpacked from packed[12] times the fp16 super-scales d, dmin (a sub-block
 * whose scale is 0 keeps L as it is, as ggml). */
void nib_q45_K_levels(const float *x /* [256] */, const uint8_t *packed, uint16_t d, uint16_t dmin, int nmax,
                      uint8_t *L /* [256] */);

/* Q5_K's levels L (0..31) into y->qs (low nibbles, as Q4_K) and y->qh (the
 * 5th bit of element 32k + l is bit k of qh[l]). */
static inline void nib_pack_q5_K(const uint8_t *L /* [256] */, struct nib_block_q5_K *y) {
    memset(y->qh, 0, sizeof(y->qh));
    for (int j = 0; j < NIB_QK_K; j++)
        if (L[j] > 15) y->qh[j % 32] |= (uint8_t)(1 << (j / 32));
    for (int j = 0; j < NIB_QK_K; j += 64)
        for (int l = 0; l < 32; l++) y->qs[j / 2 + l] = (uint8_t)((L[j + l] & 0xF) | ((L[j + l + 32] & 0xF) << 4));
}

static inline void nib_pack_2bit(const uint8_t *L /* [256], each 0..3 */, uint8_t *qs /* [64] */) {
    for (int j = 0; j < NIB_QK_K; j += 128) {
        for (int l = 0; l < 32; l++) {
            qs[j / 4 + l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) |
                                      (L[j + l + 96] << 6));
        }
    }
}

/* Q4_K / Q5_K scales: 6-bit scale ls and min lm of sub-block j (0..7), the
 * inverse of nib_q4_K_scale_min. Called in increasing j; bits above the
 * sixth are dropped exactly as ggml's uint8_t stores drop them. */
static inline void nib_pack_scale_min_k4(int j, uint8_t ls, uint8_t lm, uint8_t *q /* [12] */) {
    if (j < 4) {
        q[j] = ls;
        q[j + 4] = lm;
    } else {
        q[j + 4] = (uint8_t)((ls & 0xF) | ((lm & 0xF) << 4));
        q[j - 4] |= (uint8_t)((ls >> 4) << 6);
        q[j] |= (uint8_t)((lm >> 4) << 6);
    }
}

#endif
