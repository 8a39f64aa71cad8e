/*
 * forward_cuda.c — the GPU half of a context's forward pass (see gpu.h).
 * Compiled in every build; without NIB_CUDA it only says so.
 */
#include "context.h"
#include "gpu.h"

#include "error.h"

#include <stdlib.h>
#include <string.h>

#ifndef NIB_CUDA

uint64_t nib_gpu_bytes(const struct nib_model *m, int32_t n_gpu_layers, int32_t n_ctx, int32_t n_batch) {
    (void)m, (void)n_gpu_layers, (void)n_ctx, (void)n_batch;
    return 0;
}

int nib_gpu_new(struct nib_context *c, int32_t n_gpu_layers, struct nib_gpu **out, struct nib_error *err) {
    (void)c, (void)n_gpu_layers;
    *out = NULL;
    return nib_error_set(err, NIB_E_UNSUPPORTED,
                         "GPU layers asked for, but this nib was built without CUDA (configure with -DNIB_CUDA=ON), or use -ngl 0");
}

void nib_gpu_free(struct nib_gpu *g) { (void)g; }
int32_t nib_gpu_layers(const struct nib_gpu *g) { (void)g; return 0; }

int nib_gpu_forward(struct nib_context *c, int32_t n, bool *head_done, struct nib_error *err) {
    (void)c, (void)n;
    *head_done = false;
    return nib_error_set(err, NIB_E_UNSUPPORTED, "built without CUDA");
}

#else /* NIB_CUDA */

#include "cuda_backend.h"

struct gpu_weight {
    int     type;
    int64_t rows, cols; /* ne1, ne0 */
    void   *d;          /* device copy (shared when two weights have the same data) */
};

struct gpu_layer {
    float            *attn_norm, *ffn_norm, *q_norm, *k_norm;
    float            *bq, *bk, *bv, *bo, *b_gate, *b_up, *b_down;
    struct gpu_weight wq, wk, wv, wo, gate, up, down;
    void             *kpool, *vpool; /* [n_slots][n_head_kv * head_dim] F16 */
};

struct nib_gpu {
    int32_t           n_layers; /* on the device */
    bool              head;     /* output norm + matrix there too */
    struct gpu_layer *layers;
    float            *output_norm;
    struct gpu_weight output;
    float            *rope_freqs;
    /* activations [n_batch][width] */
    float   *x, *xn, *q, *k, *v, *att, *gate, *up, *logits;
    void    *mm_scratch, *att_scratch;
    int32_t *pos, *tok_slot, *seq_slots; /* seq_slots: each sequence's slot array, concatenated */
    int64_t  seq_slots_cap;
    void   **owned;                      /* every device allocation, freed together */
    int32_t  n_owned, cap_owned;
    int32_t *h_ints;                     /* host staging for pos / slots */
};

static void *dev_alloc(struct nib_gpu *g, size_t bytes, struct nib_error *err) {
    if (g->n_owned == g->cap_owned) {
        int32_t cap = g->cap_owned ? 2 * g->cap_owned : 64;
        void **o = realloc(g->owned, sizeof(void *) * (size_t)cap);
        if (!o) return nib_error_set(err, NIB_E_NOMEM, "out of memory"), NULL;
        g->owned = o;
        g->cap_owned = cap;
    }
    void *p = nib_cuda_malloc(bytes, err);
    if (p) g->owned[g->n_owned++] = p;
    return p;
}

/* A host array on the device (NULL stays NULL). */
static int upload(struct nib_gpu *g, const void *h, size_t bytes, void **d, struct nib_error *err) {
    *d = NULL;
    if (!h) return NIB_OK;
    if (!(*d = dev_alloc(g, bytes, err))) return err ? err->status : NIB_E_NOMEM;
    return nib_cuda_upload(*d, h, bytes, err);
}

static int upload_f(struct nib_gpu *g, const float *h, int64_t n, float **d, struct nib_error *err) {
    void *p = NULL;
    int rc = upload(g, h, sizeof(float) * (size_t)n, &p, err);
    *d = p;
    return rc;
}

