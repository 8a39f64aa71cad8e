/*
 * vocab_special.c — special tokens, the end-of-generation set and the caches
 * derived from them, following llama.cpp's vocabulary loader rule by rule:
 *   1. role ids: defaults per tokenizer kind, overridden by metadata keys
 *      (UINT32_MAX / -1 means "none"; any other out-of-range id is an error);
 *   2. roles still unset are found by token text (EOT, EOM, FIM_*), and such
 *      tokens are made control tokens;
 *   3. control tokens whose text contains "unused" are marked unused;
 *   4. the EOG set: FIM pad/repo/sep, every token with an end-of-turn text,
 *      EOS, EOT, EOM; then llama.cpp's two model-family exceptions;
 *   5. the special-token match order (longest text first) and the piece cache;
 *   6. per-model attributes (Phi-3 right-strips around its special tokens).
 * Where llama.cpp's choice depends on hash-map iteration order (which of
 * several candidate texts becomes EOT), nib takes the first in list order.
 */
#include "vocab.h"

#include "error.h"
#include "vocab_internal.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct { const char *key; enum nib_special role; } special_keys[] = {
    { "tokenizer.ggml.bos_token_id", NIB_SPECIAL_BOS },
    { "tokenizer.ggml.eos_token_id", NIB_SPECIAL_EOS },
    { "tokenizer.ggml.eot_token_id", NIB_SPECIAL_EOT },
    { "tokenizer.ggml.eom_token_id", NIB_SPECIAL_EOM },
    { "tokenizer.ggml.unknown_token_id", NIB_SPECIAL_UNK },
    { "tokenizer.ggml.seperator_token_id", NIB_SPECIAL_SEP },
    { "tokenizer.ggml.padding_token_id", NIB_SPECIAL_PAD },
    { "tokenizer.ggml.mask_token_id", NIB_SPECIAL_MASK },
    { "tokenizer.ggml.fim_pre_token_id", NIB_SPECIAL_FIM_PRE },
    { "tokenizer.ggml.fim_suf_token_id", NIB_SPECIAL_FIM_SUF },
    { "tokenizer.ggml.fim_mid_token_id", NIB_SPECIAL_FIM_MID },
    { "tokenizer.ggml.fim_pad_token_id", NIB_SPECIAL_FIM_PAD },
    { "tokenizer.ggml.fim_rep_token_id", NIB_SPECIAL_FIM_REP },
    { "tokenizer.ggml.fim_sep_token_id", NIB_SPECIAL_FIM_SEP },
    { "tokenizer.ggml.prefix_token_id", NIB_SPECIAL_FIM_PRE }, /* deprecated spellings */
    { "tokenizer.ggml.suffix_token_id", NIB_SPECIAL_FIM_SUF },
    { "tokenizer.ggml.middle_token_id", NIB_SPECIAL_FIM_MID },
};

/* Texts that identify a role when no metadata key gives it. */
static const char *const eot_texts[] = { "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
                                         "<|end_of_text|>", "<EOT>", "_<EOT>", "[EOT]", "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>",
                                         "<end_of_utterance>", NULL };
static const char *const eom_texts[] = { "<|eom_id|>", NULL };
static const char *const fim_pre_texts[] = { "<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<\xef\xbd\x9c" "fim\xe2\x96\x81" "begin\xef\xbd\x9c>",
                                             "<PRE>", "\xe2\x96\x81<PRE>", "<|code_prefix|>", "<|prefix|>", NULL };
static const char *const fim_suf_texts[] = { "<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<\xef\xbd\x9c" "fim\xe2\x96\x81hole\xef\xbd\x9c>",
                                             "<SUF>", "\xe2\x96\x81<SUF>", "<|code_suffix|>", "<|suffix|>", NULL };
static const char *const fim_mid_texts[] = { "<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<\xef\xbd\x9c" "fim\xe2\x96\x81" "end\xef\xbd\x9c>",
                                             "<MID>", "\xe2\x96\x81<MID>", "<|code_middle|>", "<|middle|>", NULL };
static const char *const fim_pad_texts[] = { "<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]", NULL };
static const char *const fim_rep_texts[] = { "<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>", NULL };
static const char *const fim_sep_texts[] = { "<|file_sep|>", NULL };

