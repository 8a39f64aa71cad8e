/*
 * cmd_bench.c — `nib bench`, in the manner of llama-bench: for every model x
 * thread count x depth x test (ppP: one batch of P random tokens; tgN: N
 * one-token decodes; after D tokens already in the KV cache with -d D), one
 * warm-up run then -r timed runs; mean ± sd tokens/s, and for decode the
 * weight bandwidth it implies (GB/s of weights read per token). With -ngl N
 * the first N layers run on the CUDA device; the device's copy bandwidth is
 * measured once and decode is also shown as a fraction of it.
 * Output: a markdown table (default), JSON with llama-bench's field names, or
 * CSV. A progress line goes to stderr.
 */
#include "cli.h"
#include "model_args.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef NIB_GIT_COMMIT
#define NIB_GIT_COMMIT "unknown"
#endif

#define MAX_LIST 16

#if defined(__clang__)
#define NIB_COMPILER "clang " __clang_version__
#elif defined(__GNUC__)
#define NIB_COMPILER "gcc " __VERSION__
#else
#define NIB_COMPILER "unknown"
#endif

struct int_list {
    int32_t v[MAX_LIST];
    int     n;
};

struct bench_args {
    const char     *models[MAX_LIST];
    int             n_models;
    struct int_list threads, prompt, gen, parallel, depth, ngl;
    int32_t         reps;
    int32_t         ctx_min; /* -c: the context window at least this (0: what each test needs) */
    const char     *output; /* md, json, csv */
    char           *models_copy;
    const char     *draft;  /* -md: tgN also with speculative decoding ("tgN -md") */
    bool            no_mmap; /* --no-mmap: nib_model_params.no_mmap for every model */
    struct nib_model *draft_model;
    bool            gpu;       /* some -ngl value > 0: the device's facts below */
    struct nib_gpu_info gpu_info;
    double          gpu_copy_gbps;
};

struct result {
    const char *model;
    const struct nib_model *m;
    int32_t n_threads, n_prompt, n_gen, n_par; /* n_par sequences decoding together (tg) */
    int32_t n_depth;                           /* tokens in each sequence's KV cache before the test */
    int32_t n_gpu_layers;                      /* -ngl */
    int32_t n_ctx;                             /* the context window it ran in */
    bool    spec;                              /* tg with the -md draft, greedy from a short prompt */
    double  samples_ns[64];
    int     n_samples;
    double  avg_ts, sd_ts, avg_ns, sd_ns;
};

static bool parse_list(const char *s, int32_t lo, int32_t hi, struct int_list *l) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", s);
    l->n = 0;
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        if (l->n == MAX_LIST || !parse_i32(tok, lo, hi, &l->v[l->n])) return false;
        l->n++;
    }
    return l->n > 0;
}

static double now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

/* Puts n_depth random tokens (not timed) in sequence 0, in batches of at
 * most n_batch; 0 or -1. */
static int fill_depth(struct nib_context *c, const int32_t *toks, int32_t n_depth, int32_t n_batch) {
    struct nib_error err = { 0 };
    for (int32_t i = 0; i < n_depth; i += n_batch) {
        struct nib_batch b = { n_depth - i < n_batch ? n_depth - i : n_batch, toks + i, NULL, NULL, NULL, 0 };
        if (nib_decode(c, &b, &err)) return cli_fail_err(&err), -1;
    }
    return 0;
}

/* One timed run of a test on a context holding only sequence 0's first
 * n_depth tokens (fill_depth); every sequence starts from them (shared
 * blocks). Returns ns or < 0. tg with n_par > 1: every step one batch of
 * n_par tokens, one per sequence, each asking for logits. */
static double run_once(struct nib_context *c, const int32_t *toks, int32_t n_prompt, int32_t n_gen, int32_t n_par,
                       int32_t n_depth) {
    struct nib_error err = { 0 };
    int32_t seq[64], tk[64];
    int8_t want[64];
    for (int32_t s = 0; s < n_par; s++) {
        if (s == 0 ? nib_context_seq_truncate(c, 0, n_depth, &err) : nib_context_seq_fork(c, s, 0, &err))
            return cli_fail_err(&err), -1;
        seq[s] = s;
        want[s] = 1;
    }
    double t0 = now_ns();
    if (n_prompt) {
        struct nib_batch b = { n_prompt, toks, NULL, NULL, NULL, 0 };
        if (nib_decode(c, &b, &err)) return cli_fail_err(&err), -1;
    }
    for (int32_t i = 0; i < n_gen; i++) {
        for (int32_t s = 0; s < n_par; s++) tk[s] = toks[(i + 7 * s) % n_gen];
        struct nib_batch b = { n_par, tk, NULL, seq, want, NIB_BATCH_ROW_EXACT }; /* as nib batch decodes */
        if (nib_decode(c, &b, &err)) return cli_fail_err(&err), -1;
    }
    return now_ns() - t0;
}

