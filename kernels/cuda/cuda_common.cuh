/*
 * cuda_common.cuh — shared by nib's .cu files: turning CUDA errors into nib
 * statuses with a message, and the per-element dequantizers of every block
 * type (the CPU reference's formulas, formats/quant_*.c), used by the
 * dequantize kernel and the generic matvec.
 */
#ifndef NIB_CUDA_COMMON_CUH
#define NIB_CUDA_COMMON_CUH

#include "cuda_backend.h"
#include "formats/quant_blocks.h"

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdarg>
#include <cstdio>

static inline int nib_cuda_fail(struct nib_error *err, int status, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->status = status;
    }
    return status;
}

/* NIB_OK, or the CUDA error as NIB_E_IO with what was being done. */
static inline int nib_cuda_check(cudaError_t e, const char *what, struct nib_error *err) {
    if (e == cudaSuccess) return NIB_OK;
    if (e == cudaErrorMemoryAllocation)
        return nib_cuda_fail(err, NIB_E_NOMEM, "CUDA %s: out of device memory", what);
    return nib_cuda_fail(err, NIB_E_IO, "CUDA %s: %s", what, cudaGetErrorString(e));
}

/* The launch just made: a bad configuration shows here, a fault at sync. */
static inline int nib_cuda_launched(const char *what, struct nib_error *err) {
    return nib_cuda_check(cudaGetLastError(), what, err);
}

/* Programmatic dependent launch (compute 9.0 and up): a kernel launched by
 * nib_cuda_launch_pdl may be scheduled while the kernel before it is still
 * running (once that one's blocks have triggered, nib_dev_pdl_trigger, or
 * exited), so its launch and its first weight loads overlap that kernel's
 * tail. It must call nib_dev_pdl_wait, which returns when the kernels before
 * it have finished and their writes are visible, before it reads anything
 * they wrote or writes anything; every block must call it. Older devices:
 * both are no-ops and the launch is an ordinary one. */
__device__ __forceinline__ void nib_dev_pdl_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}
__device__ __forceinline__ void nib_dev_pdl_trigger() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}

/* Whether launches use it: a device of compute 9.0 or up, and NIB_CUDA_PDL
 * is not "0" (cuda_device.cu; read once). */
bool nib_cuda_pdl(void);

/* kernel<<<grid, block, smem>>>(args) on this thread's default stream, as a
 * programmatic dependent launch where nib_cuda_pdl(). */
