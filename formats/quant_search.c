/*
 * ggml's per-group scale searches (see quant_search.h): make_qx_quants
 * (rmse_type 1, optional importance weights), make_qkx2/3_quants and
 * make_qp_quants, every float operation in ggml's order, one per expression.
 */
#include "quant_search.h"

#include "fp16.h"

#include <string.h>

/* ---------------------------------------------------- make_qx_quants */

/* Quants for one candidate iscale: L[i] = clamp(round(iscale * x)) + nmax,
 * and the sums of w*x*l and w*l*l with w = qw[i] (x^2 without qw). */
static void qx_candidate(int n, int nmax, const float *x, const float *qw, float iscale, int8_t *L,
                         float *sumlx_out, float *suml2_out) {
    float sumlx = 0.0f, suml2 = 0.0f;
    for (int i = 0; i < n; i++) {
        const float s = iscale * x[i];
        const int l = nib_clamp_int(nib_nearest_int(s), -nmax, nmax - 1);
        L[i] = (int8_t)(l + nmax);
        const float w   = qw ? qw[i] : x[i] * x[i];
        const float wx  = w * x[i];
        const float wxl = wx * (float)l;
        sumlx += wxl;
        const float wl  = w * (float)l;
        const float wll = wl * (float)l;
        suml2 += wll;
    }
    *sumlx_out = sumlx;
    *suml2_out = suml2;
}

float nib_make_qx_quants(int n, int nmax, const float *x, int8_t *L, const float *qw) {
    float amax;
    const float max = nib_signed_absmax(n, x, &amax);
    if (amax < NIB_GROUP_MAX_EPS) {
        memset(L, 0, (size_t)n);
        return 0.0f;
    }
    float iscale = (float)-nmax / max;
    float sumlx, suml2;
    qx_candidate(n, nmax, x, qw, iscale, L, &sumlx, &suml2);
    float scale = suml2 != 0.0f ? sumlx / suml2 : 0.0f;
    float best = scale * sumlx;
    for (int is = -9; is <= 9; is++) {
        if (is == 0) continue;
        const float step = 0.1f * (float)is;
        const float num  = (float)nmax + step;
        iscale = -num / max;
        int8_t Lc[32];
        qx_candidate(n, nmax, x, qw, iscale, Lc, &sumlx, &suml2);
        const float lhs = sumlx * sumlx;
        const float rhs = best * suml2;
        if (suml2 > 0 && lhs > rhs) {
            memcpy(L, Lc, (size_t)n);
            scale = sumlx / suml2;
            best  = scale * sumlx;
        }
    }
    return scale;
}

/* ------------------------------------------------- make_qkx2/3_quants */

/* Weighted error of x ~ scale * L + min. */
static float qkx_error(int n, const float *x, const float *weights, const uint8_t *L,
                       float scale, float min, bool use_mad) {
    float err = 0.0f;
    for (int i = 0; i < n; i++) {
        const float a = scale * (float)L[i];
        const float b = a + min;
        float diff = b - x[i];
        diff = use_mad ? fabsf(diff) : diff * diff;
        const float e = weights[i] * diff;
        err += e;
    }
    return err;
}

/* Quants in [0, nmax] for a candidate iscale (relative to min). */
static void qkx_levels(int n, int nmax, const float *x, float iscale, float min, uint8_t *L) {
    for (int i = 0; i < n; i++) {
        const float d = x[i] - min;
        const float s = iscale * d;
        L[i] = (uint8_t)nib_clamp_int(nib_nearest_int(s), 0, nmax);
    }
}

/* make_qkx3_quants tests max <= min where make_qkx2_quants tests max == min:
 * after min = MIN(min, 0) both mean "all equal" (NaN fails either test). */
