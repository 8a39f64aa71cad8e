/*
 * cuda_matmul.cu — Y = X W^T for prefill (see cuda_backend.h): W (GPU
 * layout) dequantized to F16 (F16 weights used as they are, F32 through SGEMM), X
 * converted to F16, one cuBLAS GEMM with fp32 accumulation. The cuBLAS
 * handle is made on first use (one per process; the engine calls from one
 * thread).
 */
#include "cuda_common.cuh"

#include <cublas_v2.h>

static cublasHandle_t handle;

static int get_handle(struct nib_error *err) {
    if (handle) return NIB_OK;
    if (cublasCreate(&handle) != CUBLAS_STATUS_SUCCESS) {
        handle = NULL;
        return nib_cuda_fail(err, NIB_E_IO, "cuBLAS could not start (out of device memory or no device)");
    }
    return NIB_OK;
}

static int blas_check(cublasStatus_t s, struct nib_error *err) {
    if (s == CUBLAS_STATUS_SUCCESS) return NIB_OK;
    return nib_cuda_fail(err, s == CUBLAS_STATUS_ALLOC_FAILED ? NIB_E_NOMEM : NIB_E_IO, "cuBLAS GEMM failed (status %d)", (int)s);
}

/* Elements per block of type T, known when compiling (divisions by it are shifts). */
template <int T> __host__ __device__ constexpr int dq_block() {
    return T == NIB_TYPE_F32 || T == NIB_TYPE_F16 || T == NIB_TYPE_BF16 ? 1
           : T == NIB_TYPE_Q2_K || T == NIB_TYPE_Q3_K || T == NIB_TYPE_Q4_K || T == NIB_TYPE_Q5_K || T == NIB_TYPE_Q6_K ? 256
                                                                                                                        : 32;
}

/* src in the GPU layout (nib_cuda_weight_upload): n / B blocks; each thread
 * writes 8 consecutive halves (one 16-byte store), n % 8 == 0. */
template <int T>
__global__ void dequant_half8(const uint8_t *src, __half *dst, int64_t n, int bytes) {
    constexpr int B = dq_block<T>();
    const int64_t i0 = ((int64_t)blockIdx.x * blockDim.x + threadIdx.x) * 8;
    if (i0 >= n) return;
    __align__(16) __half h[8];
#pragma unroll
    for (int k = 0; k < 8; k++) h[k] = __float2half_rn(nib_dev_dq_gpu<T>(src, n / B, (i0 + k) / B, (int)((i0 + k) % B), bytes));
    *reinterpret_cast<uint4 *>(dst + i0) = *reinterpret_cast<const uint4 *>(h);
}

/* The same, one element per thread (n not a multiple of 8). */
template <int T>
__global__ void dequant_half(const uint8_t *src, __half *dst, int64_t n, int bytes) {
    constexpr int B = dq_block<T>();
    const int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) dst[i] = __float2half_rn(nib_dev_dq_gpu<T>(src, n / B, i / B, (int)(i % B), bytes));
}

template <int T> static int to_half(const void *src, __half *dst, int64_t n, struct nib_error *err) {
    const nib_dev_type ti = nib_cuda_type_info(T);
    const uint8_t *s = static_cast<const uint8_t *>(src);
    if (n % 8 == 0 && ((uintptr_t)dst & 15) == 0)
        dequant_half8<T><<<(unsigned)((n / 8 + 255) / 256), 256>>>(s, dst, n, ti.bytes);
    else
        dequant_half<T><<<(unsigned)((n + 255) / 256), 256>>>(s, dst, n, ti.bytes);
    return nib_cuda_launched("dequantize to F16", err);
}

__global__ void float_to_half(const float *x, __half *y, int64_t n) {
    const int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = __float2half_rn(x[i]);
}

extern "C" size_t nib_cuda_matmul_scratch_bytes(int type, int64_t rows, int64_t cols, int64_t n_tok) {
    if (type == NIB_TYPE_F32) return 0;
    const size_t w = type == NIB_TYPE_F16 ? 0 : (size_t)rows * (size_t)cols * sizeof(__half);
    return w + (size_t)n_tok * (size_t)cols * sizeof(__half);
}

static int weights_half(int type, const void *w, __half *dst, int64_t n, struct nib_error *err) {
    NIB_CUDA_TYPE_SWITCH(type, to_half, w, dst, n, err)
    return NIB_E_UNSUPPORTED;
}

extern "C" int nib_cuda_matmul(int type, const void *w, int64_t rows, int64_t cols, const float *x, int64_t n_tok, float *y,
                               void *scratch, struct nib_error *err) {
    const nib_dev_type ti = nib_cuda_type_info(type);
    if (ti.block == 0) return nib_cuda_fail(err, NIB_E_UNSUPPORTED, "CUDA matmul: type %s", nib_type_name(type));
    if (rows <= 0 || cols <= 0 || n_tok <= 0 || cols % ti.block || rows > INT32_MAX || cols > INT32_MAX || n_tok > INT32_MAX)
        return nib_cuda_fail(err, NIB_E_ARG, "CUDA matmul: %lld x %lld times %lld tokens is not a valid %s product",
                             (long long)rows, (long long)cols, (long long)n_tok, nib_type_name(type));
    int rc = get_handle(err);
    if (rc) return rc;
    const float one = 1.0f, zero = 0.0f;
    const int m = (int)rows, n = (int)n_tok, k = (int)cols;
    if (type == NIB_TYPE_F32) /* column-major: Y (rows x n_tok) = W^T (rows x cols) X (cols x n_tok) */
        return blas_check(cublasSgemm(handle, CUBLAS_OP_T, CUBLAS_OP_N, m, n, k, &one, static_cast<const float *>(w), k, x, k,
                                      &zero, y, m), err);
    if (!scratch) return nib_cuda_fail(err, NIB_E_ARG, "CUDA matmul: no scratch");
    __half *wh = static_cast<__half *>(scratch), *xh = wh;
    const void *wa = w;
    if (type != NIB_TYPE_F16) {
        if ((rc = weights_half(type, w, wh, rows * cols, err))) return rc;
        wa = wh;
        xh = wh + rows * cols;
    }
    float_to_half<<<(unsigned)((n_tok * cols + 255) / 256), 256>>>(x, xh, n_tok * cols);
    if ((rc = nib_cuda_launched("convert to F16", err))) return rc;
    return blas_check(cublasGemmEx(handle, CUBLAS_OP_T, CUBLAS_OP_N, m, n, k, &one, wa, CUDA_R_16F, k, xh, CUDA_R_16F, k, &zero,
                                   y, CUDA_R_32F, m, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
                      err);
}
