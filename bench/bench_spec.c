/*
 * bench_spec.c — speculative decoding against plain decoding on one
 * target/draft pair, greedy, in one run:
 *   - plain: N tokens decoded one at a time (t/s);
 *   - for each fixed K (draft_min = draft_max = K, p_min 0) and adaptive K:
 *     the same N tokens with the draft (t/s, speed-up), the acceptance rate
 *     a, the draft/target cost ratio c (one draft token / one target token),
 *     the verification cost v (a row-exact pass over K + 1 rows / a one-row
 *     pass, timed apart), and the speed-up the formula
 *     (1 - a^(K+1)) / ((1 - a)(cK + v)) expects from them;
 *   - every speculative output is checked against the plain one (greedy:
 *     identical tokens).
 * One markdown row per K on stdout.
 *
 *   bench_spec -m TARGET -md DRAFT [-n 128] [-t 2] [-k 4,8,16]
 */
#include "nib.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void die(const char *what, const struct nib_error *err) {
    fprintf(stderr, "bench_spec: %s: %s\n", what, err ? err->msg : "");
    exit(1);
}

static struct nib_context *new_ctx(const struct nib_model *m, int threads) {
    struct nib_context_params p = nib_context_default_params();
    p.n_ctx = 1024;
    p.n_threads = threads;
    struct nib_context *c = NULL;
    struct nib_error err = { 0 };
    if (nib_context_new(m, &p, &c, &err)) die("context", &err);
    return c;
}

static const int32_t PROMPT[] = { 1, 259, 306, 337, 326, 328, 259, 344, 339, 338, 337, 259, 324, 259, 343, 332, 336, 328 };
#define N_PROMPT (int32_t)(sizeof(PROMPT) / sizeof(PROMPT[0]))

/* n greedy tokens decoded one by one; returns seconds for the decode part. */
static double plain(const struct nib_model *m, int threads, int32_t n, int32_t *out) {
    struct nib_context *c = new_ctx(m, threads);
    struct nib_error err = { 0 };
    struct nib_batch b = { N_PROMPT, PROMPT, NULL, NULL, NULL, 0 };
    if (nib_decode(c, &b, &err)) die("prompt", &err);
    const float *lg = nib_context_logits(c, N_PROMPT - 1);
    const int32_t nv = nib_model_n_vocab(m);
    double t0 = now_s();
    for (int32_t i = 0; i < n; i++) {
        int32_t best = 0;
        for (int32_t v = 1; v < nv; v++)
            if (lg[v] > lg[best]) best = v;
        out[i] = best;
        if (i + 1 == n) break;
        struct nib_batch one = { 1, &out[i], NULL, NULL, NULL, 0 };
        if (nib_decode(c, &one, &err)) die("decode", &err);
        lg = nib_context_logits(c, 0);
    }
    double t = now_s() - t0;
    nib_context_free(c);
    return t;
}

/* Seconds of one row-exact target pass over `rows` tokens (median of 5). */
static double pass(const struct nib_model *m, int threads, int32_t rows) {
    struct nib_context *c = new_ctx(m, threads);
    struct nib_error err = { 0 };
    struct nib_batch b = { N_PROMPT, PROMPT, NULL, NULL, NULL, 0 };
    if (nib_decode(c, &b, &err)) die("prompt", &err);
    int32_t toks[64];
    int8_t want[64];
    for (int i = 0; i < 64; i++) toks[i] = 300 + i, want[i] = 1;
    double t[5];
    for (int r = 0; r < 5; r++) {
        struct nib_batch v = { rows, toks, NULL, NULL, want, NIB_BATCH_ROW_EXACT };
        double t0 = now_s();
        if (nib_decode(c, &v, &err)) die("pass", &err);
        t[r] = now_s() - t0;
        nib_context_seq_truncate(c, 0, N_PROMPT, &err);
    }
    for (int i = 0; i < 5; i++) /* median */
        for (int j = i + 1; j < 5; j++)
            if (t[j] < t[i]) { double x = t[i]; t[i] = t[j]; t[j] = x; }
    nib_context_free(c);
    return t[2];
}

struct spec_run {
    double t, alpha, t_draft_tok, passes, t_pass; /* t_pass: mean verification pass */
    int ok;
};