static int upload_weight(struct nib_gpu *g, const struct nib_weight *w, struct gpu_weight *out, struct nib_error *err) {
    out->type = w->type;
    out->rows = w->ne1;
    out->cols = w->ne0;
    if (!nib_cuda_supports_type(w->type))
        return nib_error_set(err, NIB_E_UNSUPPORTED, "GPU: weights of type %s are not supported there (use -ngl 0)",
                             nib_type_name(w->type));
    return upload(g, w->data, w->row_bytes * (size_t)w->ne1, &out->d, err);
}

static size_t max_sz(size_t a, size_t b) { return a > b ? a : b; }

static size_t mm_scratch_for(const struct nib_weight *w, int32_t n_batch) {
    if (!w->data) return 0;
    return max_sz(nib_cuda_matmul_scratch_bytes(w->type, w->ne1, w->ne0, n_batch), nib_cuda_matvec_scratch_bytes(w->ne0));
}

uint64_t nib_gpu_bytes(const struct nib_model *m, int32_t n_gpu_layers, int32_t n_ctx, int32_t n_batch) {
    const struct nib_hparams *hp = &m->hp;
    const int32_t nl = n_gpu_layers < hp->n_layer ? n_gpu_layers : hp->n_layer;
    uint64_t b = 0;
    size_t scratch = 0;
    for (int32_t l = 0; l < nl; l++) {
        const struct nib_layer *L = &m->layers[l];
        const struct nib_weight *ws[] = { &L->wq, &L->wk, &L->wv, &L->wo, &L->ffn_gate, &L->ffn_up, &L->ffn_down };
        for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++) {
            if (ws[i]->data) b += ws[i]->row_bytes * (uint64_t)ws[i]->ne1;
            scratch = max_sz(scratch, mm_scratch_for(ws[i], n_batch));
        }
        b += 2ull * (uint64_t)n_ctx * (uint64_t)hp->n_head_kv * (uint64_t)hp->head_dim_k * 2; /* K and V, F16 */
    }
    if (nl == hp->n_layer) {
        b += m->output.row_bytes * (uint64_t)m->output.ne1;
        scratch = max_sz(scratch, mm_scratch_for(&m->output, n_batch));
        b += sizeof(float) * (uint64_t)n_batch * (uint64_t)hp->n_vocab;
    }
    const uint64_t qw = (uint64_t)hp->n_head * hp->head_dim_k, kvw = (uint64_t)hp->n_head_kv * hp->head_dim_k;
    const uint64_t ff = (uint64_t)hp->n_ff;
    b += sizeof(float) * (uint64_t)n_batch * (2 * (uint64_t)hp->n_embd + 2 * qw + 2 * kvw + 2 * ff);
    b += scratch + nib_cuda_attention_scratch_bytes(hp->n_head, hp->head_dim_k, n_ctx);
    b += sizeof(int32_t) * ((uint64_t)n_batch * 2 + (uint64_t)n_ctx * 4);
    return b;
}

void nib_gpu_free(struct nib_gpu *g) {
    if (!g) return;
    for (int32_t i = 0; i < g->n_owned; i++) nib_cuda_free(g->owned[i]);
    free(g->owned);
    free(g->layers);
    free(g->h_ints);
    free(g);
}

int32_t nib_gpu_layers(const struct nib_gpu *g) { return g ? g->n_layers : 0; }

