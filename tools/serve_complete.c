/*
 * serve_complete.c — POST /v1/chat/completions and /v1/completions: the
 * request parsed, its prompt rendered (chat template) and tokenized, checked
 * against the context, queued on the engine; then either streamed
 * (serve_stream.c) or waited for — watching the socket, so that a client
 * that hangs up has its sequence cancelled — and answered as one JSON body.
 */
#define _GNU_SOURCE /* POLLRDHUP */
#include "gen_common.h"
#include "serve_http.h"
#include "serve_json.h"
#include "serve_stream.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int tokenize(struct serve_app *app, const char *text, const char *param, struct serve_task *t, struct serve_error *e) {
    const size_t len = strlen(text);
    t->prompt = malloc(sizeof(int32_t) * (len + 3));
    if (!t->prompt) return serve_error_set(e, 500, "server_error", NULL, "out of memory");
    struct nib_error err = { 0 };
    const int64_t n = nib_tokenize(app->vocab, text, len, NIB_TOKENIZE_ADD_SPECIAL | NIB_TOKENIZE_PARSE_SPECIAL, t->prompt,
                                   (int64_t)len + 3, &err);
    if (n < 0) return serve_error_set(e, 400, "invalid_request_error", param, "%s", err.msg);
    t->n_prompt = (int32_t)n;
    return 0;
}

/* The conversation through the chat template, generation prompt added. */
static int chat_prompt(struct serve_app *app, struct serve_task *t, struct serve_error *e) {
    char *text = NULL;
    struct nib_error err = { 0 };
    if (gen_render_chat(app->tmpl, app->vocab, t->p.msgs, t->p.n_msgs, &text, &err))
        return serve_error_set(e, 400, "invalid_request_error", "messages", "chat template: %s", err.msg);
    const char *body = text;
    const int rc = tokenize(app, body, "messages", t, e);
    free(text);
    return rc;
}

static int build_prompt(struct serve_app *app, struct serve_task *t, struct serve_error *e) {
    int rc;
    if (t->p.kind == SERVE_CHAT) rc = chat_prompt(app, t, e);
    else if (t->p.prompt) rc = tokenize(app, t->p.prompt, "prompt", t, e);
    else {
        t->prompt = malloc(sizeof(int32_t) * (size_t)t->p.n_prompt_ids);
        if (!t->prompt) return serve_error_set(e, 500, "server_error", NULL, "out of memory");
        memcpy(t->prompt, t->p.prompt_ids, sizeof(int32_t) * (size_t)t->p.n_prompt_ids);
        t->n_prompt = t->p.n_prompt_ids;
        rc = 0;
    }
    if (rc) return rc;
    const char *param = t->p.kind == SERVE_CHAT ? "messages" : "prompt";
    if (t->n_prompt == 0) return serve_error_set(e, 400, "invalid_request_error", param, "the prompt is empty");
    if (t->n_prompt >= app->n_ctx_seq) {
        serve_error_set(e, 400, "invalid_request_error", param,
                        "the prompt is %d tokens; a request's context holds %d (prompt plus at least 1 generated token)",
                        t->n_prompt, app->n_ctx_seq);
        e->code = "context_length_exceeded";
        return 1;
    }
    t->max_gen = app->n_ctx_seq - t->n_prompt; /* max_tokens is capped by the context */
    if (t->p.max_tokens >= 0 && t->p.max_tokens < t->max_gen) t->max_gen = t->p.max_tokens;
    struct nib_sampler *s = NULL;
    struct nib_error err = { 0 };
    if (nib_sampler_init(&t->p.sp, nib_model_n_vocab(app->model), &s, &err))
        return serve_error_set(e, 400, "invalid_request_error", NULL, "%s", err.msg);
    nib_sampler_free(s);
    return 0;
}

static bool client_gone(struct MHD_Connection *conn) {
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci) return false;
    struct pollfd p = { .fd = ci->connect_fd, .events = POLLRDHUP };
    return poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

bool serve_wait_task(struct serve_conn *c, struct serve_task *t) {
    pthread_mutex_lock(&t->mu);
    while (!t->done) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 200 * 1000000L;
        if (until.tv_nsec >= 1000000000L) until.tv_sec++, until.tv_nsec -= 1000000000L;
        if (pthread_cond_timedwait(&t->cv, &t->mu, &until) == ETIMEDOUT && !t->done) {
            pthread_mutex_unlock(&t->mu);
            if (client_gone(c->conn)) {
                serve_engine_cancel(c->app->engine, t);
                return false;
            }
            pthread_mutex_lock(&t->mu);
        }
    }
    pthread_mutex_unlock(&t->mu);
    return true;
}

enum MHD_Result serve_handle_completion(struct serve_conn *c) {
    struct serve_app *app = c->app;
    const enum serve_kind kind = c->ep == SERVE_EP_CHAT ? SERVE_CHAT : SERVE_COMPLETION;
    struct serve_error e = { 0 };
    struct serve_task *t = serve_task_new();
    if (!t) return serve_reply(c, 500, "application/json", NULL);
    if (serve_request_parse(c->body.p ? c->body.p : "", c->body.n, kind, nib_model_n_vocab(app->model), &t->p, &e) ||
        build_prompt(app, t, &e)) {
        serve_task_unref(t);
        return serve_reply_error(c, &e);
    }
    const int sub = serve_engine_submit(app->engine, t);
    if (sub != SERVE_SUBMIT_OK) {
        serve_task_unref(t);
        serve_error_set(&e, 503, "server_error", NULL, "%s",
                        sub == SERVE_SUBMIT_FULL ? "the server is busy: the request queue is full, try again later"
                                                 : "the server is shutting down");
        return serve_reply_error(c, &e);
    }
    char id[64];
    snprintf(id, sizeof id, "%s-%016" PRIx64, kind == SERVE_CHAT ? "chatcmpl" : "cmpl",
             (uint64_t)(atomic_fetch_add(&app->next_id, 1) * 0x9E3779B97F4A7C15ull));
    const struct serve_resp_meta meta = { kind, id, (int64_t)time(NULL), app->model_name, app->vocab };
    if (t->p.stream) return serve_stream_start(c, t, &meta);
    enum MHD_Result q = MHD_NO;
    if (serve_wait_task(c, t)) {
        if (t->err.status) q = serve_reply_error(c, &t->err);
        else
            q = serve_reply(c, 200, "application/json",
                            serve_json_response(&meta, t->text.p ? t->text.p : "", t->finish, t->n_prompt, t->n_gen,
                                                t->p.logprobs ? t->lps : NULL, t->n_lps));
    } else {
        serve_metrics_count(&app->metrics, c->ep, 499);
    }
    serve_task_unref(t);
    return q;
}
