/*
 * test_kernels_units.cc — matrices packed in 16-row units (repack.h): the
 * same bits as over the rows where the kernels share an order, and the x86
 * variants' unit_gemm (units_gemm_amx.c, units_gemm_avx2.c) against a
 * scalar loop of its block order. Helpers: kernel_test_util.h.
 */
#include "nib.h"

#include "dispatch.h"
#include "fp16.h"
#include "kernel_test_util.h"
#include "ops_ref.h"
#include "quant_blocks.h"
#include "repack.h"
#include "type_traits.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

/* A matrix packed in 16-row units (repack.h: Q8_0, Q4_1, Q5_0, Q5_1, Q5_K,
 * Q6_K in variants with gemv16) gives under nib_op_matmul the bits it gives
 * over the rows: one-row calls (gemv16 against vec_dot / dot8), batches
 * (Q8_0: gemm16 from the units and the amx variant's tiles; the others:
 * gemv16 against dot4), row-wise batches; guards after the copy and after
 * y. Skipped: the batches that only the copy sends to the bf16 GEMM
 * (KernelBf16) or to the variant's unit_gemm (KernelUnitGemm). Q8_0's
 * copy is also read back value by value (the K types' values show in the
 * bits with 12 token counts). */
TEST(KernelPackedUnits, SameBitsAsRows) {
    const struct nib_cpu_kernels *k = nib_cpu_kernels();
    NibRng rng(0x8016);
    for (const WeightType &wt : weight_types()) {
        const int type = wt.type;
        if (!k->gemv16[type]) continue;
        const int64_t bs = nib_type_block_size(type);
        EXPECT_FALSE(nib_op_packs(type, 24));
        EXPECT_EQ(nib_repack_size(type, 2 * bs, 24), 0u);
        for (int64_t n : { bs, 3 * bs, 4096 + bs })
            for (int64_t n_out : { 16, 48, 64 }) { /* 64: the bf16 GEMM's 32-row panels */
                ASSERT_TRUE(nib_op_packs(type, n_out));
                const std::vector<uint8_t> w = random_weights(wt, n, n_out, rng);
                const size_t wrow = nib_type_row_bytes(type, n), ps = nib_repack_size(type, n, n_out);
                if (type != NIB_TYPE_Q5_K) { /* Q5_K's scales are unpacked */
                    ASSERT_EQ(ps, wrow * (size_t)n_out);
                }
                std::vector<uint8_t> packed(ps + 64, kGuard);
                nib_repack_groups(type, w.data(), wrow, n, 0, n_out / 8, 0, packed.data());
                EXPECT_TRUE(guards_intact(packed.data() + ps, 64));
                const int64_t nb = n / bs;
                for (int64_t o = 0; type == NIB_TYPE_Q8_0 && o < n_out; o++)
                    for (int64_t b = 0; b < nb; b++) {
                        const nib_block_q8_0 *x = (const nib_block_q8_0 *)(w.data() + (size_t)o * wrow) + b;
                        const nib_block_q8_0x16 *u = (const nib_block_q8_0x16 *)packed.data() + (size_t)(o / 16 * nb + b);
                        ASSERT_EQ(u->d[o % 16], x->d);
                        for (int i = 0; i < 32; i++)
                            ASSERT_EQ((int8_t)(u->qs[64 * (i / 4) + 4 * (o % 16) + i % 4] ^ 0x80), x->qs[i]) << "row " << o << " quant " << i;
                    }
                const int pt = nib_type_traits(type)->vec_dot_type;
                for (int64_t n_tok : { 1, 2, 3, 7, 8, 9, 10, 16, 17, 40, 96, 113 }) {
                    const std::vector<float> x = random_acts(n, n_tok, rng);
                    size_t xrow = 0;
                    const std::vector<uint8_t> xq = quantize_with(ref_table(), pt, x.data(), n, n_tok, &xrow);
                    const size_t ny = (size_t)(n_out * n_tok);
                    for (int flags : { 0, (int)NIB_MATMUL_ROWWISE, (int)NIB_MATMUL_INT_GEMM }) {
                        /* a bf16 GEMM only from the copy (Q5_K): KernelBf16 checks it */
                        if (!flags && k->bf16_gemm && n_tok >= k->bf16_min_rows[type] && n_out % 32 == 0 && k->bf16_gemm(type, true) &&
                            !k->bf16_gemm(type, false))
                            continue;
                        /* unit_gemm's block order, only from the copy: KernelUnitGemm checks it */
                        if (!(flags & NIB_MATMUL_ROWWISE) && k->unit_gemm[type] && n_tok >= k->unit_gemm_min_tokens[type]) continue;
                        std::vector<float> rows(ny), pk(ny + 16);
                        memset(pk.data(), kGuard, pk.size() * sizeof(float));
                        nib_op_matmul(type, w.data(), wrow, nullptr, n, n_out, xq.data(), xrow, n_tok, rows.data(), flags, 2);
                        nib_op_matmul(type, w.data(), wrow, packed.data(), n, n_out, xq.data(), xrow, n_tok, pk.data(), flags, 2);
                        EXPECT_EQ(memcmp(rows.data(), pk.data(), ny * sizeof(float)), 0) << nib_type_name(type) << " n=" << n
                                                                                           << " out=" << n_out << " tok=" << n_tok
                                                                                           << " flags=" << flags;
                        EXPECT_TRUE(guards_intact((const uint8_t *)(pk.data() + ny), 16 * sizeof(float)));
                    }
                }
            }
    }
}

