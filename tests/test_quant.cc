/*
 * test_quant.cc — tensor types: the type table, fp16/bf16 conversions,
 * reference (de)quantization and dot products.
 *
 * Bit-exactness against ggml: the expected sha256 digests and result bit
 * patterns below were produced by a throwaway generator (not in the repo)
 * that links llama.cpp's own ggml/src/ggml-quants.c and
 * ggml/src/ggml-cpu/quants.c (built with -DGGML_CPU_GENERIC -O2
 * -ffp-contract=off, so the *_generic kernels are the ones called) plus the
 * scalar loops of ggml-cpu/vec.cpp for F32/F16/BF16 (fp16/bf16 conversions
 * from ggml-impl.h), and feeds them the inputs made by make_input
 * (quant_inputs.h) / random_blocks below (a C copy of them, same splitmix64
 * sequence as NibRng). The importance-weighted quantizers have their own
 * suite and committed generator: test_quant_imatrix.cc.
 * llama.cpp at the project's reference commit, gcc 12, x86-64. Output buffers
 * were zero-filled first: ggml's Q8_K quantizer leaves the bsums of an
 * all-zero block unwritten, nib writes zeros there.
 */
#include "nib.h"

#include "formats/fp16.h"
#include "formats/quant_blocks.h"
#include "formats/type_traits.h"
#include "quant_inputs.h"
#include "test_util.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace {

/* ------------------------------------------------------------ inputs */

int64_t quant_len_small(int64_t bs) { return bs == 1 ? 7 : bs; }
uint64_t quant_seed(int kind, int li) { return 1000 + 10 * kind + li; }
int64_t dequant_len(int64_t bs) { return bs == 1 ? 1024 : 4 * bs; }
uint64_t dequant_seed(int type) { return 4000 + type; }
int64_t vd_len_small(int64_t bs) { return bs == 1 ? 33 : bs; }
uint64_t vd_weight_seed(int type, int li) { return 2000 + 10 * type + li; }
uint64_t vd_act_seed(int type, int li, int ak) { return 3000 + 10 * type + li + 1000 * ak; }
int64_t vdb_row(int64_t bs) { return bs == 1 ? 16 : bs; }
int64_t vdb_rows(int64_t bs) { return bs == 256 ? 128 : 512; }
uint64_t vdb_seed(int type) { return 5000 + type; }

std::vector<float> input(int kind, uint64_t seed, int64_t n) {
    std::vector<float> x((size_t)n);
    make_input(kind, seed, x.data(), n);
    return x;
}

void put_u16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

uint16_t finite_fp16(NibRng &r) {
    uint16_t h = (uint16_t)r.next();
    if ((h & 0x7c00) == 0x7c00) h ^= 0x4000;
    return h;
}

/* sign and mantissa random, exponent 7..14: |h| in [2^-8, 1) */
uint16_t moderate_fp16(NibRng &r) {
    const uint64_t b = r.next();
    return (uint16_t)((b & 0x83ff) | ((7 + ((b >> 16) & 7)) << 10));
}

/* Random block bytes with every fp16 scale replaced by a finite one (or, with
 * `moderate`, one of similar magnitude so every block matters in a sum). */
std::vector<uint8_t> random_blocks(int type, int64_t n, uint64_t seed, bool moderate) {
    const int64_t bytes = (int64_t)nib_type_block_bytes(type);
    const int64_t nblocks = n / nib_type_block_size(type);
    std::vector<uint8_t> buf((size_t)(nblocks * bytes));
    NibRng r(seed);
    for (auto &b : buf) b = (uint8_t)r.next();
    int off0 = -1, off1 = -1;
    switch (type) {
    case NIB_TYPE_F16:
        for (int64_t i = 0; i < nblocks; i++) put_u16(&buf[(size_t)(2 * i)], finite_fp16(r));
        return buf;
    case NIB_TYPE_Q4_0: case NIB_TYPE_Q5_0: case NIB_TYPE_Q8_0: off0 = 0; break;
    case NIB_TYPE_Q4_1: case NIB_TYPE_Q5_1: case NIB_TYPE_Q4_K: case NIB_TYPE_Q5_K:
        off0 = 0; off1 = 2; break;
    case NIB_TYPE_Q2_K: off0 = 80; off1 = 82; break;
    case NIB_TYPE_Q3_K: off0 = 108; break;
    case NIB_TYPE_Q6_K: off0 = 208; break;
    case NIB_TYPE_Q8_K:
        for (int64_t i = 0; i < nblocks; i++) {
            const float d = r.uniform() * 0.0625f;
            std::memcpy(&buf[(size_t)(i * bytes)], &d, sizeof(d));
        }
        return buf;
    default: return buf;
    }
    for (int64_t i = 0; i < nblocks; i++) {
        uint8_t *blk = &buf[(size_t)(i * bytes)];
        put_u16(blk + off0, moderate ? moderate_fp16(r) : finite_fp16(r));
        if (off1 >= 0) put_u16(blk + off1, moderate ? moderate_fp16(r) : finite_fp16(r));
    }
    return buf;
}

