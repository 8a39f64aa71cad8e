/*
 * vocab.h — the tokenizer's vocabulary (internal layout of struct nib_vocab).
 *
 * Built once by nib_vocab_load (vocab_load.c) from GGUF metadata, then never
 * written: tokenization keeps its scratch state on the caller's side, so one
 * vocab serves any number of threads. Owns copies of all token texts.
 *
 * Lookups: token text -> id through an open-addressing hash (token_map.h);
 * BPE merge (left id, right id) -> rank through a second table.
 */
#ifndef NIB_VOCAB_H
#define NIB_VOCAB_H

#include "nib.h"
#include "arena.h"
#include "pretokenizer.h"
#include "token_map.h"

struct nib_token_data {
    const char *text;  /* NUL-terminated, owned by the vocab's arena */
    uint32_t    len;
    float       score;
    uint32_t    attr;  /* enum nib_token_attr bits */
};

struct nib_vocab {
    enum nib_vocab_kind    kind;
    int32_t                n_tokens;
    struct nib_token_data *tokens;        /* [n_tokens] */
    struct nib_token_map   by_text;       /* text -> id */
    struct nib_merge_map   merges;        /* BPE: (left, right) -> rank */
    int64_t                n_merges;

    struct nib_pretokenizer pre;          /* BPE: compiled split regexes */
    const char *pre_name;

    bool add_bos, add_eos;
    bool add_space_prefix;  /* SPM: prepend ' ' to text following a special token or the start */
    bool clean_spaces;      /* detokenize: " ," -> "," etc. */
    bool ignore_merges;     /* BPE: a pre-split word that is a token is taken whole */
    bool spm_split_safe;    /* SPM: no token has U+2581 after another character, so text
                               can be merged word by word (see tokenize_spm.c) */

    int32_t special[NIB_SPECIAL_COUNT];   /* -1: none */
    int32_t *eog;                         /* ascending ids */
    int32_t  n_eog;
    int32_t *special_cache;               /* ids matched in text, longest text first */
    int32_t  n_special_cache;
    int32_t  byte_token[256];             /* SPM/BPE id for each raw byte; -1: none */

    char    *pieces;                      /* token_to_piece(id, render special) concatenated */
    int64_t *piece_off;                   /* [n_tokens + 1] */

    struct nib_arena arena;
};

/* Text -> id, -1 when absent. */
static inline int32_t nib_vocab_find(const struct nib_vocab *v, const char *s, size_t n) {
    return nib_token_map_find(&v->by_text, v->tokens, s, n);
}

#endif
