/*
 * units_gemm_amx.c — the amx variant's unit_gemm (dispatch.h) for Q4_1,
 * Q5_0 and Q5_1: prompt batches over a packed copy in 16-row units
 * (repack.h's nib_block_q4_1x16 / q5_0x16 / q5_1x16) on Intel AMX tiles.
 * Built with AVX-512 F/BW/VL/VNNI and AMX-TILE/AMX-INT8; called only where
 * cpu_features.c found AMX and Linux granted the tile state.
 *
 * Per block, the unit's four 64-byte quant vectors unpack into the 8 rows
 * of AMX's B layout for K = 32: B row L holds, in dword lane r, values
 * 4L..4L+3 of weight row r — the low nibbles of vector L (L < 4) or the
 * high ones of vector L - 4, with the fifth bits (bit L of qh) merged in;
 * Q5_0's less 16, so every weight is a signed int8. A tile load takes m
 * token rows' 32 activation quants of the block at the rows' stride, and
 * one TDPBSSD gives every (token, row) pair's exact integer dot product.
 * The float step, per block in block order, token t, row r:
 *     acc = fma((float)isum, d_w[r] * d_y[t], acc)
 *     acc = fma(m_w[r], s_y[t], acc)          (Q4_1, Q5_1: the mins)
 * with d_w, m_w, d_y, s_y the stored fp16 values as floats. That is not
 * vec_dot's order (its eight lanes are summed in float), so matmul.c uses
 * this only for batches that are not row-wise; KernelUnitGemm checks the
 * bits against a scalar loop of the formula above.
 *
 * Token rows in tiles of 16 (a last one of any length), each streaming over
 * the unit with its blocks unpacked two ahead into a ring, in amx_util.h's
 * pipeline, as packed_amx.c does for Q4_0. Calls of 2+ tiles (scratch
 * given) unpack the unit once: the first tile into scratch as it streams,
 * the later full tiles read it back. One thread, 2048 x 2048, 32 /
 * 256 rows (GMAC/s, before -> after): Q5_0 257 / 263 -> 285 / 349, Q6_K
 * (q6_K_units_amx.c) 174 / 174 -> 202 / 225; Q5_K 32 rows 210-215 ->
 * 229-232; TinyLlama Q5_0 pp512, 2 threads, 367 -> 460 t/s.
 */
#include "amx_util.h"
#include "avx2_util.h"
#include "dispatch.h"
#include "quant_blocks.h"
#include "repack.h"

#include <immintrin.h>
#include <stddef.h>

/* One block of the unit unpacked: B's 8 rows of 64 bytes, the 16 row
 * scales and mins as floats. */
struct unit_b {
    _Alignas(64) int8_t qs[8][64];
    float d[16], m[16];
};
_Static_assert(sizeof(struct unit_b) <= NIB_UNPACK_SCRATCH(32), "a block's unpacked copy fits its scratch");

/* The bytes of one unit block and where its parts start (repack.h). */
static inline size_t unit_block_bytes(int type) {
    return type == NIB_TYPE_Q4_1 ? sizeof(struct nib_block_q4_1x16)
           : type == NIB_TYPE_Q5_0 ? sizeof(struct nib_block_q5_0x16)
                                   : sizeof(struct nib_block_q5_1x16);
}

static inline __attribute__((always_inline)) void unpack(int type, const char *x, struct unit_b *out) {
    const int has_m = type != NIB_TYPE_Q5_0, fifth = type != NIB_TYPE_Q4_1;
    const size_t qh_at = has_m ? 64 : 32, qs_at = qh_at + (fifth ? 64 : 0);
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    const __m512i qh = fifth ? _mm512_loadu_si512((const void *)(x + qh_at)) : _mm512_setzero_si512();
    for (int c = 0; c < 4; c++) {
        const __m512i q = _mm512_loadu_si512((const void *)(x + qs_at + 64 * c));
        for (int hi = 0; hi < 2; hi++) {
            const int L = c + 4 * hi;
            const __m512i nib = hi ? _mm512_srli_epi16(q, 4) : q;
            __m512i v = fifth ? nib_q5_merge512(nib, qh, L) : _mm512_and_si512(nib, m4);
            if (type == NIB_TYPE_Q5_0) v = _mm512_sub_epi8(v, _mm512_set1_epi8(16));
            _mm512_store_si512((void *)out->qs[L], v);
        }
    }
    _mm512_store_ps(out->d, _mm512_cvtph_ps(load32(x)));
    if (has_m) _mm512_store_ps(out->m, _mm512_cvtph_ps(load32(x + 32)));
}

#define RING 8 /* a slot is rewritten by PREP 6 steps on: after its float step (NIB_AMX_LAG on) read it */

