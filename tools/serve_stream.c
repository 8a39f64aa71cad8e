/*
 * serve_stream.c — SSE framing of a streamed completion (see serve_stream.h).
 */
#include "serve_stream.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct stream {
    struct serve_app      *app;
    struct serve_task     *t;
    struct serve_resp_meta meta;
    char                   id[64];
    struct serve_buf       out; /* framed bytes not yet handed to MHD: out.p[off..n) */
    size_t                 off;
    size_t                 n_sent; /* bytes of t->text already framed */
    bool                   role_sent, ended;
    int32_t                n_lp_sent; /* log probabilities already sent */
};

/* Waits up to a second for new text or the end; frames what there is. */
static bool fill(struct stream *s) {
    struct serve_task *t = s->t;
    if (!s->role_sent && s->meta.kind == SERVE_CHAT) {
        s->role_sent = true;
        return serve_sse_chunk(&s->out, &s->meta, true, NULL, 0, NULL, 0, NULL);
    }
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 1;
    pthread_mutex_lock(&t->mu);
    int w = 0;
    while (t->text.n == s->n_sent && !t->done && w != ETIMEDOUT) w = pthread_cond_timedwait(&t->cv, &t->mu, &until);
    struct serve_buf fresh = { 0 };
    bool ok = t->text.n == s->n_sent || serve_buf_append(&fresh, t->text.p + s->n_sent, t->text.n - s->n_sent);
    s->n_sent = t->text.n;
    struct serve_lp *lps = NULL; /* the log probabilities since the last chunk, copied */
    const int32_t n_lps = t->n_lps - s->n_lp_sent;
    if (ok && n_lps > 0 && (fresh.n || t->done)) {
        lps = malloc(sizeof(*lps) * (size_t)n_lps);
        if (lps) memcpy(lps, t->lps + s->n_lp_sent, sizeof(*lps) * (size_t)n_lps);
        ok = lps != NULL;
        s->n_lp_sent = t->n_lps;
    }
    const bool done = t->done;
    const struct serve_error err = t->err;
    const char *finish = t->finish;
    const int32_t n_gen = t->n_gen;
    pthread_mutex_unlock(&t->mu);
    if (!ok) return false;
    if (!fresh.n && !done) {
        ok = serve_buf_appends(&s->out, ": keep-alive\n\n");
    } else {
        if (fresh.n || lps) ok = serve_sse_chunk(&s->out, &s->meta, false, fresh.p, fresh.n, lps, lps ? n_lps : 0, NULL);
        if (ok && done) {
            if (err.status) {
                char *j = serve_json_error(&err);
                ok = j && serve_buf_appends(&s->out, "data: ") && serve_buf_appends(&s->out, j) &&
                     serve_buf_appends(&s->out, "\n\n");
                free(j);
            } else {
                ok = serve_sse_chunk(&s->out, &s->meta, false, NULL, 0, NULL, 0, finish);
                if (ok && t->p.include_usage) ok = serve_sse_usage(&s->out, &s->meta, t->n_prompt, n_gen);
            }
            ok = ok && serve_buf_appends(&s->out, "data: [DONE]\n\n");
            s->ended = true;
        }
    }
    serve_buf_free(&fresh);
    free(lps);
    return ok;
}

static ssize_t reader(void *cls, uint64_t pos, char *buf, size_t max) {
    (void)pos;
    struct stream *s = cls;
    while (s->off == s->out.n) {
        if (s->ended) return MHD_CONTENT_READER_END_OF_STREAM;
        s->out.n = s->off = 0;
        if (!fill(s)) return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    const size_t k = s->out.n - s->off < max ? s->out.n - s->off : max;
    memcpy(buf, s->out.p + s->off, k);
    s->off += k;
    return (ssize_t)k;
}

/* The connection is done with the response: sent, or the client left. */
static void release(void *cls) {
    struct stream *s = cls;
    atomic_fetch_sub(&s->app->open_streams, 1);
    pthread_mutex_lock(&s->t->mu);
    const bool done = s->t->done;
    pthread_mutex_unlock(&s->t->mu);
    if (!done) serve_engine_cancel(s->app->engine, s->t);
    serve_task_unref(s->t);
    serve_buf_free(&s->out);
    free(s);
}

enum MHD_Result serve_stream_start(struct serve_conn *c, struct serve_task *t, const struct serve_resp_meta *m) {
    struct stream *s = calloc(1, sizeof(*s));
    if (!s) {
        serve_engine_cancel(c->app->engine, t);
        serve_task_unref(t);
        return MHD_NO;
    }
    s->app = c->app;
    s->t = t;
    s->meta = *m;
    snprintf(s->id, sizeof s->id, "%s", m->id);
    s->meta.id = s->id;
    atomic_fetch_add(&c->app->open_streams, 1); /* release() takes it back */
    struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, reader, s, release);
    if (!r) {
        release(s);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", "text/event-stream");
    MHD_add_response_header(r, "Cache-Control", "no-cache");
    return serve_reply_response(c, 200, r);
}
