/*
 * amx_util.h — Intel AMX tile configuration for the amx variant's kernels
 * (q8_0_gemm_amx.c, packed_amx.c, units_gemm_amx.c, q6_K_units_amx.c), built with -mamx-tile -mamx-int8 and
 * AVX-512. Their layout: tiles 0-2 (A, B, C) for even blocks, 3-5 for odd;
 * A = m token rows x 32 activation bytes (one Q8_0 block), B = 8 rows of 16
 * dwords (16 weight rows x 4 consecutive weights: K = 32), C = m x 16 int32;
 * and their float step (nib_amx_block_step). Also the bf16 files' layout
 * (gemm_bf16_amx.c, attention_amx.c, -mamx-bf16 too) and their 16 x 16
 * transpose into B's layout.
 */
#ifndef NIB_AMX_UTIL_H
#define NIB_AMX_UTIL_H

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

/* Q8_0 GEMM calls with fewer token rows go to the avx512 gemm16 (a tile of
 * m rows costs about what one of 16 does). Over rows (transposed first),
 * with the pipeline's lag of 4, one thread, 5632 x 2048: 8 rows tie
 * (98-100 GMAC/s), 10-12 rows gain 10-15% on tiles (121 / 130 / 139 against
 * 104-109 / 113 / 122). Over a packed unit, unpacked by the first tile as it
 * streams, the tiles win from 2 rows (one thread from L3: 2 / 4 / 8 rows
 * 43 / 76 / 166 against 39 / 58 / 108; two from memory 46 / 82 / 159 against
 * 36 / 62 / 104). */
#ifndef NIB_AMX_MIN_TOKENS
#define NIB_AMX_MIN_TOKENS 10
#endif
#define NIB_AMX_MIN_UNIT_TOKENS 2
/* The Q4_0 and Q4_K packed16 on tiles (packed_amx.c) take tiles of 16
 * token rows, and a last short one of this many rows or more. Q4_0, one
 * thread, 5632 x 2048, tiles against the avx512 kernel: 6 rows 201-204
 * against 193-198 GMAC/s, 8 rows 230-250 against 201, 4 rows 145 against
 * 175-179 (Q4_K at 8 rows: 177-180 against 154). */
#ifndef NIB_AMX_MIN_PACKED
#define NIB_AMX_MIN_PACKED 6
#endif

/* LDTILECFG's 64-byte operand (palette 1). */
struct nib_amx_config {
    uint8_t  palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t  rows[16];
};

/* The token rows of the layout this thread's tile unit holds (0: none);
 * nib's AMX kernels are the only code that loads one (defined in
 * packed_amx.c). */
extern _Thread_local int nib_amx_rows_loaded;

/* Loads the layout for m token rows and K = k_bytes (32, or 16: A m x 16
 * bytes, B 4 rows) unless this thread holds it already: LDTILECFG, and
 * STTILECFG too, wait for the tile unit to drain (checking with STTILECFG
 * per tile took 18% of the Q8_0 GEMM's time). nib_amx_rows_loaded: m for
 * K = 32, NIB_AMX_K16_LAYOUT + m for K = 16. */
#define NIB_AMX_K16_LAYOUT 200
/* Defined in packed_amx.c, not inline: GCC 12 inlined the thread-local's
 * access as a GOT load the linker could not relax (q8_0_gemm_amx.c). */
void nib_amx_configure_k(int m, int k_bytes);
static inline void nib_amx_configure(int m) { nib_amx_configure_k(m, 32); }

/* The bf16 files' layout (gemm_bf16_amx.c, attention_amx.c): all eight
 * tiles 16 rows of 64 bytes; marked in nib_amx_rows_loaded by a value no
 * token count takes. */
#define NIB_AMX_BF16_LAYOUT 100
void nib_amx_configure_bf16(void); /* packed_amx.c, as nib_amx_configure_k */

/* The word index that interleaves two rows of 16 bf16 values held as one
 * vector (a in words 0-15, b in 16-31, as _mm512_cvtne2ps_pbh(b, a) puts
 * them) into pairs a[0], b[0], a[1], b[1], ... (_mm512_permutexvar_epi16). */
static inline __m512i nib_bf16_interleave_index(void) {
    return _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23, 7, 22, 6, 21, 5, 20, 4, 19, 3,
                            18, 2, 17, 1, 16, 0);
}

/* v[r] (16 dwords each) transposed in place: v[p] lane r = old v[r] lane p
 * (rows of bf16 pairs into B's layout). */
