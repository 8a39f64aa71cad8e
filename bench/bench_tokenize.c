/*
 * bench_tokenize.c — tokenizer speed: vocabulary load time and tokenize MB/s
 * on one text file, on one thread, mean ± sd over repetitions.
 *
 *   bench_tokenize -m VOCAB.gguf -f TEXT [-r REPS] [-w WARMUP] [-l LOAD_REPS] [--json]
 *                  [--add-special] [--no-parse-special] [--dump-ids FILE]
 *
 * Load: each repetition times nib_gguf_open and nib_vocab_load separately
 * (file already in the page cache after the warm-up). Tokenize: the whole
 * file is one nib_tokenize call, as `llamaref.mjs tokenize --batch` does with
 * a one-line input. Defaults match `llamaref.mjs tokenize --no-bos`: special
 * tokens are parsed, BOS/EOS are not added. MB = 10^6 bytes.
 *
 * Output: one markdown table (the layout never changes; see bench/README.md)
 * or, with --json, one JSON object on stdout. --dump-ids writes the ids of
 * the last repetition as one JSON array line, formatted as JavaScript's
 * JSON.stringify does, so it compares byte for byte with llamaref's output.
 */
#define _GNU_SOURCE
#include "nib.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct opts {
    const char *vocab, *text, *dump_ids;
    int         reps, warmup, load_reps;
    bool        json;
    uint32_t    flags;
};

/* Mean, sample sd, best (minimum or maximum) of n samples. */
struct stats {
    double mean, sd, best;
};

static double clock_s(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double now_s(void) { return clock_s(CLOCK_MONOTONIC); }

static struct stats stats_of(const double *x, int n, bool best_is_max) {
    struct stats s = { 0, 0, x[0] };
    for (int i = 0; i < n; i++) {
        s.mean += x[i];
        if (best_is_max ? x[i] > s.best : x[i] < s.best) s.best = x[i];
    }
    s.mean /= n;
    for (int i = 0; i < n && n > 1; i++) s.sd += (x[i] - s.mean) * (x[i] - s.mean);
    s.sd = n > 1 ? sqrt(s.sd / (n - 1)) : 0.0;
    return s;
}

static int usage(FILE *f, int rc) {
    fprintf(f,
            "usage: bench_tokenize -m VOCAB.gguf -f TEXT [-r REPS] [-w WARMUP] [-l LOAD_REPS] [--json]\n"
            "                      [--add-special] [--no-parse-special] [--dump-ids FILE]\n"
            "  -m, --model FILE      GGUF file with a tokenizer (vocabulary-only files work)\n"
            "  -f, --file FILE       text to tokenize, as one nib_tokenize call\n"
            "  -r, --reps N          timed repetitions of load and of tokenize (default 5)\n"
            "  -w, --warmup N        untimed repetitions first (default 1)\n"
            "  -l, --load-reps N     timed repetitions of load only (default: REPS)\n"
            "  --json                one JSON object instead of the markdown table\n"
            "  --add-special         add BOS/EOS as the vocab says (default off, like llamaref --no-bos)\n"
            "  --no-parse-special    special-token text stays text (default: parsed, like llamaref)\n"
            "  --dump-ids FILE       write the ids as one JSON array line\n");
    return rc;
}

static int parse_int(const char *s, int lo, int *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || end == s || v < lo || v > 1000000) return -1;
    *out = (int)v;
    return 0;
}

