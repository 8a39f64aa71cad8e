/*
 * sampler.c — the sampler object: parameters, history, and the chain of
 * sampler.h (the filters themselves are in sampler_filters.c).
 *
 * One pass over the logits builds the candidates with the logit bias and the
 * penalties folded in (the bias list is sorted by token, the penalties read a
 * per-token count of the window); with top-k on, the pass keeps only a
 * bounded heap of the k best, so a small k costs O(n_vocab) plus O(k log k).
 */
#include "sampler.h"

#include "error.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct bias_entry {
    int32_t token;
    int32_t order; /* position in the caller's list: duplicates add in list order */
    float   bias;
};

struct nib_sampler {
    struct nib_sampler_params params; /* logit_bias points nowhere: see bias */
    int32_t n_vocab;

    struct bias_entry *bias;  /* [n_bias], sorted by (token, order) */
    int32_t            n_bias;

    /* penalties; counts == NULL when off */
    int32_t *counts;          /* [n_vocab] occurrences in the window */
    int32_t *ring;            /* [window] the last accepted tokens */
    int32_t  window, ring_head, ring_len;

    struct nib_mt19937 rng;

    struct nib_cand *cand;    /* [n_vocab] scratch */
    int32_t *last_ids;        /* [n_vocab] */
    float   *last_probs;      /* [n_vocab] */
    int32_t  n_last;
};

struct nib_sampler_params nib_sampler_default_params(void) {
    return (struct nib_sampler_params){
        .temperature       = 0.8f,
        .top_k             = 40,
        .top_p             = 0.95f,
        .min_p             = 0.05f,
        .typical_p         = 1.0f,
        .repeat_penalty    = 1.0f,
        .frequency_penalty = 0.0f,
        .presence_penalty  = 0.0f,
        .penalty_last_n    = 64,
        .seed              = NIB_SAMPLER_DEFAULT_SEED,
        .logit_bias        = NULL,
        .n_logit_bias      = 0,
    };
}

/* ------------------------------------------------------------- validation */

static int check_bias(const struct nib_sampler_params *p, int32_t n_vocab, struct nib_error *err) {
    if (p->n_logit_bias < 0)
        return nib_error_set(err, NIB_E_ARG, "sampler: n_logit_bias %d is negative", p->n_logit_bias);
    if (p->n_logit_bias > 0 && !p->logit_bias)
        return nib_error_set(err, NIB_E_ARG, "sampler: logit_bias is NULL but n_logit_bias is %d",
                             p->n_logit_bias);
    for (int32_t i = 0; i < p->n_logit_bias; i++) {
        const struct nib_logit_bias *b = &p->logit_bias[i];
        if (b->token < 0 || b->token >= n_vocab)
            return nib_error_set(err, NIB_E_ARG, "sampler: logit_bias[%d] token %d outside [0, %d)",
                                 i, b->token, n_vocab);
        if (isnan(b->bias) || b->bias == INFINITY)
            return nib_error_set(err, NIB_E_ARG, "sampler: logit_bias[%d] (token %d) bias %g is not "
                                 "a number or -inf", i, b->token, (double)b->bias);
    }
    return NIB_OK;
}