/* Block jj's float step for the NT token rows (see the head of the file). */
static inline __attribute__((always_inline)) void unit_step(__m512 acc[16], const int32_t isum[16 * 16], const struct unit_b *wb,
                                                            const float *dy, const float *sy, int64_t nb, int has_m,
                                                            const int NT) {
    const __m512 dw = _mm512_load_ps(wb->d), mw = has_m ? _mm512_load_ps(wb->m) : _mm512_setzero_ps(); /* Q5_0: m unset */
    for (int t = 0; t < NT; t++) {
        const __m512 d = _mm512_mul_ps(dw, _mm512_set1_ps(dy[(size_t)t * (size_t)nb]));
        acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_load_si512((const void *)(isum + 16 * t))), d, acc[t]);
        if (has_m) acc[t] = _mm512_fmadd_ps(mw, _mm512_set1_ps(sy[(size_t)t * (size_t)nb]), acc[t]);
    }
}

/* NT (<= 16) token rows (a: row 0's quants of block 0) against one unit,
 * its blocks unpacked into a ring (wt NULL), or into wt[j] (first != 0) or
 * read back from there (first == 0). */
static inline __attribute__((always_inline)) void unit_tile(int type, int64_t nb, const char *unit, struct unit_b *wt, int first,
                                                            const char *a, size_t xq_row_bytes, const float *dy, const float *sy,
                                                            float *y, size_t y_stride, const int NT) {
    const size_t ub = unit_block_bytes(type), a_block = type == NIB_TYPE_Q5_0 ? sizeof(struct nib_block_q8_0)
                                                                              : sizeof(struct nib_block_q8_1);
    const int has_m = type != NIB_TYPE_Q5_0;
    struct unit_b ring[RING];
#define WT(j) (wt ? &wt[j] : &ring[(j) % RING])
#define PREP(j)                                                                                                        \
    do {                                                                                                               \
        if ((j) < nb && (!wt || first)) {                                                                              \
            prefetch_stream(unit + (size_t)(j) * ub, (unsigned)ub);                                                    \
            unpack(type, unit + (size_t)(j) * ub, WT(j));                                                              \
        }                                                                                                              \
    } while (0)
#define FSTEP(isum, jj) unit_step(acc, isum, WT(jj), dy + (jj), sy + (jj), nb, has_m, NT)
    NIB_AMX_TOKEN_TILE_BY(a_block, FSTEP, _tile_dpbssd);
#undef FSTEP
#undef PREP
#undef WT
}

static inline __attribute__((always_inline)) void unit_gemm(int type, int64_t n, const void *unit, const void *xq,
                                                            size_t xq_row_bytes, int n_tok, const float *dyf, const float *syf,
                                                            float *y, size_t y_stride, void *scratch) {
    const int64_t nb = n / NIB_QK8_0;
    /* the first tile unpacks the unit there for the later full tiles (a short last one
     * unpacks again: the same integers, and half the tile instances to compile) */
    struct unit_b *wt = n_tok > 16 ? scratch : NULL;
    const size_t qs_at = type != NIB_TYPE_Q5_0 ? offsetof(struct nib_block_q8_1, qs) : offsetof(struct nib_block_q8_0, qs);
    for (int t0 = 0; t0 < n_tok; t0 += 16) {
        const int m = n_tok - t0 < 16 ? n_tok - t0 : 16;
        nib_amx_configure(m);
        const char *at = (const char *)xq + (size_t)t0 * xq_row_bytes + qs_at;
        const float *dt = dyf + (size_t)t0 * (size_t)nb, *st = syf ? syf + (size_t)t0 * (size_t)nb : NULL;
        float *yt = y + (size_t)t0 * y_stride;
#define TILE(NT, ...) unit_tile(type, nb, unit, NULL, 0, at, xq_row_bytes, dt, st, yt, y_stride, NT)
        if (wt && m == 16)
            unit_tile(type, nb, unit, wt, t0 == 0, at, xq_row_bytes, dt, st, yt, y_stride, 16);
        else
            NIB_AMX_BY_TOKENS(m, TILE, 0)
#undef TILE
    }
}

void nib_unit_gemm_q4_1_q8_1_amx(int64_t n, const void *unit, const void *xq, size_t xq_row_bytes, int n_tok, const float *dyf,
                                 const float *syf, float *y, size_t y_stride, void *scratch) {
    unit_gemm(NIB_TYPE_Q4_1, n, unit, xq, xq_row_bytes, n_tok, dyf, syf, y, y_stride, scratch);
}

void nib_unit_gemm_q5_0_q8_0_amx(int64_t n, const void *unit, const void *xq, size_t xq_row_bytes, int n_tok, const float *dyf,
                                 const float *syf, float *y, size_t y_stride, void *scratch) {
    unit_gemm(NIB_TYPE_Q5_0, n, unit, xq, xq_row_bytes, n_tok, dyf, syf, y, y_stride, scratch);
}

void nib_unit_gemm_q5_1_q8_1_amx(int64_t n, const void *unit, const void *xq, size_t xq_row_bytes, int n_tok, const float *dyf,
                                 const float *syf, float *y, size_t y_stride, void *scratch) {
    unit_gemm(NIB_TYPE_Q5_1, n, unit, xq, xq_row_bytes, n_tok, dyf, syf, y, y_stride, scratch);
}