static int parse_args(int argc, char **argv, struct opts *o) {
    *o = (struct opts){ .reps = 5, .warmup = 1, .load_reps = 0, .flags = NIB_TOKENIZE_PARSE_SPECIAL };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *next = i + 1 < argc ? argv[i + 1] : NULL;
        bool has = next != NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) exit(usage(stdout, 0));
        else if (!strcmp(a, "--json")) o->json = true;
        else if (!strcmp(a, "--add-special")) o->flags |= NIB_TOKENIZE_ADD_SPECIAL;
        else if (!strcmp(a, "--no-parse-special")) o->flags &= ~(uint32_t)NIB_TOKENIZE_PARSE_SPECIAL;
        else if (has && (!strcmp(a, "-m") || !strcmp(a, "--model"))) o->vocab = argv[++i];
        else if (has && (!strcmp(a, "-f") || !strcmp(a, "--file"))) o->text = argv[++i];
        else if (has && !strcmp(a, "--dump-ids")) o->dump_ids = argv[++i];
        else if (has && (!strcmp(a, "-r") || !strcmp(a, "--reps"))) {
            if (parse_int(argv[++i], 1, &o->reps)) {
                fprintf(stderr, "bench_tokenize: bad -r %s\n", argv[i]);
                return -1;
            }
        } else if (has && (!strcmp(a, "-l") || !strcmp(a, "--load-reps"))) {
            if (parse_int(argv[++i], 1, &o->load_reps)) {
                fprintf(stderr, "bench_tokenize: bad -l %s\n", argv[i]);
                return -1;
            }
        } else if (has && (!strcmp(a, "-w") || !strcmp(a, "--warmup"))) {
            if (parse_int(argv[++i], 0, &o->warmup)) {
                fprintf(stderr, "bench_tokenize: bad -w %s\n", argv[i]);
                return -1;
            }
        } else {
            fprintf(stderr, "bench_tokenize: unknown or incomplete option '%s'\n", a);
            return -1;
        }
    }
    if (!o->load_reps) o->load_reps = o->reps;
    if (!o->vocab || !o->text) {
        fprintf(stderr, "bench_tokenize: -m and -f are required\n");
        return -1;
    }
    return 0;
}

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "bench_tokenize: %s: %s\n", path, strerror(errno));
        return NULL;
    }
    char *buf = NULL;
    long n = -1;
    if (!fseek(f, 0, SEEK_END) && (n = ftell(f)) >= 0 && !fseek(f, 0, SEEK_SET)) {
        buf = malloc((size_t)n + 1);
        if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
            free(buf);
            buf = NULL;
        }
    }
    fclose(f);
    if (!buf) {
        fprintf(stderr, "bench_tokenize: %s: cannot read\n", path);
        return NULL;
    }
    buf[n] = '\0';
    *len = (size_t)n;
    return buf;
}

struct load_result {
    struct stats open_ms, load_ms, total_ms;
    int32_t      n_vocab;
    int64_t      n_merges;
    const char  *kind;         /* "spm" or "bpe" */
    char         pre[64];      /* pre-tokenizer name */
};

/* One open+load, timed; on success *g and *v are live. */
static int load_once(const char *path, struct nib_gguf **g, struct nib_vocab **v, double *t_open, double *t_load) {
    struct nib_error err = { 0 };
    double t0 = now_s();
    if (nib_gguf_open(path, NULL, g, &err) != NIB_OK) {
        fprintf(stderr, "bench_tokenize: %s\n", err.msg);
        return -1;
    }
    double t1 = now_s();
    if (nib_vocab_load(*g, v, &err) != NIB_OK) {
        fprintf(stderr, "bench_tokenize: %s: %s\n", path, err.msg);
        nib_gguf_free(*g);
        return -1;
    }
    double t2 = now_s();
    *t_open = 1e3 * (t1 - t0);
    *t_load = 1e3 * (t2 - t1);
    return 0;
}

/* Times open/load; leaves the vocab of the last repetition in *out. */
static int bench_load(const struct opts *o, struct load_result *r, struct nib_vocab **out) {
    int n = o->warmup + o->load_reps;
    double *t = calloc(3 * (size_t)o->load_reps, sizeof(double));
    if (!t) return -1;
    struct nib_gguf *g = NULL;
    struct nib_vocab *v = NULL;
    for (int i = 0; i < n; i++) {
        double to, tl;
        nib_vocab_free(v);
        nib_gguf_free(g);
        g = NULL;
        v = NULL;
        if (load_once(o->vocab, &g, &v, &to, &tl)) {
            free(t);
            return -1;
        }
        int k = i - o->warmup;
        if (k < 0) continue;
        t[k] = to;
        t[o->load_reps + k] = tl;
        t[2 * o->load_reps + k] = to + tl;
    }
    r->open_ms = stats_of(t, o->load_reps, false);
    r->load_ms = stats_of(t + o->load_reps, o->load_reps, false);
    r->total_ms = stats_of(t + 2 * o->load_reps, o->load_reps, false);
    free(t);
    const struct nib_gguf_value *m = nib_gguf_get(g, "tokenizer.ggml.merges");
    r->n_merges = m && m->type == NIB_GGUF_ARRAY ? (int64_t)m->v.arr.n : 0;
    r->n_vocab = nib_vocab_n_tokens(v);
    r->kind = nib_vocab_kind(v) == NIB_VOCAB_SPM ? "spm" : "bpe";
    snprintf(r->pre, sizeof(r->pre), "%s", nib_vocab_pre_name(v));
    nib_gguf_free(g); /* the vocab holds copies */
    *out = v;
    return 0;
}

