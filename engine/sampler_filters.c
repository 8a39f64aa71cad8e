/*
 * sampler_filters.c — the random numbers and the candidate filters of
 * sampler.h, each a transcription of its llama.cpp counterpart
 * (src/llama-sampler.cpp): same float arithmetic, same resulting order.
 */
#include "sampler.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>

/* ---------------------------------------------------------------- mt19937 */

#define MT_N 624
#define MT_M 397

static void mt_init(struct nib_mt19937 *r, uint32_t s) {
    r->mt[0] = s;
    for (uint32_t i = 1; i < MT_N; i++)
        r->mt[i] = 1812433253u * (r->mt[i - 1] ^ (r->mt[i - 1] >> 30)) + i;
    r->i = MT_N;
}

/* Matsumoto & Nishimura's init_by_array (mt19937ar.c), for seeds >= 2^32. */
static void mt_init_array(struct nib_mt19937 *r, const uint32_t *key, uint32_t len) {
    uint32_t *mt = r->mt, i = 1, j = 0;
    mt_init(r, 19650218u);
    for (uint32_t k = MT_N > len ? MT_N : len; k; k--) {
        mt[i] = (mt[i] ^ ((mt[i - 1] ^ (mt[i - 1] >> 30)) * 1664525u)) + key[j] + j;
        i++, j++;
        if (i >= MT_N) { mt[0] = mt[MT_N - 1]; i = 1; }
        if (j >= len) j = 0;
    }
    for (uint32_t k = MT_N - 1; k; k--) {
        mt[i] = (mt[i] ^ ((mt[i - 1] ^ (mt[i - 1] >> 30)) * 1566083941u)) - i;
        i++;
        if (i >= MT_N) { mt[0] = mt[MT_N - 1]; i = 1; }
    }
    mt[0] = 0x80000000u;
}

void nib_mt19937_seed(struct nib_mt19937 *r, uint64_t seed) {
    if (seed <= UINT32_MAX) {
        mt_init(r, (uint32_t)seed);
    } else {
        const uint32_t key[2] = { (uint32_t)seed, (uint32_t)(seed >> 32) };
        mt_init_array(r, key, 2);
    }
}

static void mt_twist(uint32_t *mt) {
    for (int k = 0; k < MT_N; k++) {
        uint32_t y = (mt[k] & 0x80000000u) | (mt[(k + 1) % MT_N] & 0x7fffffffu);
        mt[k] = mt[(k + MT_M) % MT_N] ^ (y >> 1) ^ ((y & 1u) ? 0x9908b0dfu : 0u);
    }
}

