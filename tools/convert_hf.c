/*
 * convert_hf.c — the plan of a Hugging Face directory (config.json plus
 * safetensors, single or sharded) for the architectures nib runs, as
 * convert_hf_to_gguf.py lays it out:
 *
 *  - parts: model.safetensors.index.json's files, else model*.safetensors,
 *    sorted; tensors of each part in name order (gguf-py sorts them);
 *  - names: HF -> GGUF through a fixed table (tensor_mapping.py's entries
 *    for these models); an unknown name is an error, as in llama.cpp;
 *  - llama / mistral / mixtral: q_proj and k_proj rows permuted
 *    (LlamaModel.permute, with n_head_kv for k);
 *  - MoE experts: Mixtral's block_sparse_moe.experts.E.w1/w2/w3 stacked into
 *    ffn_gate_exps/ffn_down_exps/ffn_up_exps; Qwen3-MoE's
 *    mlp.experts.E.{down,gate,up}_proj into ffn_{down,gate,up}_exps, emitted
 *    where the layer's last expert tensor comes;
 *  - rope_type llama3: a generated rope_freqs.weight first;
 *  - a safetensors alias in __metadata__ ("model.embed_tokens.weight":
 *    "lm_head.weight", written by torch's shared-tensor dedup) makes
 *    token_embd.weight out of the stored tensor; with tied embeddings the
 *    lm_head copy is then not written (llama.cpp would write only
 *    output.weight, a file without token_embd that does not load).
 */
#include "convert.h"

#include <cjson/cJSON.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct arch {
    const char *hf, *gguf, *vocab_family;
    bool        permute;
};

static const struct arch arches[] = {
    { "LlamaForCausalLM", "llama", "llama", true },     { "MistralForCausalLM", "llama", "llama", true },
    { "MixtralForCausalLM", "llama", "llama", true },   { "Qwen2ForCausalLM", "qwen2", "qwen2", false },
    { "Qwen3ForCausalLM", "qwen3", "qwen2", false },    { "Qwen3MoeForCausalLM", "qwen3moe", "bpe", false },
};

struct hf {
    const char        *dir;
    cJSON             *cfg;
    const struct arch *arch;
    int64_t            n_layer, n_head, n_head_kv, n_expert;
    enum cv_outtype    out;
    struct cv_source  *experts; /* [n_layer][3][n_expert] */
    int64_t           *n_seen;  /* [n_layer] */
};

static const cJSON *item(const cJSON *o, const char *k) { return o ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL; }

static bool num(const cJSON *cfg, const char *const *keys, double *out) {
    for (; *keys; keys++) {
        const cJSON *j = item(cfg, *keys);
        if (cJSON_IsNumber(j)) {
            *out = j->valuedouble;
            return true;
        }
    }
    return false;
}

#define KEYS(...) ((const char *const[]){ __VA_ARGS__, NULL })

/* ------------------------------------------------------------- hparams */

static int u32_key(struct cv_plan *p, const struct hf *h, const char *suffix, const char *const *keys, struct nib_error *err) {
    double v;
    if (!num(h->cfg, keys, &v)) return NIB_OK;
    if (v < 0 || v > 4294967295.0) return cli_set_error(err, NIB_E_FORMAT, "config.json: %s = %g out of range", keys[0], v);
    char key[96];
    snprintf(key, sizeof(key), "%s.%s", h->arch->gguf, suffix);
    return cv_kv_u32(p, key, (uint32_t)v, err);
}

static int rope_f32(struct cv_plan *p, const struct hf *h, const char *suffix, double v, struct nib_error *err) {
    char key[96];
    snprintf(key, sizeof(key), "%s.rope.%s", h->arch->gguf, suffix);
    return cv_kv_f32(p, key, (float)v, err);
}

/* TextModel.set_gguf_parameters' rope keys. An unknown rope type is an error
 * here (llama.cpp only warns and writes nothing, which runs the model with
 * the wrong positions). */
