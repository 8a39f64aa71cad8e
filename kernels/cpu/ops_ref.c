/*
 * ops_ref.c — the row ops of ops_ref.h: RMSNorm, RoPE (and YaRN's
 * constants), SwiGLU (nib_op_matmul is in matmul.c).
 */
#include "ops_ref.h"

#include "dispatch.h"
#include "ggml_order.h"

#include <math.h>

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

void nib_rope_yarn(const struct nib_rope_params *p, float corr[2], float *mscale) {
    corr[0] = fmaxf(0, floorf(yarn_corr_dim(p->n_rot, p->n_ctx_orig, p->beta_fast, p->freq_base)));
    corr[1] = fminf((float)(p->n_rot - 1), ceilf(yarn_corr_dim(p->n_rot, p->n_ctx_orig, p->beta_slow, p->freq_base)));
    *mscale = p->attn_factor * (1.0f + 0.1f * logf(1.0f / p->freq_scale));
}

void nib_op_rope(float *x, int n_head, int head_dim, int32_t pos, const struct nib_rope_params *p) {
    float cs[2 * 512];
    const int n_pairs = p->n_rot / 2;
    const float theta_scale = powf(p->freq_base, -2.0f / (float)p->n_rot);
    float corr[2] = { 0, 0 }, mscale = p->attn_factor;
    if (p->ext_factor != 0.0f) nib_rope_yarn(p, corr, &mscale);
    float theta = (float)pos;
    for (int i = 0; i < n_pairs && i < 512; i++) {
        const float ff = p->freq_factors ? p->freq_factors[i] : 1.0f;
        const float extrap = theta / ff;
        float th = p->freq_scale * extrap;
        if (p->ext_factor != 0.0f) {
            const float mix = yarn_ramp(corr[0], corr[1], 2 * i) * p->ext_factor;
            th = th * (1 - mix) + extrap * mix;
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
            v[a] = fmaf(x0, c, -(x1 * s));
            v[b] = fmaf(x0, s, x1 * c);
        }
    }
}

void nib_op_swiglu(const float *g, const float *u, int64_t n, float *y) { nib_cpu_kernels()->swiglu(g, u, n, y); }

void nib_swiglu_ref(const float *g, const float *u, int64_t n, float *y) {
    const int64_t nv = n & ~(int64_t)(NIB_GGML_EPR - 1); /* ggml_vec_swiglu_f32: v_silu 8 at a time */
    for (int64_t i = 0; i < nv; i++) y[i] = nib_ggml_silu(g[i]) * u[i];
    for (int64_t i = nv; i < n; i++) y[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}
