/*
 * serve_task.h — one completion request as nib serve's HTTP thread and its
 * engine thread share it. The HTTP thread fills params, prompt and max_gen
 * before submitting (read-only afterwards); the engine writes the generated
 * text and the outcome under mu and broadcasts cv; the HTTP side sets cancel
 * when the client goes away (the engine then frees the sequence). Reference
 * counted: whoever holds a pointer holds a reference; the last unref frees.
 */
#ifndef NIB_SERVE_TASK_H
#define NIB_SERVE_TASK_H

#include "serve_buf.h"
#include "serve_request.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#define SERVE_MAX_TOP 20

/* One generated token's log probability and its best alternatives (under
 * the model's distribution: log-softmax of the raw logits). */
struct serve_lp {
    int32_t tok;
    float   lp;
    int32_t n_top;
    int32_t top[SERVE_MAX_TOP];
    float   top_lp[SERVE_MAX_TOP];
};

struct serve_task {
    pthread_mutex_t     mu;
    pthread_cond_t      cv;
    int                 refs;   /* under mu */
    struct serve_params p;
    int32_t            *prompt; /* the tokens to run */
    int32_t             n_prompt;
    int32_t             max_gen; /* tokens it may generate (max_tokens capped by the context) */
    bool                embed;   /* an embedding: no generation; the engine fills embedding */
    double              deadline; /* CLOCK_MONOTONIC seconds after which the engine ends it (0: none) */
    atomic_bool         cancel;
    /* engine -> HTTP, under mu */
    struct serve_buf    text;   /* complete UTF-8, stop strings already cut */
    int32_t             n_gen;  /* tokens generated */
    int32_t             n_cached; /* prompt tokens taken from the prefix cache */
    bool                started, done;
    const char         *finish; /* "stop" or "length" once done without error */
    struct serve_error  err;    /* err.status != 0: failed */
    float              *embedding; /* embed: the mean-pooled, L2-normalized hidden states [n_embd] */
    struct serve_lp    *lps;       /* p.logprobs: one per generated token, under mu */
    int32_t             n_lps, cap_lps;
};

/* A task with one reference; NULL out of memory. */
struct serve_task *serve_task_new(void);
void serve_task_ref(struct serve_task *t);
void serve_task_unref(struct serve_task *t);
/* Engine side: appends text (returns false out of memory) / ends the task. */
bool serve_task_append(struct serve_task *t, const char *s, size_t n, int32_t n_gen);
void serve_task_finish(struct serve_task *t, const char *finish, int32_t n_gen);
void serve_task_fail(struct serve_task *t, int status, const char *type, const char *msg);
/* Engine side: records a token's log probabilities (false out of memory). */
bool serve_task_add_lp(struct serve_task *t, const struct serve_lp *lp);

#endif
