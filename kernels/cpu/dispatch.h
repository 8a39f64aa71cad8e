/*
 * dispatch.h — the CPU kernel table: one per variant, chosen once.
 *
 * A table starts as a copy of the scalar reference (the type table's vec_dot;
 * for activations quantize_act.c's ggml-x86 rounding of Q8_0/Q8_1 and the type
 * table's from_float elsewhere) and the variant overrides the entries it has a
 * faster kernel for. Entries are NULL exactly where the reference has no
 * function. Tables are built once (pthread_once) and immutable afterwards:
 * safe from any thread.
 *
 * Contracts every variant keeps (tests/test_kernels.cc checks them):
 *  - quantize_act[t] writes bytes identical to the reference for finite input;
 *  - vec_dot[t] equals the reference up to float summation order (integer
 *    block sums are exact); activation quants must lie in [-127, 127], which
 *    every quantizer above guarantees (the AVX2 sign trick cannot negate -128).
 */
#ifndef NIB_CPU_DISPATCH_H
#define NIB_CPU_DISPATCH_H

#include "attention_ref.h"
#include "cpu_features.h"
#include "nib.h"
#include "type_traits.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Eight consecutive weight rows (row r at w + r * row_bytes) dotted with one
 * activation row: out[r] for r < 8; gemm != 0: in the order of llama.cpp's
 * repacked GEMM (batch rows in groups of 4), else its GEMV's. */
typedef void (*nib_rows8_fn)(int64_t n, float *out /* [8] */, const void *w, size_t row_bytes, const void *y, int gemm);

/* One group of 8 packed weight rows (repack.h) against n_tok <=
 * packed8_tokens[type] activation rows (xq_row_bytes apart): y[t * y_stride + r]; gemm as for
 * nib_rows8_fn. For Q4_0, per activation row and block, [n_tok][n/32]:
 * ycorr = -8 * the block's quant sum (nib_block_sums_fn), dyf = its scale as
 * a float; for Q4_K ycorr (same shape, dyf NULL) holds the Q8_K rows' bsums
 * in pairs of sub-blocks (matmul.c's q8_K_bsum_pairs: [8 b + p] for
 * super-block b, sub-blocks 2p, 2p + 1), the same for every group; NULL for
 * other types. */
typedef void (*nib_packed8_fn)(int64_t n, const void *group, const void *xq, size_t xq_row_bytes, int n_tok, float *y,
                               size_t y_stride, int gemm, const int32_t *ycorr, const float *dyf);

/* A pair of groups (16 rows) in repack.h's paired layout against n_tok <=
 * packed16_tokens[type] activation rows: what two packed8 calls on the
 * unpaired groups give, bit for bit; arguments as for nib_packed8_fn.
 * scratch: NULL, or NIB_UNPACK_SCRATCH(n) bytes, 64-byte aligned, the
 * calling thread's alone: where a kernel runs several token tiles over the
 * pair, the first unpacks the weights there and the others read them back
 * (amx), instead of each unpacking them again. */
typedef void (*nib_packed16_fn)(int64_t n, const void *pair, const void *xq, size_t xq_row_bytes, int n_tok, float *y,
                                size_t y_stride, int gemm, const int32_t *ycorr, const float *dyf, void *scratch);
/* per 32 weights: 16 rows' as int8 (512 bytes) and their scales (and mins) as floats */
#define NIB_UNPACK_SCRATCH(n) ((size_t)((n) / 32) * 640)

/* Decode over a packed copy: n_units (<= NIB_DECODE_STREAMS) of its 16-row
 * units (packed16's pairs, or gemv16's units) against one activation row,
 * block b of every unit before block b + 1 of any, so that the thread reads
 * n_units streams at once: y[s] (16 floats) gets what packed16 (n_tok 1)
 * or gemv16 gives units[s], bit for bit. aux, dyf: packed16's ycorr and
 * dyf (Q4_0), or gemv16's ybase (Q8_0; dyf unused). */
typedef void (*nib_decode_streams_fn)(int64_t n, int n_units, const void *const *units, const void *xq, float *const *y,
                                      const int32_t *aux, const float *dyf);
#define NIB_DECODE_STREAMS 4

