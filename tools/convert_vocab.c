/*
 * convert_vocab.c — the vocabulary of a conversion: storage, the tokenizer.*
 * keys written as gguf-py's SpecialVocab.add_to_gguf does, and llama2.c's
 * tokenizer.bin.
 */
#include "convert.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const special_names[CV_N_SPECIAL] = { "bos", "eos", "unk", "sep", "pad", "cls", "mask", "eot", "eom" };
static const char *const special_keys[CV_N_SPECIAL] = {
    "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id", "tokenizer.ggml.unknown_token_id",
    "tokenizer.ggml.seperator_token_id", "tokenizer.ggml.padding_token_id", "tokenizer.ggml.cls_token_id",
    "tokenizer.ggml.mask_token_id", "tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id",
};

void cv_vocab_init(struct cv_vocab *v) {
    memset(v, 0, sizeof(*v));
    for (int i = 0; i < CV_N_SPECIAL; i++) {
        v->special[i] = -1;
        v->add[i] = -1;
    }
    v->add_space_prefix = v->norm_lowercase = v->norm_strip_accents = -1;
}

void cv_vocab_free(struct cv_vocab *v) {
    for (int64_t i = 0; v->text && i < v->n; i++) free(v->text[i]);
    for (int64_t i = 0; v->merges && i < v->n_merges; i++) free(v->merges[i]);
    free(v->text);
    free(v->scores);
    free(v->types);
    free(v->merges);
    free(v->chat_template);
    cv_vocab_init(v);
}

int cv_vocab_alloc(struct cv_vocab *v, int64_t n, bool with_scores, struct nib_error *err) {
    if (n <= 0 || n > (1 << 24)) return cli_set_error(err, NIB_E_FORMAT, "vocabulary size %lld out of range", (long long)n);
    v->n = n;
    v->text = calloc((size_t)n, sizeof(*v->text));
    v->types = malloc(sizeof(*v->types) * (size_t)n);
    v->scores = with_scores ? calloc((size_t)n, sizeof(*v->scores)) : NULL;
    if (!v->text || !v->types || (with_scores && !v->scores)) return cli_set_error(err, NIB_E_NOMEM, "out of memory for the vocabulary");
    for (int64_t i = 0; i < n; i++) v->types[i] = CV_TOK_NORMAL;
    return NIB_OK;
}

int cv_vocab_set_text(struct cv_vocab *v, int64_t i, const char *s, size_t len, struct nib_error *err) {
    char *t = malloc(len + 1);
    if (!t) return cli_set_error(err, NIB_E_NOMEM, "out of memory for the vocabulary");
    memcpy(t, s, len);
    t[len] = 0;
    free(v->text[i]);
    v->text[i] = t;
    return NIB_OK;
}

static int set_str_array(struct nib_gguf_writer *w, const char *key, char **items, int64_t n, struct nib_error *err) {
    struct nib_gguf_value *vals = malloc(sizeof(*vals) * (size_t)(n ? n : 1));
    if (!vals) return cli_set_error(err, NIB_E_NOMEM, "out of memory");
    for (int64_t i = 0; i < n; i++)
        vals[i] = (struct nib_gguf_value){ .type = NIB_GGUF_STRING, .v.str = { items[i], strlen(items[i]) } };
    struct nib_gguf_value a = { .type = NIB_GGUF_ARRAY, .v.arr = { NIB_GGUF_STRING, (uint64_t)n, vals } };
    int rc = nib_gguf_writer_set_kv(w, key, &a, err);
    free(vals);
    return rc;
}

static int set_bool(struct nib_gguf_writer *w, const char *key, bool b, struct nib_error *err) {
    struct nib_gguf_value v = { .type = NIB_GGUF_BOOL, .v.b = b };
    return nib_gguf_writer_set_kv(w, key, &v, err);
}

int cv_vocab_write(struct nib_gguf_writer *w, const struct cv_vocab *v, struct nib_error *err) {
    for (int64_t i = 0; i < v->n; i++)
        if (!v->text[i]) return cli_set_error(err, NIB_E_FORMAT, "vocabulary: token %lld has no text", (long long)i);
    int rc;
    if ((rc = nib_gguf_writer_set_str(w, "tokenizer.ggml.model", v->model, err))) return rc;
    if (v->pre[0] && (rc = nib_gguf_writer_set_str(w, "tokenizer.ggml.pre", v->pre, err))) return rc;
    if ((rc = set_str_array(w, "tokenizer.ggml.tokens", v->text, v->n, err))) return rc;
    if (v->scores) {
        struct nib_gguf_value a = { .type = NIB_GGUF_ARRAY, .v.arr = { NIB_GGUF_FLOAT32, (uint64_t)v->n, v->scores } };
        if ((rc = nib_gguf_writer_set_kv(w, "tokenizer.ggml.scores", &a, err))) return rc;
    }
    struct nib_gguf_value a = { .type = NIB_GGUF_ARRAY, .v.arr = { NIB_GGUF_INT32, (uint64_t)v->n, v->types } };
    if ((rc = nib_gguf_writer_set_kv(w, "tokenizer.ggml.token_type", &a, err))) return rc;
    if (v->n_merges && (rc = set_str_array(w, "tokenizer.ggml.merges", v->merges, v->n_merges, err))) return rc;
    for (int i = 0; i < CV_N_SPECIAL; i++)
        if (v->special[i] >= 0 && (rc = nib_gguf_writer_set_u32(w, special_keys[i], (uint32_t)v->special[i], err)))
            return rc;
    for (int i = 0; i < CV_N_SPECIAL; i++) {
        if (v->add[i] < 0 || (i != CV_BOS && i != CV_EOS && i != CV_SEP)) continue;
        char key[64];
        snprintf(key, sizeof(key), "tokenizer.ggml.add_%s_token", special_names[i]);
        if ((rc = set_bool(w, key, v->add[i] != 0, err))) return rc;
    }
    if (v->add_space_prefix >= 0 && (rc = set_bool(w, "tokenizer.ggml.add_space_prefix", v->add_space_prefix, err)))
        return rc;
    if (v->chat_template && (rc = nib_gguf_writer_set_str(w, "tokenizer.chat_template", v->chat_template, err)))
        return rc;
    if (v->norm_lowercase >= 0 &&
        (rc = set_bool(w, "tokenizer.ggml.normalizer.lowercase", v->norm_lowercase, err)))
        return rc;
    if (v->norm_strip_accents >= 0 &&
        (rc = set_bool(w, "tokenizer.ggml.normalizer.strip_accents", v->norm_strip_accents, err)))
        return rc;
    return NIB_OK;
}

/* ------------------------------------------------------ llama2.c tokenizer */


