/*
 * forward.c — the transformer forward pass over one batch (reference path):
 *
 *   x = embed(tokens)
 *   per layer:  h = rmsnorm(x) -> q, k, v (+bias) -> [qwen3: per-head q/k norm]
 *               -> rope(q, k) -> K/V into the cache -> attention over the
 *               cache (causal, GQA) -> wo (+bias);  x += h
 *               h = rmsnorm(x) -> silu(gate) * up -> down (+bias);  x += h
 *               (MoE layers: the routed experts' FFNs instead, forward_moe.c)
 *   logits = output(rmsnorm(x)) for the tokens that want them
 *
 * Matmuls quantize their input rows once to the weight's partner type and
 * use that type's integer vec_dot (the CPU variant chosen at run time,
 * kernels/cpu/dispatch.h), as ggml does; weights stay in the mapping.
 */
#include "context.h"

#include "attention_ref.h"
#include "dispatch.h"
#include "fp16.h"
#include "gpu.h"
#include "ops_ref.h"
#include "type_traits.h"

#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* Row-wise steps between the matmuls (norms, RoPE, SwiGLU, residual adds,
 * activation quantization, the K/V store) split their rows across the
 * threads from this many rows on: each row is computed alone, so the bits do
 * not depend on the split. */
#define PAR_ROWS 8

size_t nib_forward_quantize(struct nib_context *c, const struct nib_weight *w, const float *x, int32_t n) {
    const int pt = nib_type_traits(w->type)->vec_dot_type;
    const size_t xq_row = nib_type_row_bytes(pt, w->ne0);
    if (c->xq_src != x || c->xq_type != pt || c->xq_row != xq_row) {
#pragma omp parallel for schedule(static) num_threads(c->n_threads) if (n >= PAR_ROWS)
        for (int32_t t = 0; t < n; t++)
            nib_op_quantize_rows(pt, x + (size_t)t * (size_t)w->ne0, w->ne0, 1, (char *)c->xq + (size_t)t * xq_row, xq_row);
        c->xq_src = x;
        c->xq_type = pt;
        c->xq_row = xq_row;
    }
    return xq_row;
}

/* y[n][w.ne1] = x[n][w.ne0] . w (+ bias) */
void nib_forward_matmul(struct nib_context *c, const struct nib_weight *w, const float *x, int32_t n, const float *bias,
                        float *y) {
    const size_t xq_row = nib_forward_quantize(c, w, x, n);
    const int flags = (w->is_embedding ? NIB_MATMUL_NO_REPACK : 0) /* llama.cpp repacks no get_rows tensor */
                      | (c->row_exact ? NIB_MATMUL_ROWWISE : 0)       /* one-token kernels for every row */
                      | (c->int_gemm ? NIB_MATMUL_INT_GEMM : 0);      /* no bf16 prompt GEMM */
    nib_op_matmul(w->type, w->data, w->row_bytes, w->packed, w->ne0, w->ne1, c->xq, xq_row, n, y, flags, c->n_threads);
    if (bias)
        for (int32_t t = 0; t < n; t++)
            for (int64_t o = 0; o < w->ne1; o++) y[t * w->ne1 + o] += bias[o];
}

static void rmsnorm_rows(const struct nib_context *c, const float *x, const float *w, int64_t width, int32_t n, float eps,
                         float *y) {
#pragma omp parallel for schedule(static) num_threads(c->n_threads) if (n >= PAR_ROWS)
    for (int32_t t = 0; t < n; t++) nib_op_rmsnorm(x + t * width, w, width, eps, y + t * width);
}

/* x += y over n rows of width floats */
static void add_rows(const struct nib_context *c, float *x, const float *y, int64_t width, int32_t n) {
#pragma omp parallel for schedule(static) num_threads(c->n_threads) if (n >= PAR_ROWS)
    for (int32_t t = 0; t < n; t++)
        for (int64_t i = t * width; i < (t + 1) * width; i++) x[i] += y[i];
}