/* Every text llama.cpp treats as end of generation. */
static const char *const eog_texts[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>", "<end_of_turn>",
    "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]", "<|end_of_text|>",
    "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>",
    "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>", "[e~[", NULL,
};

static int32_t find_text(const struct nib_vocab *v, const char *s) { return nib_vocab_find(v, s, strlen(s)); }

static void make_control(struct nib_vocab *v, int32_t id) { v->tokens[id].attr |= NIB_TOKEN_ATTR_CONTROL; }

static int load_role_ids(struct nib_vocab *v, const struct nib_gguf *g, const struct nib_pre_spec *spec,
                         struct nib_error *err) {
    for (int r = 0; r < NIB_SPECIAL_COUNT; r++) v->special[r] = -1;
    if (v->kind == NIB_VOCAB_SPM) {
        v->special[NIB_SPECIAL_BOS] = 1;
        v->special[NIB_SPECIAL_EOS] = 2;
        v->special[NIB_SPECIAL_UNK] = 0;
    } else {
        v->special[NIB_SPECIAL_BOS] = spec->no_bos_token ? -1 : 11;
        v->special[NIB_SPECIAL_EOS] = 11;
    }
    for (size_t k = 0; k < sizeof(special_keys) / sizeof(special_keys[0]); k++) {
        int32_t *id = &v->special[special_keys[k].role];
        if (*id >= v->n_tokens) *id = -1; /* a default the vocab is too small for */
        const struct nib_gguf_value *x = nib_gguf_get(g, special_keys[k].key);
        if (!x) continue;
        int64_t val;
        if (x->type == NIB_GGUF_UINT32 || x->type == NIB_GGUF_UINT64 || x->type == NIB_GGUF_UINT16 ||
            x->type == NIB_GGUF_UINT8)
            val = x->v.u64 == UINT32_MAX || x->v.u64 == UINT64_MAX ? -1 : (int64_t)(x->v.u64 & INT64_MAX);
        else if (x->type == NIB_GGUF_INT32 || x->type == NIB_GGUF_INT64 || x->type == NIB_GGUF_INT16 || x->type == NIB_GGUF_INT8)
            val = x->v.i64;
        else
            return nib_error_set(err, NIB_E_FORMAT, "vocabulary: '%s' has type %s, expected an integer",
                                 special_keys[k].key, nib_gguf_type_name(x->type));
        if (val == -1) continue; /* "no such token": keep the default */
        if (val < 0 || val >= v->n_tokens)
            return nib_error_set(err, NIB_E_FORMAT, "vocabulary: '%s' = %" PRId64 " is out of range (vocabulary has %d tokens)",
                                 special_keys[k].key, val, v->n_tokens);
        *id = (int32_t)val;
    }
    return NIB_OK;
}

static void detect_role(struct nib_vocab *v, enum nib_special role, const char *const *texts) {
    if (v->special[role] >= 0) return;
    for (int i = 0; texts[i]; i++) {
        int32_t id = find_text(v, texts[i]);
        if (id >= 0) {
            v->special[role] = id;
            make_control(v, id);
            return;
        }
    }
}

static int cmp_i32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

static void eog_add(struct nib_vocab *v, int32_t id) {
    if (id < 0) return;
    for (int32_t i = 0; i < v->n_eog; i++)
        if (v->eog[i] == id) return;
    v->eog[v->n_eog++] = id;
}

static void eog_remove(struct nib_vocab *v, int32_t id) {
    for (int32_t i = 0; i < v->n_eog; i++)
        if (v->eog[i] == id) v->eog[i] = v->eog[--v->n_eog];
}

static bool eog_has_text(const struct nib_vocab *v, const char *text) {
    for (int32_t i = 0; i < v->n_eog; i++)
        if (strcmp(v->tokens[v->eog[i]].text, text) == 0) return true;
    return false;
}

