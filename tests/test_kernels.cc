/*
 * test_kernels.cc — the CPU kernel table: type x variant x shape against the
 * scalar reference (kernels/cpu/dispatch.h).
 *
 * Variants: every entry of enum nib_cpu_variant; one this CPU or build cannot
 * run is skipped. "ref" checks the table against the type table itself.
 *
 * Activation quantization (Q8_0, Q8_1, Q8_K, F32, F16): byte-identical to the
 * reference, guard bytes after each output untouched.
 *
 * Dot products: the integer sum of each block is exact in every variant, so
 * only the float arithmetic differs: per-term products (at most 3 roundings)
 * and the order of the additions. With u = 2^-24 and S = sum over elements of
 * |w_e| * |a_e| (w split into its scale part and its min part, each taken in
 * absolute value, so S bounds the sum of |term| whatever the grouping), each
 * implementation is within (L + 12) u S of the exact value, L being the
 * longest chain of float additions: at most one per block and lane (nb, the
 * number of blocks, for quantized types; n/8 + 3 for F32/F16/BF16, whose
 * prompt-path dot keeps one 8-lane accumulator), plus 12 for products, the horizontal reductions (<= 8 adds) and the
 * final combinations. Hence |variant - ref| <= 2 (L + 12) u S. The test prints
 * the worst observed |diff| / (u S) per type.
 *
 * Matmul: the same bound for every (row, token) of nib_op_matmul with the
 * process's chosen variant (which picks rows8 / gemm_dot / vec_dot by shape),
 * the same bits for any thread count; guard floats after y untouched.
 *
 * Forward pass: ref and avx2 logits agree on real models. The variant is
 * chosen once per process (NIB_CPU), so the test re-runs this binary as a
 * child with NIB_CPU=ref and NIB_CPU=avx2 (KernelForward.DISABLED_DumpLogitsChild)
 * and compares what the children write. No test hook lives in the library.
 */
#include "nib.h"

#include "cpu_features.h"
#include "dispatch.h"
#include "fp16.h"
#include "ops_ref.h"
#include "quant_blocks.h"
#include "repack.h"
#include "kernel_test_util.h"
#include "test_util.h"
#include "type_traits.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

class KernelVariant : public ::testing::TestWithParam<int> {
protected:
    const struct nib_cpu_kernels *k = nullptr;
    void SetUp() override {
        const auto v = (enum nib_cpu_variant)GetParam();
        k = nib_cpu_kernels_for(v);
        if (!k) GTEST_SKIP() << "variant " << nib_cpu_variant_name(v) << " not available on this CPU/build";
    }
};

std::string variant_name(const ::testing::TestParamInfo<int> &info) {
    return nib_cpu_variant_name((enum nib_cpu_variant)info.param);
}

} // namespace

TEST(KernelDispatch, TablesAndChoice) {
    const struct nib_cpu_kernels *ref = ref_table();
    ASSERT_NE(ref, nullptr);
    EXPECT_STREQ(ref->name, "ref");
    for (int t = 0; t < NIB_TYPE_COUNT; t++) {
        EXPECT_EQ((void *)ref->vec_dot[t], (void *)nib_type_traits(t)->vec_dot) << nib_type_name(t);
        if (t != NIB_TYPE_Q8_0 && t != NIB_TYPE_Q8_1) {
            EXPECT_EQ((void *)ref->quantize_act[t], (void *)nib_type_traits(t)->from_float) << nib_type_name(t);
        }
    }
    const enum nib_cpu_variant v = nib_cpu_variant();
    EXPECT_TRUE(nib_cpu_variant_available(v));
    EXPECT_EQ(nib_cpu_kernels(), nib_cpu_kernels_for(v));
    EXPECT_STREQ(nib_cpu_kernels()->name, nib_cpu_variant_name(v));
    const char *env = getenv("NIB_CPU");
    if (!env || !*env) { /* auto: the best available, no note */
        EXPECT_EQ(nib_cpu_variant_note(), nullptr);
        for (int w = v + 1; w < NIB_CPU_VARIANT_COUNT; w++) EXPECT_FALSE(nib_cpu_variant_available((enum nib_cpu_variant)w));
    }
    const struct nib_cpu_features *f = nib_cpu_features();
    if (nib_cpu_variant_available(NIB_CPU_VARIANT_AVX2)) {
        EXPECT_TRUE(f->avx2 && f->fma && f->f16c && f->os_ymm);
    }
    if (nib_cpu_variant_available(NIB_CPU_VARIANT_AVX512)) {
        EXPECT_TRUE(nib_cpu_variant_available(NIB_CPU_VARIANT_AVX2));
        EXPECT_TRUE(f->avx512f && f->avx512bw && f->avx512vl && f->avx512vnni && f->os_zmm);
    }
    if (nib_cpu_variant_available(NIB_CPU_VARIANT_AMX)) {
        EXPECT_TRUE(nib_cpu_variant_available(NIB_CPU_VARIANT_AVX512));
        EXPECT_TRUE(f->amx_tile && f->amx_int8 && f->os_amx);
    }
    printf("[          ] CPU variant in use: %s%s%s\n", nib_cpu_variant_name(v), nib_cpu_variant_note() ? "; " : "",
           nib_cpu_variant_note() ? nib_cpu_variant_note() : "");
}

