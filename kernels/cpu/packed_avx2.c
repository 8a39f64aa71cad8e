/*
 * packed_avx2.c — matmul kernels over the 8-row interleaved layouts of
 * repack.h: one group of 8 weight rows against 1..4 activation rows (AVX2,
 * built with -mavx2 -mfma -mf16c).
 *
 * Q4_0 x Q8_0. Per block and activation row t, lane r of a 32-bit vector
 * gets row r's exact integer dot product: the weights are stored unsigned
 * (q + 8), so maddubs takes them as they are, the eight 16-bit pair sums of
 * the four chunks add up within int16 (8 * 2 * 15 * 127 < 2^15), one madd
 * widens them, and 8 * sum(y) is taken off (the block sums of the activation
 * rows, computed once per pass by the caller, as ycorr = -8 * sum). The float step is llama.cpp's
 * repacked GEMV/GEMM's (see rows8_avx2.c):
 *     acc_t = fma((float)isum, d_w * d_y, acc_t)       per block, in order
 * so results equal llama.cpp's bit for bit. Up to four activation rows share
 * each weight load and nibble unpacking (the prefill GEMM tile is 8 x 4, 8 x 8
 * for Q4_0 on AVX-512); every tile prefetches the weights 3 KB ahead into
 * L2 (prefetch_stream, avx2_util.h), since from memory the stream
 * prefetcher alone falls behind them.
 * AVX-512 adds 16-row Q4_0 and Q4_K kernels over repack.h's paired layouts
 * (zmm lanes: two groups' rows), the same per-lane arithmetic; they read
 * the same bytes ahead as the 8-row ones.
 */
#include "avx2_util.h"
#include "dispatch.h"
#include "quant_blocks.h"
#include "repack.h"

#include <immintrin.h>
#include <string.h>

/* Activation rows per call: 8 where AVX-512 gives 32 registers (Q4_0 only:
 * Q4_K's five accumulators per row would not fit), else 4. */
#define TILE (NIB_VNNI ? 8 : 4)
#define TILE_Q4_K 4

/* The Q4_0 body for a compile-time token count: accumulators stay in registers. */
static inline __attribute__((always_inline)) void q4_0_tile(int64_t nb, const struct nib_block_q4_0x8 *w, const void *xq,
                                                            size_t xq_row_bytes, const int32_t *ycorr, const float *dyf,
                                                            float *y, size_t y_stride, const int NT) {
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    const struct nib_block_q8_0 *a[TILE];
    __m256 acc[TILE];
    for (int t = 0; t < NT; t++) {
        a[t] = (const struct nib_block_q8_0 *)((const char *)xq + (size_t)t * xq_row_bytes);
        acc[t] = _mm256_setzero_ps();
    }
    for (int64_t b = 0; b < nb; b++) {
        prefetch_stream(w + b, sizeof w[b]); /* from memory the stream prefetcher alone falls behind */
        /* AVX2: int16 pair sums; VNNI: the int32 lane sums directly, in one
         * chain per row where 4+ rows give independent chains, else low and
         * high nibbles in two chains (vpdpbusd's latency) joined below */
        __m256i s16[TILE];
#if NIB_VNNI /* the low chain starts from -8 * sum(y): the correction costs a broadcast load, no add */
        __m256i s_hi[TILE];
        for (int t = 0; t < NT; t++) {
            s16[t] = _mm256_set1_epi32(ycorr[(size_t)t * (size_t)nb + (size_t)b]);
            s_hi[t] = _mm256_setzero_si256();
        }
#else
        for (int t = 0; t < NT; t++) s16[t] = _mm256_setzero_si256();
#endif
        for (int c = 0; c < 4; c++) {
            const __m256i q = _mm256_loadu_si256((const __m256i *)(w[b].qs + 32 * c));
            const __m256i lo = _mm256_and_si256(q, m4), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
            for (int t = 0; t < NT; t++) {
#if NIB_VNNI
                s16[t] = _mm256_dpbusd_epi32(s16[t], lo, bcast4(a[t][b].qs + 8 * c));
                if (NT >= 4) s16[t] = _mm256_dpbusd_epi32(s16[t], hi, bcast4(a[t][b].qs + 8 * c + 4));
                else s_hi[t] = _mm256_dpbusd_epi32(s_hi[t], hi, bcast4(a[t][b].qs + 8 * c + 4));
#else
                s16[t] = _mm256_add_epi16(s16[t], _mm256_maddubs_epi16(lo, bcast4(a[t][b].qs + 8 * c)));
                s16[t] = _mm256_add_epi16(s16[t], _mm256_maddubs_epi16(hi, bcast4(a[t][b].qs + 8 * c + 4)));
#endif
            }
        }
        const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)w[b].d));
        for (int t = 0; t < NT; t++) { /* ycorr and dyf: broadcasts from memory, no vector work */
            const size_t tb = (size_t)t * (size_t)nb + (size_t)b;
#if NIB_VNNI
            const __m256i isum = NT >= 4 ? s16[t] : _mm256_add_epi32(s16[t], s_hi[t]);
#else
            const __m256i isum = _mm256_add_epi32(_mm256_madd_epi16(s16[t], _mm256_set1_epi16(1)), _mm256_set1_epi32(ycorr[tb]));
#endif
            acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_mul_ps(dw, _mm256_broadcast_ss(dyf + tb)), acc[t]);
        }
    }
    for (int t = 0; t < NT; t++) _mm256_storeu_ps(y + (size_t)t * y_stride, acc[t]);
}