/* This thread's attention scratch (c->scores_stride floats). */
static float *thread_scores(const struct nib_context *c) {
#ifdef _OPENMP
    return c->scores + (size_t)omp_get_thread_num() * c->scores_stride;
#else
    return c->scores;
#endif
}

/* Attention in tiles (attention_ref.h): the query heads of one K/V head —
 * the GQA group's, of consecutive tokens of one sequence — up to
 * NIB_ATTN_TILE_MAX, share each K row and V load. Over an F16 cache plain
 * batches take the batch order, one-token calls and row-exact batches the
 * decode order (each row as llama.cpp runs it alone); a Q8_0 cache has one
 * order. Every head's output is the single-head reference's, bit for bit.
 * A group is split into smaller tiles where there are fewer tiles than
 * threads. */
static void attention(struct nib_context *c, int32_t layer, int32_t n) {
    const struct nib_hparams *hp = &c->m->hp;
    const int hd = hp->head_dim_k, group = hp->n_head / hp->n_head_kv;
    const enum nib_attn_order order = n > 1 && !c->row_exact ? NIB_ATTN_BATCH : NIB_ATTN_DECODE;
    /* long plain prompts on AMX-BF16 CPUs: the tile on bf16 tiles (attention_ref.h) */
    const bool bf16 = order == NIB_ATTN_BATCH && !c->int_gemm && nib_op_attention_bf16(n, hd);
    int heads = group < NIB_ATTN_TILE_MAX ? group : NIB_ATTN_TILE_MAX; /* per tile */
    const int tokens = NIB_ATTN_TILE_MAX / heads;
    const int64_t qw = (int64_t)hp->n_head * hd;
    int32_t n_tiles = 0;
    for (int32_t t = 0; t < n;) { /* token tiles: runs of one sequence, `tokens` long at most */
        int32_t u = t + 1;
        while (u < n && u - t < tokens && c->tok_seq[u] == c->tok_seq[t]) u++;
        c->tok_tile[n_tiles++] = t;
        t = u;
    }
    c->tok_tile[n_tiles] = n;
    const int64_t kv_tiles = (int64_t)n_tiles * hp->n_head_kv;
    if (kv_tiles < c->n_threads) { /* split the groups so every thread has a tile */
        const int64_t parts = (c->n_threads + kv_tiles - 1) / kv_tiles;
        heads = (int)(((int64_t)group + parts - 1) / parts);
    }
    const int head_tiles = (group + heads - 1) / heads;
    const int64_t per_tile = (int64_t)hp->n_head_kv * head_tiles, items = n_tiles * per_tile;
#pragma omp parallel for schedule(static, 1) num_threads(c->n_threads) /* round robin: causal rows grow with t */
    for (int64_t it = 0; it < items; it++) {
        const int32_t tt = (int32_t)(it / per_tile);
        const int g = (int)(it % per_tile) / head_tiles, h0 = g * group + (int)(it % per_tile) % head_tiles * heads;
        const int h1 = h0 + heads < (g + 1) * group ? h0 + heads : (g + 1) * group;
        struct nib_attn_tile tile;
        tile.order = order;
        tile.n_q = 0;
        for (int32_t t = c->tok_tile[tt]; t < c->tok_tile[tt + 1]; t++)
            for (int h = h0; h < h1; h++) {
                tile.q[tile.n_q] = c->q + t * qw + (int64_t)h * hd;
                tile.out[tile.n_q] = c->att + t * qw + (int64_t)h * hd;
                tile.n_kv[tile.n_q++] = c->tok_pos[t] + 1;
            }
        const int32_t *slots = c->kv.seqs[c->tok_seq[c->tok_tile[tt]]].slots;
        if (c->kv.type == NIB_TYPE_Q8_0) /* nib's own arithmetic, one order */
            nib_op_attention_tile_q8_0(&tile, hd, nib_kv_k(&c->kv, layer, g, 0), nib_kv_v(&c->kv, layer, g, 0), c->kv.head_bytes, 0,
                                       slots, hp->attn_scale, thread_scores(c));
        else if (bf16)
            nib_op_attention_tile_bf16(&tile, hd, nib_kv_k(&c->kv, layer, g, 0), nib_kv_v(&c->kv, layer, g, 0), (size_t)hd, 0, slots,
                                       hp->attn_scale, thread_scores(c));
        else
            nib_op_attention_tile(&tile, hd, nib_kv_k(&c->kv, layer, g, 0), nib_kv_v(&c->kv, layer, g, 0), (size_t)hd, 0, slots,
                                  hp->attn_scale, thread_scores(c));
    }
}

