/*
 * word_cache.h — memo of word -> token ids for one tokenize call.
 *
 * Tokenizing a word depends only on its bytes (BPE words; SentencePiece
 * segments when the vocabulary allows splitting, see vocab.h), and natural
 * text repeats words constantly, so each distinct word is merged once.
 * Bounded: when full it is cleared and refilled. Owned by one scratch.
 */
#ifndef NIB_WORD_CACHE_H
#define NIB_WORD_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct nib_word_entry {
    uint32_t hash;
    uint32_t len;        /* 0: empty slot */
    uint32_t text_off;   /* into text pool */
    uint32_t ids_off;    /* into ids pool */
    uint32_t n_ids;
};

struct nib_word_cache {
    struct nib_word_entry *slots;
    uint32_t mask, used;
    char    *text;  size_t text_len, text_cap;
    int32_t *ids;   size_t ids_len, ids_cap;
};

/* Words longer than this are not cached (rare, and would crowd the pools). */
#define NIB_WORD_CACHE_MAX_LEN 64

/* Returns the cached ids of w (and their count) or NULL. */
const int32_t *nib_word_cache_get(const struct nib_word_cache *c, const char *w, size_t len, uint32_t hash, uint32_t *n_ids);
/* Remembers ids for w; false only when out of memory. */
bool nib_word_cache_put(struct nib_word_cache *c, const char *w, size_t len, uint32_t hash, const int32_t *ids, uint32_t n_ids);
void nib_word_cache_free(struct nib_word_cache *c);

#endif