/* One timed speculative run: greedy continuation of toks[0..8) until n_gen
 * tokens, with the draft; the prompt is not timed. ns or < 0. */
static double run_spec_once(struct nib_context *c, struct nib_context *dc, const int32_t *toks, int32_t n_gen) {
    struct nib_error err = { 0 };
    nib_context_seq_truncate(c, 0, 0, &err);
    nib_context_seq_truncate(dc, 0, 0, &err);
    struct nib_spec_params p = nib_spec_default_params();
    struct nib_sampler_params sp = nib_sampler_default_params();
    sp.temperature = 0;
    struct nib_spec *s = NULL;
    struct nib_sampler *smp = NULL;
    double t = -1;
    if (nib_spec_new(c, dc, &p, &s, &err) || nib_sampler_init(&sp, nib_model_n_vocab(nib_context_model(c)), &smp, &err) ||
        nib_spec_prompt(s, toks, 8, &err)) {
        cli_fail_err(&err);
    } else {
        int32_t buf[257], got = nib_spec_next(s, smp, NULL, buf, 1, &err), n = 0; /* the first token: from the prompt */
        const double t0 = now_ns();
        while (got > 0 && n < n_gen) {
            got = nib_spec_next(s, smp, NULL, buf, 257, &err);
            n += got;
        }
        if (got < 0) cli_fail_err(&err);
        else t = now_ns() - t0;
    }
    nib_sampler_free(smp);
    nib_spec_free(s);
    return t;
}

static void stats(struct result *r) {
    int32_t n_tok = r->n_prompt + r->n_gen * r->n_par;
    double s_ts = 0, s2_ts = 0, s_ns = 0, s2_ns = 0;
    for (int i = 0; i < r->n_samples; i++) {
        double ts = 1e9 * n_tok / r->samples_ns[i];
        s_ts += ts;
        s2_ts += ts * ts;
        s_ns += r->samples_ns[i];
        s2_ns += r->samples_ns[i] * r->samples_ns[i];
    }
    int n = r->n_samples;
    r->avg_ts = s_ts / n;
    r->avg_ns = s_ns / n;
    r->sd_ts = n > 1 ? sqrt(fmax(0, (s2_ts - n * r->avg_ts * r->avg_ts) / (n - 1))) : 0;
    r->sd_ns = n > 1 ? sqrt(fmax(0, (s2_ns - n * r->avg_ns * r->avg_ns) / (n - 1))) : 0;
}

