/*
 * cuda_matvec.cu — y = W x for decode (see cuda_backend.h). Q4_0 and Q8_0:
 * x is quantized once to 32-element int8 blocks (scale d, and s = d * sum of
 * the quants), each row's blocks are dotted with dp4a and scaled once per
 * block. Other types: elements dequantized in registers. One warp per row,
 * lanes over consecutive blocks (neighbouring lanes read neighbouring bytes).
 */
#include "cuda_common.cuh"

#define WARP 32
#define ROWS_PER_CTA 4

struct xq_block { /* scratch layout of quantized x */
    float  d, s;
    int8_t qs[32];
};

__device__ __forceinline__ float warp_sum(float v) {
    for (int o = WARP / 2; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
__device__ __forceinline__ int warp_sum_i(int v) {
    for (int o = WARP / 2; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
__device__ __forceinline__ float warp_max(float v) {
    for (int o = WARP / 2; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

/* One warp per 32-element block of x. */
__global__ void quantize_x(const float *x, xq_block *xq, int64_t n_blocks) {
    const int64_t b = (int64_t)blockIdx.x * (blockDim.x / WARP) + threadIdx.x / WARP;
    const int lane = threadIdx.x % WARP;
    if (b >= n_blocks) return;
    const float v = x[b * 32 + lane];
    const float amax = warp_max(fabsf(v));
    const float d = amax / 127.0f;
    const int q = amax == 0.0f ? 0 : __float2int_rn(v / d);
    const int sum = warp_sum_i(q);
    xq[b].qs[lane] = (int8_t)q;
    if (lane == 0) {
        xq[b].d = d;
        xq[b].s = d * (float)sum;
    }
}

__device__ __forceinline__ int load_i32(const uint8_t *p) { /* any alignment */
    return (int)((uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24));
}

__global__ void matvec_q8_0(const uint8_t *w, const xq_block *xq, float *y, int64_t rows, int64_t nb) {
    const int64_t r = (int64_t)blockIdx.x * ROWS_PER_CTA + threadIdx.x / WARP;
    const int lane = threadIdx.x % WARP;
    if (r >= rows) return;
    const nib_block_q8_0 *row = reinterpret_cast<const nib_block_q8_0 *>(w + r * nb * sizeof(nib_block_q8_0));
    float acc = 0.0f;
    for (int64_t b = lane; b < nb; b += WARP) {
        const uint8_t *q = reinterpret_cast<const uint8_t *>(row[b].qs);
        const int *x = reinterpret_cast<const int *>(xq[b].qs);
        int sumi = 0;
#pragma unroll
        for (int k = 0; k < 8; k++) sumi = __dp4a(load_i32(q + 4 * k), x[k], sumi);
        acc += nib_dev_h2f(row[b].d) * xq[b].d * (float)sumi;
    }
    acc = warp_sum(acc);
    if (lane == 0) y[r] = acc;
}

__global__ void matvec_q4_0(const uint8_t *w, const xq_block *xq, float *y, int64_t rows, int64_t nb) {
    const int64_t r = (int64_t)blockIdx.x * ROWS_PER_CTA + threadIdx.x / WARP;
    const int lane = threadIdx.x % WARP;
    if (r >= rows) return;
    const nib_block_q4_0 *row = reinterpret_cast<const nib_block_q4_0 *>(w + r * nb * sizeof(nib_block_q4_0));
    float acc = 0.0f;
    for (int64_t b = lane; b < nb; b += WARP) {
        const int *x = reinterpret_cast<const int *>(xq[b].qs);
        int sumi = 0;
#pragma unroll
        for (int k = 0; k < 4; k++) {
            const int v = load_i32(row[b].qs + 4 * k);
            sumi = __dp4a(v & 0x0F0F0F0F, x[k], sumi);            /* elements 4k..4k+3 */
            sumi = __dp4a((v >> 4) & 0x0F0F0F0F, x[k + 4], sumi); /* elements 16+4k.. */
        }
        /* sum (q - 8) xq dx dw = dw (dx sumi - 8 s) */
        acc += nib_dev_h2f(row[b].d) * (xq[b].d * (float)sumi - 8.0f * xq[b].s);
    }
    acc = warp_sum(acc);
    if (lane == 0) y[r] = acc;
}

template <int T>
__global__ void matvec_generic(const uint8_t *w, const float *x, float *y, int64_t rows, int64_t cols, int block,
                               int bytes) {
    const int64_t r = (int64_t)blockIdx.x * ROWS_PER_CTA + threadIdx.x / WARP;
    const int lane = threadIdx.x % WARP;
    if (r >= rows) return;
    const uint8_t *row = w + r * (cols / block) * bytes;
    float acc = 0.0f;
    for (int64_t c = lane; c < cols; c += WARP) acc += nib_dev_dq<T>(row + (c / block) * bytes, (int)(c % block)) * x[c];
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
    return (size_t)((cols + 31) / 32) * sizeof(xq_block);
}

extern "C" int nib_cuda_matvec(int type, const void *w, int64_t rows, int64_t cols, const float *x, float *y, void *scratch,
                               struct nib_error *err) {
    const nib_dev_type ti = nib_cuda_type_info(type);
    if (ti.block == 0) return nib_cuda_fail(err, NIB_E_UNSUPPORTED, "CUDA matvec: type %s", nib_type_name(type));
    if (rows <= 0 || cols <= 0 || cols % ti.block)
        return nib_cuda_fail(err, NIB_E_ARG, "CUDA matvec: %lld x %lld is not a matrix of whole %s blocks", (long long)rows,
                             (long long)cols, nib_type_name(type));
    const int64_t grid = (rows + ROWS_PER_CTA - 1) / ROWS_PER_CTA;
    if (type == NIB_TYPE_Q4_0 || type == NIB_TYPE_Q8_0) {
        if (!scratch) return nib_cuda_fail(err, NIB_E_ARG, "CUDA matvec: no scratch for the quantized input");
        const int64_t nb = cols / 32;
        xq_block *xq = static_cast<xq_block *>(scratch);
        quantize_x<<<(unsigned)((nb + 7) / 8), 8 * WARP>>>(x, xq, nb);
        int rc = nib_cuda_launched("quantize x", err);
        if (rc) return rc;
        const uint8_t *wb = static_cast<const uint8_t *>(w);
        if (type == NIB_TYPE_Q8_0) matvec_q8_0<<<(unsigned)grid, ROWS_PER_CTA * WARP>>>(wb, xq, y, rows, nb);
        else matvec_q4_0<<<(unsigned)grid, ROWS_PER_CTA * WARP>>>(wb, xq, y, rows, nb);
        return nib_cuda_launched("matvec", err);
    }
    NIB_CUDA_TYPE_SWITCH(type, generic, w, rows, cols, x, y, err)
    return NIB_E_UNSUPPORTED;
}