/* One weight row against n_rows <= dot4_tokens[type] (4, or 8 where a
 * variant says so; Q8_0 partners always 4) activation rows (y_row_bytes apart):
 * out[t] equals vec_dot's result for row t, bit for bit. dy: for partner
 * types with fp16 block scales (Q8_0), those scales as floats, [block][4]
 * (nib_op_matmul fills it once per 4 rows); unused otherwise. */
typedef void (*nib_dot4_fn)(int64_t n, float *out, const void *x, const void *y, size_t y_row_bytes, int n_rows,
                            const float *dy);

/* Four weight rows (x_row_bytes apart) against four activation rows:
 * out[4 * r + t] equals nib_dot4_fn's out[t] for weight row r, bit for bit
 * (dy as there). */
typedef void (*nib_dot4x4_fn)(int64_t n, float *out /* [16] */, const void *x, size_t x_row_bytes, const void *y,
                              size_t y_row_bytes, const float *dy);

/* Eight weight rows (x_row_bytes apart) against one activation row:
 * out[r] equals vec_dot's result for weight row r, bit for bit. */
typedef void (*nib_dot8_fn)(int64_t n, float *out /* [8] */, const void *x, size_t x_row_bytes, const void *y);

/* Sixteen weight rows packed as one unit (repack.h's nib_block_*x16 of
 * Q8_0, Q4_1, Q5_0, Q5_1, Q5_K, Q6_K) against n_tok activation rows
 * (y_row_bytes apart), each alone: out[t * out_stride + r] equals vec_dot's
 * result for weight row r and activation row t, bit for bit. ybase (Q8_0,
 * Q5_0; else unused): -128 (Q8_0) or -16 (Q5_0) times the sum of each dword
 * (4 quants) of each activation row, [n_tok][n/32][8]. */
typedef void (*nib_gemv16_fn)(int64_t n, float *out, size_t out_stride, const void *unit, const void *y, size_t y_row_bytes,
                              const int32_t *ybase, int n_tok);

/* Two weight rows (x_row_bytes apart) against n_rows <= dot4_tokens
 * activation rows: out[8 * r + t] equals nib_dot4_fn's out[t] for weight
 * row r, bit for bit. */
typedef void (*nib_dot4x2_fn)(int64_t n, float *out /* [16] */, const void *x, size_t x_row_bytes, const void *y,
                              size_t y_row_bytes, int n_rows);

/* Eight weight rows (w_row_bytes apart; gemm16 with w_row_bytes == 0: w is
 * a packed Q8_0 unit, repack.h) against n_tok activation rows in
 * llama.cpp's repacked-GEMM float order (one exact integer sum and one fma
 * per block and row: not vec_dot's bits, so never for NIB_MATMUL_ROWWISE):
 * y[t * y_stride + r]. ybase: -128 * each activation block's sum, dyf: its
 * scale as a float, both [n_tok][n/32]. scratch: NIB_GEMM8_SCRATCH(n) bytes,
 * 32-byte aligned, the kernel's own (one per thread). */
typedef void (*nib_gemm8_fn)(int64_t n, const void *w, size_t w_row_bytes, const void *xq, size_t xq_row_bytes,
                             int n_tok, const int32_t *ybase, const float *dyf, float *y, size_t y_stride,
                             void *scratch);
#define NIB_GEMM8_SCRATCH(n) ((size_t)((n) / 32) * 544)
/* The same for sixteen weight rows (the AVX-512 variant's gemm16: each
 * row's bits equal gemm8's); scratch NIB_GEMM16_SCRATCH(n) bytes. */
#define NIB_GEMM16_SCRATCH(n) ((size_t)((n) / 32) * 576)

/* A batch of n_tok activation rows (xq_row_bytes apart) against one 16-row
 * unit of a packed copy (repack.h) in block order (one exact integer sum
 * per block, token and row, then fma steps: units_gemm_amx.c; not vec_dot's
 * bits, so never for NIB_MATMUL_ROWWISE): y[t * y_stride + r]. dyf, syf:
 * each activation block's d (and Q8_1's s; else NULL) as floats,
 * [n_tok][n/32]; scratch as for nib_packed16_fn. */
typedef void (*nib_unit_gemm_fn)(int64_t n, const void *unit, const void *xq, size_t xq_row_bytes, int n_tok,
                                 const float *dyf, const float *syf, float *y, size_t y_stride, void *scratch);