void NIB_X86_FN(nib_packed8_q4_0_q8_0)(int64_t n, const void *group, const void *xq, size_t xq_row_bytes, int n_tok, float *y,
                                size_t y_stride, int gemm, const int32_t *ycorr, const float *dyf) {
    (void)gemm; /* GEMV and GEMM add the same per-block terms */
    const int64_t nb = n / NIB_QK8_0;
    switch (n_tok) {
#if NIB_VNNI
    case 8: q4_0_tile(nb, group, xq, xq_row_bytes, ycorr, dyf, y, y_stride, 8); break;
    case 7: q4_0_tile(nb, group, xq, xq_row_bytes, ycorr, dyf, y, y_stride, 7); break;
    case 6: q4_0_tile(nb, group, xq, xq_row_bytes, ycorr, dyf, y, y_stride, 6); break;
    case 5: q4_0_tile(nb, group, xq, xq_row_bytes, ycorr, dyf, y, y_stride, 5); break;
#endif
    case 4: q4_0_tile(nb, group, xq, xq_row_bytes, ycorr, dyf, y, y_stride, 4); break;
    case 3: q4_0_tile(nb, group, xq, xq_row_bytes, ycorr, dyf, y, y_stride, 3); break;
    case 2: q4_0_tile(nb, group, xq, xq_row_bytes, ycorr, dyf, y, y_stride, 2); break;
    default: q4_0_tile(nb, group, xq, xq_row_bytes, ycorr, dyf, y, y_stride, 1); break;
    }
}

#if NIB_VNNI
/* A pair of groups (16 rows, repack.h's paired layout: the two groups'
 * blocks b side by side) in 512-bit vectors: lanes 0-7 are the first
 * group's rows, 8-15 the second's, so each vpdpbusd takes its activation
 * bytes as one broadcast and covers twice the rows of q4_0_tile's: half the
 * instructions per multiply-add. Each lane computes what q4_0_tile's lane
 * computes, in the same order: the same bits. */
