/*
 * q8_0_gemm_amx.c — the 16-row Q8_0 x Q8_0 prompt GEMM (dispatch.h's
 * nib_gemm8_fn for 16 rows) on Intel AMX tiles: the "amx" variant's gemm16.
 * Built with AVX-512 F/BW/VL/VNNI and AMX-TILE/AMX-INT8; called only where
 * cpu_features.c found AMX and the kernel granted this process the tile
 * state (arch_prctl ARCH_REQ_XCOMP_PERM).
 *
 * The 16 weight rows are transposed once per call (q8_0_transpose.h, quants
 * kept signed): per block, 8 rows of 16 dwords, AMX's B layout for K = 32.
 * The activation rows need no copy: a tile load takes 16 token rows' 32
 * quants of block b at the rows' stride. Per block, one TDPBSSD gives the
 * exact integer dot product of every (token, row) pair, and the float step
 * is q8_0_gemm_avx2.c's gemm16, in block order:
 *     acc = fma((float)isum, d_w[r] * d_y, acc)
 * The integer sums are the same (TDPBSSD's signed sums equal vpdpbusd's
 * unsigned sums less 128 * sum(y)), so the bits are gemm16's: tested
 * against gemm8 by KernelGemm16.SameBitsAsGemm8 on the variant chosen.
 * ybase is not needed (but for short calls, which go to the avx512 gemm16:
 * amx_util.h). Tiles and their pipeline as amx_util.h says. A packed unit
 * (B's layout already, quants stored + 128) against up to 16 token rows is
 * read straight by the tile loads, TDPBSUD summing the unsigned quants and
 * each sum starting from ybase (-128 * the activation block's sum): the
 * same integers. Against more rows the first token tile unpacks it (signed
 * again, scales as floats) block by block two steps ahead, the others read
 * that copy, so the stream from memory overlaps the tiles either way
 * (unpacking the unit whole first did not; the extra add per token and
 * block of the straight reads lost 5-10% at 32-64 rows).
 */
#include "amx_util.h"
#include "avx2_util.h"
#include "dispatch.h"
#include "q8_0_transpose.h"
#include "quant_blocks.h"

#include <immintrin.h>
#include <stddef.h>
#include <string.h>

/* NT (<= 16) token rows over the transposed blocks (NIB_AMX_TOKEN_TILE);
 * unit != NULL: the first tile over a packed unit, each block unpacked
 * into wt two steps ahead of its use (prefetched as the stream goes), so
 * reading the unit from memory overlaps the tiles. */
static inline __attribute__((always_inline)) void q8_0_tile(int64_t nb, const struct nib_block_q8_0x16 *unit,
                                                            struct q8_0x16t *wt, const char *a, size_t xq_row_bytes,
                                                            const float *dyf, float *y, size_t y_stride, const int NT) {
#define WT(j) (&wt[j])
#define PREP(j)                                                                                                        \
    do {                                                                                                               \
        if (unit && (j) < nb) {                                                                                        \
            prefetch_stream(unit + (j), sizeof *unit);                                                                 \
            unpack_unit(1, unit + (j), wt + (j), 0);                                                                   \
        }                                                                                                              \
    } while (0)
    NIB_AMX_TOKEN_TILE();
#undef PREP
#undef WT
}

/* Block jj's float step over a packed unit: TDPBSUD summed the stored
 * (unsigned, q + 128) quants, so each token's sum starts from ybase
 * (-128 * the activation block's sum): the exact signed sum, then
 * nib_amx_block_step's fma. */
static inline __attribute__((always_inline)) void unit_step(__m512 acc[16], const int32_t isum[16 * 16],
                                                            const struct nib_block_q8_0x16 *u, const int32_t *ybase,
                                                            const float *dyf, int64_t nb, const int NT) {
    const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)u->d));
    for (int t = 0; t < NT; t++) {
        const __m512 d = _mm512_mul_ps(dw, _mm512_set1_ps(dyf[(size_t)t * (size_t)nb]));
        const __m512i s = _mm512_add_epi32(_mm512_load_si512((const void *)(isum + 16 * t)),
                                           _mm512_set1_epi32(ybase[(size_t)t * (size_t)nb]));
        acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), d, acc[t]);
    }
}

/* NT (<= 16) token rows straight over a packed unit: its blocks are B's
 * layout already (repack.h), read by the tile loads as they stream. */
static inline __attribute__((always_inline)) void q8_0_unit_tile(int64_t nb, const struct nib_block_q8_0x16 *unit, const char *a,
                                                                 size_t xq_row_bytes, const int32_t *ybase, const float *dyf,
                                                                 float *y, size_t y_stride, const int NT) {
    struct wt_view { const uint8_t *qs; };
#define WT(j) (&(struct wt_view){ unit[j].qs })
#define PREP(j) prefetch_stream(unit + (j), sizeof *unit)
#define FSTEP(isum, jj) unit_step(acc, isum, unit + (jj), ybase + (jj), dyf + (jj), nb, NT)
    NIB_AMX_TOKEN_TILE_BY(sizeof(struct nib_block_q8_0), FSTEP, _tile_dpbsud);
#undef FSTEP
#undef PREP
#undef WT
}

void nib_gemm16_q8_0_q8_0_amx(int64_t n, const void *w, size_t w_row_bytes, const void *xq, size_t xq_row_bytes, int n_tok,
                              const int32_t *ybase, const float *dyf, float *y, size_t y_stride, void *scratch) {
    const int64_t nb = n / NIB_QK8_0;
    if (n_tok < (w_row_bytes ? NIB_AMX_MIN_TOKENS : NIB_AMX_MIN_UNIT_TOKENS)) {
        nib_gemm16_q8_0_q8_0_avx512(n, w, w_row_bytes, xq, xq_row_bytes, n_tok, ybase, dyf, y, y_stride, scratch);
        return;
    }
    const struct nib_block_q8_0 *rows[16];
    for (int r = 0; r < 16; r++) rows[r] = (const struct nib_block_q8_0 *)((const char *)w + (size_t)r * w_row_bytes);
    if (!w_row_bytes && n_tok <= 16) { /* one tile over a packed unit (repack.h): straight from it */
#define TILE(NT, at, dt, yt)                                                                                           \
    q8_0_unit_tile(nb, w, at, xq_row_bytes, ybase + (dt - dyf), dt, yt, y_stride, NT)
        NIB_AMX_TOKEN_TILES(n_tok, TILE);
#undef TILE
        return;
    }
    struct q8_0x16t *wt = scratch;
    /* rows: transposed at once; a packed unit: unpacked by the first tile, as it goes */
    const struct nib_block_q8_0x16 *unit = w_row_bytes ? NULL : w;
    if (w_row_bytes) transpose_pair(nb, rows, wt, 0);
    const char *first = (const char *)xq + offsetof(struct nib_block_q8_0, qs);
#define TILE(NT, at, dt, yt) q8_0_tile(nb, at == first ? unit : NULL, wt, at, xq_row_bytes, dt, yt, y_stride, NT)
    NIB_AMX_TOKEN_TILES(n_tok, TILE);
#undef TILE
}
