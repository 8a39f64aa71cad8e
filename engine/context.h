/*
 * context.h — a context's mutable state (internal layout of struct
 * nib_context): the KV cache, activation buffers sized for n_batch tokens,
 * and the logits of the last batch. Owned by one thread at a time.
 */
#ifndef NIB_CONTEXT_H
#define NIB_CONTEXT_H

#include "kv_cache.h"
#include "model.h"

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
    float *scores;            /* [n_threads][n_ctx] attention scratch */
    int32_t *tok_seq, *tok_pos;

    float   *logits;          /* [n_out][n_vocab] */
    int32_t  n_out, cap_out;
    int32_t *out_of;          /* [n_batch]: batch index -> logits row, -1 */
    int32_t  last_n;          /* size of the last batch */
    uint64_t compute_bytes;
};

/* The forward pass over one validated batch (forward.c). */
int nib_forward(struct nib_context *c, const int32_t *tokens, int32_t n, const int8_t *want, struct nib_error *err);

#endif
