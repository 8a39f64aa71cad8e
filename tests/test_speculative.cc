// Speculative decoding (engine/speculative.c): greedy with a draft model or
// n-gram lookup gives exactly the tokens greedy decoding gives alone, on
// every golden model (draft = the same file, and other files of the same
// vocabulary); sampling with a draft follows the target's distribution
// (chi-square homogeneity against plain sampling over many seeds);
// incompatible vocabularies are refused naming the difference.
#include <gtest/gtest.h>

#include "cli_runner.h"
#include "nib.h"
#include "test_util.h"

#include <cjson/cJSON.h>
#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace {

nib_model *load(const std::string &path) {
    nib_model *m = nullptr;
    nib_error err = {};
    EXPECT_EQ(nib_model_load(path.c_str(), nullptr, &m, &err), NIB_OK) << path << ": " << err.msg;
    return m;
}

nib_context *ctx(nib_model *m, int n_ctx = 512) {
    nib_context_params p = nib_context_default_params();
    p.n_ctx = n_ctx;
    p.n_threads = n_ctx < 64 ? 1 : 2; /* the many tiny runs of the sampling test: no thread wake-ups */
    nib_context *c = nullptr;
    nib_error err = {};
    EXPECT_EQ(nib_context_new(m, &p, &c, &err), NIB_OK) << err.msg;
    return c;
}

std::vector<int32_t> plain(nib_model *m, const std::vector<int32_t> &prompt, int n, const nib_sampler_params &sp,
                           int n_ctx = 512) {
    nib_context *c = ctx(m, n_ctx);
    nib_sampler *s = nullptr;
    nib_error err = {};
    EXPECT_EQ(nib_sampler_init(&sp, nib_model_n_vocab(m), &s, &err), NIB_OK);
    nib_batch b = { (int32_t)prompt.size(), prompt.data(), nullptr, nullptr, nullptr, 0 };
    EXPECT_EQ(nib_decode(c, &b, &err), NIB_OK) << err.msg;
    const float *lg = nib_context_logits(c, b.n - 1);
    std::vector<int32_t> out;
    for (int i = 0; i < n; i++) {
        int32_t t = nib_sampler_sample(s, lg, &err);
        nib_sampler_accept(s, t);
        out.push_back(t);
        nib_batch one = { 1, &t, nullptr, nullptr, nullptr, 0 };
        EXPECT_EQ(nib_decode(c, &one, &err), NIB_OK) << err.msg;
        lg = nib_context_logits(c, 0);
    }
    nib_sampler_free(s);
    nib_context_free(c);
    return out;
}

std::vector<int32_t> speculative(nib_model *m, nib_model *draft, const std::vector<int32_t> &prompt, int n,
                                 const nib_sampler_params &sp, nib_spec_stats *stats = nullptr, int k = 8, int n_ctx = 512) {
    nib_context *tc = ctx(m, n_ctx), *dc = draft ? ctx(draft, n_ctx) : nullptr;
    nib_spec_params pp = nib_spec_default_params();
    pp.greedy = sp.temperature <= 0;
    pp.draft_max = k;
    pp.seed = sp.seed * 7 + 1;
    pp.p_min = 0.0f;
    nib_spec *s = nullptr;
    nib_error err = {};
    EXPECT_EQ(nib_spec_new(tc, dc, &pp, &s, &err), NIB_OK) << err.msg;
    nib_sampler *ts = nullptr, *ds = nullptr;
    EXPECT_EQ(nib_sampler_init(&sp, nib_model_n_vocab(m), &ts, &err), NIB_OK);
    nib_sampler_params dsp = sp;
    dsp.seed = sp.seed + 1000003;
    if (draft) {
        EXPECT_EQ(nib_sampler_init(&dsp, nib_model_n_vocab(draft), &ds, &err), NIB_OK);
    }
    EXPECT_EQ(nib_spec_prompt(s, prompt.data(), (int32_t)prompt.size(), &err), NIB_OK) << err.msg;
    std::vector<int32_t> out;
    while ((int)out.size() < n) {
        int32_t buf[64];
        int32_t got = nib_spec_next(s, ts, ds, buf, 64, &err);
        EXPECT_GT(got, 0) << err.msg;
        if (got <= 0) break;
        for (int32_t i = 0; i < got && (int)out.size() < n; i++) out.push_back(buf[i]);
    }
    if (stats) nib_spec_get_stats(s, stats);
    nib_sampler_free(ts);
    nib_sampler_free(ds);
    nib_spec_free(s);
    nib_context_free(tc);
    nib_context_free(dc);
    return out;
}

std::vector<int32_t> golden_prompt(const std::string &path, std::string *model) {
    std::vector<uint8_t> raw = nib_test_read_file(path);
    raw.push_back(0);
    cJSON *root = cJSON_Parse((const char *)raw.data());
    std::vector<int32_t> p;
    if (!root) return p;
    *model = nib_test_shared_dir() + "/models/" + cJSON_GetObjectItem(root, "model")->valuestring;
    const cJSON *c = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "cases"), 0), *e = nullptr;
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(c, "prompt_tokens")) p.push_back((int32_t)e->valuedouble);
    cJSON_Delete(root);
    return p;
}