static int check_params(const struct nib_sampler_params *p, int32_t n_vocab, struct nib_error *err) {
    if (n_vocab <= 0)
        return nib_error_set(err, NIB_E_ARG, "sampler: n_vocab %d must be positive", n_vocab);
    if (!isfinite(p->temperature))
        return nib_error_set(err, NIB_E_ARG, "sampler: temperature %g is not finite", (double)p->temperature);
    if (!(p->top_p > 0.0f && p->top_p <= 1.0f))
        return nib_error_set(err, NIB_E_ARG, "sampler: top_p %g outside (0, 1]", (double)p->top_p);
    if (!(p->min_p >= 0.0f && p->min_p <= 1.0f))
        return nib_error_set(err, NIB_E_ARG, "sampler: min_p %g outside [0, 1]", (double)p->min_p);
    if (!(p->typical_p > 0.0f && p->typical_p <= 1.0f))
        return nib_error_set(err, NIB_E_ARG, "sampler: typical_p %g outside (0, 1]", (double)p->typical_p);
    if (!isfinite(p->repeat_penalty) || !(p->repeat_penalty > 0.0f) || !isfinite(1.0f / p->repeat_penalty))
        return nib_error_set(err, NIB_E_ARG, "sampler: repeat_penalty %g must be finite and > 0 "
                             "(with a finite inverse)", (double)p->repeat_penalty);
    if (!isfinite(p->frequency_penalty))
        return nib_error_set(err, NIB_E_ARG, "sampler: frequency_penalty %g is not finite",
                             (double)p->frequency_penalty);
    if (!isfinite(p->presence_penalty))
        return nib_error_set(err, NIB_E_ARG, "sampler: presence_penalty %g is not finite",
                             (double)p->presence_penalty);
    if (p->penalty_last_n < -1 || p->penalty_last_n > NIB_SAMPLER_MAX_PENALTY_LAST_N)
        return nib_error_set(err, NIB_E_ARG, "sampler: penalty_last_n %d outside [-1, %d]",
                             p->penalty_last_n, NIB_SAMPLER_MAX_PENALTY_LAST_N);
    return check_bias(p, n_vocab, err);
}

/* ------------------------------------------------------------ init / free */

static int cmp_bias(const void *pa, const void *pb) {
    const struct bias_entry *a = pa, *b = pb;
    if (a->token != b->token) return a->token < b->token ? -1 : 1;
    return a->order < b->order ? -1 : a->order > b->order;
}

static bool penalties_on(const struct nib_sampler_params *p) {
    return p->penalty_last_n != 0 &&
           (p->repeat_penalty != 1.0f || p->frequency_penalty != 0.0f || p->presence_penalty != 0.0f);
}

static int alloc_state(struct nib_sampler *s) {
    const size_t n = (size_t)s->n_vocab;
    s->cand = malloc(n * sizeof(*s->cand));
    s->last_ids = malloc(n * sizeof(*s->last_ids));
    s->last_probs = malloc(n * sizeof(*s->last_probs));
    if (!s->cand || !s->last_ids || !s->last_probs) return NIB_E_NOMEM;
    if (s->n_bias > 0) {
        s->bias = malloc((size_t)s->n_bias * sizeof(*s->bias));
        if (!s->bias) return NIB_E_NOMEM;
    }
    if (penalties_on(&s->params)) {
        s->window = s->params.penalty_last_n < 0 ? NIB_SAMPLER_MAX_PENALTY_LAST_N : s->params.penalty_last_n;
        s->counts = calloc(n, sizeof(*s->counts));
        s->ring = malloc((size_t)s->window * sizeof(*s->ring));
        if (!s->counts || !s->ring) return NIB_E_NOMEM;
    }
    return NIB_OK;
}

int nib_sampler_init(const struct nib_sampler_params *params, int32_t n_vocab,
                     struct nib_sampler **out, struct nib_error *err) {
    if (!out) return nib_error_set(err, NIB_E_ARG, "sampler: out is NULL");
    *out = NULL;
    const struct nib_sampler_params p = params ? *params : nib_sampler_default_params();
    int rc = check_params(&p, n_vocab, err);
    if (rc != NIB_OK) return rc;

    struct nib_sampler *s = calloc(1, sizeof(*s));
    if (!s) return nib_error_set(err, NIB_E_NOMEM, "sampler: out of memory");
    s->params = p;
    s->params.logit_bias = NULL;
    s->n_vocab = n_vocab;
    s->n_bias = p.n_logit_bias;
    if (alloc_state(s) != NIB_OK) {
        nib_sampler_free(s);
        return nib_error_set(err, NIB_E_NOMEM, "sampler: out of memory for n_vocab %d", n_vocab);
    }
    for (int32_t i = 0; i < s->n_bias; i++)
        s->bias[i] = (struct bias_entry){ p.logit_bias[i].token, i, p.logit_bias[i].bias };
    if (s->n_bias > 1) qsort(s->bias, (size_t)s->n_bias, sizeof(*s->bias), cmp_bias);
    nib_mt19937_seed(&s->rng, p.seed);
    *out = s;
    return NIB_OK;
}

