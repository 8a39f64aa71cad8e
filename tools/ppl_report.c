#include "ppl_report.h"

#include "cli.h"
#include "ppl_logits_file.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int ppl_report_init(struct ppl_report *r, int32_t n_chunk, int32_t n_ctx, bool kld_mode) {
    memset(r, 0, sizeof(*r));
    r->n_chunk = n_chunk, r->n_ctx = n_ctx, r->kld_mode = kld_mode;
    size_t nc = (size_t)n_chunk, nv = nc * (size_t)ppl_rows_per_chunk(n_ctx);
    r->run_ppl = calloc(nc, sizeof(double));
    r->own_ppl = calloc(nc, sizeof(double));
    r->run_kld = calloc(nc, sizeof(double));
    if (kld_mode) {
        r->kld_values = calloc(nv, sizeof(float));
        r->p_diff_values = calloc(nv, sizeof(float));
    }
    return !r->run_ppl || !r->own_ppl || !r->run_kld || (kld_mode && (!r->kld_values || !r->p_diff_values));
}

void ppl_report_free(struct ppl_report *r) {
    free(r->run_ppl);
    free(r->own_ppl);
    free(r->run_kld);
    free(r->kld_values);
    free(r->p_diff_values);
    memset(r, 0, sizeof(*r));
}

/* The quantities llama.cpp prints for a KL-divergence run, from the sums. */
struct kld_stats {
    double ppl, ppl_err, ppl_base, ppl_base_err, cor, ln_ratio, ln_ratio_err, ratio, ratio_err, diff, diff_err;
    double kld, kld_err, p_diff, p_diff_err, rms, rms_err, same_top, same_top_err;
};

static void kld_stats(const struct ppl_kld_sums *s, struct kld_stats *o) {
    double lp, lp_err, lb, lb_err, mse, mse_err;
    ppl_mean_err(s->sum_nll, s->sum_nll2, s->count, &lp, &lp_err);
    ppl_mean_err(s->sum_nll_base, s->sum_nll_base2, s->count, &lb, &lb_err);
    const double cov = ppl_mean_cov(s->sum_nll, s->sum_nll_base, s->sum_nll_nll_base, s->count);
    o->ppl = exp(lp), o->ppl_err = o->ppl * lp_err;
    o->ppl_base = exp(lb), o->ppl_base_err = o->ppl_base * lb_err;
    o->cor = lp_err > 0 && lb_err > 0 ? cov / (lp_err * lb_err) : 0;
    o->ln_ratio = lp - lb;
    o->ln_ratio_err = sqrt(lp_err * lp_err + lb_err * lb_err - 2.0 * cov);
    o->ratio = exp(o->ln_ratio), o->ratio_err = o->ratio * o->ln_ratio_err;
    const double pcov = o->ppl * o->ppl_base * cov;
    o->diff = o->ppl - o->ppl_base;
    o->diff_err = sqrt(o->ppl_err * o->ppl_err + o->ppl_base_err * o->ppl_base_err - 2.0 * pcov);
    ppl_mean_err(s->sum_kld, s->sum_kld2, s->count, &o->kld, &o->kld_err);
    ppl_mean_err(s->sum_p_diff, s->sum_p_diff2, s->count, &o->p_diff, &o->p_diff_err);
    ppl_mean_err(s->sum_p_diff2, s->sum_p_diff4, s->count, &mse, &mse_err);
    o->rms = sqrt(mse), o->rms_err = o->rms > 0 ? 0.5 / o->rms * mse_err : 0;
    o->same_top = s->count ? (double)s->n_same_top / (double)s->count : 0;
    o->same_top_err = s->count > 1 ? sqrt(o->same_top * (1 - o->same_top) / (double)(s->count - 1)) : 0;
}

void ppl_report_kld_header(FILE *out) {
    fputs("chunk             PPL               ln(PPL(Q)/PPL(base))          KL Divergence              Δp RMS            Same top p\n",
          out);
}