struct tok_result {
    struct stats ms, mbps, cpu_ms; /* cpu_ms: this thread's CPU time; far below ms on a busy machine */
    int64_t      n_ids;
};

static int bench_tokenize(const struct opts *o, const struct nib_vocab *v, const char *text, size_t len,
                          struct tok_result *r, int32_t **ids_out) {
    int64_t cap = (int64_t)len + 3; /* nib.h: len + 3 ids always suffice */
    int32_t *ids = malloc(sizeof(*ids) * (size_t)cap);
    double *t = calloc(3 * (size_t)o->reps, sizeof(double));
    if (!ids || !t) {
        free(ids);
        free(t);
        fprintf(stderr, "bench_tokenize: out of memory\n");
        return -1;
    }
    r->n_ids = -1;
    for (int i = 0; i < o->warmup + o->reps; i++) {
        struct nib_error err = { 0 };
        double c0 = clock_s(CLOCK_THREAD_CPUTIME_ID), t0 = now_s();
        int64_t n = nib_tokenize(v, text, len, o->flags, ids, cap, &err);
        double dt = now_s() - t0, dc = clock_s(CLOCK_THREAD_CPUTIME_ID) - c0;
        if (n < 0 || n > cap || (r->n_ids >= 0 && n != r->n_ids)) {
            fprintf(stderr, "bench_tokenize: tokenize: %s (n=%lld)\n", n < 0 ? err.msg : "count changed or past cap",
                    (long long)n);
            free(ids);
            free(t);
            return -1;
        }
        r->n_ids = n;
        int k = i - o->warmup;
        if (k < 0) continue;
        t[k] = 1e3 * dt;
        t[o->reps + k] = dt > 0 ? (double)len / dt / 1e6 : 0.0;
        t[2 * o->reps + k] = 1e3 * dc;
    }
    r->ms = stats_of(t, o->reps, false);
    r->mbps = stats_of(t + o->reps, o->reps, true);
    r->cpu_ms = stats_of(t + 2 * o->reps, o->reps, false);
    free(t);
    *ids_out = ids;
    return 0;
}

static int dump_ids(const char *path, const int32_t *ids, int64_t n) {
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "bench_tokenize: %s: %s\n", path, strerror(errno));
        return -1;
    }
    fputc('[', f);
    for (int64_t i = 0; i < n; i++) fprintf(f, i ? ",%d" : "%d", ids[i]);
    fputs("]\n", f);
    if (fclose(f)) {
        fprintf(stderr, "bench_tokenize: %s: write failed\n", path);
        return -1;
    }
    return 0;
}

/* File name without directories and without ".gguf". */
static void short_name(const char *path, char *buf, size_t cap) {
    const char *b = strrchr(path, '/');
    snprintf(buf, cap, "%s", b ? b + 1 : path);
    size_t n = strlen(buf);
    if (n > 5 && !strcmp(buf + n - 5, ".gguf")) buf[n - 5] = '\0';
}

static void json_str(const char *s) {
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') printf("\\%c", c);
        else if (c < 0x20) printf("\\u%04x", c);
        else putchar(c);
    }
    putchar('"');
}

static void json_stats(const char *key, struct stats s, bool last) {
    printf("  \"%s\": {\"mean\": %.6g, \"sd\": %.6g, \"best\": %.6g}%s\n", key, s.mean, s.sd, s.best, last ? "" : ",");
}

