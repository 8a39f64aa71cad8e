/*
 * gemm_tiles_x86.h — what the x86 block-order GEMMs over 16 weight rows
 * share (units_gemm_avx2.c, kquants_gemm_avx2.c): token rows in tiles of
 * TILE (AVX2 4, AVX-512 8: 32 registers), each tile's step called with its
 * row count as a compile-time constant, and rows as HALVES steps of 8 (AVX2)
 * or one of 16 (AVX-512). Include after avx2_util.h (NIB_VNNI).
 */
#ifndef NIB_GEMM_TILES_X86_H
#define NIB_GEMM_TILES_X86_H

#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if NIB_VNNI
#define TILE 8   /* token rows a pass over an unpacked block (AVX-512: 32 registers) */
#define HALVES 1 /* steps per unit: all 16 rows at once */
#else
#define TILE 4
#define HALVES 2 /* rows 0-7, then 8-15 */
#endif

/* The NT token rows of a tile (row t0 + i, xq_row_bytes apart; past n_tok:
 * row t0 again, never read by the NT-row step). */
static inline void tile_rows(const void *xq, size_t xq_row_bytes, int t0, int n_tok, const char *rows[TILE]) {
    for (int i = 0; i < TILE; i++) rows[i] = (const char *)xq + (size_t)(t0 + (t0 + i < n_tok ? i : 0)) * xq_row_bytes;
}

/* Calls STEP(..., NT) with NT the tile's row count (a compile-time constant in each case). */
#if NIB_VNNI
#define BY_TILE(n, STEP, ...)                                                                                          \
    switch (n) {                                                                                                       \
    case 8: STEP(__VA_ARGS__, 8); break;                                                                               \
    case 7: STEP(__VA_ARGS__, 7); break;                                                                               \
    case 6: STEP(__VA_ARGS__, 6); break;                                                                               \
    case 5: STEP(__VA_ARGS__, 5); break;                                                                               \
    case 4: STEP(__VA_ARGS__, 4); break;                                                                               \
    case 3: STEP(__VA_ARGS__, 3); break;                                                                               \
    case 2: STEP(__VA_ARGS__, 2); break;                                                                               \
    default: STEP(__VA_ARGS__, 1); break;                                                                              \
    }
#else
#define BY_TILE(n, STEP, ...)                                                                                          \
    switch (n) {                                                                                                       \
    case 4: STEP(__VA_ARGS__, 4); break;                                                                               \
    case 3: STEP(__VA_ARGS__, 3); break;                                                                               \
    case 2: STEP(__VA_ARGS__, 2); break;                                                                               \
    default: STEP(__VA_ARGS__, 1); break;                                                                              \
    }
#endif

static inline int32_t dword_at(const int8_t *p) {
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

#if NIB_VNNI
/* Sixteen rows' sums over a sub-block of 16 values: lane r of w[d] holds
 * row r's dword d (unsigned bytes), q8 the activation's 16 (signed):
 * lane r = row r's exact dot product. */
static inline __m512i dot16_rows16(const __m512i w[4], const int8_t *q8) {
    __m512i p = _mm512_dpbusd_epi32(_mm512_setzero_si512(), w[0], _mm512_set1_epi32(dword_at(q8)));
    for (int d = 1; d < 4; d++) p = _mm512_dpbusd_epi32(p, w[d], _mm512_set1_epi32(dword_at(q8 + 4 * d)));
    return p;
}
#endif

#endif
