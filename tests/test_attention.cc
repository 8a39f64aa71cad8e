// Attention kernels (kernels/cpu/attention_*.c): every CPU variant gives the
// scalar reference's bits (both reproduce llama.cpp's float order, see
// attention_ref.h), for head dims on and off the vector width, KV lengths
// around the 8- and 32-key lane counts, scattered cache slots, both matmul
// orders; and the reference itself is a softmax-weighted mean of V within
// float rounding of a double-precision computation.
#include <gtest/gtest.h>

#include "attention_ref.h"
#include "cpu_features.h"
#include "dispatch.h"
#include "fp16.h"
#include "test_util.h"

#include <cmath>
#include <cstring>
#include <vector>

namespace {

struct Case {
    int head_dim;
    int32_t n_kv;
};

struct Cache {
    int head_dim, n_head_kv = 2;
    size_t row;
    std::vector<uint16_t> k, v;
    std::vector<int32_t> slot;
    /* near_ties: every K row is 4 plus a little noise, so with a q of the
     * same kind the scores are large and close together: a score's last
     * bit then moves its fp16 probability often enough that any change of
     * summation order shows in the output. */
    Cache(int hd, int32_t n_kv, NibRng &rng, bool near_ties = false) : head_dim(hd), row((size_t)hd * 2) {
        const int32_t n_slots = n_kv + 5;
        k.resize(row * (size_t)n_slots);
        v.resize(row * (size_t)n_slots);
        for (auto &x : k) x = nib_fp32_to_fp16(near_ties ? 4.0f + 0.02f * rng.uniform() : rng.uniform() * 2.0f);
        for (auto &x : v) x = nib_fp32_to_fp16(rng.uniform());
        for (int32_t j = 0; j < n_kv; j++) slot.push_back((j * 7 + 3) % n_slots); /* scattered, distinct */
    }
};

const std::vector<Case> &cases() {
    static const std::vector<Case> c = { { 8, 1 },   { 8, 17 },   { 12, 9 },  { 64, 1 },   { 64, 7 },  { 64, 8 },
                                         { 64, 33 }, { 64, 300 }, { 80, 40 }, { 128, 31 }, { 128, 257 }, { 256, 64 } };
    return c;
}

} // namespace

// One query alone (a tile of one), every variant, both orders.
TEST(Attention, VariantsGiveReferenceBits) {
    NibRng rng(0xa77);
    int variants = 0;
    for (int v = 0; v < NIB_CPU_VARIANT_COUNT; v++) {
        const struct nib_cpu_kernels *k = nib_cpu_kernels_for((enum nib_cpu_variant)v);
        if (!k || v == NIB_CPU_VARIANT_REF) continue;
        variants++;
        for (const Case &c : cases())
        for (bool ties : { false, true }) {
            Cache kv(c.head_dim, c.n_kv, rng, ties);
            const float scale = ties ? 1.0f : 0.125f;
            std::vector<float> q((size_t)c.head_dim);
            for (auto &x : q) x = ties ? 3.0f + 0.02f * rng.uniform() : rng.uniform() * 3.0f;
            for (int order : { NIB_ATTN_DECODE, NIB_ATTN_BATCH }) {
                for (size_t head_off : { (size_t)0, (size_t)c.head_dim }) {
                    std::vector<float> s1((size_t)c.n_kv), o1((size_t)c.head_dim), o2((size_t)c.head_dim + 8);
                    std::vector<float> scratch(nib_attention_tile_scratch(c.n_kv, c.head_dim));
                    memset(o2.data(), 0x7f, o2.size() * sizeof(float));
                    nib_attention_head_ref(q.data(), c.head_dim, kv.k.data(), kv.v.data(), kv.row, head_off, kv.slot.data(), c.n_kv,
                                           scale, (enum nib_attn_order)order, s1.data(), o1.data());
                    struct nib_attn_tile t = {};
                    t.order = (enum nib_attn_order)order;
                    t.n_q = 1;
                    t.q[0] = q.data();
                    t.out[0] = o2.data();
                    t.n_kv[0] = c.n_kv;
                    k->attention_tile(&t, c.head_dim, kv.k.data(), kv.v.data(), kv.row, head_off, kv.slot.data(), scale,
                                      scratch.data());
                    EXPECT_EQ(memcmp(o1.data(), o2.data(), o1.size() * sizeof(float)), 0)
                        << k->name << " head_dim " << c.head_dim << " n_kv " << c.n_kv << " order " << order << " ties " << ties;
                    for (size_t i = (size_t)c.head_dim; i < o2.size(); i++) {
                        uint32_t bits;
                        memcpy(&bits, &o2[i], 4);
                        EXPECT_EQ(bits, 0x7f7f7f7fu) << "wrote past out";
                    }
                }
            }
        }
    }
    if (!variants) GTEST_SKIP() << "only the reference runs on this CPU";
}