static int rope_keys(struct cv_plan *p, const struct hf *h, struct nib_error *err) {
    const cJSON *rs = item(h->cfg, "rope_parameters");
    if (!cJSON_IsObject(rs)) rs = item(h->cfg, "rope_scaling");
    char key[96];
    int rc = NIB_OK;
    double theta, factor = 0, v;
    if ((num(rs, KEYS("rope_theta"), &theta) || num(h->cfg, KEYS("rope_theta", "rotary_emb_base"), &theta)) &&
        (rc = rope_f32(p, h, "freq_base", theta, err)))
        return rc;
    const cJSON *tj = item(rs, "rope_type");
    if (!cJSON_IsString(tj)) tj = item(rs, "type");
    if (!cJSON_IsString(tj)) return NIB_OK;
    const char *t = tj->valuestring;
    bool has_factor = num(rs, KEYS("factor"), &factor);
    snprintf(key, sizeof(key), "%s.rope.scaling.type", h->arch->gguf);
    if (!strcmp(t, "default") || !strcmp(t, "dynamic") || !strcasecmp(t, "llama3")) return NIB_OK; /* llama3: rope_freqs */
    if (!strcmp(t, "su") || !strcmp(t, "longrope")) return cv_kv_str(p, key, "longrope", err);
    if (strcmp(t, "linear") && strcmp(t, "yarn"))
        return cli_set_error(err, NIB_E_UNSUPPORTED, "config.json: rope scaling type '%s' is not supported by nib convert", t);
    if (!has_factor) return NIB_OK;
    if ((rc = cv_kv_str(p, key, t, err)) || (rc = rope_f32(p, h, "scaling.factor", factor, err)) || strcmp(t, "yarn"))
        return rc;
    double orig;
    if (!num(rs, KEYS("original_max_position_embeddings"), &orig))
        return cli_set_error(err, NIB_E_FORMAT, "config.json: yarn rope scaling without original_max_position_embeddings");
    snprintf(key, sizeof(key), "%s.rope.scaling.original_context_length", h->arch->gguf);
    if ((rc = cv_kv_u32(p, key, (uint32_t)orig, err))) return rc;
    if (num(rs, KEYS("extrapolation_factor"), &v) && (rc = rope_f32(p, h, "scaling.yarn_ext_factor", v, err))) return rc;
    if (num(rs, KEYS("attention_factor", "attn_factor"), &v) && (rc = rope_f32(p, h, "scaling.yarn_attn_factor", v, err)))
        return rc;
    if (num(rs, KEYS("beta_fast"), &v) && (rc = rope_f32(p, h, "scaling.yarn_beta_fast", v, err))) return rc;
    if (num(rs, KEYS("beta_slow"), &v) && (rc = rope_f32(p, h, "scaling.yarn_beta_slow", v, err))) return rc;
    return NIB_OK;
}

/* generation_config.json -> general.sampling.* (gguf-py Metadata.load). */
static int sampling_keys(struct cv_plan *p, const char *dir, struct nib_error *err) {
    static const struct { const char *json, *json_alt, *key; bool is_int; } map[] = {
        { "top_k", NULL, "top_k", true },
        { "top_p", NULL, "top_p", false },
        { "min_p", NULL, "min_p", false },
        { "xtc_probability", NULL, "xtc_probability", false },
        { "xtc_threshold", NULL, "xtc_threshold", false },
        { "temperature", NULL, "temp", false },
        { "penalty_last_n", NULL, "penalty_last_n", true },
        { "penalty_repeat", "repetition_penalty", "penalty_repeat", false },
        { "mirostat", NULL, "mirostat", true },
        { "mirostat_tau", NULL, "mirostat_tau", false },
        { "mirostat_eta", NULL, "mirostat_eta", false },
    };
    char path[4096], *buf;
    size_t len;
    snprintf(path, sizeof(path), "%s/generation_config.json", dir);
    struct stat st;
    if (stat(path, &st) != 0 || cv_slurp(path, &buf, &len, NULL) != NIB_OK) return NIB_OK;
    cJSON *g = cJSON_ParseWithLength(buf, len); /* an unreadable file is ignored, as gguf-py does */
    free(buf);
    int rc = NIB_OK;
    const cJSON *seq = item(g, "sequence");
    if (cJSON_IsString(seq)) rc = cv_kv_str(p, "general.sampling.sequence", seq->valuestring, err);
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]) && !rc; i++) {
        const cJSON *v = item(g, map[i].json);
        if (!v && map[i].json_alt) v = item(g, map[i].json_alt);
        if (!cJSON_IsNumber(v)) continue;
        char key[96];
        snprintf(key, sizeof(key), "general.sampling.%s", map[i].key);
        rc = map[i].is_int ? cv_kv_i32(p, key, (int32_t)v->valuedouble, err) : cv_kv_f32(p, key, (float)v->valuedouble, err);
    }
    cJSON_Delete(g);
    return rc;
}

