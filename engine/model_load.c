/*
 * model_load.c — open a GGUF file as a model: architecture from the table,
 * hyperparameters from metadata (checked for consistency), every tensor
 * bound and checked for presence, type and shape before anything runs.
 */
#include "model.h"

#include "arena.h"
#include "error.h"
#include "type_traits.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct loader {
    struct nib_model *m;
    struct nib_arena  arena; /* owns dequantized vectors; moved into the model */
    struct nib_error *err;
    char              key[192];
};

static const char *key(struct loader *L, const char *suffix) {
    snprintf(L->key, sizeof(L->key), "%s.%s", L->m->arch->name, suffix);
    return L->key;
}

/* Reads an unsigned hyperparameter; *out keeps its default when absent and !required. */
static int hp_u32(struct loader *L, const char *suffix, bool required, int32_t *out) {
    const char *k = key(L, suffix);
    const struct nib_gguf_value *v = nib_gguf_get(L->m->gguf, k);
    if (!v) return required ? nib_error_set(L->err, NIB_E_FORMAT, "model: metadata key '%s' is missing", k) : NIB_OK;
    if (v->type == NIB_GGUF_ARRAY)
        return nib_error_set(L->err, NIB_E_UNSUPPORTED, "model: '%s' varies per layer, which nib does not support", k);
    uint64_t x;
    if (nib_gguf_get_u64(L->m->gguf, k, &x, L->err)) return NIB_E_FORMAT;
    if (x > INT32_MAX) return nib_error_set(L->err, NIB_E_FORMAT, "model: '%s' = %" PRIu64 " is out of range", k, x);
    *out = (int32_t)x;
    return NIB_OK;
}

static int hp_f32(struct loader *L, const char *suffix, bool required, float *out) {
    const char *k = key(L, suffix);
    double x;
    int rc = nib_gguf_get_f64(L->m->gguf, k, &x, L->err);
    if (rc == NIB_E_NOT_FOUND) return required ? nib_error_set(L->err, NIB_E_FORMAT, "model: metadata key '%s' is missing", k) : NIB_OK;
    if (rc) return NIB_E_FORMAT;
    if (!isfinite(x)) return nib_error_set(L->err, NIB_E_FORMAT, "model: '%s' is not a finite number", k);
    *out = (float)x;
    return NIB_OK;
}

static int load_rope_scaling(struct loader *L) {
    struct nib_hparams *hp = &L->m->hp;
    const char *type = "none";
    const struct nib_gguf_value *t = nib_gguf_get(L->m->gguf, key(L, "rope.scaling.type"));
    if (t && t->type == NIB_GGUF_STRING) type = t->v.str.ptr;
    float factor = 0;
    int rc;
    if ((rc = hp_f32(L, "rope.scaling.factor", false, &factor)) || (rc = hp_f32(L, "rope.scale_linear", false, &factor)))
        return rc;
    hp->rope_freq_scale = 1.0f;
    hp->n_ctx_orig = hp->n_ctx_train;
    if ((rc = hp_u32(L, "rope.scaling.original_context_length", false, &hp->n_ctx_orig))) return rc;
    if (strcmp(type, "none") == 0 && factor == 0) return NIB_OK;
    if (factor <= 0 && strcmp(type, "none") != 0)
        return nib_error_set(L->err, NIB_E_FORMAT, "model: rope scaling '%s' needs a positive rope.scaling.factor", type);
    if (factor > 0) hp->rope_freq_scale = 1.0f / factor;
    if (strcmp(type, "yarn") == 0) {
        hp->yarn_ext_factor = 1.0f;
    } else if (strcmp(type, "linear") != 0 && strcmp(type, "none") != 0) {
        return nib_error_set(L->err, NIB_E_UNSUPPORTED, "model: rope scaling type '%s' is not supported (none, linear, yarn)", type);
    }
    return NIB_OK;
}

#define NIB_MAX_EXPERTS 512 /* as llama.cpp's LLAMA_MAX_EXPERTS */

/* expert_count / expert_used_count (and qwen3moe's expert width): all
 * three stay 0 for a dense model. */
