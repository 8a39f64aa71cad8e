/*
 * packed_amx.c — the amx variant's Q4_0 and Q4_K packed16 (dispatch.h's
 * nib_packed16_fn): a pair of 8-row groups in repack.h's paired layout
 * against up to NIB_AMX_PACKED_TOKENS activation rows, on Intel AMX tiles
 * (Q4_K: below); and Q5_K's unit_gemm, on Q4_K's tile kernel.
 * Built with AVX-512 F/BW/VL/VNNI and AMX-TILE/AMX-INT8; called only where
 * cpu_features.c found AMX and Linux granted the tile state.
 *
 * Per block, the four 32-byte chunks of the pair's nibbles unpack (one mask,
 * one shift, minus 8: the weights signed) into the 8 rows of AMX's B layout
 * for K = 32: B row 2c holds, in dword lane r, weights 8c..8c+3 of row r
 * (the low nibbles of chunk c), row 2c + 1 weights 8c+4..8c+7 (the high
 * ones). A tile load takes m token rows' 32 quants of block b at the rows'
 * stride, and one TDPBSSD gives every (token, row) pair's exact integer dot
 * product of the signed weights, which equals packed16's
 * -8 * sum(y) + sum(y * (q + 8)). The float step is packed16's, in block
 * order:
 *     acc = fma((float)isum, d_w[r] * d_y, acc)
 * so the bits are packed16's, and so llama.cpp's repacked kernels'
 * (KernelPacked.SameBitsAsRows8 on the variant chosen).
 *
 * Token rows in tiles of 16: each tile streams over the pair, its blocks
 * unpacked two ahead into a small ring (prefetched 3 KB ahead as the
 * avx512 kernels do), in amx_util.h's pipeline (NIB_AMX_TOKEN_TILE). Calls
 * of 3+ tiles given scratch unpack the pair once: the first tile writes
 * each block there as it streams, the others read it back (one thread,
 * 2048 x 2048 from L3, 64 / 256 rows 284-299 / 303 against 305-306 / 323
 * GMAC/s; at 2 tiles it lost 4%: TinyLlama pp512 377-394 -> 424-435 t/s,
 * pp128 449-455 -> 485-486, 2 threads). Q4_K and Q5_K (k_tiles) do the
 * same from 2 tiles. A last
 * tile of fewer than NIB_AMX_MIN_PACKED rows, and so calls that small
 * (decode batches of up to 5 sequences: there tiles lose to the avx512
 * kernel), go to the avx512 kernel, which uses ycorr; the tiles do not.
 */
#include "amx_util.h"
#include "avx2_util.h"
#include "dispatch.h"
#include "quant_blocks.h"
#include "repack.h"

#include <immintrin.h>
#include <stddef.h>
#include <string.h>

_Thread_local int nib_amx_rows_loaded;

void nib_amx_configure_k(int m, int k_bytes) {
    const int mark = k_bytes == 16 ? NIB_AMX_K16_LAYOUT + m : m;
    if (nib_amx_rows_loaded == mark) return;
    struct nib_amx_config c;
    memset(&c, 0, sizeof c);
    c.palette = 1;
    for (int h = 0; h < 2; h++) {
        c.rows[3 * h + 0] = (uint8_t)m, c.colsb[3 * h + 0] = (uint16_t)k_bytes;
        c.rows[3 * h + 1] = (uint8_t)(k_bytes / 4), c.colsb[3 * h + 1] = 64;
        c.rows[3 * h + 2] = (uint8_t)m, c.colsb[3 * h + 2] = 64;
    }
    /* GCC's _tile_loadconfig tells the compiler it reads 8 bytes: without
     * this barrier the stores to colsb and rows were dropped as dead. */
    __asm__ volatile("" : : "r"(&c) : "memory");
    _tile_loadconfig(&c);
    nib_amx_rows_loaded = mark;
}

void nib_amx_configure_bf16(void) {
    if (nib_amx_rows_loaded == NIB_AMX_BF16_LAYOUT) return;
    struct nib_amx_config c;
    memset(&c, 0, sizeof c);
    c.palette = 1;
    for (int t = 0; t < 8; t++) c.rows[t] = 16, c.colsb[t] = 64;
    __asm__ volatile("" : : "r"(&c) : "memory"); /* as in nib_amx_configure */
    _tile_loadconfig(&c);
    nib_amx_rows_loaded = NIB_AMX_BF16_LAYOUT;
}