static int hparams(struct cv_plan *p, const struct hf *h, struct nib_error *err) {
    const char *base = strrchr(h->dir, '/');
    char name[256];
    snprintf(name, sizeof(name), "%s", base && base[1] ? base + 1 : h->dir);
    char key[96];
    int rc;
    if ((rc = cv_kv_str(p, "general.architecture", h->arch->gguf, err)) || (rc = cv_kv_str(p, "general.type", "model", err)) ||
        (rc = cv_kv_str(p, "general.name", name, err)) || (rc = sampling_keys(p, h->dir, err)) ||
        (rc = u32_key(p, h, "block_count", KEYS("num_hidden_layers", "n_layers", "n_layer", "num_layers"), err)) ||
        (rc = u32_key(p, h, "context_length", KEYS("max_position_embeddings", "n_ctx", "n_positions", "max_length",
                                                                     "max_sequence_length", "model_max_length"), err)) ||
        (rc = u32_key(p, h, "embedding_length", KEYS("hidden_size", "n_embd", "dim"), err)) ||
        (rc = u32_key(p, h, "feed_forward_length", KEYS("intermediate_size", "n_inner", "hidden_dim"), err)) ||
        (rc = u32_key(p, h, "attention.head_count", KEYS("num_attention_heads", "n_head", "n_heads"), err)) ||
        (rc = u32_key(p, h, "attention.head_count_kv", KEYS("num_key_value_heads", "n_kv_heads"), err)) ||
        (rc = rope_keys(p, h, err)))
        return rc;
    double eps;
    if (num(h->cfg, KEYS("rms_norm_eps", "norm_eps"), &eps)) {
        snprintf(key, sizeof(key), "%s.attention.layer_norm_rms_epsilon", h->arch->gguf);
        if ((rc = cv_kv_f32(p, key, (float)eps, err))) return rc;
    }
    if ((rc = u32_key(p, h, "expert_count", KEYS("num_local_experts", "num_experts", "n_routed_experts"), err)) ||
        (rc = u32_key(p, h, "expert_used_count", KEYS("num_experts_per_tok", "num_experts_per_token"), err)) ||
        (rc = u32_key(p, h, "attention.key_length", KEYS("head_dim"), err)) ||
        (rc = u32_key(p, h, "attention.value_length", KEYS("head_dim"), err)) ||
        (rc = cv_kv_u32(p, "general.file_type", cv_file_type(h->out), err)))
        return rc;
    if (!strcmp(h->arch->gguf, "qwen3moe") &&
        (rc = u32_key(p, h, "expert_feed_forward_length", KEYS("moe_intermediate_size"), err)))
        return rc;
    if (!strcmp(h->arch->gguf, "llama")) {
        double hd, emb;
        if ((rc = u32_key(p, h, "vocab_size", KEYS("vocab_size"), err))) return rc;
        if (!num(h->cfg, KEYS("head_dim"), &hd) && num(h->cfg, KEYS("hidden_size"), &emb) && h->n_head > 0)
            hd = (double)((int64_t)emb / h->n_head);
        if ((rc = cv_kv_u32(p, "llama.rope.dimension_count", (uint32_t)hd, err))) return rc;
    }
    return cv_kv_u32(p, "general.quantization_version", 2, err);
}

/* --------------------------------------------------------------- names */

struct layer_map {
    const char *hf, *gguf;
};

static const struct layer_map layer_names[] = {
    { "input_layernorm", "attn_norm" },         { "self_attn.q_proj", "attn_q" },
    { "self_attn.k_proj", "attn_k" },           { "self_attn.v_proj", "attn_v" },
    { "self_attn.o_proj", "attn_output" },      { "self_attn.q_norm", "attn_q_norm" },
    { "self_attn.k_norm", "attn_k_norm" },      { "post_attention_layernorm", "ffn_norm" },
    { "mlp.gate_proj", "ffn_gate" },            { "mlp.up_proj", "ffn_up" },
    { "mlp.down_proj", "ffn_down" },            { "block_sparse_moe.gate", "ffn_gate_inp" },
    { "mlp.gate", "ffn_gate_inp" },
};