/* Sixteen weight rows (w_row_bytes apart, the file's blocks) against n_tok
 * <= NIB_ROWS16_GEMM_TOKENS activation rows in block order (one exact
 * integer sum per super-block, token and row, then fma steps:
 * kquants_gemm_avx2.c; not vec_dot's bits, so never for
 * NIB_MATMUL_ROWWISE): y[t * y_stride + r]. */
typedef void (*nib_rows16_gemm_fn)(int64_t n, const void *w, size_t w_row_bytes, const void *xq, size_t xq_row_bytes,
                                   int n_tok, float *y, size_t y_stride);
#define NIB_ROWS16_GEMM_TOKENS 256

/* gemm_tile_rows weight rows (w_row_bytes apart) against 4 activation rows
 * (x_row_bytes apart): out[4 * r + t] equals gemm_dot's result for that
 * pair, bit for bit; n % 8 == 0. */
typedef void (*nib_gemm_tile_fn)(int64_t n, float *out, const void *w, size_t w_row_bytes, const void *x,
                                 size_t x_row_bytes);

/* Sums of the 32 int8 of each Q8_0 block of n_tok activation rows. */
typedef void (*nib_block_sums_fn)(const void *xq, size_t xq_row_bytes, int64_t nb, int64_t n_tok, int16_t *out);

typedef void (*nib_quantize_act_fn)(const float *x /* [n] */, void *y /* n / block_size blocks */, int64_t n);

