/*
 * cuda_rope.cu — rotary position embedding of q or k rows (see
 * cuda_backend.h). Angles as the CPU reference takes them: theta_i = pos *
 * theta_scale^i by repeated float multiplication, then freq_scale and
 * freq_factors; cos/sin are CUDA's (last-ulp differences from libm).
 */
#include "cuda_common.cuh"

__global__ void rope_kernel(float *x, int n_head, int head_dim, const int32_t *pos, int n_pairs, int neox, float theta_scale,
                            float freq_scale, float attn_factor, const float *freq_factors) {
    const int t = blockIdx.y, h = blockIdx.x;
    float *v = x + ((size_t)t * n_head + h) * head_dim;
    for (int i = threadIdx.x; i < n_pairs; i += blockDim.x) {
        float theta = (float)pos[t];
        for (int k = 0; k < i; k++) theta *= theta_scale;
        const float ff = freq_factors ? freq_factors[i] : 1.0f;
        const float th = freq_scale * (theta / ff);
        const float c = cosf(th) * attn_factor, s = sinf(th) * attn_factor;
        const int a = neox ? i : 2 * i, b = neox ? i + n_pairs : 2 * i + 1;
        const float x0 = v[a], x1 = v[b];
        v[a] = fmaf(x0, c, -(x1 * s));
        v[b] = fmaf(x0, s, x1 * c);
    }
}

extern "C" int nib_cuda_rope(float *x, int n_tok, int n_head, int head_dim, const int32_t *pos, const struct nib_cuda_rope_params *p,
                             struct nib_error *err) {
    if (n_tok <= 0 || n_head <= 0 || head_dim <= 0 || p->n_rot <= 0 || p->n_rot % 2 || p->n_rot > head_dim)
        return nib_cuda_fail(err, NIB_E_ARG, "CUDA rope: %d tokens, %d heads of %d, %d rotated dims", n_tok, n_head, head_dim,
                             p->n_rot);
    const float theta_scale = powf(p->freq_base, -2.0f / (float)p->n_rot);
    rope_kernel<<<dim3((unsigned)n_head, (unsigned)n_tok), 64>>>(x, n_head, head_dim, pos, p->n_rot / 2, p->neox, theta_scale,
                                                                 p->freq_scale, p->attn_factor, p->freq_factors);
    return nib_cuda_launched("rope", err);
}
