/*
 * q6_K_units_amx.c — the amx variant's unit_gemm for Q6_K (dispatch.h):
 * batches over a packed copy in 16-row units (repack.h's
 * nib_block_q6_Kx16) on Intel AMX tiles, in the K = 16 layout
 * (amx_util.h's nib_amx_configure_k: A m token rows x 16 bytes, B 4 rows).
 * Built with AVX-512 F/BW/VL/VNNI and AMX-TILE/AMX-INT8; called only where
 * cpu_features.c found AMX and Linux granted the tile state.
 *
 * Q6_K's scales are per 16 values, so each sub-block is one TDPBSSD: its B
 * row c holds, in dword lane r, values 4c..4c+3 of the sub-block of weight
 * row r, unpacked from the unit's three bytes per value position (v_0..v_2
 * by a mask, v_3 from the three top bit pairs) less 32: signed int8. The
 * order, per super-block, token t and row r:
 *     isum = sum over the 16 sub-blocks of sc[s] * dot_s      (int32, exact)
 *     acc  = fma((float)isum, d_w[r] * d_y[t], acc)
 * vec_dot sums its eight lanes in float, so these are not its bits:
 * KernelUnitGemm checks them against a scalar loop of the formula above.
 * The sub-blocks run in amx_util.h's pipeline (C tile stored two steps on,
 * its integer step four on); the int32 sums of a super-block wait in a
 * 16 x 16 buffer (the float accumulators hold the registers). Calls of 2+
 * token tiles with scratch unpack the unit once, as units_gemm_amx.c does.
 */
#include "amx_util.h"
#include "avx2_util.h"
#include "dispatch.h"
#include "quant_blocks.h"
#include "repack.h"

#include <immintrin.h>
#include <stddef.h>

#define RING 8 /* a slot is rewritten by the unpack 6 steps on, after its TDPBSSD read it */

/* Sub-block s (0..15) of unit block x into B's 4 rows; prefetches a
 * sixteenth of a unit block ahead each. */
static inline __attribute__((always_inline)) void unpack_sub(const struct nib_block_q6_Kx16 *x, int s, int8_t out[4][64]) {
    const int h = s / 8, j = s % 8 / 2, e = s % 2;
    prefetch_stream((const char *)x + s * (sizeof *x / 16), sizeof *x / 16);
    const __m512i m6 = _mm512_set1_epi8(63), k32 = _mm512_set1_epi8(32);
    for (int c = 0; c < 4; c++) {
        const uint8_t(*q)[64] = x->q[h][4 * e + c];
        __m512i v;
        if (j < 3) {
            v = _mm512_and_si512(_mm512_loadu_si512((const void *)q[j]), m6);
        } else { /* the top bit pairs of p = 0, 1, 2 are bits 0-1, 2-3, 4-5 of v_3 */
            const __m512i p0 = _mm512_srli_epi16(_mm512_loadu_si512((const void *)q[0]), 6);
            const __m512i p1 = _mm512_srli_epi16(_mm512_loadu_si512((const void *)q[1]), 4);
            const __m512i p2 = _mm512_srli_epi16(_mm512_loadu_si512((const void *)q[2]), 2);
            /* bits 0-1 from p0, 2-3 from p1, 4-5 from p2 */
            v = _mm512_ternarylogic_epi32(_mm512_set1_epi8(0x03), p0, p1, 0xCA); /* A ? B : C */
            v = _mm512_ternarylogic_epi32(_mm512_set1_epi8(0x0F), v, p2, 0xCA);
            v = _mm512_and_si512(v, m6);
        }
        _mm512_store_si512((void *)out[c], _mm512_sub_epi8(v, k32));
    }
}

/* Row r's scale of sub-block s as int32 lanes. */
static inline __attribute__((always_inline)) __m512i sub_scales(const struct nib_block_q6_Kx16 *x, int s) {
    const __m512i pairs = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)x->sc[s / 2])); /* row r: sc e0 | e1 << 16 */
    return s % 2 ? _mm512_srai_epi32(pairs, 16) : _mm512_srai_epi32(_mm512_slli_epi32(pairs, 16), 16);
}

#define USUB(g) ((const struct nib_block_q6_Kx16 *)w + (g) / 16)
/* Sub-block g in B's layout: in the ring, or in scratch (wt) */
#define USLOT(g) (slots[(g) & mask])
/* Sub-block g (16 a super-block) on tile set S: store g - 2's C tile, unpack
 * g + 2, issue g, and the integer step of g - 4 (its super-block's float
 * step after its last sub-block). */