nib_sampler_params greedy() {
    nib_sampler_params sp = nib_sampler_default_params();
    sp.temperature = 0;
    return sp;
}

TEST(Speculative, GreedyIsExactOnEveryGoldenModel) {
    if (!nib_test_have_shared()) GTEST_SKIP() << "no ../shared";
    int files = 0;
    for (const char *dir : { "stories260K", "synth", "trained" })
        for (const auto &f : nib_test_list_files(nib_test_shared_dir() + "/golden/" + dir, ".gguf.json")) {
            std::string model;
            std::vector<int32_t> prompt = golden_prompt(f, &model);
            ASSERT_FALSE(prompt.empty()) << f;
            SCOPED_TRACE(model);
            nib_model *m = load(model);
            ASSERT_NE(m, nullptr);
            const std::vector<int32_t> want = plain(m, prompt, 40, greedy());
            nib_spec_stats st = {};
            EXPECT_EQ(speculative(m, m, prompt, 40, greedy(), &st), want) << "draft = the same model";
            EXPECT_GT(st.accepted, st.drafted * 9 / 10) << "a model drafting for itself is accepted";
            EXPECT_EQ(speculative(m, nullptr, prompt, 40, greedy()), want) << "n-gram lookup";
            nib_model_free(m);
            files++;
        }
    EXPECT_GE(files, 40);
}

TEST(Speculative, GreedyIsExactWithOtherDrafts) {
    if (!nib_test_have_shared()) GTEST_SKIP() << "no ../shared";
    const std::string d = nib_test_shared_dir() + "/models/";
    const std::pair<const char *, const char *> pairs[] = {
        { "stories260K/stories260K-f32.gguf", "stories260K/stories260K-q4_0.gguf" },
        { "trained/tiny-target-f32.gguf", "stories260K/stories260K-q8_0.gguf" },
        { "trained/tiny-target-q8_0.gguf", "stories260K/stories260K-f32.gguf" },
        { "synth/llama-f16.gguf", "synth/llama-q4_0.gguf" },
        { "synth/qwen3moe-f16.gguf", "synth/qwen3moe-q4km.gguf" },
    };
    for (const auto &pr : pairs) {
        SCOPED_TRACE(pr.first);
        nib_model *t = load(d + pr.first), *dm = load(d + pr.second);
        ASSERT_TRUE(t && dm);
        nib_error err = {};
        ASSERT_EQ(nib_spec_check_vocab(nib_model_vocab(t), nib_model_vocab(dm), &err), NIB_OK) << err.msg;
        const std::vector<int32_t> prompt = { 1, 403, 407, 261, 378, 4 % nib_model_n_vocab(t) + 30 };
        for (int k : { 1, 4, 16 }) {
            nib_spec_stats st = {};
            EXPECT_EQ(speculative(t, dm, prompt, 64, greedy(), &st, k), plain(t, prompt, 64, greedy())) << "K " << k;
            EXPECT_LE(st.accepted, st.drafted);
            /* judged: the kept proposals plus at most one rejected per target pass */
            EXPECT_LE(st.accepted, st.judged);
            EXPECT_LE(st.judged, st.drafted);
            EXPECT_LE(st.judged - st.accepted, st.steps);
        }
        nib_model_free(t);
        nib_model_free(dm);
    }
}

TEST(Speculative, IncompatibleVocabularyIsRefused) {
    if (!nib_test_have_shared()) GTEST_SKIP() << "no ../shared";
    const std::string d = nib_test_shared_dir() + "/models/";
    nib_model *a = load(d + "stories260K/stories260K-q8_0.gguf"), *b = load(d + "synth/qwen2-q4_0.gguf");
    ASSERT_TRUE(a && b);
    nib_error err = {};
    EXPECT_EQ(nib_spec_check_vocab(nib_model_vocab(a), nib_model_vocab(b), &err), NIB_E_ARG);
    EXPECT_NE(std::string(err.msg).find("draft vocabulary"), std::string::npos) << err.msg;
    nib_model_free(a);
    nib_model_free(b);
}

/* chi-square critical value for df degrees of freedom at significance
 * 0.001 (Wilson-Hilferty) */
double chi2_crit(int df) {
    const double z = 3.0902, h = 2.0 / (9.0 * df);
    return df * std::pow(1.0 - h + z * std::sqrt(h), 3.0);
}

/* Two samples of tokens from one distribution? Categories with fewer than 20
 * tokens in both samples pooled into one. Returns statistic / critical
 * value; *cells gets the categories compared. */
