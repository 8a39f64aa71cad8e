/*
 * bench_prefix.c — time to first token with and without the prefix cache:
 * a P-token prompt decoded from scratch, then released and asked again (its
 * full blocks mapped from the cache, the rest computed). Prints a markdown
 * row and the ratio; the logits of both runs are compared (a hit is exact).
 *
 *   bench_prefix -m MODEL [-p 1000] [-t 2] [-r 3]
 */
#include "nib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Decodes toks[from, n) into seq in batches of n_batch; returns the last logits. */
static const float *run(struct nib_context *c, const int32_t *toks, int32_t from, int32_t n, int32_t seq) {
    struct nib_error err = { 0 };
    const int32_t nb = nib_context_n_batch(c);
    int32_t last = 0;
    int32_t *seqs = malloc(sizeof(int32_t) * (size_t)nb);
    for (int32_t i = 0; i < nb; i++) seqs[i] = seq;
    for (int32_t off = from; off < n; off += nb) {
        const int32_t m = n - off < nb ? n - off : nb;
        struct nib_batch b = { m, toks + off, NULL, seqs, NULL, 0 };
        if (nib_decode(c, &b, &err)) {
            fprintf(stderr, "bench_prefix: %s\n", err.msg);
            exit(1);
        }
        last = m - 1;
    }
    free(seqs);
    return nib_context_logits(c, last);
}

int main(int argc, char **argv) {
    const char *model = NULL;
    int32_t P = 1000, T = 2, R = 3;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "-m")) model = argv[i + 1];
        else if (!strcmp(argv[i], "-p")) P = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-t")) T = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-r")) R = atoi(argv[i + 1]);
    }
    if (!model || P < 2 || T < 1 || R < 1) {
        fprintf(stderr, "usage: bench_prefix -m MODEL [-p 1000] [-t 2] [-r 3]\n");
        return 2;
    }
    struct nib_error err = { 0 };
    struct nib_model *m = NULL;
    struct nib_context *c = NULL;
    if (nib_model_load(model, NULL, &m, &err)) return fprintf(stderr, "bench_prefix: %s\n", err.msg), 1;
    struct nib_context_params cp = nib_context_default_params();
    cp.n_ctx = 2 * P + 64;
    cp.n_threads = T;
    if (nib_context_new(m, &cp, &c, &err)) return fprintf(stderr, "bench_prefix: %s\n", err.msg), 1;
    const int32_t nv = nib_model_n_vocab(m);
    int32_t *toks = malloc(sizeof(int32_t) * (size_t)P);
    float *first = malloc(sizeof(float) * (size_t)nv);
    toks[0] = 1;
    for (int32_t i = 1; i < P; i++) toks[i] = 3 + (i * 7919) % (nv - 3);
    double cold = 1e30, warm = 1e30;
    int32_t mapped = 0, exact = 1;
    for (int r = 0; r < R; r++) {
        for (int s = 0; s < 2; s++) nib_context_seq_truncate(c, s, 0, &err);
        /* cold: this context has never seen the prompt */
        double t0 = now_s();
        memcpy(first, run(c, toks, 0, P, 0), sizeof(float) * (size_t)nv);
        const double t_cold = now_s() - t0;
        nib_context_seq_truncate(c, 0, 0, &err); /* released: the blocks stay cached */
        t0 = now_s();
        mapped = nib_context_seq_reuse_prefix(c, 1, toks, P, &err);
        const float *again = run(c, toks, mapped, P, 1);
        const double t_warm = now_s() - t0;
        exact &= !memcmp(first, again, sizeof(float) * (size_t)nv);
        if (t_cold < cold) cold = t_cold;
        if (t_warm < warm) warm = t_warm;
        /* next rep starts cold: a fresh context drops the cache */
        nib_context_free(c);
        if (nib_context_new(m, &cp, &c, &err)) return fprintf(stderr, "bench_prefix: %s\n", err.msg), 1;
    }
    printf("| model | threads | prompt | cached | first token, uncached | first token, cached | speed-up | logits equal |\n");
    printf("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n");
    printf("| %s | %d | %d | %d | %.1f ms | %.2f ms | %.0fx | %s |\n", model, T, P, mapped, cold * 1e3, warm * 1e3, cold / warm,
           exact ? "yes" : "NO");
    free(toks);
    free(first);
    nib_context_free(c);
    nib_model_free(m);
    return exact ? 0 : 1;
}
