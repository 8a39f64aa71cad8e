/*
 * kernel_test_util.cc — kernel_test_util.h's helpers.
 */
#include "kernel_test_util.h"

#include "fp16.h"
#include "nib.h"
#include "quant_blocks.h"
#include "type_traits.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

const struct nib_cpu_kernels *ref_table() { return nib_cpu_kernels_for(NIB_CPU_VARIANT_REF); }

const std::vector<WeightType> &weight_types() {
    static const std::vector<WeightType> t = {
        { NIB_TYPE_F32, {}, -1 },
        { NIB_TYPE_F16, {}, -1 },
        { NIB_TYPE_BF16, {}, -1 },
        { NIB_TYPE_Q4_0, { offsetof(nib_block_q4_0, d) }, -1 },
        { NIB_TYPE_Q4_1, { offsetof(nib_block_q4_1, d), offsetof(nib_block_q4_1, m) }, (long)offsetof(nib_block_q4_1, m) },
        { NIB_TYPE_Q5_0, { offsetof(nib_block_q5_0, d) }, -1 },
        { NIB_TYPE_Q5_1, { offsetof(nib_block_q5_1, d), offsetof(nib_block_q5_1, m) }, (long)offsetof(nib_block_q5_1, m) },
        { NIB_TYPE_Q8_0, { offsetof(nib_block_q8_0, d) }, -1 },
        { NIB_TYPE_Q2_K, { offsetof(nib_block_q2_K, d), offsetof(nib_block_q2_K, dmin) }, (long)offsetof(nib_block_q2_K, dmin) },
        { NIB_TYPE_Q3_K, { offsetof(nib_block_q3_K, d) }, -1 },
        { NIB_TYPE_Q4_K, { offsetof(nib_block_q4_K, d), offsetof(nib_block_q4_K, dmin) }, (long)offsetof(nib_block_q4_K, dmin) },
        { NIB_TYPE_Q5_K, { offsetof(nib_block_q5_K, d), offsetof(nib_block_q5_K, dmin) }, (long)offsetof(nib_block_q5_K, dmin) },
        { NIB_TYPE_Q6_K, { offsetof(nib_block_q6_K, d) }, -1 },
    };
    return t;
}

/* Row lengths: one block, a few, odd counts, past 4096. */
std::vector<int64_t> row_lengths(int type) {
    const int64_t bs = nib_type_block_size(type);
    if (bs == 1) return { 1, 7, 31, 32, 33, 129, 4096 + 1, 4096 + 31 };
    return { bs, 2 * bs, 7 * bs, 4096 + bs, 4096 + 3 * bs };
}

void put_fp16(uint8_t *p, float f) {
    const uint16_t h = nib_fp32_to_fp16(f);
    memcpy(p, &h, sizeof(h));
}

/* n_rows rows of n elements: floats for F32/F16, else random bytes with sane
 * fp16 scales (random sign, magnitude 2^-12..2^-4, sometimes zero). Every
 * bit pattern of the quants and packed scales occurs. */
std::vector<uint8_t> random_weights(const WeightType &wt, int64_t n, int64_t n_rows, NibRng &rng) {
    const size_t row = nib_type_row_bytes(wt.type, n);
    std::vector<uint8_t> w(row * (size_t)n_rows);
    if (wt.type == NIB_TYPE_F32 || wt.type == NIB_TYPE_F16 || wt.type == NIB_TYPE_BF16) {
        std::vector<float> f((size_t)(n * n_rows));
        for (auto &v : f) v = rng.uniform();
        nib_type_traits(wt.type)->from_float(f.data(), w.data(), n * n_rows);
        return w;
    }
    for (auto &b : w) b = (uint8_t)rng.next();
    const size_t bb = nib_type_block_bytes(wt.type);
    for (size_t off = 0; off < w.size(); off += bb) {
        for (size_t field : wt.fp16_fields) {
            const uint64_t r = rng.next();
            const float mag = (r & 63) == 0 ? 0.0f : std::ldexp(1.0f + rng.uniform() * 0.5f, -4 - (int)(r >> 8) % 9);
            put_fp16(&w[off + field], (r >> 7) & 1 ? -mag : mag);
        }
    }
    return w;
}