static int check_model(const struct nib_context *c, struct nib_error *err) {
    const struct nib_hparams *hp = &c->m->hp;
    if (hp->n_expert) return nib_error_set(err, NIB_E_UNSUPPORTED, "GPU: MoE models run on the CPU only for now (use -ngl 0)");
    if (c->kv.type != NIB_TYPE_F16)
        return nib_error_set(err, NIB_E_UNSUPPORTED, "GPU: only an F16 KV cache is supported there (drop --kv-type q8_0)");
    if (hp->yarn_ext_factor != 0.0f) return nib_error_set(err, NIB_E_UNSUPPORTED, "GPU: YaRN RoPE is not supported there yet (use -ngl 0)");
    if (hp->head_dim_k != hp->head_dim_v || hp->head_dim_k > 256)
        return nib_error_set(err, NIB_E_UNSUPPORTED, "GPU: head dims %d/%d are not supported there (at most 256, K = V)",
                             hp->head_dim_k, hp->head_dim_v);
    if (nib_cuda_device_count() == 0)
        return nib_error_set(err, NIB_E_UNSUPPORTED, "GPU layers asked for (-ngl), but no CUDA device is present; use -ngl 0");
    return nib_cuda_use_device(0, err);
}

static int upload_layer(struct nib_gpu *g, const struct nib_context *c, const struct nib_layer *L, struct gpu_layer *G,
                        struct nib_error *err) {
    const struct nib_hparams *hp = &c->m->hp;
    const int64_t e = hp->n_embd, hd = hp->head_dim_k, qw = (int64_t)hp->n_head * hd, kvw = (int64_t)hp->n_head_kv * hd;
    int rc;
    if ((rc = upload_f(g, L->attn_norm, e, &G->attn_norm, err)) || (rc = upload_f(g, L->ffn_norm, e, &G->ffn_norm, err)) ||
        (rc = upload_f(g, L->q_norm, hd, &G->q_norm, err)) || (rc = upload_f(g, L->k_norm, hd, &G->k_norm, err)) ||
        (rc = upload_f(g, L->bq, qw, &G->bq, err)) || (rc = upload_f(g, L->bk, kvw, &G->bk, err)) ||
        (rc = upload_f(g, L->bv, kvw, &G->bv, err)) || (rc = upload_f(g, L->bo, e, &G->bo, err)) ||
        (rc = upload_f(g, L->b_gate, hp->n_ff, &G->b_gate, err)) || (rc = upload_f(g, L->b_up, hp->n_ff, &G->b_up, err)) ||
        (rc = upload_f(g, L->b_down, e, &G->b_down, err)) || (rc = upload_weight(g, &L->wq, &G->wq, err)) ||
        (rc = upload_weight(g, &L->wk, &G->wk, err)) || (rc = upload_weight(g, &L->wv, &G->wv, err)) ||
        (rc = upload_weight(g, &L->wo, &G->wo, err)) || (rc = upload_weight(g, &L->ffn_gate, &G->gate, err)) ||
        (rc = upload_weight(g, &L->ffn_up, &G->up, err)) || (rc = upload_weight(g, &L->ffn_down, &G->down, err)))
        return rc;
    const size_t pool = (size_t)c->kv.n_slots * (size_t)kvw * 2;
    if (!(G->kpool = dev_alloc(g, pool, err)) || !(G->vpool = dev_alloc(g, pool, err))) return err ? err->status : NIB_E_NOMEM;
    return NIB_OK;
}

