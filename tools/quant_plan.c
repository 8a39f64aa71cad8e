/*
 * quant_plan.c — llama-quantize's per-tensor type choice (see quant_plan.h).
 * Only the file types nib writes are covered: the IQ, TQ and MXFP4 branches
 * of llama_tensor_get_type_impl have no counterpart here.
 */
#include "quant_plan.h"
#include "cli.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------ file types */

enum {
    FT_ALL_F32 = 0, FT_F16 = 1, FT_Q4_0 = 2, FT_Q4_1 = 3, FT_Q8_0 = 7, FT_Q5_0 = 8, FT_Q5_1 = 9, FT_Q2_K = 10,
    FT_Q3_K_S = 11, FT_Q3_K_M = 12, FT_Q3_K_L = 13, FT_Q4_K_S = 14, FT_Q4_K_M = 15, FT_Q5_K_S = 16, FT_Q5_K_M = 17,
    FT_Q6_K = 18, FT_Q2_K_S = 21, FT_BF16 = 32,
};

static const struct quant_ftype ftypes[] = {
    { "F32", FT_ALL_F32, NIB_TYPE_F32 },    { "F16", FT_F16, NIB_TYPE_F16 },       { "BF16", FT_BF16, NIB_TYPE_BF16 },
    { "Q8_0", FT_Q8_0, NIB_TYPE_Q8_0 },     { "Q4_0", FT_Q4_0, NIB_TYPE_Q4_0 },    { "Q4_1", FT_Q4_1, NIB_TYPE_Q4_1 },
    { "Q5_0", FT_Q5_0, NIB_TYPE_Q5_0 },     { "Q5_1", FT_Q5_1, NIB_TYPE_Q5_1 },    { "Q2_K", FT_Q2_K, NIB_TYPE_Q2_K },
    { "Q3_K_S", FT_Q3_K_S, NIB_TYPE_Q3_K }, { "Q3_K_M", FT_Q3_K_M, NIB_TYPE_Q3_K }, { "Q3_K_L", FT_Q3_K_L, NIB_TYPE_Q3_K },
    { "Q4_K_S", FT_Q4_K_S, NIB_TYPE_Q4_K }, { "Q4_K_M", FT_Q4_K_M, NIB_TYPE_Q4_K }, { "Q5_K_S", FT_Q5_K_S, NIB_TYPE_Q5_K },
    { "Q5_K_M", FT_Q5_K_M, NIB_TYPE_Q5_K }, { "Q6_K", FT_Q6_K, NIB_TYPE_Q6_K },   { "Q2_K_S", FT_Q2_K_S, NIB_TYPE_Q2_K },
    /* llama-quantize's aliases */
    { "Q3_K", FT_Q3_K_M, NIB_TYPE_Q3_K },   { "Q4_K", FT_Q4_K_M, NIB_TYPE_Q4_K },  { "Q5_K", FT_Q5_K_M, NIB_TYPE_Q5_K },
};

const struct quant_ftype *quant_ftype_find(const char *name) {
    for (size_t i = 0; name && i < sizeof ftypes / sizeof ftypes[0]; i++)
        if (!strcasecmp(name, ftypes[i].name)) return &ftypes[i];
    return NULL;
}

const char *quant_ftype_names(void) {
    return "F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q2_K_S (needs --imatrix), Q3_K_S, Q3_K_M, Q3_K_L, "
           "Q4_K_S, Q4_K_M, Q5_K_S, Q5_K_M, Q6_K (Q3_K, Q4_K, Q5_K: the _M mixes)";
}

static bool is_float_type(enum nib_type t) { return t == NIB_TYPE_F32 || t == NIB_TYPE_F16 || t == NIB_TYPE_BF16; }

/* ------------------------------------------------------------ the model */

static int get_count(const struct nib_gguf *g, const char *arch, const char *suffix, bool required, int64_t *out,
                     struct nib_error *err) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    const struct nib_gguf_value *v = nib_gguf_get(g, key);
    *out = 0;
    if (!v) return required ? cli_set_error(err, NIB_E_NOT_FOUND, "metadata key '%s' is missing", key) : NIB_OK;
    if (v->type == NIB_GGUF_ARRAY) { /* per-layer head counts: layer 0's, as llama.cpp's n_head() */
        if (v->v.arr.n == 0 || nib_gguf_array_get_i64(v, 0, out))
            return cli_set_error(err, NIB_E_TYPE, "metadata key '%s' is not an array of integers", key);
    } else if (nib_gguf_get_i64(g, key, out, err)) {
        return err ? err->status : NIB_E_TYPE;
    }
    if (*out < 0) return cli_set_error(err, NIB_E_FORMAT, "metadata key '%s' is negative", key);
    return NIB_OK;
}