/* Activation rows: uniform at scales 1e-3..1e2, some all-zero blocks, a
 * few outliers. */
std::vector<float> random_acts(int64_t n, int64_t n_rows, NibRng &rng) {
    std::vector<float> x((size_t)(n * n_rows));
    for (int64_t r = 0; r < n_rows; r++) {
        const float scale = std::pow(10.0f, (float)(r % 6) - 3.0f);
        for (int64_t i = 0; i < n; i++) x[(size_t)(r * n + i)] = rng.uniform() * scale;
        if (n >= 64 && r % 3 == 1) std::fill_n(&x[(size_t)(r * n + 32)], 32, 0.0f);
        if (r % 4 == 2) x[(size_t)(r * n + (int64_t)(rng.next() % (uint64_t)n))] = 50.0f * scale;
    }
    return x;
}

std::vector<float> to_float(int type, const void *row, int64_t n) {
    std::vector<float> f((size_t)n);
    EXPECT_EQ(nib_dequantize(type, row, f.data(), n, nullptr), NIB_OK);
    return f;
}

/* S: sum of |scale part| * |a| + |min part| * |a| over the row. */
double abs_term_sum(const WeightType &wt, const uint8_t *w, int64_t n, const float *a) {
    const std::vector<float> full = to_float(wt.type, w, n);
    std::vector<float> scaled = full;
    if (wt.min_field >= 0) {
        std::vector<uint8_t> nomin(w, w + nib_type_row_bytes(wt.type, n));
        const size_t bb = nib_type_block_bytes(wt.type);
        for (size_t off = 0; off < nomin.size(); off += bb) put_fp16(&nomin[off + (size_t)wt.min_field], 0.0f);
        scaled = to_float(wt.type, nomin.data(), n);
    }
    double s = 0;
    for (int64_t i = 0; i < n; i++) {
        const double minpart = (double)scaled[(size_t)i] - (double)full[(size_t)i];
        s += (std::fabs((double)scaled[(size_t)i]) + std::fabs(minpart)) * std::fabs((double)a[i]);
    }
    return s;
}

static int64_t chain_length(int type, int64_t n) {
    const int64_t bs = nib_type_block_size(type);
    return bs == 1 ? (n + 7) / 8 + 3 : n / bs; /* floats: tinyBLAS's order, one 8-lane accumulator */
}

double dot_bound(int type, int64_t n, double S) { return 2.0 * (double)(chain_length(type, n) + 12) * kU * S * 1.001; }

bool guards_intact(const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i] != kGuard) return false;
    return true;
}

/* Quantizes rows with a table's quantize_act; each row followed by guards. */
std::vector<uint8_t> quantize_with(const struct nib_cpu_kernels *k, int type, const float *x, int64_t n, int64_t n_rows,
                                   size_t *stride) {
    const size_t row = nib_type_row_bytes(type, n);
    *stride = row + kGuardBytes;
    std::vector<uint8_t> out(*stride * (size_t)n_rows, kGuard);
    for (int64_t r = 0; r < n_rows; r++) k->quantize_act[type](x + r * n, out.data() + (size_t)r * *stride, n);
    return out;
}

/* A plain matmul over a table: y[t][o] = vec_dot(row o, token t). */
void loop_matmul(const struct nib_cpu_kernels *k, int type, const uint8_t *w, size_t wrow, int64_t n, int64_t n_out,
                 const uint8_t *xq, size_t xrow, int64_t n_tok, float *y) {
    for (int64_t o = 0; o < n_out; o++)
        for (int64_t t = 0; t < n_tok; t++) k->vec_dot[type](n, &y[t * n_out + o], w + (size_t)o * wrow, xq + (size_t)t * xrow);
}
