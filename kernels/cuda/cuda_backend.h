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
 *  - nib_cuda_weight_upload: a weight matrix into the GPU layout that
 *    nib_cuda_matvec and nib_cuda_matmul read (nib_cuda_weight_bytes of
 *    device memory, today the GGUF size for every type): Q4_0, Q8_0 and Q6_K
 *    split into all blocks' quants ([rows][cols/32][16 B], [rows][cols/32]
 *    [32 B], [rows][cols/256][208 B: ql qh scales]) followed by all fp16
 *    scales d ([rows][blocks per row]), so every block's quants are 16-byte
 *    aligned for vector loads; every other type (Q4_K's 144-byte blocks are
 *    aligned already) stays in GGUF blocks. nib_cuda_dequantize and
 *    nib_cuda_get_rows read plain GGUF blocks, not this layout;
 *  - nib_cuda_matvec: y[r] = sum_c W[r][c] x[c] for decode, W in the GPU
 *    layout: Q4_0, Q8_0, Q4_K and Q6_K through int8 dp4a dot products
 *    against x quantized in shared memory to 32-element int8 blocks (scale
 *    d and d * sum, as ggml's Q8_1 with float scales: relative error under
 *    1e-2 against the exact product, as the CPU's Q8 partner types), one
 *    float multiply per block or sub-block; F32/F16/BF16 with fp32 FMAs; both with 16-byte loads, 512-thread CTAs
 *    of 32 rows, at most one per SM (cuda_matvec_q.cu). The other types (and
 *    a W or x not 16-byte aligned) dequantize in registers, one warp per
 *    row. fp32 accumulation;
 *  - nib_cuda_matmul: Y[t][r] = sum_c W[r][c] X[t][c] for prefill: W (GPU
 *    layout) dequantized to F16 (or used as it is), X converted to F16,
 *    cuBLAS GEMM with fp32 accumulation;
 *  - nib_cuda_rmsnorm, nib_cuda_swiglu, nib_cuda_add, nib_cuda_get_rows
 *    (embedding rows), nib_cuda_kv_store (K/V rows to F16 slots of the pool),
 *    nib_cuda_gather_rows / nib_cuda_scatter_add_rows (an expert's rows of a
 *    MoE batch, its weighted outputs back): the other steps of a block;
 *  - nib_cuda_rope: rotary embedding, pairs (2i, 2i+1) or NEOX (i, i+n/2);
 *  - nib_cuda_attention: a batch's query tokens, each over the KV rows of
 *    its sequence's slots in the paged pool (the CPU cache's slot arrays),
 *    online softmax per warp, optionally split-K over chunks of keys
 *    (FlashDecoding-style) for decode, GQA.
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
/* Sets `bytes` of device memory to zero (ordered before later launches). */
int   nib_cuda_zero(void *dst, size_t bytes, struct nib_error *err);
/* Waits for the device; reports an error from an earlier launch. */
int   nib_cuda_sync(struct nib_error *err);
/* GB/s of a device-to-device copy of `bytes` (read + write counted), best of
 * a few runs; negative status on error. */
int   nib_cuda_copy_bandwidth(size_t bytes, double *gbps, struct nib_error *err);

/* True when the kernels handle this weight type. */
bool nib_cuda_supports_type(int type);

int nib_cuda_dequantize(int type, const void *src, float *dst, int64_t n, struct nib_error *err);

/* Device bytes of a rows x cols weight matrix of `type` in the GPU layout
 * (some types are repacked for aligned vector loads); 0 for a type the
 * kernels do not handle or a shape that is not whole blocks. */
size_t nib_cuda_weight_bytes(int type, int64_t rows, int64_t cols);
/* Host GGUF rows (rows x cols of type, contiguous) into dev (device memory
 * of nib_cuda_weight_bytes, 16-byte aligned as nib_cuda_malloc gives) in the
 * GPU layout. Split types go up in chunks of rows through a temporary device
 * buffer (at most 8 MiB) and a repack kernel; returns after the device is
 * done (it synchronizes). */
int nib_cuda_weight_upload(int type, int64_t rows, int64_t cols, const void *host, void *dev, struct nib_error *err);

/* Scratch bytes nib_cuda_matvec may use for rows of `cols` (nonzero; the
 * kernels quantize x in shared memory and today need none: scratch may be
 * NULL). w: nib_cuda_weight_upload's layout. */
size_t nib_cuda_matvec_scratch_bytes(int64_t cols);
int nib_cuda_matvec(int type, const void *w, int64_t rows, int64_t cols, const float *x, float *y, void *scratch,
                    struct nib_error *err);

