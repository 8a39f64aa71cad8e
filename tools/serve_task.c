/*
 * serve_task.c — the request object shared by nib serve's HTTP and engine
 * threads (see serve_task.h).
 */
#include "serve_task.h"

#include <stdio.h>
#include <stdlib.h>

struct serve_task *serve_task_new(void) {
    struct serve_task *t = calloc(1, sizeof(*t));
    if (!t) return NULL;
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->cv, NULL);
    t->refs = 1;
    atomic_init(&t->cancel, false);
    return t;
}

void serve_task_ref(struct serve_task *t) {
    pthread_mutex_lock(&t->mu);
    t->refs++;
    pthread_mutex_unlock(&t->mu);
}

void serve_task_unref(struct serve_task *t) {
    if (!t) return;
    pthread_mutex_lock(&t->mu);
    const int left = --t->refs;
    pthread_mutex_unlock(&t->mu);
    if (left) return;
    serve_params_free(&t->p);
    free(t->prompt);
    free(t->embedding);
    free(t->lps);
    serve_buf_free(&t->text);
    pthread_cond_destroy(&t->cv);
    pthread_mutex_destroy(&t->mu);
    free(t);
}

bool serve_task_append(struct serve_task *t, const char *s, size_t n, int32_t n_gen) {
    pthread_mutex_lock(&t->mu);
    const bool ok = serve_buf_append(&t->text, s, n);
    t->n_gen = n_gen;
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
    return ok;
}

void serve_task_finish(struct serve_task *t, const char *finish, int32_t n_gen) {
    pthread_mutex_lock(&t->mu);
    t->finish = finish;
    t->n_gen = n_gen;
    t->done = true;
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

void serve_task_fail(struct serve_task *t, int status, const char *type, const char *msg) {
    pthread_mutex_lock(&t->mu);
    if (!t->done) {
        t->err.status = status;
        t->err.type = type;
        snprintf(t->err.msg, sizeof t->err.msg, "%s", msg);
        t->done = true;
    }
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

bool serve_task_add_lp(struct serve_task *t, const struct serve_lp *lp) {
    pthread_mutex_lock(&t->mu);
    bool ok = true;
    if (t->n_lps == t->cap_lps) {
        const int32_t cap = t->cap_lps ? 2 * t->cap_lps : 64;
        struct serve_lp *p = realloc(t->lps, sizeof(*p) * (size_t)cap);
        if (p) t->lps = p, t->cap_lps = cap;
        else ok = false;
    }
    if (ok) t->lps[t->n_lps++] = *lp;
    pthread_mutex_unlock(&t->mu);
    return ok;
}
