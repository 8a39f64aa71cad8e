/*
 * speculative.c — speculative decoding over two contexts (see nib.h):
 * propose (draft model or n-gram lookup), verify in one row-exact target
 * batch, accept (exact match when greedy; min(1, p/q) with the residual
 * distribution when sampling), truncate the rejected tail, adapt K.
 */
#include "nib.h"

#include "error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define VOCAB_SLACK 128 /* ids a draft vocabulary may have more or fewer (as llama.cpp allows) */
#define PROBE_EVERY 16  /* plain steps between two probes once drafting stopped paying */

struct nib_spec {
    struct nib_context    *t, *d;
    struct nib_spec_params p;
    int32_t                n_vocab;     /* the target's */
    int32_t               *hist;        /* prompt + emitted tokens */
    int32_t                n_hist, cap_hist;
    int32_t                n_t, n_d;    /* tokens of hist in the target / draft KV */
    int32_t                prompt_row;  /* >= 0: the prompt's last row holds the next logits */
    int32_t               *prop;        /* [draft_max] proposals */
    float                 *q;           /* [draft_max][n_vocab]: the draft's distributions (sampling) */
    float                 *pd;          /* [n_vocab] the target's distribution of one row */
    uint64_t               rng;
    double                 alpha;        /* per-token acceptance rate (running: kept_w / judged_w) */
    double                 kept_w, judged_w; /* decayed counts of kept and judged proposals */
    double                 t_tok;        /* seconds per drafted token (running) */
    double                 sw, sx, sy, sxx, sxy; /* decayed sums fitting target pass time = a + b * rows */
    int32_t                plain_steps;
    int32_t                reused;      /* prompt tokens the last nib_spec_prompt found in the cache */
    int32_t                n_prompt;    /* hist[0, n_prompt) is the prompt (target: prompt_flags batches) */
    int32_t               *seqs;        /* [n_seqs] p.seq, the sequence column of every batch */
    int32_t                n_seqs;
    struct nib_spec_stats  st;
};