struct nib_cpu_kernels {
    nib_vec_dot_fn      vec_dot[NIB_TYPE_COUNT];      /* by weight type */
    nib_quantize_act_fn quantize_act[NIB_TYPE_COUNT]; /* by activation (partner) type */
    /* By weight type, NULL for most: the dot a matmul of >= 2 token rows uses
     * instead of vec_dot when n_in % 8 == 0 and n_out % 4 == 0 — llama.cpp
     * sends those shapes through llamafile's tinyBLAS, whose float order
     * differs from its vec_dot's, and nib follows it. */
    nib_vec_dot_fn      gemm_dot[NIB_TYPE_COUNT];
    nib_gemm_tile_fn    gemm_tile[NIB_TYPE_COUNT]; /* by weight type, NULL for most; with gemm_dot */
    int                 gemm_tile_rows;            /* weight rows per gemm_tile call */
    /* By weight type, NULL for most: used for every matmul whose row count is
     * a multiple of 8 — the shapes llama.cpp repacks on this CPU, whose
     * kernels add one exact integer sum per block (rows8_avx2.c). */
    nib_rows8_fn        rows8[NIB_TYPE_COUNT];
    /* By weight type, NULL for most: the kernel over the packed copy of a
     * matrix (repack.h), which the model makes at load time where this is set. */
    nib_packed8_fn      packed8[NIB_TYPE_COUNT];
    nib_packed16_fn     packed16[NIB_TYPE_COUNT];      /* NULL where a variant has none */
    nib_decode_streams_fn decode_streams[NIB_TYPE_COUNT]; /* one-row calls of packed16 or gemv16, or NULL */
    int                 packed8_tokens[NIB_TYPE_COUNT]; /* the most activation rows one packed8 call takes (4 or 8) */
    int                 packed16_tokens[NIB_TYPE_COUNT]; /* the same for packed16 (avx512: 8 Q4_0, 4 Q4_K; amx: 64) */
    nib_dot4_fn         dot4[NIB_TYPE_COUNT];         /* by weight type, NULL for most */
    int                 dot4_tokens[NIB_TYPE_COUNT];  /* the most activation rows one dot4 call takes (4 or 8) */
    nib_dot4x2_fn       dot4x2[NIB_TYPE_COUNT];       /* by weight type, NULL for most (AVX-512: Q6_K) */
    nib_dot4x4_fn       dot4x4[NIB_TYPE_COUNT];       /* by weight type, NULL for most; needs dot4 too */
    nib_dot8_fn         dot8[NIB_TYPE_COUNT];         /* by weight type, NULL for most (AVX-512: Q8_0) */
    nib_gemm8_fn        gemm8[NIB_TYPE_COUNT];        /* by weight type, NULL for most (AVX-512: Q8_0) */
    nib_gemm8_fn        gemm16[NIB_TYPE_COUNT];       /* 16-row gemm8, NULL for most (AVX-512: Q8_0) */
    /* By weight type, NULL for most (AVX-512: Q8_0, Q4_1, Q5_0, Q5_1, Q5_K,
     * Q6_K; AVX2 the same but Q8_0, two 8-row halves a unit): one-row
     * calls over a packed copy in 16-row units (repack.h),
     * which the model then makes for matrices of 16k rows; Q8_0's batches go
     * through gemm16 (and bf16_gemm) on the same copy, the others' through
     * unit_gemm (and amx's bf16_gemm from 96 rows for Q5_K, Q6_K) where the
     * variant has one, else (avx512's Q5_K) through gemv16 too. */
    nib_gemv16_fn       gemv16[NIB_TYPE_COUNT];
    /* x86 (NULL elsewhere and for most types: Q4_1, Q5_0, Q5_1, Q5_K, Q6_K;
     * avx512 not Q5_K): batches of unit_gemm_min_tokens+ rows over a packed
     * copy in 16-row units, in block order (Q5_K: Q4_K's GEMM order; not
     * row-wise), the same bits on every variant */
    nib_unit_gemm_fn    unit_gemm[NIB_TYPE_COUNT];
    int                 unit_gemm_min_tokens[NIB_TYPE_COUNT];
    /* x86 (NULL elsewhere and for most types: Q2_K, Q3_K): batches of
     * rows16_gemm_min_tokens+ rows of a matrix of 16k rows, in block order */
    nib_rows16_gemm_fn  rows16_gemm[NIB_TYPE_COUNT];
    int                 rows16_gemm_min_tokens[NIB_TYPE_COUNT];
    /* amx with AMX-BF16 (NULL elsewhere): whether prompt batches of a weight
     * type (with a packed copy or not) go through gemm_bf16_amx.h (not
     * llama.cpp's bits; never row-wise) */
    bool (*bf16_gemm)(int w_type, bool packed);
    int                 bf16_min_tokens; /* the fewest token rows of a batch whose attention takes bf16 tiles */
    int                 bf16_min_rows[NIB_TYPE_COUNT]; /* the same for a matmul, by weight type (dispatch.c) */
    /* with bf16_gemm: attention_tile's batch order on AMX-BF16 (attention_amx.c) */
    void (*attention_tile_bf16)(const struct nib_attn_tile *t, int head_dim, const uint16_t *k_base, const uint16_t *v_base,
                                size_t row_stride, size_t head_off, const int32_t *slot, float scale, float *scratch);
    nib_block_sums_fn   block_sums_q8_0;              /* for packed8[Q4_0] */
    /* attention_ref.h's tile of query heads sharing a K/V head (both orders) */
    void (*attention_tile)(const struct nib_attn_tile *t, int head_dim, const uint16_t *k_base, const uint16_t *v_base,
                           size_t row_stride, size_t head_off, const int32_t *slot, float scale, float *scratch);
    /* attention_ref.h's tile over a Q8_0 cache */
    void (*attention_tile_q8_0)(const struct nib_attn_tile *t, int head_dim, const void *k_base, const void *v_base,
                                size_t row_bytes, size_t head_off, const int32_t *slot, float scale, float *scratch);
    void (*swiglu)(const float *g, const float *u, int64_t n, float *y); /* ops_ref.h's nib_op_swiglu contract */
    const char         *name;                         /* the variant's name */
};

/* The table of the variant in use (nib_cpu_variant()). Never NULL. */
const struct nib_cpu_kernels *nib_cpu_kernels(void);

/* The table of a given variant, for tests and A/B comparisons within one
 * process; NULL if this CPU or build cannot run it. */
const struct nib_cpu_kernels *nib_cpu_kernels_for(enum nib_cpu_variant v);

/* nib_op_matmul (ops_ref.h) through a given table, for tests and A/B
 * comparisons: a table from nib_cpu_kernels_for, or a copy of one with
 * entries changed (kernels this CPU can run). The packed copy must be in the
 * layout the table's entries read (nib_op_packed_paired, nib_op_packs). */
void nib_op_matmul_with(const struct nib_cpu_kernels *k, int w_type, const void *w, size_t w_row_bytes, const void *packed,
                        int64_t n_in, int64_t n_out, const void *xq, size_t xq_row_bytes, int64_t n_tok, float *y, int flags,
                        int n_threads);

