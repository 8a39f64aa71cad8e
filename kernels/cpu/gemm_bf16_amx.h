/*
 * gemm_bf16_amx.h — the amx variant's prompt matmuls on AMX-BF16 tiles
 * (gemm_bf16_amx.c), for weight types whose integer kernels pay a float
 * step per block and token (Q8_0, Q6_K, Q2_K, Q3_K, and from their packed
 * copies Q4_K, Q5_K): every weight of a 32-row panel dequantized once per
 * call to bf16 (its block scales, and the mins, folded in), every
 * activation value (the partner Q8_0 / Q8_K row, as llama.cpp quantizes
 * it) dequantized to bf16, and TDPBF16PS sums
 * their products in fp32 tiles over the whole row, with no per-block step.
 *
 * Not llama.cpp's bits: each weight and activation value is rounded to
 * bf16 (8 significant bits, unit roundoff 2^-8) before its product, so a
 * sum moves by up to 2^-7 of the sum of its terms' magnitudes (measured
 * worst 0.13-0.40%, KernelBf16 in tests/test_kernels.cc), about a quarter
 * of the error that quantizing the activations to 8 bits (as llama.cpp
 * does) already puts in each value. matmul.c uses it only for plain prompt
 * batches (never NIB_MATMUL_ROWWISE); decode keeps the vec_dot's bits.
 *
 * Protocol, per matmul (nib_op_matmul): the activation tiles for all token
 * rows (nib_bf16_acts_amx per tile of 16 rows, into nib_bf16_acts_bytes),
 * then each thread its panels of 32 weight rows (nib_bf16_matmul_amx):
 * K block by K block (1024 values), each panel's part dequantized into the
 * thread's scratch and multiplied against every token tile, the partial
 * sums kept in y. n_in % 32 == 0 (Q8_K partners: % 256), n_out % 32 == 0.
 */
#ifndef NIB_GEMM_BF16_AMX_H
#define NIB_GEMM_BF16_AMX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bytes of the activation tiles for n_tok rows of n_in values. */
size_t nib_bf16_acts_bytes(int64_t n_in, int64_t n_tok);

/* Token tile `tile` (rows 16 * tile .. of the n_tok rows of xq, act_type
 * NIB_TYPE_Q8_0 or NIB_TYPE_Q8_K) into its place in out (64-byte aligned). */
void nib_bf16_acts_amx(int act_type, const void *xq, size_t xq_row_bytes, int64_t n_in, int64_t n_tok, int64_t tile,
                       void *out);

/* Whether nib_bf16_matmul_amx takes weight type w_type (packed: the matrix
 * has its packed copy; Q4_K is read only from that). */
bool nib_bf16_type_amx(int w_type, bool packed);

/* A panel's part of one K block, in bytes; and a thread's scratch for
 * panels [p0, p1) (64-byte aligned). */
#define NIB_BF16_PANEL_BYTES ((size_t)32 * 2048)
#define NIB_BF16_SCRATCH_BYTES(p0, p1) (NIB_BF16_PANEL_BYTES + (size_t)((p1) - (p0)) * 16 * 32 * sizeof(float))

/* y[t][32p .. 32p + 31] (rows y_stride floats apart) for the panels p in
 * [p0, p1) (weight rows 32p..32p+31) against every token row t < n_tok of
 * acts. w: the matrix as stored (row-major, w_row_bytes a row); packed: its
 * packed copy where the model made one (repack.h). */
void nib_bf16_matmul_amx(int w_type, const void *w, size_t w_row_bytes, const void *packed, int64_t n_in, int64_t p0,
                         int64_t p1, const void *acts, int64_t n_tok, float *y, size_t y_stride, void *scratch);

#ifdef __cplusplus
}
#endif

#endif
