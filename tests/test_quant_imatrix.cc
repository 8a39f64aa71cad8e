/*
 * test_quant_imatrix.cc — nib_quantize_weighted (importance-matrix
 * quantization) against ggml's quantize_<type>(src, dst, nrow, n_per_row,
 * quant_weights).
 *
 * The expected digests (quant_imatrix_expected.h) were made by
 * scripts/ggml-quant-expected, which calls ggml_quantize_chunk of the
 * prebuilt libggml-base.so in ../shared/ref (the reference build) on C copies
 * of make_input (quant_inputs.h) and make_weights below, with the same seeds:
 *   scripts/ggml-quant-expected/build.sh REF_DIR
 *   build/ggml-quant-expected > tests/quant_imatrix_expected.h
 */
#include "nib.h"

#include "formats/type_traits.h"
#include "quant_inputs.h"
#include "test_util.h"

#include <gtest/gtest.h>

#include <climits>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

namespace {

#include "quant_imatrix_expected.h"

enum WeightPattern { W_ONES, W_RANDOM, W_SOME_ZEROS, W_RANGE, W_PATTERNS };

/* Importance weights, one per column: ones; random in [1/16, 17/16); the same
 * with every 5th and columns 64..95 zero; and random mantissas scaled by
 * 2^-20 .. 2^20 (a large dynamic range). No rounding depends on the compiler. */
void make_weights(int pattern, uint64_t seed, float *w, int64_t n) {
    NibRng rng(seed);
    for (int64_t i = 0; i < n; i++) {
        const float u = std::fabs(rng.uniform()) + 0.0625f;
        float v;
        switch (pattern) {
        case W_ONES:       v = 1.0f; break;
        case W_RANDOM:     v = u; break;
        case W_SOME_ZEROS: v = (i % 5 == 2 || (i >= 64 && i < 96)) ? 0.0f : u; break;
        default:           v = std::ldexp(u, (int)(rng.next() % 41) - 20); break;
        }
        w[i] = v;
    }
}

uint64_t imatrix_input_seed(int kind, int s) { return 7000 + 10 * kind + s; }
uint64_t imatrix_weight_seed(int pattern, int s) { return 8000 + 10 * pattern + s; }
const int64_t kRows[2] = {3, 2}, kCols[2] = {256, 512};

const int kTypes[] = {NIB_TYPE_F32,  NIB_TYPE_F16,  NIB_TYPE_BF16, NIB_TYPE_Q4_0, NIB_TYPE_Q4_1,
                      NIB_TYPE_Q5_0, NIB_TYPE_Q5_1, NIB_TYPE_Q8_0, NIB_TYPE_Q2_K, NIB_TYPE_Q3_K,
                      NIB_TYPE_Q4_K, NIB_TYPE_Q5_K, NIB_TYPE_Q6_K};

const uint8_t kGuard = 0xA5;
const size_t kGuardBytes = 64;

/* Quantizes rows x cols with weights w (NULL: none); the output is followed by
 * guard bytes that must survive. */
std::vector<uint8_t> quantize_weighted(int type, const std::vector<float> &x, int64_t rows, int64_t cols,
                                       const float *w) {
    const size_t bytes = nib_type_row_bytes(type, cols) * (size_t)rows;
    std::vector<uint8_t> out(bytes + kGuardBytes, kGuard);
    nib_error err{};
    EXPECT_EQ(nib_quantize_weighted(type, x.data(), out.data(), cols, rows, w, &err), NIB_OK) << err.msg;
    for (size_t i = bytes; i < out.size(); i++) EXPECT_EQ(out[i], kGuard) << nib_type_name(type) << " guard byte " << i;
    out.resize(bytes);
    return out;
}

TEST(QuantImatrix, MatchesGgml) {
    int n_checked = 0, n_equal = 0;
    for (const ImatrixCase &c : kImatrixCases) {
        std::vector<uint8_t> all;
        for (int s = 0; s < 2; s++) {
            std::vector<float> x((size_t)(kRows[s] * kCols[s])), w((size_t)kCols[s]);
            make_input(c.kind, imatrix_input_seed(c.kind, s), x.data(), (int64_t)x.size());
            make_weights(c.pattern, imatrix_weight_seed(c.pattern, s), w.data(), kCols[s]);
            const std::vector<uint8_t> q = quantize_weighted(c.type, x, kRows[s], kCols[s], w.data());
            all.insert(all.end(), q.begin(), q.end());
        }
        const std::string sha = nib_test_sha256_hex(all.data(), all.size());
        n_checked++;
        n_equal += sha == c.sha;
        EXPECT_EQ(sha, c.sha) << nib_type_name(c.type) << " input kind " << c.kind << " weights " << c.pattern;
    }
    EXPECT_EQ(n_checked, 13 * IN_KINDS * W_PATTERNS);
    EXPECT_EQ(n_equal, n_checked);
}

/* Weights matter where ggml uses them: on smooth data every weighted type
 * differs from its reference rounding for some pattern. */
TEST(QuantImatrix, WeightsChangeWeightedTypes) {
    for (int type : kTypes) {
        const bool ignores = type == NIB_TYPE_F32 || type == NIB_TYPE_F16 || type == NIB_TYPE_BF16 ||
                             type == NIB_TYPE_Q8_0;
        std::vector<float> x(2 * 512);
        make_input(IN_HEAVY, 91, x.data(), (int64_t)x.size());
        const std::vector<uint8_t> plain = quantize_weighted(type, x, 2, 512, nullptr);
        bool differs = false;
        for (int p = 0; p < W_PATTERNS; p++) {
            std::vector<float> w(512);
            make_weights(p, 92 + p, w.data(), 512);
            differs |= quantize_weighted(type, x, 2, 512, w.data()) != plain;
        }
        EXPECT_EQ(differs, !ignores) << nib_type_name(type);
    }
}

TEST(QuantImatrix, NullWeightsEqualQuantize) {
    for (int type : kTypes) {
        for (int kind = 0; kind < IN_KINDS; kind++) {
            for (int s = 0; s < 2; s++) {
                std::vector<float> x((size_t)(kRows[s] * kCols[s]));
                make_input(kind, 300 + kind, x.data(), (int64_t)x.size());
                std::vector<uint8_t> ref(nib_type_row_bytes(type, (int64_t)x.size()));
                ASSERT_EQ(nib_quantize(type, x.data(), ref.data(), (int64_t)x.size(), nullptr), NIB_OK);
                EXPECT_EQ(quantize_weighted(type, x, kRows[s], kCols[s], nullptr), ref)
                    << nib_type_name(type) << " kind " << kind;
            }
        }
    }
}

/* Rows are independent: one call over all rows equals one call per row. */
TEST(QuantImatrix, RowsIndependent) {
    for (int type : kTypes) {
        std::vector<float> x(3 * 256), w(256);
        make_input(IN_UNIFORM, 17, x.data(), (int64_t)x.size());
        make_weights(W_RANGE, 18, w.data(), 256);
        const std::vector<uint8_t> all = quantize_weighted(type, x, 3, 256, w.data());
        std::vector<uint8_t> rows;
        for (int r = 0; r < 3; r++) {
            const std::vector<float> xr(x.begin() + 256 * r, x.begin() + 256 * (r + 1));
            const std::vector<uint8_t> q = quantize_weighted(type, xr, 1, 256, w.data());
            rows.insert(rows.end(), q.begin(), q.end());
        }
        EXPECT_EQ(all, rows) << nib_type_name(type);
    }
}

TEST(QuantImatrix, Errors) {
    std::vector<float> x(1024, 0.5f), w(512, 1.0f);
    std::vector<uint8_t> out(4096);
    nib_error err{};
    /* n_per_row not a multiple of the block size */
    EXPECT_EQ(nib_quantize_weighted(NIB_TYPE_Q4_K, x.data(), out.data(), 128, 2, w.data(), &err), NIB_E_ARG);
    EXPECT_NE(std::string(err.msg).find("block size"), std::string::npos) << err.msg;
    EXPECT_EQ(nib_quantize_weighted(NIB_TYPE_Q4_0, x.data(), out.data(), 33, 2, w.data(), &err), NIB_E_ARG);
    EXPECT_EQ(nib_quantize_weighted(NIB_TYPE_Q4_0, x.data(), out.data(), -32, 2, w.data(), &err), NIB_E_ARG);
    /* negative or overflowing row counts */
    EXPECT_EQ(nib_quantize_weighted(NIB_TYPE_Q4_0, x.data(), out.data(), 32, -1, w.data(), &err), NIB_E_ARG);
    EXPECT_EQ(nib_quantize_weighted(NIB_TYPE_Q4_0, x.data(), out.data(), 1LL << 40, 1LL << 30, w.data(), &err),
              NIB_E_ARG);
    EXPECT_EQ(nib_quantize_weighted(NIB_TYPE_F32, x.data(), out.data(), 1LL << 40, 1LL << 22, w.data(), &err),
              NIB_E_ARG);
    /* types ggml cannot quantize with weights, invalid ids */
    for (int type : {(int)NIB_TYPE_Q8_1, (int)NIB_TYPE_Q8_K, (int)NIB_TYPE_IQ2_XXS, (int)NIB_TYPE_IQ4_NL}) {
        EXPECT_EQ(nib_quantize_weighted(type, x.data(), out.data(), 256, 1, w.data(), &err), NIB_E_UNSUPPORTED);
        EXPECT_NE(std::string(err.msg).find(nib_type_name(type)), std::string::npos) << err.msg;
    }
    for (int type : {-1, 4, 999}) {
        EXPECT_EQ(nib_quantize_weighted(type, x.data(), out.data(), 256, 1, w.data(), &err), NIB_E_ARG);
    }
    /* NULL source or destination */
    EXPECT_EQ(nib_quantize_weighted(NIB_TYPE_Q4_0, nullptr, out.data(), 32, 1, w.data(), &err), NIB_E_ARG);
    EXPECT_EQ(nib_quantize_weighted(NIB_TYPE_Q6_K, x.data(), nullptr, 256, 1, w.data(), &err), NIB_E_ARG);
    EXPECT_EQ(nib_quantize_weighted(NIB_TYPE_Q6_K, x.data(), nullptr, 256, 1, nullptr, nullptr), NIB_E_ARG);
    /* nothing to do is fine */
    EXPECT_EQ(nib_quantize_weighted(NIB_TYPE_Q4_K, x.data(), out.data(), 256, 0, w.data(), &err), NIB_OK);
    EXPECT_EQ(nib_quantize_weighted(NIB_TYPE_Q4_K, nullptr, nullptr, 0, 5, nullptr, &err), NIB_OK);
}

TEST(QuantImatrix, TableHasWeightedQuantizers) {
    for (int type : kTypes) EXPECT_NE(nib_type_traits(type)->from_float_weighted, nullptr) << nib_type_name(type);
    EXPECT_EQ(nib_type_traits(NIB_TYPE_Q8_K)->from_float_weighted, nullptr);
    EXPECT_EQ(nib_type_traits(NIB_TYPE_Q8_1)->from_float_weighted, nullptr);
}

}  // namespace
