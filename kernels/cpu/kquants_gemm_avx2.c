/*
 * kquants_gemm_avx2.c — the x86 variants' rows16_gemm (dispatch.h) for Q2_K
 * and Q3_K: prompt batches over 16 weight rows read from the file's blocks
 * (these types have no packed copy), in block order: per super-block, token
 * and row one exact integer sum, then one fma (Q2_K: two, the mins'), so
 * every x86 variant gives the same bits; KernelRowsGemm checks them against
 * a scalar loop of that order (not vec_dot's, whose eight lanes are summed
 * in float). Built with -mavx2 -mfma -mf16c (rows in two halves of 8), and
 * again for the avx512 variant (16 rows a 512-bit vector, vpdpbusd).
 *
 * Per super-block b, token t, row r, with q the 2-bit (Q2_K) or 3-bit
 * signed (Q3_K: [-4, 3]) quants, sub-blocks s of 16 values:
 *   Q2_K: isum = sum_s (sc_s & 15) * dot_s,  imin = sum_s (sc_s >> 4) * bsums_s
 *         acc = fma((float)isum, d_w * d_y, acc), accm = fma((float)imin, dmin_w * d_y, accm)
 *         y = acc - accm
 *   Q3_K: isum = sum_s (scale_s - 32) * dot_s,  acc = fma((float)isum, d_w * d_y, acc)
 * Q3_K's quants are stored q + 4 (unsigned, [0, 7]) and the 4 comes back
 * as -4 * sum_s (scale_s - 32) * bsums_s. Each super-block of the 16 rows
 * is unpacked once per call into the stack (dword d of sub-block s of row r
 * at bytes 4r..4r+3 of a 64-byte vector), then every tile of token rows
 * runs over it. AVX2: the four maddubs pair sums of a sub-block (each at
 * most 2 * 7 * 127) add up in int16, one madd applies its scale; AVX-512:
 * four vpdpbusd (|sum| <= 16 * 7 * 127 < 2^15), one vpdpwssd against
 * (scale, 0) applies it.
 */
#include "avx2_util.h"
#include "dispatch.h"
#include "gemm_tiles_x86.h"
#include "q8_0_transpose.h"
#include "quant_blocks.h"

#include <immintrin.h>
#include <stddef.h>
#include <string.h>

/* One super-block of 16 rows unpacked. sc[s]: sub-block s's scale of row r
 * in dword r, as (sc, sc) int16 (AVX2's madd) or (sc, 0) (AVX-512's
 * vpdpwssd against a 32-bit sum below 2^15); pairs[k]: row r's (v_2k,
 * v_2k+1) as int16 against Q8_K's bsums pairs, v the mins (Q2_K) or the
 * scales (Q3_K). */
struct kq_sb {
    uint8_t w[16][4][64];
    int16_t sc[16][32];
    int16_t pairs[8][32];
};

/* Byte i of each 32-bit lane of the transposed vectors t (bytes 4p..4p+3
 * of row r's loaded 32 bytes in lane r of t[p]), as a 32-bit value. */
static inline __m256i lane_byte(const __m256i t[8], int i) {
    return _mm256_and_si256(_mm256_srli_epi32(t[i / 4], 8 * (i % 4)), _mm256_set1_epi32(0xFF));
}

/* Rows 8 half..+7 of one super-block (blk[r]: row r's block) into u: their
 * quants (Q3_K: + 4) by 8 x 8 dword transposes, scales, pairs. Every load
 * stays inside the block (Q2_K 84 bytes, Q3_K 110). */