uint32_t nib_mt19937_next(struct nib_mt19937 *r) {
    if (r->i >= MT_N) {
        mt_twist(r->mt);
        r->i = 0;
    }
    uint32_t y = r->mt[r->i++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
}

double nib_mt19937_uniform(struct nib_mt19937 *r) {
    /* libstdc++'s generate_canonical<double, 53> over a 32-bit engine. */
    double lo = (double)nib_mt19937_next(r);
    double hi = (double)nib_mt19937_next(r);
    double u = (lo + hi * 4294967296.0) / 18446744073709551616.0;
    return u >= 1.0 ? nextafter(1.0, 0.0) : u;
}

/* ------------------------------------------------------- heap and sorting */

/* Min-heap by rank: every parent ranks at or after its children. */
static void heap_sift_down(struct nib_cand *h, int32_t k, int32_t i) {
    struct nib_cand e = h[i];
    for (;;) {
        int32_t c = 2 * i + 1;
        if (c >= k) break;
        if (c + 1 < k && nib_cand_before(&h[c], &h[c + 1])) c++; /* the worse child */
        if (!nib_cand_before(&e, &h[c])) break;
        h[i] = h[c];
        i = c;
    }
    h[i] = e;
}

void nib_cand_heap_make(struct nib_cand *data, int32_t k) {
    for (int32_t i = k / 2 - 1; i >= 0; i--) heap_sift_down(data, k, i);
}

void nib_cand_heap_offer(struct nib_cand *data, int32_t k, const struct nib_cand *e) {
    if (k > 0 && nib_cand_before(e, &data[0])) {
        data[0] = *e;
        heap_sift_down(data, k, 0);
    }
}

static void swap_cand(struct nib_cand *a, struct nib_cand *b) {
    struct nib_cand t = *a;
    *a = *b;
    *b = t;
}

static void insertion_sort(struct nib_cand *d, int32_t n) {
    for (int32_t i = 1; i < n; i++) {
        struct nib_cand e = d[i];
        int32_t j = i;
        for (; j > 0 && nib_cand_before(&e, &d[j - 1]); j--) d[j] = d[j - 1];
        d[j] = e;
    }
}

static void heap_sort(struct nib_cand *d, int32_t n) {
    nib_cand_heap_make(d, n);
    for (int32_t end = n - 1; end > 0; end--) { /* the worst goes last */
        swap_cand(&d[0], &d[end]);
        heap_sift_down(d, end, 0);
    }
}

/* Hoare partition around the median of three; returns i with d[0..i) ranking
 * before d[i..n), both non-empty (n >= 3; keys are distinct: ids differ). */
static int32_t partition(struct nib_cand *d, int32_t n) {
    const int32_t m = n / 2;
    if (nib_cand_before(&d[m], &d[0])) swap_cand(&d[m], &d[0]);
    if (nib_cand_before(&d[n - 1], &d[m])) swap_cand(&d[n - 1], &d[m]);
    if (nib_cand_before(&d[m], &d[0])) swap_cand(&d[m], &d[0]);
    const struct nib_cand pivot = d[m];
    int32_t i = 0, j = n - 1;
    for (;;) {
        while (nib_cand_before(&d[++i], &pivot)) {}
        while (nib_cand_before(&pivot, &d[--j])) {}
        if (i >= j) return i;
        swap_cand(&d[i], &d[j]);
    }
}

/* Introsort: quicksort, heapsort past 2 log2(n) levels, insertion sort below 16. */
static void intro_sort(struct nib_cand *d, int32_t n, int depth) {
    while (n > 16) {
        if (depth-- == 0) {
            heap_sort(d, n);
            return;
        }
        const int32_t i = partition(d, n);
        if (i < n - i) {
            intro_sort(d, i, depth);
            d += i, n -= i;
        } else {
            intro_sort(d + i, n - i, depth);
            n = i;
        }
    }
    insertion_sort(d, n);
}

void nib_cand_sort(struct nib_cand *data, int32_t n) {
    int depth = 0;
    for (int32_t m = n; m > 1; m >>= 1) depth += 2;
    intro_sort(data, n, depth);
}

/* Moves the k best of data[0..n) to the front, sorted (k <= n); the rest
 * stay behind them, in some order. */
static void select_top(struct nib_cand *data, int32_t n, int32_t k) {
    if (k < n) {
        nib_cand_heap_make(data, k);
        for (int32_t i = k; i < n; i++) {
            if (!nib_cand_before(&data[i], &data[0])) continue;
            const struct nib_cand e = data[i];
            data[i] = data[0]; /* the evicted one takes its place */
            nib_cand_heap_offer(data, k, &e);
        }
    }
    nib_cand_sort(data, k);
}

/* llama_sampler_softmax_impl without sorting: float sum in the current order. */
static void softmax(struct nib_cands *c) {
    float max_l = c->data[0].logit;
    if (!c->sorted)
        for (int32_t i = 1; i < c->n; i++) max_l = (c->data[i].logit > max_l ? c->data[i].logit : max_l);
    float sum = 0.0f;
    for (int32_t i = 0; i < c->n; i++) {
        float p = expf(c->data[i].logit - max_l);
        c->data[i].p = p;
        sum += p;
    }
    for (int32_t i = 0; i < c->n; i++) c->data[i].p /= sum;
}

/* ---------------------------------------------------------------- filters */

void nib_cands_top_k(struct nib_cands *c, int32_t k) {
    if (k <= 0 || c->n == 0) return;
    if (k > c->n) k = c->n;
    if (!c->sorted) select_top(c->data, c->n, k);
    c->n = k;
    c->sorted = true;
}

static int cmp_typical(const void *pa, const void *pb) {
    const struct nib_cand *a = pa, *b = pb;
    if (a->key != b->key) return a->key < b->key ? -1 : 1;
    return nib_cand_before(a, b) ? -1 : nib_cand_before(b, a) ? 1 : 0;
}

void nib_cands_typical(struct nib_cands *c, float p) {
    if (p >= 1.0f || c->n == 0) return;
    if (!c->sorted) {
        nib_cand_sort(c->data, c->n);
        c->sorted = true;
    }
    softmax(c);
    float entropy = 0.0f;
    for (int32_t i = 0; i < c->n; i++) {
        float pi = c->data[i].p;
        if (pi > 0.0f) entropy += -pi * logf(pi); /* llama.cpp: NaN for underflowed p */
    }
    for (int32_t i = 0; i < c->n; i++)
        c->data[i].key = fabsf(-logf(c->data[i].p) - entropy);
    qsort(c->data, (size_t)c->n, sizeof(*c->data), cmp_typical);
    float cum = 0.0f;
    int32_t last = c->n;
    for (int32_t i = 0; i < c->n; i++) {
        cum += c->data[i].p;
        if (cum > p) {
            last = i + 1;
            break;
        }
    }
    c->n = last;
    c->sorted = false;
}

void nib_cands_top_p(struct nib_cands *c, float p) {
    if (p >= 1.0f || c->n == 0) return;
    softmax(c);
    /* llama.cpp sorts a guessed 256 best of a large unsorted list, then all of
     * it when the nucleus is longer; nib doubles the sorted prefix while it is
     * short: the same order, without a full sort for a nucleus of thousands. */
    int32_t k = c->n;
    if (!c->sorted && c->n > 1024) {
        k = 256;
        select_top(c->data, c->n, k);
    } else if (!c->sorted) {
        nib_cand_sort(c->data, c->n);
        c->sorted = true;
    }
    float cum = 0.0f;
    int32_t last = c->n;
    for (int32_t i = 0; i < c->n; i++) {
        cum += c->data[i].p;
        if (cum >= p) {
            last = i + 1;
            break;
        }
        if (!c->sorted && i == k - 1) { /* the sorted prefix is used up: extend it */
            const int32_t rest = c->n - k;
            if (k <= 2048 && k * 8 < rest) { /* a heap is cheap while it is small */
                select_top(c->data + k, rest, k);
                k *= 2;
            } else {
                nib_cand_sort(c->data + k, rest);
                c->sorted = true;
            }
        }
    }
    c->n = last;
    c->sorted = true;
}

void nib_cands_min_p(struct nib_cands *c, float p) {
    if (p <= 0.0f || c->n == 0) return;
    if (!c->sorted) {
        float max_l = -FLT_MAX;
        for (int32_t i = 0; i < c->n; i++) max_l = (c->data[i].logit > max_l ? c->data[i].logit : max_l);
        const float min_l = max_l + logf(p);
        int32_t w = 0;
        for (int32_t i = 0; i < c->n; i++)
            if (c->data[i].logit >= min_l) c->data[w++] = c->data[i];
        if (w > 0) { /* w == 0 wrote nothing: fall through to the sorted path */
            c->n = w;
            return;
        }
        nib_cand_sort(c->data, c->n);
        c->sorted = true;
    }
    const float min_l = c->data[0].logit + logf(p);
    int32_t i = 1;
    while (i < c->n && !(c->data[i].logit < min_l)) i++;
    c->n = i;
}

/* llama_sampler_temp_impl then llama_sampler_dist_apply. */
int32_t nib_cands_draw(struct nib_cands *c, float temperature, double u) {
    if (c->n == 1) {
        c->data[0].p = 1.0f;
        return 0;
    }
    float max_l = c->data[0].logit;
    for (int32_t i = 1; i < c->n; i++) max_l = (c->data[i].logit > max_l ? c->data[i].logit : max_l);
    const float max_t = max_l / temperature;
    const bool exact = isfinite(max_t); /* else logit / T overflowed: shift first */
    double sum = 0.0;
    for (int32_t i = 0; i < c->n; i++) {
        float l = c->data[i].logit;
        float p = exact ? expf(l / temperature - max_t) : expf((l - max_l) / temperature);
        c->data[i].p = p;
        sum += p;
    }
    const double target = sum * u;
    double run = 0.0;
    int32_t chosen = -1;
    for (int32_t i = 0; i < c->n; i++) {
        if (chosen < 0) {
            run += c->data[i].p;
            if (run >= target) chosen = i;
        }
        c->data[i].p = (float)(c->data[i].p / sum);
    }
    return chosen < 0 ? c->n - 1 : chosen;
}
