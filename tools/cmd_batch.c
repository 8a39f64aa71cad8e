/*
 * cmd_batch.c — `nib batch`: many prompts decoded together, one sequence
 * each, every step one forward call over all live sequences (their weight
 * reads shared). Prompts come as JSON lines (a string, or {"tokens":[...]});
 * one JSON result per prompt is printed in input order, shaped as
 * `nib generate --json`. More prompts than sequences run in waves.
 */
#include "cli.h"
#include "gen_common.h"
#include "model_args.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_SEQ 64 /* the context's sequence ids */

struct batch_args {
    struct model_args         m;
    struct nib_sampler_params sp;
    int32_t                   n_predict;
    bool                      ignore_eos;
    const char               *prompts;
};

struct job {
    int32_t    *prompt, n_prompt;
    int32_t    *out, n_out;
    const char *stop;
};

static void usage(FILE *f) {
    fputs("usage: nib batch [-m MODEL] --prompts FILE.jsonl [-n N] [options]\n"
          "  --prompts FILE      one prompt per line: a JSON string, or {\"tokens\": [ids]}\n"
          "  -n N                tokens to generate per prompt (default 128)\n"
          "  -c N                KV cache size in tokens, all sequences together (default: what the\n"
          "                      prompts and -n need)\n"
          "  --kv-block N -t N --no-special --no-mmap, and the sampling flags of nib generate (--temp --top-k\n"
          "  --top-p --min-p --typical-p --repeat-penalty --repeat-last-n --frequency-penalty\n"
          "  --presence-penalty --seed; every sequence samples with the same seed)\n"
          "  --ignore-eos        do not stop at end-of-generation tokens\n"
          "  --json              (the only output: one JSON line per prompt, in input order)\n",
          f);
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* One line of the prompts file -> token ids. */
static int parse_prompt(const struct nib_vocab *v, const char *line, int lineno, bool no_special, struct job *j) {
    cJSON *js = cJSON_Parse(line);
    if (!js) return cli_fail("--prompts line %d: not JSON", lineno);
    int rc = 0;
    if (cJSON_IsString(js)) {
        const size_t len = strlen(js->valuestring);
        j->prompt = malloc(sizeof(int32_t) * (len + 3));
        struct nib_error err = { 0 };
        const uint32_t flags = NIB_TOKENIZE_ADD_SPECIAL | (no_special ? 0 : NIB_TOKENIZE_PARSE_SPECIAL);
        const int64_t n = j->prompt ? nib_tokenize(v, js->valuestring, len, flags, j->prompt, (int64_t)len + 3, &err) : -1;
        if (n < 0) rc = j->prompt ? cli_fail("--prompts line %d: %s", lineno, err.msg) : cli_fail("out of memory");
        else j->n_prompt = (int32_t)n;
    } else if (cJSON_IsObject(js) && cJSON_IsArray(cJSON_GetObjectItem(js, "tokens"))) {
        const cJSON *arr = cJSON_GetObjectItem(js, "tokens");
        const int n = cJSON_GetArraySize(arr);
        j->prompt = malloc(sizeof(int32_t) * (size_t)(n > 0 ? n : 1));
        if (!j->prompt) rc = cli_fail("out of memory");
        for (int i = 0; i < n && !rc; i++) {
            const cJSON *e = cJSON_GetArrayItem(arr, i);
            const double d = cJSON_IsNumber(e) ? e->valuedouble : -1;
            if (d < 0 || d >= nib_vocab_n_tokens(v) || d != (double)(int32_t)d)
                rc = cli_fail("--prompts line %d: token %d is not an id in 0..%d", lineno, i, nib_vocab_n_tokens(v) - 1);
            else j->prompt[j->n_prompt++] = (int32_t)d;
        }
    } else {
        rc = cli_fail("--prompts line %d: expected a JSON string or {\"tokens\": [ids]}", lineno);
    }
    cJSON_Delete(js);
    if (!rc && j->n_prompt == 0) rc = cli_fail("--prompts line %d: the prompt is empty", lineno);
    return rc;
}

static int read_prompts(const char *path, const struct nib_vocab *v, bool no_special, struct job **jobs, int *n_jobs) {
    FILE *f = fopen(path, "r");
    if (!f) return cli_fail("--prompts %s: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    int lineno = 0, rc = 0, n = 0, room = 0;
    struct job *js = NULL;
    while (!rc && getline(&line, &cap, f) >= 0) {
        lineno++;
        if (strspn(line, " \t\r\n") == strlen(line)) continue;
        if (n == room) {
            room = room ? 2 * room : 16;
            struct job *g = realloc(js, sizeof(*js) * (size_t)room);
            if (!g) {
                rc = cli_fail("out of memory");
                break;
            }
            js = g;
        }
        memset(&js[n], 0, sizeof(js[n]));
        rc = parse_prompt(v, line, lineno, no_special, &js[n++]);
    }
    free(line);
    fclose(f);
    if (!rc && n == 0) rc = cli_fail("--prompts %s: no prompts", path);
    *jobs = js;
    *n_jobs = n;
    return rc;
}

/* Samples a sequence's next token from row i of the last batch; *live stays
 * true while the sequence goes on. */
static int take_token(const struct batch_args *a, const struct nib_vocab *v, struct nib_context *ctx, int32_t i,
                      struct nib_sampler *smp, struct job *j, bool *live, struct nib_error *err, int64_t *generated) {
    const int32_t t = nib_sampler_sample(smp, nib_context_logits(ctx, i), err);
    if (t < 0) return cli_fail_err(err);
    nib_sampler_accept(smp, t);
    j->out[j->n_out++] = t;
    (*generated)++;
    *live = true;
    if (!a->ignore_eos && nib_vocab_is_eog(v, t)) {
        j->stop = "eog";
        *live = false;
    } else if (j->n_out == a->n_predict) {
        *live = false;
    }
    return 0;
}

/* Runs jobs [0, n) (n <= MAX_SEQ) as sequences 0..n-1 of ctx. */
static int run_wave(const struct batch_args *a, struct nib_context *ctx, const struct nib_vocab *v, struct job *jobs, int n,
                    int64_t *generated) {
    struct nib_error err = { 0 };
    const int32_t nb = nib_context_n_batch(ctx);
    int32_t *tok = malloc(sizeof(int32_t) * (size_t)nb), *seq = malloc(sizeof(int32_t) * (size_t)nb);
    int8_t *want = malloc((size_t)nb);
    struct nib_sampler *smp[MAX_SEQ] = { 0 };
    bool live[MAX_SEQ] = { false };
    int rc = tok && seq && want ? 0 : cli_fail("out of memory");
    for (int s = 0; s < n && !rc; s++) {
        if (nib_sampler_init(&a->sp, nib_vocab_n_tokens(v), &smp[s], &err)) rc = cli_fail_err(&err);
        jobs[s].out = malloc(sizeof(int32_t) * (size_t)(a->n_predict > 0 ? a->n_predict : 1));
        if (!jobs[s].out && !rc) rc = cli_fail("out of memory");
        jobs[s].stop = "length";
    }
    /* prefill: each prompt on its own, in the batches a lone `nib generate` uses (so its first
     * token is the one it gets alone); the sequence samples its first token at the end */
    for (int s = 0; s < n && !rc; s++) {
        for (int32_t pos = 0; pos < jobs[s].n_prompt && !rc; pos += nb) {
            const int32_t m = jobs[s].n_prompt - pos < nb ? jobs[s].n_prompt - pos : nb;
            for (int32_t i = 0; i < m; i++) {
                tok[i] = jobs[s].prompt[pos + i];
                seq[i] = s;
                want[i] = pos + i == jobs[s].n_prompt - 1 && a->n_predict > 0;
            }
            struct nib_batch b = { m, tok, NULL, seq, want, 0 };
            if (nib_decode(ctx, &b, &err)) rc = cli_fail_err(&err);
            if (!rc && want[m - 1]) rc = take_token(a, v, ctx, m - 1, smp[s], &jobs[s], &live[s], &err, generated);
        }
    }
    /* decode: each live sequence's last token, one forward call for all; rows computed as a
     * lone decode computes them (NIB_BATCH_ROW_EXACT), so every sequence gets the tokens it
     * gets alone, bit for bit */
    while (!rc) {
        int32_t m = 0;
        for (int s = 0; s < n; s++)
            if (live[s]) {
                tok[m] = jobs[s].out[jobs[s].n_out - 1];
                seq[m] = s;
                want[m++] = 1;
            }
        if (m == 0) break;
        struct nib_batch b = { m, tok, NULL, seq, want, NIB_BATCH_ROW_EXACT };
        if (nib_decode(ctx, &b, &err)) rc = cli_fail_err(&err);
        for (int32_t i = 0; i < m && !rc; i++)
            rc = take_token(a, v, ctx, i, smp[seq[i]], &jobs[seq[i]], &live[seq[i]], &err, generated);
    }
    for (int s = 0; s < n; s++) {
        nib_sampler_free(smp[s]);
        nib_context_seq_truncate(ctx, s, 0, &err);
    }
    free(tok);
    free(seq);
    free(want);
    return rc;
}

int nib_cmd_batch(int argc, char **argv) {
    struct batch_args a = { .sp = nib_sampler_default_params(), .n_predict = 128 };
    for (int i = 1; i < argc; i++) {
        int r = model_args_parse(&a.m, argc, argv, &i);
        if (r < 0) return 1;
        if (r) continue;
        const char *o = argv[i];
        if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(o, "--ignore-eos")) a.ignore_eos = true;
        else if (!strcmp(o, "--json")) continue;
        else if (!strcmp(o, "--prompts") && i + 1 < argc) a.prompts = argv[++i];
        else {
            bool used = false;
            if (i + 1 < argc && gen_parse_sampling(&a.sp, &a.n_predict, o, argv[i + 1], &used)) return 1;
            if (!used) return cli_fail("batch: unknown option or missing value: '%s' (see nib batch --help)", o);
            i++;
        }
    }
    if (!a.prompts) return cli_fail("batch: give the prompts with --prompts FILE.jsonl");
    if (a.m.prompt || a.m.tokens) return cli_fail("batch: prompts come from --prompts, not -p/--tokens");
    if (a.n_predict < 0) return cli_fail("batch: -n must be >= 0");
    char buf[4096];
    const char *path = a.m.model ? a.m.model : model_args_default_model(buf, sizeof buf);
    struct nib_error err = { 0 };
    struct nib_model *model = NULL;
    if (model_args_load_model(&a.m, path, &model)) return 1;
    const struct nib_vocab *v = nib_model_vocab(model);
    struct job *jobs = NULL;
    int n_jobs = 0;
    int rc = read_prompts(a.prompts, v, a.m.no_special, &jobs, &n_jobs);
    struct nib_context *ctx = NULL;
    if (!rc) { /* room for the largest wave: every sequence's prompt and output, plus a block each */
        int64_t need = 0;
        for (int w = 0; w < n_jobs; w += MAX_SEQ) {
            int64_t t = 0;
            for (int j = w; j < n_jobs && j < w + MAX_SEQ; j++) t += jobs[j].n_prompt + a.n_predict + 32;
            if (t > need) need = t;
        }
        struct nib_context_params cp = nib_context_default_params();
        cp.n_ctx = a.m.n_ctx ? a.m.n_ctx : (int32_t)(need < (1 << 24) ? need : (1 << 24));
        cp.n_batch = 512;
        cp.n_threads = a.m.n_threads;
        cp.kv_block = a.m.kv_block;
        cp.n_gpu_layers = a.m.n_gpu_layers;
        cp.gpu_progress = cli_gpu_progress;
        if (nib_context_new(model, &cp, &ctx, &err)) rc = cli_fail_err(&err);
    }
    int64_t generated = 0;
    const double t0 = now_s();
    for (int w = 0; w < n_jobs && !rc; w += MAX_SEQ)
        rc = run_wave(&a, ctx, v, jobs + w, n_jobs - w < MAX_SEQ ? n_jobs - w : MAX_SEQ, &generated);
    const double dt = now_s() - t0;
    for (int j = 0; j < n_jobs && !rc; j++)
        rc = gen_print_json(v, jobs[j].prompt, jobs[j].n_prompt, jobs[j].out, jobs[j].n_out, jobs[j].stop);
    if (!rc)
        fprintf(stderr, "nib: %d prompts, %lld tokens generated in %.3f s (%.1f t/s together, prompts included)\n", n_jobs,
                (long long)generated, dt, (double)generated / (dt > 0 ? dt : 1e-9));
    for (int j = 0; j < n_jobs; j++) {
        free(jobs[j].prompt);
        free(jobs[j].out);
    }
    free(jobs);
    nib_context_free(ctx);
    nib_model_free(model);
    return rc;
}
