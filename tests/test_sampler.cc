/*
 * test_sampler.cc — the sampler (engine/sampler.h): each filter and the whole
 * chain against a brute-force double-precision reference written from
 * llama.cpp's definitions, penalties and logit bias against hand-computed
 * values, greedy ties, NaN handling, parameter validation, the mt19937
 * stream, seeded reproducibility and the empirical distribution of draws.
 *
 * The reference works in double, the sampler in float (as llama.cpp), so a
 * case whose threshold falls within rounding of a cumulative sum is skipped
 * (counted, and required to be rare).
 */
#include "nib.h"

#include "engine/sampler.h"
#include "test_util.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace {

using Dist = std::map<int32_t, double>; /* id -> probability */

struct RefCand {
    int32_t id;
    double  logit;
};

bool ref_before(const RefCand &a, const RefCand &b) {
    return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
}

std::vector<double> ref_softmax(const std::vector<RefCand> &c, double temp = 1.0) {
    double mx = -INFINITY, sum = 0.0;
    for (const auto &e : c) mx = std::max(mx, e.logit / temp);
    std::vector<double> p;
    for (const auto &e : c) p.push_back(std::exp(e.logit / temp - mx)), sum += p.back();
    for (auto &x : p) x /= sum;
    return p;
}

bool near_threshold(double a, double b) { return std::fabs(a - b) < 1e-4; }

void ref_top_k(std::vector<RefCand> &c, int k) {
    if (k <= 0) return;
    std::sort(c.begin(), c.end(), ref_before);
    if ((size_t)k < c.size()) c.resize(k);
}

/* Keeps the shortest prefix (in c's order, probabilities p) with cum >= p
 * (strict: > p). Sets *ambiguous when a cumulative sum is near the threshold. */
void keep_prefix(std::vector<RefCand> &c, const std::vector<double> &p, double thr, bool strict,
                 bool *ambiguous) {
    double cum = 0.0;
    for (size_t i = 0; i < c.size(); i++) {
        cum += p[i];
        if (near_threshold(cum, thr)) *ambiguous = true;
        if (strict ? cum > thr : cum >= thr) {
            c.resize(i + 1);
            return;
        }
    }
}

void ref_top_p(std::vector<RefCand> &c, double top_p, bool *ambiguous) {
    if (top_p >= 1.0) return;
    std::sort(c.begin(), c.end(), ref_before);
    keep_prefix(c, ref_softmax(c), top_p, false, ambiguous);
}

void ref_min_p(std::vector<RefCand> &c, double min_p, bool *ambiguous) {
    if (min_p <= 0.0) return;
    double mx = -INFINITY;
    for (const auto &e : c) mx = std::max(mx, e.logit);
    const double thr = mx + std::log(min_p);
    std::vector<RefCand> out;
    for (const auto &e : c) {
        if (e.logit != mx && std::fabs(e.logit - thr) < 1e-4) *ambiguous = true;
        if (e.logit >= thr) out.push_back(e);
    }
    c = out;
}

void ref_typical(std::vector<RefCand> &c, double typ, bool *ambiguous) {
    if (typ >= 1.0) return;
    std::sort(c.begin(), c.end(), ref_before);
    std::vector<double> p = ref_softmax(c);
    double h = 0.0;
    for (double x : p) h -= x > 0 ? x * std::log(x) : 0.0;
    std::vector<size_t> idx(c.size());
    for (size_t i = 0; i < idx.size(); i++) idx[i] = i;
    auto score = [&](size_t i) { return std::fabs(-std::log(p[i]) - h); };
    std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return score(a) < score(b); });
    for (size_t i = 1; i < idx.size(); i++)
        if (std::fabs(score(idx[i]) - score(idx[i - 1])) < 1e-5) *ambiguous = true;
    std::vector<RefCand> sorted;
    std::vector<double> sp;
    for (size_t i : idx) sorted.push_back(c[i]), sp.push_back(p[i]);
    keep_prefix(sorted, sp, typ, true, ambiguous);
    c = sorted;
}

struct Chain {
    float temp = 1.0f;
    int   top_k = 0;
    float top_p = 1.0f, min_p = 0.0f, typical_p = 1.0f;
};

/* The filtered, tempered distribution of llama.cpp's default chain. */
Dist ref_chain(const std::vector<float> &logits, const Chain &ch, bool *ambiguous) {
    std::vector<RefCand> c;
    for (size_t i = 0; i < logits.size(); i++)
        if (logits[i] > -INFINITY) c.push_back({(int32_t)i, logits[i]});
    ref_top_k(c, ch.top_k);
    ref_typical(c, ch.typical_p, ambiguous);
    ref_top_p(c, ch.top_p, ambiguous);
    ref_min_p(c, ch.min_p, ambiguous);
    std::vector<double> p = ref_softmax(c, ch.temp);
    Dist d;
    for (size_t i = 0; i < c.size(); i++) d[c[i].id] = p[i];
    return d;
}