double homogeneity(const std::map<int32_t, int> &a, const std::map<int32_t, int> &b, int *cells_out) {
    std::map<int32_t, std::pair<int, int>> cells;
    for (auto &x : a) cells[x.first].first += x.second;
    for (auto &x : b) cells[x.first].second += x.second;
    std::vector<std::pair<int, int>> merged;
    std::pair<int, int> rest = { 0, 0 };
    for (auto &c : cells)
        if (c.second.first + c.second.second < 20) rest.first += c.second.first, rest.second += c.second.second;
        else merged.push_back(c.second);
    if (rest.first + rest.second) merged.push_back(rest);
    double chi = 0;
    for (auto &c : merged) {
        const double e = (c.first + c.second) / 2.0;
        chi += (c.first - e) * (c.first - e) / e + (c.second - e) * (c.second - e) / e;
    }
    *cells_out = (int)merged.size();
    const int df = (int)merged.size() - 1;
    return df > 0 ? chi / chi2_crit(df) : 0.0;
}

TEST(Speculative, SamplingFollowsTheTargetDistribution) {
    if (!nib_test_have_shared()) GTEST_SKIP() << "no ../shared";
    const std::string d = nib_test_shared_dir() + "/models/";
    nib_model *t = load(d + "trained/tiny-target-f32.gguf"), *dm = load(d + "stories260K/stories260K-f32.gguf");
    ASSERT_TRUE(t && dm);
    const std::vector<int32_t> prompt = { 1, 403, 407, 261, 378 };
    const int runs = 1200, depth = 4;
    std::vector<std::map<int32_t, int>> want(depth), got(depth);
    int64_t drafted = 0, accepted = 0;
    for (int r = 0; r < runs; r++) {
        nib_sampler_params sp = nib_sampler_default_params();
        sp.temperature = 2.5f; /* a flat distribution: many tokens, many rejections */
        sp.top_k = 0;
        sp.top_p = 1.0f;
        sp.min_p = 0.0f;
        sp.seed = 1000 + (uint64_t)r;
        const std::vector<int32_t> a = plain(t, prompt, depth, sp, 16);
        sp.seed = 500000 + (uint64_t)r; /* independent draws for the other sample */
        nib_spec_stats st = {};
        const std::vector<int32_t> b = speculative(t, dm, prompt, depth, sp, &st, 4, 16);
        drafted += st.drafted;
        accepted += st.accepted;
        for (int i = 0; i < depth; i++) {
            want[(size_t)i][a[(size_t)i]]++;
            got[(size_t)i][b[(size_t)i]]++;
        }
    }
    for (int i = 1; i < depth; i++) { /* token 0 comes from the prompt's logits in both */
        int cells = 0;
        const double ratio = homogeneity(want[(size_t)i], got[(size_t)i], &cells);
        EXPECT_LT(ratio, 1.0) << "token " << i << ": chi-square / critical value at p = 0.001";
        EXPECT_GE(cells, 8) << "token " << i << ": too few categories for the test to mean anything";
        std::printf("[          ] token %d: %d categories, chi-square %.2f of the p = 0.001 critical value\n", i, cells, ratio);
    }
    std::printf("[          ] acceptance %.2f (%lld of %lld drafted)\n", drafted ? (double)accepted / drafted : 0.0,
                (long long)accepted, (long long)drafted);
    EXPECT_GT(accepted, 0);
    EXPECT_LT(accepted, drafted); /* the draft is a different model: some are rejected */
    nib_model_free(t);
    nib_model_free(dm);
}

TEST(Speculative, GenerateCli) {
    if (!nib_test_have_shared()) GTEST_SKIP() << "no ../shared";
    const std::string d = nib_test_shared_dir() + "/models/";
    const std::string target = "-m '" + d + "trained/tiny-target-f32.gguf' -p 'Once upon a time' -n 80 --temp 0 --json";
    CliRun plain = run_nib("generate " + target);
    ASSERT_EQ(plain.status, 0) << plain.err;
    for (const std::string &how : { "-md '" + d + "stories260K/stories260K-q8_0.gguf'", std::string("--lookup 2"),
                                    "-md '" + d + "stories260K/stories260K-q4_0.gguf' --draft-max 4 --draft-min 2" }) {
        CliRun r = run_nib("generate " + target + " " + how);
        ASSERT_EQ(r.status, 0) << r.err;
        EXPECT_EQ(r.out, plain.out) << how;
        EXPECT_NE(r.err.find("nib: speculative:"), std::string::npos) << r.err;
    }
    CliRun bench = run_nib("bench -m '" + d + "trained/tiny-target-f32.gguf' -md '" + d +
                           "stories260K/stories260K-q8_0.gguf' -p 0 -n 16 -r 1 -t 1 -o json");
    ASSERT_EQ(bench.status, 0) << bench.err;
    EXPECT_NE(bench.out.find("\"tg16 -md\""), std::string::npos) << bench.out;
    EXPECT_NE(bench.out.find("\"speculative\":\ttrue"), std::string::npos) << bench.out;
    CliRun bad = run_nib("generate " + target + " -md '" + d + "synth/qwen2-q4_0.gguf'");
    EXPECT_EQ(bad.status, 1);
    EXPECT_NE(bad.err.find("draft vocabulary: token"), std::string::npos) << bad.err;
    bad = run_nib("generate " + target + " -md x.gguf --lookup 3");
    EXPECT_EQ(bad.status, 1);
    EXPECT_NE(bad.err.find("not both"), std::string::npos) << bad.err;
}

} // namespace
