/*
 * forward_cuda.c — the GPU half of a context's forward pass (see gpu.h).
 * Compiled in every build; without NIB_CUDA it only says so.
 */
#include "context.h"
#include "gpu.h"

#include "error.h"

#include <stdio.h>
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

int nib_gpu_info(struct nib_gpu_info *out, struct nib_error *err) {
    memset(out, 0, sizeof(*out));
    return nib_error_set(err, NIB_E_UNSUPPORTED, "this nib was built without CUDA (configure with -DNIB_CUDA=ON)");
}

int nib_gpu_copy_gbps(double *gbps, struct nib_error *err) {
    *gbps = 0;
    return nib_error_set(err, NIB_E_UNSUPPORTED, "this nib was built without CUDA (configure with -DNIB_CUDA=ON)");
}

int nib_gpu_forward(struct nib_context *c, int32_t n, bool *head_done, struct nib_error *err) {
    (void)c, (void)n;
    *head_done = false;
    return nib_error_set(err, NIB_E_UNSUPPORTED, "built without CUDA");
}

#else /* NIB_CUDA */

#include "cuda_backend.h"
#include "moe_route.h"

struct gpu_weight {
    int     type;
    int64_t rows, cols; /* ne1, ne0 */
    void   *d;          /* device copy (shared when two weights have the same data) */
};

struct gpu_layer {
    float            *attn_norm, *ffn_norm, *q_norm, *k_norm;
    float            *bq, *bk, *bv, *bo, *b_gate, *b_up, *b_down;
    struct gpu_weight wq, wk, wv, wo, gate, up, down;
    struct gpu_weight router, *gate_e, *up_e, *down_e; /* MoE layers: the router and [n_expert] experts */
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
    int32_t *ints;                       /* [4][n_batch]: pos, tok_slot, off, n_kv of each row */
    int32_t *pos, *tok_slot, *off, *n_kv; /* into ints */
    int32_t *seq_slots;                  /* each sequence's slot array, concatenated */
    int64_t  seq_slots_cap;
    int      att_split;                  /* key splits of attention for batches of <= ATT_SPLIT_ROWS rows */
    struct nib_cuda_graph *graph[2];     /* the one-token step without / with the head, captured at its first run */
    bool     graph_off;                  /* NIB_CUDA_GRAPH=0, or the capture failed once */
    bool     att_tiles;                  /* prompt batches of one sequence through the tiled kernel (NIB_CUDA_ATT_TILES=0: not) */
    bool     qkv_fold;                   /* decode rows' RoPE and K/V store in the q/k/v matvec (NIB_CUDA_QKV_FOLD=0: not) */
    void   **owned;                      /* every device allocation, freed together */
    int32_t  n_owned, cap_owned;
    int32_t *h_ints;                     /* host staging for pos / slots */
    /* MoE layers (NULL without): router logits [n_batch][n_expert]; the grouped
     * pairs' rows and weights [n_batch * k]; an expert's gathered inputs and
     * outputs [n_batch][n_embd], its FFN [n_batch][n_ff_exp] twice */
    float   *moe_logits, *moe_w, *moe_in, *moe_y, *moe_h, *moe_u;
    int32_t *moe_idx;
    float   *h_moe_w;                    /* host staging [n_batch * k] */
    uint64_t up_done, up_total;          /* weight bytes uploaded so far, of all (progress) */
    void   (*progress)(uint64_t done, uint64_t total, void *user);
    void    *progress_user;
};

/* Batches of at most this many rows split attention's keys (decode, row-exact
 * batches of a few sequences); larger ones have a block per (head, row). */
#define ATT_SPLIT_ROWS 8

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
    out->d = NULL;
    if (!w->data) return NIB_OK;
    if (!nib_cuda_supports_type(w->type))
        return nib_error_set(err, NIB_E_UNSUPPORTED, "GPU: weights of type %s are not supported there (use -ngl 0)",
                             nib_type_name(w->type));
    if (!(out->d = dev_alloc(g, nib_cuda_weight_bytes(w->type, w->ne1, w->ne0), err))) return err ? err->status : NIB_E_NOMEM;
    int rc = nib_cuda_weight_upload(w->type, w->ne1, w->ne0, w->data, out->d, err);
    g->up_done += w->row_bytes * (uint64_t)w->ne1;
    if (!rc && g->progress) g->progress(g->up_done < g->up_total ? g->up_done : g->up_total, g->up_total, g->progress_user);
    return rc;
}

static size_t max_sz(size_t a, size_t b) { return a > b ? a : b; }

static size_t mm_scratch_for(const struct nib_weight *w, int32_t n_batch) {
    if (!w->data) return 0;
    return max_sz(nib_cuda_matmul_scratch_bytes(w->type, w->ne1, w->ne0, n_batch), nib_cuda_matvec_scratch_bytes(w->ne0));
}