static struct spec_run speculate(const struct nib_model *tm, const struct nib_model *dm, int threads, int32_t n, int32_t k,
                                 const int32_t *want) {
    struct nib_context *tc = new_ctx(tm, threads), *dc = new_ctx(dm, threads);
    struct nib_spec_params p = nib_spec_default_params();
    p.greedy = true;
    p.p_min = 0;
    p.draft_max = k > 0 ? k : 16;
    p.draft_min = k > 0 ? k : 0;
    struct nib_spec *s = NULL;
    struct nib_sampler *smp = NULL;
    struct nib_sampler_params sp = nib_sampler_default_params();
    sp.temperature = 0;
    struct nib_error err = { 0 };
    if (nib_spec_new(tc, dc, &p, &s, &err) || nib_sampler_init(&sp, nib_model_n_vocab(tm), &smp, &err)) die("spec", &err);
    if (nib_spec_prompt(s, PROMPT, N_PROMPT, &err)) die("spec prompt", &err);
    int32_t *got = malloc(sizeof(int32_t) * (size_t)(n + 300)), n_got = 0;
    double t0 = 0;
    while (n_got < n) {
        if (n_got == 1) t0 = now_s(); /* the first token comes from the prompt, as in plain() */
        int32_t r = nib_spec_next(s, smp, NULL, got + n_got, 257, &err);
        if (r <= 0) die("spec next", &err);
        n_got += r;
    }
    struct spec_run out = { .t = now_s() - t0 };
    struct nib_spec_stats st;
    nib_spec_get_stats(s, &st);
    out.alpha = st.judged ? (double)st.accepted / (double)st.judged : 0; /* per judged token, as the formula's a */
    out.t_draft_tok = st.drafted ? st.t_draft / (double)st.drafted : 0;
    out.passes = (double)st.steps;
    out.t_pass = st.steps ? st.t_target / (double)st.steps : 0;
    out.ok = memcmp(got, want, sizeof(int32_t) * (size_t)n) == 0;
    free(got);
    nib_sampler_free(smp);
    nib_spec_free(s);
    nib_context_free(tc);
    nib_context_free(dc);
    return out;
}

int main(int argc, char **argv) {
    const char *tp = NULL, *dp = NULL, *ks = "4,8,16";
    int threads = 2;
    int32_t n = 128;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "-m")) tp = argv[i + 1];
        else if (!strcmp(argv[i], "-md")) dp = argv[i + 1];
        else if (!strcmp(argv[i], "-n")) n = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-t")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-k")) ks = argv[i + 1];
    }
    if (!tp || !dp || n < 8 || n > 4000 || threads < 1) {
        fprintf(stderr, "usage: bench_spec -m TARGET -md DRAFT [-n 128] [-t 2] [-k 4,8,16]\n");
        return 2;
    }
    struct nib_model *tm = NULL, *dm = NULL;
    struct nib_error err = { 0 };
    if (nib_model_load(tp, NULL, &tm, &err) || nib_model_load(dp, NULL, &dm, &err)) die("load", &err);
    if (nib_spec_check_vocab(nib_model_vocab(tm), nib_model_vocab(dm), &err)) die("vocabulary", &err);
    int32_t *want = malloc(sizeof(int32_t) * (size_t)n);
    const double t_plain = plain(tm, threads, n, want);
    const double t1 = pass(tm, threads, 1);
    printf("| K | a | c | v | expected | plain t/s | speculative t/s | speed-up | of expected | same tokens |\n");
    printf("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n");
    for (const char *p = ks; *p;) {
        const int32_t k = atoi(p);
        const struct spec_run r = speculate(tm, dm, threads, n, k, want);
        const double speed = t_plain / r.t;
        if (k > 0) {
            const double a = r.alpha, c = r.t_draft_tok / t1, v = pass(tm, threads, k + 1) / t1;
            const double gain = a >= 0.999 ? (double)(k + 1) : (1 - pow(a, k + 1)) / (1 - a);
            const double expect = gain / (c * k + v);
            fprintf(stderr, "K %d: %.0f passes, mean pass %.1f ms (timed apart: %.1f ms), one-row pass %.1f ms\n", k, r.passes,
                    1e3 * r.t_pass, 1e3 * v * t1, 1e3 * t1);
            printf("| %d | %.2f | %.3f | %.2f | %.2fx | %.1f | %.1f | %.2fx | %.0f%% | %s |\n", k, a, c, v, expect,
                   (n - 1) / t_plain, (n - 1) / r.t, speed, 100 * speed / expect, r.ok ? "yes" : "NO");
        } else {
            printf("| adaptive | %.2f | | | | %.1f | %.1f | %.2fx | | %s |\n", r.alpha, (n - 1) / t_plain, (n - 1) / r.t, speed,
                   r.ok ? "yes" : "NO");
        }
        fflush(stdout);
        while (*p && *p != ',') p++;
        if (*p == ',') p++;
    }
    free(want);
    nib_model_free(tm);
    nib_model_free(dm);
    return 0;
}