/* ---------------------------------------------------------- helpers */

const size_t kGuard = 64;
const uint8_t kGuardByte = 0xA5;

/* Quantize with the reference from_float; checks that nothing is written
 * past the row (guard bytes). */
std::vector<uint8_t> quantize(int type, const std::vector<float> &x) {
    const int64_t n = (int64_t)x.size();
    const size_t nbytes = nib_type_row_bytes(type, n);
    std::vector<uint8_t> buf(nbytes + kGuard, kGuardByte);
    nib_type_traits(type)->from_float(x.data(), buf.data(), n);
    for (size_t i = nbytes; i < buf.size(); i++) {
        EXPECT_EQ(buf[i], kGuardByte) << nib_type_name(type) << ": wrote past the row at " << i;
    }
    buf.resize(nbytes);
    return buf;
}

std::vector<float> dequantize(int type, const std::vector<uint8_t> &q, int64_t n) {
    std::vector<float> y((size_t)n + kGuard / sizeof(float), -7.0f);
    struct nib_error err = {};
    EXPECT_EQ(nib_dequantize(type, q.data(), y.data(), n, &err), NIB_OK) << err.msg;
    for (size_t i = (size_t)n; i < y.size(); i++) EXPECT_EQ(y[i], -7.0f) << "wrote past the row";
    y.resize((size_t)n);
    return y;
}

uint32_t bits_of(float f) {
    uint32_t b;
    std::memcpy(&b, &f, sizeof(b));
    return b;
}

float f32(uint32_t b) {
    float f;
    std::memcpy(&f, &b, sizeof(f));
    return f;
}

std::string hex32(uint32_t v) {
    char s[16];
    std::snprintf(s, sizeof(s), "0x%08x", v);
    return s;
}

#include "quant_ggml_expected.h"

}  // namespace

/* ============================================ 1-3: bit-exact vs ggml */

TEST(QuantBitExact, FromFloatMatchesGgml) {
    for (const QuantCase &c : kQuantCases) {
        SCOPED_TRACE(std::string(nib_type_name(c.type)) + " kind " + std::to_string(c.kind));
        ASSERT_NE(nib_type_traits(c.type)->from_float, nullptr);
        const int64_t lens[2] = {quant_len_small(nib_type_block_size(c.type)), 768};
        std::vector<uint8_t> all;
        for (int li = 0; li < 2; li++) {
            const std::vector<uint8_t> q = quantize(c.type, input(c.kind, quant_seed(c.kind, li), lens[li]));
            all.insert(all.end(), q.begin(), q.end());
        }
        EXPECT_EQ(nib_test_sha256_hex(all.data(), all.size()), c.sha);
    }
}

TEST(QuantBitExact, ToFloatMatchesGgmlOnRandomBlocks) {
    for (const DequantCase &c : kDequantCases) {
        SCOPED_TRACE(nib_type_name(c.type));
        const int64_t n = dequant_len(nib_type_block_size(c.type));
        const std::vector<float> y = dequantize(c.type, random_blocks(c.type, n, dequant_seed(c.type), false), n);
        EXPECT_EQ(nib_test_sha256_hex(y.data(), y.size() * sizeof(float)), c.sha);
    }
}

