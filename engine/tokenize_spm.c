/*
 * tokenize_spm.c — SentencePiece tokenization as llama.cpp does it: start
 * from single UTF-8 characters, repeatedly merge the adjacent pair whose
 * concatenation is the best-scoring token (leftmost on ties), then emit each
 * final span as its token or, failing that, byte by byte (<0xXX> tokens).
 */
#include "error.h"
#include "tok_scratch.h"
#include "vocab_internal.h"

#include <string.h>

static bool spm_before(const struct nib_bigram *a, const struct nib_bigram *b) {
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

/* Length of the UTF-8 character starting with byte c (by its high nibble). */
static int32_t utf8_len(unsigned char c) {
    static const int8_t len[16] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4 };
    return len[c >> 4];
}

static bool try_add(const struct nib_vocab *v, struct nib_tok_scratch *s, const char *text, int32_t l, int32_t r) {
    if (l < 0 || r < 0) return true;
    const struct nib_sym *a = &s->syms[l], *b = &s->syms[r];
    int32_t id = nib_vocab_find(v, text + a->start, (size_t)(a->n + b->n));
    if (id < 0) return true;
    struct nib_bigram bg = { v->tokens[id].score, 0, l, r, a->n, b->n };
    return nib_heap_push(s, &bg, spm_before);
}

static int emit_bytes(const struct nib_vocab *v, const char *p, int32_t n, struct nib_id_out *out) {
    for (int32_t i = 0; i < n; i++) {
        int32_t id = v->byte_token[(unsigned char)p[i]];
        if (id < 0) id = v->special[NIB_SPECIAL_UNK];
        if (id < 0) return NIB_E_UNSUPPORTED;
        nib_id_push(out, id);
    }
    return NIB_OK;
}

/* The merge loop on one span; NIB_E_UNSUPPORTED when a byte has no token. */
static int spm_segment(const struct nib_vocab *v, const char *text, int32_t len, struct nib_tok_scratch *s,
                       struct nib_id_out *out) {
    if (len == 0) return NIB_OK;
    if (!NIB_SCRATCH_RESERVE(s, syms, (size_t)len)) return NIB_E_NOMEM;
    int32_t n = 0;
    for (int32_t off = 0; off < len; n++) {
        int32_t cl = utf8_len((unsigned char)text[off]);
        if (cl > len - off) cl = len - off;
        s->syms[n] = (struct nib_sym){ off, cl, n - 1, off + cl == len ? -1 : n + 1, -1 };
        off += cl;
    }
    s->n_heap = 0;
    for (int32_t i = 1; i < n; i++)
        if (!try_add(v, s, text, i - 1, i)) return NIB_E_NOMEM;
    while (s->n_heap) {
        struct nib_bigram bg = nib_heap_pop(s, spm_before);
        struct nib_sym *l = &s->syms[bg.left], *r = &s->syms[bg.right];
        if (l->n == 0 || r->n == 0 || l->n != bg.n_left || r->n != bg.n_right) continue;
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0) s->syms[r->next].prev = bg.left;
        if (!try_add(v, s, text, l->prev, bg.left) || !try_add(v, s, text, bg.left, l->next)) return NIB_E_NOMEM;
    }
    for (int32_t i = 0; i != -1; i = s->syms[i].next) {
        const struct nib_sym *sym = &s->syms[i];
        int32_t id = nib_vocab_find(v, text + sym->start, (size_t)sym->n);
        int rc = id >= 0 ? (nib_id_push(out, id), NIB_OK) : emit_bytes(v, text + sym->start, sym->n, out);
        if (rc) return rc;
    }
    return NIB_OK;
}

static bool is_space_mark(const char *p) { return !memcmp(p, "\xe2\x96\x81", 3); }

int nib_tokenize_spm(const struct nib_vocab *v, const char *text, size_t len, struct nib_tok_scratch *s,
                     struct nib_id_out *out, struct nib_error *err) {
    if (len > INT32_MAX) return nib_error_set(err, NIB_E_ARG, "text fragment of %zu bytes is too long", len);
    int rc = NIB_OK;
    if (!v->spm_split_safe) {
        rc = spm_segment(v, text, (int32_t)len, s, out);
    } else {
        /* No token spans a word boundary (a U+2581 after another character),
         * so words merge independently, and repeated words come from the cache. */
        size_t start = 0;
        for (size_t p = 3; p + 3 <= len && !rc; p++) {
            if (!is_space_mark(text + p) || is_space_mark(text + p - 3)) continue;
            rc = nib_tokenize_word_cached(v, text + start, (int32_t)(p - start), s, out, spm_segment);
            start = p;
        }
        if (!rc) rc = nib_tokenize_word_cached(v, text + start, (int32_t)(len - start), s, out, spm_segment);
    }
    if (rc == NIB_E_NOMEM) return nib_error_set(err, rc, "out of memory");
    if (rc) return nib_error_set(err, rc, "cannot encode a byte: the vocabulary has no byte token and no unknown token");
    return NIB_OK;
}