static int load_expert_hparams(struct loader *L) {
    struct nib_hparams *hp = &L->m->hp;
    const struct nib_arch *a = L->m->arch;
    int rc;
    if (a->experts == NIB_ABSENT) return NIB_OK;
    if ((rc = hp_u32(L, "expert_count", a->experts == NIB_REQUIRED, &hp->n_expert)) ||
        (rc = hp_u32(L, "expert_used_count", hp->n_expert > 0, &hp->n_expert_used)))
        return rc;
    if (hp->n_expert == 0) {
        if (hp->n_expert_used)
            return nib_error_set(L->err, NIB_E_FORMAT, "model: '%s' = %d without experts", key(L, "expert_used_count"),
                                 hp->n_expert_used);
        return NIB_OK;
    }
    if (hp->n_expert > NIB_MAX_EXPERTS || hp->n_expert_used < 1 || hp->n_expert_used > hp->n_expert)
        return nib_error_set(L->err, NIB_E_FORMAT, "model: %d experts with %d used per token (need 1 <= used <= experts <= %d)",
                             hp->n_expert, hp->n_expert_used, NIB_MAX_EXPERTS);
    hp->n_ff_exp = hp->n_ff;
    if (a->expert_ff && (rc = hp_u32(L, "expert_feed_forward_length", true, &hp->n_ff_exp))) return rc;
    if (hp->n_ff_exp <= 0) return nib_error_set(L->err, NIB_E_FORMAT, "model: expert feed-forward length is zero");
    return NIB_OK;
}

static int load_hparams(struct loader *L) {
    struct nib_hparams *hp = &L->m->hp;
    int rc;
    hp->rope_freq_base = 10000.0f;
    hp->yarn_attn_factor = 1.0f;
    hp->yarn_beta_fast = 32.0f;
    hp->yarn_beta_slow = 1.0f;
    if ((rc = hp_u32(L, "context_length", true, &hp->n_ctx_train)) || (rc = hp_u32(L, "embedding_length", true, &hp->n_embd)) ||
        (rc = hp_u32(L, "block_count", true, &hp->n_layer)) ||
        (rc = hp_u32(L, "feed_forward_length", !L->m->arch->expert_ff, &hp->n_ff)) ||
        (rc = hp_u32(L, "attention.head_count", true, &hp->n_head)))
        return rc;
    hp->n_head_kv = hp->n_head;
    if ((rc = hp_u32(L, "attention.head_count_kv", false, &hp->n_head_kv)) ||
        (rc = hp_f32(L, "attention.layer_norm_rms_epsilon", true, &hp->rms_eps)) ||
        (rc = hp_f32(L, "rope.freq_base", false, &hp->rope_freq_base)))
        return rc;
    if (hp->n_ff == 0 && L->m->arch->expert_ff) hp->n_ff = 1; /* unused: every layer is MoE */
    if (hp->n_embd <= 0 || hp->n_layer <= 0 || hp->n_ff <= 0 || hp->n_head <= 0 || hp->n_head_kv <= 0 || hp->n_ctx_train <= 0)
        return nib_error_set(L->err, NIB_E_FORMAT, "model: a size is zero (embd %d, layers %d, ffn %d, heads %d/%d, ctx %d)",
                             hp->n_embd, hp->n_layer, hp->n_ff, hp->n_head, hp->n_head_kv, hp->n_ctx_train);
    if (hp->n_head % hp->n_head_kv)
        return nib_error_set(L->err, NIB_E_FORMAT, "model: %d attention heads are not a multiple of %d KV heads", hp->n_head,
                             hp->n_head_kv);
    if (hp->n_embd % hp->n_head && !nib_gguf_get(L->m->gguf, key(L, "attention.key_length")))
        return nib_error_set(L->err, NIB_E_FORMAT, "model: embedding %d is not divisible by %d heads and no key_length is given",
                             hp->n_embd, hp->n_head);
    hp->head_dim_k = hp->head_dim_v = hp->n_embd / hp->n_head;
    if ((rc = hp_u32(L, "attention.key_length", false, &hp->head_dim_k)) ||
        (rc = hp_u32(L, "attention.value_length", false, &hp->head_dim_v)))
        return rc;
    hp->n_rot = hp->head_dim_k;
    if ((rc = hp_u32(L, "rope.dimension_count", false, &hp->n_rot))) return rc;
    if (hp->head_dim_k <= 0 || hp->head_dim_k > 1024 || hp->head_dim_k != hp->head_dim_v || hp->n_rot <= 0 ||
        hp->n_rot > hp->head_dim_k || hp->n_rot % 2)
        return nib_error_set(L->err, NIB_E_UNSUPPORTED, "model: head dims k %d / v %d with %d rotary dims are not supported",
                             hp->head_dim_k, hp->head_dim_v, hp->n_rot);
    if (hp->rms_eps <= 0 || hp->rope_freq_base <= 0)
        return nib_error_set(L->err, NIB_E_FORMAT, "model: rms epsilon %g / rope base %g must be positive", hp->rms_eps,
                             hp->rope_freq_base);
    hp->attn_scale = 1.0f / sqrtf((float)hp->head_dim_k);
    hp->rope_kind = L->m->arch->rope;
    if ((rc = load_expert_hparams(L))) return rc;
    return load_rope_scaling(L);
}