/* Expert part: which of the three stacked tensors (in emission order), or -1. */
static int expert_slot(const char *rest, int64_t *e, bool mixtral) {
    char w[16];
    int n = 0;
    if (mixtral) {
        if (sscanf(rest, "block_sparse_moe.experts.%lld.w%1[123].weight%n", (long long *)e, w, &n) == 2 && !rest[n])
            return w[0] - '1'; /* w1 gate, w2 down, w3 up */
        return -1;
    }
    char part[16];
    if (sscanf(rest, "mlp.experts.%lld.%15[a-z]_proj.weight%n", (long long *)e, part, &n) == 2 && !rest[n]) {
        if (!strcmp(part, "down")) return 0;
        if (!strcmp(part, "gate")) return 1;
        if (!strcmp(part, "up")) return 2;
    }
    return -1;
}

static const char *const mixtral_exps[3] = { "ffn_gate_exps", "ffn_down_exps", "ffn_up_exps" };
static const char *const qwen_exps[3] = { "ffn_down_exps", "ffn_gate_exps", "ffn_up_exps" };

static void fill_shape(struct cv_tensor *t, const struct st_tensor *s) {
    t->n_dims = (uint32_t)s->n_dims;
    for (int d = 0; d < s->n_dims; d++) t->ne[d] = s->shape[s->n_dims - 1 - d];
}

static int add_plain(struct cv_plan *p, struct hf *h, const char *name, const struct st_tensor *s, int64_t perm,
                     struct nib_error *err) {
    if (s->n_dims < 1 || s->n_dims > 2)
        return cli_set_error(err, NIB_E_FORMAT, "tensor '%s' has %d dims (1 or 2 expected)", name, s->n_dims);
    struct cv_tensor *t;
    int rc = cv_tensor_add(p, name, 1, &t, err);
    if (rc) return rc;
    fill_shape(t, s);
    t->type = cv_choose_type(name, t->n_dims, t->ne[0], h->out);
    t->src[0] = (struct cv_source){ s->data, s->dtype, s->n_dims == 2 ? s->shape[0] : 1, t->ne[0] };
    if (perm > 0) {
        int64_t rows = s->n_dims == 2 ? s->shape[0] : s->shape[0];
        if (rows % (2 * perm))
            return cli_set_error(err, NIB_E_FORMAT, "tensor '%s': %lld rows cannot be split into %lld heads of even size", name,
                            (long long)rows, (long long)perm);
        t->perm_heads = perm;
    }
    return NIB_OK;
}

static int add_experts(struct cv_plan *p, struct hf *h, int64_t bid, struct nib_error *err) {
    bool mixtral = !strcmp(h->arch->hf, "MixtralForCausalLM");
    for (int k = 0; k < 3; k++) {
        struct cv_source *src = &h->experts[(bid * 3 + k) * h->n_expert];
        char name[96];
        snprintf(name, sizeof(name), "blk.%lld.%s.weight", (long long)bid, (mixtral ? mixtral_exps : qwen_exps)[k]);
        for (int64_t e = 1; e < h->n_expert; e++)
            if (src[e].n_rows != src[0].n_rows || src[e].n_cols != src[0].n_cols)
                return cli_set_error(err, NIB_E_FORMAT, "%s: expert %lld is %lldx%lld, expert 0 %lldx%lld", name, (long long)e,
                                (long long)src[e].n_rows, (long long)src[e].n_cols, (long long)src[0].n_rows,
                                (long long)src[0].n_cols);
        struct cv_tensor *t;
        int rc = cv_tensor_add(p, name, h->n_expert, &t, err);
        if (rc) return rc;
        memcpy(t->src, src, sizeof(*src) * (size_t)h->n_expert);
        t->n_dims = 3;
        t->ne[0] = src[0].n_cols;
        t->ne[1] = src[0].n_rows;
        t->ne[2] = h->n_expert;
        t->type = cv_choose_type(name, 3, t->ne[0], h->out);
    }
    return NIB_OK;
}

