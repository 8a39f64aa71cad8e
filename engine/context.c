/*
 * context.c — creating contexts, validating batches, reading results.
 */
#include "context.h"

#include "attention_ref.h"

#include "error.h"
#include "gpu.h"
#include "type_traits.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Physical cores from /proc/cpuinfo (distinct physical id / core id pairs). */
static int physical_cores(void) {
    FILE *f = fopen("/proc/cpuinfo", "r");
    long n_log = sysconf(_SC_NPROCESSORS_ONLN);
    if (!f) return n_log > 0 ? (int)n_log : 1;
    char line[256];
    int phys = 0, ids[1024], n = 0;
    while (fgets(line, sizeof line, f)) {
        int v;
        if (sscanf(line, "physical id : %d", &v) == 1) phys = v;
        else if (sscanf(line, "core id : %d", &v) == 1) {
            int key = phys * 4096 + v, seen = 0;
            for (int i = 0; i < n; i++) seen |= ids[i] == key;
            if (!seen && n < 1024) ids[n++] = key;
        }
    }
    fclose(f);
    return n > 0 ? n : n_log > 0 ? (int)n_log : 1;
}

struct nib_context_params nib_context_default_params(void) {
    struct nib_context_params p = { .n_ctx = 0 };
    return p;
}

static int alloc_buffers(struct nib_context *c, struct nib_error *err) {
    const struct nib_hparams *hp = &c->m->hp;
    size_t nb = (size_t)c->n_batch, qw = (size_t)hp->n_head * (size_t)hp->head_dim_k;
    size_t kvw = (size_t)hp->n_head_kv * (size_t)hp->head_dim_k;
    const size_t ff = (size_t)(hp->n_ff > hp->n_ff_exp ? hp->n_ff : hp->n_ff_exp);
    size_t widest = ff > qw ? ff : qw;
    if ((size_t)hp->n_embd > widest) widest = (size_t)hp->n_embd;
    size_t floats = nb * (2 * (size_t)hp->n_embd + 2 * qw + 2 * kvw + 2 * ff);
    c->x = malloc(sizeof(float) * floats);
    if (c->x) {
        c->xn = c->x + nb * hp->n_embd;
        c->q = c->xn + nb * hp->n_embd;
        c->att = c->q + nb * qw;
        c->k = c->att + nb * qw;
        c->v = c->k + nb * kvw;
        c->gate = c->v + nb * kvw;
        c->up = c->gate + nb * ff;
    }
    size_t xq_bytes = nb * (widest * 4 + 64); /* enough for any partner type, F32 included */
    if (hp->n_expert) {
        const size_t ne = (size_t)hp->n_expert, nu = (size_t)hp->n_expert_used;
        const size_t mf = nb * (ne + nu + nu * (size_t)hp->n_embd + (size_t)hp->n_embd), mi = nb * nu + nb * nu + ne + 1;
        c->moe_probs = malloc(sizeof(float) * mf);
        c->moe_ids = malloc(sizeof(int32_t) * mi);
        c->moe_xq = malloc(xq_bytes);
        if (!c->moe_probs || !c->moe_ids || !c->moe_xq) return nib_error_set(err, NIB_E_NOMEM, "out of memory for MoE buffers");
        c->moe_weights = c->moe_probs + nb * ne;
        c->moe_out = c->moe_weights + nb * nu;
        c->moe_down = c->moe_out + nb * nu * (size_t)hp->n_embd;
        c->moe_rows = c->moe_ids + nb * nu;
        c->moe_start = c->moe_rows + nb * nu;
        c->compute_bytes += sizeof(float) * mf + sizeof(int32_t) * mi + xq_bytes;
    }
    c->xq = malloc(xq_bytes);
    c->scores_stride = nib_attention_tile_scratch(c->n_ctx, hp->head_dim_k); /* >= n_ctx: the single-head kernels' too */
    c->scores = malloc(sizeof(float) * (size_t)c->n_threads * c->scores_stride);
    c->tok_seq = malloc(sizeof(int32_t) * (nb * 4 + 1));
    if (!c->x || !c->xq || !c->scores || !c->tok_seq)
        return nib_error_set(err, NIB_E_NOMEM, "out of memory for compute buffers");
    c->tok_pos = c->tok_seq + nb;
    c->out_of = c->tok_pos + nb;
    c->tok_tile = c->out_of + nb;
    c->xq_type = -1;
    c->compute_bytes += sizeof(float) * floats + xq_bytes + sizeof(float) * (size_t)c->n_threads * c->scores_stride;
    return NIB_OK;
}

