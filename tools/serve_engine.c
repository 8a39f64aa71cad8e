/*
 * serve_engine.c — the engine of nib serve (on the main thread, or a
 * thread of its own): admission, one batched nib_decode per step (prompts
 * in chunks while other sequences decode), sampling and text for every
 * active sequence (see serve_engine.h).
 */
#include "serve_engine.h"

#include "cli.h"
#include "serve_text.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct slot {
    struct serve_task  *t;      /* NULL: free */
    struct nib_sampler *smp;
    struct serve_text   text;
    int32_t             n_past; /* prompt tokens in the KV cache */
    int32_t             n_gen;
    int32_t             last;   /* the sampled token the next step decodes */
    int32_t             blocks; /* reserved */
    int32_t             row;    /* batch row whose logits it samples from this step; -1 none */
    struct nib_spec    *spec;   /* speculation (NULL: plain batched decoding) */
    struct nib_sampler *dsmp;   /* the draft's sampler (NULL: greedy proposals or lookup) */
};

struct serve_engine {
    struct nib_context     *ctx;
    const struct nib_vocab *vocab;
    int32_t                 n_vocab, n_parallel, queue_cap, n_batch, block, total_blocks, reserved;
    pthread_t               thread;
    bool                    running;
    pthread_mutex_t         mu; /* guards queue, n_queue, stopping */
    pthread_cond_t          cv;
    struct serve_task     **queue;
    int32_t                 n_queue;
    bool                    stopping;
    struct slot             slots[SERVE_MAX_PARALLEL];
    int32_t                *tok, *seq;
    int8_t                 *want;
    uint64_t                seed_state;
    double                  timeout;   /* seconds; 0: none */
    atomic_int              n_active, kv_used;
    atomic_uint_least64_t   prompt_tokens, cached_tokens, generated_tokens;
    bool                    spec_on;
    struct serve_spec_cfg   spec;
    pthread_mutex_t         spec_mu;  /* guards spec_done */
    struct nib_spec_stats   spec_done; /* of released slots */
};

static double mono_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static bool expired(const struct serve_task *t, double now) { return t->deadline > 0 && now > t->deadline; }

static int32_t blocks_needed(const struct serve_engine *e, const struct serve_task *t) {
    /* speculation: the drafts of the last step go past max_gen */
    const int64_t toks = (int64_t)t->n_prompt + t->max_gen + (e->spec_on ? e->spec.p.draft_max + 1 : 0);
    const int64_t b = (toks + e->block - 1) / e->block + 1; /* +1: a copy-on-write block */
    return b < e->total_blocks ? (int32_t)b : e->total_blocks;
}

static void publish_kv(struct serve_engine *e) {
    int32_t used = 0;
    nib_context_kv_blocks(e->ctx, &used, NULL, NULL);
    atomic_store(&e->kv_used, used);
}

/* Frees slot s: its KV returns to the pool, its task reference is dropped. */
static void slot_release(struct serve_engine *e, int s) {
    struct slot *sl = &e->slots[s];
    struct nib_error err = { 0 };
    nib_context_seq_truncate(e->ctx, s, 0, &err);
    if (sl->spec) {
        struct nib_spec_stats st;
        nib_spec_get_stats(sl->spec, &st);
        pthread_mutex_lock(&e->spec_mu);
        e->spec_done.steps += st.steps, e->spec_done.drafted += st.drafted, e->spec_done.accepted += st.accepted;
        e->spec_done.judged += st.judged;
        e->spec_done.emitted += st.emitted, e->spec_done.t_draft += st.t_draft, e->spec_done.t_target += st.t_target;
        pthread_mutex_unlock(&e->spec_mu);
        nib_spec_free(sl->spec);
        if (e->spec.draft) nib_context_seq_truncate(e->spec.draft, s, 0, &err);
    }
    nib_sampler_free(sl->dsmp);
    nib_sampler_free(sl->smp);
    serve_text_free(&sl->text);
    e->reserved -= sl->blocks;
    serve_task_unref(sl->t);
    memset(sl, 0, sizeof(*sl));
    atomic_fetch_sub(&e->n_active, 1);
}

