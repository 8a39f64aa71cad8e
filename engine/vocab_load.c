/*
 * vocab_load.c — build a struct nib_vocab from GGUF metadata and validate it.
 *
 * Reads tokenizer.ggml.{model, pre, tokens, scores, token_type, merges} and
 * the flags; every array length, type and id is checked, and malformed
 * metadata is an error naming the key, the index and the value. Special
 * tokens and the end-of-generation set are derived in vocab_special.c.
 */
#include "vocab.h"

#include "error.h"
#include "vocab_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_MODEL  "tokenizer.ggml.model"
#define KEY_PRE    "tokenizer.ggml.pre"
#define KEY_TOKENS "tokenizer.ggml.tokens"
#define KEY_SCORES "tokenizer.ggml.scores"
#define KEY_TYPES  "tokenizer.ggml.token_type"
#define KEY_MERGES "tokenizer.ggml.merges"

/* GGUF token types -> attributes (llama.cpp's mapping). */
static const uint32_t type_attr[7] = {
    0, NIB_TOKEN_ATTR_NORMAL, NIB_TOKEN_ATTR_UNKNOWN, NIB_TOKEN_ATTR_CONTROL,
    NIB_TOKEN_ATTR_USER_DEFINED, NIB_TOKEN_ATTR_UNUSED, NIB_TOKEN_ATTR_BYTE,
};

/* Strict UTF-8 check; returns the offset of the first bad byte or -1. */
static int64_t utf8_invalid_at(const unsigned char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        size_t len = c < 0x80 ? 1 : (c >= 0xc2 && c <= 0xdf) ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c >= 0xf0 && c <= 0xf4) ? 4 : 0;
        if (!len || i + len > n) return (int64_t)i;
        for (size_t k = 1; k < len; k++)
            if ((s[i + k] & 0xc0) != 0x80) return (int64_t)i;
        if (len == 3) {
            uint32_t cp = (c & 0x0f) << 12 | (s[i + 1] & 0x3f) << 6 | (s[i + 2] & 0x3f);
            if (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff)) return (int64_t)i;
        } else if (len == 4) {
            uint32_t cp = (c & 0x07) << 18 | (s[i + 1] & 0x3f) << 12 | (s[i + 2] & 0x3f) << 6 | (s[i + 3] & 0x3f);
            if (cp < 0x10000 || cp > 0x10ffff) return (int64_t)i;
        }
        i += len;
    }
    return -1;
}

static const struct nib_gguf_value *get_array(const struct nib_gguf *g, const char *key, int elem_type, bool required,
                                              int *rc, struct nib_error *err) {
    const struct nib_gguf_value *v = nib_gguf_get(g, key);
    *rc = NIB_OK;
    if (!v) {
        if (required) *rc = nib_error_set(err, NIB_E_FORMAT, "vocabulary: metadata key '%s' is missing", key);
        return NULL;
    }
    if (v->type != NIB_GGUF_ARRAY || (elem_type >= 0 && v->v.arr.type != (enum nib_gguf_type)elem_type)) {
        *rc = nib_error_set(err, NIB_E_FORMAT, "vocabulary: '%s' has type %s%s%s, expected an array of %s", key,
                            nib_gguf_type_name(v->type), v->type == NIB_GGUF_ARRAY ? " of " : "",
                            v->type == NIB_GGUF_ARRAY ? nib_gguf_type_name(v->v.arr.type) : "",
                            elem_type >= 0 ? nib_gguf_type_name(elem_type) : "numbers");
        return NULL;
    }
    return v;
}