static void unpack_half(int type, const char *const blk[8], int half, struct kq_sb *u) {
    const int q2 = type == NIB_TYPE_Q2_K;
    const size_t qs_at = q2 ? offsetof(struct nib_block_q2_K, qs) : offsetof(struct nib_block_q3_K, qs);
    const __m256i m03 = _mm256_set1_epi8(3), m01 = _mm256_set1_epi8(1);
    __m256i rows[8], q[16], hm[8], sb[8];
    for (int part = 0; part < 2; part++) { /* q[p]: qs bytes 4p..4p+3, p = 8 h + 4 kk + d */
        for (int r = 0; r < 8; r++) rows[r] = load32(blk[r] + qs_at + 32 * part);
        transpose8x8(rows, q + 8 * part);
    }
    if (!q2) { /* hm[p]: hmask bytes 4p..4p+3, p = 4 kk + d */
        for (int r = 0; r < 8; r++) rows[r] = load32(blk[r] + offsetof(struct nib_block_q3_K, hmask));
        transpose8x8(rows, hm);
    }
    /* value 128 h + 32 j + 16 kk + 4 d + i: bits 2j of qs byte 32 h + 16 kk + 4 d + i (Q3_K: bit 4 h + j of
     * hmask byte 16 kk + 4 d + i as 4); sub-block 8 h + 2 j + kk, dword d */
    for (int h = 0; h < 2; h++)
        for (int kk = 0; kk < 2; kk++)
            for (int d = 0; d < 4; d++)
                for (int j = 0; j < 4; j++) {
                    __m256i v = _mm256_and_si256(_mm256_srli_epi16(q[8 * h + 4 * kk + d], 2 * j), m03);
                    if (!q2)
                        v = _mm256_or_si256(v, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hm[4 * kk + d], 4 * h + j), m01), 2));
                    _mm256_storeu_si256((__m256i *)(u->w[8 * h + 2 * j + kk][d] + 32 * half), v);
                }
    /* scales: Q2_K's 16 bytes at the block's start (sb[p]: bytes 4p..), Q3_K's 12 from byte 96, loaded from 78 */
    const size_t sc_at = q2 ? 0 : offsetof(struct nib_block_q3_K, scales) - 18;
    for (int r = 0; r < 8; r++) rows[r] = load32(blk[r] + sc_at);
    transpose8x8(rows, sb);
    __m256i scale[16], other[16]; /* per sub-block, row r's value in lane r (Q2_K: scale and min; Q3_K: scale - 32 twice) */
    for (int s = 0; s < 16; s++) {
        if (q2) {
            const __m256i v = lane_byte(sb, s);
            scale[s] = _mm256_and_si256(v, _mm256_set1_epi32(15));
            other[s] = _mm256_srli_epi32(v, 4);
        } else { /* nib_q3_K_scale: low 4 bits from byte s (s < 8) or s - 8's high nibble, high 2 from byte 8 + s % 4 */
            const __m256i lo = s < 8 ? _mm256_and_si256(lane_byte(sb, 18 + s), _mm256_set1_epi32(15))
                                     : _mm256_srli_epi32(lane_byte(sb, 18 + s - 8), 4);
            const __m256i hi = _mm256_and_si256(_mm256_srli_epi32(lane_byte(sb, 18 + 8 + s % 4), 2 * (s / 4)), _mm256_set1_epi32(3));
            scale[s] = other[s] = _mm256_sub_epi32(_mm256_or_si256(lo, _mm256_slli_epi32(hi, 4)), _mm256_set1_epi32(32));
        }
        /* (sc, sc) for madd, (sc, 0) for vpdpwssd; the value fits 16 bits signed */
        const __m256i sc = NIB_VNNI ? _mm256_and_si256(scale[s], _mm256_set1_epi32(0xFFFF))
                                    : _mm256_or_si256(_mm256_and_si256(scale[s], _mm256_set1_epi32(0xFFFF)), _mm256_slli_epi32(scale[s], 16));
        _mm256_storeu_si256((__m256i *)(u->sc[s] + 16 * half), sc);
    }
    for (int k = 0; k < 8; k++)
        _mm256_storeu_si256((__m256i *)(u->pairs[k] + 16 * half),
                            _mm256_or_si256(_mm256_and_si256(other[2 * k], _mm256_set1_epi32(0xFFFF)), _mm256_slli_epi32(other[2 * k + 1], 16)));
}

/* One super-block (u), NT token rows (a: their blocks of it), rows 8 half..+7
 * (AVX-512: all 16): y[t][r] = fma((float)isum, d_w[r] * d_y, y[t][r]),
 * and for Q2_K accm[t][r] likewise with imin and dmin (see the head). */
