// Element-wise ops (kernels/cpu/ops_*.c): every CPU variant gives the scalar
// reference's bits, over the whole float range that matters (exp's
// overflow and underflow edges included) and lengths with vector tails.
#include <gtest/gtest.h>

#include "cpu_features.h"
#include "dispatch.h"
#include "fp16.h"
#include "test_util.h"
#include "type_traits.h"

#include <cmath>
#include <cstring>
#include <vector>

TEST(OpsVariants, SwigluGivesReferenceBits) {
    NibRng rng(0x5e1);
    int variants = 0;
    for (int v = 0; v < NIB_CPU_VARIANT_COUNT; v++) {
        const struct nib_cpu_kernels *k = nib_cpu_kernels_for((enum nib_cpu_variant)v);
        if (!k || v == NIB_CPU_VARIANT_REF) continue;
        variants++;
        for (int64_t n : { 1, 7, 8, 9, 172, 4099 }) {
            std::vector<float> g((size_t)n), u((size_t)n), a((size_t)n), b((size_t)n + 4);
            for (int64_t i = 0; i < n; i++) {
                const float scale = (i % 5 == 0) ? 120.0f : (i % 5 == 1 ? 1e-3f : 8.0f); /* exp(-x) over/underflows */
                g[(size_t)i] = rng.uniform() * scale;
                u[(size_t)i] = rng.uniform();
            }
            memset(b.data(), 0x7f, b.size() * sizeof(float));
            nib_swiglu_ref(g.data(), u.data(), n, a.data());
            k->swiglu(g.data(), u.data(), n, b.data());
            EXPECT_EQ(memcmp(a.data(), b.data(), (size_t)n * sizeof(float)), 0) << k->name << " n=" << n;
            uint32_t guard;
            memcpy(&guard, &b[(size_t)n], 4);
            EXPECT_EQ(guard, 0x7f7f7f7fu);
        }
    }
    if (!variants) GTEST_SKIP() << "only the reference runs on this CPU";
}

// dot4 (one weight row against up to dot4_tokens token rows), dot4x2 (two weight
// rows against as many) and dot4x4 (four weight rows against 4 token rows) give
// each pair's vec_dot bits: they only share the weight unpacking. Only Q8_0 has
// a dot4x4 (the 34-byte blocks above), only Q6_K a dot4x2 (AVX-512).
TEST(OpsVariants, Dot4GivesVecDotBits) {
    NibRng rng(0xd04);
    int checked = 0;
    for (int v = 0; v < NIB_CPU_VARIANT_COUNT; v++) {
        const struct nib_cpu_kernels *k = nib_cpu_kernels_for((enum nib_cpu_variant)v);
        if (!k) continue;
        for (int type = 0; type < NIB_TYPE_COUNT; type++) {
            if (!k->dot4[type]) continue;
            const struct nib_type_traits *tt = nib_type_traits(type);
            const int pt = tt->vec_dot_type;
            for (int64_t n : { (int64_t)256, (int64_t)4096 + 256 }) {
                const int tk = k->dot4_tokens[type];
                ASSERT_TRUE(tk == 4 || (tk == 8 && pt != NIB_TYPE_Q8_0)) << tt->name;
                std::vector<float> wf((size_t)n), xf((size_t)n * 8);
                for (auto &f : wf) f = rng.uniform();
                for (auto &f : xf) f = rng.uniform() * 10.0f;
                std::vector<uint8_t> w(nib_type_row_bytes(type, n));
                tt->from_float(wf.data(), w.data(), n);
                const size_t xrow = nib_type_row_bytes(pt, n);
                std::vector<uint8_t> xq(xrow * 8);
                for (int t = 0; t < 8; t++) k->quantize_act[pt](xf.data() + (size_t)t * (size_t)n, xq.data() + (size_t)t * xrow, n);
                std::vector<float> dy((size_t)(n / 32) * 4, 0.0f); /* Q8_0 partners: fp16 scales as floats, [block][4] */
                if (pt == NIB_TYPE_Q8_0)
                    for (int t = 0; t < 4; t++)
                        for (int64_t b = 0; b < n / 32; b++) {
                            uint16_t h;
                            memcpy(&h, xq.data() + (size_t)t * xrow + (size_t)b * 34, 2);
                            dy[(size_t)b * 4 + (size_t)t] = nib_fp16_to_fp32(h);
                        }
                for (int m = 1; m <= tk; m++) {
                    float got[8], want;
                    k->dot4[type](n, got, w.data(), xq.data(), xrow, m, dy.data());
                    for (int t = 0; t < m; t++) {
                        k->vec_dot[type](n, &want, w.data(), xq.data() + (size_t)t * xrow);
                        EXPECT_EQ(memcmp(&got[t], &want, 4), 0) << k->name << " " << tt->name << " n=" << n << " rows " << m << " t " << t;
                    }
                }
                if (k->dot4x2[type]) { /* two weight rows: w, then another row drawn the same way */
                    const size_t wrow = w.size();
                    std::vector<uint8_t> w2(wrow * 2);
                    memcpy(w2.data(), w.data(), wrow);
                    std::vector<float> wf2((size_t)n);
                    for (auto &f : wf2) f = rng.uniform() * 3.0f;
                    tt->from_float(wf2.data(), w2.data() + wrow, n);
                    for (int m = 1; m <= tk; m++) {
                        float got16[16], want;
                        k->dot4x2[type](n, got16, w2.data(), wrow, xq.data(), xrow, m);
                        for (int r = 0; r < 2; r++)
                            for (int t = 0; t < m; t++) {
                                k->vec_dot[type](n, &want, w2.data() + (size_t)r * wrow, xq.data() + (size_t)t * xrow);
                                EXPECT_EQ(memcmp(&got16[8 * r + t], &want, 4), 0)
                                    << k->name << " dot4x2 " << tt->name << " n=" << n << " rows " << m << " row " << r << " t " << t;
                            }
                    }
                    checked++;
                }
                if (k->dot4x4[type]) { /* four weight rows: row r is w with its quants rotated by r (and -128s) */
                    const size_t wrow = w.size();
                    std::vector<uint8_t> w4(wrow * 4);
                    for (int r = 0; r < 4; r++) {
                        memcpy(w4.data() + (size_t)r * wrow, w.data(), wrow);
                        for (size_t b = 0; type == NIB_TYPE_Q8_0 && b < wrow / 34; b++) w4[(size_t)r * wrow + b * 34 + 2 + (size_t)(r * 7 + b) % 32] = 0x80;
                    }
                    float got16[16], want;
                    k->dot4x4[type](n, got16, w4.data(), wrow, xq.data(), xrow, dy.data());
                    for (int r = 0; r < 4; r++)
                        for (int t = 0; t < 4; t++) {
                            k->vec_dot[type](n, &want, w4.data() + (size_t)r * wrow, xq.data() + (size_t)t * xrow);
                            EXPECT_EQ(memcmp(&got16[4 * r + t], &want, 4), 0)
                                << k->name << " dot4x4 " << tt->name << " n=" << n << " row " << r << " t " << t;
                        }
                    checked++;
                }
                checked++;
            }
        }
    }
    if (!checked) GTEST_SKIP() << "no variant has dot4 kernels on this CPU";
}

