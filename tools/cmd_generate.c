/*
 * cmd_generate.c — `nib generate`: prompt in, text streamed out, stopping at
 * an end-of-generation token, a stop string, -n tokens or a full context;
 * timings on stderr. --json prints the llamaref-shaped result instead.
 * -md DRAFT / --lookup N: speculative decoding (nib_spec_*), the same
 * tokens when greedy, with its statistics on stderr.
 */
#include "cli.h"
#include "gen_common.h"
#include "model_args.h"
#include "stop_strings.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

struct gen_args {
    struct model_args         m;
    struct nib_sampler_params sp;
    int32_t                   n_predict;
    bool                      ignore_eos, json;
    const char               *stops[16];
    int                       n_stops;
    struct gen_spec_args      spec;       /* -md / --lookup: speculative decoding */
};

static void usage(FILE *f) {
    fputs("usage: nib generate [-m MODEL] (-p TEXT | --tokens IDS) [-n N] [options]\n"
          "  -m MODEL            GGUF model (default: models/stories260K-q8_0.gguf)\n"
          "  -p TEXT | --tokens  the prompt, as text or token ids\n"
          "  -n N                tokens to generate (default 128; -1: until the context is full)\n"
          "  -c N                context size in tokens (default: the model's)\n"
          "  --kv-block N        KV cache block size in tokens (default 16)\n"
          "  --kv-type T         KV cache type: f16 (default) or q8_0 (half the memory)\n"
          "  -ngl N              the first N layers on the CUDA GPU (99: all; a build with -DNIB_CUDA=ON)\n"
          "  -t N                threads (default: physical cores)\n"
          "  --no-mmap           copy the weights into memory (huge pages) instead of mapping the file\n"
          "  --temp T            temperature (default 0.8; 0 = greedy)\n"
          "  --top-k K --top-p P --min-p P --typical-p P\n"
          "  --repeat-penalty R --repeat-last-n N --frequency-penalty F --presence-penalty F\n"
          "  --seed S            sampling seed (default: fixed; same seed, same text)\n"
          "  --stop STR          stop when STR is generated (repeatable, up to 16)\n"
          "  --ignore-eos        do not stop at end-of-generation tokens\n"
          "  --no-special        treat special-token text in the prompt as plain text\n"
          "  --json              print {prompt_tokens, tokens, text, stop} instead of streaming\n",
          f);
    fputs(GEN_SPEC_HELP, f);
}

static int parse_args(struct gen_args *g, int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        int r = model_args_parse(&g->m, argc, argv, &i);
        if (r < 0) return 1;
        if (r) continue;
        const char *o = argv[i];
        if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
            usage(stdout);
            return -1;
        }
        if (!strcmp(o, "--ignore-eos")) g->ignore_eos = true;
        else if (!strcmp(o, "--json")) g->json = true;
        else if (i + 1 < argc && !strcmp(o, "--stop")) {
            if (g->n_stops == 16) return cli_fail("at most 16 --stop strings");
            if (!argv[i + 1][0]) return cli_fail("--stop: empty string");
            g->stops[g->n_stops++] = argv[++i];
        } else {
            bool used = false;
            if (i + 1 < argc && gen_parse_sampling(&g->sp, &g->n_predict, o, argv[i + 1], &used)) return 1;
            if (!used && i + 1 < argc && gen_parse_spec(&g->spec, o, argv[i + 1], &used)) return 1;
            if (!used) {
                return cli_fail("generate: unknown option or missing value: '%s' (see nib generate --help)", o);
            }
            i++;
        }
    }
    return gen_check_spec(&g->spec);
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void print_setup(const struct loaded *l) {
    char b1[32], b2[32], b3[32];
    fprintf(stderr, "nib: %s model, %.2f M params, %s weights; context %d tokens: KV cache %s, compute buffers %s\n",
            nib_model_arch(l->model), (double)nib_model_n_params(l->model) / 1e6,
            cli_fmt_bytes(b1, (double)nib_model_weight_bytes(l->model)), nib_context_n_ctx(l->ctx),
            cli_fmt_bytes(b2, (double)nib_context_kv_bytes(l->ctx)), cli_fmt_bytes(b3, (double)nib_context_compute_bytes(l->ctx)));
}

/* Prompt in batches of n_batch; the logits of its last token are wanted.
 * *last gets that token's index in the last batch. */
static int eval_prompt(struct loaded *l, int32_t *last) {
    struct nib_error err = { 0 };
    int32_t nb = nib_context_n_batch(l->ctx);
    for (int32_t off = 0; off < l->n_prompt; off += nb) {
        int32_t n = l->n_prompt - off < nb ? l->n_prompt - off : nb;
        struct nib_batch b = { n, l->prompt + off, NULL, NULL, NULL, 0 };
        if (nib_decode(l->ctx, &b, &err)) return cli_fail_err(&err);
        *last = n - 1;
    }
    return 0;
}

struct gen_result {
    int32_t    *tokens;
    int32_t     n;
    const char *stop; /* "length", "eog", "stop" */
    double      t_prompt, t_gen;
};

/* Where tokens come from: plain decoding (one per step) or speculative
 * decoding (several per step, the same tokens when greedy). */
struct token_source {
    struct loaded      *l;
    struct nib_sampler *s, *ds;   /* target sampler; the draft's (speculative sampling) */
    struct nib_spec    *spec;     /* NULL: plain */
    int32_t             last;     /* plain: the row whose logits come next */
    int32_t             pending;  /* plain: the last token, not yet decoded (-1: none) */
};

