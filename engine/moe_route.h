/*
 * moe_route.h — Mixture-of-Experts routing of one token, as llama.cpp
 * computes it (bit for bit on its AVX2 CPU build):
 *
 *   p        = softmax(router logits)        ggml_soft_max: max, exp(x - max)
 *                                             (ggml_v_expf 8 lanes at a time,
 *                                             libm expf for the tail), the sum
 *                                             in double, p *= (float)(1 / sum)
 *   ids      = the k largest p, largest first ggml_argsort (descending) + view:
 *                                             libstdc++ std::sort's order, ties
 *                                             included (not stable above 16
 *                                             experts), reproduced exactly
 *   weights  = p[ids] / max(sum, 2^-14)       the sum in double, rounded once
 *
 * Top-k works on the probabilities, not the logits; the weights are always
 * renormalized (both Mixtral-style llama and qwen3moe ask for it).
 */
#ifndef NIB_MOE_ROUTE_H
#define NIB_MOE_ROUTE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* probs [n_expert] (out; may be logits), ids [k] and weights [k] (out); 1 <= k <= n_expert <= 1024. */
void nib_moe_route(const float *logits, int32_t n_expert, int32_t k, float *probs, int32_t *ids, float *weights);

/* idx[0..n) = 0..n-1 ordered by p descending, as libstdc++'s std::sort with
 * the comparator p[a] > p[b] orders them (introsort, then insertion sort). */
void nib_argsort_desc(const float *p, int32_t n, int32_t *idx);

/* ggml_soft_max over one row of n (y may equal x). */
void nib_softmax_ggml(const float *x, int32_t n, float *y);

#ifdef __cplusplus
}
#endif

#endif
