/*
 * moe_route.c — softmax, descending argsort and weight normalization of
 * one token's router logits (see moe_route.h).
 *
 * The argsort follows libstdc++'s std::sort step for step, because with
 * equal probabilities the order it happens to produce decides which experts
 * are chosen and in which order their outputs are summed: introsort
 * (median-of-three pivot moved to the front, unguarded Hoare partition,
 * heapsort past 2*log2(n) levels) on ranges longer than 16, then insertion
 * sort (guarded on the first 16 elements, unguarded after).
 */
#include "moe_route.h"

#include "ggml_order.h"

#include <math.h>

/* The comparator: a before b when p[a] > p[b]. */
static inline int before(const float *p, int32_t a, int32_t b) { return p[a] > p[b]; }

static void swap_i32(int32_t *a, int32_t *b) {
    const int32_t t = *a;
    *a = *b;
    *b = t;
}

/* ---- heapsort (std::partial_sort over the whole range) ---- */

static void heap_push(const float *p, int32_t *f, long hole, long top, int32_t v) {
    long parent = (hole - 1) / 2;
    while (hole > top && before(p, f[parent], v)) {
        f[hole] = f[parent];
        hole = parent;
        parent = (hole - 1) / 2;
    }
    f[hole] = v;
}

static void heap_adjust(const float *p, int32_t *f, long hole, long len, int32_t v) {
    const long top = hole;
    long child = hole;
    while (child < (len - 1) / 2) {
        child = 2 * (child + 1);
        if (before(p, f[child], f[child - 1])) child--;
        f[hole] = f[child];
        hole = child;
    }
    if ((len & 1) == 0 && child == (len - 2) / 2) {
        child = 2 * (child + 1);
        f[hole] = f[child - 1];
        hole = child - 1;
    }
    heap_push(p, f, hole, top, v);
}

static void heap_sort(const float *p, int32_t *f, long n) {
    if (n >= 2)
        for (long parent = (n - 2) / 2;; parent--) {
            heap_adjust(p, f, parent, n, f[parent]);
            if (parent == 0) break;
        }
    while (n > 1) {
        n--;
        const int32_t v = f[n];
        f[n] = f[0];
        heap_adjust(p, f, 0, n, v);
    }
}

/* ---- introsort ---- */

/* Moves the median of f[1], f[mid], f[last-1] to f[0] and partitions
 * f[1..n) around it; returns the cut. */
static int32_t *partition_pivot(const float *p, int32_t *f, int32_t *l) {
    int32_t *a = f + 1, *b = f + (l - f) / 2, *c = l - 1;
    if (before(p, *a, *b)) {
        if (before(p, *b, *c)) swap_i32(f, b);
        else if (before(p, *a, *c)) swap_i32(f, c);
        else swap_i32(f, a);
    } else if (before(p, *a, *c)) {
        swap_i32(f, a);
    } else if (before(p, *b, *c)) {
        swap_i32(f, c);
    } else {
        swap_i32(f, b);
    }
    int32_t *lo = f + 1, *hi = l;
    for (;;) {
        while (before(p, *lo, *f)) ++lo;
        --hi;
        while (before(p, *f, *hi)) --hi;
        if (!(lo < hi)) return lo;
        swap_i32(lo, hi);
        ++lo;
    }
}

static void introsort(const float *p, int32_t *f, int32_t *l, int depth) {
    while (l - f > 16) {
        if (depth == 0) {
            heap_sort(p, f, l - f);
            return;
        }
        --depth;
        int32_t *cut = partition_pivot(p, f, l);
        introsort(p, cut, l, depth);
        l = cut;
    }
}

/* ---- insertion sort ---- */

static void linear_insert(const float *p, int32_t *at) { /* unguarded: something before *at stops it */
    const int32_t v = *at;
    int32_t *prev = at - 1;
    while (before(p, v, *prev)) {
        *at = *prev;
        at = prev;
        --prev;
    }
    *at = v;
}

static void insertion_sort(const float *p, int32_t *f, int32_t *l) {
    if (f == l) return;
    for (int32_t *i = f + 1; i != l; ++i) {
        if (before(p, *i, *f)) {
            const int32_t v = *i;
            for (int32_t *j = i; j != f; --j) *j = *(j - 1);
            *f = v;
        } else {
            linear_insert(p, i);
        }
    }
}

void nib_argsort_desc(const float *p, int32_t n, int32_t *idx) {
    if (n <= 0) return;
    for (int32_t i = 0; i < n; i++) idx[i] = i;
    int lg = 0;
    while ((1L << (lg + 1)) <= (long)n) lg++;
    introsort(p, idx, idx + n, 2 * lg);
    if (n > 16) {
        insertion_sort(p, idx, idx + 16);
        for (int32_t *i = idx + 16; i != idx + n; ++i) linear_insert(p, i);
    } else {
        insertion_sort(p, idx, idx + n);
    }
}

void nib_softmax_ggml(const float *x, int32_t n, float *y) {
    float max = -INFINITY;
    for (int32_t i = 0; i < n; i++) max = max > x[i] ? max : x[i];
    double sum = 0.0;
    int32_t i = 0;
    for (; i + NIB_GGML_EPR <= n; i += NIB_GGML_EPR) { /* ggml_v_expf over 8 lanes, tree-summed */
        for (int l = 0; l < NIB_GGML_EPR; l++) y[i + l] = nib_ggml_expf(x[i + l] - max);
        sum += (double)nib_tree8(y + i, 1);
    }
    for (; i < n; i++) { /* the tail: libm's expf */
        y[i] = expf(x[i] - max);
        sum += (double)y[i];
    }
    const float inv = (float)(1.0 / sum);
    for (int32_t j = 0; j < n; j++) y[j] *= inv;
}

void nib_moe_route(const float *logits, int32_t n_expert, int32_t k, float *probs, int32_t *ids, float *weights) {
    int32_t order[1024];
    nib_softmax_ggml(logits, n_expert, probs);
    nib_argsort_desc(probs, n_expert, order);
    double sum = 0.0;
    for (int32_t s = 0; s < k; s++) {
        ids[s] = order[s];
        weights[s] = probs[order[s]];
        sum += (double)weights[s];
    }
    float total = (float)sum; /* ggml_clamp(sum, 2^-14, inf), NaN included: MAX(MIN(s, inf), 2^-14) */
    total = total < INFINITY ? total : INFINITY;
    total = total > 0x1p-14f ? total : 0x1p-14f;
    for (int32_t s = 0; s < k; s++) weights[s] = weights[s] / total;
}
