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

/* Speculative decoding options shared by nib generate and nib chat. */
struct gen_spec_args {
    const char            *draft;  /* -md / --model-draft */
    bool                   lookup; /* --lookup N given */
    struct nib_spec_params p;      /* --draft-max --draft-min --draft-p-min --lookup */
};
/* Takes option o with value v if it is one of them (*used says so); 1
 * (message printed) on a bad value. */
int gen_parse_spec(struct gen_spec_args *a, const char *o, const char *v, bool *used);
/* After parsing: 1 (message printed) when the options contradict each other. */
int gen_check_spec(const struct gen_spec_args *a);
extern const char *const GEN_SPEC_HELP; /* the options' lines for --help */

/* The draft model at path, checked against the target's vocabulary, and its
 * context: the size, batch and threads of ctx (kv_block 0: the default).
 * 0, or 1 with an error printed. */
int gen_open_draft(const char *path, const struct nib_model *target, const struct nib_context *ctx, int32_t kv_block,
                   struct nib_model **draft_model, struct nib_context **draft_ctx);
/* The speculation state for target context ctx: the draft model and its
 * context (same size, threads and batch), the vocabulary check, the draft's
 * sampler (from sp, seed ^ 0x5eedd4af7) and nib_spec. *draft_model,
 * *draft_ctx, *draft_sampler may stay NULL (--lookup). 0, or 1 with an
 * error printed. */
int gen_spec_setup(const struct gen_spec_args *a, const struct nib_sampler_params *sp, const struct nib_model *target,
                   struct nib_context *ctx, struct nib_model **draft_model, struct nib_context **draft_ctx,
                   struct nib_sampler **draft_sampler, struct nib_spec **spec);
/* "nib: speculative: ..." statistics on stderr. */
void gen_print_spec_stats(const struct nib_spec *spec);

/* A conversation through a chat template with the vocabulary's BOS/EOS
 * texts, generation prompt added; a rendered leading BOS is dropped when the
 * tokenizer adds one itself (as llama.cpp does), so the result tokenizes
 * with NIB_TOKENIZE_ADD_SPECIAL to exactly one BOS. *out: malloc'd text. */
int gen_render_chat(const char *tmpl, const struct nib_vocab *v, const struct nib_chat_message *msgs, size_t n, char **out,
                    struct nib_error *err);

/* Prints the result as one line of JSON on stdout; 0, or 1 on failure. */
int gen_print_json(const struct nib_vocab *v, const int32_t *prompt, int32_t n_prompt, const int32_t *tokens, int32_t n_tokens,
                   const char *stop);

#endif
