/*
 * vocab_internal.h — functions shared by the tokenizer's source files.
 */
#ifndef NIB_VOCAB_INTERNAL_H
#define NIB_VOCAB_INTERNAL_H

#include "vocab.h"

/* Special-token ids, auto-detected roles, end-of-generation set, attribute
 * fix-ups, special-token match order and the piece cache (vocab_special.c). */
int nib_vocab_load_specials(struct nib_vocab *v, const struct nib_gguf *g, const struct nib_pre_spec *spec,
                            struct nib_error *err);

/* Growable id output used by the tokenizers: writes while i < cap, always counts. */
struct nib_id_out {
    int32_t *ids;
    int64_t  cap, n;
};
static inline void nib_id_push(struct nib_id_out *o, int32_t id) {
    if (o->n < o->cap) o->ids[o->n] = id;
    o->n++;
}

/* Scratch for one tokenize call (symbols, heap, pre-tokenizer buffers). */
struct nib_tok_scratch;

/* SentencePiece on one text fragment (spaces already escaped to U+2581). */
int nib_tokenize_spm(const struct nib_vocab *v, const char *text, size_t len, struct nib_tok_scratch *s,
                     struct nib_id_out *out, struct nib_error *err);
/* Byte-level BPE on one text fragment. */
int nib_tokenize_bpe(const struct nib_vocab *v, const char *text, size_t len, struct nib_tok_scratch *s,
                     struct nib_id_out *out, struct nib_error *err);

struct nib_tok_scratch *nib_tok_scratch_new(void);
void nib_tok_scratch_free(struct nib_tok_scratch *s);

/* Piece of a token with control tokens rendered (the cache). */
static inline const char *nib_vocab_piece(const struct nib_vocab *v, int32_t id, int64_t *len) {
    *len = v->piece_off[id + 1] - v->piece_off[id];
    return v->pieces + v->piece_off[id];
}

#endif