/* One block of the pair unpacked: B's 8 rows of 64 bytes, the 16 row scales. */
struct q4_0x16_amx {
    _Alignas(64) int8_t qs[8][64];
    float d[16];
};
_Static_assert(sizeof(struct q4_0x16_amx) <= NIB_UNPACK_SCRATCH(32), "a block's unpacked copy fits its scratch");

static inline __attribute__((always_inline)) void unpack(const struct nib_block_q4_0x8 *w0, struct q4_0x16_amx *out) {
    const struct nib_block_q4_0x8 *w1 = w0 + 1;
    const __m512i m4 = _mm512_set1_epi8(0x0F), e8 = _mm512_set1_epi8(8);
    for (int c = 0; c < 4; c++) {
        const __m512i q = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(w0->qs + 32 * c))),
                                             _mm256_loadu_si256((const __m256i *)(w1->qs + 32 * c)), 1);
        _mm512_store_si512((void *)out->qs[2 * c], _mm512_sub_epi8(_mm512_and_si512(q, m4), e8));
        _mm512_store_si512((void *)out->qs[2 * c + 1], _mm512_sub_epi8(_mm512_and_si512(_mm512_srli_epi16(q, 4), m4), e8));
    }
    _mm512_storeu_ps(out->d, _mm512_cvtph_ps(_mm256_inserti128_si256(
                                 _mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)w0->d)),
                                 _mm_loadu_si128((const __m128i *)w1->d), 1)));
}

#define RING 8 /* a slot is rewritten by PREP 6 steps on: after its float step (NIB_AMX_LAG on) read the scales */

/* NT (<= 16) token rows, the weights streamed and unpacked two blocks ahead
 * into a ring (wt NULL), or into wt[j] (the first tile of a call with
 * scratch: first != 0), or read back from there (the later tiles). */
static inline __attribute__((always_inline)) void stream_tile(int64_t nb, const struct nib_block_q4_0x8 *w,
                                                              struct q4_0x16_amx *wt, int first, const char *a,
                                                              size_t xq_row_bytes, const float *dyf, float *y, size_t y_stride,
                                                              const int NT) {
    struct q4_0x16_amx ring[RING];
#define WT(j) (wt ? &wt[j] : &ring[(j) % RING])
#define PREP(j)                                                                                                        \
    do {                                                                                                               \
        if ((j) < nb && (!wt || first)) {                                                                              \
            prefetch_stream(w + 2 * (j), 2 * sizeof *w);                                                               \
            unpack(w + 2 * (j), WT(j));                                                                                \
        }                                                                                                              \
    } while (0)
    NIB_AMX_TOKEN_TILE();
#undef PREP
#undef WT
}

/* The avx512 kernel on rows [t0, t1), 8 a call. */
static void avx512_rows(int64_t n, const void *pair, const void *xq, size_t xq_row_bytes, int t0, int t1, float *y,
                        size_t y_stride, int gemm, const int32_t *ycorr, const float *dyf) {
    const size_t nb = (size_t)(n / NIB_QK8_0);
    for (int t = t0; t < t1; t += 8)
        nib_packed16_q4_0_q8_0_avx512(n, pair, (const char *)xq + (size_t)t * xq_row_bytes, xq_row_bytes, t1 - t < 8 ? t1 - t : 8,
                                      y + (size_t)t * y_stride, y_stride, gemm, ycorr + (size_t)t * nb, dyf + (size_t)t * nb, NULL);
}

void nib_packed16_q4_0_q8_0_amx(int64_t n, const void *pair, const void *xq, size_t xq_row_bytes, int n_tok, float *y,
                                size_t y_stride, int gemm, const int32_t *ycorr, const float *dyf, void *scratch) {
    const int64_t nb = n / NIB_QK8_0;
    /* whole tiles of 16 rows on AMX, a short tail of NIB_AMX_MIN_PACKED+ too */
    const int n_amx = n_tok % 16 >= NIB_AMX_MIN_PACKED ? n_tok : n_tok / 16 * 16;
    /* more than one tile: the first unpacks the pair into scratch for the others */
    const char *first = (const char *)xq + offsetof(struct nib_block_q8_0, qs);
    if (n_amx > 32 && scratch) {
#define STREAM(NT, at, dt, yt) stream_tile(nb, pair, scratch, at == first, at, xq_row_bytes, dt, yt, y_stride, NT)
        NIB_AMX_TOKEN_TILES(n_amx, STREAM);
#undef STREAM
    } else {
#define STREAM(NT, at, dt, yt) stream_tile(nb, pair, NULL, 0, at, xq_row_bytes, dt, yt, y_stride, NT)
        NIB_AMX_TOKEN_TILES(n_amx, STREAM);
#undef STREAM
    }
    avx512_rows(n, pair, xq, xq_row_bytes, n_amx, n_tok, y, y_stride, gemm, ycorr, dyf);
}

