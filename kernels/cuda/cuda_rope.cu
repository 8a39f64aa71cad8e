/*
 * cuda_rope.cu — rotary position embedding of q or k rows (see
 * cuda_backend.h). Angles as the CPU reference takes them: theta_i = pos *
 * theta_scale^i by repeated float multiplication, then freq_scale and
 * freq_factors, and YaRN's ramp; cos/sin are CUDA's (last-ulp differences
 * from libm).
 */
#include "cuda_rope.cuh"
#include "kernels/cpu/ops_ref.h"

RopeK nib_cuda_rope_k(const struct nib_cuda_rope_params *p) {
    RopeK k = { p->n_rot / 2, p->neox, powf(p->freq_base, -2.0f / (float)p->n_rot), p->freq_scale, p->attn_factor,
                p->ext_factor, 0.0f, 0.0f, p->freq_factors };
    if (p->ext_factor != 0.0f) {
        struct nib_rope_params cp = {};
        cp.n_rot = p->n_rot, cp.freq_base = p->freq_base, cp.freq_scale = p->freq_scale, cp.attn_factor = p->attn_factor;
        cp.beta_fast = p->beta_fast, cp.beta_slow = p->beta_slow, cp.n_ctx_orig = p->n_ctx_orig;
        float corr[2];
        nib_rope_yarn(&cp, corr, &k.attn_factor);
        k.corr0 = corr[0], k.corr1 = corr[1];
    }
    return k;
}

__global__ void rope_kernel(float *x, int n_head, int head_dim, const int32_t *pos, const RopeK k) {
    const int t = blockIdx.y, h = blockIdx.x;
    float *v = x + ((size_t)t * n_head + h) * head_dim;
    for (int i = threadIdx.x; i < k.n_pairs; i += blockDim.x) {
        float c, s;
        rope_cs(pos[t], i, k, &c, &s);
        const int a = k.neox ? i : 2 * i, b = k.neox ? i + k.n_pairs : 2 * i + 1;
        const float x0 = v[a], x1 = v[b];
        const float2 y = rope_turn(x0, x1, c, s);
        v[a] = y.x;
        v[b] = y.y;
    }
}

/* Block (i, t): i < n_head rotates q head i of token t in place; then the
 * n_head_kv k heads (rotated, then stored), then the v heads (stored). */
__global__ void rope_store_kernel(float *q, float *k, const float *v, __half *kpool, __half *vpool, const int32_t *slots, int n_head,
                                  int n_head_kv, int head_dim, const int32_t *pos, const RopeK rk) {
    nib_dev_pdl_trigger();
    nib_dev_pdl_wait();
    const int t = blockIdx.y, i = blockIdx.x;
    const int row = n_head_kv * head_dim;
    if (i >= n_head + n_head_kv) { /* v head */
        const int hv = i - n_head - n_head_kv;
        const float *src = v + (size_t)t * row + (size_t)hv * head_dim;
        __half *dst = vpool + (size_t)slots[t] * row + (size_t)hv * head_dim;
        for (int d = threadIdx.x; d < head_dim; d += blockDim.x) dst[d] = __float2half_rn(src[d]);
        return;
    }
    const bool is_k = i >= n_head;
    float *x = is_k ? k + (size_t)t * row + (size_t)(i - n_head) * head_dim : q + ((size_t)t * n_head + i) * head_dim;
    __half *dst = is_k ? kpool + (size_t)slots[t] * row + (size_t)(i - n_head) * head_dim : NULL;
    const int n_pairs = rk.n_pairs;
    for (int p = threadIdx.x; p < n_pairs; p += blockDim.x) {
        float c, s;
        rope_cs(pos[t], p, rk, &c, &s);
        const int a = rk.neox ? p : 2 * p, b = rk.neox ? p + n_pairs : 2 * p + 1;
        const float x0 = x[a], x1 = x[b];
        const float2 y = rope_turn(x0, x1, c, s);
        const float y0 = y.x, y1 = y.y;
        x[a] = y0;
        x[b] = y1;
        if (dst) dst[a] = __float2half_rn(y0), dst[b] = __float2half_rn(y1);
    }
    if (dst)
        for (int d = 2 * n_pairs + threadIdx.x; d < head_dim; d += blockDim.x) dst[d] = __float2half_rn(x[d]); /* not rotated */
}

extern "C" int nib_cuda_rope_store(float *q, float *k, const float *v, void *kpool, void *vpool, const int32_t *slots, int n_tok,
                                   int n_head, int n_head_kv, int head_dim, const int32_t *pos,
                                   const struct nib_cuda_rope_params *p, struct nib_error *err) {
    if (n_tok <= 0 || n_head <= 0 || n_head_kv <= 0 || head_dim <= 0 || p->n_rot <= 0 || p->n_rot % 2 || p->n_rot > head_dim)
        return nib_cuda_fail(err, NIB_E_ARG, "CUDA rope + store: %d tokens, %d/%d heads of %d, %d rotated dims", n_tok, n_head,
                             n_head_kv, head_dim, p->n_rot);
    return nib_cuda_launch_pdl("rope + store", err, rope_store_kernel, dim3((unsigned)(n_head + 2 * n_head_kv), (unsigned)n_tok),
                               dim3(64), 0, q, k, v, static_cast<__half *>(kpool), static_cast<__half *>(vpool), slots, n_head,
                               n_head_kv, head_dim, pos, nib_cuda_rope_k(p));
}

extern "C" int nib_cuda_rope(float *x, int n_tok, int n_head, int head_dim, const int32_t *pos, const struct nib_cuda_rope_params *p,
                             struct nib_error *err) {
    if (n_tok <= 0 || n_head <= 0 || head_dim <= 0 || p->n_rot <= 0 || p->n_rot % 2 || p->n_rot > head_dim)
        return nib_cuda_fail(err, NIB_E_ARG, "CUDA rope: %d tokens, %d heads of %d, %d rotated dims", n_tok, n_head, head_dim,
                             p->n_rot);
    rope_kernel<<<dim3((unsigned)n_head, (unsigned)n_tok), 64>>>(x, n_head, head_dim, pos, nib_cuda_rope_k(p));
    return nib_cuda_launched("rope", err);
}
