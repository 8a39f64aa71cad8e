/*
 * serve.h — what every part of `nib serve` shares: the model (immutable,
 * read by any thread), the engine (which alone touches the context), the
 * metrics, and the server's settings. One instance, made by cmd_serve.c,
 * outlives the HTTP daemon and the engine.
 */
#ifndef NIB_SERVE_H
#define NIB_SERVE_H

#include "nib.h"
#include "serve_engine.h"
#include "serve_metrics.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct serve_app {
    const struct nib_model *model;
    const struct nib_vocab *vocab;
    struct serve_engine    *engine;
    struct serve_metrics    metrics;
    const char             *tmpl;       /* chat template source */
    const char             *model_name; /* --alias, else the model file's name */
    const char             *api_key;    /* NULL: no authentication */
    size_t                  max_body;   /* request body cap in bytes */
    int32_t                 n_ctx_seq;  /* most tokens one request (prompt + completion) may take */
    int64_t                 started;    /* Unix seconds */
    atomic_uint_least64_t   next_id;
    atomic_int              open_streams; /* SSE responses not yet released (shutdown lets them finish) */
};

#endif
