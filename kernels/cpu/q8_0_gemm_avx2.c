/*
 * q8_0_gemm_avx2.c — Q8_0 x Q8_0 prompt GEMM: 8 weight rows against up to 8
 * activation rows per call (AVX2 build: 4, see below).
 *
 * Per block, the eight rows' 32-byte quants are transposed (8 x 8 dwords) so
 * that vector c holds bytes 4c..4c+3 of row r in lane r, and flipped
 * unsigned (q + 128). Each activation row then needs 8 vpdpbusd against its
 * dword c broadcast, starting from -128 * (its block sum): lane r ends with
 * row r's exact integer dot product. The float step is one fma per block and
 * row, in block order:
 *     acc_r = fma((float)isum_r, d_w[r] * d_y, acc_r)
 * (llama.cpp's repacked-GEMM order, as packed_avx2.c's Q4_0) — not the
 * per-lane order of the Q8_0 vec_dot and of llama.cpp's tinyBLAS, so results
 * agree with those within float rounding, not bit for bit. nib_op_matmul
 * therefore never uses it for NIB_MATMUL_ROWWISE.
 * gemm16 does the same for 16 rows (two groups transposed side by side into
 * 512-bit vectors): every lane's arithmetic unchanged, half the instructions.
 *
 * The AVX2 build (no vpdpbusd, 16 registers) keeps the quants signed and
 * takes each dword product as maddubs(|w|, sign(y, w)) then madd into the
 * 32-bit lane (tinyBLAS's and the vec_dot's trick: |w| <= 128 and |y| <= 127,
 * since activations are quantized with d = amax / 127, so no pair saturates):
 * the same exact integer sums and the same float step, so gemm8's bits, in
 * tiles of 4 activation rows; |w| is stored beside the transposed quants
 * once per call (AVX2, Zen 5, one thread, 64 tokens: 92.0-92.4 -> 95.6-97.0
 * GMAC/s against taking it per tile). Only the gemm8 entry.
 */
#include "avx2_util.h"
#include "dispatch.h"
#include "q8_0_transpose.h"
#include "quant_blocks.h"

#include <immintrin.h>
#include <string.h>

/* The group's blocks, transposed once per call: 256 quant bytes (dword c of
 * row r at 32c + 4r, xor'd with flip: 0x80 stores them unsigned, q + 128)
 * and the 8 row scales as floats. */
struct q8_0x8t {
    uint8_t qs[256];
    float   d[8];
};

static void transpose_group(int64_t nb, const struct nib_block_q8_0 *const w[8], struct q8_0x8t *out, char flip_byte) {
    const __m256i flip = _mm256_set1_epi8(flip_byte);
    for (int64_t b = 0; b < nb; b++) {
        __m256i rows[8], q[8];
        for (int r = 0; r < 8; r++) rows[r] = load32(w[r][b].qs);
        transpose8x8(rows, q);
        for (int c = 0; c < 8; c++) _mm256_storeu_si256((__m256i *)(out[b].qs + 32 * c), _mm256_xor_si256(q[c], flip));
        _mm256_storeu_ps(out[b].d, _mm256_cvtph_ps(_mm_setr_epi16((short)w[0][b].d, (short)w[1][b].d, (short)w[2][b].d,
                                                                  (short)w[3][b].d, (short)w[4][b].d, (short)w[5][b].d,
                                                                  (short)w[6][b].d, (short)w[7][b].d)));
    }
}

#if NIB_VNNI

