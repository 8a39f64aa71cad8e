/*
 * Scalar reference dot products of the K-quants (Q2_K..Q6_K) with Q8_K
 * activations. Bit-exact with ggml's ggml_vec_dot_q*_K_q8_K_generic.
 *
 * Integer parts are exact, so they may be computed in any order; what must
 * match ggml is every float operation. For Q3_K..Q6_K ggml accumulates the
 * integer products into eight lanes (element k goes to lane k % 8), then
 * per block adds d * lane[l] into eight float partial sums, and adds those
 * eight partial sums into the result only at the very end. We reproduce
 * exactly that: unpack the block to int8 quants, sum into lanes, then apply
 * the same float updates.
 */
#include "quant_blocks.h"

#include "fp16.h"

#include <string.h>

/* lane[l] += sum over elements k = l (mod 8) of scale[k/16] * q8[k] * a[k]
 * over one 256-element block. */
static void lane_sums(const int8_t *a /* [256] */, const int8_t *q8 /* [256] */,
                      const int *scale /* [16] */, int32_t lane[8]) {
    memset(lane, 0, 8 * sizeof(int32_t));
    for (int k = 0; k < NIB_QK_K; k++) lane[k % 8] += scale[k / 16] * (q8[k] * a[k]);
}

/* The final float steps shared by Q3_K..Q6_K: sums[l] += d * lane[l]. */
static void add_lanes(float sums[8], float d, const int32_t lane[8]) {
    for (int l = 0; l < 8; l++) {
        const float t = d * (float)lane[l];
        sums[l] += t;
    }
}

static float reduce_lanes(float sumf, const float sums[8]) {
    for (int l = 0; l < 8; l++) sumf += sums[l];
    return sumf;
}

void nib_vec_dot_q2_K_q8_K(int64_t n, float *out, const void *vx, const void *vy) {
    const struct nib_block_q2_K *x = vx; /* [n/256] */
    const struct nib_block_q8_K *y = vy; /* [n/256] */
    const int64_t nb = n / NIB_QK_K;
    float sumf = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        const uint8_t *sc = x[i].scales;
        int summs = 0; /* the mins' contribution, via the 16-element sums */
        for (int j = 0; j < 16; j++) summs += y[i].bsums[j] * (sc[j] >> 4);
        int isum = 0;
        for (int e = 0; e < NIB_QK_K; e += 16) {
            const uint8_t *q2 = x[i].qs + (e / 128) * 32 + (e % 32);
            const int shift = 2 * ((e % 128) / 32);
            int isuml = 0;
            for (int l = 0; l < 16; l++) isuml += y[i].qs[e + l] * ((q2[l] >> shift) & 3);
            isum += (sc[e / 16] & 0xF) * isuml;
        }
        const float dall = y[i].d * nib_fp16_to_fp32(x[i].d);
        const float dmin = y[i].d * nib_fp16_to_fp32(x[i].dmin);
        const float a = dall * (float)isum;
        const float b = dmin * (float)summs;
        const float ab = a - b;
        sumf += ab;
    }
    *out = sumf;
}

void nib_vec_dot_q3_K_q8_K(int64_t n, float *out, const void *vx, const void *vy) {
    const struct nib_block_q3_K *x = vx; /* [n/256] */
    const struct nib_block_q8_K *y = vy; /* [n/256] */
    const int64_t nb = n / NIB_QK_K;
    float sums[8] = {0};
    for (int64_t i = 0; i < nb; i++) {
        int8_t a[NIB_QK_K];
        for (int e = 0; e < NIB_QK_K; e++) {
            const int l = e % 32, group = e / 32; /* group = high-bit index */
            const int lo = (x[i].qs[(group / 4) * 32 + l] >> (2 * (group % 4))) & 3;
            a[e] = (int8_t)(lo - ((x[i].hmask[l] >> group) & 1 ? 0 : 4));
        }
        int8_t packed[16];
        int scale[16];
        nib_q3_K_unpack_scales(x[i].scales, packed);
        for (int j = 0; j < 16; j++) scale[j] = packed[j] - 32;
        int32_t lane[8];
        lane_sums(a, y[i].qs, scale, lane);
        add_lanes(sums, nib_fp16_to_fp32(x[i].d) * y[i].d, lane);
    }
    *out = reduce_lanes(0.0f, sums);
}