static inline __attribute__((always_inline)) void q4_0_tile16(int64_t nb, const struct nib_block_q4_0x8 *w, const void *xq,
                                                              size_t xq_row_bytes, const int32_t *ycorr, const float *dyf,
                                                              float *y, size_t y_stride, const int NT) {
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    const struct nib_block_q8_0 *a[TILE];
    __m512 acc[TILE];
    for (int t = 0; t < NT; t++) {
        a[t] = (const struct nib_block_q8_0 *)((const char *)xq + (size_t)t * xq_row_bytes);
        acc[t] = _mm512_setzero_ps();
    }
    for (int64_t b = 0; b < nb; b++) {
        const struct nib_block_q4_0x8 *w0 = w + 2 * b, *w1 = w0 + 1;
        prefetch_stream(w0, 2 * sizeof *w0);
        __m512i s[TILE], s_hi[TILE];
        for (int t = 0; t < NT; t++) {
            s[t] = _mm512_set1_epi32(ycorr[(size_t)t * (size_t)nb + (size_t)b]);
            s_hi[t] = _mm512_setzero_si512();
        }
        for (int c = 0; c < 4; c++) {
            const __m512i q = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(w0->qs + 32 * c))),
                                                 _mm256_loadu_si256((const __m256i *)(w1->qs + 32 * c)), 1);
            const __m512i lo = _mm512_and_si512(q, m4), hi = _mm512_and_si512(_mm512_srli_epi16(q, 4), m4);
            for (int t = 0; t < NT; t++) {
                int32_t ylo, yhi;
                memcpy(&ylo, a[t][b].qs + 8 * c, 4);
                memcpy(&yhi, a[t][b].qs + 8 * c + 4, 4);
                s[t] = _mm512_dpbusd_epi32(s[t], lo, _mm512_set1_epi32(ylo));
                if (NT >= 4) s[t] = _mm512_dpbusd_epi32(s[t], hi, _mm512_set1_epi32(yhi));
                else s_hi[t] = _mm512_dpbusd_epi32(s_hi[t], hi, _mm512_set1_epi32(yhi));
            }
        }
        const __m512 dw = _mm512_cvtph_ps(_mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)w0->d)),
                                                                  _mm_loadu_si128((const __m128i *)w1->d), 1));
        for (int t = 0; t < NT; t++) {
            const size_t tb = (size_t)t * (size_t)nb + (size_t)b;
            const __m512i isum = NT >= 4 ? s[t] : _mm512_add_epi32(s[t], s_hi[t]);
            acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(dw, _mm512_set1_ps(dyf[tb])), acc[t]);
        }
    }
    for (int t = 0; t < NT; t++) _mm512_storeu_ps(y + (size_t)t * y_stride, acc[t]);
}

void nib_packed16_q4_0_q8_0_avx512(int64_t n, const void *pair, const void *xq, size_t xq_row_bytes, int n_tok, float *y,
                                   size_t y_stride, int gemm, const int32_t *ycorr, const float *dyf, void *scratch) {
    (void)gemm, (void)scratch; /* as packed8; one token tile */
    const int64_t nb = n / NIB_QK8_0;
    switch (n_tok) {
    case 8: q4_0_tile16(nb, pair, xq, xq_row_bytes, ycorr, dyf, y, y_stride, 8); break;
    case 7: q4_0_tile16(nb, pair, xq, xq_row_bytes, ycorr, dyf, y, y_stride, 7); break;
    case 6: q4_0_tile16(nb, pair, xq, xq_row_bytes, ycorr, dyf, y, y_stride, 6); break;
    case 5: q4_0_tile16(nb, pair, xq, xq_row_bytes, ycorr, dyf, y, y_stride, 5); break;
    case 4: q4_0_tile16(nb, pair, xq, xq_row_bytes, ycorr, dyf, y, y_stride, 4); break;
    case 3: q4_0_tile16(nb, pair, xq, xq_row_bytes, ycorr, dyf, y, y_stride, 3); break;
    case 2: q4_0_tile16(nb, pair, xq, xq_row_bytes, ycorr, dyf, y, y_stride, 2); break;
    default: q4_0_tile16(nb, pair, xq, xq_row_bytes, ycorr, dyf, y, y_stride, 1); break;
    }
}
#endif

#if NIB_VNNI
/* dispatch.h's nib_decode_streams_fn: up to NIB_DECODE_STREAMS pairs
 * against one activation row, block b of every pair before block b + 1 of
 * any: one thread reads that many streams at once, which the memory serves
 * faster than one (TinyLlama Q4_0 decode,
 * Intel Xeon: 1 thread 24.4-24.7 -> 24.9-26.0 t/s, 2 threads 45.8-46.9 ->
 * 48.0, alternating runs). Each pair's lanes compute what q4_0_tile16's do
 * for one row: the same bits. */
