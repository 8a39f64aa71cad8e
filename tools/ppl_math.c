#include "ppl_math.h"

#include <math.h>
#include <string.h>

/* Rounds to the nearest integer (ties to even) by adding 1.5 * 2^23: valid
 * for |x| < 2^22, which holds here (0 <= x <= 65535). */
static int round_small(float x) {
    float y = x + 12582912.f;
    int32_t bits;
    memcpy(&bits, &y, sizeof bits);
    return (bits & 0x007fffff) - 0x00400000;
}

static float row_max(const float *x, int32_t n) {
    float m = x[0];
    for (int32_t i = 1; i < n; i++) m = x[i] > m ? x[i] : m;
    return m;
}

static double sum_exp(const float *x, int32_t n, float max) {
    double s = 0.0;
    for (int32_t i = 0; i < n; i++) s += expf(x[i] - max);
    return s;
}

double ppl_nll(const float *logits, int32_t n_vocab, int32_t tok) {
    const float max = row_max(logits, n_vocab);
    const double s = sum_exp(logits, n_vocab, max);
    return -((double)(logits[tok] - max) - log(s));
}

/* Packs the row into out (see ppl_math.h); *max, *min (the packed range's
 * lower end) and *log_sum (log of the sum of exp(logit - max), as float)
 * for the caller. */
static void pack_row(const float *logits, int32_t n_vocab, uint16_t *out, float *max_out, float *min_out, float *log_sum_out) {
    const float max = row_max(logits, n_vocab);
    float min = logits[0];
    for (int32_t i = 1; i < n_vocab; i++) min = logits[i] < min ? logits[i] : min;
    if (min < max - 16) min = max - 16;
    const float log_sum = (float)log(sum_exp(logits, n_vocab, max));
    const float min_log_prob = min - max - log_sum;
    const float scale = (max - min) / 65535.f;
    memcpy(out, &scale, sizeof scale);
    memcpy(out + 2, &min_log_prob, sizeof min_log_prob);
    uint16_t *q = out + 4;
    memset(q, 0, (PPL_PACKED_WORDS(n_vocab) - 4) * sizeof(*q));
    if (scale != 0.f) {
        const float inv = 1 / scale;
        for (int32_t i = 0; i < n_vocab; i++)
            q[i] = logits[i] > min ? (uint16_t)round_small(inv * (logits[i] - min)) : 0;
    }
    *max_out = max, *min_out = min, *log_sum_out = log_sum;
}

double ppl_nll_pack(const float *logits, int32_t n_vocab, int32_t tok, uint16_t *out) {
    float max, min, log_sum;
    pack_row(logits, n_vocab, out, &max, &min, &log_sum);
    return (double)(max + log_sum - logits[tok]);
}

static void unpack_header(const uint16_t *row, float *scale, float *min_log_prob) {
    memcpy(scale, row, sizeof *scale);
    memcpy(min_log_prob, row + 2, sizeof *min_log_prob);
}

/* First index of the largest packed value: the top token at the packed precision. */
static int32_t packed_argmax(const uint16_t *row, int32_t n_vocab) {
    const uint16_t *q = row + 4;
    int32_t im = 0;
    for (int32_t i = 1; i < n_vocab; i++)
        if (q[i] > q[im]) im = i;
    return im;
}

void ppl_kld_row(const float *logits, int32_t n_vocab, const uint16_t *base, int32_t tok, uint16_t *scratch,
                 struct ppl_kld_sums *s, float *kld, float *p_diff) {
    float max, min, log_sum, scale, min_log_prob, c_scale, c_min_log_prob;
    pack_row(logits, n_vocab, scratch, &max, &min, &log_sum);
    unpack_header(base, &scale, &min_log_prob);
    unpack_header(scratch, &c_scale, &c_min_log_prob);
    const uint16_t *q = base + 4, *qc = scratch + 4;

    const float nll = max + log_sum - logits[tok];
    const float nll_base = -(scale * q[tok] + min_log_prob);
    s->sum_nll += nll;
    s->sum_nll2 += nll * nll;
    s->sum_nll_base += nll_base;
    s->sum_nll_base2 += nll_base * nll_base;
    s->sum_nll_nll_base += nll * nll_base;

    /* KL(base || current) = sum p_base (log p_base - log p); base
     * probabilities below e^-16 were not stored and count as zero. The
     * current log-prob is taken at the packed precision where it lies in
     * its packed range (exact below it), so equal rows give exactly 0. */
    const float log_norm = max + log_sum;
    double sum = 0;
    for (int32_t i = 0; i < n_vocab; i++) {
        const float lp_base = scale * q[i] + min_log_prob;
        if (lp_base > -16.f) {
            const float lp = logits[i] >= min ? c_scale * qc[i] + c_min_log_prob : logits[i] - log_norm;
            sum += expf(lp_base) * (lp_base - lp);
        }
    }
    s->sum_kld += sum;
    s->sum_kld2 += sum * sum;
    s->count++;
    s->n_same_top += packed_argmax(base, n_vocab) == packed_argmax(scratch, n_vocab);

    const float d = expf(-nll) - expf(-nll_base);
    const double d2 = d * d;
    s->sum_p_diff += d;
    s->sum_p_diff2 += d2;
    s->sum_p_diff4 += d2 * d2;
    if (fabsf(d) > s->max_p_diff) s->max_p_diff = fabsf(d);
    *kld = (float)sum;
    *p_diff = d;
}

void ppl_mean_err(double sum, double sum2, int64_t count, double *mean, double *err) {
    *mean = *err = 0;
    if (count < 1) return;
    const double f = sum / (double)count;
    const double var = sum2 / (double)count - f * f;
    *mean = f;
    *err = var > 0 && count > 10 ? sqrt(var / (double)(count - 1)) : 0.;
}

double ppl_mean_cov(double sum_a, double sum_b, double sum_ab, int64_t count) {
    if (count < 10) return 0.0;
    const double c = (double)count;
    return (sum_ab / c - (sum_a / c) * (sum_b / c)) / (c - 1);
}

float ppl_percentile(const float *v, size_t n, float fraction) {
    if (fraction <= 0) return v[0];
    if (fraction >= 1) return v[n - 1];
    float p = fraction * (float)(n - 1);
    size_t ip = (size_t)p;
    p -= (float)ip;
    return (1 - p) * v[ip] + p * v[ip + 1 < n ? ip + 1 : n - 1];
}