static int load_kind(struct nib_vocab *v, const struct nib_gguf *g, const struct nib_pre_spec **spec,
                     struct nib_error *err) {
    const struct nib_gguf_value *mv = nib_gguf_get(g, KEY_MODEL);
    if (!mv) return nib_error_set(err, NIB_E_FORMAT, "vocabulary: metadata key '%s' is missing", KEY_MODEL);
    if (mv->type != NIB_GGUF_STRING)
        return nib_error_set(err, NIB_E_FORMAT, "vocabulary: '%s' has type %s, expected str", KEY_MODEL, nib_gguf_type_name(mv->type));
    const char *model = mv->v.str.ptr;
    *spec = NULL;
    if (strcmp(model, "llama") == 0) {
        v->kind = NIB_VOCAB_SPM;
        v->pre_name = "default";
        return NIB_OK;
    }
    if (strcmp(model, "gpt2") != 0) {
        if (!strcmp(model, "none") || !strcmp(model, "no_vocab"))
            return nib_error_set(err, NIB_E_UNSUPPORTED, "vocabulary: the file has no vocabulary (%s = '%s')", KEY_MODEL, model);
        return nib_error_set(err, NIB_E_UNSUPPORTED,
                             "vocabulary: tokenizer model '%s' is not supported (nib supports 'llama' and 'gpt2')", model);
    }
    v->kind = NIB_VOCAB_BPE;
    const char *pre = "default";
    const struct nib_gguf_value *pv = nib_gguf_get(g, KEY_PRE);
    if (pv && pv->type != NIB_GGUF_STRING)
        return nib_error_set(err, NIB_E_FORMAT, "vocabulary: '%s' has type %s, expected str", KEY_PRE, nib_gguf_type_name(pv->type));
    if (pv) pre = pv->v.str.ptr;
    *spec = nib_pre_spec_find(pre);
    if (!*spec) {
        char known[320];
        nib_pre_spec_list(known, sizeof(known));
        return nib_error_set(err, NIB_E_UNSUPPORTED, "vocabulary: unknown pre-tokenizer '%s' (%s); nib knows: %s", pre,
                             KEY_PRE, known);
    }
    v->pre_name = (*spec)->name;
    return nib_pretokenizer_init(&v->pre, *spec, err);
}

static int check_len(const struct nib_gguf_value *a, const char *key, int32_t n_tokens, struct nib_error *err) {
    if (a && a->v.arr.n != (uint64_t)n_tokens)
        return nib_error_set(err, NIB_E_FORMAT, "vocabulary: '%s' has %" PRIu64 " entries but there are %d tokens", key,
                             a->v.arr.n, n_tokens);
    return NIB_OK;
}

static int load_token(struct nib_vocab *v, int32_t i, const struct nib_gguf_value *text, const struct nib_gguf_value *scores,
                      const struct nib_gguf_value *types, struct nib_error *err) {
    struct nib_token_data *t = &v->tokens[i];
    char empty[32];
    const char *s = text->v.str.ptr;
    size_t len = (size_t)text->v.str.len;
    if (len == 0) { /* llama.cpp's stand-in for empty token texts */
        len = (size_t)snprintf(empty, sizeof(empty), "[EMPTY_%d]", i);
        s = empty;
    }
    int64_t bad = utf8_invalid_at((const unsigned char *)s, len);
    if (bad >= 0)
        return nib_error_set(err, NIB_E_FORMAT, "vocabulary: token %d is not valid UTF-8 (byte 0x%02x at offset %" PRId64 ")",
                             i, (unsigned char)s[bad], bad);
    t->text = nib_arena_strndup(&v->arena, s, len);
    if (!t->text) return nib_error_set(err, NIB_E_NOMEM, "out of memory");
    t->len = (uint32_t)len;
    double score = 0;
    if (scores) nib_gguf_array_get_f64(scores, (uint64_t)i, &score);
    t->score = (float)score;
    t->attr = NIB_TOKEN_ATTR_NORMAL;
    if (types) {
        int64_t ty = 0;
        nib_gguf_array_get_i64(types, (uint64_t)i, &ty);
        if (ty < 0 || ty > 6)
            return nib_error_set(err, NIB_E_FORMAT, "vocabulary: '%s'[%d] = %" PRId64 " is not a token type (0..6)", KEY_TYPES,
                                 i, ty);
        t->attr = type_attr[ty];
    }
    int32_t dup = nib_token_map_insert(&v->by_text, v->tokens, i);
    if (dup >= 0)
        return nib_error_set(err, NIB_E_FORMAT, "vocabulary: tokens %d and %d have the same text '%.60s'", dup, i, t->text);
    return NIB_OK;
}

