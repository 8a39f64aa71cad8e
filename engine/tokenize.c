/*
 * tokenize.c — nib_tokenize: special-token partitioning, then SentencePiece
 * or BPE on each remaining piece of raw text, with BOS/EOS as the vocab says.
 *
 * Partitioning follows llama.cpp exactly: special tokens are taken longest
 * first; each one is cut out of every raw fragment left by the longer ones
 * (so a longer token wins over a shorter one it overlaps, wherever it
 * starts). Control and unknown tokens are only matched with
 * NIB_TOKENIZE_PARSE_SPECIAL; user-defined tokens always are. LSTRIP/RSTRIP
 * tokens swallow adjacent ASCII white space.
 */
#define _GNU_SOURCE /* memmem */
#include "error.h"
#include "tok_scratch.h"
#include "vocab_internal.h"

#include <ctype.h>
#include <string.h>

static void mark_pairs(struct nib_tok_scratch *s, const char *text, size_t len) {
    memset(s->pairs, 0, sizeof(s->pairs));
    for (size_t i = 0; i + 1 < len; i++) {
        unsigned k = (unsigned char)text[i] << 8 | (unsigned char)text[i + 1];
        s->pairs[k >> 6] |= 1ull << (k & 63);
    }
}

/* False when some byte pair of t never occurs in the input: t cannot match. */
static bool may_occur(const struct nib_tok_scratch *s, const struct nib_token_data *t) {
    for (uint32_t i = 0; i + 1 < t->len; i++) {
        unsigned k = (unsigned char)t->text[i] << 8 | (unsigned char)t->text[i + 1];
        if (!(s->pairs[k >> 6] >> (k & 63) & 1)) return false;
    }
    return true;
}

static bool push_frag(struct nib_fragment **f, size_t *cap, size_t *n, struct nib_fragment x) {
    if (!nib_grow((void **)f, cap, *n + 1, sizeof(**f))) return false;
    (*f)[(*n)++] = x;
    return true;
}

/* Cuts every occurrence of token id out of the raw fragments. */
static bool cut_token(const struct nib_vocab *v, struct nib_tok_scratch *s, const char *text, size_t *n_frags, int32_t id) {
    const struct nib_token_data *t = &v->tokens[id];
    size_t n2 = 0;
    for (size_t i = 0; i < *n_frags; i++) {
        struct nib_fragment f = s->frags[i];
        if (f.len < 0) {
            if (!push_frag(&s->frags2, &s->cap_frags2, &n2, f)) return false;
            continue;
        }
        int64_t off = f.off, end = f.off + f.len;
        for (;;) {
            const char *m = end - off >= (int64_t)t->len ? memmem(text + off, (size_t)(end - off), t->text, t->len) : NULL;
            if (!m) {
                if (end > off && !push_frag(&s->frags2, &s->cap_frags2, &n2, (struct nib_fragment){ off, end - off, -1 }))
                    return false;
                break;
            }
            int64_t at = m - text, left = at - off;
            if (t->attr & NIB_TOKEN_ATTR_LSTRIP)
                while (left > 0 && isspace((unsigned char)text[off + left - 1])) left--;
            if (left > 0 && !push_frag(&s->frags2, &s->cap_frags2, &n2, (struct nib_fragment){ off, left, -1 })) return false;
            if (!push_frag(&s->frags2, &s->cap_frags2, &n2, (struct nib_fragment){ 0, -1, id })) return false;
            off = at + t->len;
            if (t->attr & NIB_TOKEN_ATTR_RSTRIP)
                while (off < end && isspace((unsigned char)text[off])) off++;
        }
    }
    struct nib_fragment *tmp = s->frags;
    size_t tc = s->cap_frags;
    s->frags = s->frags2;
    s->cap_frags = s->cap_frags2;
    s->frags2 = tmp;
    s->cap_frags2 = tc;
    *n_frags = n2;
    return true;
}

