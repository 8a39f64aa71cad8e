// Mixture of Experts: the router (engine/moe_route.c) against brute force
// and against libstdc++'s std::sort (whose order llama.cpp's argsort
// inherits, ties included), and the expert half of the MoE FFN
// (engine/forward_moe.c): a batch of rows routed together gives each row
// exactly the bits it gets alone, and matches a double-precision reference
// built from the dequantized experts; top-1 and all-experts routing run end
// to end on models written by `nib synth`. The full forward pass of every
// MoE golden file is checked in test_forward_golden.cc.
#include <gtest/gtest.h>

#include "cli_runner.h"
#include "nib.h"
#include "test_util.h"

extern "C" {
#include "context.h"
#include "moe_route.h"
}

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace {

/* ---------------------------------------------------------------- router */

TEST(MoeRoute, ArgsortIsStdSortOrderTiesIncluded) {
    std::mt19937 rng(7);
    for (int iter = 0; iter < 20000; iter++) {
        const int n = 1 + (int)(rng() % (iter < 10000 ? 40 : 300));
        const int levels = 1 + (int)(rng() % 6); /* few distinct values: many ties */
        std::vector<float> p((size_t)n);
        for (auto &v : p) v = (float)(rng() % (unsigned)levels) * 0.125f;
        std::vector<int32_t> want((size_t)n), got((size_t)n);
        for (int i = 0; i < n; i++) want[(size_t)i] = i;
        std::sort(want.begin(), want.end(), [&](int32_t a, int32_t b) { return p[(size_t)a] > p[(size_t)b]; });
        nib_argsort_desc(p.data(), n, got.data());
        ASSERT_EQ(got, want) << "n " << n << " iteration " << iter;
    }
    /* all equal past 16: introsort's order, not the stable one */
    std::vector<float> eq(128, 1.0f);
    std::vector<int32_t> got(128), want(128);
    for (int i = 0; i < 128; i++) want[(size_t)i] = i;
    std::sort(want.begin(), want.end(), [&](int32_t a, int32_t b) { return eq[(size_t)a] > eq[(size_t)b]; });
    nib_argsort_desc(eq.data(), 128, got.data());
    EXPECT_EQ(got, want);
    EXPECT_NE(got[0], 0);
}

/* Brute force: softmax in double, the k largest by repeated maximum (first
 * index among equals, the stable order std::sort gives up to 16 experts). */
void brute_route(const std::vector<float> &logits, int k, std::vector<int32_t> *ids, std::vector<double> *weights) {
    const int n = (int)logits.size();
    double mx = -INFINITY, sum = 0;
    for (float l : logits) mx = std::max(mx, (double)l);
    std::vector<double> p((size_t)n);
    for (int i = 0; i < n; i++) sum += p[(size_t)i] = std::exp((double)logits[(size_t)i] - mx);
    for (auto &v : p) v /= sum;
    std::vector<bool> used((size_t)n, false);
    double ws = 0;
    ids->clear();
    for (int s = 0; s < k; s++) {
        int best = -1;
        for (int i = 0; i < n; i++)
            if (!used[(size_t)i] && (best < 0 || p[(size_t)i] > p[(size_t)best])) best = i;
        used[(size_t)best] = true;
        ids->push_back(best);
        ws += p[(size_t)best];
    }
    weights->clear();
    for (int32_t e : *ids) weights->push_back(p[(size_t)e] / ws);
}

TEST(MoeRoute, MatchesBruteForceForEveryK) {
    std::mt19937 rng(11);
    std::normal_distribution<float> nd(0.0f, 2.0f);
    for (int n : { 1, 2, 4, 6, 8, 16, 60, 128 }) {
        for (int k = 1; k <= n; k = k < 8 ? k + 1 : k * 2) {
            for (int iter = 0; iter < 200; iter++) {
                std::vector<float> logits((size_t)n), probs((size_t)n), w((size_t)k);
                for (auto &v : logits) v = nd(rng);
                std::vector<int32_t> ids((size_t)k), bids;
                std::vector<double> bw;
                nib_moe_route(logits.data(), n, k, probs.data(), ids.data(), w.data());
                brute_route(logits, k, &bids, &bw);
                ASSERT_EQ(ids, bids) << "n " << n << " k " << k; /* distinct random logits: no ties */
                double total = 0;
                for (int s = 0; s < k; s++) {
                    EXPECT_NEAR(w[(size_t)s], bw[(size_t)s], 2e-6) << "n " << n << " k " << k;
                    total += w[(size_t)s];
                }
                EXPECT_NEAR(total, 1.0, 1e-5);
                if (k == 1) {
                    EXPECT_EQ(w[0], 1.0f);
                }
            }
        }
    }
}

TEST(MoeRoute, TiesAndDegenerateRows) {
    std::vector<float> probs(8), w(8);
    std::vector<int32_t> ids(8);
    const float four[4] = { 0.5f, 0.5f, 0.5f, 0.5f };
    nib_moe_route(four, 4, 2, probs.data(), ids.data(), w.data());
    EXPECT_EQ(ids[0], 0); /* equal experts: lowest index first (up to 16 experts) */
    EXPECT_EQ(ids[1], 1);
    EXPECT_EQ(w[0], 0.5f);
    EXPECT_EQ(w[1], 0.5f);
    const float tie_late[4] = { -1.0f, 3.0f, 3.0f, 3.0f };
    nib_moe_route(tie_late, 4, 2, probs.data(), ids.data(), w.data());
    EXPECT_EQ(ids[0], 1);
    EXPECT_EQ(ids[1], 2);
    /* k = n: every expert, in descending order */
    const float all[8] = { 0.1f, 0.7f, -2.0f, 0.7f, 5.0f, -3.0f, 0.0f, 1.0f };
    nib_moe_route(all, 8, 8, probs.data(), ids.data(), w.data());
    EXPECT_EQ(ids, (std::vector<int32_t>{ 4, 7, 1, 3, 0, 6, 2, 5 }));
    double sum = 0; /* renormalized by the float-rounded double sum of the chosen probabilities */
    for (int s = 0; s < 8; s++) sum += probs[(size_t)ids[(size_t)s]];
    for (int s = 0; s < 8; s++) EXPECT_EQ(w[(size_t)s], probs[(size_t)ids[(size_t)s]] / (float)sum) << s;
    /* a huge logit: one expert takes all the weight, no NaN */
    const float big[4] = { 1e30f, 0.0f, -1e30f, 0.0f };
    nib_moe_route(big, 4, 2, probs.data(), ids.data(), w.data());
    EXPECT_EQ(ids[0], 0);
    EXPECT_EQ(w[0], 1.0f);
    EXPECT_EQ(w[1], 0.0f);
}

/* ------------------------------------------------------ experts in a batch */

struct Model {
    nib_model *m = nullptr;
    explicit Model(const std::string &path) {
        nib_error err = {};
        EXPECT_EQ(nib_model_load(path.c_str(), nullptr, &m, &err), NIB_OK) << err.msg;
    }
    ~Model() { nib_model_free(m); }
};

/* One expert matrix read from the file itself (the model's own copy may be
 * packed, its mapped original released). */
struct ExpertMatrix {
    int type;
    const char *data;
    size_t row_bytes, expert_bytes;
    std::vector<float> row(int e, int64_t r, int64_t n) const {
        std::vector<float> v((size_t)n);
        nib_error err = {};
        EXPECT_EQ(nib_dequantize(type, data + (size_t)e * expert_bytes + (size_t)r * row_bytes, v.data(), n, &err), NIB_OK);
        return v;
    }
};

ExpertMatrix expert_matrix(const nib_gguf *g, int layer, const char *what) {
    const std::string name = "blk." + std::to_string(layer) + "." + what + ".weight";
    const nib_gguf_tensor *t = nib_gguf_get_tensor(g, nib_gguf_find_tensor(g, name.c_str()));
    const size_t row_bytes = t->n_bytes / (size_t)(t->ne[1] * t->ne[2]);
    return { (int)t->type, (const char *)t->data, row_bytes, row_bytes * (size_t)t->ne[1] };
}

/* double-precision expert FFN of one row from the dequantized experts */
std::vector<double> reference_row(const nib_gguf *g, int layer, const nib_hparams &hp, const float *h, const int32_t *ids,
                                  const float *wts) {
    const int64_t d = hp.n_embd, ff = hp.n_ff_exp;
    const ExpertMatrix gate = expert_matrix(g, layer, "ffn_gate_exps"), up = expert_matrix(g, layer, "ffn_up_exps"),
                       down = expert_matrix(g, layer, "ffn_down_exps");
    std::vector<double> out((size_t)d, 0.0);
    for (int s = 0; s < hp.n_expert_used; s++) {
        const int e = ids[s];
        std::vector<double> act((size_t)ff);
        for (int64_t r = 0; r < ff; r++) {
            double gs = 0, us = 0;
            const std::vector<float> gr = gate.row(e, r, d), ur = up.row(e, r, d);
            for (int64_t i = 0; i < d; i++) {
                gs += (double)gr[(size_t)i] * h[i];
                us += (double)ur[(size_t)i] * h[i];
            }
            act[(size_t)r] = gs / (1.0 + std::exp(-gs)) * us;
        }
        for (int64_t o = 0; o < d; o++) {
            const std::vector<float> dr = down.row(e, o, ff);
            double y = 0;
            for (int64_t i = 0; i < ff; i++) y += (double)dr[(size_t)i] * act[(size_t)i];
            out[(size_t)o] += y * wts[s];
        }
    }
    return out;
}

/* Batched experts equal row by row (every layer, bit for bit) and the
 * double-precision reference (layer 0, within the activations' rounding). */
/* tol: the worst |error| allowed as a share of max |y| (the activations'
 * rounding to the weight's partner type: 8-bit for quantized types and BF16) */
void check_experts(const std::string &path, const std::string &name, double tol) {
    {
        SCOPED_TRACE(name);
        Model model(path);
        ASSERT_NE(model.m, nullptr);
        const nib_model *m = model.m;
        const nib_hparams &hp = m->hp;
        ASSERT_GT(hp.n_expert, 0);
        nib_context_params p = nib_context_default_params();
        p.n_ctx = 64;
        p.n_batch = 16;
        p.n_threads = 2;
        nib_context *c = nullptr;
        nib_error err = {};
        ASSERT_EQ(nib_context_new(m, &p, &c, &err), NIB_OK) << err.msg;
        const int32_t n = 13, k = hp.n_expert_used, d = hp.n_embd;
        std::mt19937 rng(3);
        std::normal_distribution<float> nd(0.0f, 1.0f);
        std::vector<float> h((size_t)n * d), logits((size_t)hp.n_expert), probs((size_t)hp.n_expert);
        std::vector<int32_t> ids((size_t)n * k);
        std::vector<float> wts((size_t)n * k);
        for (auto &v : h) v = nd(rng);
        for (int32_t t = 0; t < n; t++) {
            for (auto &v : logits) v = nd(rng);
            nib_moe_route(logits.data(), hp.n_expert, k, probs.data(), &ids[(size_t)t * k], &wts[(size_t)t * k]);
        }
        for (int layer = 0; layer < hp.n_layer; layer++) {
            const nib_layer &L = m->layers[layer];
            std::memcpy(c->xn, h.data(), sizeof(float) * h.size());
            std::memcpy(c->moe_ids, ids.data(), sizeof(int32_t) * ids.size());
            std::memcpy(c->moe_weights, wts.data(), sizeof(float) * wts.size());
            c->xq_src = nullptr;
            nib_forward_moe_experts(c, &L, n);
            std::vector<float> batch(c->moe_down, c->moe_down + (size_t)n * d);
            for (int32_t t = 0; t < n; t++) {
                std::memcpy(c->xn, &h[(size_t)t * d], sizeof(float) * d);
                std::memcpy(c->moe_ids, &ids[(size_t)t * k], sizeof(int32_t) * k);
                std::memcpy(c->moe_weights, &wts[(size_t)t * k], sizeof(float) * k);
                c->xq_src = nullptr;
                nib_forward_moe_experts(c, &L, 1);
                ASSERT_EQ(std::memcmp(c->moe_down, &batch[(size_t)t * d], sizeof(float) * d), 0)
                    << "layer " << layer << " row " << t << ": batched differs from alone";
            }
            if (layer == 0) { /* the arithmetic itself, against double precision (a few rows) */
                nib_gguf *g = nullptr;
                ASSERT_EQ(nib_gguf_open(path.c_str(), nullptr, &g, &err), NIB_OK) << err.msg;
                double worst_rel = 0;
                for (int32_t t = 0; t < 4; t++) {
                    std::vector<double> ref = reference_row(g, 0, hp, &h[(size_t)t * d], &ids[(size_t)t * k], &wts[(size_t)t * k]);
                    double scale = 0, worst = 0;
                    for (int32_t i = 0; i < d; i++) {
                        scale = std::max(scale, std::fabs(ref[(size_t)i]));
                        worst = std::max(worst, std::fabs(ref[(size_t)i] - (double)batch[(size_t)t * d + i]));
                    }
                    EXPECT_LE(worst, tol * scale) << "row " << t;
                    worst_rel = std::max(worst_rel, worst / scale);
                }
                nib_gguf_free(g);
                std::printf("[          ] %s: batch == row by row in every layer; layer 0 vs double: worst %.2e of max |y|\n",
                            name.c_str(), worst_rel);
            }
        }
        nib_context_free(c);
    }
}

TEST(MoeExperts, BatchEqualsRowByRowAndReference) {
    if (!nib_test_have_shared()) GTEST_SKIP() << "no ../shared";
    for (const char *name : { "synth/llamamoe-q4_0.gguf", "synth/llamamoe-f16.gguf", "synth/qwen3moe-q4km.gguf",
                              "synth/qwen3moe-q8_0.gguf", "trained/tiny-qwen3moe-f16.gguf" })
        check_experts(nib_test_shared_dir() + "/models/" + name, name, std::string(name).find("f16") == std::string::npos ? 3e-2 : 2e-3);
}

/* Every other weight type as expert tensors (synth models; K-quant mixes
 * put several types in one file). */
TEST(MoeExperts, EveryWeightType) {
    for (const char *type : { "F32", "BF16", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K_M", "Q4_K", "Q5_K_M", "Q6_K" }) {
        const std::string path = nib_test_temp_path(std::string("moe_type_") + type + ".gguf");
        CliRun r = run_nib("synth -o '" + path + "' --n-embd 256 --n-layer 2 --n-head 4 --n-head-kv 2 --n-ff 512 --n-vocab 300 "
                           "--n-expert 4 --n-expert-used 2 --type " + type);
        ASSERT_EQ(r.status, 0) << r.err;
        const std::string t = type;
        check_experts(path, "synth MoE " + t, t == "F32" ? 1e-5 : t == "BF16" ? 1e-2 : 3e-2);
        std::remove(path.c_str());
    }
}

/* Top-1 routing and every expert used, end to end on synth models. */
TEST(MoeExperts, TopOneAndAllExpertsRun) {
    for (const char *shape : { "--n-expert 4 --n-expert-used 1", "--n-expert 4 --n-expert-used 4",
                               "--arch qwen3moe --n-expert 6 --n-expert-used 6 --n-ff-exp 64", "--arch qwen3moe --n-expert 20 --n-expert-used 3 --n-ff-exp 64" }) {
        SCOPED_TRACE(shape);
        const std::string path = nib_test_temp_path("moe_k.gguf");
        CliRun r = run_nib("synth -o '" + path + "' --n-embd 64 --n-layer 2 --n-head 4 --n-head-kv 2 --n-ff 128 --n-vocab 300 "
                           "--type Q8_0 " + shape);
        ASSERT_EQ(r.status, 0) << r.err;
        r = run_nib("generate -m '" + path + "' -p 'hello world' -n 8 --temp 0 -t 2");
        EXPECT_EQ(r.status, 0) << r.err;
        EXPECT_NE(r.err.find("generated 8 tokens"), std::string::npos) << r.err;
        std::remove(path.c_str());
    }
}

} // namespace

namespace {

/* nib_moe_trace (what the GPU fixture test compares): every routed row of
 * every layer, in order, with its k experts as chosen and the gap from the
 * k-th probability to the best unchosen one; rows past cap only counted. */
TEST(MoeTrace, RecordsEveryRoutedRowWithItsMargin) {
    if (!nib_test_have_shared()) GTEST_SKIP() << "no ../shared";
    nib_model *m = nullptr;
    nib_error err = {};
    ASSERT_EQ(nib_model_load((nib_test_shared_dir() + "/models/synth/qwen3moe-q4_0.gguf").c_str(), nullptr, &m, &err), NIB_OK)
        << err.msg;
    const int32_t k = nib_model_n_expert_used(m), ne = nib_model_n_expert(m), layers = nib_model_n_layer(m);
    for (int64_t cap : { 1000, 3 }) {
        SCOPED_TRACE(cap);
        std::vector<int32_t> ids((size_t)((cap + 4) * k), -1); /* 4 guard rows past cap */
        std::vector<float> margin((size_t)cap + 4, -1.0f);
        nib_moe_trace tr = { ids.data(), margin.data(), 0, cap };
        nib_context_params p = nib_context_default_params();
        p.n_ctx = 64;
        nib_context *c = nullptr;
        ASSERT_EQ(nib_context_new(m, &p, &c, &err), NIB_OK) << err.msg;
        c->moe_trace = &tr;
        int32_t toks[5] = { 1, 20, 30, 40, 50 }, one = 60;
        int8_t want[5] = { 1, 1, 1, 1, 1 }; /* every row's logits: no row is dropped before the last layer */
        nib_batch b = { 5, toks, nullptr, nullptr, want, 0 }, b1 = { 1, &one, nullptr, nullptr, nullptr, 0 };
        ASSERT_EQ(nib_decode(c, &b, &err), NIB_OK) << err.msg;
        ASSERT_EQ(nib_decode(c, &b1, &err), NIB_OK) << err.msg;
        EXPECT_EQ(tr.n, (int64_t)layers * 6); /* 5 rows a layer, then 1 */
        for (int64_t i = 0; i < std::min(tr.n, cap); i++) {
            std::vector<int32_t> row(ids.begin() + i * k, ids.begin() + (i + 1) * k);
            for (int32_t e : row) {
                EXPECT_TRUE(e >= 0 && e < ne) << "row " << i;
            }
            std::sort(row.begin(), row.end());
            EXPECT_TRUE(std::adjacent_find(row.begin(), row.end()) == row.end()) << "row " << i;
            EXPECT_GE(margin[(size_t)i], 0.0f);
            EXPECT_LE(margin[(size_t)i], 1.0f);
        }
        for (size_t i = (size_t)cap; i < margin.size(); i++) { /* rows past cap: counted, not written */
            EXPECT_EQ(margin[i], -1.0f);
            EXPECT_EQ(ids[i * (size_t)k], -1);
        }
        nib_context_free(c);
    }
    nib_model_free(m);
}

/* `nib inspect` shows the experts; `nib batch` on MoE models gives each
 * prompt the greedy tokens `nib generate` gives it alone. */
TEST(MoeCli, InspectAndBatch) {
    if (!nib_test_have_shared()) GTEST_SKIP() << "no ../shared";
    const std::string q3 = nib_test_shared_dir() + "/models/synth/qwen3moe-q4_0.gguf";
    CliRun r = run_nib("inspect '" + q3 + "'");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("experts per layer                        4"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("experts used per token                   2"), std::string::npos);
    EXPECT_NE(r.out.find("active per token"), std::string::npos);
    r = run_nib("inspect --json '" + q3 + "'");
    EXPECT_NE(r.out.find("\"expert_count\":\t4"), std::string::npos) << r.out.substr(0, 400);
    EXPECT_NE(r.out.find("\"bytes_per_expert\""), std::string::npos);
    for (const char *name : { "trained/tiny-qwen3moe-f16.gguf", "trained/tiny-llamamoe-q4km.gguf" }) {
        SCOPED_TRACE(name);
        const std::string model = nib_test_shared_dir() + "/models/" + name;
        const std::vector<std::string> prompts = { "Once upon a time", "The little dog ran", "Lily and Tom" };
        const std::string file = nib_test_temp_path("moe_prompts.jsonl");
        FILE *f = fopen(file.c_str(), "w");
        ASSERT_NE(f, nullptr);
        for (const std::string &p : prompts) fprintf(f, "\"%s\"\n", p.c_str());
        fclose(f);
        r = run_nib("batch -m '" + model + "' --prompts '" + file + "' -n 16 --temp 0 -t 2");
        ASSERT_EQ(r.status, 0) << r.err;
        size_t a = 0;
        for (const std::string &p : prompts) {
            const size_t b = r.out.find('\n', a);
            ASSERT_NE(b, std::string::npos) << r.out;
            CliRun g = run_nib("generate -m '" + model + "' -p '" + p + "' -n 16 --temp 0 --json -t 2");
            ASSERT_EQ(g.status, 0) << g.err;
            EXPECT_EQ(r.out.substr(a, b + 1 - a), g.out) << p;
            a = b + 1;
        }
        std::remove(file.c_str());
    }
}

} // namespace
