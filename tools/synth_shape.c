/*
 * synth_shape.c — `nib synth` presets, the --type table and shape checks,
 * and the general.* / <arch>.* metadata written for a shape.
 */
#include "synth_model.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* ----------------------------------------------------------------- types */

/* general.file_type as llama.cpp numbers it (llama.h LLAMA_FTYPE_*). A pure
 * K type is written as the _S variant, the ftype llama-quantize --pure gives. */
static const struct synth_type types[] = {
    { "F32", NIB_TYPE_F32, 0, SYNTH_MIX_NONE },       { "F16", NIB_TYPE_F16, 1, SYNTH_MIX_NONE },
    { "BF16", NIB_TYPE_BF16, 32, SYNTH_MIX_NONE },    { "Q8_0", NIB_TYPE_Q8_0, 7, SYNTH_MIX_NONE },
    { "Q4_0", NIB_TYPE_Q4_0, 2, SYNTH_MIX_NONE },     { "Q4_1", NIB_TYPE_Q4_1, 3, SYNTH_MIX_NONE },
    { "Q5_0", NIB_TYPE_Q5_0, 8, SYNTH_MIX_NONE },     { "Q5_1", NIB_TYPE_Q5_1, 9, SYNTH_MIX_NONE },
    { "Q2_K", NIB_TYPE_Q2_K, 10, SYNTH_MIX_NONE },    { "Q3_K", NIB_TYPE_Q3_K, 11, SYNTH_MIX_NONE },
    { "Q4_K", NIB_TYPE_Q4_K, 14, SYNTH_MIX_NONE },    { "Q5_K", NIB_TYPE_Q5_K, 16, SYNTH_MIX_NONE },
    { "Q6_K", NIB_TYPE_Q6_K, 18, SYNTH_MIX_NONE },    { "Q3_K_M", NIB_TYPE_Q3_K, 12, SYNTH_MIX_Q3_K_M },
    { "Q4_K_M", NIB_TYPE_Q4_K, 15, SYNTH_MIX_Q4_K_M }, { "Q5_K_M", NIB_TYPE_Q5_K, 17, SYNTH_MIX_Q5_K_M },
};

#define N_TYPES (sizeof(types) / sizeof(types[0]))

const struct synth_type *synth_type_find(const char *name) {
    for (size_t i = 0; name && i < N_TYPES; i++)
        if (!strcasecmp(name, types[i].name)) return &types[i];
    return NULL;
}

const char *synth_type_names(void) {
    return "F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q3_K_M, Q4_K_M, Q5_K_M";
}

/* --------------------------------------------------------------- presets */

/* Published shapes: Llama 2 7B, Llama 3 8B and TinyLlama 1.1B from their
 * config.json; the two MoE minis keep their families' proportions (Mixtral:
 * GQA, 8 experts / 2 used, n_ff = 3.5 n_embd; Qwen3-MoE: head_dim 128 apart
 * from n_embd / n_head, many narrow experts); tiny is the shared synth shape. */
static const struct synth_shape presets[] = {
    /* name             arch        embd  layer head kv  ff     vocab   ctx   hd  exp used ffexp rope      eps */
    { "llama-7b",       "llama",    4096, 32, 32, 32, 11008, 32000,  4096, 0,   0,  0, 0,   10000.0,  1e-5, false },
    { "llama3-8b",      "llama",    4096, 32, 32, 8,  14336, 128256, 8192, 0,   0,  0, 0,   500000.0, 1e-5, false },
    { "tinyllama-1.1b", "llama",    2048, 22, 32, 4,  5632,  32000,  2048, 0,   0,  0, 0,   10000.0,  1e-5, false },
    { "mixtral-mini",   "llama",    512,  4,  8,  2,  1792,  32000,  4096, 0,   8,  2, 0,   1e6,      1e-5, false },
    { "qwen3moe-mini",  "qwen3moe", 512,  4,  8,  2,  1536,  32000,  4096, 128, 16, 4, 256, 1e6,      1e-6, false },
    { "tiny",           "llama",    256,  2,  4,  2,  512,   512,    2048, 0,   0,  0, 0,   10000.0,  1e-5, false },
};

