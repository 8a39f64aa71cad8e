/*
 * forward_moe.c — the Mixture-of-Experts FFN of one layer over a batch, as
 * llama.cpp's build_moe_ffn computes it (Mixtral-style llama, qwen3moe):
 *
 *   logits = router . h                    (h = ffn_norm(x), an ordinary matmul)
 *   per row: ids, weights = route(logits)  (moe_route.h: softmax, top-k, renormalize)
 *   rows are grouped by expert (batch order, then slot); each expert the
 *   batch chose runs once over its rows, reading its weights once:
 *       y = down_e . (silu(gate_e . h) * (up_e . h))
 *   every expert matmul takes each row on its own (MUL_MAT_ID's kernels:
 *   vec_dot, or the repacked GEMV), and h is quantized once per row
 *   out[t] = ((y_0 * w_0 + y_1 * w_1) + y_2 * w_2) ...   in slot order
 *   x[t] += out[t]
 *
 * Experts no row chose are never touched.
 */
#include "context.h"

#include "moe_route.h"
#include "ops_ref.h"
#include "type_traits.h"

#include <string.h>

static void trace_routes(struct nib_context *c, int32_t n) {
    const int32_t ne = c->m->hp.n_expert, k = c->m->hp.n_expert_used;
    struct nib_moe_trace *tr = c->moe_trace;
    for (int32_t t = 0; t < n; t++, tr->n++) {
        if (tr->n >= tr->cap) continue;
        const int32_t *ids = c->moe_ids + (size_t)t * (size_t)k;
        const float *p = c->moe_probs + (size_t)t * (size_t)ne;
        float unchosen = 0.0f; /* probabilities are >= 0 */
        for (int32_t e = 0; e < ne; e++) {
            bool chosen = false;
            for (int32_t s = 0; s < k; s++) chosen |= ids[s] == e;
            if (!chosen && p[e] > unchosen) unchosen = p[e];
        }
        memcpy(tr->ids + tr->n * k, ids, sizeof(int32_t) * (size_t)k);
        tr->margin[tr->n] = p[ids[k - 1]] - unchosen;
    }
}

void nib_forward_moe_group(struct nib_context *c, int32_t n) {
    const int32_t ne = c->m->hp.n_expert, k = c->m->hp.n_expert_used;
    if (c->moe_trace) trace_routes(c, n);
    int32_t *start = c->moe_start;
    memset(start, 0, sizeof(int32_t) * (size_t)(ne + 1));
    for (int32_t i = 0; i < n * k; i++) start[c->moe_ids[i] + 1]++;
    for (int32_t e = 0; e < ne; e++) start[e + 1] += start[e];
    int32_t fill[1024];
    memcpy(fill, start, sizeof(int32_t) * (size_t)ne);
    for (int32_t i = 0; i < n * k; i++) c->moe_rows[fill[c->moe_ids[i]]++] = i;
}

/* rows of c->xq (each xq_row bytes) for the pairs of one expert, gathered into c->moe_xq */
static void gather_xq(struct nib_context *c, const int32_t *pairs, int32_t m, size_t xq_row) {
    const int32_t k = c->m->hp.n_expert_used;
    for (int32_t j = 0; j < m; j++)
        memcpy((char *)c->moe_xq + (size_t)j * xq_row, (const char *)c->xq + (size_t)(pairs[j] / k) * xq_row, xq_row);
}

/* y[m][w.ne1] for the gathered rows: h of each pair through one expert matrix */
static void expert_in(struct nib_context *c, const struct nib_weight *w, const int32_t *pairs, int32_t m, int32_t n,
                      float *y) {
    const size_t xq_row = nib_forward_quantize(c, w, c->xn, n); /* once per row (kept across experts) */
    gather_xq(c, pairs, m, xq_row);
    nib_op_matmul(w->type, w->data, w->row_bytes, w->packed, w->ne0, w->ne1, c->moe_xq, xq_row, m, y, NIB_MATMUL_ROWWISE,
                  c->n_threads);
}

static void run_expert(struct nib_context *c, const struct nib_layer *L, int32_t e, int32_t n) {
    const struct nib_hparams *hp = &c->m->hp;
    const int32_t *pairs = c->moe_rows + c->moe_start[e];
    const int32_t m = c->moe_start[e + 1] - c->moe_start[e];
    const int64_t ff = hp->n_ff_exp, d = hp->n_embd;
    if (m == 0) return;
    expert_in(c, &L->up_exps[e], pairs, m, n, c->up);
    expert_in(c, &L->gate_exps[e], pairs, m, n, c->gate);
    for (int32_t j = 0; j < m; j++) nib_op_swiglu(c->gate + j * ff, c->up + j * ff, ff, c->gate + j * ff);
    /* down: each (row, slot) activation quantized on its own, as MUL_MAT_ID does
     * (into moe_xq: c->xq keeps h quantized for the next experts) */
    const struct nib_weight *w = &L->down_exps[e];
    const int pt = nib_type_traits(w->type)->vec_dot_type;
    const size_t xq_row = nib_type_row_bytes(pt, w->ne0);
    nib_op_quantize_rows(pt, c->gate, ff, m, c->moe_xq, xq_row);
    nib_op_matmul(w->type, w->data, w->row_bytes, w->packed, w->ne0, w->ne1, c->moe_xq, xq_row, m, c->moe_down,
                  NIB_MATMUL_ROWWISE, c->n_threads);
    for (int32_t j = 0; j < m; j++) { /* ggml_mul(experts, weights), into the pair's own slot */
        const float wt = c->moe_weights[pairs[j]];
        float *dst = c->moe_out + (size_t)pairs[j] * (size_t)d;
        const float *src = c->moe_down + (size_t)j * (size_t)d;
        for (int64_t i = 0; i < d; i++) dst[i] = src[i] * wt;
    }
}

void nib_forward_moe_experts(struct nib_context *c, const struct nib_layer *L, int32_t n) {
    const struct nib_hparams *hp = &c->m->hp;
    const int32_t k = hp->n_expert_used;
    const int64_t d = hp->n_embd;
    nib_forward_moe_group(c, n);
    for (int32_t e = 0; e < hp->n_expert; e++) run_expert(c, L, e, n);
    for (int32_t t = 0; t < n; t++) { /* the slots summed left to right */
        const float *o = c->moe_out + (size_t)t * (size_t)k * (size_t)d;
        float *y = c->moe_down + (size_t)t * (size_t)d;
        for (int64_t i = 0; i < d; i++) {
            float sum = o[i];
            for (int32_t s = 1; s < k; s++) sum += o[(size_t)s * (size_t)d + i];
            y[i] = sum;
        }
    }
}

void nib_forward_moe(struct nib_context *c, const struct nib_layer *L, int32_t n) {
    const struct nib_hparams *hp = &c->m->hp;
    const int32_t ne = hp->n_expert, k = hp->n_expert_used;
    nib_forward_matmul(c, &L->ffn_gate_inp, c->xn, n, NULL, c->moe_probs);
    for (int32_t t = 0; t < n; t++)
        nib_moe_route(c->moe_probs + (size_t)t * (size_t)ne, ne, k, c->moe_probs + (size_t)t * (size_t)ne,
                      c->moe_ids + (size_t)t * (size_t)k, c->moe_weights + (size_t)t * (size_t)k);
    nib_forward_moe_experts(c, L, n);
    for (int64_t i = 0; i < (int64_t)n * hp->n_embd; i++) c->x[i] += c->moe_down[i];
}