// A tile of query heads over one K/V head: every query's output is the
// batch-order single-head reference's, bit for bit, whatever the mix of KV
// lengths (equal as for GQA heads of one token, growing as for consecutive
// tokens, or scattered), across the kernels' 8-key groups and 256-key chunks.
TEST(Attention, TileGivesHeadBits) {
    NibRng rng(0xa79);
    struct TileCase {
        int head_dim;
        std::vector<int32_t> n_kv;
    };
    const std::vector<TileCase> cases = {
        { 64, { 1 } },
        { 64, { 5, 5, 5, 5, 5, 5, 5, 5 } },
        { 64, { 9, 10, 11, 12, 13, 14, 15, 16 } },
        { 64, { 300, 3, 257, 256, 1, 511, 8, 40 } },
        { 8, { 17, 1, 9 } },
        { 12, { 9, 4 } },
        { 80, { 40, 41, 39, 1, 2 } },
        { 128, { 31, 33, 520 } },
        { 256, { 64, 65, 66, 67 } },
        { 1024, { 3, 4 } },
        { 48, { 3, 3, 3, 17, 17, 17, 16, 16, 260, 261, 262, 263, 9, 9, 1, 30 } }, /* 16 queries; 16-dim slabs */
        { 40, { 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40 } }, /* slabs of 16, 16, 8 */
        { 64, { 200, 200, 200, 200, 200, 200, 200, 200, 201, 201, 201, 201, 201, 201, 201, 201, /* a full tile: */
                202, 202, 202, 202, 202, 202, 202, 202, 203, 203, 203, 203, 203, 203, 203, 9 } }, /* 4 tokens x 8 heads */
    };
    for (int v = 0; v < NIB_CPU_VARIANT_COUNT; v++) {
        const struct nib_cpu_kernels *k = nib_cpu_kernels_for((enum nib_cpu_variant)v);
        if (!k) continue;
        for (const TileCase &c : cases)
        for (bool ties : { false, true }) {
            int32_t n_max = 0;
            for (int32_t n : c.n_kv) n_max = std::max(n_max, n);
            Cache kv(c.head_dim, n_max, rng, ties);
            const float scale = ties ? 1.0f : 0.125f;
            const int nq = (int)c.n_kv.size(), hd = c.head_dim;
            ASSERT_LE(nq, NIB_ATTN_TILE_MAX);
            std::vector<float> q((size_t)nq * (size_t)hd), out((size_t)nq * (size_t)(hd + 8));
            for (auto &x : q) x = ties ? 3.0f + 0.02f * rng.uniform() : rng.uniform() * 3.0f;
            memset(out.data(), 0x7f, out.size() * sizeof(float));
            struct nib_attn_tile t = {};
            t.n_q = nq;
            for (int i = 0; i < nq; i++) {
                t.q[i] = q.data() + (size_t)i * (size_t)hd;
                t.out[i] = out.data() + (size_t)i * (size_t)(hd + 8);
                t.n_kv[i] = c.n_kv[(size_t)i];
            }
            for (int order : { NIB_ATTN_DECODE, NIB_ATTN_BATCH })
            for (size_t head_off : { (size_t)0, (size_t)hd }) {
                t.order = (enum nib_attn_order)order;
                std::vector<float> scratch(nib_attention_tile_scratch(n_max, hd));
                k->attention_tile(&t, hd, kv.k.data(), kv.v.data(), kv.row, head_off, kv.slot.data(), scale, scratch.data());
                for (int i = 0; i < nq; i++) {
                    std::vector<float> s((size_t)n_max), o((size_t)hd);
                    nib_attention_head_ref(t.q[i], hd, kv.k.data(), kv.v.data(), kv.row, head_off, kv.slot.data(), t.n_kv[i],
                                           scale, t.order, s.data(), o.data());
                    EXPECT_EQ(memcmp(o.data(), t.out[i], (size_t)hd * sizeof(float)), 0)
                        << k->name << " head_dim " << hd << " query " << i << " n_kv " << t.n_kv[i] << " order " << order
                        << " ties " << ties;
                    for (int g = 0; g < 8; g++) {
                        uint32_t bits;
                        memcpy(&bits, t.out[i] + hd + g, 4);
                        EXPECT_EQ(bits, 0x7f7f7f7fu) << "wrote past out";
                    }
                }
            }
        }
    }
}