void NIB_X86_FN(nib_packed16_streams_q4_0_q8_0)(int64_t n, int n_pairs, const void *const *pairs, const void *xq,
                                                float *const *y, const int32_t *ycorr, const float *dyf) {
    const int64_t nb = n / NIB_QK8_0;
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    const struct nib_block_q8_0 *a = xq;
    const struct nib_block_q4_0x8 *w[NIB_DECODE_STREAMS];
    __m512 acc[NIB_DECODE_STREAMS];
    for (int s = 0; s < n_pairs; s++) w[s] = pairs[s], acc[s] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        int32_t q[8]; /* the activation block's quants, four a dword */
        memcpy(q, a[b].qs, sizeof q);
        const __m512 dy = _mm512_set1_ps(dyf[b]);
        for (int s = 0; s < n_pairs; s++) {
            const struct nib_block_q4_0x8 *w0 = w[s] + 2 * b, *w1 = w0 + 1;
            prefetch_stream(w0, 2 * sizeof *w0);
            __m512i lo = _mm512_set1_epi32(ycorr[b]), hi = _mm512_setzero_si512(); /* two chains, as q4_0_tile16's */
            for (int c = 0; c < 4; c++) {
                const __m512i v = _mm512_inserti64x4(_mm512_castsi256_si512(load32(w0->qs + 32 * c)), load32(w1->qs + 32 * c), 1);
                lo = _mm512_dpbusd_epi32(lo, _mm512_and_si512(v, m4), _mm512_set1_epi32(q[2 * c]));
                hi = _mm512_dpbusd_epi32(hi, _mm512_and_si512(_mm512_srli_epi16(v, 4), m4), _mm512_set1_epi32(q[2 * c + 1]));
            }
            const __m512 dw = _mm512_cvtph_ps(_mm256_inserti128_si256(
                _mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)w0->d)), _mm_loadu_si128((const __m128i *)w1->d), 1));
            acc[s] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(lo, hi)), _mm512_mul_ps(dw, dy), acc[s]);
        }
    }
    for (int s = 0; s < n_pairs; s++) _mm512_storeu_ps(y[s], acc[s]);
}
#endif

void NIB_X86_FN(nib_block_sums_q8_0)(const void *xq, size_t xq_row_bytes, int64_t nb, int64_t n_tok, int16_t *out) {
    const __m256i one8 = _mm256_set1_epi8(1), one16 = _mm256_set1_epi16(1);
    for (int64_t t = 0; t < n_tok; t++) {
        const struct nib_block_q8_0 *a = (const struct nib_block_q8_0 *)((const char *)xq + (size_t)t * xq_row_bytes);
        for (int64_t b = 0; b < nb; b++) { /* maddubs(1, y): |y| <= 127 -> exact pair sums */
            out[t * nb + b] = (int16_t)hsum_i32x8(_mm256_madd_epi16(_mm256_maddubs_epi16(one8, load32(a[b].qs)), one16));
        }
    }
}

/* Q4_K x Q8_K. Per sub-block s and activation row t, row r's dot product
 * (weights 0..15) lands in 32-bit lane r as for Q4_0 and is scaled by its
 * 6-bit sc[s][r] in the same madd; the mins meet Q8_K's 16-element sums.
 * The float steps are llama.cpp's repacked kernels' (rows8_avx2.c): one fma
 * per super-block in the GEMV, per pair of sub-blocks in the GEMM. */
static inline __m256i widen_pairs(const uint8_t *v8) { /* 8 bytes -> 16-bit lanes 2r, 2r+1 = v8[r] */
    /* one broadcast and one shuffle (lane 0: rows 0-3, lane 1: rows 4-7; -1 zeroes the high bytes) */
    const __m256i pick = _mm256_setr_epi8(0, -1, 0, -1, 1, -1, 1, -1, 2, -1, 2, -1, 3, -1, 3, -1, 4, -1, 4, -1, 5, -1, 5, -1, 6,
                                          -1, 6, -1, 7, -1, 7, -1);
    int64_t v;
    memcpy(&v, v8, sizeof v);
    return _mm256_shuffle_epi8(_mm256_set1_epi64x(v), pick);
}