namespace {

/* Weight value i (0..31) of a Q4_1 / Q5_0 / Q5_1 block as an integer: the
 * nibble, the fifth bit (bit i of qh), Q5_0's less 16. */
int legacy_quant(int type, const uint8_t *block, int i) {
    const uint8_t *qs = type == NIB_TYPE_Q4_1   ? ((const nib_block_q4_1 *)block)->qs
                        : type == NIB_TYPE_Q5_0 ? ((const nib_block_q5_0 *)block)->qs
                                                : ((const nib_block_q5_1 *)block)->qs;
    int q = i < 16 ? qs[i] & 15 : qs[i - 16] >> 4;
    if (type == NIB_TYPE_Q4_1) return q;
    uint32_t qh;
    memcpy(&qh, type == NIB_TYPE_Q5_0 ? ((const nib_block_q5_0 *)block)->qh : ((const nib_block_q5_1 *)block)->qh, 4);
    q |= (int)((qh >> i) & 1) << 4;
    return type == NIB_TYPE_Q5_0 ? q - 16 : q;
}

/* Q5_K in the order of Q4_K's repacked GEMM (packed_amx.c): per pair of
 * sub-blocks isum = sc * dot + sc' * dot' and acc = fma(isum, d_w * d_y,
 * acc); the mins' imin = m * (bsums of the sub-block) + m' * (...) and
 * accm = fma(imin, dmin_w * d_y, accm); acc - accm. */
float q5_K_gemm_order(const uint8_t *w, const uint8_t *x, int64_t n) {
    float acc = 0.0f, accm = 0.0f;
    for (int64_t b = 0; b < n / 256; b++) {
        const nib_block_q5_K *blk = (const nib_block_q5_K *)w + b;
        const nib_block_q8_K *a = (const nib_block_q8_K *)x + b;
        const float dw = nib_fp16_to_fp32(blk->d), dmw = nib_fp16_to_fp32(blk->dmin);
        for (int p = 0; p < 4; p++) {
            int32_t isum = 0, imin = 0;
            for (int h = 0; h < 2; h++) {
                const int s = 2 * p + h;
                uint8_t sc, m;
                nib_q4_K_scale_min(s, blk->scales, &sc, &m);
                int32_t dot = 0;
                for (int i = 0; i < 32; i++) {
                    const int k = 32 * s + i; /* value k: nibble of qs[32 (k / 64) + k % 32], fifth bit s of qh[k % 32] */
                    const uint8_t byte = blk->qs[32 * (k / 64) + k % 32];
                    const int q = (s & 1 ? byte >> 4 : byte & 15) | ((blk->qh[k % 32] >> s) & 1) << 4;
                    dot += q * a->qs[k];
                }
                isum += sc * dot;
                imin += m * (a->bsums[2 * s] + a->bsums[2 * s + 1]);
            }
            acc = std::fma((float)isum, dw * a->d, acc);
            accm = std::fma((float)imin, dmw * a->d, accm);
        }
    }
    return acc - accm;
}

/* Q6_K in q6_K_units_amx.c's order: per super-block isum = sum of sc[s] *
 * dot_s over the 16 sub-blocks (int32), acc = fma(isum, d_w * d_y, acc). */
float q6_K_unit_order(const uint8_t *w, const uint8_t *x, int64_t n) {
    float acc = 0.0f;
    for (int64_t b = 0; b < n / 256; b++) {
        const nib_block_q6_K *blk = (const nib_block_q6_K *)w + b;
        const nib_block_q8_K *a = (const nib_block_q8_K *)x + b;
        int32_t isum = 0;
        for (int s = 0; s < 16; s++) {
            int32_t dot = 0;
            for (int i = 0; i < 16; i++) {
                /* value k = 128 h + 32 j + l: nibble of ql[64 h + l + 32 (j % 2)] (high for j >= 2), bits 2j of qh[32 h + l] */
                const int k = 16 * s + i, h = k / 128, j = k % 128 / 32, l = k % 32;
                const uint8_t lo = blk->ql[64 * h + l + 32 * (j % 2)];
                const int q = ((j < 2 ? lo & 15 : lo >> 4) | ((blk->qh[32 * h + l] >> (2 * j)) & 3) << 4) - 32;
                dot += q * a->qs[k];
            }
            isum += blk->scales[s] * dot;
        }
        acc = std::fma((float)isum, nib_fp16_to_fp32(blk->d) * a->d, acc);
    }
    return acc;
}

/* kquants_gemm_avx2.c's block order (Q2_K, Q3_K) for one weight row and
 * one activation row: per super-block isum = sum over the 16 sub-blocks of
 * scale * dot (Q2_K: sc & 15, its quants 0..3; Q3_K: scale - 32, quants
 * -4..3), acc = fma(isum, d_w * d_y, acc); Q2_K also imin = sum of
 * (sc >> 4) * bsums, accm = fma(imin, dmin_w * d_y, accm), then acc - accm. */
float kq_rows_order(int type, const uint8_t *w, const uint8_t *x, int64_t n) {
    float acc = 0.0f, accm = 0.0f;
    for (int64_t b = 0; b < n / 256; b++) {
        const nib_block_q8_K *a = (const nib_block_q8_K *)x + b;
        int32_t isum = 0, imin = 0;
        float dw, dmw = 0.0f;
        for (int s = 0; s < 16; s++) {
            int32_t dot = 0;
            for (int i = 0; i < 16; i++) { /* value k = 128 h + 32 j + 16 kk + l */
                const int k = 16 * s + i, h = k / 128, j = k % 128 / 32, kk = k % 32 / 16, l = k % 16;
                int q;
                if (type == NIB_TYPE_Q2_K) {
                    q = (((const nib_block_q2_K *)w + b)->qs[32 * h + 16 * kk + l] >> (2 * j)) & 3;
                } else {
                    const nib_block_q3_K *blk = (const nib_block_q3_K *)w + b;
                    q = ((blk->qs[32 * h + 16 * kk + l] >> (2 * j)) & 3) - ((blk->hmask[16 * kk + l] >> (4 * h + j)) & 1 ? 0 : 4);
                }
                dot += q * a->qs[k];
            }
            if (type == NIB_TYPE_Q2_K) {
                const uint8_t sc = ((const nib_block_q2_K *)w + b)->scales[s];
                isum += (sc & 15) * dot;
                imin += (sc >> 4) * a->bsums[s];
            } else {
                isum += (nib_q3_K_scale(((const nib_block_q3_K *)w + b)->scales, s) - 32) * dot;
            }
        }
        if (type == NIB_TYPE_Q2_K) {
            dw = nib_fp16_to_fp32(((const nib_block_q2_K *)w + b)->d), dmw = nib_fp16_to_fp32(((const nib_block_q2_K *)w + b)->dmin);
        } else {
            dw = nib_fp16_to_fp32(((const nib_block_q3_K *)w + b)->d);
        }
        acc = std::fma((float)isum, dw * a->d, acc);
        if (type == NIB_TYPE_Q2_K) accm = std::fma((float)imin, dmw * a->d, accm);
    }
    return type == NIB_TYPE_Q2_K ? acc - accm : acc;
}

/* units_gemm_amx.c's block order for one weight row and one activation row
 * (Q5_K: q5_K_gemm_order, Q6_K: q6_K_unit_order). */
float unit_gemm_order(int type, const uint8_t *w, const uint8_t *x, int64_t n) {
    if (type == NIB_TYPE_Q5_K) return q5_K_gemm_order(w, x, n);
    if (type == NIB_TYPE_Q6_K) return q6_K_unit_order(w, x, n);
    const size_t wb = nib_type_block_bytes(type);
    const bool has_m = type != NIB_TYPE_Q5_0;
    float acc = 0.0f;
    for (int64_t b = 0; b < n / 32; b++) {
        const uint8_t *blk = w + (size_t)b * wb;
        uint16_t dw, mw = 0;
        memcpy(&dw, blk, 2);
        if (has_m) memcpy(&mw, blk + 2, 2);
        const int8_t *aq;
        float dy, sy = 0.0f;
        if (has_m) {
            const nib_block_q8_1 *a = (const nib_block_q8_1 *)x + b;
            aq = a->qs, dy = nib_fp16_to_fp32(a->d), sy = nib_fp16_to_fp32(a->s);
        } else {
            const nib_block_q8_0 *a = (const nib_block_q8_0 *)x + b;
            aq = a->qs, dy = nib_fp16_to_fp32(a->d);
        }
        int32_t isum = 0;
        for (int i = 0; i < 32; i++) isum += legacy_quant(type, blk, i) * aq[i];
        const float d = nib_fp16_to_fp32(dw) * dy;
        acc = std::fma((float)isum, d, acc);
        if (has_m) acc = std::fma(nib_fp16_to_fp32(mw), sy, acc);
    }
    return acc;
}

} // namespace