static int run_test(const struct bench_args *a, struct result *r) {
    /* per sequence: its tokens and a block copied on write; the depth once (shared) */
    int32_t n_ctx = r->n_depth + r->n_prompt + (r->n_gen + 16 + 16) * r->n_par + 1 + (r->spec ? 8 + 257 : 0);
    if (n_ctx < a->ctx_min) n_ctx = a->ctx_min; /* -c: a window as large as a user's (what it holds need not be) */
    r->n_ctx = n_ctx;
    int32_t n_batch = r->spec ? 264 : r->n_prompt > 0 ? r->n_prompt : r->n_par;
    if (r->n_depth > n_batch) n_batch = r->n_depth < 512 ? r->n_depth : 512;
    struct nib_context_params cp = { .n_ctx = n_ctx, .n_batch = n_batch, .n_threads = r->n_threads,
                                     .n_gpu_layers = r->n_gpu_layers };
    struct nib_context *c = NULL, *dc = NULL;
    struct nib_error err = { 0 };
    if (nib_context_new(r->m, &cp, &c, &err)) return cli_fail_err(&err);
    if (r->spec && nib_context_new(a->draft_model, &cp, &dc, &err)) {
        nib_context_free(c);
        return cli_fail_err(&err);
    }
    r->n_threads = nib_context_n_threads(c);
    int32_t n = r->n_prompt > r->n_gen ? r->n_prompt : r->n_gen, n_vocab = nib_model_n_vocab(r->m);
    if (r->n_depth > n) n = r->n_depth;
    int32_t *toks = malloc(sizeof(int32_t) * (size_t)n);
    uint64_t s = 0x9e3779b97f4a7c15ull;
    for (int32_t i = 0; toks && i < n; i++) toks[i] = (int32_t)((s = s * 6364136223846793005ull + 1442695040888963407ull) >> 33) % n_vocab;
    int rc = toks ? 0 : cli_fail("out of memory");
    if (!rc && r->n_depth) {
        fprintf(stderr, "\rnib bench: %s t=%d filling %d tokens of depth   ", r->model, r->n_threads, r->n_depth);
        rc = fill_depth(c, toks, r->n_depth, n_batch) ? 1 : 0;
    }
    for (int i = -1; !rc && i < a->reps; i++) { /* i = -1: warm-up */
        fprintf(stderr, "\rnib bench: %s ngl=%d t=%d %s%d x%d%s d%d run %d/%d   ", r->model, r->n_gpu_layers, r->n_threads,
                r->n_prompt ? "pp" : "tg", r->n_prompt ? r->n_prompt : r->n_gen, r->n_par, r->spec ? " -md" : "", r->n_depth, i + 1,
                a->reps);
        double ns = r->spec ? run_spec_once(c, dc, toks, r->n_gen)
                            : run_once(c, toks, r->n_prompt, r->n_gen, r->n_par, r->n_depth);
        if (ns < 0) rc = 1;
        else if (i >= 0) r->samples_ns[r->n_samples++] = ns;
    }
    free(toks);
    nib_context_free(c);
    nib_context_free(dc);
    if (!rc) stats(r);
    return rc;
}

static const char *test_name(const struct result *r, char buf[48]) {
    char depth[20] = "";
    if (r->n_depth) snprintf(depth, sizeof depth, " @ d%d", r->n_depth); /* llama-bench's notation */
    if (r->spec) snprintf(buf, 48, "tg%d -md", r->n_gen); /* greedy with the draft */
    else if (r->n_par > 1) snprintf(buf, 48, "tg%d x%d%s", r->n_gen, r->n_par, depth); /* aggregate t/s of n_par sequences */
    else snprintf(buf, 48, "%s%d%s", r->n_prompt ? "pp" : "tg", r->n_prompt ? r->n_prompt : r->n_gen, depth);
    return buf;
}

/* GB/s of weights a decode test read (weights are read once per step,
 * whatever the number of sequences); 0 for other tests. */
static double decode_gbps(const struct result *r) {
    return r->n_gen && !r->spec ? r->avg_ts / r->n_par * (double)nib_model_decode_bytes(r->m) / 1e9 : 0;
}

/* Every layer on the GPU: its decode is measured against the device's copy
 * bandwidth (with some on the CPU, that is not the limit). */
static bool all_on_gpu(const struct result *r) { return r->n_gpu_layers >= nib_model_n_layer(r->m); }

static void backend_name(const struct result *r, char buf[32]) {
    if (r->n_gpu_layers > 0) snprintf(buf, 32, "CUDA");
    else snprintf(buf, 32, "cpu-%s", nib_cpu_backend());
}