static inline __attribute__((always_inline)) void kq_step(int type, const struct kq_sb *u, const uint16_t *dw16,
                                                          const uint16_t *dmin16, int half,
                                                          const struct nib_block_q8_K *const *a, float *y, size_t y_stride,
                                                          float *accm, const int NT) {
#if NIB_VNNI
    (void)half;
    __m512i isum[TILE], bsc[TILE]; /* bsc: the bsums against pairs (Q2_K: imin, Q3_K: the offset's sum) */
    for (int t = 0; t < NT; t++) isum[t] = bsc[t] = _mm512_setzero_si512();
    for (int k = 0; k < 8; k++) {
        const __m512i pr = _mm512_loadu_si512((const void *)u->pairs[k]);
        for (int t = 0; t < NT; t++) {
            int32_t bs;
            memcpy(&bs, a[t]->bsums + 2 * k, sizeof bs);
            bsc[t] = _mm512_dpwssd_epi32(bsc[t], pr, _mm512_set1_epi32(bs));
        }
    }
    for (int s = 0; s < 16; s++) {
        const __m512i sc = _mm512_loadu_si512((const void *)u->sc[s]);
        __m512i w[4];
        for (int d = 0; d < 4; d++) w[d] = _mm512_loadu_si512((const void *)u->w[s][d]);
        for (int t = 0; t < NT; t++) isum[t] = _mm512_dpwssd_epi32(isum[t], dot16_rows16(w, a[t]->qs + 16 * s), sc);
    }
    const __m512 dw = _mm512_cvtph_ps(load32(dw16));
    for (int t = 0; t < NT; t++) {
        float *yt = y + (size_t)t * y_stride;
        const __m512 dy = _mm512_set1_ps(a[t]->d);
        if (type == NIB_TYPE_Q3_K) isum[t] = _mm512_sub_epi32(isum[t], _mm512_slli_epi32(bsc[t], 2));
        _mm512_storeu_ps(yt, _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[t]), _mm512_mul_ps(dw, dy), _mm512_loadu_ps(yt)));
        if (type == NIB_TYPE_Q2_K) {
            float *mt = accm + 16 * (size_t)t;
            _mm512_storeu_ps(mt, _mm512_fmadd_ps(_mm512_cvtepi32_ps(bsc[t]), _mm512_mul_ps(_mm512_cvtph_ps(load32(dmin16)), dy),
                                                 _mm512_loadu_ps(mt)));
        }
    }
#else
    __m256i isum[TILE];
    for (int t = 0; t < NT; t++) isum[t] = _mm256_setzero_si256();
    for (int s = 0; s < 16; s++) {
        const __m256i sc = load32(u->sc[s] + 16 * half);
        const __m256i w0 = load32(u->w[s][0] + 32 * half), w1 = load32(u->w[s][1] + 32 * half);
        const __m256i w2 = load32(u->w[s][2] + 32 * half), w3 = load32(u->w[s][3] + 32 * half);
        for (int t = 0; t < NT; t++) {
            const int8_t *q8 = a[t]->qs + 16 * s;
            const __m256i p16 = _mm256_add_epi16(
                _mm256_add_epi16(_mm256_maddubs_epi16(w0, bcast4(q8)), _mm256_maddubs_epi16(w1, bcast4(q8 + 4))),
                _mm256_add_epi16(_mm256_maddubs_epi16(w2, bcast4(q8 + 8)), _mm256_maddubs_epi16(w3, bcast4(q8 + 12))));
            isum[t] = _mm256_add_epi32(isum[t], _mm256_madd_epi16(p16, sc));
        }
    }
    const __m256 dw = load_f16x8(dw16 + 8 * half);
    for (int t = 0; t < NT; t++) {
        __m256i bsc = _mm256_setzero_si256();
        for (int k = 0; k < 8; k++) {
            int32_t bs;
            memcpy(&bs, a[t]->bsums + 2 * k, sizeof bs);
            bsc = _mm256_add_epi32(bsc, _mm256_madd_epi16(load32(u->pairs[k] + 16 * half), _mm256_set1_epi32(bs)));
        }
        float *yt = y + (size_t)t * y_stride + 8 * half;
        const __m256 dy = _mm256_set1_ps(a[t]->d);
        if (type == NIB_TYPE_Q3_K) isum[t] = _mm256_sub_epi32(isum[t], _mm256_slli_epi32(bsc, 2));
        _mm256_storeu_ps(yt, _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[t]), _mm256_mul_ps(dw, dy), _mm256_loadu_ps(yt)));
        if (type == NIB_TYPE_Q2_K) {
            float *mt = accm + 16 * (size_t)t + 8 * half;
            _mm256_storeu_ps(mt, _mm256_fmadd_ps(_mm256_cvtepi32_ps(bsc), _mm256_mul_ps(load_f16x8(dmin16 + 8 * half), dy),
                                                 _mm256_loadu_ps(mt)));
        }
    }
