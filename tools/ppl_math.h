/*
 * ppl_math.h — the per-row arithmetic of `nib perplexity`, in the same
 * float/double precision and order as llama.cpp's tools/perplexity so the
 * numbers agree to the printed digits, not only to the method:
 *
 *  - plain NLL of the next token: max in float, sum of expf(l - max) in
 *    double, -((l_tok - max) - log(sum)).
 *  - the same NLL while packing the row into llama.cpp's KL-divergence base
 *    format (below); there log(sum) is rounded to float first, as llama.cpp
 *    does on that path.
 *  - one row against a packed base row: KL(base || current), top-1 agreement,
 *    both NLLs and the probability difference of the true token.
 *    One deliberate difference from llama.cpp: the current row is packed
 *    the same way first, and the KL terms and the top token use its packed
 *    log-probs (exact ones below its packed range). llama.cpp compares the
 *    packed base with exact current values, so a model compared with itself
 *    shows a KLD of ~1e-8 and may miss a top token in a near-tie; here equal
 *    rows give exactly 0 and 100%. The two differ by the packing's
 *    resolution (<= 1.3e-4 nats per log-prob).
 *
 * Packed row ("log-prob row"), PPL_PACKED_WORDS(n_vocab) uint16 words:
 *   words 0..1: float scale, words 2..3: float min_log_prob (host order,
 *   little-endian on every supported target), words 4..4+n_vocab: q[i], with
 *   log p[i] ~= scale * q[i] + min_log_prob over a range of 16 nats below the
 *   top token; one zero word of padding when n_vocab is odd.
 *
 * Stateless functions; struct ppl_kld_sums is plain data owned by the caller.
 */
#ifndef NIB_PPL_MATH_H
#define NIB_PPL_MATH_H

#include <stddef.h>
#include <stdint.h>

#define PPL_PACKED_WORDS(n_vocab) ((size_t)2 * (((size_t)(n_vocab) + 1) / 2) + 4)

/* -log softmax(logits)[tok]. */
double ppl_nll(const float *logits /* [n_vocab] */, int32_t n_vocab, int32_t tok);

/* Packs the row into out[PPL_PACKED_WORDS(n_vocab)] and returns the NLL of tok. */
double ppl_nll_pack(const float *logits /* [n_vocab] */, int32_t n_vocab, int32_t tok, uint16_t *out);

/* Running sums over scored tokens for a KL-divergence comparison. */
struct ppl_kld_sums {
    double sum_nll, sum_nll2;           /* current model */
    double sum_nll_base, sum_nll_base2; /* base model (from the packed rows) */
    double sum_nll_nll_base;
    double sum_kld, sum_kld2;
    double sum_p_diff, sum_p_diff2, sum_p_diff4;
    float  max_p_diff;
    int64_t n_same_top, count;
};

/* Adds one row; *kld gets KL(base || current) of this row, *p_diff the
 * current minus the base probability of tok. scratch: PPL_PACKED_WORDS(n_vocab) words. */
void ppl_kld_row(const float *logits /* [n_vocab] */, int32_t n_vocab, const uint16_t *base /* packed */,
                 int32_t tok, uint16_t *scratch, struct ppl_kld_sums *s, float *kld, float *p_diff);

/* Mean of count samples from their sum and sum of squares, and its standard
 * error (0 when count <= 10 or the variance is not positive), as llama.cpp. */
void ppl_mean_err(double sum, double sum2, int64_t count, double *mean, double *err);
/* Covariance of the two means (0 when count < 10). */
double ppl_mean_cov(double sum_a, double sum_b, double sum_ab, int64_t count);
/* Linear-interpolated percentile of sorted values (fraction in [0, 1]). */
float ppl_percentile(const float *sorted, size_t n, float fraction);

#endif