std::vector<float> random_logits(NibRng &rng, int n, float scale) {
    std::vector<float> l(n);
    for (auto &x : l) x = scale * rng.uniform();
    return l;
}

struct Sampler {
    nib_sampler *s = nullptr;
    nib_error err{};
    Sampler(const nib_sampler_params &p, int32_t n_vocab) {
        EXPECT_EQ(nib_sampler_init(&p, n_vocab, &s, &err), NIB_OK) << err.msg;
    }
    ~Sampler() { nib_sampler_free(s); }
    int32_t sample(const std::vector<float> &l) { return nib_sampler_sample(s, l.data(), &err); }
    Dist last() const {
        const int32_t *ids;
        const float *probs;
        int32_t n = nib_sampler_last_candidates(s, &ids, &probs);
        Dist d;
        for (int32_t i = 0; i < n; i++) d[ids[i]] = probs[i];
        return d;
    }
    std::vector<int32_t> last_ids() const {
        const int32_t *ids;
        int32_t n = nib_sampler_last_candidates(s, &ids, nullptr);
        return std::vector<int32_t>(ids, ids + n);
    }
};

nib_sampler_params chain_params(const Chain &ch, uint64_t seed = 1) {
    nib_sampler_params p = nib_sampler_default_params();
    p.temperature = ch.temp;
    p.top_k = ch.top_k;
    p.top_p = ch.top_p;
    p.min_p = ch.min_p;
    p.typical_p = ch.typical_p;
    p.seed = seed;
    return p;
}

nib_sampler_params plain_params() { return chain_params(Chain{}); } /* T = 1, no filter */

void expect_dist_eq(const Dist &got, const Dist &want, const std::string &what) {
    ASSERT_EQ(got.size(), want.size()) << what;
    double sum = 0.0;
    for (const auto &kv : want) {
        auto it = got.find(kv.first);
        ASSERT_NE(it, got.end()) << what << ": token " << kv.first << " missing";
        EXPECT_NEAR(it->second, kv.second, 2e-5) << what << ": token " << kv.first;
        sum += it->second;
    }
    EXPECT_NEAR(sum, 1.0, 1e-5) << what;
}

/* Softmax of hand-computed logits, for the penalty and bias tests. */
Dist softmax_of(const std::vector<double> &l) {
    std::vector<RefCand> c;
    for (size_t i = 0; i < l.size(); i++)
        if (l[i] > -INFINITY) c.push_back({(int32_t)i, l[i]});
    std::vector<double> p = ref_softmax(c);
    Dist d;
    for (size_t i = 0; i < c.size(); i++) d[c[i].id] = p[i];
    return d;
}

/* Runs one internal filter on logits (unsorted input) and returns the ids kept. */
template <typename F>
std::vector<int32_t> run_filter(const std::vector<float> &l, bool presorted, F filter) {
    std::vector<nib_cand> data;
    for (size_t i = 0; i < l.size(); i++) data.push_back({(int32_t)i, l[i], 0.0f, 0.0f});
    nib_cands c = {data.data(), (int32_t)data.size(), false};
    if (presorted) nib_cands_top_k(&c, c.n);
    filter(&c);
    std::vector<int32_t> ids;
    for (int32_t i = 0; i < c.n; i++) ids.push_back(c.data[i].id);
    return ids;
}

std::vector<int32_t> sorted_ids(std::vector<int32_t> v) {
    std::sort(v.begin(), v.end());
    return v;
}

std::vector<int32_t> ids_of(const std::vector<RefCand> &c) {
    std::vector<int32_t> v;
    for (const auto &e : c) v.push_back(e.id);
    return v;
}

std::vector<RefCand> ref_cands(const std::vector<float> &l) {
    std::vector<RefCand> c;
    for (size_t i = 0; i < l.size(); i++) c.push_back({(int32_t)i, l[i]});
    return c;
}

/* ================================================================ params */

TEST(SamplerParams, Defaults) {
    nib_sampler_params p = nib_sampler_default_params();
    EXPECT_FLOAT_EQ(p.temperature, 0.8f);
    EXPECT_EQ(p.top_k, 40);
    EXPECT_FLOAT_EQ(p.top_p, 0.95f);
    EXPECT_FLOAT_EQ(p.min_p, 0.05f);
    EXPECT_FLOAT_EQ(p.typical_p, 1.0f);
    EXPECT_FLOAT_EQ(p.repeat_penalty, 1.0f);
    EXPECT_EQ(p.frequency_penalty, 0.0f);
    EXPECT_EQ(p.presence_penalty, 0.0f);
    EXPECT_EQ(p.penalty_last_n, 64);
    EXPECT_EQ(p.seed, (uint64_t)NIB_SAMPLER_DEFAULT_SEED);
    EXPECT_EQ(p.logit_bias, nullptr);
    EXPECT_EQ(p.n_logit_bias, 0);

    nib_sampler *s = nullptr;
    ASSERT_EQ(nib_sampler_init(nullptr, 10, &s, nullptr), NIB_OK);
    nib_sampler_free(s);
    nib_sampler_free(nullptr);
    const int32_t *ids = nullptr;
    EXPECT_EQ(nib_sampler_last_candidates(nullptr, &ids, nullptr), 0);
}