/* The variant's unit_gemm (amx, avx2, avx512: Q4_1, Q5_0, Q5_1, Q5_K, Q6_K
 * batches of unit_gemm_min_tokens+ rows over a packed copy; ctest runs it
 * again with AVX2 forced): under nib_op_matmul every (token, row) gets the
 * bits of unit_gemm_order, at 1-3 threads and with NIB_MATMUL_INT_GEMM too,
 * across token tiles (amx 16, avx512 8, avx2 4), short last tiles, blocks
 * left over from the groups of 8 and passes of 256 rows; within the dot
 * bound of the reference; guards after y. (Row-wise batches and fewer rows:
 * gemv16, KernelPackedUnits.) */
TEST(KernelUnitGemm, BlockOrderBits) {
    const struct nib_cpu_kernels *k = nib_cpu_kernels();
    NibRng rng(0x0a3c);
    int checked = 0;
    for (const WeightType &wt : weight_types()) {
        const int type = wt.type;
        if (!k->unit_gemm[type]) continue;
        const int pt = nib_type_traits(type)->vec_dot_type;
        const int64_t bs = nib_type_block_size(type);
        for (int64_t n : { bs, 3 * bs, 4096 + bs })
            for (int64_t n_out : { 16, 48 }) {
                const std::vector<uint8_t> w = random_weights(wt, n, n_out, rng);
                const size_t wrow = nib_type_row_bytes(type, n), ps = nib_repack_size(type, n, n_out);
                std::vector<uint8_t> packed(ps + 64, kGuard);
                nib_repack_groups(type, w.data(), wrow, n, 0, n_out / 8, 0, packed.data());
                const int m = k->unit_gemm_min_tokens[type];
                for (int64_t n_tok : { (int64_t)m, (int64_t)m + 1, (int64_t)16, (int64_t)17, (int64_t)31, (int64_t)113, (int64_t)300 }) {
                    const std::vector<float> x = random_acts(n, n_tok, rng);
                    size_t xrow = 0;
                    const std::vector<uint8_t> xq = quantize_with(ref_table(), pt, x.data(), n, n_tok, &xrow);
                    const size_t ny = (size_t)(n_out * n_tok);
                    std::vector<float> want(ny), ref(ny);
                    for (int64_t t = 0; t < n_tok; t++)
                        for (int64_t o = 0; o < n_out; o++)
                            want[(size_t)(t * n_out + o)] = unit_gemm_order(type, w.data() + (size_t)o * wrow, xq.data() + (size_t)t * xrow, n);
                    loop_matmul(ref_table(), type, w.data(), wrow, n, n_out, xq.data(), xrow, n_tok, ref.data());
                    for (int64_t t = 0; t < n_tok; t += 7)
                        for (int64_t o = 0; o < n_out; o += 5) {
                            const size_t i = (size_t)(t * n_out + o);
                            const std::vector<float> a = to_float(pt, xq.data() + (size_t)t * xrow, n);
                            const double S = abs_term_sum(wt, w.data() + (size_t)o * wrow, n, a.data());
                            ASSERT_LE(std::fabs((double)want[i] - (double)ref[i]), dot_bound(type, n, S))
                                << nib_type_name(type) << " n=" << n << " row " << o << " tok " << t;
                        }
                    for (int threads : { 1, 2, 3 })
                        for (int flags : { 0, (int)NIB_MATMUL_INT_GEMM }) {
                            /* the bf16 GEMM from the copy (Q5_K, 96+ rows): KernelBf16 */
                            if (!flags && k->bf16_gemm && n_tok >= k->bf16_min_rows[type] && n_out % 32 == 0 && k->bf16_gemm(type, true))
                                continue;
                            std::vector<float> got(ny + 16);
                            memset(got.data(), kGuard, got.size() * sizeof(float));
                            nib_op_matmul(type, w.data(), wrow, packed.data(), n, n_out, xq.data(), xrow, n_tok, got.data(), flags,
                                          threads);
                            EXPECT_EQ(memcmp(got.data(), want.data(), ny * sizeof(float)), 0)
                                << nib_type_name(type) << " n=" << n << " out=" << n_out << " tok=" << n_tok << " threads=" << threads;
                            EXPECT_TRUE(guards_intact((const uint8_t *)(got.data() + ny), 16 * sizeof(float)));
                        }
                    checked++;
                }
                EXPECT_TRUE(guards_intact(packed.data() + ps, 64));
            }
    }
    if (!checked) GTEST_SKIP() << "variant " << k->name << " has no unit_gemm";
}