int nib_context_new(const struct nib_model *m, const struct nib_context_params *params, struct nib_context **out,
                    struct nib_error *err) {
    if (!m || !out) return nib_error_set(err, NIB_E_ARG, "nib_context_new: NULL argument");
    *out = NULL;
    struct nib_context_params p = params ? *params : nib_context_default_params();
    if (p.n_ctx < 0 || p.n_batch < 0 || p.n_threads < 0)
        return nib_error_set(err, NIB_E_ARG, "context: negative size (n_ctx %d, n_batch %d, threads %d)", p.n_ctx, p.n_batch,
                             p.n_threads);
    struct nib_context *c = calloc(1, sizeof(*c));
    if (!c) return nib_error_set(err, NIB_E_NOMEM, "out of memory");
    c->m = m;
    c->n_ctx = p.n_ctx ? p.n_ctx : m->hp.n_ctx_train;
    c->n_batch = p.n_batch ? p.n_batch : (c->n_ctx < 512 ? c->n_ctx : 512);
    if (c->n_batch > c->n_ctx) c->n_batch = c->n_ctx;
    c->n_threads = p.n_threads ? p.n_threads : physical_cores();
    if (p.kv_block < 0 || p.kv_block > 4096)
        return nib_context_free(c), nib_error_set(err, NIB_E_ARG, "context: KV block size %d out of range 1..4096", p.kv_block);
    int32_t block = p.kv_block ? p.kv_block : 16;
    if (block > c->n_ctx) block = c->n_ctx; /* a tiny context is one block */
    const int kv_type = p.kv_type ? p.kv_type : NIB_TYPE_F16;
    if (kv_type == NIB_TYPE_Q8_0 && m->hp.head_dim_k % 32 != 0)
        return nib_context_free(c), nib_error_set(err, NIB_E_ARG, "context: a q8_0 KV cache needs head dims that are multiples of 32 (this model: %d)", m->hp.head_dim_k);
    int rc = nib_kv_init(&c->kv, c->n_ctx, block, m->hp.n_layer, m->hp.n_head_kv, m->hp.head_dim_k, kv_type, err);
    if (!rc) c->n_ctx = c->kv.n_slots; /* whole blocks: up to block - 1 more tokens than asked */
    if (!rc) rc = alloc_buffers(c, err);
    if (!rc && p.n_gpu_layers < 0) rc = nib_error_set(err, NIB_E_ARG, "context: %d GPU layers", p.n_gpu_layers);
    c->gpu_progress = p.gpu_progress;
    c->gpu_progress_user = p.gpu_progress_user;
    if (!rc && p.n_gpu_layers > 0) rc = nib_gpu_new(c, p.n_gpu_layers, &c->gpu, err);
    if (rc) {
        nib_context_free(c);
        return rc;
    }
    *out = c;
    return NIB_OK;
}

void nib_context_free(struct nib_context *c) {
    if (!c) return;
    nib_gpu_free(c->gpu);
    nib_kv_free(&c->kv);
    free(c->x);
    free(c->xq);
    free(c->scores);
    free(c->tok_seq);
    free(c->moe_probs);
    free(c->moe_ids);
    free(c->moe_xq);
    free(c->logits);
    free(c->embd);
    free(c);
}