static bool partition(const struct nib_vocab *v, struct nib_tok_scratch *s, const char *text, size_t len, bool parse_special,
                      size_t *n_frags) {
    *n_frags = 0;
    if (len == 0) return true;
    if (!push_frag(&s->frags, &s->cap_frags, n_frags, (struct nib_fragment){ 0, (int64_t)len, -1 })) return false;
    mark_pairs(s, text, len);
    for (int32_t k = 0; k < v->n_special_cache; k++) {
        int32_t id = v->special_cache[k];
        const struct nib_token_data *t = &v->tokens[id];
        if (!parse_special && (t->attr & (NIB_TOKEN_ATTR_CONTROL | NIB_TOKEN_ATTR_UNKNOWN))) continue;
        if (t->len == 0 || t->len > len || !may_occur(s, t)) continue;
        if (!cut_token(v, s, text, n_frags, id)) return false;
    }
    return true;
}

/* SPM input: optional leading space, then ' ' -> U+2581. */
static const char *spm_escape(struct nib_tok_scratch *s, const char *p, size_t n, bool prefix, size_t *out_len) {
    if (!NIB_SCRATCH_RESERVE(s, text, 3 * n + 4)) return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n + prefix; i++) {
        char c = prefix ? (i == 0 ? ' ' : p[i - 1]) : p[i];
        if (c == ' ') {
            memcpy(s->text + o, "\xe2\x96\x81", 3);
            o += 3;
        } else {
            s->text[o++] = c;
        }
    }
    *out_len = o;
    return s->text;
}

static int add_special_id(const struct nib_vocab *v, enum nib_special which, const char *name, struct nib_id_out *out,
                          struct nib_error *err) {
    int32_t id = v->special[which];
    if (id < 0)
        return nib_error_set(err, NIB_E_UNSUPPORTED, "the vocabulary asks for a %s token (add_%s_token) but has none", name,
                             which == NIB_SPECIAL_BOS ? "bos" : "eos");
    nib_id_push(out, id);
    return NIB_OK;
}

static int run(const struct nib_vocab *v, const char *text, size_t len, uint32_t flags, struct nib_tok_scratch *s,
               struct nib_id_out *out, struct nib_error *err) {
    size_t n_frags;
    if (!partition(v, s, text, len, flags & NIB_TOKENIZE_PARSE_SPECIAL, &n_frags))
        return nib_error_set(err, NIB_E_NOMEM, "out of memory");
    bool add = flags & NIB_TOKENIZE_ADD_SPECIAL;
    int rc;
    if (add && v->add_bos && (rc = add_special_id(v, NIB_SPECIAL_BOS, "BOS", out, err))) return rc;
    bool prev_special = true;
    for (size_t i = 0; i < n_frags; i++) {
        const struct nib_fragment *f = &s->frags[i];
        if (f->len < 0) {
            nib_id_push(out, f->id);
            prev_special = true;
            continue;
        }
        if (v->kind == NIB_VOCAB_SPM) {
            size_t n;
            const char *esc = spm_escape(s, text + f->off, (size_t)f->len, v->add_space_prefix && prev_special, &n);
            if (!esc) return nib_error_set(err, NIB_E_NOMEM, "out of memory");
            rc = nib_tokenize_spm(v, esc, n, s, out, err);
        } else {
            rc = nib_tokenize_bpe(v, text + f->off, (size_t)f->len, s, out, err);
        }
        if (rc) return rc;
        prev_special = false;
    }
    if (add && v->add_eos && (rc = add_special_id(v, NIB_SPECIAL_EOS, "EOS", out, err))) return rc;
    return NIB_OK;
}

int64_t nib_tokenize(const struct nib_vocab *v, const char *text, size_t len, uint32_t flags, int32_t *ids, int64_t cap,
                     struct nib_error *err) {
    if (!v || (!text && len) || (!ids && cap > 0) || cap < 0)
        return nib_error_set(err, NIB_E_ARG, "nib_tokenize: invalid argument");
    struct nib_tok_scratch *s = nib_tok_scratch_new();
    if (!s) return nib_error_set(err, NIB_E_NOMEM, "out of memory");
    struct nib_id_out out = { ids, cap, 0 };
    int rc = run(v, text ? text : "", len, flags, s, &out, err);
    nib_tok_scratch_free(s);
    return rc ? rc : out.n;
}