static inline __attribute__((always_inline)) void q8_0_gemm_tile(int64_t nb, const struct q8_0x8t *w, const void *xq,
                                                                 size_t xq_row_bytes, const int32_t *ybase,
                                                                 const float *dyf, float *y, size_t y_stride, const int NT) {
    const struct nib_block_q8_0 *a[8];
    __m256 acc[8];
    for (int t = 0; t < NT; t++) {
        a[t] = (const struct nib_block_q8_0 *)((const char *)xq + (size_t)t * xq_row_bytes);
        acc[t] = _mm256_setzero_ps();
    }
    for (int64_t b = 0; b < nb; b++) {
        __m256i q[8];
        for (int c = 0; c < 8; c++) q[c] = load32(w[b].qs + 32 * c);
        const __m256 dw = _mm256_loadu_ps(w[b].d);
        for (int t = 0; t < NT; t++) {
            /* two chains of four (vpdpbusd's latency), joined by one add */
            __m256i s0 = _mm256_set1_epi32(ybase[(size_t)t * (size_t)nb + (size_t)b]), s1 = _mm256_setzero_si256();
            const int8_t *qy = a[t][b].qs;
            for (int c = 0; c < 8; c += 2) {
                int32_t v0, v1;
                memcpy(&v0, qy + 4 * c, sizeof v0);
                memcpy(&v1, qy + 4 * c + 4, sizeof v1);
                s0 = _mm256_dpbusd_epi32(s0, q[c], _mm256_set1_epi32(v0));
                s1 = _mm256_dpbusd_epi32(s1, q[c + 1], _mm256_set1_epi32(v1));
            }
            const __m256i s = _mm256_add_epi32(s0, s1);
            const __m256 d = _mm256_mul_ps(dw, _mm256_set1_ps(dyf[(size_t)t * (size_t)nb + (size_t)b]));
            acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), d, acc[t]);
        }
    }
    for (int t = 0; t < NT; t++) _mm256_storeu_ps(y + (size_t)t * y_stride, acc[t]);
}

/* q8_0_gemm_tile over 16 rows in 512-bit vectors: each lane's arithmetic is
 * the 8-row tile's, so the same bits with half the instructions. */
static inline __attribute__((always_inline)) void q8_0_gemm_tile16(int64_t nb, const struct q8_0x16t *w, const void *xq,
                                                                   size_t xq_row_bytes, const int32_t *ybase,
                                                                   const float *dyf, float *y, size_t y_stride, const int NT) {
    const struct nib_block_q8_0 *a[8];
    __m512 acc[8];
    for (int t = 0; t < NT; t++) {
        a[t] = (const struct nib_block_q8_0 *)((const char *)xq + (size_t)t * xq_row_bytes);
        acc[t] = _mm512_setzero_ps();
    }
    for (int64_t b = 0; b < nb; b++) {
        __m512i q[8];
        for (int c = 0; c < 8; c++) q[c] = _mm512_loadu_si512((const void *)(w[b].qs + 64 * c));
        const __m512 dw = _mm512_loadu_ps(w[b].d);
        for (int t = 0; t < NT; t++) {
            __m512i s0 = _mm512_set1_epi32(ybase[(size_t)t * (size_t)nb + (size_t)b]), s1 = _mm512_setzero_si512();
            const int8_t *qy = a[t][b].qs;
            for (int c = 0; c < 8; c += 2) {
                int32_t v0, v1;
                memcpy(&v0, qy + 4 * c, sizeof v0);
                memcpy(&v1, qy + 4 * c + 4, sizeof v1);
                s0 = _mm512_dpbusd_epi32(s0, q[c], _mm512_set1_epi32(v0));
                s1 = _mm512_dpbusd_epi32(s1, q[c + 1], _mm512_set1_epi32(v1));
            }
            const __m512i sum = _mm512_add_epi32(s0, s1);
            const __m512 d = _mm512_mul_ps(dw, _mm512_set1_ps(dyf[(size_t)t * (size_t)nb + (size_t)b]));
            acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sum), d, acc[t]);
        }
    }
    for (int t = 0; t < NT; t++) _mm512_storeu_ps(y + (size_t)t * y_stride, acc[t]);
}

/* One tile of NT <= 8 token rows over R = 8 or 16 transposed rows. */
static inline __attribute__((always_inline)) void gemm_tile(const int R, int64_t nb, const void *g, const void *xq,
                                                            size_t xq_row_bytes, const int32_t *ybase, const float *dyf,
                                                            float *y, size_t y_stride, const int NT) {
    if (R == 16) q8_0_gemm_tile16(nb, g, xq, xq_row_bytes, ybase, dyf, y, y_stride, NT);
    else q8_0_gemm_tile(nb, g, xq, xq_row_bytes, ybase, dyf, y, y_stride, NT);
}