int nib_gpu_new(struct nib_context *c, int32_t n_gpu_layers, struct nib_gpu **out, struct nib_error *err) {
    *out = NULL;
    int rc = check_model(c, err);
    if (rc) return rc;
    const struct nib_model *m = c->m;
    const struct nib_hparams *hp = &m->hp;
    struct nib_gpu *g = calloc(1, sizeof(*g));
    if (!g) return nib_error_set(err, NIB_E_NOMEM, "out of memory");
    g->n_layers = n_gpu_layers < hp->n_layer ? n_gpu_layers : hp->n_layer;
    g->head = g->n_layers == hp->n_layer;
    g->layers = calloc((size_t)g->n_layers, sizeof(*g->layers));
    const size_t nb = (size_t)c->n_batch;
    g->seq_slots_cap = (int64_t)c->n_ctx * (int64_t)(nb < NIB_MAX_SEQ ? nb : NIB_MAX_SEQ);
    g->h_ints = malloc(sizeof(int32_t) * (size_t)(g->seq_slots_cap > 2 * (int64_t)nb ? g->seq_slots_cap : 2 * (int64_t)nb));
    if (!g->layers || !g->h_ints) rc = nib_error_set(err, NIB_E_NOMEM, "out of memory");
    size_t scratch = 0;
    for (int32_t l = 0; !rc && l < g->n_layers; l++) {
        rc = upload_layer(g, c, &m->layers[l], &g->layers[l], err);
        const struct nib_layer *L = &m->layers[l];
        const struct nib_weight *ws[] = { &L->wq, &L->wk, &L->wv, &L->wo, &L->ffn_gate, &L->ffn_up, &L->ffn_down };
        for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++) scratch = max_sz(scratch, mm_scratch_for(ws[i], c->n_batch));
    }
    if (!rc && g->head) {
        rc = upload_f(g, m->output_norm, hp->n_embd, &g->output_norm, err);
        if (!rc) rc = upload_weight(g, &m->output, &g->output, err);
        scratch = max_sz(scratch, mm_scratch_for(&m->output, c->n_batch));
        if (!rc && !(g->logits = dev_alloc(g, sizeof(float) * nb * (size_t)hp->n_vocab, err))) rc = err ? err->status : NIB_E_NOMEM;
    }
    if (!rc && m->rope_freqs) rc = upload_f(g, m->rope_freqs, hp->n_rot / 2, &g->rope_freqs, err);
    const size_t e = (size_t)hp->n_embd, qw = (size_t)hp->n_head * hp->head_dim_k, kvw = (size_t)hp->n_head_kv * hp->head_dim_k;
    const size_t ff = (size_t)hp->n_ff;
    float **bufs[] = { &g->x, &g->xn, &g->q, &g->att, &g->k, &g->v, &g->gate, &g->up };
    const size_t widths[] = { e, e, qw, qw, kvw, kvw, ff, ff };
    for (size_t i = 0; !rc && i < sizeof bufs / sizeof bufs[0]; i++)
        if (!(*bufs[i] = dev_alloc(g, sizeof(float) * nb * widths[i], err))) rc = err ? err->status : NIB_E_NOMEM;
    if (!rc && (!(g->mm_scratch = dev_alloc(g, scratch, err)) ||
                !(g->att_scratch = dev_alloc(g, nib_cuda_attention_scratch_bytes(hp->n_head, hp->head_dim_k, c->n_ctx), err)) ||
                !(g->pos = dev_alloc(g, sizeof(int32_t) * nb, err)) || !(g->tok_slot = dev_alloc(g, sizeof(int32_t) * nb, err)) ||
                !(g->seq_slots = dev_alloc(g, sizeof(int32_t) * (size_t)g->seq_slots_cap, err))))
        rc = err ? err->status : NIB_E_NOMEM;
    if (!rc) rc = nib_cuda_sync(err);
    if (rc) {
        nib_gpu_free(g);
        return rc;
    }
    *out = g;
    return NIB_OK;
}

/* y [n][w.rows] = x [n][w.cols] . w (+ bias): matvec per row for one token or
 * a row-exact batch (each row as a lone decode computes it), GEMM otherwise. */
static int mm(struct nib_gpu *g, const struct gpu_weight *w, const float *x, int32_t n, bool per_row, const float *bias, float *y,
              struct nib_error *err) {
    int rc = NIB_OK;
    if (n == 1 || per_row) {
        for (int32_t r = 0; !rc && r < n; r++)
            rc = nib_cuda_matvec(w->type, w->d, w->rows, w->cols, x + (size_t)r * w->cols, y + (size_t)r * w->rows, g->mm_scratch, err);
    } else {
        rc = nib_cuda_matmul(w->type, w->d, w->rows, w->cols, x, n, y, g->mm_scratch, err);
    }
    if (!rc && bias) rc = nib_cuda_add_bias(y, bias, n, w->rows, err);
    return rc;
}

/* Positions, the rows' slots, and each sequence's slot array (the causal
 * prefix every token of it attends over) to the device; off[t]: where token
 * t's sequence array starts. */
