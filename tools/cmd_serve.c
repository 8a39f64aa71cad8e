/*
 * cmd_serve.c — `nib serve`: an OpenAI-compatible HTTP server. Parses the
 * options, loads the model, makes one context whose KV pool all sequences
 * share, starts the HTTP daemon (serve_http.c) and runs the engine
 * (serve_engine.c) on this thread, the one whose OpenMP team loaded the
 * model. A signal thread waits for SIGINT/SIGTERM: it stops accepting and
 * stops the engine, which cancels in-flight requests (they get a 503 or a
 * final SSE error chunk); then every thread is joined and nib exits 0.
 */
#include "cli.h"
#include "gen_common.h"
#include "model_args.h"
#include "serve.h"
#include "serve_http.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_CTX_SEQ 4096 /* a request's context when the model's is larger */

struct serve_args {
    struct model_args m;
    const char       *host, *api_key, *alias;
    int32_t           port, parallel, queue;
    float             timeout;  /* --timeout seconds, 0: none */
    int64_t           max_body;
    struct gen_spec_args spec; /* -md / --lookup and the draft options */
};

static void usage(FILE *f) {
    fputs("usage: nib serve [-m MODEL] [--host 127.0.0.1] [--port 8080] [options]\n"
          "  an OpenAI-compatible HTTP server: POST /v1/chat/completions, POST /v1/completions\n"
          "  (stream or not), GET /v1/models, GET /health, POST /tokenize, POST /detokenize,\n"
          "  GET /metrics (Prometheus text)\n"
          "  -m MODEL            GGUF file (default models/tiny-chat-q8_0.gguf)\n"
          "  --host ADDR         address to listen on (default 127.0.0.1: this machine only)\n"
          "  --port N            port (default 8080; 0: a free one, printed)\n"
          "  --parallel N        sequences decoded together (default 4, at most 64)\n"
          "  -c TOKENS           KV cache of all sequences together (default: --parallel x the\n"
          "                      model's context, capped at 4096, plus a block each); one request's\n"
          "                      prompt + completion may take min(model context, TOKENS)\n"
          "  --api-key KEY       require 'Authorization: Bearer KEY' (all but /health)\n"
          "  --alias NAME        the model name /v1/models reports (default: the file name)\n"
          "  --max-body BYTES    largest request body (default 4194304; larger: 413)\n"
          "  --queue N           requests that may wait for a slot (default 64; more: 503)\n"
          "  --timeout S         a request still queued or generating S seconds after it came in fails\n"
          "                      with 504 (default 600; 0: no limit)\n"
          "  -t N --kv-block N --kv-type f16|q8_0 --no-mmap   as for nib chat\n"
          "  speculative decoding, per request (not for requests asking for logprobs):\n"
          "  Ctrl-C / SIGTERM stops it: in-flight requests are cancelled, exit status 0.\n",
          f);
    fputs(GEN_SPEC_HELP, f);
}

static int parse_args(struct serve_args *a, int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        int r = model_args_parse(&a->m, argc, argv, &i);
        if (r < 0) return 1;
        if (r) continue;
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
            usage(stdout);
            return -1;
        }
        if (!v) return cli_fail("serve: unknown option or missing value: '%s' (see nib serve --help)", o);
        bool used = false;
        if (gen_parse_spec(&a->spec, o, v, &used)) return 1;
        if (used) {
            i++;
            continue;
        }
        i++;
        bool ok = true;
        if (!strcmp(o, "--host")) a->host = v;
        else if (!strcmp(o, "--api-key")) a->api_key = v, ok = v[0] != '\0';
        else if (!strcmp(o, "--alias")) a->alias = v, ok = v[0] != '\0';
        else if (!strcmp(o, "--port")) ok = parse_i32(v, 0, 65535, &a->port);
        else if (!strcmp(o, "--parallel")) ok = parse_i32(v, 1, SERVE_MAX_PARALLEL, &a->parallel);
        else if (!strcmp(o, "--queue")) ok = parse_i32(v, 1, 1 << 20, &a->queue);
        else if (!strcmp(o, "--timeout")) ok = parse_f32(v, 0, 1e7f, &a->timeout);
        else if (!strcmp(o, "--max-body")) {
            int32_t mb = 0;
            ok = parse_i32(v, 64, INT32_MAX, &mb);
            a->max_body = mb;
        } else return cli_fail("serve: unknown option '%s' (see nib serve --help)", o);
        if (!ok) return cli_fail("serve: %s: bad value '%s'", o, v);
    }
    if (a->m.prompt || a->m.tokens) return cli_fail("serve: prompts come in HTTP requests, not -p/--tokens");
    return gen_check_spec(&a->spec);
}