static const struct nib_gguf_tensor *find(struct loader *L, const char *name) {
    int64_t i = nib_gguf_find_tensor(L->m->gguf, name);
    return i < 0 ? NULL : nib_gguf_get_tensor(L->m->gguf, i);
}

static int shape_error(struct loader *L, const struct nib_gguf_tensor *t, int64_t ne0, int64_t ne1) {
    return nib_error_set(L->err, NIB_E_FORMAT, "model: tensor '%s' has shape [%" PRId64 ", %" PRId64 ", %" PRId64 ", %" PRId64
                         "], expected [%" PRId64 ", %" PRId64 "]", t->name, t->ne[0], t->ne[1], t->ne[2], t->ne[3], ne0, ne1);
}

static int check_computable(struct loader *L, const struct nib_gguf_tensor *t) {
    const struct nib_type_traits *tt = nib_type_traits(t->type);
    const struct nib_type_traits *pt = nib_type_traits(tt->vec_dot_type);
    if (!tt->to_float || !tt->vec_dot || !pt->from_float)
        return nib_error_set(L->err, NIB_E_UNSUPPORTED, "model: tensor '%s' has type %s, which nib cannot compute with yet", t->name,
                             tt->name);
    return NIB_OK;
}

/* Binds a matrix used by matmul (vec_dot) or row lookup (to_float). */
static int bind_matrix(struct loader *L, const char *name, int64_t ne0, int64_t ne1, bool required, struct nib_weight *w) {
    const struct nib_gguf_tensor *t = find(L, name);
    memset(w, 0, sizeof(*w));
    if (!t) return required ? nib_error_set(L->err, NIB_E_FORMAT, "model: tensor '%s' is missing", name) : NIB_OK;
    if (t->ne[0] != ne0 || t->ne[1] != ne1 || t->ne[2] != 1 || t->ne[3] != 1) return shape_error(L, t, ne0, ne1);
    int rc = check_computable(L, t);
    if (rc) return rc;
    *w = (struct nib_weight){ .type = t->type, .ne0 = ne0, .ne1 = ne1, .row_bytes = nib_type_row_bytes(t->type, ne0), .data = t->data };
    if (strcmp(name, "token_embd.weight") != 0) L->m->decode_bytes += t->n_bytes; /* embeddings: one row per token */
    L->m->n_params += (uint64_t)t->n_elements;
    L->m->n_params_active += (uint64_t)t->n_elements;
    L->m->weight_bytes += t->n_bytes;
    return NIB_OK;
}

