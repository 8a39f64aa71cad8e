/*
 * attention_ref.c — reference attention in llama.cpp's float order (see
 * attention_ref.h for the rules reproduced).
 */
#include "attention_ref.h"

#include "dispatch.h"
#include "fp16.h"
#include "ggml_order.h"
#include "quant_blocks.h"

#include <math.h>

#define EPR NIB_GGML_EPR   /* floats per register */
#define STEP NIB_GGML_STEP /* ggml_vec_dot_f16: four registers per step */

/* fp16 x fp16 products are exact in float, so acc + p rounds like ggml's fma. */
static inline float prod16(uint16_t a, uint16_t b) {
    return nib_fp16_to_fp32(a) * nib_fp16_to_fp32(b);
}

/* GGML_F32x8_REDUCE of four registers acc[r * 8 + lane], strided by `stride`. */
static float reduce4x8(float *acc, size_t stride) {
    for (int l = 0; l < EPR; l++) {
        acc[(size_t)l * stride] += acc[(size_t)(2 * EPR + l) * stride];
        acc[(size_t)(EPR + l) * stride] += acc[(size_t)(3 * EPR + l) * stride];
        acc[(size_t)l * stride] += acc[(size_t)(EPR + l) * stride];
    }
    return nib_hadd8(acc, stride);
}

float nib_dot_f16_vec(const uint16_t *x, const uint16_t *y, int64_t n) {
    float acc[STEP] = {0};
    const int64_t np = n & ~(int64_t)(STEP - 1);
    for (int64_t i = 0; i < np; i++) acc[i % STEP] += prod16(x[i], y[i]);
    double sum = (double)reduce4x8(acc, 1);
    for (int64_t i = np; i < n; i++) sum += (double)prod16(x[i], y[i]);
    return (float)sum;
}

float nib_dot_f16_tinyblas(const uint16_t *x, const uint16_t *y, int64_t n) {
    float acc[EPR] = {0};
    for (int64_t i = 0; i < n; i++) acc[i % EPR] += prod16(x[i], y[i]);
    return nib_tree8(acc, 1);
}

/* exp(s - max) in place; returns the float that ggml scales the row by. */
static float softmax_exp(float *s, int32_t n, float max) {
    double sum = 0.0;
    for (int32_t c = 0; c < n; c += EPR) {
        float e[EPR] = {0}; /* padded keys contribute exp(-inf) = 0 */
        for (int32_t l = 0; l < EPR && c + l < n; l++) s[c + l] = e[l] = nib_ggml_expf(s[c + l] - max);
        sum += (double)nib_tree8(e, 1);
    }
    return (float)(1.0 / sum);
}

void nib_attention_head_ref(const float *q, int head_dim, const uint16_t *k_base, const uint16_t *v_base,
                            size_t row_stride, size_t head_off, const int32_t *slot, int32_t n_kv, float scale,
                            enum nib_attn_order order, float *scores, float *out) {
    uint16_t qh[1024];
    for (int d = 0; d < head_dim; d++) qh[d] = nib_fp32_to_fp16(q[d]);
    /* tinyBLAS takes KQ when the head dim is a multiple of 8 (its row count,
     * the padded KV length, always is of 4), and KQV when the head dim is a
     * multiple of 4 (its dot length, the padded KV length, always is of 8). */
    const int tiny_kq = order == NIB_ATTN_BATCH && head_dim % EPR == 0;
    const int tiny_kqv = order == NIB_ATTN_BATCH && head_dim % 4 == 0;
    float max = -INFINITY;
    for (int32_t j = 0; j < n_kv; j++) {
        const uint16_t *k = k_base + (size_t)slot[j] * row_stride + head_off;
        const float dot = tiny_kq ? nib_dot_f16_tinyblas(qh, k, head_dim) : nib_dot_f16_vec(qh, k, head_dim);
        scores[j] = dot * scale;
        if (scores[j] > max) max = scores[j];
    }
    const float inv = softmax_exp(scores, n_kv, max);

    /* P . V: key j feeds lane j % 8 (tinyBLAS) or register/lane j % 32
     * (vec_dot_f16); the padded KV length keeps every key in the vector part. */
    const int n_acc = tiny_kqv ? EPR : STEP;
    float acc[STEP][64];
    for (int d0 = 0; d0 < head_dim; d0 += 64) {
        const int nd = head_dim - d0 < 64 ? head_dim - d0 : 64;
        for (int a = 0; a < n_acc; a++)
            for (int d = 0; d < nd; d++) acc[a][d] = 0.0f;
        for (int32_t j = 0; j < n_kv; j++) {
            const float p = nib_fp16_to_fp32(nib_fp32_to_fp16(scores[j] * inv));
            const uint16_t *v = v_base + (size_t)slot[j] * row_stride + head_off + (size_t)d0;
            float *a = acc[j % n_acc];
            for (int d = 0; d < nd; d++) a[d] += p * nib_fp16_to_fp32(v[d]);
        }
        for (int d = 0; d < nd; d++) out[d0 + d] = tiny_kqv ? nib_tree8(&acc[0][d], 64) : reduce4x8(&acc[0][d], 64);
    }
}