void ppl_report_chunk(struct ppl_report *r, int32_t c, FILE *out) {
    const double nll = r->kld_mode ? r->kld.sum_nll : r->nll;
    const int64_t count = r->kld_mode ? r->kld.count : r->count;
    r->run_ppl[c] = exp(nll / (double)count);
    r->own_ppl[c] = exp((nll - r->prev_nll) / (double)(count - r->prev_count));
    r->prev_nll = nll, r->prev_count = count;
    r->n_done = c + 1;
    if (!r->kld_mode) {
        if (out) fprintf(out, "[%d]%.4lf,", c + 1, r->run_ppl[c]), fflush(out);
        return;
    }
    struct kld_stats s;
    kld_stats(&r->kld, &s);
    r->run_ppl[c] = s.ppl; /* llama.cpp's running value in this mode */
    r->run_kld[c] = s.kld;
    if (!out) return;
    fprintf(out, "%4d    %9.4lf ± %9.4lf    %10.5lf ± %10.5lf    %10.5lf ± %10.5lf    %6.3lf ± %6.3lf %%    %6.3lf ± %6.3lf %%\n", c + 1,
            s.ppl, s.ppl_err, s.ln_ratio, s.ln_ratio_err, s.kld, s.kld_err, 100.0 * s.rms, 100.0 * s.rms_err, 100.0 * s.same_top,
            100.0 * s.same_top_err);
    fflush(out);
}

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static float median(const float *v, size_t n) { return n % 2 == 0 ? 0.5f * (v[n / 2] + v[n / 2 - 1]) : v[n / 2]; }

static const float PCT[] = { 0.999f, 0.99f, 0.95f, 0.90f, 0.10f, 0.05f, 0.01f, 0.001f };
static const char *const PCT_NAME[] = { "99.9%", "99.0%", "95.0%", "90.0%", "10.0%", " 5.0%", " 1.0%", " 0.1%" };
#define N_PCT (sizeof(PCT) / sizeof(PCT[0]))

static void print_kld_text(const struct ppl_report *r, const struct kld_stats *s, FILE *out) {
    const size_t n = (size_t)r->kld.count;
    const float *k = r->kld_values, *p = r->p_diff_values;
    fputs("\n====== Perplexity statistics ======\n", out);
    fprintf(out, "Mean PPL(Q)                   : %10.6lf ± %10.6lf\n", s->ppl, s->ppl_err);
    fprintf(out, "Mean PPL(base)                : %10.6lf ± %10.6lf\n", s->ppl_base, s->ppl_base_err);
    fprintf(out, "Cor(ln(PPL(Q)), ln(PPL(base))): %6.2lf%%\n", 100.0 * s->cor);
    fprintf(out, "Mean ln(PPL(Q)/PPL(base))     : %10.6lf ± %10.6lf\n", s->ln_ratio, s->ln_ratio_err);
    fprintf(out, "Mean PPL(Q)/PPL(base)         : %10.6lf ± %10.6lf\n", s->ratio, s->ratio_err);
    fprintf(out, "Mean PPL(Q)-PPL(base)         : %10.6lf ± %10.6lf\n", s->diff, s->diff_err);
    fputs("\n====== KL divergence statistics ======\n", out);
    fprintf(out, "Mean    KLD: %10.6lf ± %10.6lf\n", s->kld, s->kld_err);
    fprintf(out, "Maximum KLD: %10.6f\n", k[n - 1]);
    for (size_t i = 0; i < 4; i++) fprintf(out, "%s   KLD: %10.6f\n", PCT_NAME[i], ppl_percentile(k, n, PCT[i]));
    fprintf(out, "Median  KLD: %10.6f\n", median(k, n));
    for (size_t i = 4; i < N_PCT; i++) fprintf(out, "%s   KLD: %10.6f\n", PCT_NAME[i], ppl_percentile(k, n, PCT[i]));
    fprintf(out, "Minimum KLD: %10.6f\n", k[0]);
    fputs("\n====== Token probability statistics ======\n", out);
    fprintf(out, "Mean    Δp: %6.3lf ± %5.3lf %%\n", 100.0 * s->p_diff, 100.0 * s->p_diff_err);
    fprintf(out, "Maximum Δp: %6.3lf%%\n", 100.0 * p[n - 1]);
    for (size_t i = 0; i < 4; i++) fprintf(out, "%s   Δp: %6.3lf%%\n", PCT_NAME[i], 100.0 * ppl_percentile(p, n, PCT[i]));
    fprintf(out, "75.0%%   Δp: %6.3lf%%\n", 100.0 * ppl_percentile(p, n, 0.75f));
    fprintf(out, "Median  Δp: %6.3lf%%\n", 100.0 * median(p, n));
    fprintf(out, "25.0%%   Δp: %6.3lf%%\n", 100.0 * ppl_percentile(p, n, 0.25f));
    for (size_t i = 4; i < N_PCT; i++) fprintf(out, "%s   Δp: %6.3lf%%\n", PCT_NAME[i], 100.0 * ppl_percentile(p, n, PCT[i]));
    fprintf(out, "Minimum Δp: %6.3lf%%\n", 100.0 * p[0]);
    fprintf(out, "RMS Δp    : %6.3lf ± %5.3lf %%\n", 100.0 * s->rms, 100.0 * s->rms_err);
    fprintf(out, "Same top p: %6.3lf ± %5.3lf %%\n", 100.0 * s->same_top, 100.0 * s->same_top_err);
}