#endif
}

static inline __attribute__((always_inline)) void kq_gemm(int type, int64_t n, const void *w, size_t w_row_bytes,
                                                          const void *xq, size_t xq_row_bytes, int n_tok, float *y,
                                                          size_t y_stride) {
    const int64_t nb = n / NIB_QK_K;
    const size_t bb = type == NIB_TYPE_Q2_K ? sizeof(struct nib_block_q2_K) : sizeof(struct nib_block_q3_K);
    struct kq_sb u;
    float accm[NIB_ROWS16_GEMM_TOKENS * 16]; /* Q2_K's mins, beside y's sums */
    for (int t = 0; t < n_tok; t++) memset(y + (size_t)t * y_stride, 0, 16 * sizeof(float));
    if (type == NIB_TYPE_Q2_K) memset(accm, 0, (size_t)n_tok * 16 * sizeof(float));
    for (int64_t b = 0; b < nb; b++) {
        uint16_t dw[16], dmin[16];
        const char *blk[16];
        for (int r = 0; r < 16; r++) {
            blk[r] = (const char *)w + (size_t)r * w_row_bytes + (size_t)b * bb;
            prefetch_stream(blk[r], (unsigned)bb);
            if (type == NIB_TYPE_Q2_K) {
                dw[r] = ((const struct nib_block_q2_K *)blk[r])->d, dmin[r] = ((const struct nib_block_q2_K *)blk[r])->dmin;
            } else {
                dw[r] = ((const struct nib_block_q3_K *)blk[r])->d;
            }
        }
        unpack_half(type, blk, 0, &u);
        unpack_half(type, blk + 8, 1, &u);
        for (int t = 0; t < n_tok; t += TILE) {
            const char *rows[TILE];
            const struct nib_block_q8_K *a[TILE];
            tile_rows(xq, xq_row_bytes, t, n_tok, rows);
            for (int i = 0; i < TILE; i++) a[i] = (const struct nib_block_q8_K *)rows[i] + b;
            for (int half = 0; half < HALVES; half++)
                BY_TILE(n_tok - t < TILE ? n_tok - t : TILE, kq_step, type, &u, dw, dmin, half, a, y + (size_t)t * y_stride,
                        y_stride, accm + 16 * (size_t)t)
        }
    }
    if (type == NIB_TYPE_Q2_K)
        for (int t = 0; t < n_tok; t++)
            for (int r = 0; r < 16; r++) y[(size_t)t * y_stride + (size_t)r] -= accm[16 * t + r];
}

void NIB_X86_FN(nib_rows16_gemm_q2_K_q8_K)(int64_t n, const void *w, size_t w_row_bytes, const void *xq, size_t xq_row_bytes,
                                           int n_tok, float *y, size_t y_stride) {
    kq_gemm(NIB_TYPE_Q2_K, n, w, w_row_bytes, xq, xq_row_bytes, n_tok, y, y_stride);
}

void NIB_X86_FN(nib_rows16_gemm_q3_K_q8_K)(int64_t n, const void *w, size_t w_row_bytes, const void *xq, size_t xq_row_bytes,
                                           int n_tok, float *y, size_t y_stride) {
    kq_gemm(NIB_TYPE_Q3_K, n, w, w_row_bytes, xq, xq_row_bytes, n_tok, y, y_stride);
}