int quant_model_from_gguf(const struct nib_gguf *g, struct quant_model *m, struct nib_error *err) {
    memset(m, 0, sizeof *m);
    const char *arch = NULL;
    if (nib_gguf_get_str(g, "general.architecture", &arch, err)) return err ? err->status : NIB_E_NOT_FOUND;
    if (strlen(arch) >= sizeof m->arch)
        return cli_set_error(err, NIB_E_FORMAT, "general.architecture '%.40s...' is too long", arch);
    strcpy(m->arch, arch);
    int rc;
    if ((rc = get_count(g, arch, "block_count", true, &m->n_layer, err)) ||
        (rc = get_count(g, arch, "attention.head_count", false, &m->n_head, err)) ||
        (rc = get_count(g, arch, "attention.head_count_kv", false, &m->n_head_kv, err)) ||
        (rc = get_count(g, arch, "expert_count", false, &m->n_expert, err)))
        return rc;
    char key[96];
    snprintf(key, sizeof key, "%s.attention.head_count_kv", arch);
    if (!nib_gguf_get(g, key)) m->n_head_kv = m->n_head; /* llama.cpp's default: no GQA */
    return NIB_OK;
}

/* ---------------------------------------------------------------- order */

static int layer_of(const char *name) {
    int layer = -1;
    if (sscanf(name, "blk.%d.", &layer) != 1) layer = -1;
    return layer;
}

static int tensor_order(const void *pa, const void *pb) {
    const struct quant_tensor *a = pa, *b = pb;
    int la = layer_of(a->name), lb = layer_of(b->name);
    if (la != lb) return la < lb ? -1 : 1;
    return strcmp(a->name, b->name);
}

void quant_sort(struct quant_tensor *ts, int64_t n) {
    /* names are unique in a GGUF file, so the order is total and qsort's
     * instability does not matter */
    if (n > 1) qsort(ts, (size_t)n, sizeof *ts, tensor_order);
}

/* ------------------------------------------------------------- the rules */

enum category {
    CAT_OTHER, CAT_OUTPUT, CAT_TOKEN_EMBD, CAT_ATTN_QKV, CAT_ATTN_KV_B, CAT_ATTN_V, CAT_ATTN_K, CAT_ATTN_Q,
    CAT_ATTN_OUTPUT, CAT_FFN_UP, CAT_FFN_GATE, CAT_FFN_DOWN,
};

static enum category category_of(const char *name) {
    static const struct { const char *part; enum category cat; } parts[] = {
        { "attn_qkv.weight", CAT_ATTN_QKV }, { "attn_kv_b.weight", CAT_ATTN_KV_B }, { "attn_v.weight", CAT_ATTN_V },
        { "attn_k.weight", CAT_ATTN_K },     { "attn_q.weight", CAT_ATTN_Q },       { "attn_output.weight", CAT_ATTN_OUTPUT },
        { "ffn_up", CAT_FFN_UP },            { "ffn_gate", CAT_FFN_GATE },          { "ffn_down", CAT_FFN_DOWN },
    };
    if (!strcmp(name, "output.weight")) return CAT_OUTPUT;
    if (!strcmp(name, "token_embd.weight") || !strcmp(name, "per_layer_token_embd.weight")) return CAT_TOKEN_EMBD;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        if (strstr(name, parts[i].part)) return parts[i].cat;
    return CAT_OTHER;
}

static bool is_attn_v(enum category c) { return c == CAT_ATTN_V || c == CAT_ATTN_QKV || c == CAT_ATTN_KV_B; }

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

/* ggml_n_dims: dimensions up to the last that is not 1. */
static uint32_t n_dims_of(const struct quant_tensor *t) {
    for (uint32_t d = 4; d > 1; d--)
        if (t->ne[d - 1] != 1) return d;
    return 1;
}

/* tensor_allows_quantization, for the tensors of the architectures nib knows
 * (the multimodal, RWKV, Mamba, T5 ... exclusions name tensors those never have). */
static bool allows_conversion(const struct quant_tensor *t, const struct quant_options *o) {
    static const char *const never[] = { "_norm.weight", "ffn_gate_inp.weight", "ffn_gate_tid2eid.weight", "altup",
                                         "laurel", "per_layer_model_proj", "ssm_conv1d", "shortconv.conv.weight",
                                         "attn_rel_b.weight", ".position_embd", ".rel_pos", ".patch_embd" };
    if (n_dims_of(t) < 2 || !ends_with(t->name, "weight")) return false;
    if (o->leave_output && !strcmp(t->name, "output.weight")) return false;
    if (!strcmp(t->name, "position_embd.weight") || !strcmp(t->name, "token_types.weight")) return false;
    for (size_t i = 0; i < sizeof never / sizeof never[0]; i++)
        if (strstr(t->name, never[i])) return false;
    return true;
}

