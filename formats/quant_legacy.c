/*
 * Scalar reference conversions for the float types and the 32-element
 * "legacy" quants (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1).
 *
 * Bit-exact with ggml's dequantize_row_* and quantize_row_*_ref: every float
 * operation happens in the same order and precision, one operation per
 * expression so that no compiler may fuse a multiply-add (the project also
 * builds with -ffp-contract=off). Integer conversions of floats truncate
 * exactly as ggml's casts do.
 */
#include "quant_blocks.h"

#include "fp16.h"

#include <float.h>
#include <math.h>
#include <string.h>

/* ------------------------------------------------------------ floats */

void nib_quant_to_float_f32(const void *src, float *dst, int64_t n) {
    memcpy(dst, src, (size_t)n * sizeof(float));
}

void nib_quant_from_float_f32(const float *src, void *dst, int64_t n) {
    memcpy(dst, src, (size_t)n * sizeof(float));
}

void nib_quant_to_float_f16(const void *src, float *dst, int64_t n) {
    const uint16_t *x = src; /* [n] */
    for (int64_t i = 0; i < n; i++) dst[i] = nib_fp16_to_fp32(x[i]);
}

void nib_quant_from_float_f16(const float *src, void *dst, int64_t n) {
    uint16_t *y = dst; /* [n] */
    for (int64_t i = 0; i < n; i++) y[i] = nib_fp32_to_fp16(src[i]);
}

void nib_quant_to_float_bf16(const void *src, float *dst, int64_t n) {
    const uint16_t *x = src; /* [n] */
    for (int64_t i = 0; i < n; i++) dst[i] = nib_bf16_to_fp32(x[i]);
}

void nib_quant_from_float_bf16(const float *src, void *dst, int64_t n) {
    uint16_t *y = dst; /* [n] */
    for (int64_t i = 0; i < n; i++) y[i] = nib_fp32_to_bf16(src[i]);
}

/* ------------------------------------------------------- dequantize */

void nib_quant_to_float_q4_0(const void *src, float *dst, int64_t n) {
    const struct nib_block_q4_0 *x = src; /* [n/32] */
    const int64_t nb = n / NIB_QK4_0;
    for (int64_t i = 0; i < nb; i++) {
        const float d = nib_fp16_to_fp32(x[i].d);
        float *y = dst + i * NIB_QK4_0;
        for (int j = 0; j < NIB_QK4_0 / 2; j++) {
            const int q0 = (x[i].qs[j] & 0x0F) - 8;
            const int q1 = (x[i].qs[j] >> 4) - 8;
            y[j]                 = (float)q0 * d;
            y[j + NIB_QK4_0 / 2] = (float)q1 * d;
        }
    }
}

void nib_quant_to_float_q4_1(const void *src, float *dst, int64_t n) {
    const struct nib_block_q4_1 *x = src; /* [n/32] */
    const int64_t nb = n / NIB_QK4_1;
    for (int64_t i = 0; i < nb; i++) {
        const float d = nib_fp16_to_fp32(x[i].d);
        const float m = nib_fp16_to_fp32(x[i].m);
        float *y = dst + i * NIB_QK4_1;
        for (int j = 0; j < NIB_QK4_1 / 2; j++) {
            const float p0 = (float)(x[i].qs[j] & 0x0F) * d;
            const float p1 = (float)(x[i].qs[j] >> 4) * d;
            y[j]                 = p0 + m;
            y[j + NIB_QK4_1 / 2] = p1 + m;
        }
    }
}