TEST(SamplerParams, InvalidGiveErrors) {
    const nib_logit_bias bad_tok[] = {{3, 1.0f}, {10, 1.0f}};
    const nib_logit_bias neg_tok[] = {{-1, 1.0f}};
    const nib_logit_bias nan_bias[] = {{2, NAN}};
    const nib_logit_bias inf_bias[] = {{2, INFINITY}};
    struct Case {
        const char *needle;
        void (*mutate)(nib_sampler_params &);
    };
    static const nib_logit_bias *s_bad_tok = bad_tok, *s_neg_tok = neg_tok;
    static const nib_logit_bias *s_nan = nan_bias, *s_inf = inf_bias;
    const Case cases[] = {
        {"temperature", [](nib_sampler_params &p) { p.temperature = NAN; }},
        {"temperature", [](nib_sampler_params &p) { p.temperature = INFINITY; }},
        {"top_p", [](nib_sampler_params &p) { p.top_p = 0.0f; }},
        {"top_p", [](nib_sampler_params &p) { p.top_p = 1.5f; }},
        {"top_p", [](nib_sampler_params &p) { p.top_p = NAN; }},
        {"min_p", [](nib_sampler_params &p) { p.min_p = -0.1f; }},
        {"min_p", [](nib_sampler_params &p) { p.min_p = 1.01f; }},
        {"min_p", [](nib_sampler_params &p) { p.min_p = NAN; }},
        {"typical_p", [](nib_sampler_params &p) { p.typical_p = 0.0f; }},
        {"typical_p", [](nib_sampler_params &p) { p.typical_p = NAN; }},
        {"repeat_penalty", [](nib_sampler_params &p) { p.repeat_penalty = 0.0f; }},
        {"repeat_penalty", [](nib_sampler_params &p) { p.repeat_penalty = -1.0f; }},
        {"repeat_penalty", [](nib_sampler_params &p) { p.repeat_penalty = NAN; }},
        {"repeat_penalty", [](nib_sampler_params &p) { p.repeat_penalty = 1e-39f; }},
        {"frequency_penalty", [](nib_sampler_params &p) { p.frequency_penalty = INFINITY; }},
        {"presence_penalty", [](nib_sampler_params &p) { p.presence_penalty = NAN; }},
        {"penalty_last_n", [](nib_sampler_params &p) { p.penalty_last_n = -2; }},
        {"penalty_last_n", [](nib_sampler_params &p) { p.penalty_last_n = NIB_SAMPLER_MAX_PENALTY_LAST_N + 1; }},
        {"n_logit_bias", [](nib_sampler_params &p) { p.n_logit_bias = -1; }},
        {"logit_bias is NULL", [](nib_sampler_params &p) { p.n_logit_bias = 2; }},
        {"token 10 outside [0, 10)", [](nib_sampler_params &p) { p.logit_bias = s_bad_tok; p.n_logit_bias = 2; }},
        {"token -1", [](nib_sampler_params &p) { p.logit_bias = s_neg_tok; p.n_logit_bias = 1; }},
        {"bias nan", [](nib_sampler_params &p) { p.logit_bias = s_nan; p.n_logit_bias = 1; }},
        {"bias inf", [](nib_sampler_params &p) { p.logit_bias = s_inf; p.n_logit_bias = 1; }},
    };
    for (const Case &c : cases) {
        nib_sampler_params p = nib_sampler_default_params();
        c.mutate(p);
        nib_sampler *s = reinterpret_cast<nib_sampler *>(1);
        nib_error err{};
        EXPECT_EQ(nib_sampler_init(&p, 10, &s, &err), NIB_E_ARG) << c.needle;
        EXPECT_EQ(s, nullptr) << c.needle;
        EXPECT_EQ(err.status, NIB_E_ARG);
        EXPECT_NE(std::string(err.msg).find(c.needle), std::string::npos) << err.msg;
    }
    nib_sampler *s = nullptr;
    nib_error err{};
    EXPECT_EQ(nib_sampler_init(nullptr, 0, &s, &err), NIB_E_ARG);
    EXPECT_NE(std::string(err.msg).find("n_vocab 0"), std::string::npos) << err.msg;
    EXPECT_EQ(nib_sampler_init(nullptr, -5, &s, &err), NIB_E_ARG);
    EXPECT_EQ(nib_sampler_init(nullptr, 10, nullptr, &err), NIB_E_ARG);
    /* edge values that are valid */
    nib_sampler_params p = nib_sampler_default_params();
    p.temperature = -1.0f, p.top_p = 1.0f, p.min_p = 1.0f, p.typical_p = 1.0f, p.top_k = -7;
    p.penalty_last_n = -1, p.repeat_penalty = 0.5f, p.frequency_penalty = -1.0f;
    ASSERT_EQ(nib_sampler_init(&p, 10, &s, &err), NIB_OK) << err.msg;
    nib_sampler_free(s);
}