size_t nib_attention_tile_scratch(int32_t n_kv_max, int head_dim) {
    /* scores per query (padded to 8 keys), then the vector kernels' own:
     * q as floats, 8 converted K rows, a V chunk and P.V state
     * (attention_avx2.c) or P.V state and a copy of the V rows
     * (attention_decode_avx2.c) */
    const size_t n_pad = ((size_t)(n_kv_max > 0 ? n_kv_max : 1) + 7) / 8 * 8, hd = (size_t)head_dim;
    const size_t vec = NIB_ATTN_TILE_MAX * (n_pad + hd) + 8 * hd + 256 * 16 + NIB_ATTN_TILE_MAX * 8 * 16 + 64 + n_pad * hd / 2;
    /* attention_amx.c: scores per query (padded to 32 keys), P, q, K and V tiles, the outputs, alignment */
    const size_t n32 = (n_pad + 31) / 32 * 32, amx = 2 * NIB_ATTN_TILE_MAX * n32 + 32 * hd + 16 * hd + 1024 + NIB_ATTN_TILE_MAX * hd + 16;
    return vec > amx ? vec : amx;
}

void nib_op_attention_tile(const struct nib_attn_tile *t, int head_dim, const uint16_t *k_base, const uint16_t *v_base,
                           size_t row_stride, size_t head_off, const int32_t *slot, float scale, float *scratch) {
    nib_cpu_kernels()->attention_tile(t, head_dim, k_base, v_base, row_stride, head_off, slot, scale, scratch);
}

bool nib_op_attention_bf16(int32_t n_rows, int head_dim) {
    const struct nib_cpu_kernels *k = nib_cpu_kernels();
    return k->attention_tile_bf16 && n_rows >= k->bf16_min_tokens && head_dim % 32 == 0 && head_dim <= 1024;
}

void nib_op_attention_tile_bf16(const struct nib_attn_tile *t, int head_dim, const uint16_t *k_base, const uint16_t *v_base,
                                size_t row_stride, size_t head_off, const int32_t *slot, float scale, float *scratch) {
    nib_cpu_kernels()->attention_tile_bf16(t, head_dim, k_base, v_base, row_stride, head_off, slot, scale, scratch);
}

void nib_attention_tile_ref(const struct nib_attn_tile *t, int head_dim, const uint16_t *k_base, const uint16_t *v_base,
                            size_t row_stride, size_t head_off, const int32_t *slot, float scale, float *scratch) {
    for (int i = 0; i < t->n_q; i++)
        nib_attention_head_ref(t->q[i], head_dim, k_base, v_base, row_stride, head_off, slot, t->n_kv[i], scale,
                               t->order, scratch, t->out[i]);
}

float nib_attention_scores_q8_0(const float *q, int head_dim, const void *k_base, size_t row_bytes, size_t head_off,
                                const int32_t *slot, int32_t n_kv, float scale, float *scores) {
    const struct nib_cpu_kernels *k = nib_cpu_kernels();
    struct nib_block_q8_0 qq[32]; /* head_dim <= 1024 */
    k->quantize_act[NIB_TYPE_Q8_0](q, qq, head_dim);
    const size_t off = head_off / 32 * sizeof(struct nib_block_q8_0);
    float max = -INFINITY;
    for (int32_t j = 0; j < n_kv; j++) {
        float dot;
        k->vec_dot[NIB_TYPE_Q8_0](head_dim, &dot, (const char *)k_base + (size_t)slot[j] * row_bytes + off, qq);
        scores[j] = dot * scale;
        if (scores[j] > max) max = scores[j];
    }
    return max;
}

void nib_op_attention_tile_q8_0(const struct nib_attn_tile *t, int head_dim, const void *k_base, const void *v_base,
                                size_t row_bytes, size_t head_off, const int32_t *slot, float scale, float *scratch) {
    nib_cpu_kernels()->attention_tile_q8_0(t, head_dim, k_base, v_base, row_bytes, head_off, slot, scale, scratch);
}

void nib_attention_tile_q8_0_ref(const struct nib_attn_tile *t, int head_dim, const void *k_base, const void *v_base,
                                 size_t row_bytes, size_t head_off, const int32_t *slot, float scale, float *scratch) {
    for (int i = 0; i < t->n_q; i++)
        nib_attention_head_q8_0_ref(t->q[i], head_dim, k_base, v_base, row_bytes, head_off, slot, t->n_kv[i], scale, scratch,
                                    t->out[i]);
}

void nib_attention_head_q8_0_ref(const float *q, int head_dim, const void *k_base, const void *v_base, size_t row_bytes,
                                 size_t head_off, const int32_t *slot, int32_t n_kv, float scale, float *scores, float *out) {
    const float max = nib_attention_scores_q8_0(q, head_dim, k_base, row_bytes, head_off, slot, n_kv, scale, scores);
    const float inv = softmax_exp(scores, n_kv, max);
    const size_t off = head_off / 32 * sizeof(struct nib_block_q8_0);
    for (int d = 0; d < head_dim; d++) out[d] = 0.0f;
    for (int32_t j = 0; j < n_kv; j++) {
        const float p = scores[j] * inv;
        const struct nib_block_q8_0 *v = (const struct nib_block_q8_0 *)((const char *)v_base + (size_t)slot[j] * row_bytes + off);
        for (int b = 0; b < head_dim / 32; b++) {
            const float pd = p * nib_fp16_to_fp32(v[b].d);
            for (int i = 0; i < 32; i++) out[32 * b + i] += pd * (float)v[b].qs[i];
        }
    }
}
