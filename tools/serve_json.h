/*
 * serve_json.h — the OpenAI response shapes nib serve writes: a whole
 * chat.completion / text_completion, the SSE chunks of a streamed one
 * (chat.completion.chunk: role first, then content deltas, then the
 * finish_reason; text_completion chunks for /v1/completions), the usage
 * chunk, and the error object {"error": {message, type, param, code}}.
 * Pure functions; NULL / false only when out of memory.
 */
#ifndef NIB_SERVE_JSON_H
#define NIB_SERVE_JSON_H

#include "serve_buf.h"
#include "serve_request.h"
#include "serve_task.h"

#include <stdint.h>

struct serve_resp_meta {
    enum serve_kind kind;
    const char     *id;      /* "chatcmpl-..." / "cmpl-..." */
    int64_t         created; /* Unix seconds */
    const char     *model;
    const struct nib_vocab *vocab; /* token texts for logprobs */
};

/* The non-streamed response body (malloc'd). lps[0..n_lps): the tokens'
 * log probabilities when the request asked (NULL: "logprobs": null); chat
 * gives {"content": [{token, logprob, bytes, top_logprobs}]}, completions
 * {tokens, token_logprobs, top_logprobs, text_offset}. */
char *serve_json_response(const struct serve_resp_meta *m, const char *text, const char *finish, int32_t n_prompt,
                          int32_t n_gen, const struct serve_lp *lps, int32_t n_lps);
/* Appends one "data: {...}\n\n" chunk: role (chat only) and/or text[0..n),
 * the log probabilities of the tokens since the last chunk (lps may be
 * NULL), and finish_reason when finish is not NULL. */
bool serve_sse_chunk(struct serve_buf *out, const struct serve_resp_meta *m, bool role, const char *text, size_t n,
                     const struct serve_lp *lps, int32_t n_lps, const char *finish);
/* Appends the usage chunk (choices empty), as stream_options.include_usage asks. */
bool serve_sse_usage(struct serve_buf *out, const struct serve_resp_meta *m, int32_t n_prompt, int32_t n_gen);
/* {"error": {...}} (malloc'd). */
char *serve_json_error(const struct serve_error *e);

#endif