/* The next tokens (at least one) into buf; 0 when the context is full; a
 * negative status on error. The sampler has accepted them. */
static int32_t next_tokens(struct token_source *ts, int32_t *buf, int32_t cap, struct nib_error *err) {
    if (ts->spec) return nib_spec_next(ts->spec, ts->s, ts->ds, buf, cap, err);
    if (ts->pending >= 0) {
        if (nib_context_seq_len(ts->l->ctx, 0) >= nib_context_n_ctx(ts->l->ctx)) return 0;
        struct nib_batch b = { 1, &ts->pending, NULL, NULL, NULL, 0 };
        int rc = nib_decode(ts->l->ctx, &b, err);
        if (rc) return rc;
        ts->last = 0;
    }
    int32_t tok = nib_sampler_sample(ts->s, nib_context_logits(ts->l->ctx, ts->last), err);
    if (tok < 0) return tok;
    nib_sampler_accept(ts->s, tok);
    buf[0] = ts->pending = tok;
    return 1;
}

static int generate(struct gen_args *g, struct token_source *ts, struct gen_result *r) {
    struct loaded *l = ts->l;
    const struct nib_vocab *v = nib_model_vocab(l->model);
    struct stop_filter sf;
    stop_filter_init(&sf, g->stops, g->n_stops, !g->json);
    struct nib_error err = { 0 };
    double t0 = now_s();
    int rc = 0;
    if (ts->spec) {
        if (nib_spec_prompt(ts->spec, l->prompt, l->n_prompt, &err)) rc = cli_fail_err(&err);
    } else {
        rc = eval_prompt(l, &ts->last);
    }
    r->t_prompt = now_s() - t0;
    int32_t limit = nib_context_n_ctx(l->ctx) - l->n_prompt;
    if (g->n_predict >= 0 && g->n_predict < limit) limit = g->n_predict;
    r->tokens = malloc(sizeof(int32_t) * (size_t)(limit > 0 ? limit : 1));
    r->stop = "length";
    t0 = now_s();
    bool done = false;
    while (!rc && !done && r->tokens && r->n < limit) {
        int32_t buf[257];
        const int32_t cap = limit - r->n < 257 ? limit - r->n : 257;
        const int32_t got = next_tokens(ts, buf, cap, &err);
        if (got < 0) rc = cli_fail_err(&err);
        if (got <= 0) break;
        for (int32_t i = 0; i < got && !done; i++) {
            const int32_t tok = buf[i];
            r->tokens[r->n++] = tok;
            if (!g->ignore_eos && nib_vocab_is_eog(v, tok)) {
                r->stop = "eog";
                done = true;
                break;
            }
            char piece[512];
            int64_t np = nib_token_to_piece(v, tok, 0, piece, sizeof piece);
            if (stop_filter_push(&sf, piece, (size_t)(np < (int64_t)sizeof piece ? np : (int64_t)sizeof piece))) {
                r->stop = "stop";
                done = true;
            }
        }
    }
    stop_filter_finish(&sf);
    r->t_gen = now_s() - t0;
    if (!r->tokens && !rc) rc = cli_fail("out of memory");
    stop_filter_free(&sf);
    return rc;
}

int nib_cmd_generate(int argc, char **argv) {
    struct gen_args g = { .sp = nib_sampler_default_params(), .n_predict = 128, .spec.p = nib_spec_default_params() };
    int rc = parse_args(&g, argc, argv);
    if (rc) return rc < 0 ? 0 : rc;
    struct loaded l, draft = { 0 };
    int32_t extra = g.n_predict < 0 ? 0 : g.n_predict;
    rc = model_args_load(&g.m, extra, &l);
    struct token_source ts = { .l = &l, .pending = -1 };
    struct nib_error err = { 0 };
    if (!rc && nib_sampler_init(&g.sp, nib_model_n_vocab(l.model), &ts.s, &err)) rc = cli_fail_err(&err);
    if (!rc && (g.spec.draft || g.spec.lookup))
        rc = gen_spec_setup(&g.spec, &g.sp, l.model, l.ctx, &draft.model, &draft.ctx, &ts.ds, &ts.spec);
    struct gen_result r = { 0 };
    if (!rc) {
        if (!g.json) print_setup(&l);
        rc = generate(&g, &ts, &r);
    }
    if (!rc && g.json) rc = gen_print_json(nib_model_vocab(l.model), l.prompt, l.n_prompt, r.tokens, r.n, r.stop);
    if (!rc && !g.json) {
        int32_t used = 0, total = 0, bs = 0;
        nib_context_kv_blocks(l.ctx, &used, &total, &bs);
        fprintf(stderr, "\nnib: prompt %d tokens in %.3f s (%.1f t/s), generated %d tokens in %.3f s (%.1f t/s), stop: %s\n",
                l.n_prompt, r.t_prompt, l.n_prompt / (r.t_prompt > 0 ? r.t_prompt : 1e-9), r.n, r.t_gen,
                r.n / (r.t_gen > 0 ? r.t_gen : 1e-9), r.stop);
        fprintf(stderr, "nib: KV blocks %d used of %d (%d tokens each)\n", used, total, bs);
    }
    if (!rc && ts.spec) gen_print_spec_stats(ts.spec);
    free(r.tokens);
    nib_spec_free(ts.spec);
    nib_sampler_free(ts.ds);
    nib_sampler_free(ts.s);
    loaded_free(&draft);
    loaded_free(&l);
    return rc;
}
