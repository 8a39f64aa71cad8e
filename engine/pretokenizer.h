/*
 * pretokenizer.h — the BPE pre-tokenizer: split text into words with the
 * regexes llama.cpp assigns to each `tokenizer.ggml.pre` value (PCRE2, UTF
 * mode), then map each word's bytes to GPT-2's byte-level unicode alphabet.
 *
 * Semantics follow llama.cpp's unicode_regex_split: the input is decoded to
 * code points leniently (each undecodable byte becomes U+FFFD); each regex in
 * turn splits every current piece, keeping the unmatched gaps as pieces too;
 * a regex never looks past the end of the piece it runs on. Non-ASCII white
 * space is presented to the regexes as U+000B, exactly as llama.cpp does, so
 * `\s` (ASCII-only, no UCP) and literal classes behave identically. A regex
 * that names a Unicode category sees every other non-ASCII code point as one
 * stand-in per category taken from llama.cpp's tables (unicode_class.h), so
 * words follow llama.cpp's Unicode version, not the installed PCRE2's.
 *
 * The compiled regexes are immutable after init; each split call brings its
 * own scratch (struct nib_pre_scratch), so many threads may split at once.
 */
#ifndef NIB_PRETOKENIZER_H
#define NIB_PRETOKENIZER_H

#include "nib.h"

#define NIB_PRE_MAX_REGEX 6

/* Per-name settings from llama.cpp's vocabulary loader. */
struct nib_pre_spec {
    const char        *name;
    const char *const *regexes;  /* NULL-terminated */
    bool clean_spaces;           /* detokenize clean-up */
    bool ignore_merges;          /* a whole word that is a token is taken as is */
    bool add_bos;                /* default for add_bos_token */
    bool no_bos_token;           /* the BPE default BOS id (11) is dropped */
};

/* The spec for a `tokenizer.ggml.pre` value, or NULL when nib does not know it. */
const struct nib_pre_spec *nib_pre_spec_find(const char *name);
/* Names nib supports, for error messages: fills buf with "a, b, c". */
void nib_pre_spec_list(char *buf, size_t cap);

struct nib_pretokenizer {
    const struct nib_pre_spec *spec;
    int   n_regex;
    void *code[NIB_PRE_MAX_REGEX];   /* pcre2_code_8 * */
    bool  jit[NIB_PRE_MAX_REGEX];    /* JIT-compiled: matched with pcre2_jit_match */
    char  byte_utf8[256][2];         /* GPT-2 alphabet: byte -> UTF-8 (1-2 bytes) */
    uint8_t byte_len[256];
};

int  nib_pretokenizer_init(struct nib_pretokenizer *p, const struct nib_pre_spec *spec, struct nib_error *err);
void nib_pretokenizer_free(struct nib_pretokenizer *p);

/* Scratch reused across calls by one thread. Zero-initialize; free with
 * nib_pre_scratch_free. */
struct nib_pre_scratch {
    uint32_t *cps;      size_t cap_cps;     /* decoded code points */
    char     *match;    size_t cap_match;   /* UTF-8 shown to the regexes */
    uint32_t *cp_at;    size_t cap_cp_at;   /* match byte offset -> code point index */
    uint32_t *b_of;     size_t cap_b_of;    /* code point index -> match byte offset */
    uint32_t *pieces;   size_t cap_pieces;  /* (start, len) pairs in code points */
    uint32_t *pieces2;  size_t cap_pieces2;
    char     *words;    size_t cap_words;   /* byte-encoded words, back to back */
    uint32_t *word_end; size_t cap_word_end;
    size_t    n_words;
    void     *md;                           /* pcre2_match_data_8 * */
};

/* Splits text[0..len) into byte-encoded words: word i is
 * s->words[i ? s->word_end[i-1] : 0 .. s->word_end[i]). */
int  nib_pretokenize(const struct nib_pretokenizer *p, const char *text, size_t len,
                     struct nib_pre_scratch *s, struct nib_error *err);
void nib_pre_scratch_free(struct nib_pre_scratch *s);

/* GPT-2 byte-level alphabet: byte -> UTF-8 of its code point (1-2 bytes). */
int nib_byte_to_unicode(uint8_t b, char out[2]);
/* Reverse: one code point -> byte; -1 when cp is not in the alphabet. */
int nib_unicode_to_byte(uint32_t cp);

/* llama.cpp's lenient UTF-8 decoding of one code point at s[*i] (advancing *i);
 * returns 0xFFFD and advances one byte on an undecodable sequence. */
uint32_t nib_utf8_decode_lenient(const char *s, size_t n, size_t *i);
/* Encodes cp as llama.cpp does (surrogates included); returns bytes (1-4),
 * 0 for cp > 0x10FFFF. */
int nib_utf8_encode(uint32_t cp, char out[4]);

#endif