static inline void nib_transpose16_epi32(__m512i v[16]) {
    __m512i t[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_epi32(v[i], v[i + 1]);
        t[i + 1] = _mm512_unpackhi_epi32(v[i], v[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
        v[i] = _mm512_unpacklo_epi64(t[i], t[i + 2]);
        v[i + 1] = _mm512_unpackhi_epi64(t[i], t[i + 2]);
        v[i + 2] = _mm512_unpacklo_epi64(t[i + 1], t[i + 3]);
        v[i + 3] = _mm512_unpackhi_epi64(t[i + 1], t[i + 3]);
    }
    for (int i = 0; i < 4; i++) {
        t[i] = _mm512_shuffle_i32x4(v[i], v[i + 4], 0x88);
        t[i + 4] = _mm512_shuffle_i32x4(v[i], v[i + 4], 0xdd);
        t[i + 8] = _mm512_shuffle_i32x4(v[i + 8], v[i + 12], 0x88);
        t[i + 12] = _mm512_shuffle_i32x4(v[i + 8], v[i + 12], 0xdd);
    }
    for (int i = 0; i < 4; i++) {
        v[i] = _mm512_shuffle_i32x4(t[i], t[i + 8], 0x88);
        v[i + 8] = _mm512_shuffle_i32x4(t[i], t[i + 8], 0xdd);
        v[i + 4] = _mm512_shuffle_i32x4(t[i + 4], t[i + 12], 0x88);
        v[i + 12] = _mm512_shuffle_i32x4(t[i + 4], t[i + 12], 0xdd);
    }
}

/* acc[t] (weight-row lanes) += isum[t] * (d_w * d_y[t]) for the NT token
 * rows of a C tile stored at isum (16 int32 a row): the repacked kernels'
 * float step, one block. dyf: token row 0's scale of the block, rows nb
 * apart. */
static inline __attribute__((always_inline)) void nib_amx_block_step(__m512 acc[16], const int32_t isum[16 * 16], __m512 dw,
                                                                     const float *dyf, int64_t nb, const int NT) {
    for (int t = 0; t < NT; t++) {
        const __m512 d = _mm512_mul_ps(dw, _mm512_set1_ps(dyf[(size_t)t * (size_t)nb]));
        acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_load_si512((const void *)(isum + 16 * t))), d, acc[t]);
    }
}

/* Block j of a token tile on tile set S (0: tiles 0-2, 1: tiles 3-5;
 * S = j & 1). AMX runs its instructions in order, and a tile store waits
 * for its TDPBSSD; a load of what a tile store wrote waits for the store;
 * a tile load of what vector stores just wrote waits for them. So step j
 * stores block j - 2's C tile (TDPBSSD j - 1 ran meanwhile), issues block j
 * (unpacked two steps earlier where the weights stream), and runs the float
 * step of block j - NIB_AMX_LAG (stored NIB_AMX_LAG - 2 steps earlier).
 * issue == 0: the drain. A lag of 4 rather than 3 gave the vector loads of
 * a stored C tile a step more to find it in L1: Q8_0 GEMM 231-259 -> 288-326
 * GMAC/s at 64 tokens (one thread, Intel Xeon), Q8_0 pp512 336-341 -> 403-407
 * t/s (2 threads), Q4_0 the same or a little better; a lag of 5 lost on
 * Q4_0 (239-277 against 318-328). Needs NIB_AMX_BUFS > NIB_AMX_LAG - 2
 * C buffers (one is rewritten only after its float step) and, where the
 * weights stream through a ring, a ring slot not rewritten before its float
 * step reads its scales. */
#ifndef NIB_AMX_LAG
#define NIB_AMX_LAG 4
#endif
#define NIB_AMX_BUFS 4 /* a power of two */
#define NIB_AMX_STEP(S, TA, TB, TC, j, issue, A_BLOCK, FSTEP, DP)                                                      \
    do {                                                                                                               \
        if ((j) >= 2 && (j) - 2 < nb) _tile_stored(TC, c[((j) - 2) & (NIB_AMX_BUFS - 1)], 64);                         \
        if (issue) {                                                                                                   \
            PREP((j) + 2);                                                                                             \
            _tile_loadd(TA, a + (size_t)(j) * (A_BLOCK), (long)xq_row_bytes);                                          \
            _tile_loadd(TB, WT(j)->qs, 64);                                                                            \
            _tile_zero(TC);                                                                                            \
            DP(TC, TA, TB);                                                                                            \
        }                                                                                                              \
        if ((j) >= NIB_AMX_LAG && (j) - NIB_AMX_LAG < nb)                                                              \
            FSTEP(c[((j) - NIB_AMX_LAG) & (NIB_AMX_BUFS - 1)], (j) - NIB_AMX_LAG);                                     \
    } while (0)

/* The Q8_0 / Q4_0 float step of block jj (nib_amx_block_step): WT(jj)->d
 * the 16 row scales; dyf token row 0's scales, rows nb apart. */
#define NIB_AMX_FSTEP_Q8_0(isum, jj) nib_amx_block_step(acc, isum, _mm512_load_ps(WT(jj)->d), dyf + (jj), nb, NT)