static void print_json(const struct opts *o, const char *name, const struct load_result *l, size_t len,
                       const struct tok_result *t) {
    double s = t->ms.mean / 1e3;
    printf("{\n  \"vocab\": ");
    json_str(name);
    printf(",\n  \"vocab_path\": ");
    json_str(o->vocab);
    printf(",\n  \"kind\": \"%s\",\n  \"pre\": ", l->kind);
    json_str(l->pre);
    printf(",\n  \"n_vocab\": %d,\n  \"n_merges\": %lld,\n  \"text\": ", l->n_vocab, (long long)l->n_merges);
    json_str(o->text);
    printf(",\n  \"text_bytes\": %zu,\n  \"n_tokens\": %lld,\n", len, (long long)t->n_ids);
    printf("  \"add_special\": %s,\n  \"parse_special\": %s,\n",
           o->flags & NIB_TOKENIZE_ADD_SPECIAL ? "true" : "false",
           o->flags & NIB_TOKENIZE_PARSE_SPECIAL ? "true" : "false");
    printf("  \"threads\": 1,\n  \"reps\": %d,\n  \"load_reps\": %d,\n  \"warmup\": %d,\n", o->reps, o->load_reps,
           o->warmup);
    json_stats("open_ms", l->open_ms, false);
    json_stats("load_ms", l->load_ms, false);
    json_stats("open_load_ms", l->total_ms, false);
    json_stats("tokenize_ms", t->ms, false);
    json_stats("tokenize_cpu_ms", t->cpu_ms, false);
    json_stats("tokenize_mb_per_s", t->mbps, false);
    printf("  \"ns_per_byte\": %.6g,\n  \"ns_per_token\": %.6g\n}\n", 1e9 * s / (double)len,
           t->n_ids ? 1e9 * s / (double)t->n_ids : 0.0);
}

static void print_table(const struct opts *o, const char *name, const struct load_result *l, size_t len,
                        const struct tok_result *t) {
    double s = t->ms.mean / 1e3;
    printf("vocab %s: %s (pre %s), %d tokens, %lld merges; text %s: %zu bytes -> %lld tokens; "
           "threads 1; add_special %d parse_special %d\n\n",
           name, l->kind, l->pre, l->n_vocab, (long long)l->n_merges, o->text, len, (long long)t->n_ids,
           !!(o->flags & NIB_TOKENIZE_ADD_SPECIAL), !!(o->flags & NIB_TOKENIZE_PARSE_SPECIAL));
    printf("| vocab | test | reps | ms | best ms | MB/s | best MB/s | ns/byte | ns/token |\n");
    printf("|---|---|--:|--:|--:|--:|--:|--:|--:|\n");
    const struct { const char *test; struct stats s; } rows[] = {
        { "gguf open", l->open_ms }, { "vocab load", l->load_ms }, { "open + load", l->total_ms },
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        printf("| %s | %s | %d | %.2f ± %.2f | %.2f | | | | |\n", name, rows[i].test, o->load_reps, rows[i].s.mean,
               rows[i].s.sd, rows[i].s.best);
    printf("| %s | tokenize | %d | %.2f ± %.2f | %.2f | %.2f ± %.2f | %.2f | %.2f | %.2f |\n", name, o->reps,
           t->ms.mean, t->ms.sd, t->ms.best, t->mbps.mean, t->mbps.sd, t->mbps.best, 1e9 * s / (double)len,
           t->n_ids ? 1e9 * s / (double)t->n_ids : 0.0);
}

int main(int argc, char **argv) {
    struct opts o;
    if (parse_args(argc, argv, &o)) return usage(stderr, 2);
    size_t len = 0;
    char *text = read_file(o.text, &len);
    if (!text) return 1;
    struct load_result l = { 0 };
    struct nib_vocab *v = NULL;
    if (bench_load(&o, &l, &v)) {
        free(text);
        return 1;
    }
    struct tok_result t = { 0 };
    int32_t *ids = NULL;
    int rc = bench_tokenize(&o, v, text, len, &t, &ids) ? 1 : 0;
    if (!rc && o.dump_ids && dump_ids(o.dump_ids, ids, t.n_ids)) rc = 1;
    if (!rc) {
        char name[256];
        short_name(o.vocab, name, sizeof(name));
        if (o.json) print_json(&o, name, &l, len, &t);
        else print_table(&o, name, &l, len, &t);
    }
    free(ids);
    nib_vocab_free(v);
    free(text);
    return rc;
}