TEST_P(KernelVariant, QuantizeActByteIdentical) {
    const int types[] = { NIB_TYPE_Q8_0, NIB_TYPE_Q8_1, NIB_TYPE_Q8_K, NIB_TYPE_F32, NIB_TYPE_F16 };
    NibRng rng(0x51ab);
    for (int type : types) {
        ASSERT_NE(k->quantize_act[type], nullptr) << nib_type_name(type);
        const int64_t bs = nib_type_block_size(type);
        for (int64_t n : { bs, 2 * bs, 7 * bs, 4096 + bs, 4096 + 3 * bs }) {
            if (n % bs) continue;
            const int64_t n_rows = 12;
            std::vector<float> x = random_acts(n, n_rows, rng);
            /* Row 0: ties. Block maxima of exactly 127 make the multiplier
             * +-1, so k + 0.5 values sit exactly between two quants. */
            for (int64_t i = 0; i < n; i++) x[(size_t)i] = (float)((int64_t)(rng.next() % 200) - 100) + 0.5f;
            for (int64_t b = 0; b < n / bs; b++) x[(size_t)(b * bs)] = 127.0f;
            /* Row 1: the largest magnitude three times with both signs, twice
             * within 8 elements (Q8_K takes the sign of the first). */
            if (bs >= 32) {
                for (int64_t b = 0; b < n / bs; b++) {
                    const float m = (b & 1) ? 9.0f : -9.0f;
                    x[(size_t)(n + b * bs + 3)] = m;
                    x[(size_t)(n + b * bs + 6)] = -m;
                    x[(size_t)(n + b * bs + bs - 2)] = -m;
                }
            }
            /* Row 2: all zero. */
            std::fill_n(&x[(size_t)(2 * n)], n, 0.0f);
            size_t stride = 0;
            const std::vector<uint8_t> want = quantize_with(ref_table(), type, x.data(), n, n_rows, &stride);
            const std::vector<uint8_t> got = quantize_with(k, type, x.data(), n, n_rows, &stride);
            const size_t row = nib_type_row_bytes(type, n);
            for (int64_t r = 0; r < n_rows; r++) {
                const uint8_t *g = got.data() + (size_t)r * stride, *e = want.data() + (size_t)r * stride;
                EXPECT_EQ(memcmp(g, e, row), 0) << nib_type_name(type) << " n=" << n << " row " << r;
                EXPECT_TRUE(guards_intact(g + row, kGuardBytes)) << nib_type_name(type) << " n=" << n << " row " << r;
            }
        }
    }
}

TEST_P(KernelVariant, VecDotWithinBound) {
    NibRng rng(0xd07);
    for (const WeightType &wt : weight_types()) {
        ASSERT_NE(k->vec_dot[wt.type], nullptr) << nib_type_name(wt.type);
        const int pt = nib_type_traits(wt.type)->vec_dot_type;
        double worst = 0; /* |diff| / (u S) */
        for (int64_t n : row_lengths(wt.type)) {
            const int64_t n_rows = 6;
            const std::vector<uint8_t> w = random_weights(wt, n, n_rows, rng);
            const std::vector<float> x = random_acts(n, n_rows, rng);
            size_t stride = 0;
            const std::vector<uint8_t> xq = quantize_with(ref_table(), pt, x.data(), n, n_rows, &stride);
            const size_t wrow = nib_type_row_bytes(wt.type, n);
            for (int64_t r = 0; r < n_rows; r++) {
                const uint8_t *wr = w.data() + (size_t)r * wrow, *ar = xq.data() + (size_t)r * stride;
                float want = 0, got[4];
                memset(got, kGuard, sizeof(got));
                ref_table()->vec_dot[wt.type](n, &want, wr, ar);
                k->vec_dot[wt.type](n, got, wr, ar);
                const std::vector<float> a = to_float(pt, ar, n);
                const double S = abs_term_sum(wt, wr, n, a.data());
                const double diff = std::fabs((double)got[0] - (double)want);
                EXPECT_LE(diff, dot_bound(wt.type, n, S)) << nib_type_name(wt.type) << " n=" << n << " row " << r
                                                          << ": ref " << want << " got " << got[0] << " S " << S;
                EXPECT_TRUE(guards_intact((const uint8_t *)(got + 1), 3 * sizeof(float))) << nib_type_name(wt.type);
                if (S > 0) worst = std::max(worst, diff / (kU * S));
            }
        }
        printf("[          ] %-5s %s: worst |diff| = %.3g u S\n", k->name, nib_type_name(wt.type), worst);
    }
}

TEST_P(KernelVariant, MatmulMatchesReference) {
    NibRng rng(0x3a7);
    const bool chosen = k == nib_cpu_kernels();
    for (const WeightType &wt : weight_types()) {
        const int pt = nib_type_traits(wt.type)->vec_dot_type;
        const int64_t bs = nib_type_block_size(wt.type);
        struct Shape { int64_t n, n_out, n_tok; };
        std::vector<Shape> shapes;
        for (int64_t n : row_lengths(wt.type)) {
            shapes.push_back({ n, 1, 1 });
            shapes.push_back({ n, 7, 3 });
            shapes.push_back({ n, 129, 1 });
            shapes.push_back({ n, 16, 5 }); /* rows8 (GEMM order for 4 rows, GEMV for 1) and the tinyBLAS-order dot */
            shapes.push_back({ n, 24, 70 }); /* AVX-512 Q8_0 GEMM: tiles of 8 rows, a 64-row pass and a tail */
        }
        shapes.push_back({ 2 * bs, 4097, 2 });
        shapes.push_back({ 4096 + bs, 4097, 1 });
        for (const Shape &s : shapes) {
            const std::vector<uint8_t> w = random_weights(wt, s.n, s.n_out, rng);
            const std::vector<float> x = random_acts(s.n, s.n_tok, rng);
            size_t xrow = 0;
            const std::vector<uint8_t> xq = quantize_with(ref_table(), pt, x.data(), s.n, s.n_tok, &xrow);
            const size_t wrow = nib_type_row_bytes(wt.type, s.n), ny = (size_t)(s.n_out * s.n_tok);
            std::vector<float> want(ny), got(ny + 16);
            memset(got.data(), kGuard, got.size() * sizeof(float));
            loop_matmul(ref_table(), wt.type, w.data(), wrow, s.n, s.n_out, xq.data(), xrow, s.n_tok, want.data());
            if (chosen) /* the path choice by shape (rows8, gemm_dot, vec_dot) included */
                nib_op_matmul(wt.type, w.data(), wrow, nullptr, s.n, s.n_out, xq.data(), xrow, s.n_tok, got.data(), 0, 1);
            else
                loop_matmul(k, wt.type, w.data(), wrow, s.n, s.n_out, xq.data(), xrow, s.n_tok, got.data());
            EXPECT_TRUE(guards_intact((const uint8_t *)(got.data() + ny), 16 * sizeof(float)));
            int bad = 0;
            for (int64_t o = 0; o < s.n_out && bad < 3; o++) {
                for (int64_t t = 0; t < s.n_tok; t++) {
                    const size_t i = (size_t)(t * s.n_out + o);
                    const std::vector<float> a = to_float(pt, xq.data() + (size_t)t * xrow, s.n);
                    const double S = abs_term_sum(wt, w.data() + (size_t)o * wrow, s.n, a.data());
                    const double diff = std::fabs((double)got[i] - (double)want[i]);
                    if (diff > dot_bound(wt.type, s.n, S)) {
                        ADD_FAILURE() << nib_type_name(wt.type) << " n=" << s.n << " out=" << s.n_out << " row " << o
                                      << " tok " << t << ": ref " << want[i] << " got " << got[i];
                        bad++;
                    }
                }
                if (s.n_out > 200) o += 37; /* the bound is costly; sample big matrices */
            }
            if (!chosen) continue;
            /* bitwise equal for any thread count */
            for (int threads : { 2, 3 }) {
                std::vector<float> y(ny + 16);
                memset(y.data(), kGuard, y.size() * sizeof(float));
                nib_op_matmul(wt.type, w.data(), wrow, nullptr, s.n, s.n_out, xq.data(), xrow, s.n_tok, y.data(), 0, threads);
                EXPECT_EQ(memcmp(y.data(), got.data(), ny * sizeof(float)), 0)
                    << nib_type_name(wt.type) << " n=" << s.n << " out=" << s.n_out << " threads " << threads;
                EXPECT_TRUE(guards_intact((const uint8_t *)(y.data() + ny), 16 * sizeof(float)));
            }
        }
    }
}

