// Contexts and batches through the public API: several sequences in one
// batch, truncation, a full cache, malformed batches.
#include <gtest/gtest.h>

#include "nib.h"
#include "test_util.h"

#include <cmath>
#include <string>
#include <vector>

namespace {

const std::string model_path = std::string(NIB_SOURCE_DIR) + "/models/stories260K-q8_0.gguf";

struct Fixture {
    nib_model *m = nullptr;
    nib_context *c = nullptr;
    nib_error err = {};
    explicit Fixture(int32_t n_ctx = 64, int32_t n_batch = 32) {
        EXPECT_EQ(nib_model_load(model_path.c_str(), nullptr, &m, &err), NIB_OK) << err.msg;
        nib_context_params p = nib_context_default_params();
        p.n_ctx = n_ctx;
        p.n_batch = n_batch;
        p.n_threads = 2;
        EXPECT_EQ(nib_context_new(m, &p, &c, &err), NIB_OK) << err.msg;
    }
    ~Fixture() {
        nib_context_free(c);
        nib_model_free(m);
    }
    std::vector<float> last_logits(const std::vector<int32_t> &toks, int32_t seq = 0, uint32_t flags = 0) {
        std::vector<int32_t> seqs(toks.size(), seq);
        nib_batch b = { (int32_t)toks.size(), toks.data(), nullptr, seqs.data(), nullptr, flags };
        EXPECT_EQ(nib_decode(c, &b, &err), NIB_OK) << err.msg;
        const float *l = nib_context_logits(c, (int32_t)toks.size() - 1);
        return std::vector<float>(l, l + nib_model_n_vocab(m));
    }
};

float max_diff(const std::vector<float> &a, const std::vector<float> &b) {
    float d = 0;
    for (size_t i = 0; i < a.size(); i++) d = std::max(d, std::fabs(a[i] - b[i]));
    return d;
}

} // namespace

/* Row-exact batches (NIB_BATCH_ROW_EXACT) give every row its one-token bits,
 * so the interleaved batch must equal the separate runs exactly; plain
 * batches may take batch kernels whose float order depends on the row count
 * (nib.h), so there the bound is float rounding. */
class ContextBatchFlags : public ::testing::TestWithParam<uint32_t> {};

TEST_P(ContextBatchFlags, TwoSequencesInOneBatchEqualSeparateRuns) {
    const uint32_t flags = GetParam();
    const std::vector<int32_t> a = { 1, 403, 407, 261, 378 }, b = { 1, 385, 328, 432 };
    Fixture sep;
    std::vector<float> la = sep.last_logits(a, 0, flags), lb = sep.last_logits(b, 1, flags);
    Fixture both;
    std::vector<int32_t> toks, seqs;
    std::vector<int8_t> want;
    for (size_t i = 0; i < 5; i++) { /* interleaved */
        if (i < a.size()) toks.push_back(a[i]), seqs.push_back(0), want.push_back(i + 1 == a.size());
        if (i < b.size()) toks.push_back(b[i]), seqs.push_back(1), want.push_back(i + 1 == b.size());
    }
    nib_batch batch = { (int32_t)toks.size(), toks.data(), nullptr, seqs.data(), want.data(), flags };
    ASSERT_EQ(nib_decode(both.c, &batch, &both.err), NIB_OK) << both.err.msg;
    int32_t ia = -1, ib = -1;
    for (size_t i = 0; i < toks.size(); i++)
        if (want[i]) (seqs[i] == 0 ? ia : ib) = (int32_t)i;
    std::vector<float> ga(nib_context_logits(both.c, ia), nib_context_logits(both.c, ia) + la.size());
    std::vector<float> gb(nib_context_logits(both.c, ib), nib_context_logits(both.c, ib) + lb.size());
    const float bound = flags & NIB_BATCH_ROW_EXACT ? 0.0f : 1e-4f;
    EXPECT_LE(max_diff(ga, la), bound);
    EXPECT_LE(max_diff(gb, lb), bound);
    EXPECT_EQ(nib_context_seq_len(both.c, 0), 5);
    EXPECT_EQ(nib_context_seq_len(both.c, 1), 4);
}

INSTANTIATE_TEST_SUITE_P(Context, ContextBatchFlags, ::testing::Values(0u, (uint32_t)NIB_BATCH_ROW_EXACT),
                         [](const ::testing::TestParamInfo<uint32_t> &i) { return i.param ? "RowExact" : "Plain"; });

TEST(Context, TruncateAndRedecodeIsDeterministic) {
    Fixture f;
    std::vector<float> first = f.last_logits({ 1, 403, 407, 261, 378 });
    ASSERT_EQ(nib_context_seq_truncate(f.c, 0, 3, &f.err), NIB_OK);
    EXPECT_EQ(nib_context_seq_len(f.c, 0), 3);
    std::vector<float> again = f.last_logits({ 261, 378 });
    EXPECT_EQ(max_diff(first, again), 0.0f);
    /* the same prompt as one-token decodes: equal up to batch-shape rounding */
    Fixture g;
    std::vector<float> step;
    for (int32_t t : { 1, 403, 407, 261, 378 }) step = g.last_logits({ t });
    EXPECT_LT(max_diff(first, step), 1e-3f);
}

TEST(Context, FullCacheIsRecoverable) {
    Fixture f(8, 8);
    std::vector<int32_t> six = { 1, 403, 407, 261, 378, 432 };
    f.last_logits(six);
    std::vector<int32_t> three = { 383, 286, 261 };
    nib_batch b = { 3, three.data(), nullptr, nullptr, nullptr, 0 };
    EXPECT_EQ(nib_decode(f.c, &b, &f.err), NIB_KV_FULL);
    EXPECT_NE(std::string(f.err.msg).find("KV cache full"), std::string::npos) << f.err.msg;
    EXPECT_EQ(nib_context_seq_len(f.c, 0), 6); /* unchanged */
    b.n = 2;
    EXPECT_EQ(nib_decode(f.c, &b, &f.err), NIB_OK) << f.err.msg;
}

TEST(Context, MalformedBatches) {
    Fixture f(16, 4);
    std::vector<int32_t> toks = { 1, 2, 3, 4, 5 }, pos = { 0, 1, 5 }, bad = { 1, 99999 }, seq = { 70 };
    nib_batch big = { 5, toks.data(), nullptr, nullptr, nullptr, 0 };
    EXPECT_EQ(nib_decode(f.c, &big, &f.err), NIB_E_ARG);
    EXPECT_NE(std::string(f.err.msg).find("larger than the context's n_batch 4"), std::string::npos) << f.err.msg;
    nib_batch gap = { 3, toks.data(), pos.data(), nullptr, nullptr, 0 };
    EXPECT_EQ(nib_decode(f.c, &gap, &f.err), NIB_E_ARG);
    EXPECT_NE(std::string(f.err.msg).find("has position 5, expected 2"), std::string::npos) << f.err.msg;
    nib_batch oob = { 2, bad.data(), nullptr, nullptr, nullptr, 0 };
    EXPECT_EQ(nib_decode(f.c, &oob, &f.err), NIB_E_ARG);
    nib_batch badseq = { 1, toks.data(), nullptr, seq.data(), nullptr, 0 };
    EXPECT_EQ(nib_decode(f.c, &badseq, &f.err), NIB_E_ARG);
    EXPECT_EQ(nib_context_seq_len(f.c, 0), 0);
    EXPECT_EQ(nib_context_logits(f.c, 0), nullptr);
}