/* Model, context sized for --parallel sequences, chat template. */
static int open_model(const struct serve_args *a, struct serve_app *app, struct nib_model **model, struct nib_context **ctx) {
    char buf[4096];
    const char *path = a->m.model ? a->m.model : model_args_find_model(a->m.default_name, buf, sizeof buf);
    struct nib_error err = { 0 };
    if (model_args_load_model(&a->m, path, model)) return 1;
    const int32_t train = nib_model_n_ctx_train(*model);
    const int32_t seq = train > 0 && train < DEFAULT_CTX_SEQ ? train : DEFAULT_CTX_SEQ;
    struct nib_context_params cp = nib_context_default_params();
    const int32_t block = a->m.kv_block ? a->m.kv_block : 16;
    cp.n_ctx = a->m.n_ctx ? a->m.n_ctx : (int32_t)((int64_t)a->parallel * (seq + block));
    cp.n_batch = cp.n_ctx < 512 ? cp.n_ctx : 512;
    cp.n_threads = a->m.n_threads;
    cp.kv_block = a->m.kv_block;
    cp.kv_type = a->m.kv_type;
    cp.n_gpu_layers = a->m.n_gpu_layers;
    cp.gpu_progress = cli_gpu_progress;
    if (nib_context_new(*model, &cp, ctx, &err) != NIB_OK) return cli_fail_err(&err);
    app->n_ctx_seq = a->m.n_ctx ? (train > 0 && train < nib_context_n_ctx(*ctx) ? train : nib_context_n_ctx(*ctx)) : seq;
    const char *tmpl = NULL;
    if (nib_gguf_get_str(nib_model_gguf(*model), "tokenizer.chat_template", &tmpl, NULL) != NIB_OK || !tmpl || !tmpl[0]) {
        tmpl = nib_chat_template_builtin("chatml");
        fprintf(stderr, "nib serve: the model has no chat template (tokenizer.chat_template); using ChatML\n");
    }
    app->tmpl = tmpl;
    const char *slash = strrchr(path, '/');
    snprintf(buf, sizeof buf, "%s", slash ? slash + 1 : path);
    app->model_name = a->alias ? a->alias : strdup(buf);
    return app->model_name ? 0 : cli_fail("out of memory");
}

/* SIGINT/SIGTERM: stop accepting connections, then stop the engine (its
 * loop returns on the main thread). */
struct stopper {
    const sigset_t      *sigs;
    struct MHD_Daemon   *d;
    struct serve_engine *engine;
    MHD_socket           listen_fd;
};