/* Q4_K x Q8_K over struct nib_block_q4_Kx16 (16 rows, one stream), in
 * the GEMM order of packed16's Q4_K (llama.cpp's repacked GEMM): per pair
 * of sub-blocks and token row, isum = sc[s] * dot_s + sc[s+1] * dot_s+1 in
 * int32 and acc = fma((float)isum, d_w * d_y, acc); the mins' term
 * imin = m[s] * (bsums 0-1) + m[s+1] * (bsums 2-3) of the pair and
 * accm = fma((float)imin, dmin_w * d_y, accm); y = acc - accm. Each
 * sub-block's dot is one TDPBSSD (the weights 0..15 unpacked into B's
 * layout as for Q4_0, K = 32); the two accumulations are independent chains,
 * so acc runs first, streaming the weights, parked in y, and accm after it
 * (the mins then in cache), NT registers each.
 * Q5_K's units (struct nib_block_q5_Kx16, the amx variant's unit_gemm[Q5_K])
 * the same way and in the same order: sub-block s's B row c is the low
 * (s even) or high nibbles of qs[s / 2][c] with bit s of qh[c] as the fifth
 * bit (0..31); d, dmin and sc sit where Q4_K's do, m[p] holds the pair's
 * mins already interleaved. Not Q5_K's vec_dot bits (its lanes are summed
 * in float): KernelUnitGemm checks them against a scalar loop. */
#define KSUB(g) ((const char *)w + (size_t)((g) / 8) * ub)
/* Sub-block g in B's layout: in the ring, or in scratch (wt) */
#define KSLOT(g) (slots[(g) & mask])
/* Sub-block g (of all the row's, 8 a super-block) on tile set S, in
 * NIB_AMX_STEP's pipeline: store g - 2's C tile (four buffers), unpack
 * g + 2, issue g; on even steps the pair g - 4, g - 3 (both stored). */
#define KSTEP(S, TA, TB, TC, g, issue)                                                                             \
    do {                                                                                                           \
        if ((g) >= 2 && (g) - 2 < n_sub) _tile_stored(TC, c[((g) - 2) & 3], 64);                                  \
        if (issue) {                                                                                               \
            if ((g) + 2 < n_sub && unpacks) unpack_sub(type, KSUB((g) + 2), ((g) + 2) % 8, KSLOT((g) + 2));            \
            _tile_loadd(TA, a + (size_t)((g) / 8) * sizeof(struct nib_block_q8_K) + 4 + 32 * ((g) % 8),            \
                        (long)xq_row_bytes);                                                                       \
            _tile_loadd(TB, KSLOT(g), 64);                                                                         \
            _tile_zero(TC);                                                                                        \
            _tile_dpbssd(TC, TA, TB);                                                                              \
        }                                                                                                          \
        if ((S) == 0 && (g) >= 4) q4_K_pair(acc, c[((g) - 4) & 3], c[((g) - 3) & 3], KSUB((g) - 4), ((g) - 4) % 8, \
                                            dy + ((g) - 4) / 8 * 16, NT);                                          \
    } while (0)

/* Q4_Kx16 and Q5_Kx16 start alike: d[16], dmin[16], sc[8][16]. */
_Static_assert(offsetof(struct nib_block_q5_Kx16, sc) == offsetof(struct nib_block_q4_Kx16, sc) &&
                   offsetof(struct nib_block_q5_Kx16, dmin) == offsetof(struct nib_block_q4_Kx16, dmin),
               "Q4_K and Q5_K units share their scales' place");

/* Sub-block s of a unit into B's 8 rows; prefetches an eighth of a unit
 * ahead each (the whole unit at s == 0 held Q5_K's 2-thread GMAC/s from
 * memory at 6 / 8 / 12 rows to 109 / 134 / 178, against 127 / 145 / 186). */