/* Packed matrices (repack.h): the packed kernels give the same bits as the
 * row-wise rows8 kernels (both follow llama.cpp's repacked float order), for
 * any number of token rows (GEMM tiles of 4 and GEMV tails), in the paired
 * layout too (16-row kernels); row-wise, every token row equals a one-row
 * call; all stay within the bound of the reference; the repack keeps every
 * value. */
TEST(KernelPacked, SameBitsAsRows8) {
    const struct nib_cpu_kernels *k = nib_cpu_kernels();
    NibRng rng(0x5ac);
    int checked = 0;
    for (const WeightType &wt : weight_types()) {
        if (!k->packed8[wt.type]) continue;
        const int pt = nib_type_traits(wt.type)->vec_dot_type;
        const int64_t bs = nib_type_block_size(wt.type);
        for (int64_t n : { bs, 3 * bs, 4096 + bs })
            for (int64_t n_out : { 8, 16, 24, 48 }) /* 16 and 48: the paired layout where the variant has it */
                for (int64_t n_tok : { 1, 2, 3, 4, 5, 6, 7, 8, 9, 16, 17, 31, 45, 70 }) { /* amx: 16-row tiles (6+ tails), 64 a call */
                    ASSERT_NE(nib_repack_size(wt.type, n, n_out), 0u);
                    const std::vector<uint8_t> w = random_weights(wt, n, n_out, rng);
                    const std::vector<float> x = random_acts(n, n_tok, rng);
                    size_t xrow = 0;
                    const std::vector<uint8_t> xq = quantize_with(ref_table(), pt, x.data(), n, n_tok, &xrow);
                    const size_t wrow = nib_type_row_bytes(wt.type, n), ny = (size_t)(n_out * n_tok);
                    std::vector<uint8_t> packed(nib_repack_size(wt.type, n, n_out) + 64, kGuard);
                    nib_repack_groups(wt.type, w.data(), wrow, n, 0, n_out / 8, nib_op_packed_paired(wt.type, n_out), packed.data());
                    EXPECT_TRUE(guards_intact(packed.data() + packed.size() - 64, 64));
                    std::vector<float> rows(ny), pk(ny + 16), want(ny);
                    memset(pk.data(), kGuard, pk.size() * sizeof(float));
                    nib_op_matmul(wt.type, w.data(), wrow, nullptr, n, n_out, xq.data(), xrow, n_tok, rows.data(), 0, 2);
                    nib_op_matmul(wt.type, w.data(), wrow, packed.data(), n, n_out, xq.data(), xrow, n_tok, pk.data(), 0, 2);
                    EXPECT_EQ(memcmp(rows.data(), pk.data(), ny * sizeof(float)), 0)
                        << nib_type_name(wt.type) << " n=" << n << " out=" << n_out << " tok=" << n_tok;
                    EXPECT_TRUE(guards_intact((const uint8_t *)(pk.data() + ny), 16 * sizeof(float)));
                    /* row-wise: each token row as its own one-row call computes it */
                    std::vector<float> rw(ny), one(ny);
                    nib_op_matmul(wt.type, w.data(), wrow, packed.data(), n, n_out, xq.data(), xrow, n_tok, rw.data(),
                                  NIB_MATMUL_ROWWISE, 2);
                    for (int64_t t = 0; t < n_tok; t++)
                        nib_op_matmul(wt.type, w.data(), wrow, packed.data(), n, n_out, xq.data() + (size_t)t * xrow, xrow, 1,
                                      one.data() + t * n_out, 0, 1);
                    EXPECT_EQ(memcmp(rw.data(), one.data(), ny * sizeof(float)), 0)
                        << nib_type_name(wt.type) << " row-wise n=" << n << " out=" << n_out << " tok=" << n_tok;
                    loop_matmul(ref_table(), wt.type, w.data(), wrow, n, n_out, xq.data(), xrow, n_tok, want.data());
                    for (int64_t t = 0; t < n_tok; t++)
                        for (int64_t o = 0; o < n_out; o++) {
                            const size_t i = (size_t)(t * n_out + o);
                            const std::vector<float> a = to_float(pt, xq.data() + (size_t)t * xrow, n);
                            const double S = abs_term_sum(wt, w.data() + (size_t)o * wrow, n, a.data());
                            ASSERT_LE(std::fabs((double)pk[i] - (double)want[i]), dot_bound(wt.type, n, S))
                                << nib_type_name(wt.type) << " n=" << n << " row " << o << " tok " << t;
                        }
                    checked++;
                }
    }
    if (!checked) GTEST_SKIP() << "variant " << k->name << " has no packed kernels";
}

