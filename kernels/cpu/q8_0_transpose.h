/*
 * q8_0_transpose.h — Q8_0 weight rows transposed for the prompt GEMMs
 * (q8_0_gemm_avx2.c's VNNI tiles, q8_0_gemm_amx.c's AMX tiles): 16 rows'
 * blocks so that for each block, 64-byte vector c holds dword c (bytes
 * 4c..4c+3) of row r in lane r, and the 16 row scales as floats. That is
 * also AMX's B-tile layout for K = 32 (8 rows of 16 dwords). Static inline
 * AVX2 code for files built with -mavx2 or more.
 */
#ifndef NIB_Q8_0_TRANSPOSE_H
#define NIB_Q8_0_TRANSPOSE_H

#include "quant_blocks.h"
#include "repack.h"

#include <immintrin.h>
#include <stdint.h>

/* Rows r0..r7 (one ymm each) -> t[c] = dword c of every row, row r in lane r. */
static inline void transpose8x8(const __m256i r[8], __m256i t[8]) {
    __m256i a[8], b[8];
    for (int i = 0; i < 8; i += 2) {
        a[i] = _mm256_unpacklo_epi32(r[i], r[i + 1]);     /* d0 d0' d1 d1' | d4 d4' d5 d5' */
        a[i + 1] = _mm256_unpackhi_epi32(r[i], r[i + 1]); /* d2 d2' d3 d3' | d6 d6' d7 d7' */
    }
    for (int h = 0; h < 8; h += 4) { /* rows h..h+3 */
        b[h + 0] = _mm256_unpacklo_epi64(a[h], a[h + 2]);     /* d0 of 4 rows | d4 */
        b[h + 1] = _mm256_unpackhi_epi64(a[h], a[h + 2]);     /* d1 | d5 */
        b[h + 2] = _mm256_unpacklo_epi64(a[h + 1], a[h + 3]); /* d2 | d6 */
        b[h + 3] = _mm256_unpackhi_epi64(a[h + 1], a[h + 3]); /* d3 | d7 */
    }
    for (int c = 0; c < 4; c++) {
        t[c] = _mm256_permute2x128_si256(b[c], b[4 + c], 0x20);
        t[c + 4] = _mm256_permute2x128_si256(b[c], b[4 + c], 0x31);
    }
}

/* Sixteen rows: two groups transposed side by side, vector c (64 bytes) =
 * the first group's dword c in lanes 0-7, the second's in lanes 8-15; each
 * quant byte xor flip_bits (0x80: unsigned q + 128 for vpdpbusd; 0: as
 * stored, for AMX's signed dot products). */
struct q8_0x16t {
    uint8_t qs[512];
    float   d[16];
};

static inline void transpose_pair(int64_t nb, const struct nib_block_q8_0 *const w[16], struct q8_0x16t *out, uint8_t flip_bits) {
    const __m256i flip = _mm256_set1_epi8((char)flip_bits);
    for (int64_t b = 0; b < nb; b++) {
        for (int h = 0; h < 2; h++) {
            __m256i rows[8], q[8];
            for (int r = 0; r < 8; r++) rows[r] = _mm256_loadu_si256((const __m256i *)w[8 * h + r][b].qs);
            transpose8x8(rows, q);
            for (int c = 0; c < 8; c++)
                _mm256_storeu_si256((__m256i *)(out[b].qs + 64 * c + 32 * h), _mm256_xor_si256(q[c], flip));
            _mm256_storeu_ps(out[b].d + 8 * h,
                             _mm256_cvtph_ps(_mm_setr_epi16((short)w[8 * h][b].d, (short)w[8 * h + 1][b].d, (short)w[8 * h + 2][b].d,
                                                            (short)w[8 * h + 3][b].d, (short)w[8 * h + 4][b].d,
                                                            (short)w[8 * h + 5][b].d, (short)w[8 * h + 6][b].d,
                                                            (short)w[8 * h + 7][b].d)));
        }
    }
}

/* A packed unit's blocks (repack.h's nib_block_q8_0x16: already in this
 * layout, quants xor 0x80) into the same form: each quant byte xor
 * flip_bits as above, the scales as floats. */
static inline void unpack_unit(int64_t nb, const struct nib_block_q8_0x16 *u, struct q8_0x16t *out, uint8_t flip_bits) {
    const __m256i flip = _mm256_set1_epi8((char)(flip_bits ^ 0x80));
    for (int64_t b = 0; b < nb; b++) {
        for (int c = 0; c < 16; c++)
            _mm256_storeu_si256((__m256i *)(out[b].qs + 32 * c),
                                _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(u[b].qs + 32 * c)), flip));
        for (int h = 0; h < 2; h++)
            _mm256_storeu_ps(out[b].d + 8 * h, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(u[b].d + 8 * h))));
    }
}

#endif
