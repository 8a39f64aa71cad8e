/*
 * cuda_norm.cu — RMSNorm (one block of threads per row), the residual add
 * fused with it, and SwiGLU.
 */
#include "cuda_common.cuh"

#define NORM_THREADS 256

/* The block's sum of its threads' ss (part: NORM_THREADS / 32 floats of
 * shared memory), in every thread. */
__device__ __forceinline__ float block_sum(float ss, float *part) {
    for (int o = 16; o > 0; o >>= 1) ss += __shfl_xor_sync(0xffffffffu, ss, o);
    if (threadIdx.x % 32 == 0) part[threadIdx.x / 32] = ss;
    __syncthreads();
    if (threadIdx.x < 32) {
        ss = threadIdx.x < blockDim.x / 32 ? part[threadIdx.x] : 0.0f;
        for (int o = 16; o > 0; o >>= 1) ss += __shfl_xor_sync(0xffffffffu, ss, o);
        if (threadIdx.x == 0) part[0] = ss;
    }
    __syncthreads();
    return part[0];
}

__global__ void rmsnorm_kernel(const float *x, const float *w, float *y, int64_t n, float eps) {
    __shared__ float part[NORM_THREADS / 32];
    const float *xr = x + blockIdx.x * n;
    float *yr = y + blockIdx.x * n;
    float ss = 0.0f;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) ss += xr[i] * xr[i];
    const float scale = rsqrtf(block_sum(ss, part) / (float)n + eps);
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) yr[i] = xr[i] * scale * w[i];
}

extern "C" int nib_cuda_rmsnorm(const float *x, const float *w, float *y, int64_t n_rows, int64_t n, float eps,
                                struct nib_error *err) {
    if (n_rows <= 0 || n <= 0) return nib_cuda_fail(err, NIB_E_ARG, "CUDA rmsnorm: %lld rows of %lld", (long long)n_rows, (long long)n);
    rmsnorm_kernel<<<(unsigned)n_rows, NORM_THREADS>>>(x, w, y, n, eps);
    return nib_cuda_launched("rmsnorm", err);
}

__global__ void swiglu_kernel(const float *g, const float *u, float *y, int64_t n) {
    const int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

extern "C" int nib_cuda_swiglu(const float *g, const float *u, float *y, int64_t n, struct nib_error *err) {
    if (n <= 0) return nib_cuda_fail(err, NIB_E_ARG, "CUDA swiglu: %lld elements", (long long)n);
    swiglu_kernel<<<(unsigned)((n + 255) / 256), 256>>>(g, u, y, n);
    return nib_cuda_launched("swiglu", err);
}

/* x[r] += y[r], then xn[r] = rmsnorm(x[r]) * w: a layer's residual add fused
 * with the next norm (same float operations as nib_cuda_add then
 * nib_cuda_rmsnorm). */
__global__ void add_rmsnorm_kernel(float *x, const float *y, const float *w, float *xn, int64_t n, float eps) {
    __shared__ float part[NORM_THREADS / 32];
    float *xr = x + blockIdx.x * n, *yr = xn + blockIdx.x * n;
    const float *dr = y + blockIdx.x * n;
    float ss = 0.0f;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
        const float v = xr[i] + dr[i];
        xr[i] = v;
        ss += v * v;
    }
    const float scale = rsqrtf(block_sum(ss, part) / (float)n + eps);
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) yr[i] = xr[i] * scale * w[i];
}

extern "C" int nib_cuda_add_rmsnorm(float *x, const float *y, const float *w, float *xn, int64_t n_rows, int64_t n, float eps,
                                    struct nib_error *err) {
    if (n_rows <= 0 || n <= 0)
        return nib_cuda_fail(err, NIB_E_ARG, "CUDA add + rmsnorm: %lld rows of %lld", (long long)n_rows, (long long)n);
    add_rmsnorm_kernel<<<(unsigned)n_rows, NORM_THREADS>>>(x, y, w, xn, n, eps);
    return nib_cuda_launched("add + rmsnorm", err);
}