static int map_layer(struct cv_plan *p, struct hf *h, const char *hf_name, int64_t bid, const char *rest,
                     const struct st_tensor *s, struct nib_error *err) {
    if (bid < 0 || bid >= h->n_layer)
        return cli_set_error(err, NIB_E_FORMAT, "tensor '%s': layer %lld but num_hidden_layers is %lld", hf_name, (long long)bid,
                        (long long)h->n_layer);
    if (!strcmp(rest, "self_attn.rotary_emb.inv_freq")) return NIB_OK;
    int64_t e;
    int slot = expert_slot(rest, &e, !strcmp(h->arch->hf, "MixtralForCausalLM"));
    if (slot >= 0) {
        if (e < 0 || e >= h->n_expert || s->n_dims != 2)
            return cli_set_error(err, NIB_E_FORMAT, "tensor '%s': expert %lld of %lld (or not 2-D)", hf_name, (long long)e,
                            (long long)h->n_expert);
        struct cv_source *dst = &h->experts[(bid * 3 + slot) * h->n_expert + e];
        if (dst->data) return cli_set_error(err, NIB_E_FORMAT, "tensor '%s' appears twice", hf_name);
        *dst = (struct cv_source){ s->data, s->dtype, s->shape[0], s->shape[1] };
        return ++h->n_seen[bid] == 3 * h->n_expert ? add_experts(p, h, bid, err) : NIB_OK;
    }
    for (size_t i = 0; i < sizeof(layer_names) / sizeof(layer_names[0]); i++) {
        size_t n = strlen(layer_names[i].hf);
        const char *sfx = rest + n;
        if (strncmp(rest, layer_names[i].hf, n) || (strcmp(sfx, ".weight") && strcmp(sfx, ".bias"))) continue;
        char name[96];
        snprintf(name, sizeof(name), "blk.%lld.%s%s", (long long)bid, layer_names[i].gguf, sfx);
        int64_t perm = 0;
        if (h->arch->permute && i == 1) perm = h->n_head;
        if (h->arch->permute && i == 2) perm = h->n_head_kv > 0 ? h->n_head_kv : h->n_head;
        return add_plain(p, h, name, s, perm, err);
    }
    return cli_set_error(err, NIB_E_FORMAT, "cannot map tensor '%s' to a GGUF name (%s)", hf_name, h->arch->hf);
}

static int map_tensor(struct cv_plan *p, struct hf *h, const char *name, const struct st_tensor *s, struct nib_error *err) {
    long long bid;
    int n = 0;
    if (sscanf(name, "model.layers.%lld.%n", &bid, &n) == 1 && n > 0) return map_layer(p, h, name, bid, name + n, s, err);
    if (!strcmp(name, "model.embed_tokens.weight")) return add_plain(p, h, "token_embd.weight", s, 0, err);
    if (!strcmp(name, "lm_head.weight")) return add_plain(p, h, "output.weight", s, 0, err);
    if (!strcmp(name, "model.norm.weight")) return add_plain(p, h, "output_norm.weight", s, 0, err);
    return cli_set_error(err, NIB_E_FORMAT, "cannot map tensor '%s' to a GGUF name (%s)", name, h->arch->hf);
}

/* ---------------------------------------------------------------- parts */

static int cmp_tensor(const void *a, const void *b) {
    return strcmp((*(const struct st_tensor *const *)a)->name, (*(const struct st_tensor *const *)b)->name);
}

/* The embedding alias (see the head comment): returns the tensor to use for
 * model.embed_tokens.weight when only lm_head.weight is stored. */
static const struct st_tensor *embed_alias(const struct st_file *f) {
    const char *a = st_meta_get(f, "model.embed_tokens.weight");
    return a && !st_find(f, "model.embed_tokens.weight") ? st_find(f, a) : NULL;
}

