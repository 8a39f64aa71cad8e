/*
 * ppl_report.h — what `nib perplexity` accumulates over its chunks and
 * prints: the running estimate "[1]x,[2]y,..." and "Final estimate: PPL =
 * X +/- Y" (llama.cpp's formula: the standard error of the mean NLL times
 * PPL), or for --kl-divergence llama.cpp's per-chunk table and its
 * perplexity / KL divergence / token probability statistics; or one JSON
 * object with the same numbers and the per-chunk values.
 *
 * Owned by one run; ppl_report_free releases it (a zeroed report too).
 */
#ifndef NIB_PPL_REPORT_H
#define NIB_PPL_REPORT_H

#include "ppl_math.h"

#include <stdbool.h>
#include <stdio.h>

struct ppl_report {
    int32_t n_chunk, n_ctx;
    int32_t n_tokens; /* of the whole text (the base file's n_chunk * n_ctx with --kl-divergence); set by the caller */
    bool    kld_mode;
    /* plain perplexity: sums of the scored tokens' NLL and NLL^2 */
    double  nll, nll2;
    int64_t count;
    /* --kl-divergence */
    struct ppl_kld_sums kld;
    float  *kld_values, *p_diff_values; /* [n_chunk * rows per chunk], in scoring order */
    /* per chunk: the running estimate after it, its own PPL, the running mean KLD */
    double *run_ppl, *own_ppl, *run_kld;
    int32_t n_done;
    double  prev_nll;
    int64_t prev_count;
};

int  ppl_report_init(struct ppl_report *r, int32_t n_chunk, int32_t n_ctx, bool kld_mode);
void ppl_report_free(struct ppl_report *r);
/* The table header of --kl-divergence. */
void ppl_report_kld_header(FILE *out);
/* After chunk c (0-based) is scored: records its values; prints its entry
 * to out unless out is NULL. */
void ppl_report_chunk(struct ppl_report *r, int32_t c, FILE *out);
/* The final numbers (text or JSON) to out. 0, or 1 with a message printed. */
int  ppl_report_final(struct ppl_report *r, bool json, FILE *out);

#endif