/* The matrices of layer L the GPU multiplies by, absent ones included (7
 * dense ones; in a MoE layer also the router and every expert's three);
 * ws holds 8 + 3 * n_expert. Their count. */
static int layer_weights(const struct nib_hparams *hp, const struct nib_layer *L, const struct nib_weight **ws) {
    int n = 0;
    const struct nib_weight *dense[] = { &L->wq, &L->wk, &L->wv, &L->wo, &L->ffn_gate, &L->ffn_up, &L->ffn_down };
    for (size_t i = 0; i < sizeof dense / sizeof dense[0]; i++) ws[n++] = dense[i];
    if (L->gate_exps) {
        ws[n++] = &L->ffn_gate_inp;
        for (int32_t e = 0; e < hp->n_expert; e++) {
            ws[n++] = &L->gate_exps[e];
            ws[n++] = &L->up_exps[e];
            ws[n++] = &L->down_exps[e];
        }
    }
    return n;
}

/* Device bytes of the layers' weights, and the matmul scratch they need. */
static uint64_t weights_bytes(const struct nib_model *m, int32_t n_layers, int32_t n_batch, size_t *scratch) {
    const struct nib_weight *ws[8 + 3 * 1024];
    uint64_t b = 0;
    for (int32_t l = 0; l < n_layers; l++) {
        const int n = layer_weights(&m->hp, &m->layers[l], ws);
        for (int i = 0; i < n; i++) {
            if (ws[i]->data) b += nib_cuda_weight_bytes(ws[i]->type, ws[i]->ne1, ws[i]->ne0);
            *scratch = max_sz(*scratch, mm_scratch_for(ws[i], n_batch));
        }
    }
    return b;
}

uint64_t nib_gpu_bytes(const struct nib_model *m, int32_t n_gpu_layers, int32_t n_ctx, int32_t n_batch) {
    const struct nib_hparams *hp = &m->hp;
    const int32_t nl = n_gpu_layers < hp->n_layer ? n_gpu_layers : hp->n_layer;
    size_t scratch = 0;
    uint64_t b = weights_bytes(m, nl, n_batch, &scratch);
    b += (uint64_t)nl * 2ull * (uint64_t)n_ctx * (uint64_t)hp->n_head_kv * (uint64_t)hp->head_dim_k * 2; /* K and V, F16 */
    if (nl == hp->n_layer) {
        b += nib_cuda_weight_bytes(m->output.type, m->output.ne1, m->output.ne0);
        scratch = max_sz(scratch, mm_scratch_for(&m->output, n_batch));
        b += sizeof(float) * (uint64_t)n_batch * (uint64_t)hp->n_vocab;
    }
    const uint64_t qw = (uint64_t)hp->n_head * hp->head_dim_k, kvw = (uint64_t)hp->n_head_kv * hp->head_dim_k;
    const uint64_t ff = (uint64_t)hp->n_ff;
    b += sizeof(float) * (uint64_t)n_batch * (2 * (uint64_t)hp->n_embd + 2 * qw + 2 * kvw + 2 * ff);
    if (hp->n_expert) /* MoE buffers */
        b += sizeof(float) * (uint64_t)n_batch * ((uint64_t)hp->n_expert + 2 * (uint64_t)hp->n_embd + 2 * (uint64_t)hp->n_ff_exp) +
             (sizeof(float) + sizeof(int32_t)) * (uint64_t)n_batch * (uint64_t)hp->n_expert_used;
    b += scratch +
         nib_cuda_attention_scratch_bytes(hp->n_head, hp->head_dim_k, ATT_SPLIT_ROWS, nib_cuda_attention_splits(n_ctx, hp->n_head));
    b += sizeof(int32_t) * ((uint64_t)n_batch * 4 + (uint64_t)n_ctx * 4);
    return b;
}

void nib_gpu_free(struct nib_gpu *g) {
    if (!g) return;
    nib_cuda_graph_free(g->graph[0]);
    nib_cuda_graph_free(g->graph[1]);
    for (int32_t i = 0; i < g->n_owned; i++) nib_cuda_free(g->owned[i]);
    free(g->owned);
    free(g->layers);
    for (int32_t l = 0; g->layers && l < g->n_layers; l++) {
        free(g->layers[l].gate_e);
        free(g->layers[l].up_e);
        free(g->layers[l].down_e);
    }
    free(g->h_ints);
    free(g->h_moe_w);
    free(g);
}

int32_t nib_gpu_layers(const struct nib_gpu *g) { return g ? g->n_layers : 0; }