/* Several matrices of one type and width over one x in a launch (decode:
 * q, k, v; gate and up), with the step before and after folded in: with
 * norm_w, x is first RMS-normalized (x / sqrt(mean(x^2) + eps) * norm_w; x
 * itself unchanged); each part's y[r] (+ bias[r] when given) is stored
 * (NIB_CUDA_MV_STORE), added to y[r] (NIB_CUDA_MV_ADD: a residual), or, for
 * two parts of equal rows, parts[0].y[r] = silu(W0 x + b0) * (W1 x + b1)
 * (NIB_CUDA_MV_SWIGLU). NIB_E_UNSUPPORTED, nothing launched and err
 * untouched, where the fast kernels do not apply (types other than Q4_0,
 * Q8_0, Q4_K, Q6_K, F32, F16, BF16; norm_w with float weights; unaligned
 * operands): the caller runs the steps apart. */
#define NIB_CUDA_MV_MAX_PARTS 3
enum { NIB_CUDA_MV_STORE, NIB_CUDA_MV_ADD, NIB_CUDA_MV_SWIGLU };
struct nib_cuda_mv_part {
    const void  *w;    /* rows x cols, GPU layout */
    int64_t      rows;
    float       *y;
    const float *bias; /* or NULL */
};
int nib_cuda_matvec_multi(int type, int64_t cols, const float *x, const float *norm_w, float eps,
                          const struct nib_cuda_mv_part *parts, int n_parts, int mode, struct nib_error *err);

/* Y [n_tok][rows] = X [n_tok][cols] times W^T, W in the GPU layout.
 * scratch: nib_cuda_matmul_scratch_bytes. */
size_t nib_cuda_matmul_scratch_bytes(int type, int64_t rows, int64_t cols, int64_t n_tok);
int nib_cuda_matmul(int type, const void *w, int64_t rows, int64_t cols, const float *x, int64_t n_tok, float *y,
                    void *scratch, struct nib_error *err);

/* y[r][i] = x[r][i] / sqrt(mean(x[r]^2) + eps) * w[i], n_rows rows of n. */
int nib_cuda_rmsnorm(const float *x, const float *w, float *y, int64_t n_rows, int64_t n, float eps,
                     struct nib_error *err);
/* x[r] += y[r], then xn[r] = x[r] / sqrt(mean(x[r]^2) + eps) * w: a residual
 * add and the next RMSNorm in one launch (the same float operations). */
int nib_cuda_add_rmsnorm(float *x, const float *y, const float *w, float *xn, int64_t n_rows, int64_t n, float eps,
                         struct nib_error *err);
/* y[i] = silu(g[i]) * u[i]. */
int nib_cuda_swiglu(const float *g, const float *u, float *y, int64_t n, struct nib_error *err);
/* y[i] += x[i]. */
int nib_cuda_add(float *y, const float *x, int64_t n, struct nib_error *err);
/* y[r][i] += b[i] for rows of width. */
int nib_cuda_add_bias(float *y, const float *b, int64_t rows, int64_t width, struct nib_error *err);
/* Device-to-device copy (ordered with the kernels). */
int nib_cuda_copy(void *dst, const void *src, size_t bytes, struct nib_error *err);
/* out[r] = row ids[r] of table (rows of cols elements of type, plain GGUF blocks), as float. */
int nib_cuda_get_rows(int type, const void *table, int64_t cols, const int32_t *ids, int n, float *out, struct nib_error *err);
/* MoE: dst[j] = src[idx[j]] (rows of width), and dst[idx[j]] += w[j] * src[j];
 * the idx of one scatter are distinct rows. idx and w are device arrays. */
int nib_cuda_gather_rows(const float *src, const int32_t *idx, int n, int64_t width, float *dst, struct nib_error *err);
int nib_cuda_scatter_add_rows(float *dst, const int32_t *idx, const float *w, const float *src, int n, int64_t width,
                              struct nib_error *err);
/* pool[slots[t]] = F16(x[t]) for n_tok rows of `row` values. */
int nib_cuda_kv_store(const float *x, void *pool, const int32_t *slots, int n_tok, int row, struct nib_error *err);

struct nib_cuda_rope_params {
    int          n_rot, neox;      /* rotated dims; pairs (2i, 2i+1) or (i, i + n_rot/2) */
    float        freq_base, freq_scale, attn_factor;
    const float *freq_factors;     /* device [n_rot/2] or NULL */
    /* YaRN (ext_factor 0: none), as the CPU reference (nib_op_rope) takes it */
    float        ext_factor, beta_fast, beta_slow;
    int          n_ctx_orig;
};
/* Rotates x [n_tok][n_head][head_dim] in place, token t at position pos[t] (device). */
int nib_cuda_rope(float *x, int n_tok, int n_head, int head_dim, const int32_t *pos, const struct nib_cuda_rope_params *p,
                  struct nib_error *err);