static void add_kld_json(cJSON *o, const struct ppl_report *r, const struct kld_stats *s) {
    const size_t n = (size_t)r->kld.count;
    cJSON_AddNumberToObject(o, "ppl_base", s->ppl_base);
    cJSON_AddNumberToObject(o, "ppl_base_stderr", s->ppl_base_err);
    cJSON_AddNumberToObject(o, "ln_ppl_ratio", s->ln_ratio);
    cJSON_AddNumberToObject(o, "ln_ppl_ratio_stderr", s->ln_ratio_err);
    cJSON_AddNumberToObject(o, "ppl_ratio", s->ratio);
    cJSON_AddNumberToObject(o, "ppl_ratio_stderr", s->ratio_err);
    cJSON_AddNumberToObject(o, "kld_mean", s->kld);
    cJSON_AddNumberToObject(o, "kld_stderr", s->kld_err);
    cJSON_AddNumberToObject(o, "kld_max", r->kld_values[n - 1]);
    cJSON_AddNumberToObject(o, "kld_median", median(r->kld_values, n));
    cJSON_AddNumberToObject(o, "kld_p99", ppl_percentile(r->kld_values, n, 0.99f));
    cJSON_AddNumberToObject(o, "kld_min", r->kld_values[0]);
    cJSON_AddNumberToObject(o, "p_diff_mean", s->p_diff);
    cJSON_AddNumberToObject(o, "p_diff_rms", s->rms);
    cJSON_AddNumberToObject(o, "p_diff_max_abs", r->kld.max_p_diff);
    cJSON_AddNumberToObject(o, "same_top_p", s->same_top);
    cJSON_AddNumberToObject(o, "same_top_p_stderr", s->same_top_err);
}

static int print_json(const struct ppl_report *r, double ppl, double err, int64_t count, const struct kld_stats *s, FILE *out) {
    cJSON *o = cJSON_CreateObject(), *chunks = cJSON_CreateArray();
    cJSON_AddNumberToObject(o, "ppl", ppl);
    cJSON_AddNumberToObject(o, "ppl_stderr", err);
    cJSON_AddNumberToObject(o, "n_chunks", r->n_done);
    cJSON_AddNumberToObject(o, "n_ctx", r->n_ctx);
    cJSON_AddNumberToObject(o, "n_tokens_scored", (double)count);
    cJSON_AddNumberToObject(o, "n_tokens", r->n_tokens);
    if (s) add_kld_json(o, r, s);
    for (int32_t c = 0; c < r->n_done; c++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "chunk", c + 1);
        cJSON_AddNumberToObject(e, "ppl", r->own_ppl[c]);
        cJSON_AddNumberToObject(e, "running_ppl", r->run_ppl[c]);
        if (s) cJSON_AddNumberToObject(e, "running_kld", r->run_kld[c]);
        cJSON_AddItemToArray(chunks, e);
    }
    cJSON_AddItemToObject(o, "chunks", chunks);
    char *txt = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!txt) return cli_fail("out of memory");
    fprintf(out, "%s\n", txt);
    free(txt);
    return 0;
}

int ppl_report_final(struct ppl_report *r, bool json, FILE *out) {
    if (r->kld_mode) {
        struct kld_stats s;
        kld_stats(&r->kld, &s);
        qsort(r->kld_values, (size_t)r->kld.count, sizeof(float), cmp_float);
        qsort(r->p_diff_values, (size_t)r->kld.count, sizeof(float), cmp_float);
        if (json) return print_json(r, s.ppl, s.ppl_err, r->kld.count, &s, out);
        print_kld_text(r, &s, out);
        return 0;
    }
    /* llama.cpp: PPL = exp(mean NLL); its error = PPL * sqrt(var(NLL) / (count - 1)) */
    const double mean = r->nll / (double)r->count, ppl = exp(mean);
    const double var = r->nll2 / (double)r->count - mean * mean;
    const double err = var > 0 && r->count > 1 ? sqrt(var / (double)(r->count - 1)) * ppl : NAN;
    if (json) return print_json(r, ppl, err, r->count, NULL, out);
    fprintf(out, "\nFinal estimate: PPL = %.4lf +/- %.5lf\n", ppl, err);
    return 0;
}
