/*
 * Scalar reference dequantization of the 256-element super-block "K-quants"
 * (Q2_K..Q6_K, Q8_K) and the reference Q8_K quantizer used for activations.
 *
 * Bit-exact with ggml's dequantize_row_*_K and quantize_row_q8_K_ref: the
 * same float operations in the same order (e.g. Q4_K: d1 = d * sc,
 * m1 = dmin * m, y = d1 * q - m1), one operation per expression.
 */
#include "quant_blocks.h"

#include "fp16.h"

#include <math.h>
#include <string.h>

void nib_quant_to_float_q2_K(const void *src, float *dst, int64_t n) {
    const struct nib_block_q2_K *x = src; /* [n/256] */
    const int64_t nb = n / NIB_QK_K;
    float *y = dst;
    for (int64_t i = 0; i < nb; i++) {
        const float d   = nib_fp16_to_fp32(x[i].d);
        const float min = nib_fp16_to_fp32(x[i].dmin);
        const uint8_t *q = x[i].qs;
        int is = 0;
        for (int half = 0; half < NIB_QK_K / 128; half++) {
            for (int shift = 0; shift < 8; shift += 2) {
                for (int k = 0; k < 2; k++) { /* two 16-element sub-blocks */
                    const uint8_t sc = x[i].scales[is++];
                    const float dl = d * (float)(sc & 0xF);
                    const float ml = min * (float)(sc >> 4);
                    for (int l = 0; l < 16; l++) {
                        const float p = dl * (float)((q[16 * k + l] >> shift) & 3);
                        *y++ = p - ml;
                    }
                }
            }
            q += 32;
        }
    }
}

void nib_quant_to_float_q3_K(const void *src, float *dst, int64_t n) {
    const struct nib_block_q3_K *x = src; /* [n/256] */
    const int64_t nb = n / NIB_QK_K;
    float *y = dst;
    for (int64_t i = 0; i < nb; i++) {
        const float d_all = nib_fp16_to_fp32(x[i].d);
        int8_t scales[16];
        nib_q3_K_unpack_scales(x[i].scales, scales);
        const uint8_t *q  = x[i].qs;
        const uint8_t *hm = x[i].hmask;
        uint8_t m = 1;
        int is = 0;
        for (int half = 0; half < NIB_QK_K / 128; half++) {
            for (int shift = 0; shift < 8; shift += 2) {
                for (int k = 0; k < 2; k++) {
                    const float dl = d_all * (float)(scales[is++] - 32);
                    for (int l = 16 * k; l < 16 * k + 16; l++) {
                        const int v = ((q[l] >> shift) & 3) - ((hm[l] & m) ? 0 : 4);
                        *y++ = dl * (float)v;
                    }
                }
                m = (uint8_t)(m << 1);
            }
            q += 32;
        }
    }
}

void nib_quant_to_float_q4_K(const void *src, float *dst, int64_t n) {
    const struct nib_block_q4_K *x = src; /* [n/256] */
    const int64_t nb = n / NIB_QK_K;
    float *y = dst;
    for (int64_t i = 0; i < nb; i++) {
        const float d   = nib_fp16_to_fp32(x[i].d);
        const float min = nib_fp16_to_fp32(x[i].dmin);
        const uint8_t *q = x[i].qs;
        for (int is = 0; is < 8; is += 2) {
            uint8_t sc, m;
            nib_q4_K_scale_min(is, x[i].scales, &sc, &m);
            const float d1 = d * (float)sc;
            const float m1 = min * (float)m;
            nib_q4_K_scale_min(is + 1, x[i].scales, &sc, &m);
            const float d2 = d * (float)sc;
            const float m2 = min * (float)m;
            for (int l = 0; l < 32; l++) {
                const float p = d1 * (float)(q[l] & 0xF);
                *y++ = p - m1;
            }
            for (int l = 0; l < 32; l++) {
                const float p = d2 * (float)(q[l] >> 4);
                *y++ = p - m2;
            }
            q += 32;
        }
    }
}