// gemm_tile (float weights in prompt batches, gemm_tile_rows rows x 4 tokens)
// gives each pair gemm_dot's bits: it only shares the loads.
TEST(OpsVariants, GemmTileGivesGemmDotBits) {
    NibRng rng(0x711e);
    int checked = 0;
    for (int v = 0; v < NIB_CPU_VARIANT_COUNT; v++) {
        const struct nib_cpu_kernels *k = nib_cpu_kernels_for((enum nib_cpu_variant)v);
        if (!k) continue;
        for (int type = 0; type < NIB_TYPE_COUNT; type++) {
            if (!k->gemm_tile[type]) continue;
            const int rm = k->gemm_tile_rows;
            for (int64_t n : { (int64_t)8, (int64_t)64, (int64_t)4096 + 8 }) {
                const size_t row = nib_type_row_bytes(type, n);
                std::vector<uint8_t> w(row * (size_t)rm), x(row * 4);
                std::vector<float> f((size_t)n);
                for (int r = 0; r < rm + 4; r++) {
                    for (auto &e : f) e = rng.uniform() * 4.0f - 2.0f;
                    nib_type_traits(type)->from_float(f.data(), r < rm ? w.data() + (size_t)r * row : x.data() + (size_t)(r - rm) * row, n);
                }
                float got[16], want;
                k->gemm_tile[type](n, got, w.data(), row, x.data(), row);
                for (int r = 0; r < rm; r++)
                    for (int t = 0; t < 4; t++) {
                        k->gemm_dot[type](n, &want, w.data() + (size_t)r * row, x.data() + (size_t)t * row);
                        EXPECT_EQ(memcmp(&got[4 * r + t], &want, 4), 0) << k->name << " " << nib_type_name(type) << " n=" << n;
                    }
                checked++;
            }
        }
    }
    if (!checked) GTEST_SKIP() << "no variant has gemm_tile kernels on this CPU";
}

// dot8 (eight weight rows against one token row) gives each row vec_dot's
// bits; the rows carry different scales, -128s and zeros, and each row is
// padded so the stride is not the row's own size.
TEST(OpsVariants, Dot8GivesVecDotBits) {
    NibRng rng(0xd08);
    int checked = 0;
    for (int v = 0; v < NIB_CPU_VARIANT_COUNT; v++) {
        const struct nib_cpu_kernels *k = nib_cpu_kernels_for((enum nib_cpu_variant)v);
        if (!k) continue;
        for (int type = 0; type < NIB_TYPE_COUNT; type++) {
            if (!k->dot8[type]) continue;
            const struct nib_type_traits *tt = nib_type_traits(type);
            const int pt = tt->vec_dot_type;
            for (int64_t n : { (int64_t)32, (int64_t)256, (int64_t)4096 + 32 }) {
                const size_t wrow = nib_type_row_bytes(type, n), stride = wrow + 70, xrow = nib_type_row_bytes(pt, n);
                std::vector<uint8_t> w(stride * 8 + 64, 0x5a), xq(xrow);
                std::vector<float> f((size_t)n);
                for (int r = 0; r < 8; r++) {
                    for (auto &e : f) e = rng.uniform() * (float)(1 << r) * (r == 3 ? 0.0f : 1.0f);
                    tt->from_float(f.data(), w.data() + (size_t)r * stride, n);
                    for (size_t b = 0; type == NIB_TYPE_Q8_0 && r % 2 && b < wrow / 34; b++)
                        w[(size_t)r * stride + b * 34 + 2 + (size_t)(r * 5 + b) % 32] = 0x80;
                }
                for (auto &e : f) e = rng.uniform() * 10.0f;
                k->quantize_act[pt](f.data(), xq.data(), n);
                float got[8], want;
                k->dot8[type](n, got, w.data(), stride, xq.data());
                for (int r = 0; r < 8; r++) {
                    k->vec_dot[type](n, &want, w.data() + (size_t)r * stride, xq.data());
                    EXPECT_EQ(memcmp(&got[r], &want, 4), 0) << k->name << " " << tt->name << " n=" << n << " row " << r;
                }
                checked++;
            }
        }
    }
    if (!checked) GTEST_SKIP() << "no variant has dot8 kernels on this CPU";
}