static void *wait_signal(void *arg) {
    struct stopper *st = arg;
    int sig = 0;
    sigwait(st->sigs, &sig);
    fprintf(stderr, "nib serve: %s: shutting down\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    st->listen_fd = MHD_quiesce_daemon(st->d);
    serve_engine_stop(st->engine);
    return NULL;
}

int nib_cmd_serve(int argc, char **argv) {
    struct serve_args a = { .m.default_name = "tiny-chat-q8_0.gguf", .host = "127.0.0.1", .port = 8080, .parallel = 4,
                            .queue = 64, .max_body = 4 << 20, .timeout = 600, .spec.p = nib_spec_default_params() };
    int rc = parse_args(&a, argc, argv);
    if (rc) return rc < 0 ? 0 : rc;
    /* the signals are taken by sigwait below: every thread started from here on blocks them */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    struct serve_app app = { .api_key = a.api_key, .max_body = (size_t)a.max_body, .started = (int64_t)time(NULL) };
    atomic_init(&app.next_id, (uint64_t)time(NULL));
    serve_metrics_init(&app.metrics);
    struct nib_model *model = NULL, *draft = NULL;
    struct nib_context *ctx = NULL;
    struct MHD_Daemon *d = NULL;
    struct serve_spec_cfg spec = { .p = a.spec.p };
    /* the draft's KV: a slot's sequence there holds what its target sequence holds */
    const bool speculate = a.spec.draft || a.spec.lookup;
    rc = open_model(&a, &app, &model, &ctx);
    if (!rc && a.spec.draft) rc = gen_open_draft(a.spec.draft, model, ctx, a.m.kv_block, &draft, &spec.draft);
    if (!rc) {
        app.model = model;
        app.vocab = nib_model_vocab(model);
        rc = serve_engine_start(&app.engine, model, ctx, a.parallel, a.queue, speculate ? &spec : NULL, false);
        if (!rc) serve_engine_set_timeout(app.engine, a.timeout);
    }
    int port = 0;
    if (!rc && !(d = serve_http_start(&app, a.host, a.port, &port))) rc = 1;
    if (!rc) {
        int32_t used = 0, total = 0, bs = 0;
        nib_context_kv_blocks(ctx, &used, &total, &bs);
        fprintf(stderr, "nib serve: model %s (%s), %d parallel sequences, KV %d blocks of %d tokens, %d tokens per request\n",
                app.model_name, nib_model_arch(model), a.parallel, total, bs, app.n_ctx_seq);
        if (a.spec.draft)
            fprintf(stderr, "nib serve: speculative decoding with draft %s (K up to %d)\n", a.spec.draft, a.spec.p.draft_max);
        else if (a.spec.lookup)
            fprintf(stderr, "nib serve: speculative decoding by %d-gram lookup (K up to %d)\n", a.spec.p.lookup,
                    a.spec.p.draft_max);
        fprintf(stderr, strchr(a.host, ':') ? "nib serve: listening on http://[%s]:%d\n" : "nib serve: listening on http://%s:%d\n",
                a.host, port);
        /* the engine runs here, on the thread whose OpenMP team loaded the model; a
         * signal thread stops the daemon's listening and the engine */
        struct stopper st = { .sigs = &sigs, .d = d, .engine = app.engine, .listen_fd = MHD_INVALID_SOCKET };
        pthread_t sig_thread;
        if (pthread_create(&sig_thread, NULL, wait_signal, &st)) {
            fprintf(stderr, "nib serve: cannot start the signal thread\n");
            serve_engine_stop(app.engine);
        } else {
            serve_engine_run(app.engine);
            pthread_join(sig_thread, NULL);
        }
        const MHD_socket listen_fd = st.listen_fd;
        /* in-flight streams now end with a "shutting down" chunk and [DONE]: let them be sent */
        for (int i = 0; i < 200 && atomic_load(&app.open_streams) > 0; i++) {
            struct timespec ms10 = { 0, 10 * 1000000L };
            nanosleep(&ms10, NULL);
        }
        MHD_stop_daemon(d);
        if (listen_fd != MHD_INVALID_SOCKET) close(listen_fd);
    }
    serve_engine_free(app.engine);
    nib_context_free(spec.draft);
    nib_model_free(draft);
    nib_context_free(ctx);
    nib_model_free(model);
    if (app.model_name != a.alias) free((char *)app.model_name);
    serve_metrics_free(&app.metrics);
    return rc;
}