static inline __attribute__((always_inline)) void unpack_sub(int type, const char *wb, int s, int8_t out[8][64]) {
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    if (type == NIB_TYPE_Q4_K) {
        const struct nib_block_q4_Kx16 *x = (const struct nib_block_q4_Kx16 *)wb;
        prefetch_stream(wb + s * (sizeof *x / 8), sizeof *x / 8);
        for (int c = 0; c < 4; c++) {
            const __m512i q = _mm512_loadu_si512((const void *)x->qs[s][c]);
            _mm512_store_si512((void *)out[2 * c], _mm512_and_si512(q, m4));
            _mm512_store_si512((void *)out[2 * c + 1], _mm512_and_si512(_mm512_srli_epi16(q, 4), m4));
        }
        return;
    }
    const struct nib_block_q5_Kx16 *x = (const struct nib_block_q5_Kx16 *)wb;
    prefetch_stream(wb + s * (sizeof *x / 8), sizeof *x / 8);
    for (int c = 0; c < 8; c++) {
        const __m512i q = _mm512_loadu_si512((const void *)x->qs[s / 2][c]), qh = _mm512_loadu_si512((const void *)x->qh[c]);
        _mm512_store_si512((void *)out[c], nib_q5_merge512(s & 1 ? _mm512_srli_epi16(q, 4) : q, qh, s));
    }
}

/* The pair of sub-blocks s, s + 1 (s even) of super-block wb, from their
 * stored C tiles c0, c1; dy: the tile's token scales of the super-block. */
static inline __attribute__((always_inline)) void q4_K_pair(__m512 acc[16], const int32_t *c0, const int32_t *c1,
                                                            const char *wb, int s, const float *dy, const int NT) {
    const struct nib_block_q4_Kx16 *x = (const struct nib_block_q4_Kx16 *)wb; /* d and sc: Q5_K's too */
    const __m512i sc0 = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)x->sc[s]));
    const __m512i sc1 = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)x->sc[s + 1]));
    const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)x->d));
    for (int t = 0; t < NT; t++) {
        const __m512i isum = _mm512_add_epi32(_mm512_mullo_epi32(_mm512_load_si512((const void *)(c0 + 16 * t)), sc0),
                                              _mm512_mullo_epi32(_mm512_load_si512((const void *)(c1 + 16 * t)), sc1));
        acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(dw, _mm512_set1_ps(dy[t])), acc[t]);
    }
}

/* NT (<= 16) token rows: y = acc - accm (see above). */
static inline __attribute__((always_inline)) void q4_K_tile(int type, int64_t nb, const void *w, int8_t (*wt)[8][64], int first,
                                                            const char *xq, size_t xq_row_bytes, float *y, size_t y_stride,
                                                            const int NT) {
    const size_t ub = type == NIB_TYPE_Q4_K ? sizeof(struct nib_block_q4_Kx16) : sizeof(struct nib_block_q5_Kx16);
    _Alignas(64) float dy[nb * 16];
    _Alignas(16) int32_t pairs[nb * 16 * 4]; /* [b][t][pair]: bsums 4p+0..1 | 4p+2..3 << 16, as 16-bit sums */
    for (int t = 0; t < NT; t++)
        for (int64_t b = 0; b < nb; b++) {
            const struct nib_block_q8_K *ab = (const struct nib_block_q8_K *)(xq + (size_t)t * xq_row_bytes) + b;
            dy[b * 16 + t] = ab->d;
            _mm_store_si128((__m128i *)(pairs + (b * 16 + t) * 4),
                            _mm_hadd_epi16(_mm_loadu_si128((const __m128i *)ab->bsums),
                                           _mm_loadu_si128((const __m128i *)(ab->bsums + 8))));
        }
    __m512 acc[16];
    for (int t = 0; t < NT; t++) acc[t] = _mm512_setzero_ps();
    _Alignas(64) int32_t c[4][16 * 16];
    _Alignas(64) int8_t ring[RING][8][64];
    /* sub-block g in slots[g & mask]: the ring's or scratch's (no branch per sub-block) */
    int8_t(*const slots)[8][64] = wt ? wt : ring;
    const int64_t mask = wt ? -1 : RING - 1;
    const int unpacks = !wt || first;
    const char *a = xq;
    const int64_t n_sub = 8 * nb; /* even */
    if (unpacks) {
        unpack_sub(type, KSUB(0), 0, KSLOT(0));
        unpack_sub(type, KSUB(1), 1, KSLOT(1));
    }
    int64_t g = 0;
    for (; g < n_sub; g += 2) {
        KSTEP(0, 0, 1, 2, g, 1);
        KSTEP(1, 3, 4, 5, g + 1, 1);
    }
    KSTEP(0, 0, 1, 2, g, 0);
    KSTEP(1, 3, 4, 5, g + 1, 0);
    KSTEP(0, 0, 1, 2, g + 2, 0);
    for (int t = 0; t < NT; t++) { /* acc parked in y */
        _mm512_storeu_ps(y + (size_t)t * y_stride, acc[t]);
        acc[t] = _mm512_setzero_ps();
    }
    for (int64_t b = 0; b < nb; b++) { /* then the mins (their blocks now in cache) */
        const char *wb = KSUB(8 * b);
        const struct nib_block_q4_Kx16 *x = (const struct nib_block_q4_Kx16 *)wb;
        const __m512 dmw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)x->dmin));
        for (int p = 0; p < 4; p++) {
            __m512i mn2; /* row r's mins of sub-blocks 2p, 2p + 1 as a pair of int16 */
            if (type == NIB_TYPE_Q4_K) {
                const __m128i m0 = _mm_loadu_si128((const __m128i *)x->m[2 * p]), m1 = _mm_loadu_si128((const __m128i *)x->m[2 * p + 1]);
                mn2 = _mm512_cvtepu8_epi16(_mm256_inserti128_si256(_mm256_castsi128_si256(_mm_unpacklo_epi8(m0, m1)),
                                                                   _mm_unpackhi_epi8(m0, m1), 1));
            } else {
                mn2 = _mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)((const struct nib_block_q5_Kx16 *)wb)->m[p]));
            }
            for (int t = 0; t < NT; t++) {
                const __m512i imin = _mm512_dpwssd_epi32(_mm512_setzero_si512(), mn2, _mm512_set1_epi32(pairs[(b * 16 + t) * 4 + p]));
                acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(imin), _mm512_mul_ps(dmw, _mm512_set1_ps(dy[b * 16 + t])), acc[t]);
            }
        }
    }
    for (int t = 0; t < NT; t++) {
        float *yt = y + (size_t)t * y_stride;
        _mm512_storeu_ps(yt, _mm512_sub_ps(_mm512_loadu_ps(yt), acc[t]));
    }
}

