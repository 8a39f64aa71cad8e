/*
 * kernel_test_util.h — what the CPU kernel suites share (test_kernels.cc,
 * test_kernels_units.cc): random weights of every quantized type with sane
 * fp16 scales, activation rows, quantizing them with a variant's table, the
 * dot-product error bound (test_kernels.cc's head explains it) and guard
 * bytes.
 */
#ifndef NIB_KERNEL_TEST_UTIL_H
#define NIB_KERNEL_TEST_UTIL_H

#include "dispatch.h"
#include "test_util.h"

#include <cstddef>
#include <cstdint>
#include <vector>

const double kU = 0x1p-24;          /* fp32 unit roundoff */
const uint8_t kGuard = 0xA5;        /* the guard byte */
const size_t kGuardBytes = 64;      /* guards after each quantized activation row */

const struct nib_cpu_kernels *ref_table();

/* Weight types with a dot product, and where their fp16 scale fields sit
 * (sanitized after random bytes); min_field: the fp16 whose term is
 * subtracted/added separately (-1: none). */
struct WeightType {
    int type;
    std::vector<size_t> fp16_fields;
    long min_field;
};
const std::vector<WeightType> &weight_types();

/* Row lengths: one block, a few, odd counts, past 4096. */
std::vector<int64_t> row_lengths(int type);
void put_fp16(uint8_t *p, float f);
/* n_rows rows of n elements: floats for F32/F16, else random bytes with sane
 * fp16 scales (random sign, magnitude 2^-12..2^-4, sometimes zero). Every
 * bit pattern of the quants and packed scales occurs. */
std::vector<uint8_t> random_weights(const WeightType &wt, int64_t n, int64_t n_rows, NibRng &rng);
/* Activation rows: uniform at scales 1e-3..1e2, some all-zero blocks, a
 * few outliers. */
std::vector<float> random_acts(int64_t n, int64_t n_rows, NibRng &rng);
std::vector<float> to_float(int type, const void *row, int64_t n);
/* S: sum of |scale part| * |a| + |min part| * |a| over the row. */
double abs_term_sum(const WeightType &wt, const uint8_t *w, int64_t n, const float *a);
double dot_bound(int type, int64_t n, double S);
bool guards_intact(const uint8_t *p, size_t n);
/* Quantizes rows with a table's quantize_act; each row followed by guards. */
std::vector<uint8_t> quantize_with(const struct nib_cpu_kernels *k, int type, const float *x, int64_t n, int64_t n_rows,
                                   size_t *stride);
/* A plain matmul over a table: y[t][o] = vec_dot(row o, token t). */
void loop_matmul(const struct nib_cpu_kernels *k, int type, const uint8_t *w, size_t wrow, int64_t n, int64_t n_out,
                 const uint8_t *xq, size_t xrow, int64_t n_tok, float *y);

#endif