/* ---- Internal to kernels/cpu: the functions the tables point at. ---- */

/* quantize_act.c: Q8_0/Q8_1 activations rounded as ggml-cpu on x86. */
void nib_quantize_act_q8_0_ref(const float *x, void *y, int64_t n);
void nib_quantize_act_q8_1_ref(const float *x, void *y, int64_t n);

/* ops_ref.c's SwiGLU, the reference entry. */
void nib_swiglu_ref(const float *g, const float *u, int64_t n, float *y);

/* The x86 kernel files (x86_kernels.h), in two builds. */
#define NIB_X86_PROTO(name) name##_avx2
#include "x86_kernels.h"
#undef NIB_X86_PROTO
#define NIB_X86_PROTO(name) name##_avx512
#include "x86_kernels.h"
#undef NIB_X86_PROTO
/* q8_0_gemm_amx.c and packed_amx.c (built where the compiler has AMX:
 * NIB_HAVE_AMX): the amx variant's gemm16 for Q8_0 and packed16 for Q4_0 and Q4_K. */
void nib_gemm16_q8_0_q8_0_amx(int64_t n, const void *w, size_t w_row_bytes, const void *xq, size_t xq_row_bytes, int n_tok,
                              const int32_t *ybase, const float *dyf, float *y, size_t y_stride, void *scratch);
/* units_gemm_amx.c (NIB_HAVE_AMX): the amx variant's unit_gemm. */
#define NIB_AMX_MIN_UNIT_GEMM 3    /* the fewest token rows of a batch it takes (fewer: gemv16; 2 rows tie) */
/* the same for Q5_K (2 threads, from memory: 6 / 8 rows 150 / 189 against gemv16's 141 / 161 GMAC/s, 4 rows 113
 * against 134) and Q6_K (8 rows 154 against 142, 6 a tie, 4 rows 93 against 122) */
#define NIB_AMX_MIN_UNIT_GEMM_Q5_K 6
#define NIB_AMX_MIN_UNIT_GEMM_Q6_K 8
void nib_unit_gemm_q4_1_q8_1_amx(int64_t n, const void *unit, const void *xq, size_t xq_row_bytes, int n_tok, const float *dyf,
                                 const float *syf, float *y, size_t y_stride, void *scratch);
void nib_unit_gemm_q5_0_q8_0_amx(int64_t n, const void *unit, const void *xq, size_t xq_row_bytes, int n_tok, const float *dyf,
                                 const float *syf, float *y, size_t y_stride, void *scratch);
void nib_unit_gemm_q5_1_q8_1_amx(int64_t n, const void *unit, const void *xq, size_t xq_row_bytes, int n_tok, const float *dyf,
                                 const float *syf, float *y, size_t y_stride, void *scratch);
/* packed_amx.c: Q5_K's, in the order of Q4_K's packed16 on tiles (dyf, syf unused) */
void nib_unit_gemm_q5_K_q8_K_amx(int64_t n, const void *unit, const void *xq, size_t xq_row_bytes, int n_tok, const float *dyf,
                                 const float *syf, float *y, size_t y_stride, void *scratch);
/* q6_K_units_amx.c: Q6_K's (dyf, syf unused) */
void nib_unit_gemm_q6_K_q8_K_amx(int64_t n, const void *unit, const void *xq, size_t xq_row_bytes, int n_tok, const float *dyf,
                                 const float *syf, float *y, size_t y_stride, void *scratch);
/* units_gemm_avx2.c (x86_kernels.h's unit_gemm entries): batches of at
 * least this many token rows take them, fewer gemv16. One thread, Zen 5,
 * 2048 columns, GMAC/s against gemv16's: AVX2 (2048 rows) Q4_1 2 / 4 rows
 * 79 / 114 against 64 / 61, Q5_0 52 / 80 against 44 / 55, Q5_K 4 rows 91
 * against 91, 5 rows 89 against 80, Q6_K 4 rows a tie, 5 rows 86 against
 * 74; AVX-512 (65536 rows, from memory) Q4_1 4 / 6 rows 164 / 206 against
 * 175 / 173, Q5_1 5 / 6 / 8 rows 127 / 142 / 162 against 137 / 141 / 146,
 * Q6_K 5 rows 164 against 135. */