static void print_md(const struct bench_args *a, const struct result *rs, int n) {
    if (a->ctx_min) printf("Context window: at least %d tokens (-c)\n\n", a->ctx_min);
    if (a->gpu) {
        const struct nib_gpu_info *g = &a->gpu_info;
        printf("GPU: %s (compute %d.%d, %d SMs, %.1f GiB); device-to-device copy %.0f GB/s (read + write), measured in this run\n\n",
               g->name, g->cc_major, g->cc_minor, g->sm_count, (double)g->total_bytes / 1073741824.0, a->gpu_copy_gbps);
        printf("| model | size | params | backend | ngl | threads | test | t/s | GB/s | of copy bw |\n");
        printf("| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    } else {
        printf("| model | size | params | backend | threads | test | t/s | GB/s |\n");
        printf("| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: |\n");
    }
    for (int i = 0; i < n; i++) {
        const struct result *r = &rs[i];
        char sz[32], tn[48], be[32], gbs[48] = "", ngl[16] = "", frac[24] = "";
        if (decode_gbps(r) > 0) snprintf(gbs, sizeof gbs, "%.2f", decode_gbps(r));
        if (a->gpu) snprintf(ngl, sizeof ngl, " %d |", r->n_gpu_layers);
        if (a->gpu && all_on_gpu(r) && decode_gbps(r) > 0) snprintf(frac, sizeof frac, "%.1f%%", 100 * decode_gbps(r) / a->gpu_copy_gbps);
        backend_name(r, be);
        printf("| %s | %s | %.2f M | %s |%s %d | %s | %.2f ± %.2f | %s |%s%s%s\n", r->model,
               cli_fmt_bytes(sz, (double)nib_model_weight_bytes(r->m)), (double)nib_model_n_params(r->m) / 1e6, be, ngl,
               r->n_threads, test_name(r, tn), r->avg_ts, r->sd_ts, gbs, a->gpu ? " " : "", frac, a->gpu ? " |" : "");
    }
}

static cJSON *result_json(const struct bench_args *a, const struct result *r) {
    cJSON *o = cJSON_CreateObject(), *sn = cJSON_CreateArray(), *st = cJSON_CreateArray();
    char tn[48];
    cJSON_AddStringToObject(o, "build_commit", NIB_GIT_COMMIT);
    cJSON_AddStringToObject(o, "compiler", NIB_COMPILER);
    cJSON_AddStringToObject(o, "backend", r->n_gpu_layers > 0 ? "CUDA" : "cpu");
    cJSON_AddNumberToObject(o, "n_gpu_layers", r->n_gpu_layers);
    if (r->n_gpu_layers > 0) {
        cJSON_AddStringToObject(o, "gpu_info", a->gpu_info.name);
        cJSON_AddNumberToObject(o, "gpu_copy_gbps", a->gpu_copy_gbps);
    }
    cJSON_AddStringToObject(o, "kernels", nib_cpu_backend());
    cJSON_AddStringToObject(o, "model_filename", r->model);
    cJSON_AddStringToObject(o, "model_type", nib_model_arch(r->m));
    cJSON_AddNumberToObject(o, "model_size", (double)nib_model_weight_bytes(r->m));
    cJSON_AddNumberToObject(o, "model_n_params", (double)nib_model_n_params(r->m));
    cJSON_AddNumberToObject(o, "n_threads", r->n_threads);
    cJSON_AddNumberToObject(o, "n_prompt", r->n_prompt);
    cJSON_AddNumberToObject(o, "n_gen", r->n_gen);
    cJSON_AddNumberToObject(o, "n_depth", r->n_depth);
    cJSON_AddNumberToObject(o, "n_parallel", r->n_par);
    cJSON_AddNumberToObject(o, "n_ctx", r->n_ctx);
    cJSON_AddStringToObject(o, "test", test_name(r, tn));
    cJSON_AddNumberToObject(o, "avg_ns", r->avg_ns);
    cJSON_AddNumberToObject(o, "stddev_ns", r->sd_ns);
    cJSON_AddNumberToObject(o, "avg_ts", r->avg_ts);
    cJSON_AddNumberToObject(o, "stddev_ts", r->sd_ts);
    if (decode_gbps(r) > 0) {
        cJSON_AddNumberToObject(o, "decode_gbps", decode_gbps(r));
        if (all_on_gpu(r)) cJSON_AddNumberToObject(o, "decode_copy_bw_frac", decode_gbps(r) / a->gpu_copy_gbps);
    }
    cJSON_AddBoolToObject(o, "speculative", r->spec);
    for (int i = 0; i < r->n_samples; i++) {
        cJSON_AddItemToArray(sn, cJSON_CreateNumber(r->samples_ns[i]));
        cJSON_AddItemToArray(st, cJSON_CreateNumber(1e9 * (r->n_prompt + r->n_gen * r->n_par) / r->samples_ns[i]));
    }
    cJSON_AddItemToObject(o, "samples_ns", sn);
    cJSON_AddItemToObject(o, "samples_ts", st);
    return o;
}

static void print_json(const struct bench_args *a, const struct result *rs, int n) {
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; i < n; i++) cJSON_AddItemToArray(arr, result_json(a, &rs[i]));
    char *s = cJSON_Print(arr);
    if (s) puts(s);
    free(s);
    cJSON_Delete(arr);
}