void nib_sampler_free(struct nib_sampler *s) {
    if (!s) return;
    free(s->bias);
    free(s->counts);
    free(s->ring);
    free(s->cand);
    free(s->last_ids);
    free(s->last_probs);
    free(s);
}

/* ---------------------------------------------------------------- history */

void nib_sampler_accept(struct nib_sampler *s, int32_t token) {
    if (!s || !s->counts || token < 0 || token >= s->n_vocab) return;
    if (s->ring_len == s->window) { /* full: the oldest leaves the window */
        s->counts[s->ring[s->ring_head]]--;
        s->ring[s->ring_head] = token;
        s->ring_head = (s->ring_head + 1) % s->window;
    } else {
        s->ring[(s->ring_head + s->ring_len) % s->window] = token;
        s->ring_len++;
    }
    s->counts[token]++;
}

void nib_sampler_reset(struct nib_sampler *s) {
    if (!s) return;
    if (s->counts) memset(s->counts, 0, (size_t)s->n_vocab * sizeof(*s->counts));
    s->ring_head = s->ring_len = 0;
    s->n_last = 0;
    nib_mt19937_seed(&s->rng, s->params.seed);
}

int32_t nib_sampler_last_candidates(const struct nib_sampler *s, const int32_t **ids,
                                    const float **probs) {
    if (ids) *ids = s ? s->last_ids : NULL;
    if (probs) *probs = s ? s->last_probs : NULL;
    return s ? s->n_last : 0;
}

/* --------------------------------------------------------------- sampling */

static float clamp_max(float l) { return l > FLT_MAX ? FLT_MAX : l; }

/* For a token with a bias entry or a penalty count: NaN becomes -inf, then the
 * bias entries (the cursor *bi walks the sorted list), then the penalties, in
 * llama.cpp's order and float arithmetic. +inf is returned as is (an error). */
static float adjust(const struct nib_sampler *s, int32_t i, float l, int32_t *bi) {
    if (isnan(l)) l = -INFINITY;
    while (*bi < s->n_bias && s->bias[*bi].token == i) {
        if (l != INFINITY) l = clamp_max(l + s->bias[*bi].bias);
        (*bi)++;
    }
    if (s->counts && s->counts[i] > 0 && l != -INFINITY && l != INFINITY) {
        const int32_t c = s->counts[i];
        const struct nib_sampler_params *p = &s->params;
        if (l <= 0) l *= p->repeat_penalty;
        else        l /= p->repeat_penalty;
        l = clamp_max(l - ((float)c * p->frequency_penalty + (float)(c > 0) * p->presence_penalty));
        if (isnan(l)) l = -INFINITY; /* only from penalties near FLT_MAX: inf - inf */
    }
    return l;
}

/*
 * The one pass over the logits. With cands == NULL it only finds the best
 * token (greedy); otherwise it writes the finite candidates in id order, or,
 * when heap_k > 0, the heap_k best of them (unordered). A logit must beat
 * `thr` to matter: -inf, the best so far (greedy) or the worst kept by a full
 * heap; ids only grow, so a tie never wins and `>` is the exact rank test (NaN
 * fails it too). Returns the candidate count (or 1 with *best set), 0 when
 * every logit is -inf, or a status.
 */
