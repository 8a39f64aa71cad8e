/*
 * synth_tensors.c — the tensor list of a synth model, in the order
 * convert_hf_to_gguf.py writes it, and the type of each tensor.
 *
 * Types are the ones llama-quantize gives an F32 file of this shape
 * (quant_plan.c): plain types (F16, Q4_0, Q4_K, ...) as `--pure` (every
 * matrix in that type, row-length fallbacks still apply), Q3_K_M / Q4_K_M /
 * Q5_K_M with their mix; vectors and the MoE router stay F32.
 */
#include "synth_model.h"
#include "quant_plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct builder {
    const struct synth_shape *s;
    const struct synth_type  *t;
    struct synth_tensor      *list;
    int64_t                   n, cap;
};

static int add(struct builder *b, const char *name, enum synth_kind kind, int64_t layer, uint32_t n_dims, int64_t ne0,
               int64_t ne1, int64_t ne2) {
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
    t->type = NIB_TYPE_F32; /* until set_types */
    return NIB_OK;
}

static int add_attention(struct builder *b, int64_t i) {
    const struct synth_shape *s = b->s;
    int64_t e = s->n_embd, q = s->n_head * s->head_dim, kv = s->n_head_kv * s->head_dim;
    bool bias = !strcmp(s->arch, "qwen2"), qk_norm = !strncmp(s->arch, "qwen3", 5);
    int rc;
    if ((rc = add(b, "attn_norm.weight", SYNTH_NORM, i, 1, e, 1, 1)) ||
        (rc = add(b, "attn_q.weight", SYNTH_MATRIX, i, 2, e, q, 1)) ||
        (bias && (rc = add(b, "attn_q.bias", SYNTH_BIAS, i, 1, q, 1, 1))) ||
        (rc = add(b, "attn_k.weight", SYNTH_MATRIX, i, 2, e, kv, 1)) ||
        (bias && (rc = add(b, "attn_k.bias", SYNTH_BIAS, i, 1, kv, 1, 1))) ||
        (rc = add(b, "attn_v.weight", SYNTH_MATRIX, i, 2, e, kv, 1)) ||
        (bias && (rc = add(b, "attn_v.bias", SYNTH_BIAS, i, 1, kv, 1, 1))) ||
        (rc = add(b, "attn_output.weight", SYNTH_MATRIX, i, 2, q, e, 1)) ||
        (qk_norm && (rc = add(b, "attn_q_norm.weight", SYNTH_NORM, i, 1, s->head_dim, 1, 1))) ||
        (qk_norm && (rc = add(b, "attn_k_norm.weight", SYNTH_NORM, i, 1, s->head_dim, 1, 1))))
        return rc;
    return NIB_OK;
}

static int add_ffn(struct builder *b, int64_t i) {
    const struct synth_shape *s = b->s;
    int64_t e = s->n_embd, x = s->n_expert;
    int rc;
    if ((rc = add(b, "ffn_norm.weight", SYNTH_NORM, i, 1, e, 1, 1))) return rc;
    if (x == 0) {
        if ((rc = add(b, "ffn_gate.weight", SYNTH_MATRIX, i, 2, e, s->n_ff, 1)) ||
            (rc = add(b, "ffn_up.weight", SYNTH_MATRIX, i, 2, e, s->n_ff, 1)) ||
            (rc = add(b, "ffn_down.weight", SYNTH_MATRIX, i, 2, s->n_ff, e, 1)))
            return rc;
        return NIB_OK;
    }
    int64_t ff = s->n_ff_exp ? s->n_ff_exp : s->n_ff;
    if ((rc = add(b, "ffn_gate_inp.weight", SYNTH_MATRIX, i, 2, e, x, 1)) ||
        (rc = add(b, "ffn_gate_exps.weight", SYNTH_MATRIX, i, 3, e, ff, x)) ||
        (rc = add(b, "ffn_up_exps.weight", SYNTH_MATRIX, i, 3, e, ff, x)) ||
        (rc = add(b, "ffn_down_exps.weight", SYNTH_MATRIX, i, 3, ff, e, x)))
        return rc;
    return NIB_OK;
}

/* The types llama-quantize gives an F32 file of this shape (quant_plan.c):
 * the mix of the type, or --pure for the plain ones. */
static int set_types(struct builder *b, struct nib_error *err) {
    const struct synth_shape *s = b->s;
    struct quant_model m = { .n_layer = s->n_layer, .n_head = s->n_head, .n_head_kv = s->n_head_kv,
                             .n_expert = s->n_expert };
    snprintf(m.arch, sizeof m.arch, "%s", s->arch);
    struct quant_ftype ft = { b->t->name, b->t->ftype, b->t->base };
    struct quant_options o = { .pure = b->t->mix == SYNTH_MIX_NONE, .output_type = -1, .token_embd_type = -1 };
    struct quant_tensor *qt = calloc((size_t)b->n, sizeof *qt);
    if (!qt) return cli_set_error(err, NIB_E_NOMEM, "out of memory");
    for (int64_t i = 0; i < b->n; i++) {
        const struct synth_tensor *t = &b->list[i];
        qt[i] = (struct quant_tensor){ .name = t->name, .n_dims = t->n_dims, .ne = { t->ne[0], t->ne[1], t->ne[2], 1 },
                                       .type = NIB_TYPE_F32 };
    }
    quant_sort(qt, b->n);
    int rc = quant_plan(&m, &ft, &o, qt, b->n, err);
    /* back to the list, which keeps convert_hf_to_gguf.py's order */
    for (int64_t i = 0; !rc && i < b->n; i++)
        for (int64_t j = 0; j < b->n; j++)
            if (qt[j].name == b->list[i].name) b->list[i].type = qt[j].new_type;
    free(qt);
    return rc;
}

int synth_tensors_build(const struct synth_shape *s, const struct synth_type *t, struct synth_tensor **out,
                        int64_t *n_out, struct nib_error *err) {
    struct builder b = { .s = s, .t = t };
    int rc = add(&b, "token_embd.weight", SYNTH_MATRIX, -1, 2, s->n_embd, s->n_vocab, 1);
    for (int64_t i = 0; !rc && i < s->n_layer; i++)
        if (!(rc = add_attention(&b, i))) rc = add_ffn(&b, i);
    if (!rc) rc = add(&b, "output_norm.weight", SYNTH_NORM, -1, 1, s->n_embd, 1, 1);
    if (!rc && !s->tied) rc = add(&b, "output.weight", SYNTH_MATRIX, -1, 2, s->n_embd, s->n_vocab, 1);
    if (rc) cli_set_error(err, rc, "out of memory");
    else rc = set_types(&b, err);
    if (rc) {
        free(b.list);
        return rc;
    }
    *out = b.list;
    *n_out = b.n;
    return NIB_OK;
}