static int map_part(struct cv_plan *p, struct hf *h, const struct st_file *f, bool tied, struct nib_error *err) {
    const struct st_tensor **v = malloc(sizeof(*v) * (size_t)(f->n_tensors + 1));
    if (!v) return cli_set_error(err, NIB_E_NOMEM, "out of memory");
    int64_t n = 0;
    const struct st_tensor *alias = embed_alias(f);
    struct st_tensor embed;
    if (alias) {
        embed = *alias;
        embed.name = (char *)"model.embed_tokens.weight";
        v[n++] = &embed;
    }
    for (int64_t i = 0; i < f->n_tensors; i++) {
        if (alias && tied && &f->tensors[i] == alias && !strcmp(alias->name, "lm_head.weight")) continue;
        v[n++] = &f->tensors[i];
    }
    qsort(v, (size_t)n, sizeof(*v), cmp_tensor);
    int rc = NIB_OK;
    for (int64_t i = 0; i < n && !rc; i++) rc = map_tensor(p, h, v[i]->name, v[i], err);
    free(v);
    return rc;
}

/* rope_freqs for rope_type llama3 (LlamaModel.generate_extra_tensors). */
static int llama3_rope(struct cv_plan *p, const struct hf *h, struct nib_error *err) {
    const cJSON *rs = item(h->cfg, "rope_parameters");
    if (!cJSON_IsObject(rs)) rs = item(h->cfg, "rope_scaling");
    const cJSON *tj = item(rs, "rope_type");
    if (!cJSON_IsString(tj)) tj = item(rs, "type");
    if (!cJSON_IsString(tj) || strcasecmp(tj->valuestring, "llama3")) return NIB_OK;
    double base = 10000, dim = 0, factor = 8, lo = 1, hi = 4, old = 8192, emb;
    if (!num(rs, KEYS("rope_theta"), &base)) num(h->cfg, KEYS("rope_theta"), &base);
    if (!num(h->cfg, KEYS("head_dim"), &dim) && num(h->cfg, KEYS("hidden_size"), &emb)) dim = (double)((int64_t)emb / h->n_head);
    num(rs, KEYS("factor"), &factor);
    num(rs, KEYS("low_freq_factor"), &lo);
    num(rs, KEYS("high_freq_factor"), &hi);
    num(rs, KEYS("original_max_position_embeddings"), &old);
    int64_t n = (int64_t)dim / 2;
    struct cv_tensor *t;
    int rc = cv_tensor_add(p, "rope_freqs.weight", 1, &t, err);
    if (rc) return rc;
    if (!(t->owned_f32 = malloc(sizeof(float) * (size_t)(n > 0 ? n : 1)))) return cli_set_error(err, NIB_E_NOMEM, "out of memory");
    for (int64_t i = 0; i < n; i++) {
        float freq = 1.0f / powf((float)base, (float)(2 * i) / (float)dim);
        double wl = 2 * M_PI / freq, lw = old / lo, hw = old / hi;
        double smooth = (old / wl - lo) / (hi - lo);
        t->owned_f32[i] = wl < hw ? 1.0f : wl > lw ? (float)factor : (float)(1 / ((1 - smooth) / factor + smooth));
    }
    t->n_dims = 1;
    t->ne[0] = n;
    t->type = NIB_TYPE_F32;
    t->src[0] = (struct cv_source){ (const uint8_t *)t->owned_f32, ST_F32, 1, n };
    return NIB_OK;
}

static int read_config(const char *dir, struct hf *h, struct nib_error *err) {
    char path[4096], *buf;
    size_t len;
    snprintf(path, sizeof(path), "%s/config.json", dir);
    int rc = cv_slurp(path, &buf, &len, err);
    if (rc) return rc;
    h->cfg = cJSON_ParseWithLength(buf, len);
    free(buf);
    if (!cJSON_IsObject(h->cfg)) return cli_set_error(err, NIB_E_FORMAT, "%s is not a JSON object", path);
    const cJSON *a = cJSON_GetArrayItem(item(h->cfg, "architectures"), 0);
    if (!cJSON_IsString(a)) return cli_set_error(err, NIB_E_FORMAT, "%s: no \"architectures\" list", path);
    for (size_t i = 0; i < sizeof(arches) / sizeof(arches[0]); i++)
        if (!strcmp(arches[i].hf, a->valuestring)) h->arch = &arches[i];
    if (!h->arch)
        return cli_set_error(err, NIB_E_UNSUPPORTED, "%s: architecture '%s' is not supported (Llama, Mistral, Mixtral, Qwen2, "
                        "Qwen3, Qwen3-MoE ...ForCausalLM)", path, a->valuestring);
    double v = 0;
    if (!num(h->cfg, KEYS("num_hidden_layers", "n_layers", "n_layer", "num_layers"), &v) || v < 1 || v > 4096)
        return cli_set_error(err, NIB_E_FORMAT, "%s: num_hidden_layers missing or out of range", path);
    h->n_layer = (int64_t)v;
    h->n_head = num(h->cfg, KEYS("num_attention_heads", "n_heads"), &v) && v >= 1 ? (int64_t)v : 0;
    h->n_head_kv = num(h->cfg, KEYS("num_key_value_heads", "n_kv_heads"), &v) && v >= 1 ? (int64_t)v : 0;
    h->n_expert = num(h->cfg, KEYS("num_local_experts", "num_experts"), &v) && v >= 1 && v <= 4096 ? (int64_t)v : 0;
    if (h->arch->permute && h->n_head == 0) return cli_set_error(err, NIB_E_FORMAT, "%s: num_attention_heads missing", path);
    return NIB_OK;
}

