// NIB_BATCH_ROW_EXACT: a batch whose rows are computed with the one-token
// kernels gives every row the logits (bit for bit) and the K/V that decoding
// its token alone gives — for drafted tokens verified in one pass, and for
// several sequences decoded together. Checked on models of every kind of
// kernel path: float weights (tinyBLAS vs vec_dot), repacked Q4_0/Q4_K
// (GEMM vs GEMV), Q8_0/Q6_K 4-token dots, MoE experts and router.
#include <gtest/gtest.h>

#include "nib.h"
#include "test_util.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

namespace {

struct Ctx {
    nib_model *m = nullptr;
    nib_context *c = nullptr;
    Ctx(nib_model *model, int threads) : m(model) {
        nib_context_params p = nib_context_default_params();
        p.n_ctx = 256;
        p.n_threads = threads;
        nib_error err = {};
        EXPECT_EQ(nib_context_new(m, &p, &c, &err), NIB_OK) << err.msg;
    }
    ~Ctx() { nib_context_free(c); }
};

std::vector<int32_t> tokens(int32_t n_vocab, int n, int salt) {
    std::vector<int32_t> t = { 1 };
    for (int i = 1; i < n; i++) t.push_back(3 + (i * 37 + salt * 101) % (n_vocab - 3));
    return t;
}

TEST(RowExact, VerifiedDraftEqualsOneByOne) {
    if (!nib_test_have_shared()) GTEST_SKIP() << "no ../shared";
    for (const char *name : { "synth/llama-f32.gguf", "synth/qwen3-f16.gguf", "synth/llama-q4_0.gguf", "synth/qwen2-q4km.gguf",
                              "synth/llama-q8_0.gguf", "synth/llama-q6k.gguf", "synth/llamamoe-q4_0.gguf", "synth/qwen3moe-q4km.gguf",
                              "stories260K/stories260K-q8_0.gguf" }) {
        SCOPED_TRACE(name);
        const std::string path = nib_test_shared_dir() + "/models/" + name;
        nib_model *m = nullptr;
        nib_error err = {};
        ASSERT_EQ(nib_model_load(path.c_str(), nullptr, &m, &err), NIB_OK) << err.msg;
        const int32_t nv = nib_model_n_vocab(m), k = 9;
        const std::vector<int32_t> prompt = tokens(nv, 21, 1), draft = tokens(nv, k + 1, 2);
        /* one by one */
        std::vector<std::vector<float>> alone;
        {
            Ctx a(m, 2);
            nib_batch b = { (int32_t)prompt.size(), prompt.data(), nullptr, nullptr, nullptr, 0 };
            ASSERT_EQ(nib_decode(a.c, &b, &err), NIB_OK) << err.msg;
            for (int i = 1; i <= k; i++) {
                nib_batch one = { 1, &draft[(size_t)i], nullptr, nullptr, nullptr, 0 };
                ASSERT_EQ(nib_decode(a.c, &one, &err), NIB_OK) << err.msg;
                const float *l = nib_context_logits(a.c, 0);
                alone.emplace_back(l, l + nv);
            }
        }
        /* the same tokens as one verification batch */
        Ctx v(m, 2);
        nib_batch b = { (int32_t)prompt.size(), prompt.data(), nullptr, nullptr, nullptr, 0 };
        ASSERT_EQ(nib_decode(v.c, &b, &err), NIB_OK) << err.msg;
        std::vector<int8_t> all((size_t)k, 1);
        nib_batch ver = { k, &draft[1], nullptr, nullptr, all.data(), NIB_BATCH_ROW_EXACT };
        ASSERT_EQ(nib_decode(v.c, &ver, &err), NIB_OK) << err.msg;
        for (int i = 0; i < k; i++)
            ASSERT_EQ(std::memcmp(nib_context_logits(v.c, i), alone[(size_t)i].data(), sizeof(float) * (size_t)nv), 0) << "row " << i;
        /* rejecting the tail leaves the state of decoding the accepted tokens directly */
        ASSERT_EQ(nib_context_seq_truncate(v.c, 0, (int32_t)prompt.size() + 3, &err), NIB_OK) << err.msg;
        nib_batch next = { 1, &draft[4], nullptr, nullptr, nullptr, 0 };
        ASSERT_EQ(nib_decode(v.c, &next, &err), NIB_OK) << err.msg;
        EXPECT_EQ(std::memcmp(nib_context_logits(v.c, 0), alone[3].data(), sizeof(float) * (size_t)nv), 0);
        nib_model_free(m);
    }
}

TEST(RowExact, SequencesTogetherEqualAlone) {
    if (!nib_test_have_shared()) GTEST_SKIP() << "no ../shared";
    for (const char *name : { "synth/llama-f32.gguf", "synth/qwen2-q4km.gguf", "synth/qwen3moe-q4_0.gguf" }) {
        SCOPED_TRACE(name);
        const std::string path = nib_test_shared_dir() + "/models/" + name;
        nib_model *m = nullptr;
        nib_error err = {};
        ASSERT_EQ(nib_model_load(path.c_str(), nullptr, &m, &err), NIB_OK) << err.msg;
        const int32_t nv = nib_model_n_vocab(m), n_seq = 5;
        Ctx tog(m, 2);
        std::vector<std::vector<int32_t>> prompts;
        for (int s = 0; s < n_seq; s++) {
            prompts.push_back(tokens(nv, 6 + 5 * s, s));
            std::vector<int32_t> seq(prompts.back().size(), s);
            nib_batch b = { (int32_t)prompts.back().size(), prompts.back().data(), nullptr, seq.data(), nullptr, 0 };
            ASSERT_EQ(nib_decode(tog.c, &b, &err), NIB_OK) << err.msg;
        }
        std::vector<int32_t> step, seqs;
        for (int s = 0; s < n_seq; s++) {
            step.push_back(7 + s);
            seqs.push_back(s);
        }
        std::vector<int8_t> all((size_t)n_seq, 1);
        nib_batch b = { n_seq, step.data(), nullptr, seqs.data(), all.data(), NIB_BATCH_ROW_EXACT };
        ASSERT_EQ(nib_decode(tog.c, &b, &err), NIB_OK) << err.msg;
        for (int s = 0; s < n_seq; s++) {
            Ctx a(m, 2);
            nib_batch p = { (int32_t)prompts[(size_t)s].size(), prompts[(size_t)s].data(), nullptr, nullptr, nullptr, 0 };
            ASSERT_EQ(nib_decode(a.c, &p, &err), NIB_OK) << err.msg;
            nib_batch one = { 1, &step[(size_t)s], nullptr, nullptr, nullptr, 0 };
            ASSERT_EQ(nib_decode(a.c, &one, &err), NIB_OK) << err.msg;
            EXPECT_EQ(std::memcmp(nib_context_logits(tog.c, s), nib_context_logits(a.c, 0), sizeof(float) * (size_t)nv), 0) << "seq " << s;
        }
        nib_model_free(m);
    }
}

} // namespace