/* Binds a stacked expert tensor [ne0, ne1, n_expert] as n_expert matrices. */
static int bind_experts(struct loader *L, const char *name, int64_t ne0, int64_t ne1, struct nib_weight **out) {
    const struct nib_hparams *hp = &L->m->hp;
    const struct nib_gguf_tensor *t = find(L, name);
    if (!t) return nib_error_set(L->err, NIB_E_FORMAT, "model: tensor '%s' is missing", name);
    if (t->ne[0] != ne0 || t->ne[1] != ne1 || t->ne[2] != hp->n_expert || t->ne[3] != 1)
        return nib_error_set(L->err, NIB_E_FORMAT, "model: tensor '%s' has shape [%" PRId64 ", %" PRId64 ", %" PRId64 ", %" PRId64
                             "], expected [%" PRId64 ", %" PRId64 ", %d] (%d experts)", t->name, t->ne[0], t->ne[1], t->ne[2],
                             t->ne[3], ne0, ne1, hp->n_expert, hp->n_expert);
    int rc = check_computable(L, t);
    if (rc) return rc;
    struct nib_weight *w = nib_arena_alloc(&L->arena, sizeof(*w) * (size_t)hp->n_expert);
    if (!w) return nib_error_set(L->err, NIB_E_NOMEM, "out of memory");
    const size_t row_bytes = nib_type_row_bytes(t->type, ne0);
    for (int e = 0; e < hp->n_expert; e++)
        w[e] = (struct nib_weight){ .type = t->type, .ne0 = ne0, .ne1 = ne1, .row_bytes = row_bytes,
                                    .data = (const char *)t->data + (size_t)e * (size_t)ne1 * row_bytes };
    L->m->decode_bytes += t->n_bytes / (uint64_t)hp->n_expert * (uint64_t)hp->n_expert_used; /* a token reads its experts */
    L->m->n_params += (uint64_t)t->n_elements;
    L->m->n_params_active += (uint64_t)t->n_elements / (uint64_t)hp->n_expert * (uint64_t)hp->n_expert_used;
    L->m->weight_bytes += t->n_bytes;
    *out = w;
    return NIB_OK;
}

/* Binds a vector (norm weight, bias, rope factors), dequantized to floats. */
static int bind_vector(struct loader *L, const char *name, int64_t n, bool required, const float **out) {
    const struct nib_gguf_tensor *t = find(L, name);
    *out = NULL;
    if (!t) return required ? nib_error_set(L->err, NIB_E_FORMAT, "model: tensor '%s' is missing", name) : NIB_OK;
    if (t->n_elements != n || t->ne[0] != n) return shape_error(L, t, n, 1);
    float *f = nib_arena_alloc(&L->arena, sizeof(float) * (size_t)n);
    if (!f) return nib_error_set(L->err, NIB_E_NOMEM, "out of memory");
    int rc = nib_dequantize(t->type, t->data, f, n, L->err);
    if (rc) return rc;
    L->m->n_params += (uint64_t)n;
    L->m->n_params_active += (uint64_t)n;
    L->m->weight_bytes += t->n_bytes;
    *out = f;
    return NIB_OK;
}

static const char *tname(char *buf, size_t cap, int layer, const char *what) {
    snprintf(buf, cap, "blk.%d.%s", layer, what);
    return buf;
}