#define USTEP(TA, TB, TC, g, issue)                                                                                    \
    do {                                                                                                               \
        if ((g) >= 2 && (g) - 2 < n_sub) _tile_stored(TC, c[((g) - 2) & 3], 64);                                        \
        if (issue) {                                                                                                   \
            if ((g) + 2 < n_sub && unpacks) unpack_sub(USUB((g) + 2), ((g) + 2) % 16, USLOT((g) + 2));                \
            _tile_loadd(TA, a + (size_t)((g) / 16) * sizeof(struct nib_block_q8_K) + 16 * ((g) % 16), (long)xq_row_bytes); \
            _tile_loadd(TB, USLOT(g), 64);                                                                             \
            _tile_zero(TC);                                                                                            \
            _tile_dpbssd(TC, TA, TB);                                                                                  \
        }                                                                                                              \
        if ((g) >= 4 && (g) - 4 < n_sub) int_step(acc, isum, c[((g) - 4) & 3], USUB((g) - 4), ((g) - 4) % 16,           \
                                                  dy + ((g) - 4) / 16 * 16, NT);                                       \
    } while (0)

/* isum[t] += sc[s] * C row t; after sub-block 15 the super-block's float step. */
static inline __attribute__((always_inline)) void int_step(__m512 acc[16], int32_t isum[16][16], const int32_t *ct,
                                                           const struct nib_block_q6_Kx16 *x, int s, const float *dy,
                                                           const int NT) {
    const __m512i sc = sub_scales(x, s);
    const __m512 dw = s == 15 ? _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)x->d)) : _mm512_setzero_ps();
    for (int t = 0; t < NT; t++) {
        const __m512i prod = _mm512_mullo_epi32(_mm512_load_si512((const void *)(ct + 16 * t)), sc);
        const __m512i sum = s == 0 ? prod : _mm512_add_epi32(_mm512_load_si512((const void *)isum[t]), prod);
        if (s < 15)
            _mm512_store_si512((void *)isum[t], sum);
        else
            acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sum), _mm512_mul_ps(dw, _mm512_set1_ps(dy[t])), acc[t]);
    }
}

/* NT (<= 16) token rows (xq: row 0's first super-block) against one unit,
 * its sub-blocks unpacked into a ring (wt NULL), or into wt[g] (first != 0)
 * or read back from there (first == 0). */
static inline __attribute__((always_inline)) void q6_K_tile(int64_t nb, const void *w, int8_t (*wt)[4][64], int first,
                                                            const char *xq, size_t xq_row_bytes, float *y, size_t y_stride,
                                                            const int NT) {
    _Alignas(64) float dy[nb * 16];
    for (int t = 0; t < NT; t++)
        for (int64_t b = 0; b < nb; b++) dy[b * 16 + t] = ((const struct nib_block_q8_K *)(xq + (size_t)t * xq_row_bytes) + b)->d;
    __m512 acc[16];
    for (int t = 0; t < NT; t++) acc[t] = _mm512_setzero_ps();
    _Alignas(64) int32_t c[4][16 * 16], isum[16][16] = { { 0 } }; /* written at sub-block 0 before any read: GCC cannot tell */
    _Alignas(64) int8_t ring[RING][4][64];
    /* sub-block g in slots[g & mask]: the ring's or scratch's (no branch per sub-block) */
    int8_t(*const slots)[4][64] = wt ? wt : ring;
    const int64_t mask = wt ? -1 : RING - 1;
    const int unpacks = !wt || first;
    const char *a = xq + offsetof(struct nib_block_q8_K, qs);
    const int64_t n_sub = 16 * nb; /* even */
    if (unpacks) {
        unpack_sub(USUB(0), 0, USLOT(0));
        unpack_sub(USUB(1), 1, USLOT(1));
    }
    int64_t g = 0;
    for (; g < n_sub; g += 2) {
        USTEP(0, 1, 2, g, 1);
        USTEP(3, 4, 5, g + 1, 1);
    }
    for (; g < n_sub + 4; g += 2) { /* the drain */
        USTEP(0, 1, 2, g, 0);
        USTEP(3, 4, 5, g + 1, 0);
    }
    for (int t = 0; t < NT; t++) _mm512_storeu_ps(y + (size_t)t * y_stride, acc[t]);
}

void nib_unit_gemm_q6_K_q8_K_amx(int64_t n, const void *unit, const void *xq, size_t xq_row_bytes, int n_tok, const float *dyf,
                                 const float *syf, float *y, size_t y_stride, void *scratch) {
    (void)dyf, (void)syf; /* Q8_K's d is a float already */
    const int64_t nb = n / NIB_QK_K;
    int8_t(*wt)[4][64] = n_tok > 16 ? scratch : NULL; /* the first tile unpacks the unit there for the others */
    for (int t0 = 0; t0 < n_tok; t0 += 16) {
        const int m = n_tok - t0 < 16 ? n_tok - t0 : 16;
        nib_amx_configure_k(m, 16);
        const char *at = (const char *)xq + (size_t)t0 * xq_row_bytes;
        float *yt = y + (size_t)t0 * y_stride;
#define TILE(NT, ...) q6_K_tile(nb, unit, wt, t0 == 0, at, xq_row_bytes, yt, y_stride, NT)
        NIB_AMX_BY_TOKENS(m, TILE, 0)
#undef TILE
    }
}