/* R rows (w_row_bytes apart) transposed once into scratch, then every token row in tiles of 8. */
static inline __attribute__((always_inline)) void gemm_rows(const int R, int64_t n, const void *w, size_t w_row_bytes,
                                                            const void *xq, size_t xq_row_bytes, int n_tok,
                                                            const int32_t *ybase, const float *dyf, float *y,
                                                            size_t y_stride, void *scratch) {
    const int64_t nb = n / NIB_QK8_0;
    const struct nib_block_q8_0 *rows[16];
    for (int r = 0; r < R; r++) rows[r] = (const struct nib_block_q8_0 *)((const char *)w + (size_t)r * w_row_bytes);
    if (R == 16 && !w_row_bytes) unpack_unit(nb, w, scratch, 0x80); /* a packed unit */
    else if (R == 16) transpose_pair(nb, rows, scratch, 0x80);
    else transpose_group(nb, rows, scratch, (char)0x80);
    for (int t = 0; t < n_tok; t += 8) {
        const char *x = (const char *)xq + (size_t)t * xq_row_bytes;
        const int32_t *yb = ybase + (size_t)t * (size_t)nb;
        const float *yd = dyf + (size_t)t * (size_t)nb;
        float *yt = y + (size_t)t * y_stride;
        switch (n_tok - t < 8 ? n_tok - t : 8) {
        case 8: gemm_tile(R, nb, scratch, x, xq_row_bytes, yb, yd, yt, y_stride, 8); break;
        case 7: gemm_tile(R, nb, scratch, x, xq_row_bytes, yb, yd, yt, y_stride, 7); break;
        case 6: gemm_tile(R, nb, scratch, x, xq_row_bytes, yb, yd, yt, y_stride, 6); break;
        case 5: gemm_tile(R, nb, scratch, x, xq_row_bytes, yb, yd, yt, y_stride, 5); break;
        case 4: gemm_tile(R, nb, scratch, x, xq_row_bytes, yb, yd, yt, y_stride, 4); break;
        case 3: gemm_tile(R, nb, scratch, x, xq_row_bytes, yb, yd, yt, y_stride, 3); break;
        case 2: gemm_tile(R, nb, scratch, x, xq_row_bytes, yb, yd, yt, y_stride, 2); break;
        default: gemm_tile(R, nb, scratch, x, xq_row_bytes, yb, yd, yt, y_stride, 1); break;
        }
    }
}

/* Per block: the 16 rows' scales times the activation's, then for each
 * dword c one 64-byte load (dword c of every row, q + 128), one vpdpbusd
 * from ybase (-128 * the activation dword's sum: the exact signed sum), one
 * conversion and one fma into acc[c]: lane r of acc[c] is lane c of row r's
 * vec_dot accumulator, in its order; at the end hsum_f32x8_rows16. NT (1 or 2) activation rows share each load.
 * Prefetches the unit 3 KB ahead (one stream). */
static inline __attribute__((always_inline)) void gemv16_rows(int64_t nb, float *out, size_t out_stride,
                                                              const struct nib_block_q8_0x16 *x, const char *vy,
                                                              size_t y_row_bytes, const int32_t *ybase, const int NT) {
    const struct nib_block_q8_0 *y[2];
    __m512 acc[2][8];
    for (int t = 0; t < NT; t++) {
        y[t] = (const struct nib_block_q8_0 *)(vy + (size_t)t * y_row_bytes);
        for (int c = 0; c < 8; c++) acc[t][c] = _mm512_setzero_ps();
    }
    for (int64_t b = 0; b < nb; b++) {
        prefetch_stream(x + b, sizeof x[b]);
        const __m512 dw = _mm512_cvtph_ps(load32(x[b].d));
        __m512 d[2];
        for (int t = 0; t < NT; t++) d[t] = _mm512_mul_ps(dw, _mm512_set1_ps(fp16_to_f32(y[t][b].d)));
        for (int c = 0; c < 8; c++) {
            const __m512i w = _mm512_loadu_si512((const void *)(x[b].qs + 64 * c));
            for (int t = 0; t < NT; t++) {
                int32_t v;
                memcpy(&v, y[t][b].qs + 4 * c, sizeof v);
                const __m512i s = _mm512_dpbusd_epi32(_mm512_set1_epi32(ybase[(size_t)t * (size_t)nb * 8 + 8 * (size_t)b + (size_t)c]),
                                                      w, _mm512_set1_epi32(v));
                acc[t][c] = _mm512_fmadd_ps(d[t], _mm512_cvtepi32_ps(s), acc[t][c]);
            }
        }
    }
    for (int t = 0; t < NT; t++) _mm512_storeu_ps(out + (size_t)t * out_stride, hsum_f32x8_rows16(acc[t]));
}