/* The tables that read one-row calls over a packed copy (packed16's pairs,
 * gemv16's units) as up to NIB_DECODE_STREAMS runs side by side
 * (decode_streams): each variant's own that has such entries (amx), and on
 * any AVX-512 VNNI CPU a copy of the avx512 table given the stream kernels
 * (the amx table's entries, built with the avx512 files). */
static std::vector<struct nib_cpu_kernels> stream_tables() {
    std::vector<struct nib_cpu_kernels> tables;
    for (int v = 0; v < NIB_CPU_VARIANT_COUNT; v++) {
        const struct nib_cpu_kernels *k = nib_cpu_kernels_for((enum nib_cpu_variant)v);
        if (!k) continue;
        for (int t = 0; t < NIB_TYPE_COUNT; t++)
            if (k->decode_streams[t]) {
                tables.push_back(*k);
                break;
            }
    }
#if defined(__x86_64__) || defined(_M_X64)
    if (const struct nib_cpu_kernels *k = nib_cpu_kernels_for(NIB_CPU_VARIANT_AVX512)) {
        struct nib_cpu_kernels copy = *k;
        copy.decode_streams[NIB_TYPE_Q4_0] = nib_packed16_streams_q4_0_q8_0_avx512;
        copy.decode_streams[NIB_TYPE_Q8_0] = nib_gemv16_streams_q8_0_q8_0_avx512;
        tables.push_back(copy);
    }
#endif
    return tables;
}

/* Through decode_streams every row keeps the bits of the unpacked matrix's
 * one-row call, for shares of 1 unit up to uneven runs, at 1-3 threads;
 * guards after y. */
TEST(KernelPacked, DecodeStreamsSameBits) {
    NibRng rng(0x57e);
    int checked = 0;
    for (const struct nib_cpu_kernels &table : stream_tables())
        for (const WeightType &wt : weight_types()) {
            const struct nib_cpu_kernels *k = &table;
            if (!k->decode_streams[wt.type]) continue;
            const int pt = nib_type_traits(wt.type)->vec_dot_type;
            const int64_t bs = nib_type_block_size(wt.type);
            for (int64_t n : { bs, 4096 + bs })
                for (int64_t n_out : { 16, 48, 176, 592 }) { /* 1, 3, 11 and 37 units */
                    const std::vector<uint8_t> w = random_weights(wt, n, n_out, rng);
                    const std::vector<float> x = random_acts(n, 1, rng);
                    size_t xrow = 0;
                    const std::vector<uint8_t> xq = quantize_with(ref_table(), pt, x.data(), n, 1, &xrow);
                    const size_t wrow = nib_type_row_bytes(wt.type, n), ny = (size_t)n_out;
                    std::vector<uint8_t> packed(nib_repack_size(wt.type, n, n_out));
                    nib_repack_groups(wt.type, w.data(), wrow, n, 0, n_out / 8, k->packed16[wt.type] != nullptr, packed.data());
                    std::vector<float> rows(ny);
                    nib_op_matmul_with(k, wt.type, w.data(), wrow, nullptr, n, n_out, xq.data(), xrow, 1, rows.data(), 0, 1);
                    for (int threads : { 1, 2, 3 }) {
                        std::vector<float> got(ny + 16);
                        memset(got.data(), kGuard, got.size() * sizeof(float));
                        nib_op_matmul_with(k, wt.type, w.data(), wrow, packed.data(), n, n_out, xq.data(), xrow, 1, got.data(), 0,
                                           threads);
                        EXPECT_EQ(memcmp(rows.data(), got.data(), ny * sizeof(float)), 0)
                            << k->name << " " << nib_type_name(wt.type) << " n=" << n << " out=" << n_out
                            << " threads=" << threads;
                        EXPECT_TRUE(guards_intact((const uint8_t *)(got.data() + ny), 16 * sizeof(float)));
                    }
                    checked++;
                }
        }
    if (!checked) GTEST_SKIP() << "this CPU runs no decode-stream kernels (they need AVX-512 VNNI)";
}

/* The amx variant's bf16 prompt GEMM (gemm_bf16_amx.h) for each type it
 * takes: within its rounding of the exact sum (each weight and activation
 * value rounded to bf16, unit roundoff 2^-8 each, so 2^-7 of each term, plus
 * fp32 sums), over K blocks
 * with a short last one and token tiles with short tails, guards after y;
 * a row-wise batch of as many rows keeps one-row calls' bits. */
