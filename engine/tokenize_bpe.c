/*
 * tokenize_bpe.c — byte-level BPE as llama.cpp does it: split the text into
 * words (pretokenizer.h), then within each word start from single characters
 * of the byte-encoded text and repeatedly merge the adjacent pair with the
 * lowest merge rank (leftmost on ties). A final span that is not a token is
 * emitted as the tokens of its single bytes, where those exist.
 */
#include "error.h"
#include "tok_scratch.h"
#include "vocab_internal.h"

static bool bpe_before(const struct nib_bigram *a, const struct nib_bigram *b) {
    return a->rank < b->rank || (a->rank == b->rank && a->left < b->left);
}

static int32_t utf8_len(unsigned char c) {
    static const int8_t len[16] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4 };
    return len[c >> 4];
}

static bool add_bigram(const struct nib_vocab *v, struct nib_tok_scratch *s, int32_t l, int32_t r) {
    if (l < 0 || r < 0) return true;
    const struct nib_sym *a = &s->syms[l], *b = &s->syms[r];
    if (a->id < 0 || b->id < 0) return true;
    int32_t rank = nib_merge_map_find(&v->merges, a->id, b->id);
    if (rank < 0) return true;
    struct nib_bigram bg = { 0, rank, l, r, a->n, b->n };
    return nib_heap_push(s, &bg, bpe_before);
}

static int merge_word(const struct nib_vocab *v, const char *w, int32_t len, struct nib_tok_scratch *s,
                      struct nib_id_out *out) {
    if (len == 0) return NIB_OK;
    if (v->ignore_merges) {
        int32_t id = nib_vocab_find(v, w, (size_t)len);
        if (id >= 0) {
            nib_id_push(out, id);
            return NIB_OK;
        }
    }
    if (!NIB_SCRATCH_RESERVE(s, syms, (size_t)len)) return NIB_E_NOMEM;
    int32_t n = 0;
    for (int32_t off = 0; off < len; n++) {
        int32_t cl = utf8_len((unsigned char)w[off]);
        if (cl > len - off) cl = len - off;
        s->syms[n] = (struct nib_sym){ off, cl, n - 1, off + cl == len ? -1 : n + 1, nib_vocab_find(v, w + off, (size_t)cl) };
        off += cl;
    }
    s->n_heap = 0;
    for (int32_t i = 1; i < n; i++)
        if (!add_bigram(v, s, i - 1, i)) return NIB_E_NOMEM;
    while (s->n_heap) {
        struct nib_bigram bg = nib_heap_pop(s, bpe_before);
        struct nib_sym *l = &s->syms[bg.left], *r = &s->syms[bg.right];
        if (l->n == 0 || r->n == 0 || l->n != bg.n_left || r->n != bg.n_right) continue;
        l->n += r->n;
        r->n = 0;
        l->id = nib_vocab_find(v, w + l->start, (size_t)l->n);
        l->next = r->next;
        if (r->next >= 0) s->syms[r->next].prev = bg.left;
        if (!add_bigram(v, s, l->prev, bg.left) || !add_bigram(v, s, bg.left, l->next)) return NIB_E_NOMEM;
    }
    for (int32_t i = 0; n > 0 && i != -1; i = s->syms[i].next) {
        const struct nib_sym *sym = &s->syms[i];
        if (sym->id >= 0) {
            nib_id_push(out, sym->id);
            continue;
        }
        for (int32_t k = 0; k < sym->n; k++) { /* llama.cpp: single raw bytes, where they are tokens */
            int32_t id = nib_vocab_find(v, w + sym->start + k, 1);
            if (id >= 0) nib_id_push(out, id);
        }
    }
    return NIB_OK;
}

int nib_tokenize_bpe(const struct nib_vocab *v, const char *text, size_t len, struct nib_tok_scratch *s,
                     struct nib_id_out *out, struct nib_error *err) {
    int rc = nib_pretokenize(&v->pre, text, len, &s->pre, err);
    if (rc) return rc;
    for (size_t i = 0; i < s->pre.n_words; i++) {
        uint32_t start = i ? s->pre.word_end[i - 1] : 0, end = s->pre.word_end[i];
        if (end - start > INT32_MAX) return nib_error_set(err, NIB_E_ARG, "word too long");
        if (nib_tokenize_word_cached(v, s->pre.words + start, (int32_t)(end - start), s, out, merge_word))
            return nib_error_set(err, NIB_E_NOMEM, "out of memory");
    }
    return NIB_OK;
}