int synth_preset_get(const char *name, struct synth_shape *out) {
    for (size_t i = 0; i < sizeof(presets) / sizeof(presets[0]); i++) {
        if (strcmp(name, presets[i].name) == 0) {
            *out = presets[i];
            return NIB_OK;
        }
    }
    return NIB_E_NOT_FOUND;
}

const char *synth_preset_names(void) { return "llama-7b, llama3-8b, tinyllama-1.1b, mixtral-mini, qwen3moe-mini, tiny"; }

/* ---------------------------------------------------------------- checks */

static int check_range(const char *what, int64_t v, int64_t lo, int64_t hi, struct nib_error *err) {
    if (v < lo || v > hi)
        return cli_set_error(err, NIB_E_ARG, "%s = %" PRId64 " is out of range (%" PRId64 "..%" PRId64 ")", what, v, lo, hi);
    return NIB_OK;
}

static int check_experts(struct synth_shape *s, struct nib_error *err) {
    bool moe_arch = !strcmp(s->arch, "qwen3moe");
    int rc;
    if ((!strcmp(s->arch, "qwen2") || !strcmp(s->arch, "qwen3")) && (s->n_expert || s->n_expert_used))
        return cli_set_error(err, NIB_E_ARG, "architecture %s has no experts (use qwen3moe, or llama for Mixtral-style MoE)",
                           s->arch);
    if (moe_arch && s->n_expert == 0)
        return cli_set_error(err, NIB_E_ARG, "qwen3moe needs --n-expert and --n-expert-used (or --preset qwen3moe-mini)");
    if (!moe_arch && s->n_ff_exp)
        return cli_set_error(err, NIB_E_ARG, "--n-ff-exp is for qwen3moe (llama MoE experts use --n-ff)");
    if (s->n_expert == 0) return s->n_expert_used ? cli_set_error(err, NIB_E_ARG, "--n-expert-used needs --n-expert") : NIB_OK;
    if ((rc = check_range("n_expert", s->n_expert, 1, 256, err)) ||
        (rc = check_range("n_expert_used", s->n_expert_used, 1, s->n_expert, err)))
        return rc;
    if (moe_arch && s->n_ff_exp == 0) s->n_ff_exp = s->n_ff / s->n_expert_used;
    if (moe_arch) return check_range("n_ff_exp", s->n_ff_exp, 1, 1 << 20, err);
    return NIB_OK;
}

static int check_heads(struct synth_shape *s, struct nib_error *err) {
    if (s->n_head % s->n_head_kv)
        return cli_set_error(err, NIB_E_ARG, "n_head %" PRId64 " is not a multiple of n_head_kv %" PRId64, s->n_head,
                           s->n_head_kv);
    if (s->head_dim == 0) {
        if (s->n_embd % s->n_head)
            return cli_set_error(err, NIB_E_ARG, "n_head %" PRId64 " does not divide n_embd %" PRId64 " (or give --head-dim)",
                               s->n_head, s->n_embd);
        s->head_dim = s->n_embd / s->n_head;
    }
    if (!strcmp(s->arch, "qwen2") && s->head_dim * s->n_head != s->n_embd)
        return cli_set_error(err, NIB_E_ARG, "qwen2 needs head_dim * n_head = n_embd (%" PRId64 " * %" PRId64 " != %" PRId64 ")",
                           s->head_dim, s->n_head, s->n_embd);
    if (s->head_dim % 2 || s->head_dim > 1024)
        return cli_set_error(err, NIB_E_ARG, "head_dim %" PRId64 " must be even and at most 1024 (rotary pairs)", s->head_dim);
    return NIB_OK;
}

int synth_shape_check(struct synth_shape *s, struct nib_error *err) {
    static const char *const archs[] = { "llama", "qwen2", "qwen3", "qwen3moe" };
    bool known = false;
    for (size_t i = 0; i < 4; i++) known |= !strcmp(s->arch, archs[i]);
    if (!known) return cli_set_error(err, NIB_E_ARG, "unknown architecture '%s' (llama, qwen2, qwen3, qwen3moe)", s->arch);
    int rc;
    if ((rc = check_range("n_embd", s->n_embd, 1, 1 << 17, err)) || (rc = check_range("n_layer", s->n_layer, 1, 512, err)) ||
        (rc = check_range("n_head", s->n_head, 1, 1024, err)) || (rc = check_range("n_head_kv", s->n_head_kv, 1, 1024, err)) ||
        (rc = check_range("n_ff", s->n_ff, 1, 1 << 20, err)) || (rc = check_range("n_vocab", s->n_vocab, 1, 1 << 22, err)) ||
        (rc = check_range("n_ctx", s->n_ctx, 1, 1 << 24, err)) || (rc = check_range("head_dim", s->head_dim, 0, 1024, err)))
        return rc;
    if (!(s->rope_base > 0) || !(s->rms_eps > 0))
        return cli_set_error(err, NIB_E_ARG, "rope base %g and rms epsilon %g must be positive", s->rope_base, s->rms_eps);
    if ((rc = check_heads(s, err))) return rc;
    return check_experts(s, err);
}