TEST(QuantBitExact, VecDotMatchesGgml) {
    for (const VecDotCase &c : kVecDotCases) {
        const struct nib_type_traits *tt = nib_type_traits(c.type);
        ASSERT_NE(tt->vec_dot, nullptr) << tt->name;
        const int64_t bs = tt->block_size;
        const int li = c.n == vd_len_small(bs) ? 0 : c.n == 768 ? 1 : 2;
        const std::vector<uint8_t> w =
            tt->vec_dot_type != NIB_TYPE_Q8_K ? quantize(c.type, input(IN_HEAVY, vd_weight_seed(c.type, li), c.n))
                                              : random_blocks(c.type, c.n, vd_weight_seed(c.type, li), true);
        for (int ak = 0; ak < 3; ak++) {
            SCOPED_TRACE(std::string(tt->name) + " n=" + std::to_string(c.n) + " act " + std::to_string(ak));
            /* act_kind 2: the weights' own input (a self dot product: large
             * per-block integer sums, where the float rounding order shows) */
            const std::vector<float> ax = ak == 2 ? input(IN_HEAVY, vd_weight_seed(c.type, li), c.n)
                                                  : input(ak ? IN_HEAVY : IN_UNIFORM, vd_act_seed(c.type, li, ak), c.n);
            const std::vector<uint8_t> a = quantize(tt->vec_dot_type, ax);
            float r = NAN;
            tt->vec_dot(c.n, &r, w.data(), a.data());
            EXPECT_EQ(hex32(bits_of(r)), hex32(c.bits[ak])) << "got " << r;
        }
    }
}

TEST(QuantBitExact, VecDotPerBlockMatchesGgml) {
    for (const VecDotBlocksCase &c : kVecDotBlocksCases) {
        const struct nib_type_traits *tt = nib_type_traits(c.type);
        SCOPED_TRACE(tt->name);
        const int64_t row = vdb_row(tt->block_size), nrows = vdb_rows(tt->block_size), n = row * nrows;
        const std::vector<float> x = input(IN_HEAVY, vdb_seed(c.type), n);
        const std::vector<uint8_t> w =
            tt->from_float ? quantize(c.type, x) : random_blocks(c.type, n, vdb_seed(c.type), true);
        const std::vector<uint8_t> a = quantize(tt->vec_dot_type, x);
        const size_t wrow = nib_type_row_bytes(c.type, row), arow = nib_type_row_bytes(tt->vec_dot_type, row);
        std::vector<float> r((size_t)nrows);
        for (int64_t i = 0; i < nrows; i++) tt->vec_dot(row, &r[(size_t)i], &w[(size_t)i * wrow], &a[(size_t)i * arow]);
        EXPECT_EQ(nib_test_sha256_hex(r.data(), r.size() * sizeof(float)), c.sha);
    }
}

/* ============================================ fp16 / bf16 conversions */

TEST(QuantFp16, KnownValues) {
    EXPECT_EQ(nib_fp32_to_fp16(1.0f), 0x3c00);
    EXPECT_EQ(nib_fp32_to_fp16(-2.0f), 0xc000);
    EXPECT_EQ(nib_fp32_to_fp16(65504.0f), 0x7bff);
    EXPECT_EQ(nib_fp32_to_fp16(65519.0f), 0x7bff);    /* below the halfway point */
    EXPECT_EQ(nib_fp32_to_fp16(65520.0f), 0x7c00);    /* halfway: rounds to inf */
    EXPECT_EQ(nib_fp32_to_fp16(-1e10f), 0xfc00);
    EXPECT_EQ(nib_fp32_to_fp16(f32(0x33800000)), 0x0001);  /* 2^-24: smallest subnormal */
    EXPECT_EQ(nib_fp32_to_fp16(f32(0x33000000)), 0x0000);  /* 2^-25: tie to even (0) */
    EXPECT_EQ(nib_fp32_to_fp16(f32(0x33c00000)), 0x0002);  /* 1.5 * 2^-24: tie to even (2) */
    EXPECT_EQ(nib_fp32_to_fp16(f32(0x3f801000)), 0x3c00);  /* 1 + 2^-11: tie to even */
    EXPECT_EQ(nib_fp32_to_fp16(f32(0x3f803000)), 0x3c02);  /* 1 + 3 * 2^-11: tie to even */
    EXPECT_EQ(nib_fp32_to_fp16(-0.0f), 0x8000);
    EXPECT_EQ(nib_fp32_to_fp16(f32(0x7f800001)), 0x7e00);  /* any NaN -> quiet NaN */
    EXPECT_EQ(nib_fp32_to_fp16(f32(0xffc12345)), 0xfe00);
    EXPECT_EQ(nib_fp16_to_fp32(0x0001), std::ldexp(1.0f, -24));
    EXPECT_EQ(nib_fp16_to_fp32(0x7bff), 65504.0f);
    EXPECT_TRUE(std::isinf(nib_fp16_to_fp32(0xfc00)) && nib_fp16_to_fp32(0xfc00) < 0);
    EXPECT_TRUE(std::isnan(nib_fp16_to_fp32(0x7e00)));

    EXPECT_EQ(nib_fp32_to_bf16(1.0f), 0x3f80);
    EXPECT_EQ(nib_fp32_to_bf16(f32(0x3f808000)), 0x3f80);  /* tie to even (down) */
    EXPECT_EQ(nib_fp32_to_bf16(f32(0x3f818000)), 0x3f82);  /* tie to even (up) */
    EXPECT_EQ(nib_fp32_to_bf16(f32(0x3f808001)), 0x3f81);
    EXPECT_EQ(nib_fp32_to_bf16(f32(0x7f7fffff)), 0x7f80);  /* FLT_MAX rounds to inf */
    EXPECT_EQ(nib_fp32_to_bf16(f32(0x7f800001)), 0x7fc0);  /* NaN: quiet bit forced */
    EXPECT_EQ(nib_fp32_to_bf16(f32(0xffc12345)), 0xffc1);
    EXPECT_EQ(nib_fp32_to_bf16(f32(0x00000001)), 0x0000);  /* fp32 subnormal, not flushed: */
    EXPECT_EQ(nib_fp32_to_bf16(f32(0x00018000)), 0x0002);  /* rounds like any value */
    EXPECT_EQ(bits_of(nib_bf16_to_fp32(0xc049)), 0xc0490000u);
}