int nib_gpu_info(struct nib_gpu_info *out, struct nib_error *err) {
    memset(out, 0, sizeof(*out));
    if (nib_cuda_device_count() == 0) return nib_error_set(err, NIB_E_UNSUPPORTED, "no CUDA device is present");
    struct nib_cuda_device d;
    int rc = nib_cuda_device_get(0, &d, err);
    if (rc) return rc;
    snprintf(out->name, sizeof out->name, "%s", d.name);
    out->cc_major = d.major;
    out->cc_minor = d.minor;
    out->sm_count = d.sm_count;
    out->total_bytes = d.total_mem;
    out->free_bytes = d.free_mem;
    return NIB_OK;
}

int nib_gpu_copy_gbps(double *gbps, struct nib_error *err) {
    *gbps = 0;
    if (nib_cuda_device_count() == 0) return nib_error_set(err, NIB_E_UNSUPPORTED, "no CUDA device is present");
    int rc = nib_cuda_use_device(0, err);
    return rc ? rc : nib_cuda_copy_bandwidth((size_t)1 << 30, gbps, err);
}

static int check_model(const struct nib_context *c, struct nib_error *err) {
    const struct nib_hparams *hp = &c->m->hp;
    if (c->kv.type != NIB_TYPE_F16)
        return nib_error_set(err, NIB_E_UNSUPPORTED, "GPU: only an F16 KV cache is supported there (drop --kv-type q8_0)");
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
    if (L->gate_exps) {
        const size_t ne = (size_t)hp->n_expert;
        if (!(G->gate_e = calloc(ne, sizeof(*G->gate_e))) || !(G->up_e = calloc(ne, sizeof(*G->up_e))) ||
            !(G->down_e = calloc(ne, sizeof(*G->down_e))))
            return nib_error_set(err, NIB_E_NOMEM, "out of memory");
        if ((rc = upload_weight(g, &L->ffn_gate_inp, &G->router, err))) return rc;
        for (size_t i = 0; i < ne; i++)
            if ((rc = upload_weight(g, &L->gate_exps[i], &G->gate_e[i], err)) || (rc = upload_weight(g, &L->up_exps[i], &G->up_e[i], err)) ||
                (rc = upload_weight(g, &L->down_exps[i], &G->down_e[i], err)))
                return rc;
    }
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
    g->progress = c->gpu_progress;
    g->progress_user = c->gpu_progress_user;
    size_t scratch = 0;
    g->up_total = weights_bytes(m, g->n_layers, c->n_batch, &scratch);
    if (g->head) g->up_total += m->output.row_bytes * (uint64_t)m->output.ne1;
    g->layers = calloc((size_t)g->n_layers, sizeof(*g->layers));
    const size_t nb = (size_t)c->n_batch;
    g->seq_slots_cap = (int64_t)c->n_ctx * (int64_t)(nb < NIB_MAX_SEQ ? nb : NIB_MAX_SEQ);
    int64_t h_cap = 4 * (int64_t)nb; /* positions and slots; slot arrays; a MoE batch's pairs */
    if (g->seq_slots_cap > h_cap) h_cap = g->seq_slots_cap;
    if ((int64_t)nb * hp->n_expert_used > h_cap) h_cap = (int64_t)nb * hp->n_expert_used;
    g->h_ints = malloc(sizeof(int32_t) * (size_t)h_cap);
    if (!g->layers || !g->h_ints) rc = nib_error_set(err, NIB_E_NOMEM, "out of memory");
    for (int32_t l = 0; !rc && l < g->n_layers; l++) {
        rc = upload_layer(g, c, &m->layers[l], &g->layers[l], err);
        if (m->layers[l].gate_exps) g->graph_off = true; /* the routing goes through the host */
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
    if (!rc && hp->n_expert) {
        const size_t k = (size_t)hp->n_expert_used, fe = (size_t)hp->n_ff_exp;
        if (!(g->moe_logits = dev_alloc(g, sizeof(float) * nb * (size_t)hp->n_expert, err)) ||
            !(g->moe_w = dev_alloc(g, sizeof(float) * nb * k, err)) || !(g->moe_idx = dev_alloc(g, sizeof(int32_t) * nb * k, err)) ||
            !(g->moe_in = dev_alloc(g, sizeof(float) * nb * e, err)) || !(g->moe_y = dev_alloc(g, sizeof(float) * nb * e, err)) ||
            !(g->moe_h = dev_alloc(g, sizeof(float) * nb * fe, err)) || !(g->moe_u = dev_alloc(g, sizeof(float) * nb * fe, err)))
            rc = err ? err->status : NIB_E_NOMEM;
        else if (!(g->h_moe_w = malloc(sizeof(float) * nb * k)))
            rc = nib_error_set(err, NIB_E_NOMEM, "out of memory");
    }
    g->att_split = nib_cuda_attention_splits(c->n_ctx, hp->n_head);
    const char *ms = getenv("NIB_CUDA_ATT_SPLIT"); /* an experiment's knob: this many key splits */
    if (ms && atoi(ms) > 0) g->att_split = atoi(ms) < 64 ? atoi(ms) : 64;
    const char *env = getenv("NIB_CUDA_GRAPH");
    if (env && !strcmp(env, "0")) g->graph_off = true;
    env = getenv("NIB_CUDA_ATT_TILES"); /* NIB_CUDA_ATT_TILES=0: the per-row kernel for prompts too (an A/B knob) */
    g->att_tiles = !(env && !strcmp(env, "0"));
    env = getenv("NIB_CUDA_QKV_FOLD"); /* an A/B knob, on unless set to 0 */
    g->qkv_fold = !(env && !strcmp(env, "0"));
    const size_t att = nib_cuda_attention_scratch_bytes(hp->n_head, hp->head_dim_k, ATT_SPLIT_ROWS, g->att_split);
    if (!rc && (!(g->mm_scratch = dev_alloc(g, scratch, err)) || !(g->att_scratch = dev_alloc(g, att, err)) ||
                !(g->ints = dev_alloc(g, sizeof(int32_t) * 4 * nb, err)) ||
                !(g->seq_slots = dev_alloc(g, sizeof(int32_t) * (size_t)g->seq_slots_cap, err))))
        rc = err ? err->status : NIB_E_NOMEM;
    if (!rc && att) rc = nib_cuda_zero(g->att_scratch, att, err); /* the attention's per-head counters */
    if (!rc) {
        g->pos = g->ints;
        g->tok_slot = g->ints + nb;
        g->off = g->ints + 2 * nb;
        g->n_kv = g->ints + 3 * nb;
    }
    if (!rc) rc = nib_cuda_sync(err);
    if (rc) {
        nib_gpu_free(g);
        return rc;
    }
    *out = g;
    return NIB_OK;
}

/* y [n][w.rows] = x [n][w.cols] . w (+ bias): the matvec for one row, a
 * cuBLAS GEMM for more. */
static int mm(struct nib_gpu *g, const struct gpu_weight *w, const float *x, int32_t n, const float *bias, float *y,
              struct nib_error *err) {
    int rc = n == 1 ? nib_cuda_matvec(w->type, w->d, w->rows, w->cols, x, y, g->mm_scratch, err)
                    : nib_cuda_matmul(w->type, w->d, w->rows, w->cols, x, n, y, g->mm_scratch, err);
    if (!rc && bias) rc = nib_cuda_add_bias(y, bias, n, w->rows, err);
    return rc;
}

/* Each row's position, slot, and where its sequence's slot array (the
 * causal prefix it attends over: its first pos + 1 entries) starts in
 * seq_slots, with those arrays, to the device. */
static int upload_positions(struct nib_gpu *g, const struct nib_context *c, int32_t n, struct nib_error *err) {
    const size_t nb = (size_t)c->n_batch;
    int32_t *h = g->h_ints, *pos = h, *slot = h + nb, *off = h + 2 * nb, *n_kv = h + 3 * nb;
    for (int32_t t = 0; t < n; t++) {
        pos[t] = c->tok_pos[t];
        slot[t] = c->kv.seqs[c->tok_seq[t]].slots[c->tok_pos[t]];
        n_kv[t] = c->tok_pos[t] + 1;
    }
    int64_t seq_off[NIB_MAX_SEQ], used = 0;
    for (int s = 0; s < NIB_MAX_SEQ; s++) seq_off[s] = -1;
    for (int32_t t = 0; t < n; t++) {
        const int32_t s = c->tok_seq[t];
        if (seq_off[s] < 0) {
            seq_off[s] = used;
            used += c->kv.seqs[s].len; /* every position the batch appended is held */
        }
        off[t] = (int32_t)seq_off[s];
    }
    if (used > g->seq_slots_cap)
        return nib_error_set(err, NIB_E_UNSUPPORTED, "GPU: the batch's sequences hold more positions than the GPU slot table");
    int rc = nib_cuda_upload(g->ints, h, sizeof(int32_t) * 4 * nb, err);
    for (int s = 0; !rc && s < NIB_MAX_SEQ; s++) /* h is free again: the slot arrays go up one by one */
        if (seq_off[s] >= 0 && c->kv.seqs[s].len > 0)
            rc = nib_cuda_upload(g->seq_slots + seq_off[s], c->kv.seqs[s].slots, sizeof(int32_t) * (size_t)c->kv.seqs[s].len, err);
    return rc;
}

/* Parts [i, j) of a decode row as separate launches (what mv_row folds):
 * the norm into xs, the matvecs and biases, then the add or the SwiGLU
 * through tmp. */
static int mv_apart(struct nib_gpu *g, const float *x, int64_t cols, const float *norm_w, float eps,
                    const struct gpu_weight *const *ws, const struct nib_cuda_mv_part *parts, int i, int j, int mode, float *xs,
                    float *tmp, struct nib_error *err) {
    int rc = NIB_OK;
    if (norm_w && (rc = nib_cuda_rmsnorm(x, norm_w, xs, 1, cols, eps, err))) return rc;
    for (int k = i; k < j; k++) {
        const struct gpu_weight *w = ws[k];
        float *y = mode == NIB_CUDA_MV_ADD || (mode == NIB_CUDA_MV_SWIGLU && k == 1) ? tmp : parts[k].y;
        if ((rc = nib_cuda_matvec(w->type, w->d, w->rows, w->cols, norm_w ? xs : x, y, g->mm_scratch, err)) ||
            (parts[k].bias && (rc = nib_cuda_add_bias(y, parts[k].bias, 1, w->rows, err))) ||
            (mode == NIB_CUDA_MV_ADD && (rc = nib_cuda_add(parts[k].y, tmp, w->rows, err))))
            return rc;
    }
    return mode == NIB_CUDA_MV_SWIGLU ? nib_cuda_swiglu(parts[0].y, tmp, parts[0].y, ws[0]->rows, err) : NIB_OK;
}

/* One decode row's matrices over x (width cols), with the step before (an
 * RMSNorm with norm_w) and after (mode: NIB_CUDA_MV_STORE, _ADD into y, or
 * _SWIGLU of two parts into parts[0].y) folded into one launch per run of
 * parts of one weight type where the kernels allow, apart (mv_apart)
 * otherwise; xs: a row of g->xn, tmp: a free row at least as wide as any
 * part. */
static int mv_row(struct nib_gpu *g, const float *x, int64_t cols, const float *norm_w, float eps, const struct gpu_weight *const *ws,
                  const struct nib_cuda_mv_part *parts, int n, int mode, float *xs, float *tmp, struct nib_error *err) {
    if (mode == NIB_CUDA_MV_SWIGLU) { /* gate and up: one launch or all apart */
        const int rc = ws[1]->type == ws[0]->type ? nib_cuda_matvec_multi(ws[0]->type, cols, x, norm_w, eps, parts, 2, mode, err)
                                                  : NIB_E_UNSUPPORTED;
        return rc == NIB_E_UNSUPPORTED ? mv_apart(g, x, cols, norm_w, eps, ws, parts, 0, 2, mode, xs, tmp, err) : rc;
    }
    for (int i = 0; i < n;) { /* runs of one weight type */
        int j = i + 1;
        while (j < n && ws[j]->type == ws[i]->type) j++;
        int rc = nib_cuda_matvec_multi(ws[i]->type, cols, x, norm_w, eps, parts + i, j - i, mode, err);
        if (rc == NIB_E_UNSUPPORTED) rc = mv_apart(g, x, cols, norm_w, eps, ws, parts, i, j, mode, xs, tmp, err);
        if (rc) return rc;
        i = j;
    }
    return NIB_OK;
}

static struct nib_cuda_rope_params rope_params(const struct nib_gpu *g, const struct nib_hparams *hp) {
    const struct nib_cuda_rope_params rp = { hp->n_rot,          hp->rope_kind == NIB_ROPE_NEOX, hp->rope_freq_base,
                                             hp->rope_freq_scale, hp->yarn_attn_factor,           g->rope_freqs,
                                             hp->yarn_ext_factor, hp->yarn_beta_fast,             hp->yarn_beta_slow,
                                             hp->n_ctx_orig };
    return rp;
}

/* Rotary embedding, the K/V store (unless the q/k/v matvecs did both:
 * stored) and attention of the batch's n rows (q, k, v computed). */
static int attend(struct nib_gpu *g, const struct nib_context *c, const struct gpu_layer *L, int32_t n, bool stored,
                  struct nib_error *err) {
    const struct nib_hparams *hp = &c->m->hp;
    const int hd = hp->head_dim_k;
    int rc;
    if (!stored) {
        const struct nib_cuda_rope_params rp = rope_params(g, hp);
        if (L->q_norm && ((rc = nib_cuda_rmsnorm(g->q, L->q_norm, g->q, (int64_t)n * hp->n_head, hd, hp->rms_eps, err)) ||
                          (rc = nib_cuda_rmsnorm(g->k, L->k_norm, g->k, (int64_t)n * hp->n_head_kv, hd, hp->rms_eps, err))))
            return rc;
        if ((rc = nib_cuda_rope_store(g->q, g->k, g->v, L->kpool, L->vpool, g->tok_slot, n, hp->n_head, hp->n_head_kv, hd, g->pos,
                                      &rp, err)))
            return rc;
    }
    bool one_seq = g->att_tiles && n > ATT_SPLIT_ROWS;
    for (int32_t t = 1; one_seq && t < n; t++) one_seq = c->tok_seq[t] == c->tok_seq[0];
    if (one_seq)
        return nib_cuda_attention_tiles(g->q, L->kpool, L->vpool, g->seq_slots, g->off, g->n_kv, n, hp->n_head, hp->n_head_kv, hd,
                                        hp->attn_scale, g->att, err);
    return nib_cuda_attention(g->q, L->kpool, L->vpool, g->seq_slots, g->off, g->n_kv, n, n <= ATT_SPLIT_ROWS ? g->att_split : 1,
                              hp->n_head, hp->n_head_kv, hd, hp->attn_scale, g->att, g->att_scratch, err);
}

/* y [m][w.rows] for m gathered rows: one matvec per row when the batch is
 * row-exact or m == 1 (each row as a lone decode computes it), a GEMM
 * otherwise. */
static int mm_rows(struct nib_gpu *g, const struct gpu_weight *w, const float *x, int32_t m, bool per_row, float *y,
                   struct nib_error *err) {
    int rc = NIB_OK;
    if (!per_row) return mm(g, w, x, m, NULL, y, err);
    for (int32_t j = 0; !rc && j < m; j++) rc = mm(g, w, x + (size_t)j * w->cols, 1, NULL, y + (size_t)j * w->rows, err);
    return rc;
}

/* The MoE FFN of layer L over the n rows normed in g->xn, added into x:
 * the router's logits come to the host, which routes each row as the CPU
 * does (moe_route.h) and groups the rows by expert; each chosen expert then
 * runs over its gathered rows, and its outputs, times the rows' weights, are
 * added back into their rows. */
static int moe_ffn(struct nib_gpu *g, struct nib_context *c, const struct gpu_layer *L, int32_t n, struct nib_error *err) {
    const struct nib_hparams *hp = &c->m->hp;
    const int32_t ne = hp->n_expert, k = hp->n_expert_used;
    const int64_t e = hp->n_embd, fe = hp->n_ff_exp;
    const bool per_row = n == 1 || c->row_exact;
    int rc = mm_rows(g, &L->router, g->xn, n, per_row, g->moe_logits, err);
    if (!rc) rc = nib_cuda_download(c->moe_probs, g->moe_logits, sizeof(float) * (size_t)n * (size_t)ne, err);
    if (rc) return rc;
    for (int32_t t = 0; t < n; t++)
        nib_moe_route(c->moe_probs + (size_t)t * ne, ne, k, c->moe_probs + (size_t)t * ne, c->moe_ids + (size_t)t * k,
                      c->moe_weights + (size_t)t * k);
    nib_forward_moe_group(c, n);
    int32_t *h_idx = g->h_ints; /* the pairs' rows, grouped by expert, and their weights */
    for (int32_t j = 0; j < n * k; j++) {
        h_idx[j] = c->moe_rows[j] / k;
        g->h_moe_w[j] = c->moe_weights[c->moe_rows[j]];
    }
    if ((rc = nib_cuda_upload(g->moe_idx, h_idx, sizeof(int32_t) * (size_t)(n * k), err)) ||
        (rc = nib_cuda_upload(g->moe_w, g->h_moe_w, sizeof(float) * (size_t)(n * k), err)))
        return rc;
    for (int32_t x = 0; !rc && x < ne; x++) {
        const int32_t j0 = c->moe_start[x], m = c->moe_start[x + 1] - j0;
        if (m == 0) continue;
        if ((rc = nib_cuda_gather_rows(g->xn, g->moe_idx + j0, m, e, g->moe_in, err)) ||
            (rc = mm_rows(g, &L->gate_e[x], g->moe_in, m, per_row, g->moe_h, err)) ||
            (rc = mm_rows(g, &L->up_e[x], g->moe_in, m, per_row, g->moe_u, err)) ||
            (rc = nib_cuda_swiglu(g->moe_h, g->moe_u, g->moe_h, (int64_t)m * fe, err)) ||
            (rc = mm_rows(g, &L->down_e[x], g->moe_h, m, per_row, g->moe_y, err)))
            return rc;
        rc = nib_cuda_scatter_add_rows(g->x, g->moe_idx + j0, g->moe_w + j0, g->moe_y, m, e, err);
    }
    return rc;
}

/* Layer l over n rows computed as lone decodes (n == 1, or a row-exact
 * batch): per row, q/k/v with the norm folded in, wo added into x, gate and
 * up with the norm and SwiGLU folded in, down added into x. */
static int layer_rows(struct nib_gpu *g, struct nib_context *c, int32_t l, int32_t n, struct nib_error *err) {
    const struct nib_hparams *hp = &c->m->hp;
    const struct gpu_layer *L = &g->layers[l];
    const int64_t e = hp->n_embd, hd = hp->head_dim_k, qw = (int64_t)hp->n_head * hd, kvw = (int64_t)hp->n_head_kv * hd, ff = hp->n_ff;
    const float eps = hp->rms_eps;
    int rc = NIB_OK;
    const struct gpu_weight *qkv[] = { &L->wq, &L->wk, &L->wv }, *o[] = { &L->wo }, *gu[] = { &L->gate, &L->up }, *dn[] = { &L->down };
    /* q, k, v with the RoPE and K/V store folded in where the kernels take it (one type, no q/k norm) */
    const struct nib_cuda_rope_params rp = rope_params(g, hp);
    bool stored = g->qkv_fold && !L->q_norm && L->wk.type == L->wq.type && L->wv.type == L->wq.type;
    for (int32_t t = 0; !rc && t < n; t++) {
        const struct nib_cuda_mv_part p[] = { { L->wq.d, qw, g->q + t * qw, L->bq },
                                              { L->wk.d, kvw, g->k + t * kvw, L->bk },
                                              { L->wv.d, kvw, g->v + t * kvw, L->bv } };
        if (stored) {
            const struct nib_cuda_mv_kv kv = { g->pos + t, g->tok_slot + t, L->kpool, L->vpool, (int)hd, &rp };
            rc = nib_cuda_matvec_qkv(L->wq.type, e, g->x + t * e, L->attn_norm, eps, p, &kv, err);
            if (rc != NIB_E_UNSUPPORTED) continue;
            if (t > 0) /* the same shapes and types as row 0's, which it took */
                return nib_error_set(err, NIB_E_UNSUPPORTED, "GPU: the q/k/v fold refused row %d of %d", t, n);
            stored = false, rc = NIB_OK;
        }
        rc = mv_row(g, g->x + t * e, e, L->attn_norm, eps, qkv, p, 3, NIB_CUDA_MV_STORE, g->xn + t * e, g->up + t * ff, err);
    }
    if (!rc) rc = attend(g, c, L, n, stored, err);
    for (int32_t t = 0; !rc && t < n; t++) {
        const struct nib_cuda_mv_part p[] = { { L->wo.d, e, g->x + t * e, L->bo } };
        rc = mv_row(g, g->att + t * qw, qw, NULL, eps, o, p, 1, NIB_CUDA_MV_ADD, NULL, g->xn + t * e, err);
    }
    if (!rc && L->gate_e) { /* MoE */
        rc = nib_cuda_rmsnorm(g->x, L->ffn_norm, g->xn, n, e, eps, err);
        return rc ? rc : moe_ffn(g, c, L, n, err);
    }
    for (int32_t t = 0; !rc && t < n; t++) {
        const struct nib_cuda_mv_part p[] = { { L->gate.d, ff, g->gate + t * ff, L->b_gate }, { L->up.d, ff, NULL, L->b_up } };
        rc = mv_row(g, g->x + t * e, e, L->ffn_norm, eps, gu, p, 2, NIB_CUDA_MV_SWIGLU, g->xn + t * e, g->up + t * ff, err);
    }
    for (int32_t t = 0; !rc && t < n; t++) {
        const struct nib_cuda_mv_part p[] = { { L->down.d, e, g->x + t * e, L->b_down } };
        rc = mv_row(g, g->gate + t * ff, ff, NULL, eps, dn, p, 1, NIB_CUDA_MV_ADD, NULL, g->xn + t * e, err);
    }
    return rc;
}

/* Layer l over a prompt batch of n rows: cuBLAS GEMMs. */
static int layer_batch(struct nib_gpu *g, struct nib_context *c, int32_t l, int32_t n, struct nib_error *err) {
    const struct nib_hparams *hp = &c->m->hp;
    const struct gpu_layer *L = &g->layers[l];
    const int64_t e = hp->n_embd;
    int rc;
    if ((rc = nib_cuda_rmsnorm(g->x, L->attn_norm, g->xn, n, e, hp->rms_eps, err)) ||
        (rc = mm(g, &L->wq, g->xn, n, L->bq, g->q, err)) || (rc = mm(g, &L->wk, g->xn, n, L->bk, g->k, err)) ||
        (rc = mm(g, &L->wv, g->xn, n, L->bv, g->v, err)) || (rc = attend(g, c, L, n, false, err)) ||
        (rc = mm(g, &L->wo, g->att, n, L->bo, g->xn, err)) ||
        (rc = nib_cuda_add_rmsnorm(g->x, g->xn, L->ffn_norm, g->xn, n, e, hp->rms_eps, err)))
        return rc;
    if (L->gate_e) return moe_ffn(g, c, L, n, err);
    if ((rc = mm(g, &L->gate, g->xn, n, L->b_gate, g->gate, err)) ||
        (rc = mm(g, &L->up, g->xn, n, L->b_up, g->up, err)) ||
        (rc = nib_cuda_swiglu(g->gate, g->up, g->gate, (int64_t)n * hp->n_ff, err)) ||
        (rc = mm(g, &L->down, g->gate, n, L->b_down, g->xn, err)))
        return rc;
    return nib_cuda_add(g->x, g->xn, (int64_t)n * e, err);
}

/* The launches of a batch after its inputs are on the device: the GPU
 * layers, and with the head there the wanted rows' norms and logits. */
static int launch(struct nib_gpu *g, struct nib_context *c, int32_t n, bool head, struct nib_error *err) {
    const struct nib_hparams *hp = &c->m->hp;
    const int64_t e = hp->n_embd;
    const bool rows = n == 1 || c->row_exact;
    int rc = NIB_OK;
    for (int32_t l = 0; !rc && l < g->n_layers; l++) rc = rows ? layer_rows(g, c, l, n, err) : layer_batch(g, c, l, n, err);
    if (rc || !head || !c->n_out) return rc;
    if (rows) { /* each wanted row's logits, the norm folded in */
        const struct gpu_weight *out[] = { &g->output };
        for (int32_t t = 0; !rc && t < n; t++)
            if (c->out_of[t] >= 0) {
                const struct nib_cuda_mv_part p[] = { { g->output.d, g->output.rows, g->logits + (size_t)c->out_of[t] * hp->n_vocab, NULL } };
                rc = mv_row(g, g->x + t * e, e, g->output_norm, hp->rms_eps, out, p, 1, NIB_CUDA_MV_STORE, g->xn + t * e, NULL, err);
            }
        return rc;
    }
    for (int32_t t = 0; !rc && t < n; t++) /* the wanted rows, normed, packed in batch order */
        if (c->out_of[t] >= 0)
            rc = nib_cuda_rmsnorm(g->x + (size_t)t * e, g->output_norm, g->xn + (size_t)c->out_of[t] * e, 1, e, hp->rms_eps, err);
    return rc ? rc : mm(g, &g->output, g->xn, c->n_out, NULL, g->logits, err);
}

/* One-token steps (the row's logits wanted, or no head here) replay a graph
 * captured at the first one: every argument that changes between steps is
 * read from device memory. */
static int launch_step(struct nib_gpu *g, struct nib_context *c, bool head, struct nib_error *err) {
    struct nib_cuda_graph **graph = &g->graph[head];
    if (!*graph) {
        int rc = nib_cuda_graph_begin(err);
        if (rc) { /* no capture here: run as launches, and do not try again */
            g->graph_off = true;
            return launch(g, c, 1, head, err);
        }
        rc = launch(g, c, 1, head, err);
        struct nib_error err2 = { 0 };
        int rc2 = nib_cuda_graph_end(rc == NIB_OK, graph, rc ? &err2 : err);
        if (rc) return rc;
        if (rc2) return rc2;
    }
    return nib_cuda_graph_launch(*graph, err);
}

int nib_gpu_forward(struct nib_context *c, int32_t n, bool *head_done, struct nib_error *err) {
    struct nib_gpu *g = c->gpu;
    const struct nib_hparams *hp = &c->m->hp;
    const int64_t e = hp->n_embd;
    *head_done = false;
    int rc = nib_cuda_upload(g->x, c->x, sizeof(float) * (size_t)(n * e), err);
    if (!rc) rc = upload_positions(g, c, n, err);
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
    if (rc) return rc;
    const bool head = g->head && !c->embeddings; /* else the CPU goes on (or takes the hidden states) */
    if (n == 1 && !g->graph_off && (!head || c->out_of[0] == 0)) rc = launch_step(g, c, head, err);
    else rc = launch(g, c, n, head, err);
    if (rc) return rc;
    if (!head)
        return nib_cuda_download(c->x, g->x, sizeof(float) * (size_t)(n * e), err) || nib_cuda_sync(err) ? (err ? err->status : NIB_E_IO)
                                                                                                        : NIB_OK;
    if (c->n_out) rc = nib_cuda_download(c->logits, g->logits, sizeof(float) * (size_t)c->n_out * (size_t)hp->n_vocab, err);
    if (!rc) rc = nib_cuda_sync(err);
    *head_done = rc == NIB_OK;
    return rc;
}

#endif /* NIB_CUDA */