static int upload_positions(struct nib_gpu *g, const struct nib_context *c, int32_t n, int64_t *off, struct nib_error *err) {
    int32_t *h = g->h_ints;
    for (int32_t t = 0; t < n; t++) h[t] = c->tok_pos[t];
    int rc = nib_cuda_upload(g->pos, h, sizeof(int32_t) * (size_t)n, err);
    for (int32_t t = 0; t < n; t++) h[t] = c->kv.seqs[c->tok_seq[t]].slots[c->tok_pos[t]];
    if (!rc) rc = nib_cuda_upload(g->tok_slot, h, sizeof(int32_t) * (size_t)n, err);
    int64_t seq_off[NIB_MAX_SEQ], used = 0;
    for (int s = 0; s < NIB_MAX_SEQ; s++) seq_off[s] = -1;
    for (int32_t t = 0; !rc && t < n; t++) {
        const int32_t s = c->tok_seq[t];
        if (seq_off[s] < 0) {
            const int32_t len = c->kv.seqs[s].len; /* every position the batch appended is held */
            if (used + len > g->seq_slots_cap)
                return nib_error_set(err, NIB_E_UNSUPPORTED, "GPU: the batch's sequences hold more positions than the GPU slot table");
            memcpy(h + used, c->kv.seqs[s].slots, sizeof(int32_t) * (size_t)len);
            seq_off[s] = used;
            used += len;
        }
        off[t] = seq_off[s];
    }
    if (!rc && used) rc = nib_cuda_upload(g->seq_slots, h, sizeof(int32_t) * (size_t)used, err);
    return rc;
}

static int layer(struct nib_gpu *g, const struct nib_context *c, int32_t l, int32_t n, const int64_t *off, struct nib_error *err) {
    const struct nib_hparams *hp = &c->m->hp;
    const struct gpu_layer *L = &g->layers[l];
    const int hd = hp->head_dim_k;
    const int64_t e = hp->n_embd, qw = (int64_t)hp->n_head * hd, kvw = (int64_t)hp->n_head_kv * hd;
    const bool per_row = c->row_exact;
    const struct nib_cuda_rope_params rp = { hp->n_rot, hp->rope_kind == NIB_ROPE_NEOX, hp->rope_freq_base, hp->rope_freq_scale,
                                             hp->yarn_attn_factor, g->rope_freqs };
    int rc;
    if ((rc = nib_cuda_rmsnorm(g->x, L->attn_norm, g->xn, n, e, hp->rms_eps, err)) ||
        (rc = mm(g, &L->wq, g->xn, n, per_row, L->bq, g->q, err)) || (rc = mm(g, &L->wk, g->xn, n, per_row, L->bk, g->k, err)) ||
        (rc = mm(g, &L->wv, g->xn, n, per_row, L->bv, g->v, err)))
        return rc;
    if (L->q_norm && ((rc = nib_cuda_rmsnorm(g->q, L->q_norm, g->q, (int64_t)n * hp->n_head, hd, hp->rms_eps, err)) ||
                      (rc = nib_cuda_rmsnorm(g->k, L->k_norm, g->k, (int64_t)n * hp->n_head_kv, hd, hp->rms_eps, err))))
        return rc;
    if ((rc = nib_cuda_rope(g->q, n, hp->n_head, hd, g->pos, &rp, err)) ||
        (rc = nib_cuda_rope(g->k, n, hp->n_head_kv, hd, g->pos, &rp, err)) ||
        (rc = nib_cuda_kv_store(g->k, L->kpool, g->tok_slot, n, (int)kvw, err)) ||
        (rc = nib_cuda_kv_store(g->v, L->vpool, g->tok_slot, n, (int)kvw, err)))
        return rc;
    for (int32_t t = 0; t < n; t++)
        if ((rc = nib_cuda_attention_decode(g->q + (size_t)t * qw, L->kpool, L->vpool, g->seq_slots + off[t], c->tok_pos[t] + 1,
                                            hp->n_head, hp->n_head_kv, hd, hp->attn_scale, g->att + (size_t)t * qw, g->att_scratch, err)))
            return rc;
    if ((rc = mm(g, &L->wo, g->att, n, per_row, L->bo, g->xn, err)) || (rc = nib_cuda_add(g->x, g->xn, (int64_t)n * e, err)) ||
        (rc = nib_cuda_rmsnorm(g->x, L->ffn_norm, g->xn, n, e, hp->rms_eps, err)) ||
        (rc = mm(g, &L->gate, g->xn, n, per_row, L->b_gate, g->gate, err)) ||
        (rc = mm(g, &L->up, g->xn, n, per_row, L->b_up, g->up, err)) ||
        (rc = nib_cuda_swiglu(g->gate, g->up, g->gate, (int64_t)n * hp->n_ff, err)) ||
        (rc = mm(g, &L->down, g->gate, n, per_row, L->b_down, g->xn, err)) || (rc = nib_cuda_add(g->x, g->xn, (int64_t)n * e, err)))
        return rc;
    return NIB_OK;
}

