/*
 * serve_request.h — nib serve's request bodies: JSON text (checked to be
 * valid UTF-8 first) parsed and validated into plain structs. Types are
 * strict (a string where a number belongs is a 400 naming the field), null
 * means "not given", and fields nib does not know are ignored, as OpenAI's
 * API does. Pure functions: safe on any thread.
 */
#ifndef NIB_SERVE_REQUEST_H
#define NIB_SERVE_REQUEST_H

#include "nib.h"

#include <stdbool.h>
#include <stddef.h>

/* An OpenAI-shaped error: HTTP status, message, and the field at fault. */
struct serve_error {
    int         status;  /* 400, 401, ... */
    const char *type;    /* "invalid_request_error", "server_error", ... */
    const char *code;    /* NULL, or e.g. "context_length_exceeded" */
    char        param[64];
    char        msg[512];
};
/* Fills e (param may be NULL) and returns 1. */
int serve_error_set(struct serve_error *e, int status, const char *type, const char *param, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

enum serve_kind { SERVE_CHAT, SERVE_COMPLETION };

#define SERVE_MAX_STOPS 16

struct serve_params {
    enum serve_kind           kind;
    bool                      stream, include_usage;
    int32_t                   max_tokens;  /* -1: not given */
    bool                      seed_given;
    struct nib_sampler_params sp;          /* logit_bias points at bias */
    struct nib_logit_bias    *bias;
    char                     *stops[SERVE_MAX_STOPS];
    int                       n_stops;
    struct nib_chat_message  *msgs;        /* chat: role/content strings owned here */
    size_t                    n_msgs;
    char                     *prompt;      /* completion as text, or NULL when given as ids */
    int32_t                  *prompt_ids;
    int32_t                   n_prompt_ids;
    bool                      logprobs;     /* chat logprobs: true; completions logprobs: N given */
    int32_t                   top_logprobs; /* alternatives per token (0..20) */
};

/* True when s[0..n) is well-formed UTF-8 (no overlongs, surrogates or
 * code points past U+10FFFF). */
bool serve_utf8_valid(const char *s, size_t n);

/* Parses a /v1/chat/completions or /v1/completions body. n_vocab bounds
 * token ids (logit_bias, prompt ids). 0, or 1 with e filled (status 400). */
int serve_request_parse(const char *body, size_t n, enum serve_kind kind, int32_t n_vocab, struct serve_params *out,
                        struct serve_error *e);
void serve_params_free(struct serve_params *p);

/* /tokenize {"content": str, "add_special": bool = false}; *content is malloc'd. */
int serve_parse_tokenize(const char *body, size_t n, char **content, bool *add_special, struct serve_error *e);
/* /detokenize {"tokens": [ids]}; *ids is malloc'd. */
int serve_parse_detokenize(const char *body, size_t n, int32_t n_vocab, int32_t **ids, int32_t *n_ids,
                           struct serve_error *e);

#endif