TEST(KernelBf16, WithinRoundingOfExact) {
    const struct nib_cpu_kernels *k = nib_cpu_kernels();
    if (!k->bf16_gemm) GTEST_SKIP() << "variant " << k->name << " has no bf16 prompt GEMM";
    NibRng rng(0xbf16);
    int checked = 0;
    for (const WeightType &wt : weight_types()) {
        if (!k->bf16_gemm(wt.type, true)) continue;
        const int pt = nib_type_traits(wt.type)->vec_dot_type;
        for (int64_t n : { (int64_t)256, (int64_t)1024 + 512 /* 48 chunks: one K block and a short one */ })
            for (int64_t n_out : { 32, 96 })
                for (int64_t n_tok : { (int64_t)k->bf16_min_rows[wt.type], (int64_t)k->bf16_min_rows[wt.type] + 17 }) {
                    const std::vector<uint8_t> w = random_weights(wt, n, n_out, rng);
                    const std::vector<float> x = random_acts(n, n_tok, rng);
                    size_t xrow = 0;
                    const std::vector<uint8_t> xq = quantize_with(k, pt, x.data(), n, n_tok, &xrow);
                    const size_t wrow = nib_type_row_bytes(wt.type, n), ny = (size_t)(n_out * n_tok);
                    std::vector<uint8_t> packed; /* as the model packs it (the panel then comes from the copy) */
                    if (nib_op_packs(wt.type, n_out)) {
                        packed.resize(nib_repack_size(wt.type, n, n_out));
                        nib_repack_groups(wt.type, w.data(), wrow, n, 0, n_out / 8, nib_op_packed_paired(wt.type, n_out), packed.data());
                    }
                    const void *pk = packed.empty() ? nullptr : packed.data();
                    std::vector<float> y(ny + 16);
                    memset(y.data(), kGuard, y.size() * sizeof(float));
                    nib_op_matmul(wt.type, w.data(), wrow, pk, n, n_out, xq.data(), xrow, n_tok, y.data(), 0, 2);
                    EXPECT_TRUE(guards_intact((const uint8_t *)(y.data() + ny), 16 * sizeof(float)));
                    double worst = 0;
                    for (int64_t t = 0; t < n_tok; t++) {
                        const std::vector<float> a = to_float(pt, xq.data() + (size_t)t * xrow, n);
                        for (int64_t o = 0; o < n_out; o++) {
                            const std::vector<float> wf = to_float(wt.type, w.data() + (size_t)o * wrow, n);
                            double exact = 0;
                            for (int64_t i = 0; i < n; i++) exact += (double)wf[(size_t)i] * (double)a[(size_t)i];
                            const double S = abs_term_sum(wt, w.data() + (size_t)o * wrow, n, a.data());
                            const double err = std::fabs((double)y[(size_t)(t * n_out + o)] - exact);
                            ASSERT_LE(err, (0x1p-7 + (double)(n + 16) * kU) * S * 1.01)
                                << nib_type_name(wt.type) << " n=" << n << " out=" << n_out << " tok=" << n_tok << " row " << o
                                << " token " << t;
                            if (S > 0) worst = std::max(worst, err / S);
                        }
                    }
                    /* row-wise: each token row as its own one-row call computes it */
                    std::vector<float> rw(ny), one(ny);
                    nib_op_matmul(wt.type, w.data(), wrow, pk, n, n_out, xq.data(), xrow, n_tok, rw.data(), NIB_MATMUL_ROWWISE, 2);
                    for (int64_t t = 0; t < n_tok; t++)
                        nib_op_matmul(wt.type, w.data(), wrow, pk, n, n_out, xq.data() + (size_t)t * xrow, xrow, 1, one.data() + t * n_out, 0, 1);
                    EXPECT_EQ(memcmp(rw.data(), one.data(), ny * sizeof(float)), 0) << nib_type_name(wt.type) << " row-wise n=" << n;
                    printf("[          ] %s n=%ld out=%ld tok=%ld: worst |err| = %.2g S\n", nib_type_name(wt.type), (long)n, (long)n_out,
                           (long)n_tok, worst);
                    checked++;
                }
    }
    EXPECT_EQ(checked, 48); /* Q8_0, Q2_K, Q3_K, Q4_K, Q5_K and Q6_K */
}

/* The Q8_0 prompt GEMMs' activation terms (dispatch.h's nib_gemm8_fn): per
 * token row and block, -128 * the quants' sum and the scale as a float. */
static void q8_0_block_terms(const std::vector<uint8_t> &xq, size_t xrow, int64_t nb, int n_tok, std::vector<int32_t> *ybase,
                             std::vector<float> *dyf) {
    ybase->assign((size_t)(nb * n_tok), 0);
    dyf->assign((size_t)(nb * n_tok), 0.0f);
    for (int t = 0; t < n_tok; t++)
        for (int64_t b = 0; b < nb; b++) {
            const nib_block_q8_0 *a = (const nib_block_q8_0 *)(xq.data() + (size_t)t * xrow) + b;
            int32_t sum = 0;
            for (int i = 0; i < 32; i++) sum += a->qs[i];
            (*ybase)[(size_t)(t * nb + b)] = -128 * sum;
            (*dyf)[(size_t)(t * nb + b)] = nib_fp16_to_fp32(a->d);
        }
}

/* The 16-row Q8_0 prompt GEMM (AVX-512) gives gemm8's bits on each half,
 * for every tile size (1-8 tokens and tails) and row length. */
TEST(KernelGemm16, SameBitsAsGemm8) {
    const struct nib_cpu_kernels *k = nib_cpu_kernels();
    if (!k->gemm16[NIB_TYPE_Q8_0] || !k->gemm8[NIB_TYPE_Q8_0])
        GTEST_SKIP() << "variant " << k->name << " has no 16-row Q8_0 GEMM";
    NibRng rng(0x516);
    const WeightType *q8 = nullptr;
    for (const WeightType &wt : weight_types())
        if (wt.type == NIB_TYPE_Q8_0) q8 = &wt;
    ASSERT_NE(q8, nullptr);
    for (int64_t n : { 32, 96, 4096 + 32, 14336 + 32 }) /* amx: odd and even block counts, long rows */
        for (int n_tok : { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 16, 17, 31, 40 }) { /* amx: 16-row tiles and short tails */
            const int64_t nb = n / 32;
            const std::vector<uint8_t> w = random_weights(*q8, n, 16, rng);
            const std::vector<float> x = random_acts(n, n_tok, rng);
            size_t xrow = 0;
            const std::vector<uint8_t> xq = quantize_with(ref_table(), NIB_TYPE_Q8_0, x.data(), n, n_tok, &xrow);
            std::vector<int32_t> ybase;
            std::vector<float> dyf;
            q8_0_block_terms(xq, xrow, nb, n_tok, &ybase, &dyf);
            const size_t wrow = nib_type_row_bytes(NIB_TYPE_Q8_0, n);
            std::vector<uint8_t> scratch(NIB_GEMM16_SCRATCH(n) + 64);
            void *sp = (void *)(((uintptr_t)scratch.data() + 63) & ~(uintptr_t)63);
            std::vector<float> y8((size_t)(16 * n_tok)), y16((size_t)(16 * n_tok) + 16);
            memset(y16.data(), kGuard, y16.size() * sizeof(float));
            for (int h = 0; h < 2; h++)
                k->gemm8[NIB_TYPE_Q8_0](n, w.data() + (size_t)(8 * h) * wrow, wrow, xq.data(), xrow, n_tok, ybase.data(),
                                        dyf.data(), y8.data() + 8 * h, 16, sp);
            k->gemm16[NIB_TYPE_Q8_0](n, w.data(), wrow, xq.data(), xrow, n_tok, ybase.data(), dyf.data(), y16.data(), 16, sp);
            EXPECT_EQ(memcmp(y8.data(), y16.data(), y8.size() * sizeof(float)), 0) << "n=" << n << " tok=" << n_tok;
            EXPECT_TRUE(guards_intact((const uint8_t *)(y16.data() + 16 * n_tok), 16 * sizeof(float)));
        }
}