TEST(QuantFp16, EveryHalfRoundTrips) {
    for (uint32_t h = 0; h < 0x10000; h++) {
        const float f = nib_fp16_to_fp32((uint16_t)h);
        ASSERT_EQ(std::signbit(f), (h & 0x8000) != 0) << h;
        if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff)) { /* NaN: comes back as the quiet NaN */
            ASSERT_TRUE(std::isnan(f)) << h;
            ASSERT_EQ(nib_fp32_to_fp16(f), (h & 0x8000) | 0x7e00) << h;
        } else {
            ASSERT_EQ(nib_fp32_to_fp16(f), h) << h;
        }
    }
    for (uint32_t h = 0; h < 0x10000; h++) {
        const float f = nib_bf16_to_fp32((uint16_t)h);
        ASSERT_EQ(bits_of(f), h << 16) << h;
        const bool nan = (h & 0x7f80) == 0x7f80 && (h & 0x7f);
        ASSERT_EQ(nib_fp32_to_bf16(f), nan ? (h | 0x40) : h) << h;
    }
}

/* ======================================== round trips and invariants */

struct RoundTripBound {
    int type;
    double abs_max;   /* times the block's max |x| */
    double range;     /* times the block's max - min */
    double min;       /* times the block's |min| */
};

/* Derived from each quantizer: e.g. Q4_0 has d = max / -8 and the largest
 * positive level is 7d, so values near -max clamp with error up to |d|;
 * fp16 rounding of d (2^-11 relative) adds at most |q| * |d| * 2^-11. */
const RoundTripBound kRoundTrip[] = {
    {NIB_TYPE_Q4_0, 1.0 / 8 * (1 + 8.0 / 2048) * 1.001, 0, 0},
    {NIB_TYPE_Q5_0, 1.0 / 16 * (1 + 16.0 / 2048) * 1.001, 0, 0},
    {NIB_TYPE_Q8_0, (0.5 + 127.0 / 2048) / 127 * 1.001, 0, 0},
    {NIB_TYPE_Q8_1, (0.5 + 127.0 / 2048) / 127 * 1.001, 0, 0},
    {NIB_TYPE_Q8_K, 0.5 / 127 * 1.001, 0, 0},
    {NIB_TYPE_Q4_1, 1e-6, (0.5 + 15.0 / 2048) / 15 * 1.001, 1.0 / 2048},
    {NIB_TYPE_Q5_1, 1e-6, (0.5 + 31.0 / 2048) / 31 * 1.001, 1.0 / 2048},
};

TEST(QuantRoundTrip, BlockErrorWithinBounds) {
    const int kinds[] = {IN_UNIFORM, IN_LARGE, IN_ONE_LARGE, IN_NEG_MAX, IN_TIES, IN_HEAVY, IN_ZEROS};
    for (const RoundTripBound &b : kRoundTrip) {
        const int64_t bs = nib_type_block_size(b.type);
        for (int kind : kinds) {
            SCOPED_TRACE(std::string(nib_type_name(b.type)) + " kind " + std::to_string(kind));
            const int64_t n = 4096;
            const std::vector<float> x = input(kind, 77 + kind, n);
            const std::vector<float> y = dequantize(b.type, quantize(b.type, x), n);
            for (int64_t i0 = 0; i0 < n; i0 += bs) {
                float amax = 0, mn = x[(size_t)i0], mx = x[(size_t)i0];
                for (int64_t i = i0; i < i0 + bs; i++) {
                    amax = std::max(amax, std::fabs(x[(size_t)i]));
                    mn = std::min(mn, x[(size_t)i]);
                    mx = std::max(mx, x[(size_t)i]);
                }
                const double bound = b.abs_max * amax + b.range * (mx - mn) + b.min * std::fabs(mn);
                for (int64_t i = i0; i < i0 + bs; i++) {
                    ASSERT_LE(std::fabs((double)y[(size_t)i] - x[(size_t)i]), bound) << "element " << i;
                }
            }
        }
    }
}

