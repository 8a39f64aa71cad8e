/*
 * cuda_backend.h — nib's CUDA kernels and device layer, built only with
 * -DNIB_CUDA=ON (compute capability 7.5 and up: T4, A10G, L4/4090, H100).
 *
 * Device layer: device discovery that never fails (0 devices without a
 * driver or GPU), allocation with a clear "out of device memory" error and
 * a hint, copies, and the device-to-device copy bandwidth (the physical
 * limit decode is measured against).
 *
 * Kernels (all pointers are device pointers; rows are GGUF block rows, x and
 * y are float; every kernel runs on the default stream and returns after
 * launching — nib_cuda_sync waits and reports an asynchronous error):
 *  - nib_cuda_dequantize: n elements of any type nib reads (F32, F16, BF16,
 *    Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K..Q6_K) to float, the CPU reference's
 *    values (same float operations; the GPU's rounding of a product may
 *    differ only where the CPU's order would);
 *  - nib_cuda_matvec: y[r] = sum_c W[r][c] x[c] for decode: Q4_0 and Q8_0
 *    through int8 dp4a dot products against x quantized to Q8_1 blocks (one
 *    float multiply per block, as ggml), the other types dequantized in
 *    registers, one warp per row, fp32 accumulation;
 *  - nib_cuda_matmul: Y[t][r] = sum_c W[r][c] X[t][c] for prefill: W
 *    dequantized to F16 (or used as it is), X converted to F16, cuBLAS GEMM
 *    with fp32 accumulation;
 *  - nib_cuda_rmsnorm, nib_cuda_swiglu, nib_cuda_add, nib_cuda_get_rows
 *    (embedding rows), nib_cuda_kv_store (K/V rows to F16 slots of the pool):
 *    the other steps of a block;
 *  - nib_cuda_rope: rotary embedding, pairs (2i, 2i+1) or NEOX (i, i+n/2);
 *  - nib_cuda_attention_decode: one query token over the KV rows of a
 *    sequence's slots in the paged pool (the CPU cache's slot array), split-K
 *    over chunks of keys (FlashDecoding-style), GQA.
 * Errors are nib statuses with a message; nothing aborts or prints.
 */
#ifndef NIB_CUDA_BACKEND_H
#define NIB_CUDA_BACKEND_H

#include "nib.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct nib_cuda_device {
    char   name[256];
    int    major, minor;   /* compute capability */
    int    sm_count;
    size_t total_mem, free_mem;
};

/* Devices present; 0 when there is no driver, no GPU or an error. */
int nib_cuda_device_count(void);
/* Facts about device dev; NIB_E_ARG for a bad index, NIB_E_UNSUPPORTED for a
 * compute capability below 7.5 (the message says which). */
int nib_cuda_device_get(int dev, struct nib_cuda_device *out, struct nib_error *err);
/* Makes dev the current device (checks it as nib_cuda_device_get). */
int nib_cuda_use_device(int dev, struct nib_error *err);

/* Device memory. nib_cuda_malloc: NULL and NIB_E_NOMEM ("out of device
 * memory: N MiB asked, M MiB free; try fewer GPU layers (-ngl) or a smaller
 * context (-c)") when it does not fit. */
void *nib_cuda_malloc(size_t bytes, struct nib_error *err);
void  nib_cuda_free(void *p);
int   nib_cuda_upload(void *dst, const void *src, size_t bytes, struct nib_error *err);
int   nib_cuda_download(void *dst, const void *src, size_t bytes, struct nib_error *err);
/* Waits for the device; reports an error from an earlier launch. */
int   nib_cuda_sync(struct nib_error *err);
/* GB/s of a device-to-device copy of `bytes` (read + write counted), best of
 * a few runs; negative status on error. */
int   nib_cuda_copy_bandwidth(size_t bytes, double *gbps, struct nib_error *err);

/* True when the kernels handle this weight type. */
bool nib_cuda_supports_type(int type);

int nib_cuda_dequantize(int type, const void *src, float *dst, int64_t n, struct nib_error *err);

/* Scratch bytes nib_cuda_matvec needs for rows of `cols` (x as Q8_1 blocks). */
size_t nib_cuda_matvec_scratch_bytes(int64_t cols);
int nib_cuda_matvec(int type, const void *w, int64_t rows, int64_t cols, const float *x, float *y, void *scratch,
                    struct nib_error *err);

/* Y [n_tok][rows] = X [n_tok][cols] times W^T. scratch: nib_cuda_matmul_scratch_bytes. */
size_t nib_cuda_matmul_scratch_bytes(int type, int64_t rows, int64_t cols, int64_t n_tok);
int nib_cuda_matmul(int type, const void *w, int64_t rows, int64_t cols, const float *x, int64_t n_tok, float *y,
                    void *scratch, struct nib_error *err);

/* y[r][i] = x[r][i] / sqrt(mean(x[r]^2) + eps) * w[i], n_rows rows of n. */
int nib_cuda_rmsnorm(const float *x, const float *w, float *y, int64_t n_rows, int64_t n, float eps,
                     struct nib_error *err);
/* y[i] = silu(g[i]) * u[i]. */
int nib_cuda_swiglu(const float *g, const float *u, float *y, int64_t n, struct nib_error *err);
/* y[i] += x[i]. */
int nib_cuda_add(float *y, const float *x, int64_t n, struct nib_error *err);
/* y[r][i] += b[i] for rows of width. */
int nib_cuda_add_bias(float *y, const float *b, int64_t rows, int64_t width, struct nib_error *err);
/* Device-to-device copy (ordered with the kernels). */
int nib_cuda_copy(void *dst, const void *src, size_t bytes, struct nib_error *err);
/* out[r] = row ids[r] of table (rows of cols elements of type), as float. */
int nib_cuda_get_rows(int type, const void *table, int64_t cols, const int32_t *ids, int n, float *out, struct nib_error *err);
/* pool[slots[t]] = F16(x[t]) for n_tok rows of `row` values. */
int nib_cuda_kv_store(const float *x, void *pool, const int32_t *slots, int n_tok, int row, struct nib_error *err);

struct nib_cuda_rope_params {
    int          n_rot, neox;      /* rotated dims; pairs (2i, 2i+1) or (i, i + n_rot/2) */
    float        freq_base, freq_scale, attn_factor;
    const float *freq_factors;     /* device [n_rot/2] or NULL */
};
/* Rotates x [n_tok][n_head][head_dim] in place, token t at position pos[t] (device). */
int nib_cuda_rope(float *x, int n_tok, int n_head, int head_dim, const int32_t *pos, const struct nib_cuda_rope_params *p,
                  struct nib_error *err);

/* out [n_head][head_dim] = softmax(q K^T * scale) V over the n_kv positions
 * whose rows sit in slots[0..n_kv) of the pools k, v ([n_slots][n_head_kv *
 * head_dim] F16); head h reads kv head h / (n_head / n_head_kv).
 * head_dim <= 256. scratch: nib_cuda_attention_scratch_bytes. */
size_t nib_cuda_attention_scratch_bytes(int n_head, int head_dim, int32_t n_kv);
int nib_cuda_attention_decode(const float *q, const void *k, const void *v, const int32_t *slots, int32_t n_kv, int n_head,
                              int n_head_kv, int head_dim, float scale, float *out, void *scratch, struct nib_error *err);

#ifdef __cplusplus
}
#endif

#endif