static inline __attribute__((always_inline)) void q4_K_tile(int64_t nb, const struct nib_block_q4_Kx8 *w, const void *xq,
                                                            size_t xq_row_bytes, const int32_t *pairs, float *y,
                                                            size_t y_stride, int gemm, const int NT) {
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    const struct nib_block_q8_K *a[TILE_Q4_K];
    __m256 acc[TILE_Q4_K], accm[TILE_Q4_K];
    for (int t = 0; t < NT; t++) {
        a[t] = (const struct nib_block_q8_K *)((const char *)xq + (size_t)t * xq_row_bytes);
        acc[t] = accm[t] = _mm256_setzero_ps();
    }
    /* The two chains are independent: the quants' first (streaming the
     * weights), then the mins' from cache, each in its own order, so that
     * the first keeps its accumulators in registers (AVX2 has 16): AVX2
     * build, Zen 5, one thread, 2048 x 2048 at 4 / 64 rows 125-126 / 122-126
     * -> 132-134 / 131-134 GMAC/s; one row a tie, from cache and memory. */
    for (int64_t b = 0; b < nb; b++) {
        const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)w[b].d));
        __m256i isum[TILE_Q4_K];
        __m256 dd[TILE_Q4_K]; /* d_w * d_y, once a super-block */
        for (int t = 0; t < NT; t++) isum[t] = _mm256_setzero_si256(), dd[t] = _mm256_mul_ps(dw, _mm256_set1_ps(a[t][b].d));
        for (int s = 0; s < 8; s++) {
            prefetch_stream((const char *)(w + b) + 148 * s, 148); /* a sub-block's share at a time */
            __m256i s16[TILE_Q4_K], s_hi[TILE_Q4_K]; /* VNNI: two chains (vpdpbusd's latency) */
            for (int t = 0; t < NT; t++) s16[t] = s_hi[t] = _mm256_setzero_si256();
            for (int c = 0; c < 4; c++) {
                const __m256i q = _mm256_loadu_si256((const __m256i *)(w[b].qs + 128 * s + 32 * c));
                const __m256i lo = _mm256_and_si256(q, m4), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
                for (int t = 0; t < NT; t++) {
                    const int8_t *q8 = a[t][b].qs + 32 * s + 8 * c;
#if NIB_VNNI
                    s16[t] = _mm256_dpbusd_epi32(s16[t], lo, bcast4(q8));
                    s_hi[t] = _mm256_dpbusd_epi32(s_hi[t], hi, bcast4(q8 + 4));
#else
                    s16[t] = _mm256_add_epi16(s16[t], _mm256_maddubs_epi16(lo, bcast4(q8)));
                    s16[t] = _mm256_add_epi16(s16[t], _mm256_maddubs_epi16(hi, bcast4(q8 + 4)));
#endif
                }
            }
#if NIB_VNNI /* s16 holds row r's 32-bit sum in lane r: times its scale, the same integer as the madd */
            const __m256i sc32 = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)w[b].sc[s]));
#else
            const __m256i sc = widen_pairs(w[b].sc[s]);
#endif
            for (int t = 0; t < NT; t++) {
#if NIB_VNNI
                isum[t] = _mm256_add_epi32(isum[t], _mm256_mullo_epi32(_mm256_add_epi32(s16[t], s_hi[t]), sc32));
#else
                isum[t] = _mm256_add_epi32(isum[t], _mm256_madd_epi16(s16[t], sc));
#endif
                if (gemm && s % 2 == 1) { /* the GEMM: one fma per pair of sub-blocks */
                    acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[t]), dd[t], acc[t]);
                    isum[t] = _mm256_setzero_si256();
                }
            }
        }
        if (!gemm) /* the GEMV: one fma per super-block */
            for (int t = 0; t < NT; t++) acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[t]), dd[t], acc[t]);
    }
    for (int64_t b = 0; b < nb; b++) {
        const __m256 dmw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)w[b].dmin));
        __m256i imin[TILE_Q4_K];
        __m256 dd[TILE_Q4_K]; /* dmin_w * d_y, once a super-block */
        for (int t = 0; t < NT; t++) imin[t] = _mm256_setzero_si256(), dd[t] = _mm256_mul_ps(dmw, _mm256_set1_ps(a[t][b].d));
        for (int s = 1; s < 8; s += 2) {
            /* the mins of sub-blocks s-1 and s as 16-bit pairs (lanes 2r, 2r+1), met by the two bsums in one madd */
            const __m256i mn2 = _mm256_cvtepu8_epi16(
                _mm_unpacklo_epi8(_mm_loadl_epi64((const __m128i *)w[b].m[s - 1]), _mm_loadl_epi64((const __m128i *)w[b].m[s])));
            for (int t = 0; t < NT; t++) {
                const int32_t pair = pairs[(size_t)t * 8 * (size_t)nb + 8 * (size_t)b + (size_t)(s / 2)]; /* q8_K_bsum_pairs */
#if NIB_VNNI
                imin[t] = _mm256_dpwssd_epi32(imin[t], mn2, _mm256_set1_epi32(pair));
#else
                imin[t] = _mm256_add_epi32(imin[t], _mm256_madd_epi16(mn2, _mm256_set1_epi32(pair)));
#endif
                if (gemm) {
                    accm[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(imin[t]), dd[t], accm[t]);
                    imin[t] = _mm256_setzero_si256();
                }
            }
        }
        if (!gemm)
            for (int t = 0; t < NT; t++) accm[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(imin[t]), dd[t], accm[t]);
    }
    for (int t = 0; t < NT; t++) _mm256_storeu_ps(y + (size_t)t * y_stride, _mm256_sub_ps(acc[t], accm[t]));
}

