/*
 * attention_ref.h — reference attention of one query head over cached fp16
 * K/V, in llama.cpp's float order.
 *
 *   out = softmax(scale * q . k_j) . v_j,   j < n_kv
 *
 * llama.cpp (flash attention off, the golden outputs' setting) computes this
 * as two matmuls and a softmax over a KV length padded to a multiple of 256;
 * the padding adds exact zeros, so only the order of the real terms matters.
 * It is reproduced here (ggml_order.h) so results agree bit for bit:
 *   - q is rounded to fp16 to meet fp16 K, probabilities are rounded to fp16
 *     to meet fp16 V (ggml converts src1 to the F16 vec_dot type);
 *   - a forward call of >= 2 tokens runs both matmuls through tinyBLAS when
 *     the dot length is a multiple of 8 and the row count of 4 (one 8-lane
 *     fma accumulator per output, tree8); otherwise, and for single-token
 *     calls, ggml_vec_dot_f16 (four 8-lane accumulators over 32-element
 *     steps, hadd8, leftovers added in double);
 *   - exp is ggml_v_expf, summed 8 at a time by tree8 into a double.
 * The code is plain C: results are the same on every CPU.
 */
#ifndef NIB_ATTENTION_REF_H
#define NIB_ATTENTION_REF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Which of llama.cpp's two matmul paths to reproduce. */
enum nib_attn_order {
    NIB_ATTN_DECODE = 0, /* one token per forward call: ggml_vec_dot_f16 */
    NIB_ATTN_BATCH = 1,  /* >= 2 tokens per call: tinyBLAS where it applies */
};

/*
 * One query head, the scalar reference: k_base/v_base: fp16 K/V storage;
 * row j of this head at base + slot[j] * row_stride + head_off (elements).
 * head_dim <= 1024. scores: scratch [n_kv]. The CPU variants run it in
 * tiles (below).
 */
void nib_attention_head_ref(const float *q, int head_dim, const uint16_t *k_base, const uint16_t *v_base,
                            size_t row_stride, size_t head_off, const int32_t *slot, int32_t n_kv, float scale,
                            enum nib_attn_order order, float *scores, float *out);

/* Most query heads one attention tile takes. */
#define NIB_ATTN_TILE_MAX 32

/*
 * An attention tile: n_q query heads (1..NIB_ATTN_TILE_MAX) that read the
 * same K/V head of one sequence — query i attends to rows slot[0..n_kv[i])
 * (n_kv[i] >= 1). out[i] (head_dim floats) is nib_attention_head_ref(q[i],
 * ..., n_kv[i], order)'s, bit for bit; a vector variant converts each fp16
 * K row once for the whole tile and shares each V row's loads between
 * queries.
 */
struct nib_attn_tile {
    enum nib_attn_order order;
    int         n_q;
    const float *q[NIB_ATTN_TILE_MAX];
    float       *out[NIB_ATTN_TILE_MAX];
    int32_t      n_kv[NIB_ATTN_TILE_MAX];
};

/* Floats of scratch one tile call needs for KV lengths up to n_kv_max. */
size_t nib_attention_tile_scratch(int32_t n_kv_max, int head_dim);

/* The chosen CPU variant's tile kernel; scratch: nib_attention_tile_scratch floats. */
void nib_op_attention_tile(const struct nib_attn_tile *t, int head_dim, const uint16_t *k_base, const uint16_t *v_base,
                           size_t row_stride, size_t head_off, const int32_t *slot, float scale, float *scratch);

/*
 * The amx variant's batch-order tile on AMX-BF16 tiles (attention_amx.c):
 * each fp16 value split into two bf16 values, three products summed per
 * pair, so about fp32's accuracy but not llama.cpp's bits. Whether a plain
 * batch of n_rows rows takes it (a CPU with AMX-BF16, as many rows as the
 * bf16 prompt GEMM wants: kernels/cpu/gemm_bf16_amx.h; head_dim % 32 == 0),
 * and the tile (only where that said yes; t->order NIB_ATTN_BATCH).
 */
bool nib_op_attention_bf16(int32_t n_rows, int head_dim);
void nib_op_attention_tile_bf16(const struct nib_attn_tile *t, int head_dim, const uint16_t *k_base, const uint16_t *v_base,
                                size_t row_stride, size_t head_off, const int32_t *slot, float scale, float *scratch);
void nib_attention_tile_bf16_amx(const struct nib_attn_tile *t, int head_dim, const uint16_t *k_base, const uint16_t *v_base,
                                 size_t row_stride, size_t head_off, const int32_t *slot, float scale, float *scratch);

/* The reference: nib_attention_head_ref per query. */
void nib_attention_tile_ref(const struct nib_attn_tile *t, int head_dim, const uint16_t *k_base, const uint16_t *v_base,
                            size_t row_stride, size_t head_off, const int32_t *slot, float scale, float *scratch);

/*
 * The same attention over a Q8_0 cache (K/V rows as Q8_0 blocks; head_dim a
 * multiple of 32; head_off in values). nib's own arithmetic (llama.cpp reads
 * a quantized V cache only with flash attention): q is quantized to Q8_0
 * and meets K in integer dot products; the softmax is the one above;
 * probabilities meet dequantized V in float.
 */
void nib_attention_head_q8_0_ref(const float *q, int head_dim, const void *k_base, const void *v_base, size_t row_bytes,
                                 size_t head_off, const int32_t *slot, int32_t n_kv, float scale, float *scores, float *out);
/* Its first step: scores[j] = scale * q . k_j with the chosen CPU table's
 * Q8_0 kernels (every variant's tile takes the same dots: its dot4 gives
 * vec_dot's bits); returns their maximum. */
float nib_attention_scores_q8_0(const float *q, int head_dim, const void *k_base, size_t row_bytes, size_t head_off,
                                const int32_t *slot, int32_t n_kv, float scale, float *scores);

/* A tile (above) over a Q8_0 cache: out[i] is nib_attention_head_q8_0_ref's
 * for query i, bit for bit (the order field is not read). The chosen
 * variant's kernel; scratch: nib_attention_tile_scratch floats. */
void nib_op_attention_tile_q8_0(const struct nib_attn_tile *t, int head_dim, const void *k_base, const void *v_base,
                                size_t row_bytes, size_t head_off, const int32_t *slot, float scale, float *scratch);
/* The reference: nib_attention_head_q8_0_ref per query. */
void nib_attention_tile_q8_0_ref(const struct nib_attn_tile *t, int head_dim, const void *k_base, const void *v_base,
                                 size_t row_bytes, size_t head_off, const int32_t *slot, float scale, float *scratch);

/* Dot of two fp16 vectors in ggml_vec_dot_f16's order (AVX2 build). */
float nib_dot_f16_vec(const uint16_t *x, const uint16_t *y, int64_t n);

/* Dot of two fp16 vectors in tinyBLAS's order (n % 8 == 0). */
float nib_dot_f16_tinyblas(const uint16_t *x, const uint16_t *y, int64_t n);

#ifdef __cplusplus
}
#endif
#endif