TEST(Attention, ReferenceIsSoftmaxMean) {
    NibRng rng(0xa78);
    for (const Case &c : cases()) {
        Cache kv(c.head_dim, c.n_kv, rng);
        std::vector<float> q((size_t)c.head_dim), s((size_t)c.n_kv), o((size_t)c.head_dim);
        for (auto &x : q) x = rng.uniform() * 3.0f;
        nib_attention_head_ref(q.data(), c.head_dim, kv.k.data(), kv.v.data(), kv.row, 0, kv.slot.data(), c.n_kv, 0.125f,
                               NIB_ATTN_BATCH, s.data(), o.data());
        std::vector<double> w((size_t)c.n_kv);
        double mx = -INFINITY, sum = 0;
        for (int32_t j = 0; j < c.n_kv; j++) {
            double d = 0;
            for (int i = 0; i < c.head_dim; i++)
                d += (double)nib_fp16_to_fp32(nib_fp32_to_fp16(q[(size_t)i])) * nib_fp16_to_fp32(kv.k[(size_t)kv.slot[(size_t)j] * kv.row + (size_t)i]);
            w[(size_t)j] = d * 0.125;
            mx = std::max(mx, w[(size_t)j]);
        }
        for (auto &x : w) sum += (x = std::exp(x - mx));
        for (int i = 0; i < c.head_dim; i++) {
            double want = 0;
            for (int32_t j = 0; j < c.n_kv; j++) want += w[(size_t)j] / sum * nib_fp16_to_fp32(kv.v[(size_t)kv.slot[(size_t)j] * kv.row + (size_t)i]);
            /* probabilities pass through fp16 (rel. 2^-11) as in llama.cpp; |v| < 1 */
            EXPECT_NEAR(o[(size_t)i], want, 2e-3) << "head_dim " << c.head_dim << " n_kv " << c.n_kv << " dim " << i;
        }
    }
}