static int load_tokens(struct nib_vocab *v, const struct nib_gguf *g, struct nib_error *err) {
    int rc;
    const struct nib_gguf_value *toks = get_array(g, KEY_TOKENS, NIB_GGUF_STRING, true, &rc, err);
    if (!toks) return rc;
    if (toks->v.arr.n == 0 || toks->v.arr.n > INT32_MAX)
        return nib_error_set(err, NIB_E_FORMAT, "vocabulary: '%s' has %" PRIu64 " tokens", KEY_TOKENS, toks->v.arr.n);
    v->n_tokens = (int32_t)toks->v.arr.n;
    const struct nib_gguf_value *scores = get_array(g, KEY_SCORES, -1, false, &rc, err);
    if (rc) return rc;
    if (scores && scores->v.arr.type != NIB_GGUF_FLOAT32 && scores->v.arr.type != NIB_GGUF_INT32)
        return nib_error_set(err, NIB_E_FORMAT, "vocabulary: '%s' is an array of %s, expected f32 or i32", KEY_SCORES,
                             nib_gguf_type_name(scores->v.arr.type));
    const struct nib_gguf_value *types = get_array(g, KEY_TYPES, NIB_GGUF_INT32, false, &rc, err);
    if (rc) return rc;
    if ((rc = check_len(scores, KEY_SCORES, v->n_tokens, err)) || (rc = check_len(types, KEY_TYPES, v->n_tokens, err)))
        return rc;
    v->tokens = nib_arena_alloc(&v->arena, sizeof(*v->tokens) * (size_t)v->n_tokens);
    if (!v->tokens || !nib_token_map_init(&v->by_text, v->n_tokens)) return nib_error_set(err, NIB_E_NOMEM, "out of memory");
    for (int32_t i = 0; i < v->n_tokens; i++) {
        rc = load_token(v, i, nib_gguf_array_get_value(toks, (uint64_t)i), scores, types, err);
        if (rc) return rc;
    }
    return NIB_OK;
}

/* True when no token contains U+2581 right after a character other than U+2581. */
static bool spm_words_independent(const struct nib_vocab *v) {
    for (int32_t i = 0; i < v->n_tokens; i++) {
        const char *t = v->tokens[i].text;
        for (uint32_t k = 3; k + 3 <= v->tokens[i].len; k++)
            if (!memcmp(t + k, "\xe2\x96\x81", 3) && memcmp(t + k - 3, "\xe2\x96\x81", 3)) return false;
    }
    return true;
}

/* One merge rule split into its two parts. */
struct merge_parts {
    const char *s, *r;
    size_t      nl, nr;
    uint32_t    hl, hr;
    int32_t     l, rid;
};

static int merge_error(int64_t i, const char *s, const struct merge_parts *p, struct nib_error *err) {
    if (!p->r)
        return nib_error_set(err, NIB_E_FORMAT, "vocabulary: merge %" PRId64 " '%.60s' is not two tokens separated by a space", i, s);
    bool left_bad = p->l < 0;
    size_t n = left_bad ? p->nl : p->nr;
    return nib_error_set(err, NIB_E_FORMAT, "vocabulary: merge %" PRId64 " '%.60s' names '%.*s', which is not a token", i, s,
                         (int)(n > 60 ? 60 : n), left_bad ? p->s : p->r);
}

/* Merges are resolved in batches: hash and prefetch every lookup of a batch
 * before doing any, so the table misses overlap (loading a 280k-merge
 * vocabulary is bound by them). */
#define MERGE_BATCH 16