/* Each row's K and V, head by head, into its slot (kv_cache.h's layout). */
static void store_kv(struct nib_context *c, int32_t layer, int32_t n) {
    const int32_t row = c->kv.row, hd = c->kv.head_dim;
#pragma omp parallel for schedule(static) num_threads(c->n_threads) if (n >= PAR_ROWS)
    for (int32_t t = 0; t < n; t++) {
        int32_t slot = c->kv.seqs[c->tok_seq[t]].slots[c->tok_pos[t]];
        for (int32_t h = 0; h < c->kv.n_head_kv; h++) {
            const float *ks = c->k + t * row + h * hd, *vs = c->v + t * row + h * hd;
            if (c->kv.type == NIB_TYPE_Q8_0) { /* rounded as activations are */
                nib_op_quantize_rows(NIB_TYPE_Q8_0, ks, hd, 1, nib_kv_k(&c->kv, layer, h, slot), c->kv.head_bytes);
                nib_op_quantize_rows(NIB_TYPE_Q8_0, vs, hd, 1, nib_kv_v(&c->kv, layer, h, slot), c->kv.head_bytes);
                continue;
            }
            uint16_t *k = nib_kv_k(&c->kv, layer, h, slot), *v = nib_kv_v(&c->kv, layer, h, slot);
            for (int32_t i = 0; i < hd; i++) {
                k[i] = nib_fp32_to_fp16(ks[i]);
                v[i] = nib_fp32_to_fp16(vs[i]);
            }
        }
    }
}

static void attention_block(struct nib_context *c, const struct nib_layer *L, int32_t layer, int32_t n) {
    const struct nib_model *m = c->m;
    const struct nib_hparams *hp = &m->hp;
    const int hd = hp->head_dim_k;
    rmsnorm_rows(c, c->x, L->attn_norm, hp->n_embd, n, hp->rms_eps, c->xn);
    nib_forward_matmul(c, &L->wq, c->xn, n, L->bq, c->q);
    nib_forward_matmul(c, &L->wk, c->xn, n, L->bk, c->k);
    nib_forward_matmul(c, &L->wv, c->xn, n, L->bv, c->v);
    struct nib_rope_params rp = {
        hp->n_rot, hp->rope_kind == NIB_ROPE_NEOX, hp->rope_freq_base, hp->rope_freq_scale, m->rope_freqs,
        hp->yarn_ext_factor, hp->yarn_attn_factor, hp->yarn_beta_fast, hp->yarn_beta_slow, hp->n_ctx_orig,
    };
#pragma omp parallel for schedule(static) num_threads(c->n_threads) if (n >= PAR_ROWS)
    for (int32_t t = 0; t < n; t++) {
        float *q = c->q + (size_t)t * hp->n_head * hd, *k = c->k + (size_t)t * hp->n_head_kv * hd;
        if (L->q_norm) {
            for (int h = 0; h < hp->n_head; h++) nib_op_rmsnorm(q + h * hd, L->q_norm, hd, hp->rms_eps, q + h * hd);
            for (int h = 0; h < hp->n_head_kv; h++) nib_op_rmsnorm(k + h * hd, L->k_norm, hd, hp->rms_eps, k + h * hd);
        }
        nib_op_rope(q, hp->n_head, hd, c->tok_pos[t], &rp);
        nib_op_rope(k, hp->n_head_kv, hd, c->tok_pos[t], &rp);
    }
    store_kv(c, layer, n);
    attention(c, layer, n);
    nib_forward_matmul(c, &L->wo, c->att, n, L->bo, c->xn);
    add_rows(c, c->x, c->xn, hp->n_embd, n);
}