static int build_eog(struct nib_vocab *v, struct nib_error *err) {
    size_t n_texts = sizeof(eog_texts) / sizeof(eog_texts[0]);
    v->eog = malloc(sizeof(*v->eog) * (n_texts + 8));
    if (!v->eog) return nib_error_set(err, NIB_E_NOMEM, "out of memory");
    eog_add(v, v->special[NIB_SPECIAL_FIM_PAD]);
    eog_add(v, v->special[NIB_SPECIAL_FIM_REP]);
    eog_add(v, v->special[NIB_SPECIAL_FIM_SEP]);
    for (int i = 0; eog_texts[i]; i++) {
        int32_t id = find_text(v, eog_texts[i]);
        if (id < 0) continue;
        eog_add(v, id);
        make_control(v, id);
    }
    static const char *const user_defined[] = { "<|channel|>", "<|message|>", "<|start|>", "<|constrain|>", NULL };
    for (int i = 0; user_defined[i]; i++) {
        int32_t id = find_text(v, user_defined[i]);
        if (id >= 0) v->tokens[id].attr = NIB_TOKEN_ATTR_USER_DEFINED;
    }
    eog_add(v, v->special[NIB_SPECIAL_EOS]);
    eog_add(v, v->special[NIB_SPECIAL_EOT]);
    eog_add(v, v->special[NIB_SPECIAL_EOM]);
    /* Harmony / solar-open: <|end|> ends a message, not the generation. */
    int32_t end = find_text(v, "<|end|>");
    if (end >= 0 && eog_has_text(v, "<|end|>") && eog_has_text(v, "<|call|>") + eog_has_text(v, "<|calls|>") &&
        (eog_has_text(v, "<|return|>") || eog_has_text(v, "<|flush|>"))) {
        eog_remove(v, end);
        v->tokens[end].attr = NIB_TOKEN_ATTR_USER_DEFINED;
    }
    /* Gemma 4 / PaddleOCR: </s> is not an end of generation next to <|tool_response>. */
    int32_t s = find_text(v, "</s>");
    if (s >= 0 && eog_has_text(v, "</s>") && eog_has_text(v, "<|tool_response>")) {
        eog_remove(v, s);
        v->tokens[s].attr = NIB_TOKEN_ATTR_NORMAL;
    }
    qsort(v->eog, (size_t)v->n_eog, sizeof(*v->eog), cmp_i32);
    return NIB_OK;
}

/* ------------------------------------------------------------ pieces */