// The Q8_0-cache attention: every variant's tile gives the reference's bits (both
// take K dots from the chosen table, so they agree on any CPU), and the
// result is the softmax-weighted mean of the dequantized V within 8-bit error.
TEST(Attention, Q8_0CacheVariantsAgree) {
    NibRng rng(0xa79);
    const struct nib_cpu_kernels *chosen = nib_cpu_kernels();
    for (int hd : { 32, 64, 128 })
        for (int32_t n_kv : { 1, 9, 40, 300 }) {
            const int row = 2 * hd;
            const size_t row_bytes = (size_t)(row / 32) * 34;
            std::vector<uint8_t> k(row_bytes * (size_t)(n_kv + 3)), v(k.size());
            std::vector<float> f((size_t)row);
            for (int32_t s = 0; s < n_kv + 3; s++) {
                for (auto &x : f) x = rng.uniform() * 2.0f;
                chosen->quantize_act[NIB_TYPE_Q8_0](f.data(), k.data() + (size_t)s * row_bytes, row);
                for (auto &x : f) x = rng.uniform();
                chosen->quantize_act[NIB_TYPE_Q8_0](f.data(), v.data() + (size_t)s * row_bytes, row);
            }
            std::vector<int32_t> slot;
            for (int32_t j = 0; j < n_kv; j++) slot.push_back((j * 5 + 2) % (n_kv + 3));
            std::vector<float> q((size_t)hd), s1((size_t)n_kv), s2((size_t)n_kv), o1((size_t)hd), o2((size_t)hd);
            for (auto &x : q) x = rng.uniform() * 3.0f;
            nib_attention_head_q8_0_ref(q.data(), hd, k.data(), v.data(), row_bytes, (size_t)hd, slot.data(), n_kv, 0.125f,
                                        s1.data(), o1.data());
            for (float x : o1) EXPECT_LT(std::fabs(x), 1.01f); /* a convex mix of |v| <= 1 */
            /* every variant's tile: this query alone, then among 11 others (3 groups of 4 for the
             * dots, P.V blocks of 8 and 3) with KV lengths around it */
            for (int var = 0; var < NIB_CPU_VARIANT_COUNT; var++) {
                const struct nib_cpu_kernels *kt = nib_cpu_kernels_for((enum nib_cpu_variant)var);
                if (!kt) continue;
                for (int nq : { 1, 12 }) {
                    std::vector<std::vector<float>> qs((size_t)nq), outs((size_t)nq, std::vector<float>((size_t)hd + 8, 0.0f));
                    struct nib_attn_tile t = {};
                    t.n_q = nq;
                    for (int i = 0; i < nq; i++) {
                        qs[(size_t)i] = q;
                        if (i) for (auto &x : qs[(size_t)i]) x = rng.uniform() * 3.0f;
                        t.q[i] = qs[(size_t)i].data();
                        t.out[i] = outs[(size_t)i].data();
                        t.n_kv[i] = i == 0 ? n_kv : 1 + (n_kv + i * 7) % n_kv;
                    }
                    std::vector<float> scratch(nib_attention_tile_scratch(n_kv, hd));
                    kt->attention_tile_q8_0(&t, hd, k.data(), v.data(), row_bytes, (size_t)hd, slot.data(), 0.125f, scratch.data());
                    for (int i = 0; i < nq; i++) {
                        std::vector<float> oi((size_t)hd);
                        nib_attention_head_q8_0_ref(t.q[i], hd, k.data(), v.data(), row_bytes, (size_t)hd, slot.data(), t.n_kv[i],
                                                    0.125f, s2.data(), oi.data());
                        EXPECT_EQ(memcmp(oi.data(), t.out[i], oi.size() * sizeof(float)), 0)
                            << kt->name << " hd " << hd << " n_kv " << t.n_kv[i] << " query " << i << " of " << nq;
                        EXPECT_EQ(t.out[i][hd], 0.0f) << "wrote past out";
                    }
                }
            }
        }
}