/* tensor_type_fallback */
static enum nib_type fallback(struct quant_tensor *t, enum nib_type type) {
    int64_t ncols = t->ne[0];
    if (ncols % nib_type_block_size(type) == 0) return type;
    t->fell_back = true;
    switch (type) {
    case NIB_TYPE_Q2_K: case NIB_TYPE_Q3_K: type = NIB_TYPE_Q4_0; break;
    case NIB_TYPE_Q4_K: type = NIB_TYPE_Q5_0; break;
    case NIB_TYPE_Q5_K: type = NIB_TYPE_Q5_1; break;
    case NIB_TYPE_Q6_K: type = NIB_TYPE_Q8_0; break;
    default: break; /* a 32-block type has nothing smaller to go to */
    }
    return ncols % nib_type_block_size(type) == 0 ? type : NIB_TYPE_F16;
}

struct counters {
    int64_t n_attn_v, i_attn_v, i_ffn_down, i_ffn_gate, i_ffn_up;
    bool    tied; /* no output.weight: token_embd is also the output */
};

/* llama.cpp's LLM_TYPE_70B: llama with 80 layers and GQA (not 8 experts), qwen2 with 80 layers */
static bool is_70b(const struct quant_model *m) {
    if (m->n_layer != 80) return false;
    return !strcmp(m->arch, "qwen2") || (!strcmp(m->arch, "llama") && m->n_expert != 8 && m->n_head != m->n_head_kv);
}