/* K-quant quantizers search for scales, so bound the normalized RMS error
 * instead (measured: Q2_K 0.23-0.35, Q3_K 0.12-0.14, Q4_K 0.05-0.07,
 * Q5_K 0.03-0.04, Q6_K 0.013-0.018), and require more bits to do better. */
TEST(QuantRoundTrip, KQuantsNormalizedError) {
    const struct { int type; double max_nrmse; } bounds[] = {
        {NIB_TYPE_Q2_K, 0.45}, {NIB_TYPE_Q3_K, 0.2}, {NIB_TYPE_Q4_K, 0.1},
        {NIB_TYPE_Q5_K, 0.05}, {NIB_TYPE_Q6_K, 0.025},
    };
    for (int kind : {IN_UNIFORM, IN_HEAVY, IN_LARGE}) {
        const std::vector<float> x = input(kind, 55 + kind, 4096);
        double prev = 1e9;
        for (const auto &b : bounds) {
            SCOPED_TRACE(std::string(nib_type_name(b.type)) + " kind " + std::to_string(kind));
            const std::vector<float> y = dequantize(b.type, quantize(b.type, x), 4096);
            double err = 0, ref = 0;
            for (size_t i = 0; i < x.size(); i++) {
                err += ((double)y[i] - x[i]) * ((double)y[i] - x[i]);
                ref += (double)x[i] * x[i];
            }
            const double nrmse = std::sqrt(err / ref);
            EXPECT_LE(nrmse, b.max_nrmse);
            EXPECT_LT(nrmse, prev);
            prev = nrmse;
        }
    }
    const std::vector<float> zeros(512, 0.0f);
    for (int t : {NIB_TYPE_Q2_K, NIB_TYPE_Q3_K, NIB_TYPE_Q4_K, NIB_TYPE_Q5_K, NIB_TYPE_Q6_K}) {
        EXPECT_EQ(dequantize(t, quantize(t, zeros), 512), zeros) << nib_type_name(t);
    }
}

TEST(QuantRoundTrip, FloatTypes) {
    const std::vector<float> x = input(IN_HEAVY, 5, 1000);
    EXPECT_EQ(dequantize(NIB_TYPE_F32, quantize(NIB_TYPE_F32, x), 1000), x);
    const std::vector<float> y16 = dequantize(NIB_TYPE_F16, quantize(NIB_TYPE_F16, x), 1000);
    const std::vector<float> yb = dequantize(NIB_TYPE_BF16, quantize(NIB_TYPE_BF16, x), 1000);
    for (size_t i = 0; i < x.size(); i++) {
        const double ax = std::fabs(x[i]);
        EXPECT_LE(std::fabs(y16[i] - x[i]), std::max(ax / 2048, std::ldexp(1.0, -25))) << i;
        EXPECT_LE(std::fabs(yb[i] - x[i]), ax / 256) << i;
    }
}

/* ============================================ 4: vec_dot consistency */

/* vec_dot(w, quantize(a)) against the double-precision dot of the two
 * dequantized rows, relative to sum |w_i a_i|. Q4_1/Q5_1 are looser by
 * design: their partner Q8_1 carries s = fp16(d * sum q), and the min term
 * m * s inherits that fp16 rounding (2^-11). */