/* ============================================================== filters */

TEST(SamplerFilters, TopKMatchesReference) {
    NibRng rng(11);
    for (int n = 5; n <= 50; n += 3) {
        std::vector<float> l = random_logits(rng, n, 4.0f);
        l[n / 2] = l[n / 3]; /* a tie */
        for (int k : {1, 2, 5, n - 1, n, n + 3}) {
            auto got = run_filter(l, false, [k](nib_cands *c) { nib_cands_top_k(c, k); });
            auto want = ref_cands(l);
            ref_top_k(want, k);
            EXPECT_EQ(got, ids_of(want)) << "n=" << n << " k=" << k;
        }
        auto all = run_filter(l, false, [](nib_cands *c) { nib_cands_top_k(c, 0); });
        EXPECT_EQ(all.size(), (size_t)n); /* k <= 0: off, order untouched */
        EXPECT_EQ(all[0], 0);
    }
}

TEST(SamplerFilters, SortMatchesStdSort) {
    NibRng rng(16);
    for (int n : {0, 1, 2, 17, 100, 1000, 20000})
        for (int pattern = 0; pattern < 4; pattern++) {
            std::vector<nib_cand> a;
            for (int i = 0; i < n; i++) {
                float l = pattern == 0 ? rng.uniform()                   /* random */
                        : pattern == 1 ? (float)(rng.next() % 3)         /* many ties */
                        : pattern == 2 ? (float)i : (float)(n - i);      /* ascending, descending */
                a.push_back({(int32_t)((i * 7919) % std::max(n, 1)), l, 0.0f, 0.0f});
            }
            std::vector<nib_cand> b = a;
            nib_cand_sort(a.data(), n);
            std::sort(b.begin(), b.end(), [](const nib_cand &x, const nib_cand &y) { return nib_cand_before(&x, &y); });
            for (int i = 0; i < n; i++) ASSERT_EQ(a[i].id, b[i].id) << "n=" << n << " pattern " << pattern;
        }
}

TEST(SamplerFilters, TopPMatchesReference) {
    NibRng rng(12);
    int checked = 0, skipped = 0;
    for (int n = 5; n <= 50; n += 5)
        for (float scale : {0.5f, 2.0f, 6.0f})
            for (float p : {0.05f, 0.3f, 0.6f, 0.9f, 0.95f, 0.99f})
                for (bool presorted : {false, true}) {
                    std::vector<float> l = random_logits(rng, n, scale);
                    bool amb = false;
                    auto want = ref_cands(l);
                    ref_top_p(want, p, &amb);
                    if (amb) { skipped++; continue; }
                    auto got = run_filter(l, presorted, [p](nib_cands *c) { nib_cands_top_p(c, p); });
                    EXPECT_EQ(got, ids_of(want)) << "n=" << n << " p=" << p;
                    checked++;
                }
    EXPECT_GT(checked, 20 * skipped);
}

TEST(SamplerFilters, TopPLargeUnsortedAdaptivePath) {
    /* > 1024 unsorted candidates: llama.cpp guesses 256 then sorts everything. */
    NibRng rng(13);
    for (float scale : {0.1f, 1.0f, 20.0f}) /* nucleus beyond 256, around it, tiny */
        for (float p : {0.5f, 0.9f}) {
            std::vector<float> l = random_logits(rng, 5000, scale);
            bool amb = false;
            auto want = ref_cands(l);
            ref_top_p(want, p, &amb);
            if (amb) continue;
            auto got = run_filter(l, false, [p](nib_cands *c) { nib_cands_top_p(c, p); });
            EXPECT_EQ(got, ids_of(want)) << "scale=" << scale << " p=" << p;
        }
}

TEST(SamplerFilters, MinPMatchesReference) {
    NibRng rng(14);
    for (int n = 5; n <= 50; n += 5)
        for (float mp : {0.01f, 0.05f, 0.2f, 0.5f, 0.9f, 1.0f})
            for (bool presorted : {false, true}) {
                std::vector<float> l = random_logits(rng, n, 3.0f);
                bool amb = false;
                auto want = ref_cands(l);
                ref_min_p(want, mp, &amb);
                if (amb) continue;
                auto got = run_filter(l, presorted, [mp](nib_cands *c) { nib_cands_min_p(c, mp); });
                /* unsorted input keeps id order; sorted input keeps the sorted prefix */
                EXPECT_EQ(sorted_ids(got), sorted_ids(ids_of(want))) << "n=" << n << " min_p=" << mp;
                if (!presorted) {
                    EXPECT_TRUE(std::is_sorted(got.begin(), got.end()));
                }
            }
}