/* -------------------------------------------------------------- metadata */

static int set_arch_u32(struct nib_gguf_writer *w, const struct synth_shape *s, const char *suffix, int64_t v,
                        struct nib_error *err) {
    char key[96];
    snprintf(key, sizeof key, "%s.%s", s->arch, suffix);
    return nib_gguf_writer_set_u32(w, key, (uint32_t)v, err);
}

static int set_arch_f32(struct nib_gguf_writer *w, const struct synth_shape *s, const char *suffix, double v,
                        struct nib_error *err) {
    char key[96];
    snprintf(key, sizeof key, "%s.%s", s->arch, suffix);
    return nib_gguf_writer_set_f32(w, key, (float)v, err);
}

static int write_general(struct nib_gguf_writer *w, const struct synth_shape *s, const struct synth_type *t,
                         const char *description, struct nib_error *err) {
    char name[48];
    snprintf(name, sizeof name, "synth-%s", s->name);
    int rc;
    if ((rc = nib_gguf_writer_set_str(w, "general.architecture", s->arch, err)) ||
        (rc = nib_gguf_writer_set_str(w, "general.type", "model", err)) ||
        (rc = nib_gguf_writer_set_str(w, "general.name", name, err)) ||
        (rc = nib_gguf_writer_set_str(w, "general.description", description, err)) ||
        (rc = nib_gguf_writer_set_u32(w, "general.file_type", t->ftype, err)) ||
        (rc = nib_gguf_writer_set_u32(w, "general.quantization_version", 2, err)))
        return rc;
    return NIB_OK;
}

int synth_write_hparams(struct nib_gguf_writer *w, const struct synth_shape *s, const struct synth_type *t,
                        const char *description, struct nib_error *err) {
    bool qwen3 = !strncmp(s->arch, "qwen3", 5), llama = !strcmp(s->arch, "llama");
    int rc;
    if ((rc = write_general(w, s, t, description, err)) ||
        (rc = set_arch_u32(w, s, "context_length", s->n_ctx, err)) ||
        (rc = set_arch_u32(w, s, "embedding_length", s->n_embd, err)) ||
        (rc = set_arch_u32(w, s, "block_count", s->n_layer, err)) ||
        (rc = set_arch_u32(w, s, "feed_forward_length", s->n_ff, err)) ||
        (rc = set_arch_u32(w, s, "attention.head_count", s->n_head, err)) ||
        (rc = set_arch_u32(w, s, "attention.head_count_kv", s->n_head_kv, err)) ||
        (rc = set_arch_f32(w, s, "rope.freq_base", s->rope_base, err)) ||
        (rc = set_arch_f32(w, s, "attention.layer_norm_rms_epsilon", s->rms_eps, err)) ||
        (rc = set_arch_u32(w, s, "rope.dimension_count", s->head_dim, err)))
        return rc;
    if ((qwen3 || s->head_dim * s->n_head != s->n_embd) &&
        ((rc = set_arch_u32(w, s, "attention.key_length", s->head_dim, err)) ||
         (rc = set_arch_u32(w, s, "attention.value_length", s->head_dim, err))))
        return rc;
    if (s->n_expert && ((rc = set_arch_u32(w, s, "expert_count", s->n_expert, err)) ||
                        (rc = set_arch_u32(w, s, "expert_used_count", s->n_expert_used, err))))
        return rc;
    if (s->n_ff_exp && (rc = set_arch_u32(w, s, "expert_feed_forward_length", s->n_ff_exp, err))) return rc;
    if (llama && (rc = set_arch_u32(w, s, "vocab_size", s->n_vocab, err))) return rc;
    return NIB_OK;
}