static int32_t scan(const struct nib_sampler *s, const float *logits, struct nib_cands *cands,
                    int32_t heap_k, int32_t *best, struct nib_error *err) {
    const int32_t *counts = s->counts, n_vocab = s->n_vocab;
    const int32_t k = heap_k > 0 ? heap_k : n_vocab;
    struct nib_cand *data = cands ? cands->data : NULL;
    int32_t bi = 0, n = 0, best_i = -1;
    int32_t next_bias = s->n_bias > 0 ? s->bias[0].token : -1;
    float thr = -INFINITY;
    for (int32_t i = 0; i < n_vocab; i++) {
        float l = logits[i];
        if (i == next_bias || (counts && counts[i] > 0)) {
            l = adjust(s, i, l, &bi);
            next_bias = bi < s->n_bias ? s->bias[bi].token : -1;
        }
        if (!(l > thr)) continue;
        if (l == INFINITY) return nib_error_set(err, NIB_E_ARG, "sampler: logit[%d] is +inf", i);
        if (!data) {
            thr = l, best_i = i;
        } else if (n < k) {
            data[n++] = (struct nib_cand){ i, l, 0.0f, 0.0f };
            if (n == k && heap_k > 0) {
                nib_cand_heap_make(data, k);
                thr = data[0].logit;
            }
        } else {
            nib_cand_heap_offer(data, k, &(struct nib_cand){ i, l, 0.0f, 0.0f });
            thr = data[0].logit;
        }
    }
    if (!data) {
        *best = best_i;
        return best_i >= 0 ? 1 : 0;
    }
    cands->n = n;
    cands->sorted = false;
    return n;
}

static void set_last_single(struct nib_sampler *s, int32_t id) {
    s->last_ids[0] = id;
    s->last_probs[0] = 1.0f;
    s->n_last = 1;
}

/* Highest logit among the survivors, ties to the lower id. */
static int32_t argmax(const struct nib_cands *c) {
    int32_t b = 0;
    for (int32_t i = 1; i < c->n; i++)
        if (nib_cand_before(&c->data[i], &c->data[b])) b = i;
    return c->data[b].id;
}

static int no_candidates(const struct nib_sampler *s, struct nib_error *err) {
    return nib_error_set(err, NIB_E_ARG, "sampler: all %d logits are -inf or NaN (after logit bias "
                         "and penalties)", s->n_vocab);
}

int32_t nib_sampler_sample(struct nib_sampler *s, const float *logits, struct nib_error *err) {
    if (!s || !logits)
        return nib_error_set(err, NIB_E_ARG, "sampler: %s is NULL", s ? "logits" : "sampler");
    const struct nib_sampler_params *p = &s->params;
    const bool greedy = p->temperature <= 0.0f;
    s->n_last = 0;
    if (greedy && p->typical_p >= 1.0f) { /* no filter can drop the best token */
        int32_t best = -1;
        int32_t rc = scan(s, logits, NULL, 0, &best, err);
        if (rc < 0) return rc;
        if (rc == 0) return no_candidates(s, err);
        (void)nib_mt19937_uniform(&s->rng); /* one draw per sample, as llama.cpp's dist */
        set_last_single(s, best);
        return best;
    }
    struct nib_cands c = { s->cand, 0, false };
    const int32_t heap_k = p->top_k > 0 && p->top_k < s->n_vocab ? p->top_k : 0;
    int32_t rc = scan(s, logits, &c, heap_k, NULL, err);
    if (rc < 0) return rc;
    if (rc == 0) return no_candidates(s, err);
    nib_cands_top_k(&c, p->top_k); /* sorts what the heap kept */
    nib_cands_typical(&c, p->typical_p);
    nib_cands_top_p(&c, p->top_p);
    nib_cands_min_p(&c, p->min_p);
    const double u = nib_mt19937_uniform(&s->rng);
    if (greedy) {
        const int32_t id = argmax(&c);
        set_last_single(s, id);
        return id;
    }
    const int32_t chosen = nib_cands_draw(&c, p->temperature, u);
    for (int32_t i = 0; i < c.n; i++) {
        s->last_ids[i] = c.data[i].id;
        s->last_probs[i] = c.data[i].p;
    }
    s->n_last = c.n;
    return c.data[chosen].id;
}
