/*
 * cuda_matvec.cu — y = W x for decode (see cuda_backend.h), W in the GPU
 * layout: the entry point, which sends Q4_0, Q8_0, Q4_K, Q6_K and the float
 * types to the fast kernels (cuda_matvec_q.cu), and the generic kernel for
 * the rest (and for a W or x that is not 16-byte aligned): elements
 * dequantized in registers, one warp per row, lanes over consecutive
 * elements.
 */
#include "cuda_common.cuh"

#define WARP 32
#define ROWS_PER_CTA 4

__device__ __forceinline__ float warp_sum(float v) {
    for (int o = WARP / 2; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

template <int T>
__global__ void matvec_generic(const uint8_t *w, const float *x, float *y, int64_t rows, int64_t cols, int block,
                               int bytes) {
    const int64_t r = (int64_t)blockIdx.x * ROWS_PER_CTA + threadIdx.x / WARP;
    const int lane = threadIdx.x % WARP;
    if (r >= rows) return;
    const int64_t nb = cols / block, n_blocks = rows * nb;
    float acc = 0.0f;
    for (int64_t c = lane; c < cols; c += WARP)
        acc += nib_dev_dq_gpu<T>(w, n_blocks, r * nb + c / block, (int)(c % block), bytes) * x[c];
    acc = warp_sum(acc);
    if (lane == 0) y[r] = acc;
}

template <int T>
static int generic(const void *w, int64_t rows, int64_t cols, const float *x, float *y, struct nib_error *err) {
    const nib_dev_type ti = nib_cuda_type_info(T);
    const int64_t grid = (rows + ROWS_PER_CTA - 1) / ROWS_PER_CTA;
    matvec_generic<T><<<(unsigned)grid, ROWS_PER_CTA * WARP>>>(static_cast<const uint8_t *>(w), x, y, rows, cols, ti.block,
                                                              ti.bytes);
    return nib_cuda_launched("matvec", err);
}

extern "C" size_t nib_cuda_matvec_scratch_bytes(int64_t cols) {
    return (size_t)((cols + 31) / 32) * 40; /* unused since x is quantized in shared memory; kept nonzero for callers */
}

extern "C" int nib_cuda_matvec(int type, const void *w, int64_t rows, int64_t cols, const float *x, float *y, void *scratch,
                               struct nib_error *err) {
    (void)scratch;
    const nib_dev_type ti = nib_cuda_type_info(type);
    if (ti.block == 0) return nib_cuda_fail(err, NIB_E_UNSUPPORTED, "CUDA matvec: type %s", nib_type_name(type));
    if (rows <= 0 || cols <= 0 || cols % ti.block || rows > INT32_MAX || cols > INT32_MAX / 2)
        return nib_cuda_fail(err, NIB_E_ARG, "CUDA matvec: %lld x %lld is not a matrix of whole %s blocks", (long long)rows,
                             (long long)cols, nib_type_name(type));
    const int rc = nib_cuda_matvec_fast(type, w, rows, cols, x, y, err);
    if (rc != NIB_E_UNSUPPORTED) return rc;
    NIB_CUDA_TYPE_SWITCH(type, generic, w, rows, cols, x, y, err)
    return NIB_E_UNSUPPORTED;
}