/* Every variant's 8-row Q8_0 prompt GEMM (AVX2: maddubs with the sign
 * trick, 4-row tiles; AVX-512: vpdpbusd on flipped quants, 8-row tiles)
 * gives the block-order formula's bits: per block the exact integer sum,
 * then acc = fma((float)isum, d_w * d_y, acc). Weights include -128 (|w|
 * = 128 in maddubs), activations +-127 (the quantizer's extremes). */
TEST(KernelGemm8, BlockOrderBits) {
    NibRng rng(0x6e8);
    const WeightType *q8 = nullptr;
    for (const WeightType &wt : weight_types())
        if (wt.type == NIB_TYPE_Q8_0) q8 = &wt;
    ASSERT_NE(q8, nullptr);
    int checked = 0;
    for (int v = 0; v < NIB_CPU_VARIANT_COUNT; v++) {
        const struct nib_cpu_kernels *k = nib_cpu_kernels_for((enum nib_cpu_variant)v);
        if (!k || !k->gemm8[NIB_TYPE_Q8_0]) continue;
        for (int64_t n : { 32, 96, 4096 + 32 })
            for (int n_tok : { 1, 2, 3, 4, 5, 7, 8, 9, 13 }) {
                const int64_t nb = n / 32;
                std::vector<uint8_t> w = random_weights(*q8, n, 8, rng);
                const size_t wrow = nib_type_row_bytes(NIB_TYPE_Q8_0, n);
                for (int r = 0; r < 8; r++) ((nib_block_q8_0 *)(w.data() + (size_t)r * wrow))[nb - 1].qs[r] = -128;
                std::vector<float> x = random_acts(n, n_tok, rng);
                x[0] = 100.0f, x[1] = -100.0f; /* token 0, block 0: +-127 */
                size_t xrow = 0;
                const std::vector<uint8_t> xq = quantize_with(ref_table(), NIB_TYPE_Q8_0, x.data(), n, n_tok, &xrow);
                std::vector<int32_t> ybase;
                std::vector<float> dyf, want((size_t)(8 * n_tok));
                q8_0_block_terms(xq, xrow, nb, n_tok, &ybase, &dyf);
                for (int r = 0; r < 8; r++)
                    for (int t = 0; t < n_tok; t++) {
                        const nib_block_q8_0 *wr = (const nib_block_q8_0 *)(w.data() + (size_t)r * wrow);
                        const nib_block_q8_0 *a = (const nib_block_q8_0 *)(xq.data() + (size_t)t * xrow);
                        float acc = 0.0f;
                        for (int64_t b = 0; b < nb; b++) {
                            int32_t isum = 0;
                            for (int i = 0; i < 32; i++) isum += wr[b].qs[i] * a[b].qs[i];
                            acc = std::fma((float)isum, nib_fp16_to_fp32(wr[b].d) * dyf[(size_t)(t * nb + b)], acc);
                        }
                        want[(size_t)(t * 8 + r)] = acc;
                    }
                std::vector<uint8_t> scratch(NIB_GEMM8_SCRATCH(n) + 64);
                void *sp = (void *)(((uintptr_t)scratch.data() + 63) & ~(uintptr_t)63);
                std::vector<float> got((size_t)(8 * n_tok) + 16);
                memset(got.data(), kGuard, got.size() * sizeof(float));
                k->gemm8[NIB_TYPE_Q8_0](n, w.data(), wrow, xq.data(), xrow, n_tok, ybase.data(), dyf.data(), got.data(), 8, sp);
                EXPECT_EQ(memcmp(want.data(), got.data(), want.size() * sizeof(float)), 0)
                    << k->name << " n=" << n << " tok=" << n_tok;
                EXPECT_TRUE(guards_intact((const uint8_t *)(got.data() + 8 * n_tok), 16 * sizeof(float)));
                checked++;
            }
    }
    if (!checked) GTEST_SKIP() << "no variant on this CPU has a Q8_0 prompt GEMM (they need AVX2)";
}

/* Decode: a one-token matmul of every type llama.cpp does not repack gives
 * each row's vec_dot bits whichever kernel the variant picks (dot8, and
 * gemv16 over a packed copy, for Q8_0; gemv16 for Q5_K and Q6_K), and so does a
 * row-wise batch, row by row; a plain batch over a packed copy gives what
 * it gives over the rows. */
