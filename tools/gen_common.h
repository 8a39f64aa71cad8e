/*
 * gen_common.h — pieces nib generate and nib batch share: the sampling
 * flags and the JSON result ({prompt_tokens, tokens, text, stop}, the shape
 * of ../shared/ref/llamaref.mjs generate).
 */
#ifndef NIB_GEN_COMMON_H
#define NIB_GEN_COMMON_H

#include "nib.h"

#include <stdbool.h>

/* Takes option o with value v if it is a sampling flag (--temp --top-k
 * --top-p --min-p --typical-p --repeat-penalty --repeat-last-n
 * --frequency-penalty --presence-penalty --seed) or -n/--n-predict: *used
 * says whether it was; returns 1 (message printed) on a bad value. */
int gen_parse_sampling(struct nib_sampler_params *p, int32_t *n_predict, const char *o, const char *v, bool *used);

/* Prints the result as one line of JSON on stdout; 0, or 1 on failure. */
int gen_print_json(const struct nib_vocab *v, const int32_t *prompt, int32_t n_prompt, const int32_t *tokens, int32_t n_tokens,
                   const char *stop);

#endif
