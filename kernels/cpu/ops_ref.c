/*
 * ops_ref.c — scalar reference ops (see ops_ref.h).
 */
#include "ops_ref.h"

#include "dispatch.h"
#include "fp16.h"

#include <math.h>
#include <string.h>

void nib_op_matmul(int w_type, const void *w, size_t w_row_bytes, int64_t n_in, int64_t n_out, const void *xq,
                   size_t xq_row_bytes, int64_t n_tok, float *y, int n_threads) {
    nib_vec_dot_fn dot = nib_cpu_kernels()->vec_dot[w_type]; /* the variant chosen at run time */
    (void)n_threads;
#pragma omp parallel for schedule(static) num_threads(n_threads > 0 ? n_threads : 1)
    for (int64_t o = 0; o < n_out; o++) {
        const char *wr = (const char *)w + (size_t)o * w_row_bytes;
        for (int64_t t = 0; t < n_tok; t++) dot(n_in, &y[t * n_out + o], wr, (const char *)xq + (size_t)t * xq_row_bytes);
    }
}

void nib_op_rmsnorm(const float *x, const float *w, int64_t n, float eps, float *y) {
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) sum += (double)(x[i] * x[i]);
    const float mean = (float)(sum / (double)n);
    const float scale = 1.0f / sqrtf(mean + eps);
    for (int64_t i = 0; i < n; i++) y[i] = x[i] * scale * w[i];
}

static float yarn_corr_dim(int n_dims, int n_ctx_orig, float n_rot, float base) {
    return (float)n_dims * logf((float)n_ctx_orig / (n_rot * 2 * (float)M_PI)) / (2 * logf(base));
}

static float yarn_ramp(float low, float high, int i0) {
    const float y = (float)(i0 / 2 - low) / fmaxf(0.001f, high - low);
    return 1 - fminf(1, fmaxf(0, y));
}

void nib_op_rope(float *x, int n_head, int head_dim, int32_t pos, const struct nib_rope_params *p) {
    float cs[2 * 512];
    const int n_pairs = p->n_rot / 2;
    const float theta_scale = powf(p->freq_base, -2.0f / (float)p->n_rot);
    float corr[2] = { 0, 0 };
    if (p->ext_factor != 0.0f) {
        corr[0] = fmaxf(0, floorf(yarn_corr_dim(p->n_rot, p->n_ctx_orig, p->beta_fast, p->freq_base)));
        corr[1] = fminf((float)(p->n_rot - 1), ceilf(yarn_corr_dim(p->n_rot, p->n_ctx_orig, p->beta_slow, p->freq_base)));
    }
    float theta = (float)pos;
    for (int i = 0; i < n_pairs && i < 512; i++) {
        const float ff = p->freq_factors ? p->freq_factors[i] : 1.0f;
        const float extrap = theta / ff;
        float th = p->freq_scale * extrap, mscale = p->attn_factor;
        if (p->ext_factor != 0.0f) {
            const float mix = yarn_ramp(corr[0], corr[1], 2 * i) * p->ext_factor;
            th = th * (1 - mix) + extrap * mix;
            mscale *= 1.0f + 0.1f * logf(1.0f / p->freq_scale);
        }
        cs[2 * i] = cosf(th) * mscale;
        cs[2 * i + 1] = sinf(th) * mscale;
        theta *= theta_scale;
    }
    for (int h = 0; h < n_head; h++) {
        float *v = x + (size_t)h * head_dim;
        for (int i = 0; i < n_pairs; i++) {
            const int a = p->neox ? i : 2 * i, b = p->neox ? i + n_pairs : 2 * i + 1;
            const float x0 = v[a], x1 = v[b], c = cs[2 * i], s = cs[2 * i + 1];
            v[a] = x0 * c - x1 * s;
            v[b] = x0 * s + x1 * c;
        }
    }
}

void nib_op_swiglu(const float *g, const float *u, int64_t n, float *y) {
    for (int64_t i = 0; i < n; i++) y[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

void nib_op_attention_head(const float *q, int head_dim, const uint16_t *k_base, const uint16_t *v_base,
                           size_t row_stride, size_t head_off, const int32_t *slot, int32_t n_kv, float scale,
                           float *scores, float *out) {
    uint16_t qh[1024];
    for (int d = 0; d < head_dim; d++) qh[d] = nib_fp32_to_fp16(q[d]); /* as ggml: Q meets an fp16 K in fp16 */
    float max = -INFINITY;
    for (int32_t j = 0; j < n_kv; j++) {
        const uint16_t *k = k_base + (size_t)slot[j] * row_stride + head_off;
        double dot = 0.0;
        for (int d = 0; d < head_dim; d++) dot += (double)(nib_fp16_to_fp32(qh[d]) * nib_fp16_to_fp32(k[d]));
        scores[j] = (float)dot * scale;
        if (scores[j] > max) max = scores[j];
    }
    double sum = 0.0;
    for (int32_t j = 0; j < n_kv; j++) {
        scores[j] = expf(scores[j] - max);
        sum += (double)scores[j];
    }
    const float inv = (float)(1.0 / sum);
    for (int32_t j = 0; j < n_kv; j++) scores[j] = nib_fp16_to_fp32(nib_fp32_to_fp16(scores[j] * inv)); /* P meets fp16 V in fp16 */
    for (int d = 0; d < head_dim; d++) {
        double acc = 0.0;
        for (int32_t j = 0; j < n_kv; j++)
            acc += (double)(scores[j] * nib_fp16_to_fp32(v_base[(size_t)slot[j] * row_stride + head_off + (size_t)d]));
        out[d] = (float)acc;
    }
}