TEST(KernelDecode, OneTokenMatmulIsVecDot) {
    const struct nib_cpu_kernels *k = nib_cpu_kernels();
    NibRng rng(0x1d0c);
    for (const WeightType &wt : weight_types()) {
        if (k->rows8[wt.type] || k->packed8[wt.type]) continue; /* llama.cpp's repacked GEMV order */
        const int pt = nib_type_traits(wt.type)->vec_dot_type;
        const int64_t bs = nib_type_block_size(wt.type);
        for (int64_t n : { 8 * bs, 4096 + bs })
            for (int64_t n_out : { 40, 48 }) {
                const std::vector<uint8_t> w = random_weights(wt, n, n_out, rng);
                const size_t wrow = nib_type_row_bytes(wt.type, n);
                std::vector<uint8_t> packed;
                if (nib_op_packs(wt.type, n_out)) {
                    packed.resize(nib_repack_size(wt.type, n, n_out));
                    nib_repack_groups(wt.type, w.data(), wrow, n, 0, n_out / 8, nib_op_packed_paired(wt.type, n_out), packed.data());
                }
                const int n_tok = 3;
                const std::vector<float> x = random_acts(n, n_tok, rng);
                size_t xrow = 0;
                const std::vector<uint8_t> xq = quantize_with(k, pt, x.data(), n, n_tok, &xrow);
                std::vector<float> one((size_t)n_out), rw((size_t)(n_out * n_tok));
                nib_op_matmul(wt.type, w.data(), wrow, packed.empty() ? nullptr : packed.data(), n, n_out, xq.data(), xrow, n_tok,
                              rw.data(), NIB_MATMUL_ROWWISE, 2);
                /* a plain batch reads the packed copy with the bits it gives over the rows
                 * (but unit_gemm's block order: KernelUnitGemm) */
                if (!packed.empty() && !(k->unit_gemm[wt.type] && n_tok >= k->unit_gemm_min_tokens[wt.type])) {
                    std::vector<float> rows((size_t)(n_out * n_tok)), pk((size_t)(n_out * n_tok));
                    nib_op_matmul(wt.type, w.data(), wrow, nullptr, n, n_out, xq.data(), xrow, n_tok, rows.data(), 0, 2);
                    nib_op_matmul(wt.type, w.data(), wrow, packed.data(), n, n_out, xq.data(), xrow, n_tok, pk.data(), 0, 2);
                    EXPECT_EQ(memcmp(rows.data(), pk.data(), rows.size() * sizeof(float)), 0)
                        << nib_type_name(wt.type) << " batch n=" << n << " out=" << n_out;
                }
                for (int t = 0; t < n_tok; t++) {
                    nib_op_matmul(wt.type, w.data(), wrow, packed.empty() ? nullptr : packed.data(), n, n_out,
                                  xq.data() + (size_t)t * xrow, xrow, 1, one.data(), 0, 2);
                    for (int64_t o = 0; o < n_out; o++) {
                        float want;
                        k->vec_dot[wt.type](n, &want, w.data() + (size_t)o * wrow, xq.data() + (size_t)t * xrow);
                        ASSERT_EQ(memcmp(&one[(size_t)o], &want, 4), 0) << one[(size_t)o] << " vs " << want << " "
                            << nib_type_name(wt.type) << " n=" << n << " out=" << n_out << " row " << o << " tok " << t;
                        ASSERT_EQ(memcmp(&rw[(size_t)(t * n_out + o)], &want, 4), 0)
                            << nib_type_name(wt.type) << " row-wise n=" << n << " out=" << n_out << " row " << o << " tok " << t;
                    }
                }
            }
    }
}

/* nib_op_quantize_rows runs the chosen table's quantizers; row gaps stay untouched. */
TEST(KernelDispatch, QuantizeRowsUsesTable) {
    NibRng rng(0x9e1);
    for (int type : { NIB_TYPE_Q8_0, NIB_TYPE_Q8_1, NIB_TYPE_Q8_K, NIB_TYPE_F32, NIB_TYPE_F16 }) {
        const int64_t n = 4096 + nib_type_block_size(type), n_tok = 5;
        const std::vector<float> x = random_acts(n, n_tok, rng);
        size_t stride = 0;
        const std::vector<uint8_t> want = quantize_with(nib_cpu_kernels(), type, x.data(), n, n_tok, &stride);
        std::vector<uint8_t> got(want.size(), kGuard);
        nib_op_quantize_rows(type, x.data(), n, n_tok, got.data(), stride);
        EXPECT_EQ(got, want) << nib_type_name(type);
    }
}

INSTANTIATE_TEST_SUITE_P(Kernels, KernelVariant,
                         ::testing::Values((int)NIB_CPU_VARIANT_REF, (int)NIB_CPU_VARIANT_AVX2, (int)NIB_CPU_VARIANT_NEON,
                                           (int)NIB_CPU_VARIANT_AVX512, (int)NIB_CPU_VARIANT_AMX),
                         variant_name);

/* ------------------------------------------------ forward pass, ref vs avx2 */