TEST(SamplerFilters, TypicalMatchesReference) {
    NibRng rng(15);
    int checked = 0, skipped = 0;
    for (int n = 5; n <= 50; n += 5)
        for (float scale : {0.5f, 2.0f, 5.0f})
            for (float p : {0.2f, 0.5f, 0.8f, 0.95f}) {
                std::vector<float> l = random_logits(rng, n, scale);
                bool amb = false;
                auto want = ref_cands(l);
                ref_typical(want, p, &amb);
                if (amb) { skipped++; continue; }
                auto got = run_filter(l, false, [p](nib_cands *c) { nib_cands_typical(c, p); });
                EXPECT_EQ(got, ids_of(want)) << "n=" << n << " p=" << p; /* typical order */
                checked++;
            }
    EXPECT_GT(checked, 10 * skipped);
}

TEST(SamplerFilters, TypicalCanDropTheMostLikelyToken) {
    /* One likelier token among many equal ones: the many are the typical ones. */
    std::vector<float> l(30, 0.0f);
    l[7] = 1.0f;
    auto got = run_filter(l, false, [](nib_cands *c) { nib_cands_typical(c, 0.5f); });
    EXPECT_EQ(std::find(got.begin(), got.end(), 7), got.end());
    bool amb = false;
    auto want = ref_cands(l);
    ref_typical(want, 0.5, &amb);
    EXPECT_EQ(got, ids_of(want));
}

TEST(SamplerFilters, DrawWalksCumulativeSum) {
    std::vector<nib_cand> d = {{4, 0.0f, 0, 0}, {9, std::log(3.0f), 0, 0}, {2, 0.0f, 0, 0}};
    auto draw = [&](double u) {
        nib_cands c = {d.data(), 3, false};
        return nib_cands_draw(&c, 1.0f, u);
    };
    EXPECT_EQ(draw(0.0), 0); /* probabilities 0.2, 0.6, 0.2 in this order */
    EXPECT_EQ(draw(0.19), 0);
    EXPECT_EQ(draw(0.21), 1);
    EXPECT_EQ(draw(0.79), 1);
    EXPECT_EQ(draw(0.81), 2);
    EXPECT_EQ(draw(std::nextafter(1.0, 0.0)), 2);
    EXPECT_NEAR(d[1].p, 0.6f, 1e-6);
    /* a tiny temperature must not overflow into NaN */
    nib_cands c = {d.data(), 3, false};
    EXPECT_EQ(nib_cands_draw(&c, 1e-38f, 0.5), 1);
    EXPECT_EQ(d[1].p, 1.0f);
    EXPECT_EQ(d[0].p, 0.0f);
}

/* ================================================================ chain */

TEST(SamplerChain, CombinationsMatchReference) {
    const Chain chains[] = {
        {1.0f, 0, 1.0f, 0.0f, 1.0f},   {0.8f, 40, 0.95f, 0.05f, 1.0f}, /* llama.cpp defaults */
        {1.0f, 5, 1.0f, 0.0f, 1.0f},   {0.7f, 0, 0.9f, 0.0f, 1.0f},
        {1.3f, 0, 1.0f, 0.1f, 1.0f},   {1.0f, 0, 1.0f, 0.0f, 0.7f},
        {0.5f, 10, 0.8f, 0.1f, 1.0f},  {1.0f, 20, 0.9f, 0.02f, 0.9f},
        {2.0f, 3, 0.5f, 0.0f, 0.5f},   {0.9f, 0, 0.95f, 0.3f, 0.8f},
    };
    NibRng rng(21);
    int checked = 0, skipped = 0;
    for (const Chain &ch : chains)
        for (int n = 5; n <= 50; n += 9)
            for (float scale : {1.0f, 4.0f}) {
                std::vector<float> l = random_logits(rng, n, scale);
                bool amb = false;
                Dist want = ref_chain(l, ch, &amb);
                if (amb) { skipped++; continue; }
                Sampler s(chain_params(ch), n);
                const std::vector<float> copy = l;
                int32_t tok = s.sample(l);
                ASSERT_GE(tok, 0) << s.err.msg;
                EXPECT_EQ(l, copy); /* logits untouched */
                EXPECT_TRUE(want.count(tok));
                expect_dist_eq(s.last(), want, "n=" + std::to_string(n) + " top_k=" +
                               std::to_string(ch.top_k) + " T=" + std::to_string(ch.temp));
                checked++;
            }
    EXPECT_GT(checked, 10 * skipped);
}