TEST(QuantVecDot, MatchesDequantizedDot) {
    int checked = 0;
    for (int type = 0; type < NIB_TYPE_COUNT; type++) {
        const struct nib_type_traits *tt = nib_type_traits(type);
        if (!tt->vec_dot) continue;
        const double tol = (type == NIB_TYPE_Q4_1 || type == NIB_TYPE_Q5_1) ? 2e-3 : 2e-6;
        const int64_t bs = tt->block_size;
        const int64_t lens[] = {bs, 3 * bs, 768, 4096, bs == 1 ? 17 : 2 * bs};
        for (int64_t n : lens) {
            for (int kind : {IN_UNIFORM, IN_HEAVY}) {
                SCOPED_TRACE(std::string(tt->name) + " n=" + std::to_string(n) + " kind " + std::to_string(kind));
                const std::vector<uint8_t> w = tt->from_float ? quantize(type, input(kind, 100 + n, n))
                                                              : random_blocks(type, n, 100 + n, true);
                const std::vector<uint8_t> a = quantize(tt->vec_dot_type, input(kind, 200 + n, n));
                const std::vector<float> wf = dequantize(type, w, n);
                const std::vector<float> af = dequantize(tt->vec_dot_type, a, n);
                double ref = 0, scale = 0;
                for (int64_t i = 0; i < n; i++) {
                    ref += (double)wf[(size_t)i] * af[(size_t)i];
                    scale += std::fabs((double)wf[(size_t)i] * af[(size_t)i]);
                }
                float got = NAN;
                tt->vec_dot(n, &got, w.data(), a.data());
                EXPECT_NEAR(got, ref, tol * scale + 1e-30);
                checked++;
            }
        }
    }
    EXPECT_EQ(checked, 13 * 5 * 2);
}

TEST(QuantVecDot, EmptyRowIsZero) {
    for (int type = 0; type < NIB_TYPE_COUNT; type++) {
        const struct nib_type_traits *tt = nib_type_traits(type);
        if (!tt->vec_dot) continue;
        float r = NAN;
        tt->vec_dot(0, &r, nullptr, nullptr);
        EXPECT_EQ(r, 0.0f) << tt->name;
    }
}

/* ================================================== 5: table sanity */

struct TypeRow { int id; const char *name; int64_t block_size; size_t block_bytes; bool quantized; };

/* Checked against ggml (sizeof of each block struct in ggml-common.h and
 * ggml.c type_traits) by a throwaway program. */
const TypeRow kTypes[] = {
    {0, "F32", 1, 4, false},         {1, "F16", 1, 2, false},         {2, "Q4_0", 32, 18, true},
    {3, "Q4_1", 32, 20, true},       {6, "Q5_0", 32, 22, true},       {7, "Q5_1", 32, 24, true},
    {8, "Q8_0", 32, 34, true},       {9, "Q8_1", 32, 36, true},       {10, "Q2_K", 256, 84, true},
    {11, "Q3_K", 256, 110, true},    {12, "Q4_K", 256, 144, true},    {13, "Q5_K", 256, 176, true},
    {14, "Q6_K", 256, 210, true},    {15, "Q8_K", 256, 292, true},    {16, "IQ2_XXS", 256, 66, true},
    {17, "IQ2_XS", 256, 74, true},   {18, "IQ3_XXS", 256, 98, true},  {19, "IQ1_S", 256, 50, true},
    {20, "IQ4_NL", 32, 18, true},    {21, "IQ3_S", 256, 110, true},   {22, "IQ2_S", 256, 82, true},
    {23, "IQ4_XS", 256, 136, true},  {24, "I8", 1, 1, false},         {25, "I16", 1, 2, false},
    {26, "I32", 1, 4, false},        {27, "I64", 1, 8, false},        {28, "F64", 1, 8, false},
    {29, "IQ1_M", 256, 56, true},    {30, "BF16", 1, 2, false},       {34, "TQ1_0", 256, 54, true},
    {35, "TQ2_0", 256, 66, true},    {39, "MXFP4", 32, 17, true},     {40, "NVFP4", 64, 36, true},
    {41, "Q1_0", 128, 18, true},     {42, "Q2_0", 64, 18, true},
};

TEST(QuantTable, MatchesGgml) {
    std::vector<bool> listed(NIB_TYPE_COUNT, false);
    for (const TypeRow &r : kTypes) {
        SCOPED_TRACE(r.name);
        listed[(size_t)r.id] = true;
        const struct nib_type_traits *tt = nib_type_traits(r.id);
        EXPECT_TRUE(nib_type_is_valid(r.id));
        EXPECT_STREQ(nib_type_name(r.id), r.name);
        EXPECT_STREQ(tt->name, r.name);
        EXPECT_EQ(nib_type_block_size(r.id), r.block_size);
        EXPECT_EQ(nib_type_block_bytes(r.id), r.block_bytes);
        EXPECT_EQ(tt->is_quantized, r.quantized);
    }
    for (int id = -3; id < NIB_TYPE_COUNT + 3; id++) {
        if (id >= 0 && id < NIB_TYPE_COUNT && listed[(size_t)id]) continue;
        SCOPED_TRACE(id);
        EXPECT_FALSE(nib_type_is_valid(id));
        EXPECT_STREQ(nib_type_name(id), "?");
        EXPECT_EQ(nib_type_block_size(id), 0);
        EXPECT_EQ(nib_type_block_bytes(id), 0u);
        EXPECT_FALSE(nib_type_is_supported(id));
        EXPECT_EQ(nib_type_row_bytes(id, 256), 0u);
        const struct nib_type_traits *tt = nib_type_traits(id);
        ASSERT_NE(tt, nullptr);
        EXPECT_EQ(tt->to_float, nullptr);
        EXPECT_EQ(tt->vec_dot, nullptr);
    }
    int removed = 0;
    for (int id : {4, 5, 31, 32, 33, 36, 37, 38}) removed += !nib_type_is_valid(id);
    EXPECT_EQ(removed, 8);
}