static void print_csv(const struct result *rs, int n) {
    printf("build_commit,model_filename,model_type,model_size,model_n_params,n_gpu_layers,n_threads,test,n_prompt,n_gen,avg_ns,stddev_ns,avg_ts,"
           "stddev_ts\n");
    for (int i = 0; i < n; i++) {
        const struct result *r = &rs[i];
        char tn[48];
        printf("%s,\"%s\",%s,%llu,%llu,%d,%d,%s,%d,%d,%.0f,%.0f,%.4f,%.4f\n", NIB_GIT_COMMIT, r->model, nib_model_arch(r->m),
               (unsigned long long)nib_model_weight_bytes(r->m), (unsigned long long)nib_model_n_params(r->m), r->n_gpu_layers,
               r->n_threads,
               test_name(r, tn), r->n_prompt, r->n_gen, r->avg_ns, r->sd_ns, r->avg_ts, r->sd_ts);
    }
}

static int parse_args(struct bench_args *a, int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
            puts("usage: nib bench [-m MODEL[,MODEL...]] [-t 1,2] [-p 512] [-n 128] [-d 0,2048] [--parallel 1,4,8] [-r 5]\n"
                 "                 [-ngl 0,99] [-c 4096] [-o md|json|csv]\n"
                 "  ppP: one batch of P random tokens; tgN: N one-token decodes; 0 disables a test.\n"
                 "  -d D: each test also after D tokens already in the KV cache (\"tgN @ dD\"; not with -md).\n"
                 "  --parallel K: tgN also with K sequences decoding together (\"tgN xK\", aggregate t/s).\n"
                 "  -md DRAFT: tgN also as greedy speculative decoding with DRAFT (\"tgN -md\"; compare with tgN).\n"
                 "  --no-mmap: weights copied into memory (huge pages) instead of mapped from the file.\n"
                 "  -c N: every test in a context window of at least N tokens (default: what the test needs).\n"
                 "  -ngl N[,N...]: the first N layers on the CUDA device (99: all); the device's copy bandwidth is measured\n"
                 "    once and, with every layer there, decode is also shown as a fraction of it.\n"
                 "  Prints mean ± sd tokens/s, and for decode the GB/s of weights it reads.");
            return -1;
        }
        if (!strcmp(o, "--no-mmap")) {
            a->no_mmap = true;
            continue;
        }
        if (!v) return cli_fail("bench: option %s needs a value", o);
        i++;
        bool ok = true;
        if (!strcmp(o, "-m")) {
            free(a->models_copy);
            a->models_copy = strdup(v);
            a->n_models = 0;
            for (char *tok = strtok(a->models_copy, ","); tok && a->n_models < MAX_LIST; tok = strtok(NULL, ","))
                a->models[a->n_models++] = tok;
        } else if (!strcmp(o, "-md") || !strcmp(o, "--model-draft")) a->draft = v;
        else if (!strcmp(o, "-t")) ok = parse_list(v, 1, 1024, &a->threads);
        else if (!strcmp(o, "-p")) ok = parse_list(v, 0, 1 << 16, &a->prompt);
        else if (!strcmp(o, "-n")) ok = parse_list(v, 0, 1 << 16, &a->gen);
        else if (!strcmp(o, "--parallel")) ok = parse_list(v, 1, 64, &a->parallel);
        else if (!strcmp(o, "-d") || !strcmp(o, "--n-depth")) ok = parse_list(v, 0, 1 << 20, &a->depth);
        else if (!strcmp(o, "-r")) ok = parse_i32(v, 1, 64, &a->reps);
        else if (!strcmp(o, "-c") || !strcmp(o, "--ctx-size")) ok = parse_i32(v, 1, 1 << 22, &a->ctx_min);
        else if (!strcmp(o, "-ngl") || !strcmp(o, "--n-gpu-layers")) ok = parse_list(v, 0, 1 << 20, &a->ngl);
        else if (!strcmp(o, "-o")) {
            a->output = v;
            ok = !strcmp(v, "md") || !strcmp(v, "json") || !strcmp(v, "csv");
        } else return cli_fail("bench: unknown option '%s' (see nib bench --help)", o);
        if (!ok) return cli_fail("bench: bad value for %s: '%s'", o, v);
    }
    return 0;
}

