/*
 * cuda_rope.cuh — the rotation of one pair as the CUDA kernels take it
 * (cuda_rope.cu's RoPE kernels and the decode matvec's q/k epilogue,
 * cuda_matvec_q.cu): the constants of a launch and cos/sin of pair i at a
 * position, as the CPU reference computes them.
 */
#pragma once
#include "cuda_common.cuh"

/* A launch's rotation constants, host-computed: YaRN's correction range
 * [corr0, corr1] and its scale folded into attn_factor (nib_rope_yarn, the
 * CPU reference's). */
struct RopeK {
    int          n_pairs, neox;
    float        theta_scale, freq_scale, attn_factor, ext_factor, corr0, corr1;
    const float *freq_factors;
};

RopeK nib_cuda_rope_k(const struct nib_cuda_rope_params *p);

/* cos and sin (times the attention factor) of pair i at position pos; YaRN
 * mixes the interpolated and extrapolated angles by a ramp over the pairs
 * (rounded as the CPU does: no fused multiply-add). */
__device__ __forceinline__ void rope_cs(int32_t pos, int i, const RopeK &k, float *c, float *s) {
    float theta = (float)pos;
    for (int j = 0; j < i; j++) theta *= k.theta_scale;
    const float ff = k.freq_factors ? k.freq_factors[i] : 1.0f;
    const float extrap = theta / ff;
    float th = k.freq_scale * extrap;
    if (k.ext_factor != 0.0f) {
        const float y = ((float)i - k.corr0) / fmaxf(0.001f, k.corr1 - k.corr0);
        const float mix = (1 - fminf(1, fmaxf(0, y))) * k.ext_factor;
        th = __fadd_rn(__fmul_rn(th, 1 - mix), __fmul_rn(extrap, mix));
    }
    *c = cosf(th) * k.attn_factor;
    *s = sinf(th) * k.attn_factor;
}

/* Pair (x0, x1) rotated by (c, s): the kernels' one rounding. */
__device__ __forceinline__ float2 rope_turn(float x0, float x1, float c, float s) {
    return make_float2(fmaf(x0, c, -(x1 * s)), fmaf(x0, s, x1 * c));
}
