/*
 * cuda_elementwise.cu — the small steps of a layer: y += x, embedding rows
 * (dequantized), K/V rows stored as F16 into their slots of the pool.
 */
#include "cuda_common.cuh"

__global__ void add_kernel(float *y, const float *x, int64_t n) {
    const int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] += x[i];
}

extern "C" int nib_cuda_add(float *y, const float *x, int64_t n, struct nib_error *err) {
    if (n <= 0) return nib_cuda_fail(err, NIB_E_ARG, "CUDA add: %lld elements", (long long)n);
    add_kernel<<<(unsigned)((n + 255) / 256), 256>>>(y, x, n);
    return nib_cuda_launched("add", err);
}

template <int T>
__global__ void get_rows_kernel(const uint8_t *table, int64_t cols, const int32_t *ids, float *out, int block, int bytes) {
    const int64_t r = blockIdx.y;
    const uint8_t *row = table + (int64_t)ids[r] * (cols / block) * bytes;
    for (int64_t c = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; c < cols; c += (int64_t)gridDim.x * blockDim.x)
        out[r * cols + c] = nib_dev_dq<T>(row + (c / block) * bytes, (int)(c % block));
}

template <int T>
static int get_rows(const void *table, int64_t cols, const int32_t *ids, int n, float *out, struct nib_error *err) {
    const nib_dev_type ti = nib_cuda_type_info(T);
    get_rows_kernel<T><<<dim3(4, (unsigned)n), 256>>>(static_cast<const uint8_t *>(table), cols, ids, out, ti.block, ti.bytes);
    return nib_cuda_launched("get rows", err);
}

extern "C" int nib_cuda_get_rows(int type, const void *table, int64_t cols, const int32_t *ids, int n, float *out,
                                 struct nib_error *err) {
    const nib_dev_type ti = nib_cuda_type_info(type);
    if (ti.block == 0) return nib_cuda_fail(err, NIB_E_UNSUPPORTED, "CUDA get rows: type %s", nib_type_name(type));
    if (n <= 0 || cols <= 0 || cols % ti.block)
        return nib_cuda_fail(err, NIB_E_ARG, "CUDA get rows: %d rows of %lld", n, (long long)cols);
    NIB_CUDA_TYPE_SWITCH(type, get_rows, table, cols, ids, n, out, err)
    return NIB_E_UNSUPPORTED;
}

__global__ void kv_store_kernel(const float *x, __half *pool, const int32_t *slots, int row) {
    const int t = blockIdx.y;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < row; i += gridDim.x * blockDim.x)
        pool[(size_t)slots[t] * row + i] = __float2half_rn(x[(size_t)t * row + i]);
}

extern "C" int nib_cuda_kv_store(const float *x, void *pool, const int32_t *slots, int n_tok, int row, struct nib_error *err) {
    if (n_tok <= 0 || row <= 0) return nib_cuda_fail(err, NIB_E_ARG, "CUDA kv store: %d rows of %d", n_tok, row);
    kv_store_kernel<<<dim3((unsigned)((row + 255) / 256), (unsigned)n_tok), 256>>>(x, static_cast<__half *>(pool), slots, row);
    return nib_cuda_launched("kv store", err);
}

__global__ void add_bias_kernel(float *y, const float *b, int64_t rows, int64_t width) {
    const int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < rows * width) y[i] += b[i % width];
}

extern "C" int nib_cuda_add_bias(float *y, const float *b, int64_t rows, int64_t width, struct nib_error *err) {
    if (rows <= 0 || width <= 0) return nib_cuda_fail(err, NIB_E_ARG, "CUDA add bias: %lld rows of %lld", (long long)rows, (long long)width);
    add_bias_kernel<<<(unsigned)((rows * width + 255) / 256), 256>>>(y, b, rows, width);
    return nib_cuda_launched("add bias", err);
}

extern "C" int nib_cuda_copy(void *dst, const void *src, size_t bytes, struct nib_error *err) {
    return nib_cuda_check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice), "device copy", err);
}

/* n rows of width: up to 8 blocks of 256 threads per row (they stride over it). */
static dim3 rows_grid(int64_t width, int n) {
    const int64_t x = (width + 255) / 256;
    return dim3((unsigned)(x < 8 ? x : 8), (unsigned)n);
}

__global__ void gather_rows_kernel(const float *src, const int32_t *idx, float *dst, int64_t width) {
    const int64_t j = blockIdx.y;
    const float *s = src + (int64_t)idx[j] * width;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < width; i += (int64_t)gridDim.x * blockDim.x)
        dst[j * width + i] = s[i];
}

extern "C" int nib_cuda_gather_rows(const float *src, const int32_t *idx, int n, int64_t width, float *dst, struct nib_error *err) {
    if (n <= 0 || width <= 0) return nib_cuda_fail(err, NIB_E_ARG, "CUDA gather rows: %d rows of %lld", n, (long long)width);
    gather_rows_kernel<<<rows_grid(width, n), 256>>>(src, idx, dst, width);
    return nib_cuda_launched("gather rows", err);
}

__global__ void scatter_add_rows_kernel(float *dst, const int32_t *idx, const float *w, const float *src, int64_t width) {
    const int64_t j = blockIdx.y;
    float *d = dst + (int64_t)idx[j] * width;
    const float wj = w[j];
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < width; i += (int64_t)gridDim.x * blockDim.x)
        d[i] += src[j * width + i] * wj;
}

extern "C" int nib_cuda_scatter_add_rows(float *dst, const int32_t *idx, const float *w, const float *src, int n, int64_t width,
                                         struct nib_error *err) {
    if (n <= 0 || width <= 0) return nib_cuda_fail(err, NIB_E_ARG, "CUDA scatter-add rows: %d rows of %lld", n, (long long)width);
    scatter_add_rows_kernel<<<rows_grid(width, n), 256>>>(dst, idx, w, src, width);
    return nib_cuda_launched("scatter-add rows", err);
}