void NIB_X86_FN(nib_packed8_q4_K_q8_K)(int64_t n, const void *group, const void *xq, size_t xq_row_bytes, int n_tok, float *y,
                                size_t y_stride, int gemm, const int32_t *ycorr, const float *dyf) {
    (void)dyf; /* Q8_K carries a float scale; ycorr: its bsum pairs */
    const int64_t nb = n / NIB_QK_K;
    switch (n_tok) {
    /* gemm as a constant too: the sub-block loop without the branch */
    case 4:
        if (gemm) q4_K_tile(nb, group, xq, xq_row_bytes, ycorr, y, y_stride, 1, 4);
        else q4_K_tile(nb, group, xq, xq_row_bytes, ycorr, y, y_stride, 0, 4);
        break;
    case 3: q4_K_tile(nb, group, xq, xq_row_bytes, ycorr, y, y_stride, gemm, 3); break;
    case 2: q4_K_tile(nb, group, xq, xq_row_bytes, ycorr, y, y_stride, gemm, 2); break;
    default: q4_K_tile(nb, group, xq, xq_row_bytes, ycorr, y, y_stride, gemm, 1); break;
    }
}

#if NIB_VNNI
/* Q4_K over 16 rows (repack.h's struct nib_block_q4_Kx16, one sequential
 * stream) in 512-bit vectors, lanes 0-7 the first group's rows and 8-15 the
 * second's: each lane computes what q4_K_tile's lane computes, in the same
 * order. The integer sums are exact, so one vpdpbusd chain per row where 4
 * rows give independent chains. */
