/*
 * synth_tensors.c — the tensor list of a synth model, in the order
 * convert_hf_to_gguf.py writes it, and the type of each tensor.
 *
 * Types follow llama.cpp's src/llama-quant.cpp:
 *  - vectors (norms, biases) and the MoE router ffn_gate_inp stay F32;
 *  - plain types (F16, Q4_0, Q4_K, ...): every matrix in that type, as
 *    `llama-quantize --pure` (tensor_type_fallback still applies);
 *  - Q3_K_M / Q4_K_M / Q5_K_M: llama_tensor_get_type_impl's choices for
 *    that ftype (output and tied token_embd -> Q6_K; attn_v and ffn_down get
 *    more bits in the layers use_more_bits picks; 8-expert models get Q8_0
 *    attn_k/attn_v and Q5_K attn_output; the 70B attn_v bump);
 *  - a row length that is not a multiple of the chosen type's block falls
 *    back as tensor_type_fallback does: Q2_K, Q3_K -> Q4_0; Q4_K -> Q5_0;
 *    Q5_K -> Q5_1; Q6_K -> Q8_0; and F16 when even that does not fit.
 */
#include "synth_model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum category {
    CAT_OTHER, CAT_TOKEN_EMBD, CAT_OUTPUT, CAT_ATTN_Q, CAT_ATTN_K, CAT_ATTN_V, CAT_ATTN_OUT,
    CAT_FFN_GATE, CAT_FFN_UP, CAT_FFN_DOWN, CAT_F32, /* CAT_F32: never quantized */
};

struct builder {
    const struct synth_shape *s;
    const struct synth_type  *t;
    struct synth_tensor      *list;
    int64_t                   n, cap;
};

static bool fits(enum nib_type type, int64_t ne0) { return ne0 % nib_type_block_size(type) == 0; }

static enum nib_type fallback(enum nib_type type, int64_t ne0) {
    if (fits(type, ne0)) return type;
    switch (type) {
    case NIB_TYPE_Q2_K: case NIB_TYPE_Q3_K: type = NIB_TYPE_Q4_0; break;
    case NIB_TYPE_Q4_K: type = NIB_TYPE_Q5_0; break;
    case NIB_TYPE_Q5_K: type = NIB_TYPE_Q5_1; break;
    case NIB_TYPE_Q6_K: type = NIB_TYPE_Q8_0; break;
    default: break;
    }
    return fits(type, ne0) ? type : NIB_TYPE_F16;
}