int nib_gpu_forward(struct nib_context *c, int32_t n, bool *head_done, struct nib_error *err) {
    struct nib_gpu *g = c->gpu;
    const struct nib_hparams *hp = &c->m->hp;
    const int64_t e = hp->n_embd;
    *head_done = false;
    int64_t *off = malloc(sizeof(int64_t) * (size_t)n);
    if (!off) return nib_error_set(err, NIB_E_NOMEM, "out of memory");
    int rc = nib_cuda_upload(g->x, c->x, sizeof(float) * (size_t)(n * e), err);
    if (!rc) rc = upload_positions(g, c, n, off, err);
    /* the cache's copy-on-write copies of this batch, repeated in the device pools */
    const size_t row_bytes = (size_t)hp->n_head_kv * (size_t)hp->head_dim_k * 2, bs = (size_t)c->kv.blocks.block_size;
    for (int32_t i = 0; !rc && i < c->kv.n_cow; i++) {
        const struct nib_kv_copy *cp = &c->kv.cow[i];
        const size_t dst = (size_t)cp->dst * bs * row_bytes, src = (size_t)cp->src * bs * row_bytes, len = (size_t)cp->n * row_bytes;
        for (int32_t l = 0; !rc && l < g->n_layers; l++) {
            rc = nib_cuda_copy((char *)g->layers[l].kpool + dst, (const char *)g->layers[l].kpool + src, len, err);
            if (!rc) rc = nib_cuda_copy((char *)g->layers[l].vpool + dst, (const char *)g->layers[l].vpool + src, len, err);
        }
    }
    for (int32_t l = 0; !rc && l < g->n_layers; l++) rc = layer(g, c, l, n, off, err);
    free(off);
    if (rc) return rc;
    if (!g->head || c->embeddings) /* the CPU goes on (or takes the hidden states) */
        return nib_cuda_download(c->x, g->x, sizeof(float) * (size_t)(n * e), err) || nib_cuda_sync(err) ? (err ? err->status : NIB_E_IO)
                                                                                                        : NIB_OK;
    for (int32_t t = 0; !rc && t < n; t++) /* the wanted rows, normed, packed in batch order */
        if (c->out_of[t] >= 0)
            rc = nib_cuda_rmsnorm(g->x + (size_t)t * e, g->output_norm, g->xn + (size_t)c->out_of[t] * e, 1, e, hp->rms_eps, err);
    const int32_t k = c->n_out;
    if (!rc && k) rc = mm(g, &g->output, g->xn, k, c->row_exact, NULL, g->logits, err);
    if (!rc && k) rc = nib_cuda_download(c->logits, g->logits, sizeof(float) * (size_t)k * (size_t)hp->n_vocab, err);
    if (!rc) rc = nib_cuda_sync(err);
    *head_done = rc == NIB_OK;
    return rc;
}

#endif /* NIB_CUDA */