template <typename... KArgs, typename... Args>
static inline int nib_cuda_launch_pdl(const char *what, struct nib_error *err, void (*kernel)(KArgs...), dim3 grid, dim3 block,
                                      size_t smem, Args... args) {
    if (!nib_cuda_pdl()) {
        kernel<<<grid, block, smem>>>(args...);
        return nib_cuda_launched(what, err);
    }
    cudaLaunchConfig_t cfg = {};
    cfg.gridDim = grid;
    cfg.blockDim = block;
    cfg.dynamicSmemBytes = smem;
    cfg.stream = cudaStreamPerThread;
    cudaLaunchAttribute at[1];
    at[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    at[0].val.programmaticStreamSerializationAllowed = 1;
    cfg.attrs = at;
    cfg.numAttrs = 1;
    const cudaError_t e = cudaLaunchKernelEx(&cfg, kernel, static_cast<KArgs>(args)...);
    if (e != cudaSuccess) cudaGetLastError();
    return nib_cuda_check(e, what, err);
}

__device__ __forceinline__ float nib_dev_h2f(uint16_t h) { return __half2float(__ushort_as_half(h)); }

/* Element i (0 <= i < block size) of the block at p. */
template <int T> __device__ float nib_dev_dq(const uint8_t *p, int i);

template <> __device__ __forceinline__ float nib_dev_dq<NIB_TYPE_F32>(const uint8_t *p, int) {
    return *reinterpret_cast<const float *>(p);
}
template <> __device__ __forceinline__ float nib_dev_dq<NIB_TYPE_F16>(const uint8_t *p, int) {
    return nib_dev_h2f(*reinterpret_cast<const uint16_t *>(p));
}
template <> __device__ __forceinline__ float nib_dev_dq<NIB_TYPE_BF16>(const uint8_t *p, int) {
    return __uint_as_float((uint32_t)*reinterpret_cast<const uint16_t *>(p) << 16);
}
template <> __device__ __forceinline__ float nib_dev_dq<NIB_TYPE_Q4_0>(const uint8_t *p, int i) {
    const nib_block_q4_0 *b = reinterpret_cast<const nib_block_q4_0 *>(p);
    const int q = i < 16 ? (b->qs[i] & 0xF) : (b->qs[i - 16] >> 4);
    return (float)(q - 8) * nib_dev_h2f(b->d);
}
template <> __device__ __forceinline__ float nib_dev_dq<NIB_TYPE_Q4_1>(const uint8_t *p, int i) {
    const nib_block_q4_1 *b = reinterpret_cast<const nib_block_q4_1 *>(p);
    const int q = i < 16 ? (b->qs[i] & 0xF) : (b->qs[i - 16] >> 4);
    return __fadd_rn(__fmul_rn((float)q, nib_dev_h2f(b->d)), nib_dev_h2f(b->m)); /* no fma: the CPU's rounding */
}
__device__ __forceinline__ uint32_t nib_dev_u32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
template <> __device__ __forceinline__ float nib_dev_dq<NIB_TYPE_Q5_0>(const uint8_t *p, int i) {
    const nib_block_q5_0 *b = reinterpret_cast<const nib_block_q5_0 *>(p);
    const int lo = i < 16 ? (b->qs[i] & 0xF) : (b->qs[i - 16] >> 4);
    const int h = (int)((nib_dev_u32(b->qh) >> i) & 1) << 4;
    return (float)((lo | h) - 16) * nib_dev_h2f(b->d);
}
template <> __device__ __forceinline__ float nib_dev_dq<NIB_TYPE_Q5_1>(const uint8_t *p, int i) {
    const nib_block_q5_1 *b = reinterpret_cast<const nib_block_q5_1 *>(p);
    const int lo = i < 16 ? (b->qs[i] & 0xF) : (b->qs[i - 16] >> 4);
    const int h = (int)((nib_dev_u32(b->qh) >> i) & 1) << 4;
    return __fadd_rn(__fmul_rn((float)(lo | h), nib_dev_h2f(b->d)), nib_dev_h2f(b->m));
}
template <> __device__ __forceinline__ float nib_dev_dq<NIB_TYPE_Q8_0>(const uint8_t *p, int i) {
    const nib_block_q8_0 *b = reinterpret_cast<const nib_block_q8_0 *>(p);
    return (float)b->qs[i] * nib_dev_h2f(b->d);
}
template <> __device__ __forceinline__ float nib_dev_dq<NIB_TYPE_Q2_K>(const uint8_t *p, int i) {
    const nib_block_q2_K *b = reinterpret_cast<const nib_block_q2_K *>(p);
    const int half = i / 128, r = i % 128, s4 = r / 32, k = (r % 32) / 16, l = r % 16;
    const uint8_t sc = b->scales[half * 8 + s4 * 2 + k];
    const int q = (b->qs[half * 32 + 16 * k + l] >> (2 * s4)) & 3;
    const float dl = __fmul_rn(nib_dev_h2f(b->d), (float)(sc & 0xF)), ml = __fmul_rn(nib_dev_h2f(b->dmin), (float)(sc >> 4));
    return __fsub_rn(__fmul_rn(dl, (float)q), ml);
}
template <> __device__ __forceinline__ float nib_dev_dq<NIB_TYPE_Q3_K>(const uint8_t *p, int i) {
    const nib_block_q3_K *b = reinterpret_cast<const nib_block_q3_K *>(p);
    const int half = i / 128, r = i % 128, s4 = r / 32, l = r % 32, is = half * 8 + s4 * 2 + l / 16;
    const int lo = (is < 8 ? b->scales[is] : b->scales[is - 8] >> 4) & 0xF;
    const int hi = (b->scales[8 + (is & 3)] >> (2 * (is >> 2))) & 3;
    const int sc = (lo | (hi << 4)) - 32;
    const int m = 1 << (half * 4 + s4);
    const int v = ((b->qs[half * 32 + l] >> (2 * s4)) & 3) - ((b->hmask[l] & m) ? 0 : 4);
    return nib_dev_h2f(b->d) * (float)sc * (float)v;
}
__device__ __forceinline__ void nib_dev_scale_min_k4(int j, const uint8_t *q, int *sc, int *m) {
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
        *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}
template <> __device__ __forceinline__ float nib_dev_dq<NIB_TYPE_Q4_K>(const uint8_t *p, int i) {
    const nib_block_q4_K *b = reinterpret_cast<const nib_block_q4_K *>(p);
    const int chunk = i / 64, r = i % 64;
    int sc, m;
    nib_dev_scale_min_k4(2 * chunk + r / 32, b->scales, &sc, &m);
    const uint8_t q = b->qs[chunk * 32 + r % 32];
    const int nib = r < 32 ? (q & 0xF) : (q >> 4);
    return __fsub_rn(__fmul_rn(__fmul_rn(nib_dev_h2f(b->d), (float)sc), (float)nib), __fmul_rn(nib_dev_h2f(b->dmin), (float)m));
}
template <> __device__ __forceinline__ float nib_dev_dq<NIB_TYPE_Q5_K>(const uint8_t *p, int i) {
    const nib_block_q5_K *b = reinterpret_cast<const nib_block_q5_K *>(p);
    const int chunk = i / 64, r = i % 64, l = r % 32;
    int sc, m;
    nib_dev_scale_min_k4(2 * chunk + r / 32, b->scales, &sc, &m);
    const uint8_t q = b->qs[chunk * 32 + l];
    const int hb = (b->qh[l] >> (2 * chunk + r / 32)) & 1;
    const int v = (r < 32 ? (q & 0xF) : (q >> 4)) + 16 * hb;
    return __fsub_rn(__fmul_rn(__fmul_rn(nib_dev_h2f(b->d), (float)sc), (float)v), __fmul_rn(nib_dev_h2f(b->dmin), (float)m));
}
/* Q6_K element i from the block's ql, qh, scales (the 208 bytes at p) and d. */
__device__ __forceinline__ float nib_dev_dq_q6_K(const uint8_t *p, uint16_t d, int i) {
    const nib_block_q6_K *b = reinterpret_cast<const nib_block_q6_K *>(p);
    const int half = i / 128, r = i % 128, quarter = r / 32, l = r % 32;
    const uint8_t *ql = b->ql + half * 64, *qh = b->qh + half * 32;
    const int lo = quarter & 1 ? ql[l + 32] : ql[l];
    const int nib = quarter < 2 ? (lo & 0xF) : (lo >> 4);
    const int q = (nib | (((qh[l] >> (2 * quarter)) & 3) << 4)) - 32;
    const int sc = b->scales[half * 8 + l / 16 + 2 * quarter];
    return nib_dev_h2f(d) * (float)sc * (float)q;
}
template <> __device__ __forceinline__ float nib_dev_dq<NIB_TYPE_Q6_K>(const uint8_t *p, int i) {
    return nib_dev_dq_q6_K(p, reinterpret_cast<const nib_block_q6_K *>(p)->d, i);
}

/* Block size (elements) and bytes of the types the kernels handle. */
struct nib_dev_type { int block, bytes; };
static inline nib_dev_type nib_cuda_type_info(int type) {
    switch (type) {
    case NIB_TYPE_F32: return { 1, 4 };
    case NIB_TYPE_F16: case NIB_TYPE_BF16: return { 1, 2 };
    case NIB_TYPE_Q4_0: return { 32, (int)sizeof(nib_block_q4_0) };
    case NIB_TYPE_Q4_1: return { 32, (int)sizeof(nib_block_q4_1) };
    case NIB_TYPE_Q5_0: return { 32, (int)sizeof(nib_block_q5_0) };
    case NIB_TYPE_Q5_1: return { 32, (int)sizeof(nib_block_q5_1) };
    case NIB_TYPE_Q8_0: return { 32, (int)sizeof(nib_block_q8_0) };
    case NIB_TYPE_Q2_K: return { 256, (int)sizeof(nib_block_q2_K) };
    case NIB_TYPE_Q3_K: return { 256, (int)sizeof(nib_block_q3_K) };
    case NIB_TYPE_Q4_K: return { 256, (int)sizeof(nib_block_q4_K) };
    case NIB_TYPE_Q5_K: return { 256, (int)sizeof(nib_block_q5_K) };
    case NIB_TYPE_Q6_K: return { 256, (int)sizeof(nib_block_q6_K) };
    default: return { 0, 0 };
    }
}

/* The GPU weight layout (cuda_backend.h, nib_cuda_weight_upload): Q4_0, Q8_0
 * and Q6_K are split, all n_blocks blocks' quant bytes first ([n_blocks][Q],
 * Q = 16, 32, 208: every block's quants 16-byte aligned) and then all fp16
 * scales d ([n_blocks]); the other types keep their GGUF blocks (Q4_K too:
 * split into 128-byte quants and 16-byte heads, its decode matvec was 25-50%
 * slower on an H100 at 11008 and 32000 rows). Q bytes of a split type, 0 for
 * one kept as GGUF. */
static inline int nib_cuda_split_bytes(int type) {
    switch (type) {
    case NIB_TYPE_Q4_0: return 16;
    case NIB_TYPE_Q8_0: return 32;
    case NIB_TYPE_Q6_K: return 208;
    default: return 0;
    }
}

/* Element i of block bi of a weight matrix of n_blocks blocks in the GPU
 * layout: the same value as nib_dev_dq<T> on the GGUF block. */
template <int T> __device__ __forceinline__ float nib_dev_dq_gpu(const uint8_t *w, int64_t n_blocks, int64_t bi, int i, int bytes) {
    (void)n_blocks;
    return nib_dev_dq<T>(w + bi * bytes, i);
}
template <>
__device__ __forceinline__ float nib_dev_dq_gpu<NIB_TYPE_Q4_0>(const uint8_t *w, int64_t n_blocks, int64_t bi, int i, int) {
    const uint8_t *qs = w + bi * 16;
    const int q = i < 16 ? (qs[i] & 0xF) : (qs[i - 16] >> 4);
    return (float)(q - 8) * nib_dev_h2f(reinterpret_cast<const uint16_t *>(w + n_blocks * 16)[bi]);
}
template <>
__device__ __forceinline__ float nib_dev_dq_gpu<NIB_TYPE_Q8_0>(const uint8_t *w, int64_t n_blocks, int64_t bi, int i, int) {
    const int8_t *qs = reinterpret_cast<const int8_t *>(w + bi * 32);
    return (float)qs[i] * nib_dev_h2f(reinterpret_cast<const uint16_t *>(w + n_blocks * 32)[bi]);
}
template <>
__device__ __forceinline__ float nib_dev_dq_gpu<NIB_TYPE_Q6_K>(const uint8_t *w, int64_t n_blocks, int64_t bi, int i, int) {
    return nib_dev_dq_q6_K(w + bi * 208, reinterpret_cast<const uint16_t *>(w + n_blocks * 208)[bi], i);
}

/* cuda_matvec_q.cu: the fast matvec kernels (Q4_0, Q8_0, Q4_K, Q6_K through
 * dp4a; F32, F16, BF16 with 16-byte loads). NIB_E_UNSUPPORTED (nothing
 * launched, err untouched) where they do not apply; the caller checked the
 * type and shape. */
int nib_cuda_matvec_fast(int type, const void *w, int64_t rows, int64_t cols, const float *x, float *y, struct nib_error *err);

/* Calls F<T>::run(args...) for the runtime type. */
#define NIB_CUDA_TYPE_SWITCH(type, F, ...)                                        \
    switch (type) {                                                               \
    case NIB_TYPE_F32: return F<NIB_TYPE_F32>(__VA_ARGS__);                       \
    case NIB_TYPE_F16: return F<NIB_TYPE_F16>(__VA_ARGS__);                       \
    case NIB_TYPE_BF16: return F<NIB_TYPE_BF16>(__VA_ARGS__);                     \
    case NIB_TYPE_Q4_0: return F<NIB_TYPE_Q4_0>(__VA_ARGS__);                     \
    case NIB_TYPE_Q4_1: return F<NIB_TYPE_Q4_1>(__VA_ARGS__);                     \
    case NIB_TYPE_Q5_0: return F<NIB_TYPE_Q5_0>(__VA_ARGS__);                     \
    case NIB_TYPE_Q5_1: return F<NIB_TYPE_Q5_1>(__VA_ARGS__);                     \
    case NIB_TYPE_Q8_0: return F<NIB_TYPE_Q8_0>(__VA_ARGS__);                     \
    case NIB_TYPE_Q2_K: return F<NIB_TYPE_Q2_K>(__VA_ARGS__);                     \
    case NIB_TYPE_Q3_K: return F<NIB_TYPE_Q3_K>(__VA_ARGS__);                     \
    case NIB_TYPE_Q4_K: return F<NIB_TYPE_Q4_K>(__VA_ARGS__);                     \
    case NIB_TYPE_Q5_K: return F<NIB_TYPE_Q5_K>(__VA_ARGS__);                     \
    case NIB_TYPE_Q6_K: return F<NIB_TYPE_Q6_K>(__VA_ARGS__);                     \
    default: break;                                                               \
    }

#endif