/* llama-quant.cpp: layers that get more bits in the _M mixes. */
static bool use_more_bits(int64_t i, int64_t n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

/* llama.cpp calls these LLM_TYPE_70B (llama: 80 layers with GQA; qwen2: 80 layers). */
static bool is_70b(const struct synth_shape *s) {
    if (s->n_layer != 80 || s->n_expert == 8) return false;
    return !strcmp(s->arch, "qwen2") || (!strcmp(s->arch, "llama") && s->n_head != s->n_head_kv);
}

static enum nib_type mix_attn_v(const struct synth_shape *s, enum synth_mix mix, int64_t layer, enum nib_type type) {
    if (mix == SYNTH_MIX_Q3_K_M) type = layer < 2 ? NIB_TYPE_Q5_K : NIB_TYPE_Q4_K;
    else if (use_more_bits(layer, s->n_layer)) type = NIB_TYPE_Q6_K;
    if (is_70b(s) && (type == NIB_TYPE_Q3_K || type == NIB_TYPE_Q4_K)) type = NIB_TYPE_Q5_K;
    return s->n_expert == 8 ? NIB_TYPE_Q8_0 : type;
}

static enum nib_type mix_type(const struct synth_shape *s, enum synth_mix mix, enum category cat, int64_t layer,
                              int64_t ne0, enum nib_type type) {
    bool moe8 = s->n_expert == 8;
    switch (cat) {
    case CAT_OUTPUT:
        if (!fits(type, ne0)) return NIB_TYPE_Q8_0;
        return type != NIB_TYPE_Q8_0 ? NIB_TYPE_Q6_K : type;
    case CAT_ATTN_V: return mix_attn_v(s, mix, layer, type);
    case CAT_ATTN_K: return moe8 ? NIB_TYPE_Q8_0 : type;
    case CAT_FFN_DOWN:
        if (mix == SYNTH_MIX_Q3_K_M) return layer < s->n_layer / 16 ? NIB_TYPE_Q5_K : NIB_TYPE_Q4_K;
        return use_more_bits(layer, s->n_layer) ? NIB_TYPE_Q6_K : type;
    case CAT_ATTN_OUT:
        if (moe8) return mix == SYNTH_MIX_Q5_K_M ? type : NIB_TYPE_Q5_K;
        return mix == SYNTH_MIX_Q3_K_M ? NIB_TYPE_Q4_K : type;
    default: return type;
    }
}

static enum nib_type choose_type(const struct builder *b, enum category cat, int64_t layer, int64_t ne0) {
    if (cat == CAT_F32) return NIB_TYPE_F32;
    enum nib_type type = b->t->base;
    if (nib_type_block_size(type) == 1) return type; /* F32 / F16 / BF16 fit any row */
    if (cat == CAT_TOKEN_EMBD && b->s->tied) cat = CAT_OUTPUT; /* quantized as the output it also is */
    if (b->t->mix != SYNTH_MIX_NONE) type = mix_type(b->s, b->t->mix, cat, layer, ne0, type);
    return fallback(type, ne0);
}

static int add(struct builder *b, const char *name, enum synth_kind kind, enum category cat, int64_t layer, uint32_t n_dims,
               int64_t ne0, int64_t ne1, int64_t ne2) {
    if (b->n == b->cap) {
        int64_t cap = b->cap ? b->cap * 2 : 64;
        struct synth_tensor *p = realloc(b->list, sizeof(*p) * (size_t)cap);
        if (!p) return NIB_E_NOMEM;
        b->list = p;
        b->cap = cap;
    }
    struct synth_tensor *t = &b->list[b->n++];
    memset(t, 0, sizeof(*t));
    if (layer >= 0) snprintf(t->name, sizeof t->name, "blk.%d.%s", (int)layer, name);
    else snprintf(t->name, sizeof t->name, "%s", name);
    t->kind = kind;
    t->n_dims = n_dims;
    t->ne[0] = ne0;
    t->ne[1] = ne1;
    t->ne[2] = ne2;
    t->type = kind == SYNTH_MATRIX ? choose_type(b, cat, layer, ne0) : NIB_TYPE_F32;
    return NIB_OK;
}

static int add_attention(struct builder *b, int64_t i) {
    const struct synth_shape *s = b->s;
    int64_t e = s->n_embd, q = s->n_head * s->head_dim, kv = s->n_head_kv * s->head_dim;
    bool bias = !strcmp(s->arch, "qwen2"), qk_norm = !strncmp(s->arch, "qwen3", 5);
    int rc;
    if ((rc = add(b, "attn_norm.weight", SYNTH_NORM, CAT_F32, i, 1, e, 1, 1)) ||
        (rc = add(b, "attn_q.weight", SYNTH_MATRIX, CAT_ATTN_Q, i, 2, e, q, 1)) ||
        (bias && (rc = add(b, "attn_q.bias", SYNTH_BIAS, CAT_F32, i, 1, q, 1, 1))) ||
        (rc = add(b, "attn_k.weight", SYNTH_MATRIX, CAT_ATTN_K, i, 2, e, kv, 1)) ||
        (bias && (rc = add(b, "attn_k.bias", SYNTH_BIAS, CAT_F32, i, 1, kv, 1, 1))) ||
        (rc = add(b, "attn_v.weight", SYNTH_MATRIX, CAT_ATTN_V, i, 2, e, kv, 1)) ||
        (bias && (rc = add(b, "attn_v.bias", SYNTH_BIAS, CAT_F32, i, 1, kv, 1, 1))) ||
        (rc = add(b, "attn_output.weight", SYNTH_MATRIX, CAT_ATTN_OUT, i, 2, q, e, 1)) ||
        (qk_norm && (rc = add(b, "attn_q_norm.weight", SYNTH_NORM, CAT_F32, i, 1, s->head_dim, 1, 1))) ||
        (qk_norm && (rc = add(b, "attn_k_norm.weight", SYNTH_NORM, CAT_F32, i, 1, s->head_dim, 1, 1))))
        return rc;
    return NIB_OK;
}

static int add_ffn(struct builder *b, int64_t i) {
    const struct synth_shape *s = b->s;
    int64_t e = s->n_embd, x = s->n_expert;
    int rc;
    if ((rc = add(b, "ffn_norm.weight", SYNTH_NORM, CAT_F32, i, 1, e, 1, 1))) return rc;
    if (x == 0) {
        if ((rc = add(b, "ffn_gate.weight", SYNTH_MATRIX, CAT_FFN_GATE, i, 2, e, s->n_ff, 1)) ||
            (rc = add(b, "ffn_up.weight", SYNTH_MATRIX, CAT_FFN_UP, i, 2, e, s->n_ff, 1)) ||
            (rc = add(b, "ffn_down.weight", SYNTH_MATRIX, CAT_FFN_DOWN, i, 2, s->n_ff, e, 1)))
            return rc;
        return NIB_OK;
    }
    int64_t ff = s->n_ff_exp ? s->n_ff_exp : s->n_ff;
    if ((rc = add(b, "ffn_gate_inp.weight", SYNTH_MATRIX, CAT_F32, i, 2, e, x, 1)) ||
        (rc = add(b, "ffn_gate_exps.weight", SYNTH_MATRIX, CAT_FFN_GATE, i, 3, e, ff, x)) ||
        (rc = add(b, "ffn_up_exps.weight", SYNTH_MATRIX, CAT_FFN_UP, i, 3, e, ff, x)) ||
        (rc = add(b, "ffn_down_exps.weight", SYNTH_MATRIX, CAT_FFN_DOWN, i, 3, ff, e, x)))
        return rc;
    return NIB_OK;
}

int synth_tensors_build(const struct synth_shape *s, const struct synth_type *t, struct synth_tensor **out,
                        int64_t *n_out, struct nib_error *err) {
    struct builder b = { .s = s, .t = t };
    int rc = add(&b, "token_embd.weight", SYNTH_MATRIX, CAT_TOKEN_EMBD, -1, 2, s->n_embd, s->n_vocab, 1);
    for (int64_t i = 0; !rc && i < s->n_layer; i++)
        if (!(rc = add_attention(&b, i))) rc = add_ffn(&b, i);
    if (!rc) rc = add(&b, "output_norm.weight", SYNTH_NORM, CAT_F32, -1, 1, s->n_embd, 1, 1);
    if (!rc && !s->tied) rc = add(&b, "output.weight", SYNTH_MATRIX, CAT_OUTPUT, -1, 2, s->n_embd, s->n_vocab, 1);
    if (rc) {
        free(b.list);
        return synth_error(err, rc, "out of memory");
    }
    *out = b.list;
    *n_out = b.n;
    return NIB_OK;
}