TEST(QuantTable, FunctionsAndPartners) {
    const int supported[] = {NIB_TYPE_F32, NIB_TYPE_F16, NIB_TYPE_BF16, NIB_TYPE_Q4_0, NIB_TYPE_Q4_1,
                             NIB_TYPE_Q5_0, NIB_TYPE_Q5_1, NIB_TYPE_Q8_0, NIB_TYPE_Q8_1, NIB_TYPE_Q2_K,
                             NIB_TYPE_Q3_K, NIB_TYPE_Q4_K, NIB_TYPE_Q5_K, NIB_TYPE_Q6_K, NIB_TYPE_Q8_K};
    for (int t : supported) EXPECT_TRUE(nib_type_is_supported(t)) << nib_type_name(t);
    EXPECT_FALSE(nib_type_is_supported(NIB_TYPE_IQ2_XXS));
    EXPECT_FALSE(nib_type_is_supported(NIB_TYPE_I32));
    const struct { int w, partner; } pairs[] = {
        {NIB_TYPE_F32, NIB_TYPE_F32},   {NIB_TYPE_F16, NIB_TYPE_F16},   {NIB_TYPE_BF16, NIB_TYPE_BF16},
        {NIB_TYPE_Q4_0, NIB_TYPE_Q8_0}, {NIB_TYPE_Q5_0, NIB_TYPE_Q8_0}, {NIB_TYPE_Q8_0, NIB_TYPE_Q8_0},
        {NIB_TYPE_Q4_1, NIB_TYPE_Q8_1}, {NIB_TYPE_Q5_1, NIB_TYPE_Q8_1}, {NIB_TYPE_Q2_K, NIB_TYPE_Q8_K},
        {NIB_TYPE_Q3_K, NIB_TYPE_Q8_K}, {NIB_TYPE_Q4_K, NIB_TYPE_Q8_K}, {NIB_TYPE_Q5_K, NIB_TYPE_Q8_K},
        {NIB_TYPE_Q6_K, NIB_TYPE_Q8_K},
    };
    for (const auto &p : pairs) {
        const struct nib_type_traits *tt = nib_type_traits(p.w);
        EXPECT_NE(tt->vec_dot, nullptr) << tt->name;
        EXPECT_EQ((int)tt->vec_dot_type, p.partner) << tt->name;
        EXPECT_NE(nib_type_traits(p.partner)->from_float, nullptr) << tt->name;
        EXPECT_EQ(nib_type_block_size(p.partner) % tt->block_size, 0) << tt->name;
    }
}

TEST(QuantTable, NameRoundTrip) {
    for (const TypeRow &r : kTypes) {
        enum nib_type t = NIB_TYPE_COUNT;
        ASSERT_EQ(nib_type_from_name(r.name, &t), NIB_OK) << r.name;
        EXPECT_EQ((int)t, r.id);
        std::string lower(r.name);
        for (char &ch : lower) ch = (char)std::tolower((unsigned char)ch);
        ASSERT_EQ(nib_type_from_name(lower.c_str(), &t), NIB_OK) << lower;
        EXPECT_EQ((int)t, r.id);
    }
    enum nib_type t = NIB_TYPE_F32;
    EXPECT_EQ(nib_type_from_name("q4_k", &t), NIB_OK);
    EXPECT_EQ(t, NIB_TYPE_Q4_K);
    EXPECT_EQ(nib_type_from_name("Iq4_Xs", &t), NIB_OK);
    EXPECT_EQ(t, NIB_TYPE_IQ4_XS);
    EXPECT_EQ(nib_type_from_name("Q4_2", &t), NIB_E_NOT_FOUND);
    EXPECT_EQ(nib_type_from_name("", &t), NIB_E_NOT_FOUND);
    EXPECT_EQ(nib_type_from_name("?", &t), NIB_E_NOT_FOUND);
    EXPECT_EQ(nib_type_from_name("Q4_K ", &t), NIB_E_NOT_FOUND);
    EXPECT_EQ(nib_type_from_name("Q4", &t), NIB_E_NOT_FOUND);
    EXPECT_EQ(nib_type_from_name(nullptr, &t), NIB_E_ARG);
}

