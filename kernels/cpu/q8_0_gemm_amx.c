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
 * amx_util.h). Tiles as amx_util.h says.
 */
#include "amx_util.h"
#include "dispatch.h"
#include "q8_0_transpose.h"
#include "quant_blocks.h"

#include <immintrin.h>
#include <stddef.h>
#include <string.h>

/* acc[t] (row lanes) += isum[t] * (d_w * d_y[t]) for all 16 token rows:
 * rows past a short tile's m are computed from stale sums and zero scales
 * and never stored (a fixed count keeps acc in registers); dyf has 16 rows
 * of scales (a short tile's come from dy_short). */
static inline __attribute__((always_inline)) void block_step(__m512 acc[16], const int32_t isum[16 * 16], __m512 dw,
                                                             const float *dyf, int64_t nb) {
    for (int t = 0; t < 16; t++) {
        const __m512 d = _mm512_mul_ps(dw, _mm512_set1_ps(dyf[(size_t)t * (size_t)nb]));
        acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_load_si512((const void *)(isum + 16 * t))), d, acc[t]);
    }
}

void nib_gemm16_q8_0_q8_0_amx(int64_t n, const void *w, size_t w_row_bytes, const void *xq, size_t xq_row_bytes, int n_tok,
                              const int32_t *ybase, const float *dyf, float *y, size_t y_stride, void *scratch) {
    const int64_t nb = n / NIB_QK8_0;
    if (n_tok < NIB_AMX_MIN_TOKENS || nb > NIB_AMX_MAX_BLOCKS) {
        nib_gemm16_q8_0_q8_0_avx512(n, w, w_row_bytes, xq, xq_row_bytes, n_tok, ybase, dyf, y, y_stride, scratch);
        return;
    }
    const struct nib_block_q8_0 *rows[16];
    for (int r = 0; r < 16; r++) rows[r] = (const struct nib_block_q8_0 *)((const char *)w + (size_t)r * w_row_bytes);
    struct q8_0x16t *wt = scratch;
    transpose_pair(nb, rows, wt, 0);
    _Alignas(64) int32_t c0[16 * 16], c1[16 * 16];
    memset(c0, 0, sizeof c0); /* rows past a short tile's m are read, never stored */
    memset(c1, 0, sizeof c1);
    float dy_short[16 * nb]; /* a short last tile's scales, 16 rows (zeros past m) */
    int configured = 0;
    for (int t0 = 0; t0 < n_tok; t0 += 16) {
        const int m = n_tok - t0 < 16 ? n_tok - t0 : 16;
        if (m != configured) nib_amx_configure(configured = m);
        const char *a = (const char *)xq + (size_t)t0 * xq_row_bytes + offsetof(struct nib_block_q8_0, qs);
        const float *dy = dyf + (size_t)t0 * (size_t)nb;
        if (m < 16) {
            memset(dy_short, 0, sizeof dy_short);
            memcpy(dy_short, dy, sizeof(float) * (size_t)m * (size_t)nb);
            dy = dy_short;
        }
        __m512 acc[16];
        for (int t = 0; t < 16; t++) acc[t] = _mm512_setzero_ps();
        int64_t b = 0;
        for (; b + 2 <= nb; b += 2) {
            _tile_loadd(0, a + (size_t)b * sizeof(struct nib_block_q8_0), (long)xq_row_bytes);
            _tile_loadd(1, wt[b].qs, 64);
            _tile_zero(2);
            _tile_dpbssd(2, 0, 1);
            _tile_loadd(3, a + (size_t)(b + 1) * sizeof(struct nib_block_q8_0), (long)xq_row_bytes);
            _tile_loadd(4, wt[b + 1].qs, 64);
            _tile_zero(5);
            _tile_dpbssd(5, 3, 4);
            _tile_stored(2, c0, 64);
            block_step(acc, c0, _mm512_loadu_ps(wt[b].d), dy + b, nb);
            _tile_stored(5, c1, 64);
            block_step(acc, c1, _mm512_loadu_ps(wt[b + 1].d), dy + b + 1, nb);
        }
        if (b < nb) {
            _tile_loadd(0, a + (size_t)b * sizeof(struct nib_block_q8_0), (long)xq_row_bytes);
            _tile_loadd(1, wt[b].qs, 64);
            _tile_zero(2);
            _tile_dpbssd(2, 0, 1);
            _tile_stored(2, c0, 64);
            block_step(acc, c0, _mm512_loadu_ps(wt[b].d), dy + b, nb);
        }
        for (int t = 0; t < m; t++) _mm512_storeu_ps(y + (size_t)(t0 + t) * y_stride, acc[t]);
    }
    _tile_release();
}