float nib_make_qkx_quants(int n, const float *x, const float *weights, uint8_t *L, float *the_min,
                          const struct nib_qkx_params *p) {
    float min = x[0], max = x[0];
    float sum_w = weights[0];
    float sum_x = sum_w * x[0];
    for (int i = 1; i < n; i++) {
        if (x[i] < min) min = x[i];
        if (x[i] > max) max = x[i];
        sum_w += weights[i];
        const float wx = weights[i] * x[i];
        sum_x += wx;
    }
    if (min > 0) min = 0;
    if (max == min) {
        memset(L, 0, (size_t)n);
        *the_min = -min;
        return 0.0f;
    }
    float iscale = (float)p->nmax / (max - min);
    float scale = 1 / iscale;
    qkx_levels(n, p->nmax, x, iscale, min, L);
    float best_error = qkx_error(n, x, weights, L, scale, min, p->use_mad);
    for (int is = 0; is <= p->nstep; is++) {
        const float step = p->rdelta * (float)is;
        const float r    = p->rmin + step;
        const float num  = r + (float)p->nmax;
        iscale = num / (max - min);  /* min may have moved: ggml recomputes */
        uint8_t Laux[32];
        qkx_levels(n, p->nmax, x, iscale, min, Laux);
        float sum_l = 0.0f, sum_l2 = 0.0f, sum_xl = 0.0f;
        for (int i = 0; i < n; i++) {
            const float wl = weights[i] * (float)Laux[i];
            sum_l += wl;
            const float wll = wl * (float)Laux[i];
            sum_l2 += wll;
            const float wlx = wl * x[i];
            sum_xl += wlx;
        }
        const float d1 = sum_w * sum_l2, d2 = sum_l * sum_l;
        const float D = d1 - d2;
        if (!(D > 0)) continue;
        const float s1 = sum_w * sum_xl, s2 = sum_x * sum_l;
        const float m1 = sum_l2 * sum_x, m2 = sum_l * sum_xl;
        const float sn = s1 - s2;
        const float mn = m1 - m2;
        float this_scale = sn / D;
        float this_min   = mn / D;
        if (this_min > 0) {
            this_min = 0;
            this_scale = sum_xl / sum_l2;
        }
        const float cur_error = qkx_error(n, x, weights, Laux, this_scale, this_min, p->use_mad);
        if (cur_error < best_error) {
            memcpy(L, Laux, (size_t)n);
            best_error = cur_error;
            scale = this_scale;
            min = this_min;
        }
    }
    *the_min = -min;
    return scale;
}

/* ---------------------------------------------------- make_qp_quants */

/* Weighted squared error of x ~ scale * l for iscale, l = MIN(nmax, round). */
static float qp_mse(int n, int nmax, const float *x, const float *qw, float iscale) {
    const float scale = 1 / iscale;
    float mse = 0.0f;
    for (int i = 0; i < n; i++) {
        const float s = iscale * x[i];
        int l = nib_nearest_int(s);
        l = l < nmax ? l : nmax;
        const float q = scale * (float)l;
        const float diff = x[i] - q;
        const float wd = qw[i] * diff;
        const float e = wd * diff;
        mse += e;
    }
    return mse;
}

/* One pass of ggml's coordinate descent over the quants (see make_q3_quants);
 * returns the number changed. L stays uint8_t as in ggml. */
static int qp_refine_pass(int n, int nmax, const float *x, const float *qw, uint8_t *L, float *sumlx,
                          float *suml2) {
    int n_changed = 0;
    for (int i = 0; i < n; i++) {
        const float w  = qw[i];
        const float wx = w * x[i];
        const float wxl = wx * (float)L[i];
        float slx = *sumlx - wxl;
        const float wl  = w * (float)L[i];
        const float wll = wl * (float)L[i];
        float sl2 = *suml2 - wll;
        if (!(slx > 0 && sl2 > 0)) continue;
        const float num = x[i] * sl2;
        int new_l = nib_nearest_int(num / slx);
        new_l = new_l < nmax ? new_l : nmax;
        if (new_l == L[i]) continue;
        const float wxn = wx * (float)new_l;
        slx += wxn;
        const float wn  = w * (float)new_l;
        const float wnn = wn * (float)new_l;
        sl2 += wnn;
        const float s2  = slx * slx;
        const float lhs = s2 * *suml2;
        const float b2  = *sumlx * *sumlx;
        const float rhs = b2 * sl2;
        if (lhs > rhs) {
            L[i] = (uint8_t)new_l;
            *sumlx = slx;
            *suml2 = sl2;
            n_changed++;
        }
    }
    return n_changed;
}

