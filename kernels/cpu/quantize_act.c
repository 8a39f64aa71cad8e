/*
 * quantize_act.c — quantizing activation rows for a matmul.
 *
 * Q8_0 and Q8_1 activations are rounded the way ggml's CPU backend does it
 * on x86 (the platform llama.cpp's reference outputs come from): scale
 * d = amax/127, multiplier 127/amax (not 1/d), round half to even. The
 * reference quantize_row_*_ref rounding (1/d, half away from zero) differs
 * in rare ties, and one flipped activation quant moves a logit by ~1e-2,
 * enough to flip a greedy choice. Other partner types use the type table's
 * reference from_float (Q8_K: ggml uses the reference there too).
 * nib_op_quantize_rows goes through the CPU kernel table (dispatch.h); the
 * scalar functions here are what its reference entries point at.
 */
#include "ops_ref.h"

#include "dispatch.h"
#include "fp16.h"
#include "quant_blocks.h"

#include <math.h>

static float block_amax(const float *x, int n) {
    float m = 0.0f;
    for (int i = 0; i < n; i++) m = fmaxf(m, fabsf(x[i]));
    return m;
}

void nib_quantize_act_q8_0_ref(const float *x, void *vy, int64_t n) {
    struct nib_block_q8_0 *y = vy; /* [n/32] */
    for (int64_t b = 0; b < n / NIB_QK8_0; b++, x += NIB_QK8_0) {
        const float amax = block_amax(x, NIB_QK8_0);
        const float d = amax / 127.f, id = amax != 0.0f ? 127.f / amax : 0.0f;
        y[b].d = nib_fp32_to_fp16(d);
        for (int i = 0; i < NIB_QK8_0; i++) y[b].qs[i] = (int8_t)nearbyintf(x[i] * id);
    }
}

void nib_quantize_act_q8_1_ref(const float *x, void *vy, int64_t n) {
    struct nib_block_q8_1 *y = vy; /* [n/32] */
    for (int64_t b = 0; b < n / NIB_QK8_1; b++, x += NIB_QK8_1) {
        const float amax = block_amax(x, NIB_QK8_1);
        const float d = amax / 127.f, id = amax != 0.0f ? 127.f / amax : 0.0f;
        int32_t sum = 0;
        y[b].d = nib_fp32_to_fp16(d);
        for (int i = 0; i < NIB_QK8_1; i++) {
            y[b].qs[i] = (int8_t)nearbyintf(x[i] * id);
            sum += y[b].qs[i];
        }
        y[b].s = nib_fp32_to_fp16(d * (float)sum);
    }
}

void nib_op_quantize_rows(int type, const float *x, int64_t n, int64_t n_tok, void *out, size_t out_row_bytes) {
    nib_quantize_act_fn q = nib_cpu_kernels()->quantize_act[type];
    for (int64_t t = 0; t < n_tok; t++) q(x + t * n, (char *)out + (size_t)t * out_row_bytes, n);
}