static enum cv_outtype auto_type(const struct cv_plan *p) {
    for (int64_t f = 0; f < p->n_files; f++)
        for (int64_t i = 0; i < p->files[f].n_tensors; i++) {
            const struct st_tensor *t = &p->files[f].tensors[i];
            if (t->n_dims < 2) continue;
            return t->dtype == ST_F16 ? CV_OUT_F16 : t->dtype == ST_BF16 ? CV_OUT_BF16 : CV_OUT_F32;
        }
    return CV_OUT_F32;
}

static int plan_tensors(struct cv_plan *p, struct hf *h, struct nib_error *err) {
    int rc = cv_open_parts(h->dir, p, err);
    if (rc) return rc;
    if (h->out == CV_OUT_AUTO) h->out = auto_type(p);
    if (h->n_expert) {
        h->experts = calloc((size_t)(h->n_layer * 3 * h->n_expert), sizeof(*h->experts));
        h->n_seen = calloc((size_t)h->n_layer, sizeof(*h->n_seen));
        if (!h->experts || !h->n_seen) return cli_set_error(err, NIB_E_NOMEM, "out of memory");
    }
    bool tied = cJSON_IsTrue(item(h->cfg, "tie_word_embeddings"));
    if ((rc = llama3_rope(p, h, err))) return rc;
    for (int64_t f = 0; f < p->n_files && !rc; f++) rc = map_part(p, h, &p->files[f], tied, err);
    for (int64_t b = 0; b < h->n_layer && h->n_seen && !rc; b++)
        if (h->n_seen[b] && h->n_seen[b] != 3 * h->n_expert)
            rc = cli_set_error(err, NIB_E_FORMAT, "layer %lld: %lld of %lld expert tensors present", (long long)b,
                          (long long)h->n_seen[b], (long long)(3 * h->n_expert));
    if (!rc && p->n_t == 0) rc = cli_set_error(err, NIB_E_FORMAT, "%s: no tensors", h->dir);
    return rc;
}

int cv_plan_hf(const char *dir, const struct cv_options *o, struct cv_plan *p, struct nib_error *err) {
    struct hf h = { .dir = dir, .out = o->outtype };
    char path[4096];
    snprintf(path, sizeof(path), "%s/config.json", dir);
    struct stat st;
    int rc = NIB_OK;
    if (o->vocab_only && stat(path, &st) != 0) { /* a tokenizer-only directory */
        rc = cv_kv_str(p, "general.architecture", "llama", err);
        if (!rc) rc = cv_hf_vocab_read(dir, "llama", -1, o->pre, &p->vocab, err);
        p->has_vocab = !rc;
        return rc;
    }
    rc = read_config(dir, &h, err);
    if (!rc && !o->vocab_only) rc = plan_tensors(p, &h, err);
    if (h.out == CV_OUT_AUTO) h.out = CV_OUT_F32;
    if (!rc) rc = hparams(p, &h, err);
    double nv = -1;
    if (!rc) {
        num(h.cfg, KEYS("vocab_size"), &nv);
        rc = cv_hf_vocab_read(dir, h.arch->vocab_family, nv > 0 ? (int64_t)nv : -1, o->pre, &p->vocab, err);
        p->has_vocab = !rc;
    }
    cJSON_Delete(h.cfg);
    free(h.experts);
    free(h.n_seen);
    return rc;
}
