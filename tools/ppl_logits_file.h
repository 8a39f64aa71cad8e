/*
 * ppl_logits_file.h — the KL-divergence base file, in llama.cpp's format
 * (llama-perplexity --kl-divergence-base / --save-all-logits), so files
 * made by either tool work with the other. Little-endian, no padding:
 *
 *   char    magic[8] = "_logits_"
 *   int32   n_ctx, n_vocab, n_chunk
 *   int32   tokens[n_chunk * n_ctx]   the text's tokens (BOS as tokenized,
 *                                     not the per-chunk BOS substitution)
 *   then per chunk, for each scored position p = n_ctx/2 .. n_ctx-2:
 *   uint16  row[PPL_PACKED_WORDS(n_vocab)]   (see ppl_math.h)
 *
 * The reader checks the header against caps and the file's size against
 * the size the header implies before allocating anything, and every token
 * id against n_vocab. Functions return 0 or nonzero with msg filled;
 * nothing is printed.
 */
#ifndef NIB_PPL_LOGITS_FILE_H
#define NIB_PPL_LOGITS_FILE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct ppl_base_file {
    FILE    *f;
    int32_t  n_ctx, n_vocab, n_chunk;
    int32_t *tokens; /* [n_chunk * n_ctx], reader only */
    const char *path;    /* as given (not copied) */
    bool        regular; /* writer: path is a regular file, removed if writing fails */
};

/* Scored rows per chunk: positions n_ctx/2 .. n_ctx-2. */
static inline int32_t ppl_rows_per_chunk(int32_t n_ctx) { return n_ctx - 1 - n_ctx / 2; }

/* Creates path and writes the header and tokens[n_chunk * n_ctx]. */
int  ppl_base_create(struct ppl_base_file *b, const char *path, int32_t n_ctx, int32_t n_vocab, int32_t n_chunk,
                     const int32_t *tokens, char *msg, size_t msg_cap);
/* Opens and validates path; b->tokens is allocated. */
int  ppl_base_open(struct ppl_base_file *b, const char *path, char *msg, size_t msg_cap);
/* Appends / reads the next packed row. */
int  ppl_base_write_row(struct ppl_base_file *b, const uint16_t *row, char *msg, size_t msg_cap);
int  ppl_base_read_row(struct ppl_base_file *b, uint16_t *row, char *msg, size_t msg_cap);
/* A writer that failed: closes it and removes its file if that is a
 * regular file (a partial base file would only mislead). */
void ppl_base_discard(struct ppl_base_file *b);
/* Closes (a writer: flushes, and on a failed write reports it and removes
 * the file as ppl_base_discard does). */
int  ppl_base_close(struct ppl_base_file *b, char *msg, size_t msg_cap);

#endif