/* The x86 variants' rows16_gemm (Q2_K, Q3_K batches of
 * rows16_gemm_min_tokens+ rows of a matrix of 16k rows, read from its
 * blocks): under nib_op_matmul every (token, row) gets the bits of
 * kq_rows_order, at 1-3 threads, across token tiles (avx512 8, avx2 4),
 * short last tiles and passes of NIB_ROWS16_GEMM_TOKENS rows; within the
 * dot bound of the reference; guards after y. Matrices of other row counts
 * and fewer token rows keep dot4 (KernelVariant). */
TEST(KernelRowsGemm, BlockOrderBits) {
    const struct nib_cpu_kernels *k = nib_cpu_kernels();
    NibRng rng(0x2b3c);
    int checked = 0;
    for (const WeightType &wt : weight_types()) {
        const int type = wt.type;
        if (!k->rows16_gemm[type]) continue;
        for (int64_t n : { 256, 768, 4096 + 256 })
            for (int64_t n_out : { 16, 48 }) {
                const std::vector<uint8_t> w = random_weights(wt, n, n_out, rng);
                const size_t wrow = nib_type_row_bytes(type, n);
                const int m = k->rows16_gemm_min_tokens[type];
                for (int64_t n_tok : { (int64_t)m, (int64_t)m + 1, (int64_t)9, (int64_t)17, (int64_t)113, (int64_t)300 }) {
                    const std::vector<float> x = random_acts(n, n_tok, rng);
                    size_t xrow = 0;
                    const std::vector<uint8_t> xq = quantize_with(ref_table(), NIB_TYPE_Q8_K, x.data(), n, n_tok, &xrow);
                    const size_t ny = (size_t)(n_out * n_tok);
                    std::vector<float> want(ny), ref(ny);
                    for (int64_t t = 0; t < n_tok; t++)
                        for (int64_t o = 0; o < n_out; o++)
                            want[(size_t)(t * n_out + o)] = kq_rows_order(type, w.data() + (size_t)o * wrow, xq.data() + (size_t)t * xrow, n);
                    loop_matmul(ref_table(), type, w.data(), wrow, n, n_out, xq.data(), xrow, n_tok, ref.data());
                    for (int64_t t = 0; t < n_tok; t += 7)
                        for (int64_t o = 0; o < n_out; o += 5) {
                            const size_t i = (size_t)(t * n_out + o);
                            const std::vector<float> a = to_float(NIB_TYPE_Q8_K, xq.data() + (size_t)t * xrow, n);
                            const double S = abs_term_sum(wt, w.data() + (size_t)o * wrow, n, a.data());
                            ASSERT_LE(std::fabs((double)want[i] - (double)ref[i]), dot_bound(type, n, S))
                                << nib_type_name(type) << " n=" << n << " row " << o << " tok " << t;
                        }
                    for (int threads : { 1, 2, 3 }) {
                        /* the bf16 GEMM (amx, 24+ rows): KernelBf16 */
                        if (k->bf16_gemm && n_tok >= k->bf16_min_rows[type] && n_out % 32 == 0 && k->bf16_gemm(type, false)) continue;
                        std::vector<float> got(ny + 16);
                        memset(got.data(), kGuard, got.size() * sizeof(float));
                        nib_op_matmul(type, w.data(), wrow, nullptr, n, n_out, xq.data(), xrow, n_tok, got.data(), 0, threads);
                        EXPECT_EQ(memcmp(got.data(), want.data(), ny * sizeof(float)), 0)
                            << nib_type_name(type) << " n=" << n << " out=" << n_out << " tok=" << n_tok << " threads=" << threads;
                        EXPECT_TRUE(guards_intact((const uint8_t *)(got.data() + ny), 16 * sizeof(float)));
                    }
                    checked++;
                }
            }
    }
    if (!checked) GTEST_SKIP() << "variant " << k->name << " has no rows16_gemm";
}