int32_t nib_context_n_ctx(const struct nib_context *c) { return c->n_ctx; }
int32_t nib_context_n_batch(const struct nib_context *c) { return c->n_batch; }
int32_t nib_context_n_threads(const struct nib_context *c) { return c->n_threads; }
const struct nib_model *nib_context_model(const struct nib_context *c) { return c->m; }
uint64_t nib_context_kv_bytes(const struct nib_context *c) {
    return 2ull * (uint64_t)c->kv.n_slots * (uint64_t)c->kv.n_layer * (uint64_t)c->kv.row_bytes;
}
uint64_t nib_context_compute_bytes(const struct nib_context *c) { return c->compute_bytes; }

uint64_t nib_context_gpu_bytes(const struct nib_model *m, const struct nib_context_params *p) {
    if (!m || !p || p->n_gpu_layers <= 0) return 0;
    const int32_t n_ctx = p->n_ctx ? p->n_ctx : m->hp.n_ctx_train;
    const int32_t n_batch = p->n_batch ? (p->n_batch < n_ctx ? p->n_batch : n_ctx) : (n_ctx < 512 ? n_ctx : 512);
    return nib_gpu_bytes(m, p->n_gpu_layers, n_ctx, n_batch);
}

int32_t nib_context_seq_len(const struct nib_context *c, int32_t seq) {
    return seq >= 0 && seq < NIB_MAX_SEQ ? c->kv.seqs[seq].len : 0;
}

int nib_context_seq_truncate(struct nib_context *c, int32_t seq, int32_t n, struct nib_error *err) {
    if (seq < 0 || seq >= NIB_MAX_SEQ || n < 0)
        return nib_error_set(err, NIB_E_ARG, "seq_truncate: sequence %d / length %d out of range", seq, n);
    nib_kv_truncate(&c->kv, seq, n);
    return NIB_OK;
}

int nib_context_seq_fork(struct nib_context *c, int32_t dst, int32_t src, struct nib_error *err) {
    if (dst < 0 || dst >= NIB_MAX_SEQ || src < 0 || src >= NIB_MAX_SEQ)
        return nib_error_set(err, NIB_E_ARG, "seq_fork: sequence %d / %d out of range 0..%d", dst, src, NIB_MAX_SEQ - 1);
    nib_kv_fork(&c->kv, dst, src);
    return NIB_OK;
}

int32_t nib_context_seq_reuse_prefix(struct nib_context *c, int32_t seq, const int32_t *tokens, int32_t n, struct nib_error *err) {
    if (seq < 0 || seq >= NIB_MAX_SEQ || !tokens || n < 0)
        return nib_error_set(err, NIB_E_ARG, "seq_reuse_prefix: sequence %d / %d tokens out of range", seq, n), -1;
    if (c->kv.seqs[seq].len != 0)
        return nib_error_set(err, NIB_E_ARG, "seq_reuse_prefix: sequence %d is not empty (%d tokens)", seq, c->kv.seqs[seq].len), -1;
    return nib_kv_reuse_prefix(&c->kv, seq, tokens, n);
}

void nib_context_kv_blocks(const struct nib_context *c, int32_t *used, int32_t *total, int32_t *block_size) {
    if (used) *used = c->kv.blocks.n_blocks - c->kv.blocks.n_free;
    if (total) *total = c->kv.blocks.n_blocks;
    if (block_size) *block_size = c->kv.blocks.block_size;
}

const float *nib_context_logits(const struct nib_context *c, int32_t i) {
    if (i < 0 || i >= c->last_n || c->out_of[i] < 0 || c->embeddings) return NULL;
    return c->logits + (size_t)c->out_of[i] * (size_t)c->m->hp.n_vocab;
}

const float *nib_context_embedding(const struct nib_context *c, int32_t i) {
    if (i < 0 || i >= c->last_n || c->out_of[i] < 0 || !c->embeddings) return NULL;
    return c->embd + (size_t)c->out_of[i] * (size_t)c->m->hp.n_embd;
}