TEST(SamplerChain, CandidateOrderFollowsLlamaCpp) {
    NibRng rng(22);
    std::vector<float> l = random_logits(rng, 40, 3.0f);
    auto desc = [&](const std::vector<int32_t> &ids) {
        for (size_t i = 1; i < ids.size(); i++)
            if (l[ids[i - 1]] < l[ids[i]]) return false;
        return true;
    };
    Chain none, topk, topp, minp;
    topk.top_k = 10, topp.top_p = 0.9f, minp.min_p = 0.2f;
    Sampler a(chain_params(none), 40), b(chain_params(topk), 40), c(chain_params(topp), 40),
        d(chain_params(minp), 40);
    a.sample(l), b.sample(l), c.sample(l), d.sample(l);
    auto ia = a.last_ids(), ib = b.last_ids(), ic = c.last_ids(), id = d.last_ids();
    EXPECT_EQ(ia.size(), 40u);
    EXPECT_TRUE(std::is_sorted(ia.begin(), ia.end())); /* no sorting filter: id order */
    EXPECT_TRUE(std::is_sorted(id.begin(), id.end()));
    EXPECT_EQ(ib.size(), 10u);
    EXPECT_TRUE(desc(ib));
    EXPECT_TRUE(desc(ic));
}

TEST(SamplerChain, TopKTiesKeepLowestIds) {
    std::vector<float> l(50, 1.0f);
    l[30] = 2.0f;
    Chain ch;
    ch.top_k = 5;
    Sampler s(chain_params(ch), 50);
    ASSERT_GE(s.sample(l), 0);
    EXPECT_EQ(s.last_ids(), (std::vector<int32_t>{30, 0, 1, 2, 3}));
    /* fewer finite logits than k: all of them, sorted */
    const nib_logit_bias ban[] = {{30, -INFINITY}, {0, -INFINITY}, {1, 0.5f}};
    nib_sampler_params p = chain_params(ch);
    p.logit_bias = ban, p.n_logit_bias = 3;
    std::vector<float> m(50, -INFINITY);
    m[30] = 5.0f, m[0] = 4.0f, m[1] = 1.0f, m[7] = 1.5f, m[40] = NAN, m[45] = 1.5f;
    Sampler t(p, 50);
    ASSERT_GE(t.sample(m), 0);
    EXPECT_EQ(t.last_ids(), (std::vector<int32_t>{1, 7, 45}));
}

TEST(SamplerChain, LargeVocabSmallTopK) {
    const int n = 262144;
    NibRng rng(23);
    std::vector<float> l = random_logits(rng, n, 10.0f);
    Chain ch;
    ch.top_k = 40;
    Sampler s(chain_params(ch), n);
    ASSERT_GE(s.sample(l), 0);
    bool amb = false;
    expect_dist_eq(s.last(), ref_chain(l, ch, &amb), "top_k 40 of 256k");
    auto want = ref_cands(l);
    ref_top_k(want, 40);
    EXPECT_EQ(s.last_ids(), ids_of(want));

    Chain g;
    g.temp = 0.0f;
    Sampler gs(chain_params(g), n);
    EXPECT_EQ(gs.sample(l), want[0].id);
}

/* ============================================================ greedy */

TEST(SamplerGreedy, ArgmaxTiesToLowestId) {
    Chain g;
    g.temp = 0.0f;
    Sampler s(chain_params(g), 6);
    EXPECT_EQ(s.sample({1.0f, 3.0f, 2.0f, 3.0f, -1.0f, 3.0f}), 1);
    EXPECT_EQ(s.last(), (Dist{{1, 1.0}}));
    EXPECT_EQ(s.sample({-INFINITY, -2.0f, -2.0f, NAN, -3.0f, -2.0f}), 1);
    g.temp = -0.5f, g.top_k = 2, g.top_p = 0.5f, g.min_p = 0.5f;
    Sampler t(chain_params(g), 6);
    EXPECT_EQ(t.sample({5.0f, 0.0f, 7.0f, 7.0f, 1.0f, 7.0f}), 2);
}

TEST(SamplerGreedy, WithTypicalTakesArgmaxOfTypicalSet) {
    std::vector<float> l(30, 0.0f);
    l[7] = 1.0f, l[3] = 0.25f;
    Chain g;
    g.temp = 0.0f, g.typical_p = 0.5f;
    Sampler s(chain_params(g), 30);
    bool amb = false;
    Dist typical = ref_chain(l, Chain{1.0f, 0, 1.0f, 0.0f, 0.5f}, &amb);
    ASSERT_FALSE(typical.count(7));
    int32_t want = typical.begin()->first;
    for (const auto &kv : typical)
        if (l[kv.first] > l[want]) want = kv.first;
    EXPECT_EQ(s.sample(l), want);
    EXPECT_EQ(s.last(), (Dist{{want, 1.0}}));
}

/* ===================================================== penalties, bias */