struct nib_spec_params nib_spec_default_params(void) {
    struct nib_spec_params p = { .draft_max = 16, .draft_min = 0, .p_min = 0.75f, .lookup = 3, .greedy = true, .seed = 1,
                                 .seq = 0, .prompt_flags = 0 };
    return p;
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static double uniform(uint64_t *s) { /* splitmix64 -> [0, 1) */
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (double)(z >> 11) * 0x1.0p-53;
}

int nib_spec_check_vocab(const struct nib_vocab *t, const struct nib_vocab *d, struct nib_error *err) {
    if (nib_vocab_kind(t) != nib_vocab_kind(d))
        return nib_error_set(err, NIB_E_ARG, "draft vocabulary: another tokenizer kind than the target's");
    if (nib_vocab_add_bos(t) != nib_vocab_add_bos(d) || nib_vocab_add_eos(t) != nib_vocab_add_eos(d))
        return nib_error_set(err, NIB_E_ARG, "draft vocabulary: adds BOS/EOS differently from the target's");
    const enum nib_special which[] = { NIB_SPECIAL_BOS, NIB_SPECIAL_EOS };
    for (int i = 0; i < 2; i++)
        if (nib_vocab_special(t, which[i]) != nib_vocab_special(d, which[i]))
            return nib_error_set(err, NIB_E_ARG, "draft vocabulary: %s is token %d in the target, %d in the draft", i ? "EOS" : "BOS",
                                 nib_vocab_special(t, which[i]), nib_vocab_special(d, which[i]));
    const int32_t nt = nib_vocab_n_tokens(t), nd = nib_vocab_n_tokens(d);
    if (abs(nt - nd) > VOCAB_SLACK)
        return nib_error_set(err, NIB_E_ARG, "draft vocabulary: %d tokens against the target's %d (at most %d apart)", nd, nt,
                             VOCAB_SLACK);
    for (int32_t id = 0; id < (nt < nd ? nt : nd); id++) {
        size_t la = 0, lb = 0;
        const char *a = nib_vocab_token_text(t, id, &la), *b = nib_vocab_token_text(d, id, &lb);
        if (la != lb || memcmp(a, b, la) != 0)
            return nib_error_set(err, NIB_E_ARG, "draft vocabulary: token %d is '%.*s' in the target, '%.*s' in the draft", id,
                                 (int)(la < 40 ? la : 40), a, (int)(lb < 40 ? lb : 40), b);
    }
    return NIB_OK;
}

void nib_spec_free(struct nib_spec *s) {
    if (!s) return;
    free(s->hist);
    free(s->prop);
    free(s->q);
    free(s->pd);
    free(s->seqs);
    free(s);
}

int nib_spec_new(struct nib_context *target, struct nib_context *draft, const struct nib_spec_params *p, struct nib_spec **out,
                 struct nib_error *err) {
    if (!target || !out) return nib_error_set(err, NIB_E_ARG, "nib_spec_new: NULL argument");
    *out = NULL;
    struct nib_spec_params pp = p ? *p : nib_spec_default_params();
    if (pp.draft_max < 1 || pp.draft_max > 256 || pp.draft_min < 0 || pp.draft_min > pp.draft_max)
        return nib_error_set(err, NIB_E_ARG, "speculative: draft lengths %d..%d out of range (1 <= max <= 256, min <= max)",
                             pp.draft_min, pp.draft_max);
    if (pp.seq < 0) return nib_error_set(err, NIB_E_ARG, "speculative: sequence %d is negative", pp.seq);
    if (!draft && (pp.lookup < 1 || pp.lookup > 64)) return nib_error_set(err, NIB_E_ARG, "speculative: lookup n-gram %d out of range 1..64", pp.lookup);
    struct nib_spec *s = calloc(1, sizeof(*s));
    if (!s) return nib_error_set(err, NIB_E_NOMEM, "out of memory");
    s->t = target;
    s->d = draft;
    s->p = pp;
    s->n_vocab = nib_model_n_vocab(nib_context_model(target));
    s->prompt_row = -1;
    s->rng = pp.seed;
    s->alpha = 0.7; /* a prior worth ten judged proposals */
    s->kept_w = 0.7 * 10, s->judged_w = 10;
    s->prop = malloc(sizeof(int32_t) * (size_t)pp.draft_max);
    s->pd = malloc(sizeof(float) * (size_t)s->n_vocab);
    if (!pp.greedy) s->q = malloc(sizeof(float) * (size_t)pp.draft_max * (size_t)s->n_vocab);
    s->n_seqs = nib_context_n_batch(target);
    if (draft && nib_context_n_batch(draft) > s->n_seqs) s->n_seqs = nib_context_n_batch(draft);
    if (pp.draft_max + 1 > s->n_seqs) s->n_seqs = pp.draft_max + 1;
    s->seqs = malloc(sizeof(int32_t) * (size_t)s->n_seqs);
    for (int32_t i = 0; s->seqs && i < s->n_seqs; i++) s->seqs[i] = pp.seq;
    if (!s->prop || !s->pd || !s->seqs || (!pp.greedy && !s->q)) {
        nib_spec_free(s);
        return nib_error_set(err, NIB_E_NOMEM, "out of memory");
    }
    *out = s;
    return NIB_OK;
}

static int push_hist(struct nib_spec *s, int32_t tok, struct nib_error *err) {
    if (s->n_hist == s->cap_hist) {
        int32_t cap = s->cap_hist ? 2 * s->cap_hist : 1024;
        int32_t *h = realloc(s->hist, sizeof(int32_t) * (size_t)cap);
        if (!h) return nib_error_set(err, NIB_E_NOMEM, "out of memory");
        s->hist = h;
        s->cap_hist = cap;
    }
    s->hist[s->n_hist++] = tok;
    return NIB_OK;
}

/* Decodes toks into c (the speculation's sequence) in n_batch pieces with
 * the given batch flags; the last token's logits are kept, at batch index
 * *last_row (may be NULL). */
static int feed(const struct nib_spec *s, struct nib_context *c, const int32_t *toks, int32_t n, uint32_t flags,
                int32_t *last_row, struct nib_error *err) {
    const int32_t nb = nib_context_n_batch(c);
    for (int32_t off = 0; off < n; off += nb) {
        const int32_t m = n - off < nb ? n - off : nb;
        struct nib_batch b = { m, toks + off, NULL, s->seqs, NULL, flags };
        int rc = nib_decode(c, &b, err);
        if (rc) return rc;
        if (last_row) *last_row = m - 1;
    }
    return NIB_OK;
}

int nib_spec_prompt(struct nib_spec *s, const int32_t *tokens, int32_t n, struct nib_error *err) {
    if (!s || !tokens || n <= 0) return nib_error_set(err, NIB_E_ARG, "nib_spec_prompt: empty prompt");
    if (n > nib_context_n_ctx(s->t)) return nib_error_set(err, NIB_E_ARG, "nib_spec_prompt: %d tokens do not fit the context", n);
    int32_t p = 0; /* what the target already holds of it (its KV may have been cut since) */
    const int32_t seq = s->p.seq, len = nib_context_seq_len(s->t, seq);
    const int32_t held = len < s->n_t ? len : s->n_t;
    while (p < n && p < held && s->hist[p] == tokens[p]) p++;
    if (p == n) p = n - 1; /* the last token again: its logits come next */
    int rc = nib_context_seq_truncate(s->t, seq, p, err);
    if (!rc && p == 0 && nib_context_seq_len(s->t, seq) == 0) { /* empty: map cached prefix blocks */
        const int32_t r = nib_context_seq_reuse_prefix(s->t, seq, tokens, n, err);
        if (r < 0) return NIB_E_ARG;
        p = r;
    }
    int32_t pd = s->n_d < p ? s->n_d : p;
    if (s->d && nib_context_seq_len(s->d, seq) < pd) pd = nib_context_seq_len(s->d, seq);
    if (!rc && s->d) rc = nib_context_seq_truncate(s->d, seq, pd, err);
    if (rc) return rc;
    s->n_hist = 0;
    for (int32_t i = 0; i < n; i++)
        if ((rc = push_hist(s, tokens[i], err))) return rc;
    s->n_t = p;
    s->n_d = s->d ? pd : 0;
    if ((rc = feed(s, s->t, tokens + p, n - p, s->p.prompt_flags, &s->prompt_row, err))) return rc;
    s->n_t = n;
    s->n_prompt = n;
    s->reused = p;
    return NIB_OK;
}

int32_t nib_spec_reused(const struct nib_spec *s) { return s->reused; }

/* The sampler's last distribution as a dense vector over n ids. */
static void dense(const struct nib_sampler *smp, float *v, int32_t n) {
    const int32_t *ids;
    const float *pr;
    memset(v, 0, sizeof(float) * (size_t)n);
    const int32_t k = nib_sampler_last_candidates(smp, &ids, &pr);
    for (int32_t i = 0; i < k; i++)
        if (ids[i] >= 0 && ids[i] < n) v[ids[i]] = pr[i];
}

static float top_prob(const float *logits, int32_t n) {
    float mx = logits[0];
    for (int32_t i = 1; i < n; i++) mx = logits[i] > mx ? logits[i] : mx;
    double sum = 0;
    for (int32_t i = 0; i < n; i++) sum += exp((double)logits[i] - mx);
    return (float)(1.0 / sum);
}

/* The target's pass time for n rows, from the running fit a + b * n (rows
 * past the first cost at least nothing, the first at least 1 us). */
static double pass_time(const struct nib_spec *s, int32_t n) {
    const double det = s->sw * s->sxx - s->sx * s->sx;
    double b = det > 1e-12 * s->sw * s->sw ? (s->sw * s->sxy - s->sx * s->sy) / det : 0.0;
    if (b < 0) b = 0;
    double a = s->sw > 0 ? (s->sy - b * s->sx) / s->sw : 0.0;
    if (a < 1e-6) a = 1e-6;
    return a + b * n;
}

static void record_pass(struct nib_spec *s, int32_t rows, double t) {
    const double d = 0.9; /* older passes fade */
    s->sw = d * s->sw + 1;
    s->sx = d * s->sx + rows;
    s->sy = d * s->sy + t;
    s->sxx = d * s->sxx + (double)rows * rows;
    s->sxy = d * s->sxy + rows * t;
}

/* The K with the most expected tokens per second: with acceptance rate a,
 * a pass over K drafts yields (1 - a^(K+1)) / (1 - a) tokens and costs K
 * draft tokens plus a target pass over K + 1 rows (both measured); K = 0 is
 * plain decoding. Before any measurement: 4. When plain wins, a short probe
 * every PROBE_EVERY steps keeps the estimates current. */
static int32_t choose_k(struct nib_spec *s) {
    if (s->st.steps < 3) return s->p.draft_min > 4 ? s->p.draft_min : (s->p.draft_max < 4 ? s->p.draft_max : 4);
    const double a = s->alpha, plain = 1.0 / pass_time(s, 1);
    double best = plain;
    int32_t k_best = 0;
    for (int32_t k = 1; k <= s->p.draft_max; k++) {
        const double gain = a >= 0.999 ? (double)(k + 1) : (1.0 - pow(a, k + 1)) / (1.0 - a);
        const double rate = gain / (k * s->t_tok + pass_time(s, k + 1));
        if (rate > best * 1.0001) best = rate, k_best = k;
    }
    if (k_best < s->p.draft_min) k_best = s->p.draft_min;
    if (k_best == 0 && ++s->plain_steps % PROBE_EVERY == 0) k_best = 2 < s->p.draft_max ? 2 : s->p.draft_max;
    return k_best;
}

/* A token as the draft sees it: ids past the draft's vocabulary (the target
 * may have up to 128 more, e.g. chat markers) become the draft's EOS; the
 * draft only proposes, so this costs acceptance, never correctness. */
static int32_t for_draft(const struct nib_spec *s, int32_t tok, int32_t nv) {
    if (tok < nv) return tok;
    const int32_t eos = nib_vocab_special(nib_model_vocab(nib_context_model(s->d)), NIB_SPECIAL_EOS);
    return eos >= 0 && eos < nv ? eos : 0;
}

/* Up to k proposals after cur from the draft model; returns how many. The
 * tokens the draft has not seen yet go in with prompt flags while in the
 * prompt, and after it row-exact (as verification, so the draft's K/V match
 * bits and self-drafting agrees); the last of them (at most a batch) go in
 * with cur in the first draft step, whose only logits row is cur's: no
 * logits for the catch-up rows, and no separate pass for them. */
static int32_t draft_model(struct nib_spec *s, struct nib_sampler *smp, int32_t k, struct nib_error *err, int *rc) {
    const int32_t cur_at = s->n_hist - 1;
    const int32_t nv = nib_model_n_vocab(nib_context_model(s->d)), nb = nib_context_n_batch(s->d);
    int32_t buf[512];
    static const int8_t no_logits[512];
    for (;;) {
        const bool in_prompt = s->n_d < s->n_prompt;
        if (!in_prompt && cur_at - s->n_d < (nb < 512 ? nb : 512)) break; /* these go with cur */
        const int32_t end = in_prompt && s->n_prompt < cur_at ? s->n_prompt : cur_at;
        int32_t m = 0;
        while (m < 512 && m < nb && s->n_d + m < end) buf[m] = for_draft(s, s->hist[s->n_d + m], nv), m++;
        if (!m) break;
        struct nib_batch b = { m, buf, NULL, s->seqs, no_logits, in_prompt ? s->p.prompt_flags : NIB_BATCH_ROW_EXACT };
        if ((*rc = nib_decode(s->d, &b, err))) return 0;
        s->n_d += m;
    }
    int32_t m = 0, n = 0;
    while (s->n_d + m <= cur_at) buf[m] = for_draft(s, s->hist[s->n_d + m], nv), m++; /* the rest, cur last */
    while (n < k) {
        struct nib_batch b = { m, buf, NULL, s->seqs, NULL, NIB_BATCH_ROW_EXACT }; /* logits: the last row */
        if ((*rc = nib_decode(s->d, &b, err))) return 0;
        s->n_d += m;
        const float *lg = nib_context_logits(s->d, m - 1);
        if (n >= s->p.draft_min && top_prob(lg, nv) < s->p.p_min) break;
        int32_t next;
        if (smp) {
            next = nib_sampler_sample(smp, lg, err);
            if (next < 0) return *rc = next, 0;
            if (s->q) dense(smp, s->q + (size_t)n * (size_t)s->n_vocab, s->n_vocab);
        } else {
            next = 0;
            for (int32_t i = 1; i < nv; i++)
                if (lg[i] > lg[next]) next = i;
            if (s->q) { /* a greedy draft under a sampling target: q is one-hot */
                memset(s->q + (size_t)n * (size_t)s->n_vocab, 0, sizeof(float) * (size_t)s->n_vocab);
                if (next < s->n_vocab) s->q[(size_t)n * (size_t)s->n_vocab + (size_t)next] = 1.0f;
            }
        }
        if (next >= s->n_vocab) break; /* an id the target does not have */
        s->prop[n++] = buf[0] = next;
        m = 1;
    }
    return n;
}

/* Up to k proposals: what followed the latest earlier occurrence of the
 * last `lookup` tokens (cur included). q is one-hot. */
static int32_t draft_lookup(struct nib_spec *s, int32_t k) {
    const int32_t g = s->p.lookup, n = s->n_hist;
    if (n <= g) return 0;
    const int32_t *tail = s->hist + n - g;
    for (int32_t at = n - g - 1; at >= 0; at--) {
        if (memcmp(s->hist + at, tail, sizeof(int32_t) * (size_t)g) != 0) continue;
        int32_t m = 0;
        for (int32_t j = at + g; j < n && m < k; j++) s->prop[m++] = s->hist[j];
        if (s->q)
            for (int32_t i = 0; i < m; i++) {
                memset(s->q + (size_t)i * (size_t)s->n_vocab, 0, sizeof(float) * (size_t)s->n_vocab);
                s->q[(size_t)i * (size_t)s->n_vocab + (size_t)s->prop[i]] = 1.0f;
            }
        return m;
    }
    return 0;
}

/* Draws from norm(max(0, p - q)); falls back to p when that is empty. */
static int32_t residual(struct nib_spec *s, const float *q) {
    double total = 0;
    for (int32_t i = 0; i < s->n_vocab; i++) total += s->pd[i] > q[i] ? s->pd[i] - q[i] : 0.0;
    const bool plain = !(total > 0);
    if (plain)
        for (int32_t i = 0; i < s->n_vocab; i++) total += s->pd[i];
    double u = uniform(&s->rng) * total, acc = 0;
    int32_t last = 0;
    for (int32_t i = 0; i < s->n_vocab; i++) {
        const double w = plain ? s->pd[i] : (s->pd[i] > q[i] ? s->pd[i] - q[i] : 0.0);
        if (w <= 0) continue;
        last = i;
        acc += w;
        if (u < acc) return i;
    }
    return last;
}

int32_t nib_spec_next(struct nib_spec *s, struct nib_sampler *ts, struct nib_sampler *ds, int32_t *out, int32_t cap,
                      struct nib_error *err) {
    if (!s || !ts || !out || cap < 1) return nib_error_set(err, NIB_E_ARG, "nib_spec_next: bad argument");
    if (!s->n_hist) return nib_error_set(err, NIB_E_STATE, "nib_spec_next: no prompt yet");
    int rc;
    if (s->prompt_row >= 0) { /* the first token comes from the prompt's logits */
        const int32_t tok = nib_sampler_sample(ts, nib_context_logits(s->t, s->prompt_row), err);
        if (tok < 0) return tok;
        nib_sampler_accept(ts, tok);
        s->prompt_row = -1;
        if ((rc = push_hist(s, tok, err))) return rc;
        out[0] = tok;
        s->st.emitted++;
        return 1;
    }
    const int32_t room = nib_context_n_ctx(s->t) - s->n_t; /* cur + drafts must fit */
    if (room < 1) return 0;
    int32_t k = choose_k(s);
    if (k > cap - 1) k = cap - 1;
    if (k > room - 1) k = room - 1;
    if (k > nib_context_n_batch(s->t) - 1) k = nib_context_n_batch(s->t) - 1;
    if (s->d && k > nib_context_n_ctx(s->d) - s->n_hist) k = nib_context_n_ctx(s->d) - s->n_hist;
    double t0 = now_s();
    rc = 0;
    int32_t n_prop = k <= 0 ? 0 : s->d ? draft_model(s, s->p.greedy ? NULL : ds, k, err, &rc) : draft_lookup(s, k);
    if (rc == NIB_KV_FULL) { /* the draft's cache is full: no proposals this time; it starts over later */
        if ((rc = nib_context_seq_truncate(s->d, s->p.seq, 0, err))) return rc;
        s->n_d = 0;
        n_prop = 0;
    }
    if (rc) return rc;
    const double t1 = now_s();
    /* verify: cur and the proposals in one row-exact batch */
    int32_t toks[257];
    int8_t want[257];
    toks[0] = s->hist[s->n_hist - 1];
    for (int32_t i = 0; i < n_prop; i++) toks[i + 1] = s->prop[i];
    memset(want, 1, sizeof want);
    struct nib_batch b = { n_prop + 1, toks, NULL, s->seqs, want, NIB_BATCH_ROW_EXACT };
    if ((rc = nib_decode(s->t, &b, err)) == NIB_KV_FULL && n_prop > 0) { /* no room for the proposals: cur alone */
        n_prop = 0;
        b.n = 1;
        rc = nib_decode(s->t, &b, err);
    }
    if (rc) return rc == NIB_KV_FULL ? 0 : rc; /* full: nothing changed, 0 tokens */
    const double t2 = now_s();
    int32_t m = 0, accepted = 0;
    for (int32_t i = 0; i <= n_prop; i++) {
        const float *lg = nib_context_logits(s->t, i);
        int32_t tok = nib_sampler_sample(ts, lg, err);
        if (tok < 0) return tok;
        if (i < n_prop && !s->p.greedy) { /* keep d with probability min(1, p(d) / q(d)) */
            dense(ts, s->pd, s->n_vocab);
            const int32_t d = s->prop[i];
            const float *q = s->q + (size_t)i * (size_t)s->n_vocab;
            tok = uniform(&s->rng) * q[d] < s->pd[d] ? d : residual(s, q);
        }
        nib_sampler_accept(ts, tok);
        out[m++] = tok;
        if ((rc = push_hist(s, tok, err))) return rc;
        if (i == n_prop || tok != s->prop[i]) break;
        accepted++;
    }
    /* KV: cur and the accepted proposals stay; the last emitted token is the next cur */
    if ((rc = nib_context_seq_truncate(s->t, s->p.seq, s->n_t + m, err))) return rc;
    s->n_t += m;
    if (s->d && s->n_d > s->n_t) {
        if ((rc = nib_context_seq_truncate(s->d, s->p.seq, s->n_t, err))) return rc;
        s->n_d = s->n_t;
    }
    /* running estimates for choosing K */
    record_pass(s, n_prop + 1, t2 - t1);
    const int32_t judged = accepted + (accepted < n_prop); /* the proposals after a rejection were never judged */
    if (n_prop > 0) { /* accepted / n_prop would count them as rejected and make long drafts look bad */
        s->kept_w = 0.95 * s->kept_w + accepted;
        s->judged_w = 0.95 * s->judged_w + judged;
        s->alpha = s->kept_w / s->judged_w;
        s->t_tok = s->st.drafted ? 0.8 * s->t_tok + 0.2 * (t1 - t0) / n_prop : (t1 - t0) / n_prop;
    }
    s->st.steps++;
    s->st.drafted += n_prop;
    s->st.accepted += accepted;
    s->st.judged += judged;
    s->st.emitted += m;
    s->st.t_draft += t1 - t0;
    s->st.t_target += t2 - t1;
    return m;
}

void nib_spec_get_stats(const struct nib_spec *s, struct nib_spec_stats *out) { *out = s->st; }

int nib_spec_set_sampling(struct nib_spec *s, bool greedy, uint64_t seed, struct nib_error *err) {
    if (!greedy && !s->q) {
        s->q = malloc(sizeof(float) * (size_t)s->p.draft_max * (size_t)s->n_vocab);
        if (!s->q) return nib_error_set(err, NIB_E_NOMEM, "out of memory");
    }
    s->p.greedy = greedy;
    s->p.seed = seed;
    s->rng = seed;
    return NIB_OK;
}