float nib_make_qp_quants(int n, int nmax, const float *x, uint8_t *L, const float *qw) {
    float max = 0.0f;
    for (int i = 0; i < n; i++) max = max > x[i] ? max : x[i]; /* ggml's MAX(max, x[i]) */
    if (max < NIB_GROUP_MAX_EPS) {
        memset(L, 0, (size_t)n);
        return 0.0f;
    }
    float iscale = (float)nmax / max;
    for (int i = 0; i < n; i++) {
        const float s = iscale * x[i];
        L[i] = (uint8_t)nib_nearest_int(s);
    }
    /* the unclamped first rounding, scored against its own (wrapped) L */
    const float scale = 1 / iscale;
    float best_mse = 0.0f;
    for (int i = 0; i < n; i++) {
        const float q = scale * (float)L[i];
        const float diff = x[i] - q;
        const float wd = qw[i] * diff;
        const float e = wd * diff;
        best_mse += e;
    }
    for (int is = -4; is <= 4; is++) {
        if (is == 0) continue;
        const float step = 0.1f * (float)is;
        const float num  = step + (float)nmax;
        const float iscale_is = num / max;
        const float mse = qp_mse(n, nmax, x, qw, iscale_is);
        if (mse < best_mse) {
            best_mse = mse;
            iscale = iscale_is;
        }
    }
    float sumlx = 0.0f, suml2 = 0.0f;
    for (int i = 0; i < n; i++) {
        const float s = iscale * x[i];
        int l = nib_nearest_int(s);
        l = l < nmax ? l : nmax;
        L[i] = (uint8_t)l;
        const float w   = qw[i];
        const float wx  = w * x[i];
        const float wxl = wx * (float)l;
        sumlx += wxl;
        const float wl  = w * (float)l;
        const float wll = wl * (float)l;
        suml2 += wll;
    }
    for (int itry = 0; itry < 5; itry++) {
        if (!qp_refine_pass(n, nmax, x, qw, L, &sumlx, &suml2)) break;
    }
    return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

void nib_q3_K_quants(const float *x, int8_t *L, struct nib_block_q3_K *y) {
    int8_t sc[16];
    nib_q3_K_unpack_scales(y->scales, sc);
    for (int j = 0; j < 16; j++) {
        const float d = nib_fp16_to_fp32(y->d) * (float)(sc[j] - 32);
        if (d == 0.0f) continue;
        for (int l = 0; l < 16; l++) {
            const int q = nib_clamp_int(nib_nearest_int(x[16 * j + l] / d), -4, 3);
            L[16 * j + l] = (int8_t)(q + 4);
        }
    }
    /* high bit of element j goes to bit j/32 of hmask[j%32] */
    uint8_t low[NIB_QK_K];
    memset(y->hmask, 0, sizeof(y->hmask));
    for (int j = 0; j < NIB_QK_K; j++) {
        int l = L[j];
        if (l > 3) {
            y->hmask[j % 32] |= (uint8_t)(1 << (j / 32));
            l -= 4;
        }
        low[j] = (uint8_t)l;
    }
    nib_pack_2bit(low, y->qs);
}

void nib_q45_K_levels(const float *x, const uint8_t *packed, uint16_t d16, uint16_t dmin16, int nmax, uint8_t *L) {
    for (int j = 0; j < 8; j++) {
        uint8_t sc, m;
        nib_q4_K_scale_min(j, packed, &sc, &m);
        const float d = nib_fp16_to_fp32(d16) * (float)sc;
        if (d == 0.0f) continue;
        const float dm = nib_fp16_to_fp32(dmin16) * (float)m;
        for (int l = 0; l < 32; l++) {
            const float t = x[32 * j + l] + dm;
            L[32 * j + l] = (uint8_t)nib_clamp_int(nib_nearest_int(t / d), 0, nmax);
        }
    }
}
