/*
 * sampler.h — picking the next token from a logits vector.
 *
 * Purpose: llama.cpp's default sampler chain (common/sampling.cpp with
 * mirostat off, DRY / XTC / top-n-sigma off), as one object:
 *
 *   logits -> logit bias -> penalties -> top-k -> typical-p -> top-p -> min-p
 *          -> temperature -> draw from the softmax
 *
 * Each step follows llama.cpp's definition (src/llama-sampler.cpp), float
 * arithmetic included, and leaves the candidates in the order llama.cpp
 * leaves them, so a given uniform draw maps to the same token:
 *  - logit bias: each (token, bias) entry is added in list order; a bias of
 *    -INFINITY bans the token.
 *  - penalties over the last penalty_last_n accepted tokens: a token seen c > 0
 *    times gets logit *= repeat_penalty when logit <= 0, else
 *    logit /= repeat_penalty; then logit -= c * frequency_penalty + presence_penalty.
 *    Off when penalty_last_n == 0 or all three penalties are neutral.
 *  - top-k (k > 0): keeps the k highest logits, sorted descending.
 *  - typical-p (< 1): sorts by |-log p - entropy| ascending and keeps the
 *    shortest prefix whose cumulative probability is > typical_p.
 *  - top-p (< 1): keeps the shortest prefix of the candidates sorted by
 *    descending probability whose cumulative probability is >= top_p.
 *  - min-p (> 0): keeps tokens with logit >= max logit + log(min_p), i.e.
 *    p >= min_p * p_max.
 *  - temperature: logits /= temperature; temperature <= 0 is greedy.
 *  - draw: u = one uniform double in [0, 1); the first candidate (in the
 *    order above) whose running probability sum reaches u * sum is chosen.
 * Every filter keeps at least one token (llama.cpp's min_keep = 0 behaves so).
 * Checked against libllama's own chain (same seed, same logits, penalties and
 * bias included): the same tokens and bit-identical probabilities, except where
 * equal logits are ordered differently (see ties below).
 *
 * Random numbers: mt19937, seeded as std::mt19937(seed) for seeds below 2^32
 * (llama.cpp's seeds are 32-bit) and with init_by_array({lo, hi}) otherwise;
 * a draw is (a + b * 2^32) / 2^64 rounded to double from two consecutive
 * outputs a, b (below 1), as libstdc++'s uniform_real_distribution<double>.
 * Every nib_sampler_sample call consumes exactly one draw, greedy included,
 * so the k-th call always uses the k-th draw. The draws depend only on the
 * seed (no global state, no threads); the chosen tokens also depend on the
 * platform's expf in the last bit, which matters only when a draw lands within
 * rounding of a boundary.
 *
 * Intentional differences from llama.cpp:
 *  - NaN logits are treated as -INFINITY; a +INFINITY logit is an error
 *    (llama.cpp would produce NaN probabilities). A logit that a bias or
 *    penalty pushes past FLT_MAX is clamped to FLT_MAX.
 *  - Tokens whose logit is -INFINITY (after bias and penalties) are dropped
 *    before the filters: they have probability 0 in llama.cpp too, but there
 *    they make typical-p's entropy NaN. If every logit is -INFINITY
 *    nib_sampler_sample fails with NIB_E_ARG.
 *  - Ties in logit (top-k, sorting, greedy) go to the lower token id; llama.cpp
 *    leaves the order of equal logits to std::partial_sort.
 *  - Greedy (temperature <= 0) is a single pass over the logits (bias and
 *    penalties folded in) returning the highest logit; when typical-p is on,
 *    which may drop the most likely token, the filters run first as in
 *    llama.cpp. nib_sampler_last_candidates then reports the chosen token alone
 *    with probability 1 (llama.cpp keeps the other survivors at probability 0).
 *  - penalty_last_n = -1 means the whole history up to
 *    NIB_SAMPLER_MAX_PENALTY_LAST_N tokens (llama.cpp: the context size).
 *  - The default seed is the fixed NIB_SAMPLER_DEFAULT_SEED; llama.cpp's
 *    default picks a random one. Pass a time-based seed for variety.
 *  - Typical-p leaves p = 0 terms (underflowed exp) out of the entropy, where
 *    llama.cpp gets NaN.
 *
 * Cost: one pass over the logits; with top-k on it keeps only a bounded heap,
 * so the rest is O(k log k). Without top-k, top-p sorts a growing prefix (256,
 * 512, ... as llama.cpp's 256 guess, then all), and typical-p sorts everything.
 *
 * Ownership and threads: a sampler owns copies of everything it needs
 * (logit_bias included) and its scratch: 24 bytes per vocab entry, 4 more when
 * penalties are on, plus 4 per penalty-window token. It is mutable: one thread
 * (one sequence) at a time. Distinct samplers are independent.
 */
#ifndef NIB_SAMPLER_H
#define NIB_SAMPLER_H

#include "nib.h"

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The public API (struct nib_sampler_params, nib_sampler_*) is in nib.h. */

/* ------------------------------------------------- internal (not in nib.h) */

/* One candidate token, as llama_token_data, plus a sort key for typical-p. */
struct nib_cand {
    int32_t id;
    float   logit;
    float   p;
    float   key;
};

/* A candidate list; `sorted` means by descending logit (ties: lower id). */
struct nib_cands {
    struct nib_cand *data;
    int32_t          n;
    bool             sorted;
};

struct nib_mt19937 {
    uint32_t mt[624];
    int32_t  i;
};

void     nib_mt19937_seed(struct nib_mt19937 *r, uint64_t seed);
uint32_t nib_mt19937_next(struct nib_mt19937 *r);
double   nib_mt19937_uniform(struct nib_mt19937 *r); /* [0, 1), two outputs */

/* True when a ranks before b: higher logit, then lower id. */
static inline bool nib_cand_before(const struct nib_cand *a, const struct nib_cand *b) {
    return a->logit > b->logit || (a->logit == b->logit && a->id < b->id);
}

/* Bounded heap of the k best candidates in data[0..k): the root is the worst
 * kept. Offer e once the heap holds k entries. */
void nib_cand_heap_make(struct nib_cand *data, int32_t k);
void nib_cand_heap_offer(struct nib_cand *data, int32_t k, const struct nib_cand *e);
void nib_cand_sort(struct nib_cand *data, int32_t n); /* descending, ties: lower id */

/* The filters, in llama.cpp's semantics; each keeps at least one candidate
 * of a non-empty list. p fields are left as each filter's softmax wrote them. */
void nib_cands_top_k(struct nib_cands *c, int32_t k);
void nib_cands_typical(struct nib_cands *c, float p);
void nib_cands_top_p(struct nib_cands *c, float p);
void nib_cands_min_p(struct nib_cands *c, float p);
/* Softmax with temperature (> 0) into p, then the draw u in [0, 1): returns
 * the chosen index into c->data. */
int32_t nib_cands_draw(struct nib_cands *c, float temperature, double u);

#ifdef __cplusplus
}
#endif
#endif /* NIB_SAMPLER_H */