/* Checks ids, sequences and positions; fills tok_seq/tok_pos/out_of. */
static int check_batch(struct nib_context *c, const struct nib_batch *b, struct nib_error *err) {
    int32_t next[NIB_MAX_SEQ];
    for (int s = 0; s < NIB_MAX_SEQ; s++) next[s] = c->kv.seqs[s].len;
    c->n_out = 0;
    for (int32_t i = 0; i < b->n; i++) {
        int32_t t = b->tokens[i], s = b->seq ? b->seq[i] : 0;
        if (t < 0 || t >= c->m->hp.n_vocab)
            return nib_error_set(err, NIB_E_ARG, "batch: token %d at index %d is out of range (vocabulary has %d tokens)", t, i,
                                 c->m->hp.n_vocab);
        if (s < 0 || s >= NIB_MAX_SEQ) return nib_error_set(err, NIB_E_ARG, "batch: sequence id %d out of range 0..%d", s, NIB_MAX_SEQ - 1);
        int32_t p = b->pos ? b->pos[i] : next[s];
        if (p != next[s])
            return nib_error_set(err, NIB_E_ARG, "batch: token %d of sequence %d has position %d, expected %d", i, s, p, next[s]);
        next[s]++;
        c->tok_seq[i] = s;
        c->tok_pos[i] = p;
        bool want = b->logits ? b->logits[i] != 0 : i == b->n - 1;
        c->out_of[i] = want ? c->n_out++ : -1;
    }
    return NIB_OK;
}

int nib_decode(struct nib_context *c, const struct nib_batch *b, struct nib_error *err) {
    if (!c || !b || b->n <= 0 || !b->tokens) return nib_error_set(err, NIB_E_ARG, "nib_decode: empty batch");
    if (b->n > c->n_batch)
        return nib_error_set(err, NIB_E_ARG, "batch of %d tokens is larger than the context's n_batch %d", b->n, c->n_batch);
    c->last_n = 0;
    int rc = check_batch(c, b, err);
    if (rc) return rc;
    int32_t per_seq[NIB_MAX_SEQ] = { 0 }, need = 0;
    for (int32_t i = 0; i < b->n; i++) per_seq[c->tok_seq[i]]++;
    for (int s = 0; s < NIB_MAX_SEQ; s++) need += nib_kv_needed(&c->kv, s, per_seq[s]);
    if (need > c->kv.blocks.n_free)
        return nib_error_set(err, NIB_KV_FULL, "KV cache full: %d blocks needed, %d free of %d (blocks of %d tokens)", need,
                             c->kv.blocks.n_free, c->kv.blocks.n_blocks, c->kv.blocks.block_size);
    const bool embeddings = (b->flags & NIB_BATCH_EMBEDDINGS) != 0;
    if (embeddings && c->n_out > c->cap_embd) {
        float *e = realloc(c->embd, sizeof(float) * (size_t)c->n_out * (size_t)c->m->hp.n_embd);
        if (!e) return nib_error_set(err, NIB_E_NOMEM, "out of memory for %d rows of embeddings", c->n_out);
        c->embd = e;
        c->cap_embd = c->n_out;
    }
    if (!embeddings && c->n_out > c->cap_out) {
        float *l = realloc(c->logits, sizeof(float) * (size_t)c->n_out * (size_t)c->m->hp.n_vocab);
        if (!l) return nib_error_set(err, NIB_E_NOMEM, "out of memory for %d rows of logits", c->n_out);
        c->logits = l;
        c->cap_out = c->n_out;
    }
    c->kv.n_cow = 0;
    for (int s = 0; s < NIB_MAX_SEQ; s++)
        if (per_seq[s]) nib_kv_append(&c->kv, s, per_seq[s]); /* cannot fail: checked above */
    for (int32_t i = 0; i < b->n; i++) /* the tokens behind the new K/V, for the prefix cache */
        nib_kv_blocks_set_tokens(&c->kv.blocks, c->tok_seq[i], c->tok_pos[i], &b->tokens[i], 1);
    c->row_exact = (b->flags & NIB_BATCH_ROW_EXACT) != 0;
    c->int_gemm = (b->flags & NIB_BATCH_INT_GEMM) != 0;
    c->embeddings = embeddings;
    rc = nib_forward(c, b->tokens, b->n, NULL, err);
    c->last_n = rc ? 0 : b->n;
    return rc;
}