static uint32_t load_u32_le(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static void store_u32_le(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

void nib_quant_to_float_q5_0(const void *src, float *dst, int64_t n) {
    const struct nib_block_q5_0 *x = src; /* [n/32] */
    const int64_t nb = n / NIB_QK5_0;
    for (int64_t i = 0; i < nb; i++) {
        const float d = nib_fp16_to_fp32(x[i].d);
        const uint32_t qh = load_u32_le(x[i].qh);
        float *y = dst + i * NIB_QK5_0;
        for (int j = 0; j < NIB_QK5_0 / 2; j++) {
            const int h0 = (int)((qh >> j) & 1) << 4;
            const int h1 = (int)((qh >> (j + 16)) & 1) << 4;
            const int q0 = ((x[i].qs[j] & 0x0F) | h0) - 16;
            const int q1 = ((x[i].qs[j] >> 4) | h1) - 16;
            y[j]                 = (float)q0 * d;
            y[j + NIB_QK5_0 / 2] = (float)q1 * d;
        }
    }
}

void nib_quant_to_float_q5_1(const void *src, float *dst, int64_t n) {
    const struct nib_block_q5_1 *x = src; /* [n/32] */
    const int64_t nb = n / NIB_QK5_1;
    for (int64_t i = 0; i < nb; i++) {
        const float d = nib_fp16_to_fp32(x[i].d);
        const float m = nib_fp16_to_fp32(x[i].m);
        const uint32_t qh = load_u32_le(x[i].qh);
        float *y = dst + i * NIB_QK5_1;
        for (int j = 0; j < NIB_QK5_1 / 2; j++) {
            const int h0 = (int)((qh >> j) & 1) << 4;
            const int h1 = (int)((qh >> (j + 16)) & 1) << 4;
            const float p0 = (float)((x[i].qs[j] & 0x0F) | h0) * d;
            const float p1 = (float)((x[i].qs[j] >> 4) | h1) * d;
            y[j]                 = p0 + m;
            y[j + NIB_QK5_1 / 2] = p1 + m;
        }
    }
}

void nib_quant_to_float_q8_0(const void *src, float *dst, int64_t n) {
    const struct nib_block_q8_0 *x = src; /* [n/32] */
    const int64_t nb = n / NIB_QK8_0;
    for (int64_t i = 0; i < nb; i++) {
        const float d = nib_fp16_to_fp32(x[i].d);
        for (int j = 0; j < NIB_QK8_0; j++) dst[i * NIB_QK8_0 + j] = (float)x[i].qs[j] * d;
    }
}

/* ggml has no Q8_1 dequantizer; this is the obvious one (the sum s unused). */
void nib_quant_to_float_q8_1(const void *src, float *dst, int64_t n) {
    const struct nib_block_q8_1 *x = src; /* [n/32] */
    const int64_t nb = n / NIB_QK8_1;
    for (int64_t i = 0; i < nb; i++) {
        const float d = nib_fp16_to_fp32(x[i].d);
        for (int j = 0; j < NIB_QK8_1; j++) dst[i * NIB_QK8_1 + j] = (float)x[i].qs[j] * d;
    }
}

/* --------------------------------------------------------- quantize */

/* First element of largest magnitude, with its sign (ties keep the first). */
static float signed_absmax(const float *x, int n) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < n; j++) {
        if (amax < fabsf(x[j])) {
            amax = fabsf(x[j]);
            max  = x[j];
        }
    }
    return max;
}

static void min_max(const float *x, int n, float *min_out, float *max_out) {
    float min = FLT_MAX, max = -FLT_MAX;
    for (int j = 0; j < n; j++) {
        if (x[j] < min) min = x[j];
        if (x[j] > max) max = x[j];
    }
    *min_out = min;
    *max_out = max;
}

static int min_int(int a, int b) { return a < b ? a : b; }

void nib_quant_from_float_q4_0(const float *src, void *dst, int64_t n) {
    struct nib_block_q4_0 *y = dst; /* [n/32] */
    const int64_t nb = n / NIB_QK4_0;
    for (int64_t i = 0; i < nb; i++) {
        const float *x = src + i * NIB_QK4_0;
        /* The largest magnitude maps to -8 exactly, keeping its sign in d. */
        const float max = signed_absmax(x, NIB_QK4_0);
        const float d   = max / -8;
        const float id  = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = nib_fp32_to_fp16(d);
        for (int j = 0; j < NIB_QK4_0 / 2; j++) {
            const float x0 = x[j] * id;
            const float x1 = x[j + NIB_QK4_0 / 2] * id;
            const float r0 = x0 + 8.5f;
            const float r1 = x1 + 8.5f;
            const int q0 = min_int(15, (int8_t)r0);
            const int q1 = min_int(15, (int8_t)r1);
            y[i].qs[j] = (uint8_t)(q0 | (q1 << 4));
        }
    }
}

void nib_quant_from_float_q4_1(const float *src, void *dst, int64_t n) {
    struct nib_block_q4_1 *y = dst; /* [n/32] */
    const int64_t nb = n / NIB_QK4_1;
    for (int64_t i = 0; i < nb; i++) {
        const float *x = src + i * NIB_QK4_1;
        float min, max;
        min_max(x, NIB_QK4_1, &min, &max);
        const float range = max - min;
        const float d  = range / 15;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = nib_fp32_to_fp16(d);
        y[i].m = nib_fp32_to_fp16(min);
        for (int j = 0; j < NIB_QK4_1 / 2; j++) {
            const float s0 = x[j] - min;
            const float s1 = x[j + NIB_QK4_1 / 2] - min;
            const float x0 = s0 * id;
            const float x1 = s1 * id;
            const float r0 = x0 + 0.5f;
            const float r1 = x1 + 0.5f;
            const int q0 = min_int(15, (int8_t)r0);
            const int q1 = min_int(15, (int8_t)r1);
            y[i].qs[j] = (uint8_t)(q0 | (q1 << 4));
        }
    }
}