#define NIB_AVX2_MIN_UNIT_GEMM 2
#define NIB_AVX512_MIN_UNIT_GEMM 6
#define NIB_X86_MIN_UNIT_GEMM_KQ 5 /* Q5_K (AVX2 only), Q6_K: both builds */
/* kquants_gemm_avx2.c's rows16_gemm (Q2_K, Q3_K): the same for batches */
#define NIB_X86_MIN_ROWS16_GEMM 8
#define NIB_AMX_PACKED_TOKENS 64 /* the most token rows one call of the packed16s takes */
void nib_packed16_q4_0_q8_0_amx(int64_t n, const void *pair, const void *xq, size_t xq_row_bytes, int n_tok, float *y,
                                size_t y_stride, int gemm, const int32_t *ycorr, const float *dyf, void *scratch);
void nib_packed16_q4_K_q8_K_amx(int64_t n, const void *pair, const void *xq, size_t xq_row_bytes, int n_tok, float *y,
                                size_t y_stride, int gemm, const int32_t *ycorr, const float *dyf, void *scratch);

/* vec_dot_neon.c (plain ARMv8-A, aarch64 only): float dots and activation
 * quantizers; call only where nib_cpu_variant_available(NEON). */
void nib_vec_dot_f32_f32_neon(int64_t n, float *out, const void *x, const void *y);
void nib_vec_dot_f16_f16_neon(int64_t n, float *out, const void *x, const void *y);
void nib_vec_dot_bf16_bf16_neon(int64_t n, float *out, const void *x, const void *y);
void nib_quantize_act_q8_0_neon(const float *x, void *y, int64_t n);
void nib_quantize_act_q8_1_neon(const float *x, void *y, int64_t n);
void nib_quantize_act_q8_K_neon(const float *x, void *y, int64_t n);

/* vec_dot_neon_i8.c (plain NEON) and vec_dot_neon_dotprod.c (built with
 * +dotprod; call only where nib_cpu_features()->dotprod): the quantized dots. */
void nib_vec_dot_q4_0_q8_0_neon(int64_t n, float *out, const void *x, const void *y);
void nib_vec_dot_q4_1_q8_1_neon(int64_t n, float *out, const void *x, const void *y);
void nib_vec_dot_q5_0_q8_0_neon(int64_t n, float *out, const void *x, const void *y);
void nib_vec_dot_q5_1_q8_1_neon(int64_t n, float *out, const void *x, const void *y);
void nib_vec_dot_q8_0_q8_0_neon(int64_t n, float *out, const void *x, const void *y);
void nib_vec_dot_q2_K_q8_K_neon(int64_t n, float *out, const void *x, const void *y);
void nib_vec_dot_q3_K_q8_K_neon(int64_t n, float *out, const void *x, const void *y);
void nib_vec_dot_q4_K_q8_K_neon(int64_t n, float *out, const void *x, const void *y);
void nib_vec_dot_q5_K_q8_K_neon(int64_t n, float *out, const void *x, const void *y);
void nib_vec_dot_q6_K_q8_K_neon(int64_t n, float *out, const void *x, const void *y);
void nib_vec_dot_q4_0_q8_0_neon_dotprod(int64_t n, float *out, const void *x, const void *y);
void nib_vec_dot_q4_1_q8_1_neon_dotprod(int64_t n, float *out, const void *x, const void *y);
void nib_vec_dot_q5_0_q8_0_neon_dotprod(int64_t n, float *out, const void *x, const void *y);
void nib_vec_dot_q5_1_q8_1_neon_dotprod(int64_t n, float *out, const void *x, const void *y);
void nib_vec_dot_q8_0_q8_0_neon_dotprod(int64_t n, float *out, const void *x, const void *y);
void nib_vec_dot_q2_K_q8_K_neon_dotprod(int64_t n, float *out, const void *x, const void *y);
void nib_vec_dot_q3_K_q8_K_neon_dotprod(int64_t n, float *out, const void *x, const void *y);
void nib_vec_dot_q4_K_q8_K_neon_dotprod(int64_t n, float *out, const void *x, const void *y);
void nib_vec_dot_q5_K_q8_K_neon_dotprod(int64_t n, float *out, const void *x, const void *y);
void nib_vec_dot_q6_K_q8_K_neon_dotprod(int64_t n, float *out, const void *x, const void *y);

#ifdef __cplusplus
}
#endif
#endif