TEST(SamplerPenalties, HandComputed) {
    nib_sampler_params p = plain_params();
    p.repeat_penalty = 2.0f, p.frequency_penalty = 0.25f, p.presence_penalty = 0.5f;
    Sampler s(p, 6);
    for (int32_t t : {0, 0, 1, 3, 4, 4, 4}) nib_sampler_accept(s.s, t);
    nib_sampler_accept(s.s, 6);  /* out of range: ignored */
    nib_sampler_accept(s.s, -1);
    ASSERT_GE(s.sample({2.0f, -1.0f, 0.5f, 3.0f, 0.0f, 1.0f}), 0);
    /* 0: 2/2 - (2*.25+.5); 1: -1*2 - .75; 3: 3/2 - .75; 4: 0*2 - (3*.25+.5) */
    expect_dist_eq(s.last(), softmax_of({0.0, -2.75, 0.5, 0.75, -1.25, 1.0}), "penalties");

    /* the same through the greedy pass and the top-k heap pass */
    for (int top_k : {0, 3}) {
        nib_sampler_params q = p;
        q.temperature = top_k ? 1.0f : 0.0f, q.top_k = top_k;
        Sampler t(q, 6);
        for (int32_t tok : {0, 0, 1, 3, 4, 4, 4}) nib_sampler_accept(t.s, tok);
        int32_t got = t.sample({2.0f, -1.0f, 0.5f, 3.0f, 0.0f, 1.0f});
        if (top_k == 0) {
            EXPECT_EQ(got, 5); /* raw argmax would be 3 */
        } else {
            EXPECT_EQ(t.last_ids(), (std::vector<int32_t>{5, 3, 2}));
        }
    }
}

TEST(SamplerPenalties, WindowHistoryAndReset) {
    const std::vector<float> l = {1.0f, 1.0f, 1.0f, 1.0f};
    nib_sampler_params p = plain_params();
    p.repeat_penalty = 2.0f, p.penalty_last_n = 2;
    {
        Sampler s(p, 4);
        for (int32_t t : {0, 1, 2}) nib_sampler_accept(s.s, t); /* 0 has left the window */
        s.sample(l);
        expect_dist_eq(s.last(), softmax_of({1.0, 0.5, 0.5, 1.0}), "window 2");
        nib_sampler_reset(s.s);
        s.sample(l);
        expect_dist_eq(s.last(), softmax_of({1.0, 1.0, 1.0, 1.0}), "after reset");
    }
    p.repeat_penalty = 1.0f, p.frequency_penalty = 0.01f;
    for (int32_t last_n : {-1, 64, 0}) {
        p.penalty_last_n = last_n;
        Sampler s(p, 4);
        nib_sampler_accept(s.s, 0);
        for (int i = 0; i < 100; i++) nib_sampler_accept(s.s, 1);
        s.sample(l);
        const double l0 = last_n == -1 ? 0.99 : 1.0;
        const double l1 = last_n == 0 ? 1.0 : last_n == 64 ? 1.0 - 0.64 : 0.0;
        expect_dist_eq(s.last(), softmax_of({l0, l1, 1.0, 1.0}), "last_n " + std::to_string(last_n));
    }
}

TEST(SamplerLogitBias, AddsBansAndPrecedesPenalties) {
    const nib_logit_bias bias[] = {{0, 5.0f}, {3, -INFINITY}, {0, 0.5f}, {1, -2.0f}};
    nib_sampler_params p = plain_params();
    p.logit_bias = bias, p.n_logit_bias = 4;
    p.repeat_penalty = 2.0f;
    Sampler s(p, 4);
    nib_sampler_accept(s.s, 1);
    std::vector<float> l = {1.0f, 1.0f, 3.0f, 4.0f};
    ASSERT_GE(s.sample(l), 0);
    /* 1: (1 - 2) * 2 = -2 (bias first, then the penalty sees a negative logit) */
    expect_dist_eq(s.last(), softmax_of({6.5, -2.0, 3.0, -INFINITY}), "bias");
    for (int i = 0; i < 200; i++) EXPECT_NE(s.sample(l), 3);

    const nib_logit_bias ban_all[] = {{0, -INFINITY}, {1, -INFINITY}, {2, -INFINITY}};
    p = plain_params();
    p.logit_bias = ban_all, p.n_logit_bias = 2;
    Sampler one(p, 3);
    for (int i = 0; i < 50; i++) EXPECT_EQ(one.sample({9.0f, 8.0f, -5.0f}), 2);
    p.n_logit_bias = 3;
    for (float temp : {1.0f, 0.0f}) {
        p.temperature = temp;
        Sampler none(p, 3);
        EXPECT_EQ(none.sample({9.0f, 8.0f, -5.0f}), NIB_E_ARG);
        EXPECT_NE(std::string(none.err.msg).find("-inf"), std::string::npos) << none.err.msg;
    }
}

/* ============================================================== NaN, inf */