static int bind_layer(struct loader *L, int i, struct nib_layer *ly) {
    const struct nib_hparams *hp = &L->m->hp;
    const struct nib_arch *a = L->m->arch;
    int64_t e = hp->n_embd, q = (int64_t)hp->n_head * hp->head_dim_k, kv = (int64_t)hp->n_head_kv * hp->head_dim_k;
    char b[96];
    int rc;
    if (find(L, tname(b, sizeof b, i, "attn_qkv.weight")))
        return nib_error_set(L->err, NIB_E_UNSUPPORTED, "model: fused QKV tensor '%s' is not supported", b);
    if ((rc = bind_vector(L, tname(b, sizeof b, i, "attn_norm.weight"), e, true, &ly->attn_norm)) ||
        (rc = bind_matrix(L, tname(b, sizeof b, i, "attn_q.weight"), e, q, true, &ly->wq)) ||
        (rc = bind_matrix(L, tname(b, sizeof b, i, "attn_k.weight"), e, kv, true, &ly->wk)) ||
        (rc = bind_matrix(L, tname(b, sizeof b, i, "attn_v.weight"), e, kv, true, &ly->wv)) ||
        (rc = bind_matrix(L, tname(b, sizeof b, i, "attn_output.weight"), q, e, true, &ly->wo)) ||
        (rc = bind_vector(L, tname(b, sizeof b, i, "ffn_norm.weight"), e, true, &ly->ffn_norm)))
        return rc;
    if (hp->n_expert) {
        const int64_t f = hp->n_ff_exp;
        if (find(L, tname(b, sizeof b, i, "ffn_gate.0.weight")))
            return nib_error_set(L->err, NIB_E_UNSUPPORTED, "model: per-expert tensors ('%s') are an old Mixtral layout; "
                                 "convert the file again to stacked ffn_*_exps tensors", b);
        if ((rc = bind_matrix(L, tname(b, sizeof b, i, "ffn_gate_inp.weight"), e, hp->n_expert, true, &ly->ffn_gate_inp)) ||
            (rc = bind_experts(L, tname(b, sizeof b, i, "ffn_gate_exps.weight"), e, f, &ly->gate_exps)) ||
            (rc = bind_experts(L, tname(b, sizeof b, i, "ffn_up_exps.weight"), e, f, &ly->up_exps)) ||
            (rc = bind_experts(L, tname(b, sizeof b, i, "ffn_down_exps.weight"), f, e, &ly->down_exps)))
            return rc;
    } else if ((rc = bind_matrix(L, tname(b, sizeof b, i, "ffn_gate.weight"), e, hp->n_ff, true, &ly->ffn_gate)) ||
               (rc = bind_matrix(L, tname(b, sizeof b, i, "ffn_up.weight"), e, hp->n_ff, true, &ly->ffn_up)) ||
               (rc = bind_matrix(L, tname(b, sizeof b, i, "ffn_down.weight"), hp->n_ff, e, true, &ly->ffn_down))) {
        return rc;
    }
    if (a->qkv_bias && ((rc = bind_vector(L, tname(b, sizeof b, i, "attn_q.bias"), q, a->qkv_bias == NIB_REQUIRED, &ly->bq)) ||
                        (rc = bind_vector(L, tname(b, sizeof b, i, "attn_k.bias"), kv, a->qkv_bias == NIB_REQUIRED, &ly->bk)) ||
                        (rc = bind_vector(L, tname(b, sizeof b, i, "attn_v.bias"), kv, a->qkv_bias == NIB_REQUIRED, &ly->bv))))
        return rc;
    if (a->qk_norm &&
        ((rc = bind_vector(L, tname(b, sizeof b, i, "attn_q_norm.weight"), hp->head_dim_k, a->qk_norm == NIB_REQUIRED, &ly->q_norm)) ||
         (rc = bind_vector(L, tname(b, sizeof b, i, "attn_k_norm.weight"), hp->head_dim_k, a->qk_norm == NIB_REQUIRED, &ly->k_norm))))
        return rc;
    if (a->out_bias && (rc = bind_vector(L, tname(b, sizeof b, i, "attn_output.bias"), e, false, &ly->bo))) return rc;
    if (a->ffn_bias && !hp->n_expert && ((rc = bind_vector(L, tname(b, sizeof b, i, "ffn_gate.bias"), hp->n_ff, false, &ly->b_gate)) ||
                        (rc = bind_vector(L, tname(b, sizeof b, i, "ffn_up.bias"), hp->n_ff, false, &ly->b_up)) ||
                        (rc = bind_vector(L, tname(b, sizeof b, i, "ffn_down.bias"), e, false, &ly->b_down))))
        return rc;
    return NIB_OK;
}

static int bind_tensors(struct loader *L) {
    struct nib_model *m = L->m;
    struct nib_hparams *hp = &m->hp;
    int rc;
    const struct nib_gguf_tensor *emb = find(L, "token_embd.weight");
    if (!emb) return nib_error_set(L->err, NIB_E_FORMAT, "model: tensor 'token_embd.weight' is missing");
    hp->n_vocab = nib_vocab_n_tokens(m->vocab);
    if ((rc = bind_matrix(L, "token_embd.weight", hp->n_embd, hp->n_vocab, true, &m->tok_embd)) ||
        (rc = bind_vector(L, "output_norm.weight", hp->n_embd, true, &m->output_norm)) ||
        (rc = bind_matrix(L, "output.weight", hp->n_embd, hp->n_vocab, false, &m->output)))
        return rc;
    if (!m->output.data) { /* tied embeddings: the output matmul reads them all */
        m->output = m->tok_embd;
        m->output.is_embedding = true;
        m->decode_bytes += (uint64_t)m->tok_embd.row_bytes * (uint64_t)m->tok_embd.ne1;
    }
    if (m->arch->rope_freqs && (rc = bind_vector(L, "rope_freqs.weight", hp->n_rot / 2, false, &m->rope_freqs))) return rc;
    m->layers = nib_arena_alloc(&L->arena, sizeof(*m->layers) * (size_t)hp->n_layer);
    if (!m->layers) return nib_error_set(L->err, NIB_E_NOMEM, "out of memory");
    for (int i = 0; i < hp->n_layer; i++)
        if ((rc = bind_layer(L, i, &m->layers[i]))) return rc;
    return NIB_OK;
}