/* The attention inputs of a batch in one launch: q [n_tok][n_head][head_dim]
 * and k [n_tok][n_head_kv][head_dim] rotated in place as nib_cuda_rope does,
 * then k and v [n_tok][n_head_kv * head_dim] stored as F16 into the pools'
 * rows slots[t] (as nib_cuda_kv_store). */
int nib_cuda_rope_store(float *q, float *k, const float *v, void *kpool, void *vpool, const int32_t *slots, int n_tok, int n_head,
                        int n_head_kv, int head_dim, const int32_t *pos, const struct nib_cuda_rope_params *p,
                        struct nib_error *err);

/* A decode row's q, k and v (parts[0..2] of nib_cuda_matvec_multi in
 * NIB_CUDA_MV_STORE) with nib_cuda_rope_store folded in, one launch: q and
 * k rotated (the same rounding), k and v also stored as F16 into the pools'
 * row *slot; pos and slot are device pointers (one row). Normal pairs
 * (2i, 2i+1) only, each part whole heads of head_dim. NIB_E_UNSUPPORTED,
 * nothing launched and err untouched, where the fast kernels or this fold do
 * not apply (NEOX pairs among them): the caller runs the two steps. */
struct nib_cuda_mv_kv {
    const int32_t *pos, *slot;
    void          *kpool, *vpool;
    int            head_dim;
    const struct nib_cuda_rope_params *rope;
};
int nib_cuda_matvec_qkv(int type, int64_t cols, const float *x, const float *norm_w, float eps,
                        const struct nib_cuda_mv_part *parts, const struct nib_cuda_mv_kv *kv, struct nib_error *err);

/* Attention of n_tok query tokens, q [n_tok][n_head][head_dim]: token t's
 * out[t] = softmax(q[t] K^T * scale) V over the n_kv[t] positions whose rows
 * sit in slots[off[t] .. off[t] + n_kv[t]) of the pools k, v ([n_slots]
 * [n_head_kv * head_dim] F16); head h reads kv head h / (n_head / n_head_kv).
 * n_kv and off are device arrays (so a captured graph replays as the context
 * grows); head_dim even, <= 256. n_split > 1 cuts each token's keys into that
 * many chunks spread over the device (FlashDecoding-style) and combines
 * them: for decode (nib_cuda_attention_splits suggests a count for up to
 * n_kv keys and n_head heads: a split per 128 keys up to 32, and at least two
 * blocks per SM of the current device); scratch: nib_cuda_attention_scratch_bytes (0 for one
 * split), zeroed once (nib_cuda_zero) before its first use and left so by
 * every call. The split that finishes last combines its head's splits
 * (NIB_CUDA_ATT_FOLD=0: a second kernel does, an A/B knob). No score row is
 * stored (online softmax). */
int    nib_cuda_attention_splits(int32_t n_kv, int n_head);
size_t nib_cuda_attention_scratch_bytes(int n_head, int head_dim, int32_t n_tok, int n_split);
int    nib_cuda_attention(const float *q, const void *k, const void *v, const int32_t *slots, const int32_t *off,
                          const int32_t *n_kv, int32_t n_tok, int n_split, int n_head, int n_head_kv, int head_dim, float scale,
                          float *out, void *scratch, struct nib_error *err);

/* Prefill attention in tiles, for a batch whose n_tok rows all belong to one
 * sequence (off[t] the same for every t; the rows' key counts n_kv[t] may
 * differ): out as nib_cuda_attention computes it, the tile of 16 rows of a
 * head sharing each K/V row it reads through shared memory
 * (FlashAttention-style, no score row stored). head_dim even, <= 256. */
int nib_cuda_attention_tiles(const float *q, const void *k, const void *v, const int32_t *slots, const int32_t *off,
                             const int32_t *n_kv, int32_t n_tok, int n_head, int n_head_kv, int head_dim, float scale, float *out,
                             struct nib_error *err);

/* Graphs: the kernels a thread launches between nib_cuda_graph_begin and
 * nib_cuda_graph_end are recorded, not run (no copies to or from the host
 * in between); nib_cuda_graph_launch replays them with the same arguments
 * (pointers, sizes: what changes from one replay to the next must be read
 * from device memory). keep false: the capture is dropped (an error inside
 * it). */
struct nib_cuda_graph;
int  nib_cuda_graph_begin(struct nib_error *err);
int  nib_cuda_graph_end(bool keep, struct nib_cuda_graph **out, struct nib_error *err);
int  nib_cuda_graph_launch(struct nib_cuda_graph *g, struct nib_error *err);
void nib_cuda_graph_free(struct nib_cuda_graph *g);

#ifdef __cplusplus
}
#endif

#endif