int nib_cmd_bench(int argc, char **argv) {
    struct bench_args a = { .threads = { { 0 }, 0 }, .prompt = { { 512 }, 1 }, .gen = { { 128 }, 1 }, .parallel = { { 1 }, 1 },
                            .depth = { { 0 }, 1 }, .ngl = { { 0 }, 1 }, .reps = 5, .output = "md" };
    int rc = parse_args(&a, argc, argv);
    if (rc) {
        free(a.models_copy);
        return rc < 0 ? 0 : rc;
    }
    char defbuf[4096];
    if (!a.n_models) a.models[a.n_models++] = model_args_default_model(defbuf, sizeof defbuf);
    if (!a.threads.n) a.threads = (struct int_list){ { 0 }, 1 };
    const int per = a.prompt.n + a.gen.n * a.parallel.n + (a.draft ? a.gen.n : 0);
    struct result *rs = calloc((size_t)(a.n_models * a.ngl.n * a.threads.n * a.depth.n * per), sizeof(*rs));
    if (!rs) rc = cli_fail("out of memory");
    for (int i = 0; !rc && i < a.ngl.n; i++) a.gpu |= a.ngl.v[i] > 0;
    if (!rc && a.gpu) {
        struct nib_error err = { 0 };
        fprintf(stderr, "nib bench: measuring the GPU's copy bandwidth\n");
        if (nib_gpu_info(&a.gpu_info, &err) || nib_gpu_copy_gbps(&a.gpu_copy_gbps, &err)) rc = cli_fail_err(&err);
    }
    if (!rc && a.draft) {
        struct nib_error err = { 0 };
        if (nib_model_load(a.draft, NULL, &a.draft_model, &err)) rc = cli_fail_err(&err);
    }
    int n = 0;
    struct nib_model *models[MAX_LIST] = { 0 };
    for (int mi = 0; !rc && mi < a.n_models; mi++) {
        struct nib_error err = { 0 };
        struct nib_model_params mp = nib_model_default_params();
        mp.no_mmap = a.no_mmap;
        if (nib_model_load(a.models[mi], &mp, &models[mi], &err)) {
            rc = cli_fail_err(&err);
            break;
        }
        for (int gi = 0; !rc && gi < a.ngl.n; gi++)
        for (int ti = 0; !rc && ti < a.threads.n; ti++)
            for (int di = 0; !rc && di < a.depth.n; di++)
            for (int k = 0; !rc && k < per; k++) {
                bool pp = k < a.prompt.n, spec = k >= a.prompt.n + a.gen.n * a.parallel.n;
                const int g = k - a.prompt.n;
                int32_t len = pp ? a.prompt.v[k] : spec ? a.gen.v[g - a.gen.n * a.parallel.n] : a.gen.v[g / a.parallel.n];
                if (len == 0 || (spec && a.depth.v[di])) continue; /* speculative runs: from a short prompt only */
                if (spec) {
                    struct nib_error err = { 0 };
                    if (nib_spec_check_vocab(nib_model_vocab(models[mi]), nib_model_vocab(a.draft_model), &err)) {
                        rc = cli_fail_err(&err);
                        break;
                    }
                }
                rs[n] = (struct result){ .model = a.models[mi], .m = models[mi], .n_threads = a.threads.v[ti],
                                         .n_prompt = pp ? len : 0, .n_gen = pp ? 0 : len,
                                         .n_par = pp || spec ? 1 : a.parallel.v[g % a.parallel.n], .spec = spec,
                                         .n_depth = spec ? 0 : a.depth.v[di], .n_gpu_layers = a.ngl.v[gi] };
                rc = run_test(&a, &rs[n]);
                if (!rc) n++;
            }
    }
    fprintf(stderr, "\r%60s\r", "");
    if (!rc) {
        if (!strcmp(a.output, "json")) print_json(&a, rs, n);
        else if (!strcmp(a.output, "csv")) print_csv(rs, n);
        else print_md(&a, rs, n);
    }
    for (int mi = 0; mi < a.n_models; mi++) nib_model_free(models[mi]);
    nib_model_free(a.draft_model);
    free(rs);
    free(a.models_copy);
    return rc;
}