void nib_quant_from_float_q5_0(const float *src, void *dst, int64_t n) {
    struct nib_block_q5_0 *y = dst; /* [n/32] */
    const int64_t nb = n / NIB_QK5_0;
    for (int64_t i = 0; i < nb; i++) {
        const float *x = src + i * NIB_QK5_0;
        const float max = signed_absmax(x, NIB_QK5_0);
        const float d   = max / -16;
        const float id  = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = nib_fp32_to_fp16(d);
        uint32_t qh = 0;
        for (int j = 0; j < NIB_QK5_0 / 2; j++) {
            const float x0 = x[j] * id;
            const float x1 = x[j + NIB_QK5_0 / 2] * id;
            const float r0 = x0 + 16.5f;
            const float r1 = x1 + 16.5f;
            const int q0 = min_int(31, (int8_t)r0);
            const int q1 = min_int(31, (int8_t)r1);
            y[i].qs[j] = (uint8_t)((q0 & 0x0F) | ((q1 & 0x0F) << 4));
            qh |= (uint32_t)((q0 >> 4) & 1) << j;
            qh |= (uint32_t)((q1 >> 4) & 1) << (j + NIB_QK5_0 / 2);
        }
        store_u32_le(y[i].qh, qh);
    }
}

void nib_quant_from_float_q5_1(const float *src, void *dst, int64_t n) {
    struct nib_block_q5_1 *y = dst; /* [n/32] */
    const int64_t nb = n / NIB_QK5_1;
    for (int64_t i = 0; i < nb; i++) {
        const float *x = src + i * NIB_QK5_1;
        float min, max;
        min_max(x, NIB_QK5_1, &min, &max);
        const float range = max - min;
        const float d  = range / 31;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = nib_fp32_to_fp16(d);
        y[i].m = nib_fp32_to_fp16(min);
        uint32_t qh = 0;
        for (int j = 0; j < NIB_QK5_1 / 2; j++) {
            const float s0 = x[j] - min;
            const float s1 = x[j + NIB_QK5_1 / 2] - min;
            const float x0 = s0 * id;
            const float x1 = s1 * id;
            const float r0 = x0 + 0.5f;
            const float r1 = x1 + 0.5f;
            /* ggml does not clamp here: x0 <= 31 + rounding, so r0 < 32 */
            const int q0 = (uint8_t)r0;
            const int q1 = (uint8_t)r1;
            y[i].qs[j] = (uint8_t)((q0 & 0x0F) | ((q1 & 0x0F) << 4));
            qh |= (uint32_t)((q0 >> 4) & 1) << j;
            qh |= (uint32_t)((q1 >> 4) & 1) << (j + NIB_QK5_1 / 2);
        }
        store_u32_le(y[i].qh, qh);
    }
}

static float absmax(const float *x, int n) {
    float amax = 0.0f;
    for (int j = 0; j < n; j++) {
        const float a = fabsf(x[j]);
        amax = amax > a ? amax : a; /* ggml's MAX(amax, fabsf(v)) */
    }
    return amax;
}

void nib_quant_from_float_q8_0(const float *src, void *dst, int64_t n) {
    struct nib_block_q8_0 *y = dst; /* [n/32] */
    const int64_t nb = n / NIB_QK8_0;
    for (int64_t i = 0; i < nb; i++) {
        const float *x = src + i * NIB_QK8_0;
        const float d  = absmax(x, NIB_QK8_0) / 127;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = nib_fp32_to_fp16(d);
        for (int j = 0; j < NIB_QK8_0; j++) {
            const float v = x[j] * id;
            y[i].qs[j] = (int8_t)roundf(v);
        }
    }
}

void nib_quant_from_float_q8_1(const float *src, void *dst, int64_t n) {
    struct nib_block_q8_1 *y = dst; /* [n/32] */
    const int64_t nb = n / NIB_QK8_1;
    for (int64_t i = 0; i < nb; i++) {
        const float *x = src + i * NIB_QK8_1;
        const float d  = absmax(x, NIB_QK8_1) / 127;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = nib_fp32_to_fp16(d);
        int sum = 0;
        for (int j = 0; j < NIB_QK8_1; j++) {
            const float v = x[j] * id;
            y[i].qs[j] = (int8_t)roundf(v);
            sum += y[i].qs[j];
        }
        const float s = (float)sum * d;
        y[i].s = nib_fp32_to_fp16(s);
    }
}