static void ffn_block(struct nib_context *c, const struct nib_layer *L, int32_t n) {
    const struct nib_hparams *hp = &c->m->hp;
    rmsnorm_rows(c, c->x, L->ffn_norm, hp->n_embd, n, hp->rms_eps, c->xn);
    if (L->gate_exps) {
        nib_forward_moe(c, L, n);
        return;
    }
    nib_forward_matmul(c, &L->ffn_gate, c->xn, n, L->b_gate, c->gate);
    nib_forward_matmul(c, &L->ffn_up, c->xn, n, L->b_up, c->up);
#pragma omp parallel for schedule(static) num_threads(c->n_threads) if (n >= PAR_ROWS)
    for (int32_t t = 0; t < n; t++) nib_op_swiglu(c->gate + (size_t)t * hp->n_ff, c->up + (size_t)t * hp->n_ff, hp->n_ff,
                                                  c->gate + (size_t)t * hp->n_ff);
    nib_forward_matmul(c, &L->ffn_down, c->gate, n, L->b_down, c->xn);
    add_rows(c, c->x, c->xn, hp->n_embd, n);
}

/* Moves the residual rows that want logits to the front, in batch order, and
 * returns their count. Only the last layer's FFN and the head need them, and
 * their matmul paths then take the row count llama.cpp's take. */
static int32_t keep_output_rows(struct nib_context *c, int32_t n) {
    const int64_t w = c->m->hp.n_embd;
    int32_t k = 0;
    for (int32_t t = 0; t < n; t++) {
        if (c->out_of[t] < 0) continue;
        if (k != t) memmove(c->x + (size_t)k * (size_t)w, c->x + (size_t)t * (size_t)w, (size_t)w * sizeof(float));
        k++;
    }
    return k;
}

int nib_forward(struct nib_context *c, const int32_t *tokens, int32_t n, const int8_t *want, struct nib_error *err) {
    (void)want;
    const struct nib_model *m = c->m;
    const struct nib_hparams *hp = &m->hp;
    nib_to_float_fn embed = nib_type_traits(m->tok_embd.type)->to_float;
    for (int32_t t = 0; t < n; t++)
        embed((const char *)m->tok_embd.data + (size_t)tokens[t] * m->tok_embd.row_bytes, c->x + (size_t)t * hp->n_embd, hp->n_embd);
    c->xq_src = NULL;
    int32_t first = 0; /* the first layer the CPU runs */
    if (c->gpu) {
        bool done = false;
        int rc = nib_gpu_forward(c, n, &done, err);
        if (rc || done) return rc;
        first = nib_gpu_layers(c->gpu);
        if (first == hp->n_layer) keep_output_rows(c, n); /* the head below reads the wanted rows packed */
    }
    for (int32_t l = first; l < hp->n_layer; l++) {
        attention_block(c, &m->layers[l], l, n);
        c->xq_src = NULL;
        int32_t rows = n;
        if (l == hp->n_layer - 1) rows = keep_output_rows(c, n); /* as llama.cpp: the rest is unused */
        ffn_block(c, &m->layers[l], rows);
        c->xq_src = NULL;
    }
    /* the rows that want logits, now packed, through the final norm and the output matrix */
    const int32_t k = c->n_out;
    for (int32_t t = 0; t < k; t++)
        nib_op_rmsnorm(c->x + (size_t)t * hp->n_embd, m->output_norm, hp->n_embd, hp->rms_eps, c->xn + (size_t)t * hp->n_embd);
    if (k && c->embeddings) memcpy(c->embd, c->xn, sizeof(float) * (size_t)k * (size_t)hp->n_embd); /* hidden states */
    else if (k) nib_forward_matmul(c, &m->output, c->xn, k, NULL, c->logits);
    c->xq_src = NULL;
    return NIB_OK;
}