namespace {

/* NIB_BATCH_EMBEDDINGS: the hidden states given back are those the logits
 * come from (logits = output matrix . hidden state). */
TEST(Embeddings, HiddenStatesGiveTheLogits) {
    if (!nib_test_have_shared()) GTEST_SKIP() << "no ../shared";
    const std::string path = nib_test_shared_dir() + "/models/synth/llama-f32.gguf";
    nib_model *m = nullptr;
    nib_error err = {};
    ASSERT_EQ(nib_model_load(path.c_str(), nullptr, &m, &err), NIB_OK) << err.msg;
    const int32_t nv = nib_model_n_vocab(m), d = nib_model_n_embd(m);
    const std::vector<int32_t> prompt = tokens(nv, 12, 3);
    std::vector<int8_t> all(prompt.size(), 1);
    Ctx a(m, 2), b(m, 2);
    nib_batch lb = { (int32_t)prompt.size(), prompt.data(), nullptr, nullptr, all.data(), 0 };
    nib_batch eb = { (int32_t)prompt.size(), prompt.data(), nullptr, nullptr, all.data(), NIB_BATCH_EMBEDDINGS };
    ASSERT_EQ(nib_decode(a.c, &lb, &err), NIB_OK) << err.msg;
    ASSERT_EQ(nib_decode(b.c, &eb, &err), NIB_OK) << err.msg;
    EXPECT_EQ(nib_context_logits(b.c, 0), nullptr);
    EXPECT_EQ(nib_context_embedding(a.c, 0), nullptr);
    const nib_gguf *g = nib_model_gguf(m);
    int64_t ti = nib_gguf_find_tensor(g, "output.weight");
    if (ti < 0) ti = nib_gguf_find_tensor(g, "token_embd.weight");
    const nib_gguf_tensor *t = nib_gguf_get_tensor(g, ti);
    ASSERT_EQ((int)t->type, (int)NIB_TYPE_F32);
    const float *w = (const float *)t->data;
    for (int32_t i = 0; i < (int32_t)prompt.size(); i++) {
        const float *h = nib_context_embedding(b.c, i), *lg = nib_context_logits(a.c, i);
        ASSERT_NE(h, nullptr);
        double worst = 0, scale = 0;
        for (int32_t v = 0; v < nv; v++) {
            double s = 0;
            for (int32_t j = 0; j < d; j++) s += (double)w[(size_t)v * d + j] * h[j];
            worst = std::max(worst, std::fabs(s - lg[v]));
            scale = std::max(scale, (double)std::fabs(lg[v]));
        }
        EXPECT_LT(worst, 1e-5 * scale + 1e-6) << "row " << i;
    }
    nib_model_free(m);
}

} // namespace
