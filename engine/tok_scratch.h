/*
 * tok_scratch.h — per-call working memory of the tokenizers (internal).
 * One scratch belongs to one thread at a time; buffers grow and are reused.
 */
#ifndef NIB_TOK_SCRATCH_H
#define NIB_TOK_SCRATCH_H

#include "grow.h"
#include "pretokenizer.h"
#include "word_cache.h"

#include <stdint.h>

/* A symbol: a span of the text being merged, linked to its neighbours. */
struct nib_sym {
    int32_t start, n;   /* byte span; n == 0 once merged into its left neighbour */
    int32_t prev, next; /* -1 at the ends */
    int32_t id;         /* token of the span, -1 if none (BPE) */
};

/* A candidate merge of two adjacent symbols. SPM orders by score (higher
 * first), BPE by rank (lower first); ties go to the leftmost pair. */
struct nib_bigram {
    float   score;
    int32_t rank;
    int32_t left, right;
    int32_t n_left, n_right; /* symbol lengths when queued: stale if they changed */
};

/* A piece of the input: raw text, or a special token already recognised. */
struct nib_fragment {
    int64_t off, len; /* raw text span; len < 0 marks a token fragment */
    int32_t id;
};

struct nib_tok_scratch {
    struct nib_pre_scratch pre;
    struct nib_sym     *syms;  size_t cap_syms;
    struct nib_bigram  *heap;  size_t cap_heap, n_heap;
    char               *text;  size_t cap_text;
    struct nib_fragment *frags, *frags2; size_t cap_frags, cap_frags2;
    uint64_t            pairs[1024]; /* bitmap of byte pairs present in the input */
    struct nib_word_cache cache;
    int32_t            *wids;  size_t cap_wids; /* ids of the word being tokenized */
};


struct nib_vocab;
struct nib_id_out;
typedef int (*nib_word_fn)(const struct nib_vocab *v, const char *w, int32_t len, struct nib_tok_scratch *s,
                           struct nib_id_out *out);
/* Tokenizes word w with fn, through the word cache; appends the ids to out. */
int nib_tokenize_word_cached(const struct nib_vocab *v, const char *w, int32_t len, struct nib_tok_scratch *s,
                             struct nib_id_out *out, nib_word_fn fn);

#define NIB_SCRATCH_RESERVE(s, field, n) \
    nib_grow((void **)&(s)->field, &(s)->cap_##field, (n), sizeof(*(s)->field))

/* Binary heap of bigrams under the given order. */
typedef bool (*nib_bigram_before)(const struct nib_bigram *a, const struct nib_bigram *b);
bool nib_heap_push(struct nib_tok_scratch *s, const struct nib_bigram *b, nib_bigram_before before);
struct nib_bigram nib_heap_pop(struct nib_tok_scratch *s, nib_bigram_before before);

#endif
