/*
 * cuda_dequant.cu — any weight type to float on the device, element by
 * element with the CPU reference's formulas (cuda_common.cuh).
 */
#include "cuda_common.cuh"

template <int T>
__global__ void dequant_kernel(const uint8_t *src, float *dst, int64_t n, int block, int bytes) {
    const int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    dst[i] = nib_dev_dq<T>(src + (i / block) * bytes, (int)(i % block));
}

template <int T> static int dequant(const void *src, float *dst, int64_t n, struct nib_error *err) {
    const nib_dev_type ti = nib_cuda_type_info(T);
    const int threads = 256;
    const int64_t grid = (n + threads - 1) / threads;
    dequant_kernel<T><<<(unsigned)grid, threads>>>(static_cast<const uint8_t *>(src), dst, n, ti.block, ti.bytes);
    return nib_cuda_launched("dequantize", err);
}

extern "C" int nib_cuda_dequantize(int type, const void *src, float *dst, int64_t n, struct nib_error *err) {
    const nib_dev_type ti = nib_cuda_type_info(type);
    if (ti.block == 0) return nib_cuda_fail(err, NIB_E_UNSUPPORTED, "CUDA: cannot dequantize %s", nib_type_name(type));
    if (n < 0 || n % ti.block) return nib_cuda_fail(err, NIB_E_ARG, "CUDA dequantize: %lld elements are not whole %s blocks",
                                                    (long long)n, nib_type_name(type));
    if (n == 0) return NIB_OK;
    NIB_CUDA_TYPE_SWITCH(type, dequant, src, dst, n, err)
    return NIB_E_UNSUPPORTED;
}
