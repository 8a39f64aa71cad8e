/*
 * chat_engine.h — one `nib chat` session's model side: the conversation
 * rendered through the chat template, only the tokens that differ from what
 * the KV cache already holds processed (common prefix kept), the reply
 * sampled and streamed until an end-of-turn token, -n tokens, a full
 * context or an interrupt; and the context-overflow policy.
 */
#ifndef NIB_CHAT_ENGINE_H
#define NIB_CHAT_ENGINE_H

#include "chat_conv.h"
#include "gen_common.h"
#include "model_args.h"

#include <signal.h>
#include <stdbool.h>

/* A growable token list. */
struct tok_list {
    int32_t *v;
    int32_t  n, cap;
};
bool tok_list_push(struct tok_list *l, int32_t t); /* false out of memory */

struct chat_engine {
    struct loaded              l;        /* model + context (sequence 0 holds the chat) */
    struct gen_spec_args       spec_args; /* -md / --lookup */
    struct nib_model          *draft_model;
    struct nib_context        *draft_ctx;
    struct nib_sampler        *draft_sampler;
    struct nib_spec           *spec;      /* NULL: plain decoding */
    const struct nib_vocab    *vocab;
    struct nib_sampler        *sampler;
    struct nib_sampler_params  sp;
    int32_t                    n_predict; /* reply limit, -1: until the context is full */
    const char                *tmpl;      /* Jinja source in use */
    char                      *tmpl_owned;
    char                       tmpl_desc[160]; /* "the model's", "built-in chatml", a file name */
    bool                       trim;      /* --context-overflow trim */
    struct tok_list            cache;     /* the tokens sequence 0 holds */
    /* the last turn */
    int32_t reused, processed, reply_tokens;
    double  reply_s;
    const char *stop;                     /* "eog", "length", "context", "interrupted" */
};

/* Chooses the template: --chat-template NAME|FILE (override NULL: the
 * model's tokenizer.chat_template, else ChatML, saying so once on stderr).
 * 0, or 1 with an error printed. */
int chat_engine_template(struct chat_engine *e, const char *override);
/* Sampler from e->sp (again after /set), and with -md/--lookup the
 * speculation state to match (greedy or not); 0 or 1 with an error printed. */
int chat_engine_sampler(struct chat_engine *e);
void chat_engine_free(struct chat_engine *e);
/* Forgets the cache (after /reset or /load: nothing is reused). */
void chat_engine_reset(struct chat_engine *e);

/* Writes one piece of reply text (complete UTF-8). */
typedef void (*chat_emit_fn)(void *user, const char *text, size_t n);

/* Runs one assistant turn for the conversation as it stands (its last
 * message normally the user's): renders with the generation prompt, keeps
 * the cached prefix, processes the rest, streams the reply through emit and
 * appends it to conv as the assistant's turn. *stop_flag (set by a SIGINT
 * handler) ends the reply early; what was generated stays. When the
 * conversation does not fit the context: with e->trim the oldest exchanges
 * are dropped (said on stderr) until it does, else 2 is returned with the
 * numbers printed and nothing changed. 0 ok, 1 error (printed), 2 overflow. */
int chat_engine_turn(struct chat_engine *e, struct chat_conv *conv, chat_emit_fn emit, void *user,
                     volatile sig_atomic_t *stop_flag);

#endif