static void slot_fail(struct serve_engine *e, int s, int status, const char *msg) {
    serve_task_fail(e->slots[s].t, status, status >= 500 ? "server_error" : "invalid_request_error", msg);
    slot_release(e, s);
}

/* Ends slot s normally: held-back text goes out, the task is done. */
static void slot_finish(struct serve_engine *e, int s, const char *finish) {
    struct slot *sl = &e->slots[s];
    struct serve_buf out = { 0 };
    const int r = serve_text_finish(&sl->text, &out);
    if (r < 0 || !serve_task_append(sl->t, out.p ? out.p : "", out.n, sl->n_gen)) {
        serve_buf_free(&out);
        slot_fail(e, s, 500, "out of memory");
        return;
    }
    serve_buf_free(&out);
    serve_task_finish(sl->t, r == 1 ? "stop" : finish, sl->n_gen);
    slot_release(e, s);
}

static uint64_t next_seed(struct serve_engine *e) {
    e->seed_state += 0x9E3779B97F4A7C15ull; /* splitmix64 */
    uint64_t z = e->seed_state;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void spec_step(struct serve_engine *e, int s);

/* Slot s's speculation: nib_spec on sequence s of both contexts, the draft's
 * sampler, and the prompt (decoded now, row-exact, cached prefix reused). */
static void spec_start(struct serve_engine *e, int s, const struct nib_sampler_params *sp) {
    struct slot *sl = &e->slots[s];
    struct serve_task *t = sl->t;
    struct nib_spec_params p = e->spec.p;
    p.seq = s;
    p.greedy = sp->temperature <= 0;
    p.seed = sp->seed;
    p.prompt_flags = NIB_BATCH_ROW_EXACT;
    struct nib_error err = { 0 };
    int rc = nib_spec_new(e->ctx, e->spec.draft, &p, &sl->spec, &err);
    if (!rc && e->spec.draft) {
        struct nib_sampler_params dp = *sp;
        dp.seed = sp->seed ^ 0x5eedd4af7ull; /* the draft's own draws, as nib generate -md */
        rc = nib_sampler_init(&dp, nib_model_n_vocab(nib_context_model(e->spec.draft)), &sl->dsmp, &err);
    }
    if (!rc) rc = nib_spec_prompt(sl->spec, t->prompt, t->n_prompt, &err);
    if (rc) {
        slot_fail(e, s, rc == NIB_KV_FULL ? 503 : 500, rc == NIB_KV_FULL ? "the KV cache is full" : err.msg);
        return;
    }
    sl->n_past = t->n_prompt;
    t->n_cached = nib_spec_reused(sl->spec);
    atomic_fetch_add(&e->cached_tokens, (uint64_t)t->n_cached);
    spec_step(e, s); /* the first token now, from the prompt's logits, before another decode replaces them */
}

static void slot_start(struct serve_engine *e, int s, struct serve_task *t, int32_t blocks) {
    struct slot *sl = &e->slots[s];
    memset(sl, 0, sizeof(*sl));
    sl->t = t;
    sl->blocks = blocks;
    sl->row = -1;
    e->reserved += blocks;
    atomic_fetch_add(&e->n_active, 1);
    pthread_mutex_lock(&t->mu);
    t->started = true;
    pthread_mutex_unlock(&t->mu);
    struct nib_sampler_params sp = t->p.sp;
    if (!t->p.seed_given) sp.seed = next_seed(e);
    struct nib_error err = { 0 };
    if (nib_sampler_init(&sp, e->n_vocab, &sl->smp, &err)) {
        slot_fail(e, s, 400, err.msg);
        return;
    }
    serve_text_init(&sl->text, t->p.stops, t->p.n_stops);
    atomic_fetch_add(&e->prompt_tokens, (uint64_t)t->n_prompt);
    if (t->max_gen == 0) {
        slot_finish(e, s, "length");
        return;
    }
    if (e->spec_on && !t->p.logprobs) { /* logprobs need every row's logits: those go the plain way */
        spec_start(e, s, &sp);
        return;
    }
    const int32_t reused = nib_context_seq_reuse_prefix(e->ctx, s, t->prompt, t->n_prompt, &err);
    sl->n_past = reused > 0 ? reused : 0;
    t->n_cached = sl->n_past;
    atomic_fetch_add(&e->cached_tokens, (uint64_t)sl->n_past);
}

/* An embedding task, run at once on free slot s's sequence: its prompt in
 * row-exact batches asking for hidden states, mean-pooled in double, then
 * L2-normalized; the sequence is cleared again. */
static void run_embedding(struct serve_engine *e, int s, struct serve_task *t) {
    const int32_t d = nib_model_n_embd(nib_context_model(e->ctx));
    double *sum = calloc((size_t)d, sizeof(double));
    float *out = malloc(sizeof(float) * (size_t)d);
    struct nib_error err = { 0 };
    int rc = sum && out ? 0 : NIB_E_NOMEM;
    for (int32_t off = 0; !rc && off < t->n_prompt; off += e->n_batch) {
        const int32_t m = t->n_prompt - off < e->n_batch ? t->n_prompt - off : e->n_batch;
        for (int32_t i = 0; i < m; i++) e->seq[i] = s, e->want[i] = 1;
        struct nib_batch b = { m, t->prompt + off, NULL, e->seq, e->want, NIB_BATCH_ROW_EXACT | NIB_BATCH_EMBEDDINGS };
        rc = nib_decode(e->ctx, &b, &err);
        for (int32_t i = 0; !rc && i < m; i++) {
            const float *h = nib_context_embedding(e->ctx, i);
            for (int32_t j = 0; j < d; j++) sum[j] += h[j];
        }
    }
    nib_context_seq_truncate(e->ctx, s, 0, &err);
    atomic_fetch_add(&e->prompt_tokens, (uint64_t)t->n_prompt);
    if (rc) {
        serve_task_fail(t, rc == NIB_E_NOMEM ? 500 : 503, "server_error", rc == NIB_E_NOMEM ? "out of memory" : err.msg);
    } else {
        double norm = 0;
        for (int32_t j = 0; j < d; j++) norm += (sum[j] / t->n_prompt) * (sum[j] / t->n_prompt);
        norm = norm > 0 ? sqrt(norm) : 1.0;
        for (int32_t j = 0; j < d; j++) out[j] = (float)(sum[j] / t->n_prompt / norm);
        pthread_mutex_lock(&t->mu);
        t->embedding = out;
        out = NULL;
        pthread_mutex_unlock(&t->mu);
        serve_task_finish(t, "stop", 0);
    }
    free(out);
    free(sum);
    serve_task_unref(t);
    publish_kv(e);
}

/* Drops cancelled queued tasks and takes the ones that fit into free slots. */
static void admit(struct serve_engine *e) {
    struct serve_task *take[SERVE_MAX_PARALLEL];
    int32_t blocks[SERVE_MAX_PARALLEL], n_take = 0, n_free = 0, reserved = e->reserved;
    for (int s = 0; s < e->n_parallel; s++) n_free += e->slots[s].t == NULL;
    pthread_mutex_lock(&e->mu);
    int32_t w = 0;
    for (int32_t i = 0; i < e->n_queue; i++) {
        struct serve_task *t = e->queue[i];
        if (atomic_load(&t->cancel)) {
            serve_task_unref(t);
            continue;
        }
        if (expired(t, mono_s())) {
            serve_task_fail(t, 504, "timeout_error", "the request waited longer than the server's --timeout");
            serve_task_unref(t);
            continue;
        }
        const int32_t need = blocks_needed(e, t);
        /* FIFO: once one does not fit, the ones behind it wait too */
        if (w == 0 && n_take < n_free && reserved + need <= e->total_blocks) {
            blocks[n_take] = need;
            take[n_take++] = t;
            reserved += need;
        } else {
            e->queue[w++] = t;
        }
    }
    e->n_queue = w;
    pthread_mutex_unlock(&e->mu);
    for (int32_t i = 0, s = 0; i < n_take; i++) {
        while (e->slots[s].t) s++;
        if (take[i]->embed) { /* done at once: the slot stays free */
            run_embedding(e, s, take[i]);
        } else {
            slot_start(e, s, take[i], blocks[i]);
        }
    }
}

/* The log probability of tok and the k best tokens under the row's logits
 * (log-softmax in double). */
static void logprobs(const float *lg, int32_t nv, int32_t tok, int32_t k, struct serve_lp *out) {
    double mx = lg[0], sum = 0;
    for (int32_t i = 1; i < nv; i++) mx = lg[i] > mx ? lg[i] : mx;
    for (int32_t i = 0; i < nv; i++) sum += exp((double)lg[i] - mx);
    const double lse = mx + log(sum);
    out->tok = tok;
    out->lp = (float)(lg[tok] - lse);
    out->n_top = 0;
    for (int32_t i = 0; i < nv && k > 0; i++) { /* insertion into the k best, largest first, ties by id */
        if (out->n_top == k && lg[i] <= lg[out->top[k - 1]]) continue;
        int32_t j = out->n_top < k ? out->n_top++ : k - 1; /* full: the last one drops out */
        while (j > 0 && lg[out->top[j - 1]] < lg[i]) {
            out->top[j] = out->top[j - 1];
            j--;
        }
        out->top[j] = i;
    }
    for (int32_t j = 0; j < out->n_top; j++) out->top_lp[j] = (float)(lg[out->top[j]] - lse);
}

/* Hands token tok (already accepted by the slot's sampler) to slot s's
 * request; lg: the logits it was drawn from (NULL: no logprobs asked).
 * false when the slot is done (finished or failed). */
static bool slot_emit(struct serve_engine *e, int s, int32_t tok, const float *lg) {
    struct slot *sl = &e->slots[s];
    if (nib_vocab_is_eog(e->vocab, tok)) {
        slot_finish(e, s, "stop");
        return false;
    }
    if (sl->t->p.logprobs && lg) {
        struct serve_lp lp;
        logprobs(lg, e->n_vocab, tok, sl->t->p.top_logprobs, &lp);
        if (!serve_task_add_lp(sl->t, &lp)) {
            slot_fail(e, s, 500, "out of memory");
            return false;
        }
    }
    sl->n_gen++;
    sl->last = tok;
    atomic_fetch_add(&e->generated_tokens, 1);
    char piece[512];
    int64_t np = nib_token_to_piece(e->vocab, tok, 0, piece, sizeof piece);
    if (np > (int64_t)sizeof piece) np = sizeof piece;
    struct serve_buf out = { 0 };
    const int r = np > 0 ? serve_text_push(&sl->text, piece, (size_t)np, &out) : 0;
    const bool ok = r >= 0 && (!out.n || serve_task_append(sl->t, out.p, out.n, sl->n_gen));
    serve_buf_free(&out);
    if (!ok) slot_fail(e, s, 500, "out of memory");
    else if (r == 1) slot_finish(e, s, "stop");
    else if (sl->n_gen >= sl->t->max_gen) slot_finish(e, s, "length");
    else return true;
    return false;
}

/* Samples slot s's next token from its row; finishes it when done. */
static void slot_sample(struct serve_engine *e, int s) {
    struct slot *sl = &e->slots[s];
    struct nib_error err = { 0 };
    const float *lg = nib_context_logits(e->ctx, sl->row);
    const int32_t tok = nib_sampler_sample(sl->smp, lg, &err);
    sl->row = -1;
    if (tok < 0) {
        slot_fail(e, s, 500, err.msg);
        return;
    }
    nib_sampler_accept(sl->smp, tok);
    slot_emit(e, s, tok, lg);
}

/* One speculative step of slot s: drafts, one verification, the accepted
 * tokens (the spec's sampler calls accept for each). */
static void spec_step(struct serve_engine *e, int s) {
    struct slot *sl = &e->slots[s];
    int32_t out[257], cap = sl->t->max_gen - sl->n_gen;
    if (cap > 257) cap = 257;
    struct nib_error err = { 0 };
    const int32_t n = nib_spec_next(sl->spec, sl->smp, sl->dsmp, out, cap, &err);
    if (n < 0) {
        slot_fail(e, s, 500, err.msg);
        return;
    }
    if (n == 0) { /* the KV cache is full (the reservation should prevent it) */
        slot_finish(e, s, "length");
        return;
    }
    for (int32_t i = 0; i < n; i++)
        if (!slot_emit(e, s, out[i], NULL)) return;
}

#define PREFILL_CHUNK 128 /* see step */

static void decode_step(struct serve_engine *e, int32_t m);

/* One step: a batch of every active sequence's work, decoded together;
 * then a speculative step of each slot that speculates. */
static void step(struct serve_engine *e) {
    int32_t m = 0;
    for (int s = 0; s < e->n_parallel; s++) {
        struct slot *sl = &e->slots[s];
        if (!sl->t) continue;
        if (atomic_load(&sl->t->cancel)) {
            slot_fail(e, s, 499, "cancelled");
            continue;
        }
        if (expired(sl->t, mono_s())) {
            serve_task_fail(sl->t, 504, "timeout_error", "the request took longer than the server's --timeout");
            slot_release(e, s);
            continue;
        }
        if (sl->spec || sl->n_past < sl->t->n_prompt) continue;
        e->tok[m] = sl->last;
        e->seq[m] = s;
        e->want[m] = 1;
        sl->row = m++;
    }
    /* prompt rows: while other sequences decode, at most PREFILL_CHUNK per step, so a long
     * prompt takes a few steps and the streams it shares them with keep flowing */
    const int32_t end = m > 0 && m + PREFILL_CHUNK < e->n_batch ? m + PREFILL_CHUNK : e->n_batch;
    for (int s = 0; s < e->n_parallel && m < end; s++) {
        struct slot *sl = &e->slots[s];
        if (!sl->t || sl->n_past >= sl->t->n_prompt) continue;
        const int32_t left = sl->t->n_prompt - sl->n_past, take = left < end - m ? left : end - m;
        for (int32_t i = 0; i < take; i++) {
            e->tok[m] = sl->t->prompt[sl->n_past + i];
            e->seq[m] = s;
            e->want[m] = i == left - 1;
            if (e->want[m]) sl->row = m;
            m++;
        }
        sl->n_past += take;
    }
    if (m > 0) decode_step(e, m);
    for (int s = 0; s < e->n_parallel; s++)
        if (e->slots[s].t && e->slots[s].spec) spec_step(e, s);
    publish_kv(e);
}

/* The batched part of a step: m rows in e->tok/seq/want, then sampling. */
static void decode_step(struct serve_engine *e, int32_t m) {
    struct nib_error err = { 0 };
    /* row-exact: each row (prompt chunks too) is computed as a lone decode computes it, so a
     * sequence's tokens and its cached KV do not depend on its batch-mates */
    struct nib_batch b = { m, e->tok, NULL, e->seq, e->want, NIB_BATCH_ROW_EXACT };
    const int rc = nib_decode(e->ctx, &b, &err);
    for (int s = 0; s < e->n_parallel; s++) {
        if (!e->slots[s].t) continue;
        if (rc) {
            bool in_batch = false;
            for (int32_t i = 0; i < m && !in_batch; i++) in_batch = e->seq[i] == s;
            if (in_batch) slot_fail(e, s, 500, err.msg);
        } else if (e->slots[s].row >= 0) {
            slot_sample(e, s);
        }
    }
}

void serve_engine_run(struct serve_engine *e) {
    for (;;) {
        pthread_mutex_lock(&e->mu);
        while (!e->stopping && atomic_load(&e->n_active) == 0 && e->n_queue == 0) pthread_cond_wait(&e->cv, &e->mu);
        const bool stop = e->stopping;
        pthread_mutex_unlock(&e->mu);
        if (stop) break;
        admit(e);
        step(e);
        publish_kv(e);
    }
    for (int s = 0; s < e->n_parallel; s++)
        if (e->slots[s].t) slot_fail(e, s, 503, "the server is shutting down");
}

static void *engine_main(void *arg) {
    serve_engine_run(arg);
    return NULL;
}

int serve_engine_start(struct serve_engine **out, const struct nib_model *m, struct nib_context *ctx, int32_t n_parallel,
                       int32_t queue_cap, const struct serve_spec_cfg *spec, bool own_thread) {
    struct serve_engine *e = calloc(1, sizeof(*e));
    if (!e) return cli_fail("out of memory");
    e->ctx = ctx;
    e->spec_on = spec != NULL;
    if (spec) e->spec = *spec;
    pthread_mutex_init(&e->spec_mu, NULL);
    e->vocab = nib_model_vocab(m);
    e->n_vocab = nib_model_n_vocab(m);
    e->n_parallel = n_parallel;
    e->queue_cap = queue_cap;
    e->n_batch = nib_context_n_batch(ctx);
    nib_context_kv_blocks(ctx, NULL, &e->total_blocks, &e->block);
    e->seed_state = (uint64_t)time(NULL) ^ ((uint64_t)(uintptr_t)e << 16);
    e->queue = calloc((size_t)queue_cap, sizeof(*e->queue));
    e->tok = calloc((size_t)e->n_batch, sizeof(int32_t));
    e->seq = calloc((size_t)e->n_batch, sizeof(int32_t));
    e->want = calloc((size_t)e->n_batch, 1);
    pthread_mutex_init(&e->mu, NULL);
    pthread_cond_init(&e->cv, NULL);
    *out = e;
    if (!e->queue || !e->tok || !e->seq || !e->want) return cli_fail("out of memory");
    if (e->n_batch < n_parallel) return cli_fail("--parallel %d is more than a batch holds (%d tokens)", n_parallel, e->n_batch);
    if (!own_thread) return 0;
    if (pthread_create(&e->thread, NULL, engine_main, e)) return cli_fail("cannot start the engine thread");
    e->running = true;
    return 0;
}

void serve_engine_set_timeout(struct serve_engine *e, double seconds) { e->timeout = seconds > 0 ? seconds : 0; }

int serve_engine_submit(struct serve_engine *e, struct serve_task *t) {
    t->deadline = e->timeout > 0 ? mono_s() + e->timeout : 0;
    pthread_mutex_lock(&e->mu);
    int rc = e->stopping ? SERVE_SUBMIT_STOPPING : e->n_queue >= e->queue_cap ? SERVE_SUBMIT_FULL : SERVE_SUBMIT_OK;
    if (rc == SERVE_SUBMIT_OK) {
        serve_task_ref(t);
        e->queue[e->n_queue++] = t;
        pthread_cond_signal(&e->cv);
    }
    pthread_mutex_unlock(&e->mu);
    return rc;
}

void serve_engine_cancel(struct serve_engine *e, struct serve_task *t) {
    atomic_store(&t->cancel, true);
    pthread_mutex_lock(&e->mu);
    pthread_cond_signal(&e->cv);
    pthread_mutex_unlock(&e->mu);
}

void serve_engine_stats(struct serve_engine *e, struct serve_engine_stats *s) {
    pthread_mutex_lock(&e->mu);
    s->queued = e->n_queue;
    pthread_mutex_unlock(&e->mu);
    s->active = atomic_load(&e->n_active);
    s->kv_used = atomic_load(&e->kv_used);
    s->kv_total = e->total_blocks;
    s->prompt_tokens = atomic_load(&e->prompt_tokens);
    s->cached_tokens = atomic_load(&e->cached_tokens);
    s->generated_tokens = atomic_load(&e->generated_tokens);
    s->spec = e->spec_on;
    pthread_mutex_lock(&e->spec_mu);
    s->spec_passes = (uint64_t)e->spec_done.steps, s->spec_drafted = (uint64_t)e->spec_done.drafted;
    s->spec_accepted = (uint64_t)e->spec_done.accepted, s->spec_emitted = (uint64_t)e->spec_done.emitted;
    s->spec_draft_s = e->spec_done.t_draft, s->spec_target_s = e->spec_done.t_target;
    pthread_mutex_unlock(&e->spec_mu);
}

void serve_engine_stop(struct serve_engine *e) {
    if (!e) return;
    pthread_mutex_lock(&e->mu);
    e->stopping = true;
    for (int32_t i = 0; i < e->n_queue; i++) {
        serve_task_fail(e->queue[i], 503, "server_error", "the server is shutting down");
        serve_task_unref(e->queue[i]);
    }
    e->n_queue = 0;
    pthread_cond_broadcast(&e->cv);
    pthread_mutex_unlock(&e->mu);
    if (e->running) pthread_join(e->thread, NULL);
    e->running = false;
}

void serve_engine_free(struct serve_engine *e) {
    if (!e) return;
    serve_engine_stop(e);
    free(e->queue);
    free(e->tok);
    free(e->seq);
    free(e->want);
    pthread_cond_destroy(&e->cv);
    pthread_mutex_destroy(&e->mu);
    pthread_mutex_destroy(&e->spec_mu);
    free(e);
}