/* The blocks of one token tile (NT <= 16 rows) in block order, into acc,
 * then stored to y (rows y_stride apart). In scope: nb, a (token row 0's
 * quants of block 0; rows xq_row_bytes apart, blocks A_BLOCK bytes), NT;
 * WT(j): block j in B layout (->qs: 8 rows of 64 bytes); PREP(j): makes
 * it, or nothing; FSTEP(isum, j): block j's float step into acc from its
 * stored C tile; DP: the tile product (_tile_dpbssd, or _tile_dpbsud for
 * unsigned weights). NIB_AMX_TOKEN_TILE(): Q8_0 activations, the Q8_0 step
 * (dyf in scope; WT(j)->d 16 float scales, 64-byte aligned). */
#define NIB_AMX_TOKEN_TILE_BY(A_BLOCK, FSTEP, DP)                                                                      \
    do {                                                                                                               \
        _Alignas(64) int32_t c[NIB_AMX_BUFS][16 * 16];                                                                 \
        __m512 acc[16];                                                                                                \
        for (int t = 0; t < NT; t++) acc[t] = _mm512_setzero_ps();                                                     \
        PREP(0);                                                                                                       \
        PREP(1);                                                                                                       \
        int64_t j = 0;                                                                                                 \
        for (; j + 2 <= nb; j += 2) {                                                                                  \
            NIB_AMX_STEP(0, 0, 1, 2, j, 1, A_BLOCK, FSTEP, DP);                                                            \
            NIB_AMX_STEP(1, 3, 4, 5, j + 1, 1, A_BLOCK, FSTEP, DP);                                                        \
        }                                                                                                              \
        for (; j < nb + NIB_AMX_LAG; j += 2) { /* the last block if nb is odd, then the drain */                       \
            NIB_AMX_STEP(0, 0, 1, 2, j, j < nb, A_BLOCK, FSTEP, DP);                                                       \
            NIB_AMX_STEP(1, 3, 4, 5, j + 1, 0, A_BLOCK, FSTEP, DP);                                                        \
        }                                                                                                              \
        for (int t = 0; t < NT; t++) _mm512_storeu_ps(y + (size_t)t * y_stride, acc[t]);                               \
    } while (0)
#define NIB_AMX_TOKEN_TILE() NIB_AMX_TOKEN_TILE_BY(sizeof(struct nib_block_q8_0), NIB_AMX_FSTEP_Q8_0, _tile_dpbssd)

/* CALL(NT, ...) for NT = m (1..16), a compile-time count. */
#define NIB_AMX_BY_TOKENS(m, CALL, ...)                                                                                \
    switch (m) {                                                                                                       \
    case 16: CALL(16, __VA_ARGS__); break;                                                                             \
    case 15: CALL(15, __VA_ARGS__); break;                                                                             \
    case 14: CALL(14, __VA_ARGS__); break;                                                                             \
    case 13: CALL(13, __VA_ARGS__); break;                                                                             \
    case 12: CALL(12, __VA_ARGS__); break;                                                                             \
    case 11: CALL(11, __VA_ARGS__); break;                                                                             \
    case 10: CALL(10, __VA_ARGS__); break;                                                                             \
    case 9: CALL(9, __VA_ARGS__); break;                                                                               \
    case 8: CALL(8, __VA_ARGS__); break;                                                                               \
    case 7: CALL(7, __VA_ARGS__); break;                                                                               \
    case 6: CALL(6, __VA_ARGS__); break;                                                                               \
    case 5: CALL(5, __VA_ARGS__); break;                                                                               \
    case 4: CALL(4, __VA_ARGS__); break;                                                                               \
    case 3: CALL(3, __VA_ARGS__); break;                                                                               \
    case 2: CALL(2, __VA_ARGS__); break;                                                                               \
    default: CALL(1, __VA_ARGS__); break;                                                                              \
    }

/* The first n token rows in tiles of 16 (the last one shorter), each under
 * its tile configuration: CALL(NT, at, dt, yt) with token row t0's quants
 * (at), scales (dt) and output row (yt). In scope: xq, xq_row_bytes, dyf,
 * nb, y, y_stride. */
#define NIB_AMX_TOKEN_TILES(n, CALL)                                                                                   \
    for (int t0 = 0; t0 < (n); t0 += 16) {                                                                             \
        const int m = (n) - t0 < 16 ? (n) - t0 : 16;                                                                   \
        nib_amx_configure(m);                                                                                          \
        const char *at = (const char *)xq + (size_t)t0 * xq_row_bytes + offsetof(struct nib_block_q8_0, qs);           \
        const float *dt = dyf + (size_t)t0 * (size_t)nb;                                                               \
        float *yt = y + (size_t)t0 * y_stride;                                                                         \
        NIB_AMX_BY_TOKENS(m, CALL, at, dt, yt)                                                                         \
    }

#endif