/* The token rows in tiles of 16 (the last one shorter) on AMX; with
 * scratch and more than one tile, the first unpacks the unit there for the
 * others. */
static inline __attribute__((always_inline)) void k_tiles(int type, int64_t nb, const void *w, const void *xq,
                                                          size_t xq_row_bytes, int n_tok, float *y, size_t y_stride,
                                                          void *scratch) {
    int8_t(*wt)[8][64] = n_tok > 16 ? scratch : NULL;
    for (int t0 = 0; t0 < n_tok; t0 += 16) {
        const int m = n_tok - t0 < 16 ? n_tok - t0 : 16;
        nib_amx_configure(m);
        const char *at = (const char *)xq + (size_t)t0 * xq_row_bytes;
        float *yt = y + (size_t)t0 * y_stride;
#define KTILE(NT, ...) q4_K_tile(type, nb, w, wt, t0 == 0, at, xq_row_bytes, yt, y_stride, NT)
        NIB_AMX_BY_TOKENS(m, KTILE, 0)
#undef KTILE
    }
}

void nib_packed16_q4_K_q8_K_amx(int64_t n, const void *pair, const void *xq, size_t xq_row_bytes, int n_tok, float *y,
                                size_t y_stride, int gemm, const int32_t *ycorr, const float *dyf, void *scratch) {
    const int64_t nb = n / NIB_QK_K;
    /* GEMM-order calls in whole tiles of 16 rows, a short tail of NIB_AMX_MIN_PACKED+ too */
    const int n_amx = !gemm ? 0 : n_tok % 16 >= NIB_AMX_MIN_PACKED ? n_tok : n_tok / 16 * 16;
    k_tiles(NIB_TYPE_Q4_K, nb, pair, xq, xq_row_bytes, n_amx, y, y_stride, scratch);
    for (int t = n_amx; t < n_tok; t += 4) /* the avx512 kernel takes 4 rows a call */
        nib_packed16_q4_K_q8_K_avx512(n, pair, (const char *)xq + (size_t)t * xq_row_bytes, xq_row_bytes,
                                      n_tok - t < 4 ? n_tok - t : 4, y + (size_t)t * y_stride, y_stride, gemm,
                                      ycorr + (size_t)t * (size_t)(n / 32), dyf, NULL); /* ycorr: its rows' bsum pairs */
}

void nib_unit_gemm_q5_K_q8_K_amx(int64_t n, const void *unit, const void *xq, size_t xq_row_bytes, int n_tok, const float *dyf,
                                 const float *syf, float *y, size_t y_stride, void *scratch) {
    (void)dyf, (void)syf; /* Q8_K's d is a float already; its bsums are read per tile */
    k_tiles(NIB_TYPE_Q5_K, n / NIB_QK_K, unit, xq, xq_row_bytes, n_tok, y, y_stride, scratch);
}