// The amx variant's bf16 tile (attention_amx.c: fp16 values as hi + lo bf16,
// three products each) against the batch-order reference: not its bits. A
// score may differ by e = scale * sum_d |q_d k_d| * (2^-15 (the lo.lo term
// left out, twice over) + hd * 2^-23 (two fp32 sums in different orders)),
// which moves each probability by up to ~2e of it, and its fp16 rounding by
// an ulp (2^-11) more: each output within (2^-10 + 4e) * sum_j p_j |v_j|.
TEST(Attention, Bf16TileNearReference) {
    const struct nib_cpu_kernels *k = nib_cpu_kernels();
    if (!k->attention_tile_bf16) GTEST_SKIP() << "no AMX-BF16 attention tile on this CPU";
    NibRng rng(0xbf1);
    const std::vector<std::pair<int, std::vector<int32_t>>> cases = {
        { 64, { 1 } },
        { 64, { 9, 10, 11, 12, 13, 14, 15, 16 } },
        { 64, { 300, 3, 257, 256, 1, 511, 8, 40 } },
        { 32, { 17, 1, 9, 33, 32, 31 } },
        { 128, { 31, 33, 520 } },
        { 256, { 64, 65, 66, 67 } },
        { 1024, { 3, 4 } },
        { 64, { 200, 200, 200, 200, 200, 200, 200, 200, 201, 201, 201, 201, 201, 201, 201, 201,
                202, 202, 202, 202, 202, 202, 202, 202, 203, 203, 203, 203, 203, 203, 203, 9 } },
        { 96, { 3, 3, 3, 17, 17, 17, 16, 16, 260, 261, 262, 263, 9, 9, 1, 30, 31 } }, /* 17 queries: two query tiles */
    };
    double worst = 0;
    for (const auto &c : cases)
        for (bool ties : { false, true }) {
            const int hd = c.first, nq = (int)c.second.size();
            int32_t n_max = 0;
            for (int32_t n : c.second) n_max = std::max(n_max, n);
            Cache kv(hd, n_max, rng, ties);
            const float scale = ties ? 1.0f : 0.125f;
            std::vector<float> q((size_t)nq * (size_t)hd), out((size_t)nq * (size_t)(hd + 8));
            for (auto &x : q) x = ties ? 3.0f + 0.02f * rng.uniform() : rng.uniform() * 3.0f;
            memset(out.data(), 0x7f, out.size() * sizeof(float));
            struct nib_attn_tile t = {};
            t.order = NIB_ATTN_BATCH;
            t.n_q = nq;
            for (int i = 0; i < nq; i++) {
                t.q[i] = q.data() + (size_t)i * (size_t)hd;
                t.out[i] = out.data() + (size_t)i * (size_t)(hd + 8);
                t.n_kv[i] = c.second[(size_t)i];
            }
            for (size_t head_off : { (size_t)0, (size_t)hd }) {
                std::vector<float> scratch(nib_attention_tile_scratch(n_max, hd));
                k->attention_tile_bf16(&t, hd, kv.k.data(), kv.v.data(), kv.row, head_off, kv.slot.data(), scale, scratch.data());
                for (int i = 0; i < nq; i++) {
                    std::vector<float> s((size_t)n_max), o((size_t)hd);
                    nib_attention_head_ref(t.q[i], hd, kv.k.data(), kv.v.data(), kv.row, head_off, kv.slot.data(), t.n_kv[i], scale,
                                           NIB_ATTN_BATCH, s.data(), o.data());
                    double sqk = 0; /* the largest sum_d |q_d k_d| over the keys, q rounded to fp16 */
                    for (int32_t j = 0; j < t.n_kv[i]; j++) {
                        double a = 0;
                        for (int d = 0; d < hd; d++)
                            a += std::fabs((double)nib_fp16_to_fp32(nib_fp32_to_fp16(t.q[i][d])) *
                                           (double)nib_fp16_to_fp32(kv.k[(size_t)kv.slot[(size_t)j] * kv.row + head_off + (size_t)d]));
                        sqk = std::max(sqk, a);
                    }
                    const double e = (double)scale * sqk * (0x1p-15 + (double)hd * 0x1p-23);
                    for (int d = 0; d < hd; d++) {
                        double pv = 0; /* s: the reference's probabilities */
                        for (int32_t j = 0; j < t.n_kv[i]; j++)
                            pv += std::fabs((double)s[(size_t)j] *
                                            (double)nib_fp16_to_fp32(kv.v[(size_t)kv.slot[(size_t)j] * kv.row + head_off + (size_t)d]));
                        const double err = std::fabs((double)t.out[i][d] - (double)o[(size_t)d]);
                        ASSERT_LE(err, (0x1p-10 + 4 * e) * pv + 1e-7) << "head_dim " << hd << " query " << i << " n_kv " << t.n_kv[i] << " dim " << d
                                                            << " ties " << ties;
                        if (pv > 0) worst = std::max(worst, err / pv);
                    }
                    for (int g = 0; g < 8; g++) {
                        uint32_t bits;
                        memcpy(&bits, t.out[i] + hd + g, 4);
                        EXPECT_EQ(bits, 0x7f7f7f7fu) << "wrote past out";
                    }
                }
            }
        }
    std::printf("[          ] worst |err| = %.2g of sum p |v|\n", worst);
}
