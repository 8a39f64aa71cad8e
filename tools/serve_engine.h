/*
 * serve_engine.h — nib serve's engine: one thread that owns the context and
 * runs continuous batching. HTTP threads submit tasks to a bounded FIFO
 * queue; between steps the engine admits queued tasks while a sequence slot
 * (--parallel) and KV blocks are free (each task reserves the blocks its
 * prompt plus max_gen can take, so a running sequence never finds the cache
 * full), starting each with nib_context_seq_reuse_prefix (shared system
 * prompts and history are not recomputed). Each step is one nib_decode over
 * every active sequence: the last token of each generating sequence plus
 * prompt chunks of newly admitted ones. Finished or cancelled sequences
 * leave between steps and their KV is truncated (full blocks stay in the
 * prefix cache).
 *
 * Speculative decoding (-md DRAFT or --lookup N): a request that does not ask
 * for logprobs gets a nib_spec on its slot's sequence of the target and the
 * draft context (or n-gram lookup): its prompt goes through nib_spec_prompt
 * (row-exact, cached prefix reused), and each step it advances by
 * nib_spec_next (K drafts, one row-exact verification, accepted tokens),
 * after the batched step of the other slots. Greedy output equals the plain
 * path's; sampling follows the target's distribution. Each slot reserves
 * K + 1 more tokens of KV for the drafts.
 *
 * Thread-safety: submit, wake, stats and stop may be called from any thread.
 */
#ifndef NIB_SERVE_ENGINE_H
#define NIB_SERVE_ENGINE_H

#include "nib.h"
#include "serve_task.h"

#include <stdint.h>

#define SERVE_MAX_PARALLEL 64 /* the context's sequence ids */

struct serve_engine;

struct serve_engine_stats {
    int32_t  queued, active, kv_used, kv_total;
    uint64_t prompt_tokens, cached_tokens, generated_tokens;
    bool     spec;                                   /* speculation is on */
    uint64_t spec_passes, spec_drafted, spec_accepted, spec_emitted; /* of finished requests */
    double   spec_draft_s, spec_target_s;
};

/* Speculation: draft == NULL means n-gram lookup; p: draft_max, draft_min,
 * p_min, lookup (the rest is set per request). */
struct serve_spec_cfg {
    struct nib_context    *draft;
    struct nib_spec_params p;
};

/* Makes the engine on ctx (which it owns from now on; the caller frees it
 * and spec->draft after serve_engine_free). spec: NULL for none. With
 * own_thread it starts its thread; without, the caller runs
 * serve_engine_run on the thread that loaded the model (one OpenMP team in
 * the process: libgomp throttles its spin-waits when its teams together
 * have more threads than the machine has CPUs, and every barrier then
 * sleeps). 0, or 1 with an error printed. */
int serve_engine_start(struct serve_engine **out, const struct nib_model *m, struct nib_context *ctx, int32_t n_parallel,
                       int32_t queue_cap, const struct serve_spec_cfg *spec, bool own_thread);
/* The engine loop on the calling thread; returns once serve_engine_stop is called. */
void serve_engine_run(struct serve_engine *e);
/* Requests still waiting or generating `seconds` after submission fail with
 * 504 (0: no limit, the default). Call before the first submit. */
void serve_engine_set_timeout(struct serve_engine *e, double seconds);

enum { SERVE_SUBMIT_OK, SERVE_SUBMIT_FULL, SERVE_SUBMIT_STOPPING };
/* Queues t (the engine takes its own reference on success). */
int serve_engine_submit(struct serve_engine *e, struct serve_task *t);
/* Sets t->cancel and wakes the engine, which drops the task at its next step. */
void serve_engine_cancel(struct serve_engine *e, struct serve_task *t);
void serve_engine_stats(struct serve_engine *e, struct serve_engine_stats *s);
/* Fails every queued and active task with 503 "shutting down" and joins the
 * engine's own thread (serve_engine_run returns); later submits get
 * SERVE_SUBMIT_STOPPING. */
void serve_engine_stop(struct serve_engine *e);
void serve_engine_free(struct serve_engine *e);

#endif