static int load_merges(struct nib_vocab *v, const struct nib_gguf *g, struct nib_error *err) {
    int rc;
    const struct nib_gguf_value *m = get_array(g, KEY_MERGES, NIB_GGUF_STRING, true, &rc, err);
    if (!m) return rc;
    if (m->v.arr.n > INT32_MAX) return nib_error_set(err, NIB_E_FORMAT, "vocabulary: too many merges");
    v->n_merges = (int64_t)m->v.arr.n;
    if (!nib_merge_map_init(&v->merges, v->n_merges)) return nib_error_set(err, NIB_E_NOMEM, "out of memory");
    struct merge_parts b[MERGE_BATCH];
    for (int64_t i0 = 0; i0 < v->n_merges; i0 += MERGE_BATCH) {
        int k, nb = (int)(v->n_merges - i0 < MERGE_BATCH ? v->n_merges - i0 : MERGE_BATCH);
        for (k = 0; k < nb; k++) {
            const struct nib_gguf_value *e = nib_gguf_array_get_value(m, (uint64_t)(i0 + k));
            struct merge_parts *p = &b[k];
            size_t n = (size_t)e->v.str.len;
            p->s = e->v.str.ptr;
            const char *sp = n > 1 ? memchr(p->s + 1, ' ', n - 1) : NULL; /* the first space after position 0 */
            p->r = sp ? sp + 1 : NULL;
            p->l = p->rid = -1;
            if (!sp) return merge_error(i0 + k, p->s, p, err);
            p->nl = (size_t)(sp - p->s);
            p->nr = n - p->nl - 1;
            p->hl = nib_hash_bytes(p->s, p->nl);
            p->hr = nib_hash_bytes(p->r, p->nr);
            nib_token_map_prefetch(&v->by_text, p->hl);
            nib_token_map_prefetch(&v->by_text, p->hr);
        }
        for (k = 0; k < nb; k++) {
            struct merge_parts *p = &b[k];
            p->l = nib_token_map_find_hashed(&v->by_text, v->tokens, p->s, p->nl, p->hl);
            p->rid = nib_token_map_find_hashed(&v->by_text, v->tokens, p->r, p->nr, p->hr);
            if (p->l < 0 || p->rid < 0) return merge_error(i0 + k, p->s, p, err);
            nib_merge_map_prefetch(&v->merges, p->l, p->rid);
        }
        for (k = 0; k < nb; k++) nib_merge_map_insert(&v->merges, b[k].l, b[k].rid, (int32_t)(i0 + k));
    }
    return NIB_OK;
}

static int read_flag(const struct nib_gguf *g, const char *key, bool *flag, struct nib_error *err) {
    const struct nib_gguf_value *x = nib_gguf_get(g, key);
    if (!x) return NIB_OK;
    if (x->type != NIB_GGUF_BOOL)
        return nib_error_set(err, NIB_E_FORMAT, "vocabulary: '%s' has type %s, expected bool", key, nib_gguf_type_name(x->type));
    *flag = x->v.b;
    return NIB_OK;
}

static int load_flags(struct nib_vocab *v, const struct nib_gguf *g, const struct nib_pre_spec *spec, struct nib_error *err) {
    if (v->kind == NIB_VOCAB_SPM) {
        v->add_bos = true;
        v->add_space_prefix = true;
    } else {
        v->add_bos = spec->add_bos;
        v->clean_spaces = spec->clean_spaces;
        v->ignore_merges = spec->ignore_merges;
    }
    int rc;
    if ((rc = read_flag(g, "tokenizer.ggml.add_space_prefix", &v->add_space_prefix, err)) ||
        (rc = read_flag(g, "tokenizer.ggml.add_bos_token", &v->add_bos, err)) ||
        (rc = read_flag(g, "tokenizer.ggml.add_eos_token", &v->add_eos, err)))
        return rc;
    return NIB_OK;
}

int nib_vocab_load(const struct nib_gguf *g, struct nib_vocab **out, struct nib_error *err) {
    if (!g || !out) return nib_error_set(err, NIB_E_ARG, "nib_vocab_load: NULL argument");
    *out = NULL;
    struct nib_vocab *v = calloc(1, sizeof(*v));
    if (!v) return nib_error_set(err, NIB_E_NOMEM, "out of memory");
    const struct nib_pre_spec *spec = NULL;
    int rc = load_kind(v, g, &spec, err);
    if (!rc) rc = load_tokens(v, g, err);
    if (!rc && v->kind == NIB_VOCAB_BPE) rc = load_merges(v, g, err);
    if (!rc) rc = load_flags(v, g, spec, err);
    if (!rc && v->kind == NIB_VOCAB_SPM) v->spm_split_safe = spm_words_independent(v);
    if (!rc) rc = nib_vocab_load_specials(v, g, spec, err);
    if (rc) {
        nib_vocab_free(v);
        return rc;
    }
    *out = v;
    return NIB_OK;
}

void nib_vocab_free(struct nib_vocab *v) {
    if (!v) return;
    nib_pretokenizer_free(&v->pre);
    nib_token_map_free(&v->by_text);
    nib_merge_map_free(&v->merges);
    free(v->eog);
    free(v->special_cache);
    free(v->pieces);
    free(v->piece_off);
    nib_arena_free(&v->arena);
    free(v);
}