void NIB_X86_FN(nib_gemv16_q8_0_q8_0)(int64_t n, float *out, size_t out_stride, const void *unit, const void *y,
                                      size_t y_row_bytes, const int32_t *ybase, int n_tok) {
    const int64_t nb = n / NIB_QK8_0;
    int t = 0;
    for (; t + 2 <= n_tok; t += 2)
        gemv16_rows(nb, out + (size_t)t * out_stride, out_stride, unit, (const char *)y + (size_t)t * y_row_bytes, y_row_bytes,
                    ybase + (size_t)t * (size_t)nb * 8, 2);
    if (t < n_tok)
        gemv16_rows(nb, out + (size_t)t * out_stride, out_stride, unit, (const char *)y + (size_t)t * y_row_bytes, y_row_bytes,
                    ybase + (size_t)t * (size_t)nb * 8, 1);
}

/* gemv16_rows for one activation row over NS units at once, block b of
 * every unit before block b + 1 of any (dispatch.h's
 * nib_decode_streams_fn: NS streams read side by side); each unit's
 * lanes compute what gemv16_rows's do: the same bits. */
static inline __attribute__((always_inline)) void gemv16_streams(int64_t nb, const void *const *units, const char *vy,
                                                                 float *const *out, const int32_t *ybase, const int NS) {
    const struct nib_block_q8_0 *y = (const struct nib_block_q8_0 *)vy;
    const struct nib_block_q8_0x16 *x[NIB_DECODE_STREAMS];
    __m512 acc[NIB_DECODE_STREAMS][8];
    for (int s = 0; s < NS; s++) {
        x[s] = units[s];
        for (int c = 0; c < 8; c++) acc[s][c] = _mm512_setzero_ps();
    }
    for (int64_t b = 0; b < nb; b++) {
        const __m512 dy = _mm512_set1_ps(fp16_to_f32(y[b].d));
        for (int s = 0; s < NS; s++) {
            prefetch_stream(x[s] + b, sizeof x[s][b]);
            const __m512 d = _mm512_mul_ps(_mm512_cvtph_ps(load32(x[s][b].d)), dy);
            for (int c = 0; c < 8; c++) {
                int32_t v;
                memcpy(&v, y[b].qs + 4 * c, sizeof v);
                const __m512i sum = _mm512_dpbusd_epi32(_mm512_set1_epi32(ybase[8 * (size_t)b + (size_t)c]),
                                                        _mm512_loadu_si512((const void *)(x[s][b].qs + 64 * c)), _mm512_set1_epi32(v));
                acc[s][c] = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(sum), acc[s][c]);
            }
        }
    }
    for (int s = 0; s < NS; s++) _mm512_storeu_ps(out[s], hsum_f32x8_rows16(acc[s]));
}

void NIB_X86_FN(nib_gemv16_streams_q8_0_q8_0)(int64_t n, int n_units, const void *const *units, const void *xq, float *const *y,
                                              const int32_t *ybase, const float *dyf) {
    (void)dyf; /* the activation's scales are read from xq */
    const int64_t nb = n / NIB_QK8_0;
    switch (n_units) {
    case 4: gemv16_streams(nb, units, xq, y, ybase, 4); break;
    case 3: gemv16_streams(nb, units, xq, y, ybase, 3); break;
    case 2: gemv16_streams(nb, units, xq, y, ybase, 2); break;
    default: gemv16_streams(nb, units, xq, y, ybase, 1); break;
    }
}

void NIB_X86_FN(nib_gemm8_q8_0_q8_0)(int64_t n, const void *w, size_t w_row_bytes, const void *xq, size_t xq_row_bytes,
                                     int n_tok, const int32_t *ybase, const float *dyf, float *y, size_t y_stride,
                                     void *scratch) {
    gemm_rows(8, n, w, w_row_bytes, xq, xq_row_bytes, n_tok, ybase, dyf, y, y_stride, scratch);
}

void NIB_X86_FN(nib_gemm16_q8_0_q8_0)(int64_t n, const void *w, size_t w_row_bytes, const void *xq, size_t xq_row_bytes,
                                      int n_tok, const int32_t *ybase, const float *dyf, float *y, size_t y_stride,
                                      void *scratch) {
    gemm_rows(16, n, w, w_row_bytes, xq, xq_row_bytes, n_tok, ybase, dyf, y, y_stride, scratch);
}