TEST(QuantTable, RowBytes) {
    EXPECT_EQ(nib_type_row_bytes(NIB_TYPE_F32, 10), 40u);
    EXPECT_EQ(nib_type_row_bytes(NIB_TYPE_Q4_0, 64), 36u);
    EXPECT_EQ(nib_type_row_bytes(NIB_TYPE_Q4_K, 4096), 16u * 144u);
    EXPECT_EQ(nib_type_row_bytes(NIB_TYPE_Q1_0, 256), 36u);
    EXPECT_EQ(nib_type_row_bytes(NIB_TYPE_Q4_0, 33), 0u);      /* not a multiple */
    EXPECT_EQ(nib_type_row_bytes(NIB_TYPE_Q6_K, 128), 0u);
    EXPECT_EQ(nib_type_row_bytes(NIB_TYPE_F16, -2), 0u);
    EXPECT_EQ(nib_type_row_bytes(NIB_TYPE_F32, 0), 0u);
    EXPECT_EQ(nib_type_row_bytes(4, 32), 0u);                 /* removed id */
    /* 2^62 blocks of 8 bytes overflows 64 bits */
    EXPECT_EQ(nib_type_row_bytes(NIB_TYPE_F64, INT64_C(1) << 62), 0u);
    EXPECT_EQ(nib_type_row_bytes(NIB_TYPE_I8, INT64_MAX), (size_t)INT64_MAX);
    EXPECT_EQ(nib_type_row_bytes(NIB_TYPE_F32, INT64_C(1) << 62), 0u);
    EXPECT_EQ(nib_type_row_bytes(NIB_TYPE_F16, INT64_C(1) << 62), (size_t)1 << 63);
}

TEST(QuantDequantize, Errors) {
    std::vector<uint8_t> src(1024, 0);
    std::vector<float> dst(256, 1.0f);
    struct nib_error err = {};
    EXPECT_EQ(nib_dequantize(5, src.data(), dst.data(), 32, &err), NIB_E_ARG);
    EXPECT_EQ(err.status, NIB_E_ARG);
    EXPECT_NE(std::string(err.msg).find('5'), std::string::npos) << err.msg;
    EXPECT_EQ(nib_dequantize(NIB_TYPE_COUNT, src.data(), dst.data(), 32, &err), NIB_E_ARG);
    EXPECT_EQ(nib_dequantize(NIB_TYPE_IQ2_XXS, src.data(), dst.data(), 256, &err), NIB_E_UNSUPPORTED);
    EXPECT_NE(std::string(err.msg).find("IQ2_XXS"), std::string::npos) << err.msg;
    EXPECT_EQ(nib_dequantize(NIB_TYPE_Q4_K, src.data(), dst.data(), 100, &err), NIB_E_ARG);
    EXPECT_NE(std::string(err.msg).find("100"), std::string::npos) << err.msg;
    EXPECT_NE(std::string(err.msg).find("256"), std::string::npos) << err.msg;
    EXPECT_EQ(nib_dequantize(NIB_TYPE_F32, src.data(), dst.data(), -1, &err), NIB_E_ARG);
    EXPECT_EQ(nib_dequantize(NIB_TYPE_F32, nullptr, dst.data(), 4, &err), NIB_E_ARG);
    EXPECT_EQ(nib_dequantize(NIB_TYPE_Q4_K, src.data(), dst.data(), 100, nullptr), NIB_E_ARG);
    for (float v : dst) EXPECT_EQ(v, 1.0f);  /* nothing written on error */
    EXPECT_EQ(nib_dequantize(NIB_TYPE_F16, nullptr, nullptr, 0, &err), NIB_OK);
    EXPECT_EQ(nib_dequantize(NIB_TYPE_Q8_0, src.data(), dst.data(), 64, &err), NIB_OK);
    for (int i = 0; i < 64; i++) EXPECT_EQ(dst[(size_t)i], 0.0f);
    EXPECT_EQ(dst[64], 1.0f);
}