static int load(struct loader *L, const char *path, bool copy_all) {
    struct nib_model *m = L->m;
    int rc = nib_gguf_open(path, NULL, &m->gguf, L->err);
    if (rc) return rc;
    const char *arch = NULL;
    if (nib_gguf_get_str(m->gguf, "general.architecture", &arch, L->err))
        return nib_error_set(L->err, NIB_E_FORMAT, "model: 'general.architecture' is missing or not a string");
    m->arch = nib_arch_find(arch);
    if (!m->arch)
        return nib_error_set(L->err, NIB_E_UNSUPPORTED, "model: architecture '%s' is not supported (nib supports %s)", arch,
                             nib_arch_list());
    if ((rc = load_hparams(L)) || (rc = nib_vocab_load(m->gguf, &m->vocab, L->err)) || (rc = bind_tensors(L))) return rc;
    nib_model_pack(m, copy_all);
    return NIB_OK;
}

int nib_model_load(const char *path, const struct nib_model_params *params, struct nib_model **out, struct nib_error *err) {
    if (!path || !out) return nib_error_set(err, NIB_E_ARG, "nib_model_load: NULL argument");
    *out = NULL;
    struct nib_model *m = calloc(1, sizeof(*m));
    if (!m) return nib_error_set(err, NIB_E_NOMEM, "out of memory");
    struct loader L = { .m = m, .err = err };
    int rc = load(&L, path, params && params->no_mmap);
    m->owned_arena = L.arena;
    if (rc) {
        if (m->gguf && err && strncmp(err->msg, path, strlen(path)) != 0) nib_error_prefix(err, "%s: ", path);
        nib_model_free(m);
        return rc;
    }
    *out = m;
    return NIB_OK;
}

void nib_model_free(struct nib_model *m) {
    if (!m) return;
    nib_vocab_free(m->vocab);
    nib_gguf_free(m->gguf);
    nib_arena_free(&m->owned_arena);
    free(m->packed);
    free(m);
}

struct nib_model_params nib_model_default_params(void) {
    struct nib_model_params p = { 0 };
    return p;
}

const struct nib_vocab *nib_model_vocab(const struct nib_model *m) { return m->vocab; }
const struct nib_gguf *nib_model_gguf(const struct nib_model *m) { return m->gguf; }
const char *nib_model_arch(const struct nib_model *m) { return m->arch->name; }
int32_t nib_model_n_vocab(const struct nib_model *m) { return m->hp.n_vocab; }
int32_t nib_model_n_ctx_train(const struct nib_model *m) { return m->hp.n_ctx_train; }
int32_t nib_model_n_embd(const struct nib_model *m) { return m->hp.n_embd; }
int32_t nib_model_n_layer(const struct nib_model *m) { return m->hp.n_layer; }
uint64_t nib_model_n_params(const struct nib_model *m) { return m->n_params; }
uint64_t nib_model_weight_bytes(const struct nib_model *m) { return m->weight_bytes; }
uint64_t nib_model_decode_bytes(const struct nib_model *m) { return m->decode_bytes; }
int32_t nib_model_n_expert(const struct nib_model *m) { return m->hp.n_expert; }
int32_t nib_model_n_expert_used(const struct nib_model *m) { return m->hp.n_expert_used; }
uint64_t nib_model_n_params_active(const struct nib_model *m) { return m->n_params_active; }