#else /* AVX2 */

/* NT <= 4 activation rows against a transposed group (signed quants) and
 * its blocks' |w| (aw: 256 bytes a block, taken once per call rather than
 * per tile): per block and dword c the tile's rows take sign, maddubs, madd
 * and add; per block the float step of the VNNI tile. */
static inline __attribute__((always_inline)) void q8_0_gemm_tile_avx2(int64_t nb, const struct q8_0x8t *w, const uint8_t *aw,
                                                                      const void *xq, size_t xq_row_bytes, const float *dyf,
                                                                      float *y, size_t y_stride, const int NT) {
    const struct nib_block_q8_0 *a[4];
    __m256 acc[4];
    for (int t = 0; t < NT; t++) {
        a[t] = (const struct nib_block_q8_0 *)((const char *)xq + (size_t)t * xq_row_bytes);
        acc[t] = _mm256_setzero_ps();
    }
    for (int64_t b = 0; b < nb; b++) {
        __m256i s[4];
        for (int t = 0; t < NT; t++) s[t] = _mm256_setzero_si256();
        for (int c = 0; c < 8; c++) {
            const __m256i q = load32(w[b].qs + 32 * c), aq = load32(aw + 256 * b + 32 * c);
            for (int t = 0; t < NT; t++) /* dot_s8_s8 with |q| shared by the tile */
                s[t] = _mm256_add_epi32(s[t], dot_u8_s8(aq, _mm256_sign_epi8(bcast4(a[t][b].qs + 4 * c), q)));
        }
        const __m256 dw = _mm256_loadu_ps(w[b].d);
        for (int t = 0; t < NT; t++) {
            const __m256 d = _mm256_mul_ps(dw, _mm256_set1_ps(dyf[(size_t)t * (size_t)nb + (size_t)b]));
            acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s[t]), d, acc[t]);
        }
    }
    for (int t = 0; t < NT; t++) _mm256_storeu_ps(y + (size_t)t * y_stride, acc[t]);
}

void NIB_X86_FN(nib_gemm8_q8_0_q8_0)(int64_t n, const void *w, size_t w_row_bytes, const void *xq, size_t xq_row_bytes,
                                     int n_tok, const int32_t *ybase, const float *dyf, float *y, size_t y_stride,
                                     void *scratch) {
    (void)ybase; /* the quants stay signed: no -128 * sum term */
    const int64_t nb = n / NIB_QK8_0;
    const struct nib_block_q8_0 *rows[8];
    for (int r = 0; r < 8; r++) rows[r] = (const struct nib_block_q8_0 *)((const char *)w + (size_t)r * w_row_bytes);
    struct q8_0x8t *wt = scratch; /* NIB_GEMM8_SCRATCH: 288 bytes a block, then |w|'s 256 */
    uint8_t *aw = (uint8_t *)(wt + nb);
    transpose_group(nb, rows, wt, 0);
    for (int64_t b = 0; b < nb; b++)
        for (int c = 0; c < 8; c++) {
            const __m256i q = load32(wt[b].qs + 32 * c);
            _mm256_storeu_si256((__m256i *)(aw + 256 * b + 32 * c), _mm256_sign_epi8(q, q));
        }
    for (int t = 0; t < n_tok; t += 4) {
        const char *x = (const char *)xq + (size_t)t * xq_row_bytes;
        const float *yd = dyf + (size_t)t * (size_t)nb;
        float *yt = y + (size_t)t * y_stride;
        switch (n_tok - t < 4 ? n_tok - t : 4) {
        case 4: q8_0_gemm_tile_avx2(nb, wt, aw, x, xq_row_bytes, yd, yt, y_stride, 4); break;
        case 3: q8_0_gemm_tile_avx2(nb, wt, aw, x, xq_row_bytes, yd, yt, y_stride, 3); break;
        case 2: q8_0_gemm_tile_avx2(nb, wt, aw, x, xq_row_bytes, yd, yt, y_stride, 2); break;
        default: q8_0_gemm_tile_avx2(nb, wt, aw, x, xq_row_bytes, yd, yt, y_stride, 1); break;
        }
    }
}

#endif