TEST(SamplerNaN, TreatedAsNegativeInfinity) {
    const std::vector<float> l = {NAN, 1.0f, NAN, 0.5f, -INFINITY};
    Sampler s(plain_params(), 5);
    for (int i = 0; i < 500; i++) {
        int32_t t = s.sample(l);
        EXPECT_TRUE(t == 1 || t == 3) << t;
    }
    expect_dist_eq(s.last(), softmax_of({-INFINITY, 1.0, -INFINITY, 0.5, -INFINITY}), "nan");
    Chain g;
    g.temp = 0.0f;
    Sampler gs(chain_params(g), 5);
    EXPECT_EQ(gs.sample({NAN, -1.0f, NAN, 0.5f, NAN}), 3);
    EXPECT_EQ(gs.sample({NAN, NAN, NAN, NAN, -INFINITY}), NIB_E_ARG);
    EXPECT_EQ(gs.last().size(), 0u);
    EXPECT_EQ(s.sample({NAN, NAN, NAN, NAN, NAN}), NIB_E_ARG);
    EXPECT_EQ(s.sample({0.0f, INFINITY, 0.0f, 0.0f, 0.0f}), NIB_E_ARG);
    EXPECT_NE(std::string(s.err.msg).find("logit[1] is +inf"), std::string::npos) << s.err.msg;
    EXPECT_EQ(nib_sampler_sample(s.s, nullptr, &s.err), NIB_E_ARG);
    EXPECT_EQ(nib_sampler_sample(nullptr, l.data(), nullptr), NIB_E_ARG);
}

/* ========================================================== random draws */

TEST(SamplerRng, Mt19937MatchesStd) {
    for (uint32_t seed : {0u, 1u, 42u, 5489u, 0xFFFFFFFFu}) {
        std::mt19937 ref(seed);
        nib_mt19937 r;
        nib_mt19937_seed(&r, seed);
        for (int i = 0; i < 2000; i++) ASSERT_EQ(nib_mt19937_next(&r), ref()) << seed;
        /* one draw = two outputs (a + b * 2^32) / 2^64, as generate_canonical<double, 53> */
        for (int i = 0; i < 1000; i++) {
            double a = ref(), b = ref();
            double want = std::min((a + b * 4294967296.0) / 18446744073709551616.0,
                                   std::nextafter(1.0, 0.0));
            ASSERT_EQ(nib_mt19937_uniform(&r), want);
        }
    }
    nib_mt19937 r;
    nib_mt19937_seed(&r, 5489);
    uint32_t x = 0;
    for (int i = 0; i < 10000; i++) x = nib_mt19937_next(&r);
    EXPECT_EQ(x, 4123659995u); /* the C++ standard's check value */
#if defined(__GLIBCXX__) && defined(_GLIBCXX_RELEASE) && _GLIBCXX_RELEASE <= 13
    /* llama.cpp's dist sampler: std::uniform_real_distribution<double> over std::mt19937 */
    std::mt19937 g(1234);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    nib_mt19937_seed(&r, 1234);
    for (int i = 0; i < 1000; i++) ASSERT_EQ(nib_mt19937_uniform(&r), u(g));
#endif
}

TEST(SamplerRng, SeededReproducibility) {
    NibRng rng(31);
    const std::vector<float> l = random_logits(rng, 50, 1.0f);
    Chain ch;
    ch.temp = 1.5f;
    auto draws = [&](uint64_t seed) {
        Sampler s(chain_params(ch, seed), 50);
        std::vector<int32_t> v;
        for (int i = 0; i < 1000; i++) v.push_back(s.sample(l));
        return v;
    };
    const std::vector<int32_t> a = draws(7);
    EXPECT_EQ(a, draws(7));
    for (uint64_t other : {8ull, 7ull + (1ull << 32), 0ull}) {
        std::vector<int32_t> b = draws(other);
        int same = 0;
        for (int i = 0; i < 1000; i++) same += a[i] == b[i];
        EXPECT_LT(same, 200) << other;
    }
    /* reset reseeds */
    Sampler s(chain_params(ch, 7), 50);
    for (int i = 0; i < 10; i++) s.sample(l);
    nib_sampler_reset(s.s);
    for (int i = 0; i < 1000; i++) ASSERT_EQ(s.sample(l), a[i]);
}

TEST(SamplerRng, EmpiricalFrequenciesMatchFilteredDistribution) {
    NibRng rng(41);
    const std::vector<float> l = random_logits(rng, 30, 3.0f);
    const Chain ch = {0.9f, 20, 0.95f, 0.02f, 1.0f};
    bool amb = false;
    const Dist want = ref_chain(l, ch, &amb);
    ASSERT_FALSE(amb);
    ASSERT_GT(want.size(), 5u);
    Sampler s(chain_params(ch, 99), 30);
    const int n_draws = 200000;
    std::map<int32_t, int> count;
    for (int i = 0; i < n_draws; i++) count[s.sample(l)]++;
    expect_dist_eq(s.last(), want, "filtered");
    double chi2 = 0.0;
    for (const auto &kv : count) ASSERT_TRUE(want.count(kv.first)) << kv.first;
    for (const auto &kv : want) {
        const double e = n_draws * kv.second, o = count[kv.first];
        chi2 += (o - e) * (o - e) / e;
    }
    const double df = (double)want.size() - 1;
    EXPECT_LT(chi2, df + 6.0 * std::sqrt(2.0 * df)) << "df " << df; /* p ~ 1e-6 */
}

} // namespace