/* Shared by Q4_K and Q5_K: the 8 scales (expanded to 16-element groups) and
 * sum over bsums of mins. */
static int q4_K_scales_mins(const uint8_t *packed, const int16_t *bsums, int scale[16]) {
    int sumi = 0;
    for (int j = 0; j < 8; j++) {
        uint8_t sc, m;
        nib_q4_K_scale_min(j, packed, &sc, &m);
        scale[2 * j] = scale[2 * j + 1] = sc;
        sumi += (bsums[2 * j] + bsums[2 * j + 1]) * m;
    }
    return sumi;
}

void nib_vec_dot_q4_K_q8_K(int64_t n, float *out, const void *vx, const void *vy) {
    const struct nib_block_q4_K *x = vx; /* [n/256] */
    const struct nib_block_q8_K *y = vy; /* [n/256] */
    const int64_t nb = n / NIB_QK_K;
    float sums[8] = {0};
    float sumf = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        int8_t a[NIB_QK_K];
        for (int e = 0; e < NIB_QK_K; e++) {
            const uint8_t q = x[i].qs[(e / 64) * 32 + e % 32];
            a[e] = (int8_t)((e % 64) < 32 ? q & 0xF : q >> 4);
        }
        int scale[16];
        const int sumi = q4_K_scales_mins(x[i].scales, y[i].bsums, scale);
        int32_t lane[8];
        lane_sums(a, y[i].qs, scale, lane);
        add_lanes(sums, nib_fp16_to_fp32(x[i].d) * y[i].d, lane);
        const float dmin = nib_fp16_to_fp32(x[i].dmin) * y[i].d;
        const float t = dmin * (float)sumi;
        sumf -= t;
    }
    *out = reduce_lanes(sumf, sums);
}

void nib_vec_dot_q5_K_q8_K(int64_t n, float *out, const void *vx, const void *vy) {
    const struct nib_block_q5_K *x = vx; /* [n/256] */
    const struct nib_block_q8_K *y = vy; /* [n/256] */
    const int64_t nb = n / NIB_QK_K;
    float sums[8] = {0};
    float sumf = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        int8_t a[NIB_QK_K];
        for (int e = 0; e < NIB_QK_K; e++) {
            const uint8_t q = x[i].qs[(e / 64) * 32 + e % 32];
            const int lo = (e % 64) < 32 ? q & 0xF : q >> 4;
            const int hi = (x[i].qh[e % 32] >> (e / 32)) & 1;
            a[e] = (int8_t)(lo + 16 * hi);
        }
        int scale[16];
        const int sumi = q4_K_scales_mins(x[i].scales, y[i].bsums, scale);
        int32_t lane[8];
        lane_sums(a, y[i].qs, scale, lane);
        add_lanes(sums, nib_fp16_to_fp32(x[i].d) * y[i].d, lane);
        const float dmin = nib_fp16_to_fp32(x[i].dmin) * y[i].d;
        const float t = dmin * (float)sumi;
        sumf -= t;
    }
    *out = reduce_lanes(sumf, sums);
}

void nib_vec_dot_q6_K_q8_K(int64_t n, float *out, const void *vx, const void *vy) {
    const struct nib_block_q6_K *x = vx; /* [n/256] */
    const struct nib_block_q8_K *y = vy; /* [n/256] */
    const int64_t nb = n / NIB_QK_K;
    float sums[8] = {0};
    for (int64_t i = 0; i < nb; i++) {
        int8_t a[NIB_QK_K];
        for (int e = 0; e < NIB_QK_K; e++) {
            const int half = e / 128, r = e % 128, quarter = r / 32, l = r % 32;
            const uint8_t ql = x[i].ql[half * 64 + (quarter & 1) * 32 + l];
            const int lo = quarter < 2 ? ql & 0xF : ql >> 4;
            const int hi = (x[i].qh[half * 32 + l] >> (2 * quarter)) & 3;
            a[e] = (int8_t)((lo | (hi << 4)) - 32);
        }
        int scale[16];
        for (int j = 0; j < 16; j++) scale[j] = x[i].scales[j];
        int32_t lane[8];
        lane_sums(a, y[i].qs, scale, lane);
        add_lanes(sums, nib_fp16_to_fp32(x[i].d) * y[i].d, lane);
    }
    *out = reduce_lanes(0.0f, sums);
}
