/*
 * context.h — a context's mutable state (internal layout of struct
 * nib_context): the KV cache, activation buffers sized for n_batch tokens,
 * and the logits of the last batch. Owned by one thread at a time.
 */
#ifndef NIB_CONTEXT_H
#define NIB_CONTEXT_H

#include "kv_cache.h"
#include "model.h"

/* A test's record of MoE routing: every routed row (each layer, in the
 * order routed) appends its k expert ids as chosen and its margin, the k-th
 * probability less the largest unchosen one (how near the choice was to a
 * tie); rows past cap are counted in n but not kept. */
struct nib_moe_trace {
    int32_t *ids;    /* [cap][k] */
    float   *margin; /* [cap] */
    int64_t  n, cap;
};

struct nib_context {
    const struct nib_model *m;
    int32_t n_ctx, n_batch, n_threads;
    struct nib_kv_cache kv;

    /* activations, [n_batch][width] */
    float *x, *xn, *q, *k, *v, *att, *gate, *up;
    void  *xq;                /* activations quantized for a matmul */
    size_t xq_row;            /* bytes per row of xq as last filled */
    const float *xq_src;      /* what xq holds: source rows ... */
    int    xq_type;           /* ... and type (-1: nothing) */
    float *scores;            /* [n_threads][scores_stride] attention scratch */
    size_t scores_stride;     /* floats per thread: nib_attention_tile_scratch(n_ctx, head dim) */
    /* MoE scratch (NULL for dense models): router probabilities [n_batch][n_expert],
     * the chosen experts and their weights [n_batch][n_expert_used], the
     * experts' outputs [n_batch][n_expert_used][n_embd], the batch rows routed
     * to each expert (moe_rows, grouped; moe_start [n_expert + 1]) and
     * their quantized inputs gathered [n_batch][xq row] */
    float   *moe_probs, *moe_weights, *moe_out, *moe_down; /* moe_down: one expert's rows [n_batch][n_embd] */
    int32_t *moe_ids, *moe_rows, *moe_start;
    void    *moe_xq;
    struct nib_moe_trace *moe_trace; /* NULL but in tests */
    int32_t *tok_seq, *tok_pos;
    int32_t *tok_tile;        /* [n_batch + 1]: forward.c's attention tiles' first tokens */

    float   *logits;          /* [n_out][n_vocab] */
    int32_t  n_out, cap_out;
    int32_t *out_of;          /* [n_batch]: batch index -> logits row, -1 */
    int32_t  last_n;          /* size of the last batch */
    bool     row_exact;       /* this batch: NIB_BATCH_ROW_EXACT */
    bool     int_gemm;        /* this batch: NIB_BATCH_INT_GEMM */
    bool     embeddings;      /* this batch: NIB_BATCH_EMBEDDINGS (hidden states, no logits) */
    float   *embd;            /* [cap_embd][n_embd] */
    int32_t  cap_embd;
    uint64_t compute_bytes;
    struct nib_gpu *gpu;      /* the first layers on a CUDA device (gpu.h), or NULL */
    void (*gpu_progress)(uint64_t done, uint64_t total, void *user); /* nib_context_params' */
    void *gpu_progress_user;
};

/* The forward pass over one validated batch (forward.c). */
int nib_forward(struct nib_context *c, const int32_t *tokens, int32_t n, const int8_t *want, struct nib_error *err);

/* forward.c: n rows of x quantized to w's partner type into c->xq (kept
 * while x and the type stay the same); returns the bytes per row. */
size_t nib_forward_quantize(struct nib_context *c, const struct nib_weight *w, const float *x, int32_t n);
/* forward.c: y[n][w.ne1] = x[n][w.ne0] . w (+ bias), llama.cpp's MUL_MAT path. */
void nib_forward_matmul(struct nib_context *c, const struct nib_weight *w, const float *x, int32_t n, const float *bias,
                        float *y);
/* forward_moe.c: the MoE FFN of layer L over the n normed rows in c->xn;
 * adds its output to the residual rows c->x. */
void nib_forward_moe(struct nib_context *c, const struct nib_layer *L, int32_t n);
/* forward_moe.c: groups the (row, slot) pairs of n routed rows (c->moe_ids)
 * by expert: c->moe_rows holds t * k + s, the pairs of expert e at
 * moe_rows[moe_start[e] .. moe_start[e + 1]) (the GPU's MoE uses it too). */
void nib_forward_moe_group(struct nib_context *c, int32_t n);
/* forward_moe.c, the expert half of it: with the routing of n rows in
 * c->moe_ids / c->moe_weights and their normed inputs in c->xn, the
 * weighted sums of their experts' outputs into c->moe_down [n][n_embd]. */
void nib_forward_moe_experts(struct nib_context *c, const struct nib_layer *L, int32_t n);

#endif