static bool use_more_bits(int64_t i, int64_t n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

/* layer_info: with experts, the layer comes from the name (llama.cpp: the
 * tensors of an MoE model are not in layer order in every file). */
static int layer_info(const struct quant_model *m, const char *name, int64_t counter, int64_t *layer,
                      struct nib_error *err) {
    *layer = counter;
    if (m->n_expert <= 1) return NIB_OK;
    int l = layer_of(name);
    if (l < 0 || l >= m->n_layer)
        return cli_set_error(err, NIB_E_FORMAT, "tensor '%s': cannot tell its layer (0..%" PRId64 ")", name,
                             m->n_layer - 1);
    *layer = l;
    return NIB_OK;
}

/* llama_tensor_get_type_impl for nib's file types */
static int mix_type(const struct quant_model *m, uint32_t ft, const struct quant_options *o, struct counters *c,
                    const struct quant_tensor *t, enum category cat, enum nib_type *type, struct nib_error *err) {
    enum nib_type nt = *type;
    int64_t n_gqa = m->n_head_kv > 0 ? m->n_head / m->n_head_kv : 0, layer = 0, nl = m->n_layer;
    int rc = NIB_OK;
    if (cat == CAT_OUTPUT || (c->tied && cat == CAT_TOKEN_EMBD)) {
        if (o->output_type >= 0) nt = (enum nib_type)o->output_type; /* reaches a tied token_embd */
        else if (t->ne[0] % nib_type_block_size(nt) != 0) nt = NIB_TYPE_Q8_0;
        else if (nt != NIB_TYPE_Q8_0) nt = NIB_TYPE_Q6_K;
    } else if (cat == CAT_TOKEN_EMBD) {
        /* the base type (only the IQ and TQ types change it) */
    } else if (is_attn_v(cat)) {
        if (ft == FT_Q2_K) nt = n_gqa >= 4 ? NIB_TYPE_Q4_K : NIB_TYPE_Q3_K;
        else if (ft == FT_Q2_K_S && n_gqa >= 4) nt = NIB_TYPE_Q4_K;
        else if (ft == FT_Q3_K_M) nt = c->i_attn_v < 2 ? NIB_TYPE_Q5_K : NIB_TYPE_Q4_K;
        else if (ft == FT_Q3_K_L) nt = NIB_TYPE_Q5_K;
        else if ((ft == FT_Q4_K_M || ft == FT_Q5_K_M) && use_more_bits(c->i_attn_v, c->n_attn_v)) nt = NIB_TYPE_Q6_K;
        else if (ft == FT_Q4_K_S && c->i_attn_v < 4) nt = NIB_TYPE_Q5_K;
        if (is_70b(m) && (nt == NIB_TYPE_Q3_K || nt == NIB_TYPE_Q4_K)) nt = NIB_TYPE_Q5_K;
        if (m->n_expert == 8) nt = NIB_TYPE_Q8_0;
        c->i_attn_v++;
    } else if (cat == CAT_ATTN_K) {
        if (m->n_expert == 8) nt = NIB_TYPE_Q8_0;
    } else if (cat == CAT_FFN_DOWN) {
        if ((rc = layer_info(m, t->name, c->i_ffn_down, &layer, err))) return rc;
        if (ft == FT_Q2_K) nt = NIB_TYPE_Q3_K;
        else if (ft == FT_Q2_K_S) { if (layer < nl / 8) nt = NIB_TYPE_Q4_K; }
        else if (ft == FT_Q3_K_M) nt = layer < nl / 16 ? NIB_TYPE_Q5_K : NIB_TYPE_Q4_K;
        else if (ft == FT_Q3_K_L) nt = NIB_TYPE_Q5_K;
        else if (ft == FT_Q4_K_M) { if (use_more_bits(layer, nl)) nt = NIB_TYPE_Q6_K; }
        else if (ft == FT_Q5_K_M && use_more_bits(layer, nl)) nt = NIB_TYPE_Q6_K;
        else if (ft == FT_Q4_K_S && layer < nl / 8) nt = NIB_TYPE_Q5_K;
        else if ((ft == FT_Q4_0 || ft == FT_Q5_0) && o->has_imatrix && layer < nl / 8)
            nt = ft == FT_Q4_0 ? NIB_TYPE_Q4_1 : NIB_TYPE_Q5_1; /* llama.cpp guards the first ffn_down layers */
        c->i_ffn_down++;
    } else if (cat == CAT_ATTN_OUTPUT) {
        if (m->n_expert == 8) {
            if (ft == FT_Q2_K || ft == FT_Q3_K_S || ft == FT_Q3_K_M || ft == FT_Q4_K_S || ft == FT_Q4_K_M)
                nt = NIB_TYPE_Q5_K;
        } else {
            if (ft == FT_Q2_K) nt = NIB_TYPE_Q3_K;
            else if (ft == FT_Q3_K_M) nt = NIB_TYPE_Q4_K;
            else if (ft == FT_Q3_K_L) nt = NIB_TYPE_Q5_K;
        }
    } else if (cat == CAT_ATTN_QKV) {
        if (ft == FT_Q3_K_M || ft == FT_Q3_K_L) nt = NIB_TYPE_Q4_K;
        else if (ft == FT_Q4_K_M) nt = NIB_TYPE_Q5_K;
        else if (ft == FT_Q5_K_M) nt = NIB_TYPE_Q6_K;
    } else if (cat == CAT_FFN_GATE || cat == CAT_FFN_UP) {
        int64_t *counter = cat == CAT_FFN_GATE ? &c->i_ffn_gate : &c->i_ffn_up;
        if ((rc = layer_info(m, t->name, *counter, &layer, err))) return rc;
        (*counter)++; /* the IQ3_XS rule is the only user of the layer here */
    }
    *type = nt;
    return NIB_OK;
}

int quant_plan(const struct quant_model *m, const struct quant_ftype *ft, const struct quant_options *o,
               struct quant_tensor *ts, int64_t n, struct nib_error *err) {
    struct counters c = { .tied = true };
    for (int64_t i = 0; i < n; i++) {
        enum category cat = category_of(ts[i].name);
        if (is_attn_v(cat)) c.n_attn_v++;
        if (cat == CAT_OUTPUT) c.tied = false;
    }
    for (int64_t i = 0; i < n; i++) {
        struct quant_tensor *t = &ts[i];
        enum category cat = category_of(t->name);
        t->new_type = t->type;
        t->fell_back = false;
        if (!allows_conversion(t, o)) continue;
        if (o->token_embd_type >= 0 && cat == CAT_TOKEN_EMBD) {
            t->new_type = (enum nib_type)o->token_embd_type;
            continue;
        }
        if (o->output_type >= 0 && cat == CAT_OUTPUT) {
            t->new_type = (enum nib_type)o->output_type;
            continue;
        }
        enum nib_type nt = ft->base;
        if (!is_float_type(nt)) {
            if (!o->pure) {
                int rc = mix_type(m, ft->ftype, o, &c, t, cat, &nt, err);
                if (rc) return rc;
            }
            nt = fallback(t, nt);
        }
        t->new_type = nt;
    }
    return NIB_OK;
}

bool quant_requires_imatrix(const struct quant_ftype *ft, const struct quant_tensor *t) {
    if (!strcmp(t->name, "token_embd.weight") || !strcmp(t->name, "per_layer_token_embd.weight") ||
        !strcmp(t->name, "output.weight"))
        return false;
    return t->new_type == NIB_TYPE_Q2_K && ft->ftype == FT_Q2_K_S;
}