static int hexval(char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* The byte of a <0xXX> token (llama.cpp: strtol of the two characters after "<0x"). */
static uint8_t byte_of_token(const struct nib_token_data *t) {
    int v = 0;
    for (uint32_t i = 3; i < 5 && i < t->len && hexval(t->text[i]) >= 0; i++) v = v * 16 + hexval(t->text[i]);
    return (uint8_t)v;
}

/* Copies n bytes to buf + o unless buf is NULL (sizing pass); returns o + n. */
static size_t put(char *buf, size_t o, const void *src, size_t n) {
    if (buf) memcpy(buf + o, src, n);
    return o + n;
}

/* Renders token id's piece into buf (or only measures it when buf is NULL). */
static size_t render_piece(const struct nib_vocab *v, int32_t id, char *buf) {
    const struct nib_token_data *t = &v->tokens[id];
    if (t->attr & (NIB_TOKEN_ATTR_UNKNOWN | NIB_TOKEN_ATTR_CONTROL | NIB_TOKEN_ATTR_USER_DEFINED))
        return put(buf, 0, t->text, t->len);
    if (t->attr & NIB_TOKEN_ATTR_NORMAL) {
        size_t o = 0;
        if (v->kind == NIB_VOCAB_SPM) {
            for (uint32_t i = 0; i < t->len; i++) {
                if (i + 2 < t->len && !memcmp(t->text + i, "\xe2\x96\x81", 3)) {
                    o = put(buf, o, " ", 1);
                    i += 2;
                } else {
                    o = put(buf, o, t->text + i, 1);
                }
            }
            return o;
        }
        for (size_t i = 0; i < t->len;) {
            size_t at = i;
            uint32_t cp = nib_utf8_decode_lenient(t->text, t->len, &i);
            int b = nib_unicode_to_byte(cp);
            if (b >= 0) {
                char c = (char)b;
                o = put(buf, o, &c, 1);
                continue;
            }
            /* llama.cpp's marker for a character outside the byte alphabet */
            char hex[64];
            int n = snprintf(hex, sizeof(hex), "[UNK_BYTE_0x");
            for (size_t k = at; k < i; k++) n += snprintf(hex + n, sizeof(hex) - (size_t)n, "%02x", (unsigned char)t->text[k]);
            o = put(buf, o, hex, (size_t)n);
            o = put(buf, o, t->text, t->len);
            o = put(buf, o, "]", 1);
        }
        return o;
    }
    if (t->attr & NIB_TOKEN_ATTR_BYTE) {
        char c = (char)byte_of_token(t);
        return put(buf, 0, &c, 1);
    }
    return 0;
}

#define NIB_MAX_PIECE_CACHE ((size_t)1 << 30)

static int build_pieces(struct nib_vocab *v, struct nib_error *err) {
    size_t total = 0;
    for (int32_t i = 0; i < v->n_tokens; i++) {
        total += render_piece(v, i, NULL);
        if (total > NIB_MAX_PIECE_CACHE)
            return nib_error_set(err, NIB_E_FORMAT, "vocabulary: token texts render to more than 1 GiB (token %d)", i);
    }
    v->pieces = malloc(total + 1);
    v->piece_off = malloc(sizeof(*v->piece_off) * ((size_t)v->n_tokens + 1));
    if (!v->pieces || !v->piece_off) return nib_error_set(err, NIB_E_NOMEM, "out of memory for the piece cache");
    size_t o = 0;
    for (int32_t i = 0; i < v->n_tokens; i++) {
        v->piece_off[i] = (int64_t)o;
        o += render_piece(v, i, v->pieces + o);
    }
    v->piece_off[v->n_tokens] = (int64_t)o;
    return NIB_OK;
}

/* ------------------------------------------------- match order, bytes */

struct len_id {
    uint32_t len;
    int32_t  id;
};

static int cmp_len_id(const void *a, const void *b) {
    const struct len_id *x = a, *y = b;
    if (x->len != y->len) return x->len > y->len ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

/* Tokens matched as whole units in the input text (control, user-defined,
 * unknown), longest first so that a longer special token wins over a prefix. */
static int build_special_cache(struct nib_vocab *v, struct nib_error *err) {
    const uint32_t mask = NIB_TOKEN_ATTR_CONTROL | NIB_TOKEN_ATTR_USER_DEFINED | NIB_TOKEN_ATTR_UNKNOWN;
    int32_t n = 0;
    for (int32_t i = 0; i < v->n_tokens; i++) n += (v->tokens[i].attr & mask) != 0;
    struct len_id *tmp = malloc(sizeof(*tmp) * (size_t)(n ? n : 1));
    v->special_cache = malloc(sizeof(*v->special_cache) * (size_t)(n ? n : 1));
    if (!tmp || !v->special_cache) {
        free(tmp);
        return nib_error_set(err, NIB_E_NOMEM, "out of memory");
    }
    n = 0;
    for (int32_t i = 0; i < v->n_tokens; i++)
        if (v->tokens[i].attr & mask) tmp[n++] = (struct len_id){ v->tokens[i].len, i };
    qsort(tmp, (size_t)n, sizeof(*tmp), cmp_len_id);
    for (int32_t i = 0; i < n; i++) v->special_cache[i] = tmp[i].id;
    v->n_special_cache = n;
    free(tmp);
    return NIB_OK;
}

static void build_byte_tokens(struct nib_vocab *v) {
    static const char hex[] = "0123456789ABCDEF";
    for (int b = 0; b < 256; b++) {
        char buf[7] = { '<', '0', 'x', hex[b >> 4], hex[b & 15], '>', 0 };
        char one = (char)b;
        int32_t id = v->kind == NIB_VOCAB_SPM ? nib_vocab_find(v, buf, 6) : -1;
        v->byte_token[b] = id >= 0 ? id : nib_vocab_find(v, &one, 1);
    }
}

/* Lower-case substring test on general.name. */
static bool name_contains(const char *name, const char *needle) {
    char low[256];
    size_t n = strlen(name);
    if (n >= sizeof(low)) n = sizeof(low) - 1;
    for (size_t i = 0; i < n; i++) low[i] = (char)tolower((unsigned char)name[i]);
    low[n] = '\0';
    return strstr(low, needle) != NULL;
}

static void set_model_attrs(struct nib_vocab *v, const struct nib_gguf *g) {
    const char *name = "", *pre = "";
    nib_gguf_get_str(g, "general.name", &name, NULL);
    nib_gguf_get_str(g, "tokenizer.ggml.pre", &pre, NULL);
    if (strstr(pre, "jina-v2-de") || strstr(pre, "jina-v2-es") || strstr(pre, "jina-v2-code")) {
        int32_t m = find_text(v, "<mask>");
        if (m >= 0) v->tokens[m].attr |= NIB_TOKEN_ATTR_LSTRIP;
    } else if (name_contains(name, "phi-3") || name_contains(name, "phi3")) {
        for (int32_t i = 0; i < v->n_special_cache; i++) v->tokens[v->special_cache[i]].attr |= NIB_TOKEN_ATTR_RSTRIP;
        int32_t id = find_text(v, "</s>");
        if (id >= 0) v->tokens[id].attr |= NIB_TOKEN_ATTR_RSTRIP;
        static const char *const keep[] = { "<unk>", "<s>", "<|endoftext|>", NULL };
        for (int i = 0; keep[i]; i++)
            if ((id = find_text(v, keep[i])) >= 0) v->tokens[id].attr &= ~(uint32_t)NIB_TOKEN_ATTR_RSTRIP;
    } else if (name_contains(name, "modern-bert")) {
        int32_t m = find_text(v, "[MASK]");
        if (m >= 0) v->tokens[m].attr |= NIB_TOKEN_ATTR_LSTRIP;
    }
}

/* The newline token, found as llama.cpp finds it. */
static int find_newline(struct nib_vocab *v, struct nib_error *err) {
    if (v->kind == NIB_VOCAB_SPM) {
        v->special[NIB_SPECIAL_NL] = v->byte_token['\n'] >= 0 ? v->byte_token['\n'] : v->special[NIB_SPECIAL_PAD];
        return NIB_OK;
    }
    struct nib_tok_scratch *s = nib_tok_scratch_new();
    int32_t ids[8];
    struct nib_id_out out = { ids, 8, 0 };
    if (!s) return nib_error_set(err, NIB_E_NOMEM, "out of memory");
    int rc = nib_tokenize_bpe(v, "\n", 1, s, &out, err);
    nib_tok_scratch_free(s);
    if (rc) return rc;
    v->special[NIB_SPECIAL_NL] = out.n > 0 ? ids[0] : v->special[NIB_SPECIAL_PAD];
    return NIB_OK;
}

int nib_vocab_load_specials(struct nib_vocab *v, const struct nib_gguf *g, const struct nib_pre_spec *spec,
                            struct nib_error *err) {
    int rc = load_role_ids(v, g, spec, err);
    if (rc) return rc;
    detect_role(v, NIB_SPECIAL_EOT, eot_texts);
    detect_role(v, NIB_SPECIAL_EOM, eom_texts);
    detect_role(v, NIB_SPECIAL_FIM_PRE, fim_pre_texts);
    detect_role(v, NIB_SPECIAL_FIM_SUF, fim_suf_texts);
    detect_role(v, NIB_SPECIAL_FIM_MID, fim_mid_texts);
    detect_role(v, NIB_SPECIAL_FIM_PAD, fim_pad_texts);
    detect_role(v, NIB_SPECIAL_FIM_REP, fim_rep_texts);
    detect_role(v, NIB_SPECIAL_FIM_SEP, fim_sep_texts);
    for (int32_t i = 0; i < v->n_tokens; i++) {
        struct nib_token_data *t = &v->tokens[i];
        if ((t->attr & NIB_TOKEN_ATTR_CONTROL) && strstr(t->text, "unused")) t->attr |= NIB_TOKEN_ATTR_UNUSED;
    }
    if ((rc = build_eog(v, err)) || (rc = build_special_cache(v, err)) || (rc = build_pieces(v, err))) return rc;
    build_byte_tokens(v);
    set_model_attrs(v, g);
    return find_newline(v, err);
}