static inline __attribute__((always_inline)) void q4_K_tile16(int64_t nb, const struct nib_block_q4_Kx16 *w, const void *xq,
                                                              size_t xq_row_bytes, const int32_t *pairs, float *y,
                                                              size_t y_stride, int gemm, const int NT) {
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    const struct nib_block_q8_K *a[TILE_Q4_K];
    __m512 acc[TILE_Q4_K], accm[TILE_Q4_K];
    for (int t = 0; t < NT; t++) {
        a[t] = (const struct nib_block_q8_K *)((const char *)xq + (size_t)t * xq_row_bytes);
        acc[t] = accm[t] = _mm512_setzero_ps();
    }
    for (int64_t b = 0; b < nb; b++) {
        const struct nib_block_q4_Kx16 *wb = w + b;
        const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)wb->d));
        const __m512 dmw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)wb->dmin));
        __m512i isum[TILE_Q4_K], imin[TILE_Q4_K];
        for (int t = 0; t < NT; t++) isum[t] = imin[t] = _mm512_setzero_si512();
        for (int s = 0; s < 8; s++) {
            prefetch_stream((const char *)wb + 296 * s, 296);
            __m512i s16[TILE_Q4_K], s_hi[TILE_Q4_K];
            for (int t = 0; t < NT; t++) s16[t] = s_hi[t] = _mm512_setzero_si512();
            for (int c = 0; c < 4; c++) {
                const __m512i q = _mm512_loadu_si512((const void *)wb->qs[s][c]);
                const __m512i lo = _mm512_and_si512(q, m4), hi = _mm512_and_si512(_mm512_srli_epi16(q, 4), m4);
                for (int t = 0; t < NT; t++) {
                    const int8_t *q8 = a[t][b].qs + 32 * s + 8 * c;
                    int32_t ylo, yhi;
                    memcpy(&ylo, q8, 4);
                    memcpy(&yhi, q8 + 4, 4);
                    s16[t] = _mm512_dpbusd_epi32(s16[t], lo, _mm512_set1_epi32(ylo));
                    if (NT >= 4) s16[t] = _mm512_dpbusd_epi32(s16[t], hi, _mm512_set1_epi32(yhi));
                    else s_hi[t] = _mm512_dpbusd_epi32(s_hi[t], hi, _mm512_set1_epi32(yhi));
                }
            }
            __m512i mn2 = _mm512_setzero_si512();
            if (s % 2) { /* mins of sub-blocks s-1 and s as 16-bit pairs: lanes 2r, 2r+1 */
                const __m128i p = _mm_loadu_si128((const __m128i *)wb->m[s - 1]), q = _mm_loadu_si128((const __m128i *)wb->m[s]);
                mn2 = _mm512_cvtepu8_epi16(_mm256_inserti128_si256(_mm256_castsi128_si256(_mm_unpacklo_epi8(p, q)),
                                                                   _mm_unpackhi_epi8(p, q), 1));
            }
            const __m512i sc32 = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)wb->sc[s]));
            for (int t = 0; t < NT; t++) {
                const __m512i sum = NT >= 4 ? s16[t] : _mm512_add_epi32(s16[t], s_hi[t]);
                isum[t] = _mm512_add_epi32(isum[t], _mm512_mullo_epi32(sum, sc32));
                if (s % 2 == 1) /* q8_K_bsum_pairs */
                    imin[t] = _mm512_dpwssd_epi32(imin[t], mn2, _mm512_set1_epi32(pairs[(size_t)t * 8 * (size_t)nb + 8 * (size_t)b + (size_t)(s / 2)]));
                if (gemm && s % 2 == 1) {
                    const __m512 dy = _mm512_set1_ps(a[t][b].d);
                    acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[t]), _mm512_mul_ps(dw, dy), acc[t]);
                    accm[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(imin[t]), _mm512_mul_ps(dmw, dy), accm[t]);
                    isum[t] = imin[t] = _mm512_setzero_si512();
                }
            }
        }
        if (!gemm)
            for (int t = 0; t < NT; t++) {
                const __m512 dy = _mm512_set1_ps(a[t][b].d);
                acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[t]), _mm512_mul_ps(dw, dy), acc[t]);
                accm[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(imin[t]), _mm512_mul_ps(dmw, dy), accm[t]);
            }
    }
    for (int t = 0; t < NT; t++) _mm512_storeu_ps(y + (size_t)t * y_stride, _mm512_sub_ps(acc[t], accm[t]));
}

void nib_packed16_q4_K_q8_K_avx512(int64_t n, const void *pair, const void *xq, size_t xq_row_bytes, int n_tok, float *y,
                                   size_t y_stride, int gemm, const int32_t *ycorr, const float *dyf, void *scratch) {
    (void)dyf, (void)scratch; /* as packed8; one token tile */
    const int64_t nb = n / NIB_QK_K;
    switch (n_tok) {
    case 4:
        if (gemm) q4_K_tile16(nb, pair, xq, xq_row_bytes, ycorr, y, y_stride, 1, 4);
        else q4_K_tile16(nb, pair, xq, xq_row_bytes, ycorr, y, y_stride, 0, 4);
        break;
    case 3: q4_K_tile16(nb, pair, xq, xq_row_bytes, ycorr, y, y_stride, gemm, 3); break;
    case 2: q4_K_tile16(nb, pair, xq, xq_row_bytes, ycorr, y, y_stride, gemm, 2); break;
    default: q4_K_tile16(nb, pair, xq, xq_row_bytes, ycorr, y, y_stride, gemm, 1); break;
    }
}
#endif
