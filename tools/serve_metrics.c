/*
 * serve_metrics.c — request counters and the Prometheus text of nib serve
 * (see serve_metrics.h).
 */
#include "serve_metrics.h"

#include "serve_buf.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const int statuses[SERVE_N_STATUS] = { 200, 400, 401, 404, 405, 413, 499, 500, 501, 503, 0 /* any other */ };
static const char *const endpoints[SERVE_EP_COUNT] = { "/v1/chat/completions", "/v1/completions", "/v1/models",
                                                       "/health", "/tokenize", "/detokenize", "/metrics", "/v1/embeddings",
                                                       "other" };

void serve_metrics_init(struct serve_metrics *m) {
    memset(m, 0, sizeof(*m));
    pthread_mutex_init(&m->mu, NULL);
}

void serve_metrics_free(struct serve_metrics *m) { pthread_mutex_destroy(&m->mu); }

void serve_metrics_count(struct serve_metrics *m, enum serve_endpoint ep, int status) {
    int k = SERVE_N_STATUS - 1;
    for (int i = 0; i < SERVE_N_STATUS - 1; i++)
        if (statuses[i] == status) k = i;
    pthread_mutex_lock(&m->mu);
    m->requests[ep][k]++;
    pthread_mutex_unlock(&m->mu);
}

__attribute__((format(printf, 2, 3)))
static bool line(struct serve_buf *b, const char *fmt, ...) {
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    return n > 0 && serve_buf_append(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

static bool gauge(struct serve_buf *b, const char *name, const char *help, const char *type, uint64_t v) {
    return line(b, "# HELP %s %s\n# TYPE %s %s\n%s %" PRIu64 "\n", name, help, name, type, name, v);
}

char *serve_metrics_render(struct serve_metrics *m, const struct serve_engine_stats *s) {
    struct serve_buf b = { 0 };
    bool ok = line(&b, "# HELP nib_requests_total HTTP requests answered, by endpoint and status.\n"
                       "# TYPE nib_requests_total counter\n");
    pthread_mutex_lock(&m->mu);
    for (int e = 0; e < SERVE_EP_COUNT; e++)
        for (int k = 0; k < SERVE_N_STATUS; k++)
            if (m->requests[e][k]) {
                char st[16];
                if (statuses[k]) snprintf(st, sizeof st, "%d", statuses[k]);
                else snprintf(st, sizeof st, "other");
                ok = ok && line(&b, "nib_requests_total{endpoint=\"%s\",status=\"%s\"} %" PRIu64 "\n", endpoints[e], st,
                                m->requests[e][k]);
            }
    pthread_mutex_unlock(&m->mu);
    ok = ok && gauge(&b, "nib_prompt_tokens_total", "Prompt tokens of admitted requests.", "counter", s->prompt_tokens);
    ok = ok && gauge(&b, "nib_prompt_tokens_cached_total", "Prompt tokens taken from the prefix cache.", "counter",
                     s->cached_tokens);
    ok = ok && gauge(&b, "nib_generated_tokens_total", "Tokens generated.", "counter", s->generated_tokens);
    ok = ok && gauge(&b, "nib_queue_depth", "Requests waiting for a sequence slot or KV blocks.", "gauge", (uint64_t)s->queued);
    ok = ok && gauge(&b, "nib_active_sequences", "Sequences being decoded.", "gauge", (uint64_t)s->active);
    ok = ok && gauge(&b, "nib_kv_blocks_used", "KV cache blocks in use.", "gauge", (uint64_t)s->kv_used);
    ok = ok && gauge(&b, "nib_kv_blocks_total", "KV cache blocks in the pool.", "gauge", (uint64_t)s->kv_total);
    if (ok && s->spec) { /* speculative decoding (-md / --lookup), over finished requests */
        ok = gauge(&b, "nib_spec_target_passes_total", "Verification passes of the target model.", "counter", s->spec_passes) &&
             gauge(&b, "nib_spec_drafted_tokens_total", "Tokens proposed by the draft (or n-gram lookup).", "counter",
                   s->spec_drafted) &&
             gauge(&b, "nib_spec_accepted_tokens_total", "Proposed tokens the target kept.", "counter", s->spec_accepted) &&
             gauge(&b, "nib_spec_emitted_tokens_total", "Tokens produced by speculative requests.", "counter",
                   s->spec_emitted) &&
             line(&b, "# HELP nib_spec_acceptance_rate Accepted / drafted tokens.\n# TYPE nib_spec_acceptance_rate gauge\n"
                      "nib_spec_acceptance_rate %.6f\n",
                  s->spec_drafted ? (double)s->spec_accepted / (double)s->spec_drafted : 0.0) &&
             line(&b, "# HELP nib_spec_tokens_per_pass Tokens emitted per target pass (mean accepted length + 1).\n"
                      "# TYPE nib_spec_tokens_per_pass gauge\nnib_spec_tokens_per_pass %.6f\n",
                  s->spec_passes ? (double)s->spec_emitted / (double)s->spec_passes : 0.0) &&
             line(&b, "# HELP nib_spec_seconds_total Time spent drafting and verifying.\n"
                      "# TYPE nib_spec_seconds_total counter\nnib_spec_seconds_total{phase=\"draft\"} %.6f\n"
                      "nib_spec_seconds_total{phase=\"target\"} %.6f\n",
                  s->spec_draft_s, s->spec_target_s);
    }
    if (!ok) serve_buf_free(&b);
    return b.p;
}