void nib_quant_to_float_q5_K(const void *src, float *dst, int64_t n) {
    const struct nib_block_q5_K *x = src; /* [n/256] */
    const int64_t nb = n / NIB_QK_K;
    float *y = dst;
    for (int64_t i = 0; i < nb; i++) {
        const float d   = nib_fp16_to_fp32(x[i].d);
        const float min = nib_fp16_to_fp32(x[i].dmin);
        const uint8_t *ql = x[i].qs;
        const uint8_t *qh = x[i].qh;
        uint8_t u1 = 1, u2 = 2;
        for (int is = 0; is < 8; is += 2) {
            uint8_t sc, m;
            nib_q4_K_scale_min(is, x[i].scales, &sc, &m);
            const float d1 = d * (float)sc;
            const float m1 = min * (float)m;
            nib_q4_K_scale_min(is + 1, x[i].scales, &sc, &m);
            const float d2 = d * (float)sc;
            const float m2 = min * (float)m;
            for (int l = 0; l < 32; l++) {
                const float p = d1 * (float)((ql[l] & 0xF) + ((qh[l] & u1) ? 16 : 0));
                *y++ = p - m1;
            }
            for (int l = 0; l < 32; l++) {
                const float p = d2 * (float)((ql[l] >> 4) + ((qh[l] & u2) ? 16 : 0));
                *y++ = p - m2;
            }
            ql += 32;
            u1 = (uint8_t)(u1 << 2);
            u2 = (uint8_t)(u2 << 2);
        }
    }
}

void nib_quant_to_float_q6_K(const void *src, float *dst, int64_t n) {
    const struct nib_block_q6_K *x = src; /* [n/256] */
    const int64_t nb = n / NIB_QK_K;
    float *y = dst;
    for (int64_t i = 0; i < nb; i++) {
        const float d = nib_fp16_to_fp32(x[i].d);
        const uint8_t *ql = x[i].ql;
        const uint8_t *qh = x[i].qh;
        const int8_t  *sc = x[i].scales;
        for (int half = 0; half < NIB_QK_K / 128; half++) {
            for (int l = 0; l < 32; l++) {
                const int is = l / 16;
                const int q1 = ((ql[l]      & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
                const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                const int q3 = ((ql[l]      >> 4)  | (((qh[l] >> 4) & 3) << 4)) - 32;
                const int q4 = ((ql[l + 32] >> 4)  | (((qh[l] >> 6) & 3) << 4)) - 32;
                const float s1 = d * (float)sc[is + 0];
                const float s2 = d * (float)sc[is + 2];
                const float s3 = d * (float)sc[is + 4];
                const float s4 = d * (float)sc[is + 6];
                y[l]      = s1 * (float)q1;
                y[l + 32] = s2 * (float)q2;
                y[l + 64] = s3 * (float)q3;
                y[l + 96] = s4 * (float)q4;
            }
            y  += 128;
            ql += 64;
            qh += 32;
            sc += 8;
        }
    }
}

void nib_quant_to_float_q8_K(const void *src, float *dst, int64_t n) {
    const struct nib_block_q8_K *x = src; /* [n/256] */
    const int64_t nb = n / NIB_QK_K;
    for (int64_t i = 0; i < nb; i++) {
        for (int j = 0; j < NIB_QK_K; j++) dst[i * NIB_QK_K + j] = x[i].d * (float)x[i].qs[j];
    }
}

void nib_quant_from_float_q8_K(const float *src, void *dst, int64_t n) {
    struct nib_block_q8_K *y = dst; /* [n/256] */
    const int64_t nb = n / NIB_QK_K;
    for (int64_t i = 0; i < nb; i++) {
        const float *x = src + i * NIB_QK_K;
        float max = 0.0f, amax = 0.0f;
        for (int j = 0; j < NIB_QK_K; j++) {
            const float ax = fabsf(x[j]);
            if (ax > amax) {
                amax = ax;
                max  = x[j];
            }
        }
        if (amax == 0.0f) {
            /* ggml leaves bsums unwritten here; nib zeroes them (they are
             * zero for all-zero quants anyway). */
            memset(&y[i], 0, sizeof(y[i]));
            continue;
        }
        /* -127 (not -128) keeps every quant in [-127, 127]. */
        const float iscale = -127.f / max;
        for (int j = 0; j < NIB_QK_K; j++) {
            const float s = iscale * x[j];
            const int v = nib_nearest_int(s);
            y[i].qs[j] = (int8_t)(v < 127 ? v : 127);
        }
        for (int j = 0; j < NIB_QK_K / 16; j++) {
            int sum = 0;
            for (int l = 0; l < 16; l++) sum += y[i].qs[16 * j + l];
            y[i].bsums[j] = (int16_t)sum;
        }
        y[i].d = 1 / iscale;
    }
}