namespace {

const char *kDumpEnv = "NIB_TEST_KERNELS_DUMP";  /* child: output file */
const char *kModelEnv = "NIB_TEST_KERNELS_MODEL"; /* child: model path */

/* The child's logits: a prompt of 9 tokens in one batch (every position
 * wants logits), then 6 one-token decodes; fixed token ids, no sampling. */
void dump_logits(const char *model_path, const char *out_path) {
    nib_model *m = nullptr;
    nib_context *c = nullptr;
    nib_error err = {};
    ASSERT_EQ(nib_model_load(model_path, nullptr, &m, &err), NIB_OK) << err.msg;
    nib_context_params p = nib_context_default_params();
    p.n_ctx = 64;
    p.n_threads = 1;
    ASSERT_EQ(nib_context_new(m, &p, &c, &err), NIB_OK) << err.msg;
    const int32_t n_vocab = nib_model_n_vocab(m);
    FILE *f = fopen(out_path, "wb");
    ASSERT_NE(f, nullptr) << out_path;
    fprintf(f, "%s\n", nib_cpu_kernels()->name);
    std::vector<int32_t> toks;
    for (int32_t i = 0; i < 9; i++) toks.push_back((int32_t)((1 + 37 * i * i + 11 * i) % n_vocab));
    std::vector<int8_t> want(toks.size(), 1);
    nib_batch b = { (int32_t)toks.size(), toks.data(), nullptr, nullptr, want.data(), 0 };
    ASSERT_EQ(nib_decode(c, &b, &err), NIB_OK) << err.msg;
    for (int32_t i = 0; i < b.n; i++) fwrite(nib_context_logits(c, i), sizeof(float), (size_t)n_vocab, f);
    for (int32_t s = 0; s < 6; s++) {
        int32_t t = (int32_t)((5 + 101 * s) % n_vocab);
        int8_t w = 1;
        nib_batch one = { 1, &t, nullptr, nullptr, &w, 0 };
        ASSERT_EQ(nib_decode(c, &one, &err), NIB_OK) << err.msg;
        fwrite(nib_context_logits(c, 0), sizeof(float), (size_t)n_vocab, f);
    }
    fclose(f);
    nib_context_free(c);
    nib_model_free(m);
}

std::string self_exe() {
    char buf[4096];
    const ssize_t len = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
    if (len <= 0) return "";
    buf[len] = 0;
    return buf;
}

/* Runs the child with NIB_CPU=variant; returns the variant it reports and the logits. */
bool run_child(const std::string &model, const char *variant, std::string *used, std::vector<float> *logits) {
    const std::string out = nib_test_temp_path(std::string("kernels-logits-") + variant + ".bin");
    const std::string cmd = std::string("env -u GTEST_OUTPUT -u GTEST_SHARD_INDEX -u GTEST_TOTAL_SHARDS NIB_CPU=") +
                            variant + " " + kDumpEnv + "='" + out + "' " + kModelEnv + "='" + model + "' '" + self_exe() +
                            "' --gtest_filter=KernelForward.DISABLED_DumpLogitsChild --gtest_also_run_disabled_tests >/dev/null 2>&1";
    if (system(cmd.c_str()) != 0) return false;
    std::vector<uint8_t> raw = nib_test_read_file(out);
    remove(out.c_str());
    const auto nl = std::find(raw.begin(), raw.end(), (uint8_t)'\n');
    if (nl == raw.end()) return false;
    used->assign(raw.begin(), nl);
    const size_t off = (size_t)(nl - raw.begin()) + 1;
    logits->resize((raw.size() - off) / sizeof(float));
    memcpy(logits->data(), raw.data() + off, logits->size() * sizeof(float));
    return !logits->empty();
}

} // namespace

/* DISABLED_: not a test of its own, so normal runs neither run nor list it as skipped. */
TEST(KernelForward, DISABLED_DumpLogitsChild) {
    const char *out = getenv(kDumpEnv), *model = getenv(kModelEnv);
    if (!out || !model) GTEST_SKIP() << "helper of KernelForward.RefAndAvx2LogitsAgree; runs only in its child processes";
    dump_logits(model, out);
}

/* Bound: the golden test's quantized-model tolerance, max(5e-2, 1e-2 * S)
 * with S the largest |logit| (a different summation order may flip one
 * 8-bit activation rounding, moving a logit by ~1e-2 * S); the measured
 * worst case is printed. */
TEST(KernelForward, RefAndAvx2LogitsAgree) {
    if (!nib_cpu_variant_available(NIB_CPU_VARIANT_AVX2)) GTEST_SKIP() << "no AVX2 on this CPU/build";
    std::vector<std::string> models = { std::string(NIB_SOURCE_DIR) + "/models/stories260K-q8_0.gguf" };
    if (nib_test_have_shared()) {
        models.push_back(nib_test_shared_dir() + "/models/synth/llama-q4_0.gguf");
        models.push_back(nib_test_shared_dir() + "/models/synth/llama-q4km.gguf");
    }
    for (const std::string &model : models) {
        std::string used_ref, used_avx2;
        std::vector<float> ref, avx2;
        ASSERT_TRUE(run_child(model, "ref", &used_ref, &ref)) << model;
        ASSERT_TRUE(run_child(model, "avx2", &used_avx2, &avx2)) << model;
        EXPECT_EQ(used_ref, "ref");
        EXPECT_EQ(used_avx2, "avx2");
        ASSERT_EQ(ref.size(), avx2.size()) << model;
        float S = 0, worst = 0;
        for (float v : ref) S = std::max(S, std::fabs(v));
        for (size_t i = 0; i < ref.size(); i++) worst = std::max(worst, std::fabs(ref[i] - avx2[i]));
        /* The variants sum floats in different orders; ~1e-7 relative differences
         * occasionally flip the 8-bit rounding of an activation, which moves a logit
         * by up to ~1e-2*S (see test_forward_golden.cc), and decode steps compound
         * it: twice the golden tolerance. A kernel bug shows as O(S). */
        const float tol = std::max(5e-2f, 2e-2f * S);
        EXPECT_LE(worst, tol) << model;
        printf("[          ] %s: max |logit(ref) - logit(avx2)| = %.3g (max |logit| %.3g, bound %.3g)\n",
               model.substr(model.rfind('/') + 1).c_str(), worst, S, tol);
        if (nib_cpu_variant_available(NIB_CPU_VARIANT_AVX512)) {
            /* VNNI gives AVX2's integer sums: the same bits, except where the
             * Q8_0 prompt GEMM's float order applies (Q8_0 models); unit_gemm
             * (Q6_K here) takes the same batches on both from 5 rows, and
             * avx512 leaves Q5_K and batches of 2-5 Q4_1/Q5_0/Q5_1 rows to
             * gemv16 (none in these models) */
            std::string used_512;
            std::vector<float> v512;
            ASSERT_TRUE(run_child(model, "avx512", &used_512, &v512)) << model;
            EXPECT_EQ(used_512, "avx512");
            if (model.find("q8_0") == std::string::npos) {
                EXPECT_TRUE(v512 == avx2) << model << ": avx512 logits differ from avx2's";
            } else {
                float w512 = 0;
                for (size_t i = 0; i < v512.size(); i++) w512 = std::max(w512, std::fabs(v512[i] - avx2[i]));
                EXPECT_LE(w512, tol) << model;
                printf("[          ] %s: max |logit(avx512) - logit(avx2)| = %.3g\n",
                       model.substr(model.rfind('/') + 1).c_str(), w512);
            }
        }
    }
}
