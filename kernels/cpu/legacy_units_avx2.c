/*
 * legacy_units_avx2.c — gemv16 (dispatch.h) for Q4_1, Q5_0 and Q5_1 over
 * their 16-row units (repack.h's nib_block_q4_1x16 / q5_0x16 / q5_1x16),
 * AVX-512 builds only (the avx2 build of this file is empty).
 *
 * vec_dot_avx2.c's block_q4_1 / block_q5_0 / block_q5_1 per row: lane L of
 * a block's int32 sums holds values 4L..4L+3, then acc = fma(d, lanes, acc)
 * with d = x.d * y.d one rounded multiply, Q4_1/Q5_1 also summs += x.m * y.s
 * (a multiply, then an add), the result hsum_f32x8(acc) (+ summs). Here
 * lane r of acc[L] is lane L of row r's acc: per block and lane one 64-byte
 * load serves all 16 rows (dword L % 4, low or high nibbles), the fifth bit
 * merged by a shift and a ternary-logic pick, one vpdpbusd with the
 * activation dword (Q5_0's weights unsigned, q + 16, the dpbusd starting at
 * -16 * the dword's sum: the same exact int32), one conversion and one fma;
 * hsum_f32x8_rows16 at the end. So each row gets its vec_dot's bits.
 *
 * Per 16 rows and block that is ~20-29 port-0 instructions where the rows'
 * vec_dot takes ~10 per row; NT (<= 4) activation rows share each unpack.
 */
#include "avx2_util.h"
#include "dispatch.h"
#include "fp16.h"
#include "quant_blocks.h"
#include "repack.h"

#include <immintrin.h>
#include <string.h>

#if NIB_VNNI
/* Lane L's 16 rows of quants, unsigned: q the dword L % 4 of qs, qh the
 * unit's fifth bits (unused without them). */
static inline __attribute__((always_inline)) __m512i lane_quants(__m512i q, __m512i qh, int L, int fifth) {
    const __m512i m0f = _mm512_set1_epi8(0x0F);
    const __m512i nib = L < 4 ? q : _mm512_srli_epi16(q, 4);
    if (!fifth) return _mm512_and_si512(nib, m0f);
    const __m512i h = L < 4 ? _mm512_slli_epi16(qh, 4 - L) : L > 4 ? _mm512_srli_epi16(qh, L - 4) : qh;
    return _mm512_and_si512(_mm512_ternarylogic_epi32(nib, h, m0f, 0xE4), _mm512_set1_epi8(0x1F)); /* m0f ? nib : h */
}

/* NT activation rows (y_row_bytes apart) against one unit; ybase (Q5_0):
 * -16 * each activation dword's sum, [NT][nb][8]. */
static inline __attribute__((always_inline)) void legacy_rows(int type, int64_t nb, float *out, size_t out_stride,
                                                              const void *unit, const char *vy, size_t y_row_bytes,
                                                              const int32_t *ybase, const int NT) {
    const int has_m = type != NIB_TYPE_Q5_0, fifth = type != NIB_TYPE_Q4_1;
    const size_t ub = type == NIB_TYPE_Q4_1 ? sizeof(struct nib_block_q4_1x16)
                      : type == NIB_TYPE_Q5_0 ? sizeof(struct nib_block_q5_0x16)
                                              : sizeof(struct nib_block_q5_1x16);
    /* each unit starts with d[16] (and m[16]); then qh (Q5_0 / Q5_1) and qs[4][64] */
    const size_t qh_at = has_m ? 64 : 32, qs_at = qh_at + (fifth ? 64 : 0);
    __m512 acc[4][8], summs[4];
    for (int t = 0; t < NT; t++) {
        summs[t] = _mm512_setzero_ps();
        for (int L = 0; L < 8; L++) acc[t][L] = _mm512_setzero_ps();
    }
    for (int64_t b = 0; b < nb; b++) {
        const char *x = (const char *)unit + (size_t)b * ub;
        prefetch_stream(x, (unsigned)ub);
        const __m512 dw = _mm512_cvtph_ps(load32(x));
        __m512 d[4];
        for (int t = 0; t < NT; t++) {
            const char *yb = vy + (size_t)t * y_row_bytes;
            if (has_m) {
                const struct nib_block_q8_1 *a = (const struct nib_block_q8_1 *)yb + b;
                d[t] = _mm512_mul_ps(dw, _mm512_set1_ps(fp16_to_f32(a->d)));
                summs[t] = _mm512_add_ps(summs[t], _mm512_mul_ps(_mm512_cvtph_ps(load32(x + 32)), _mm512_set1_ps(fp16_to_f32(a->s))));
            } else {
                d[t] = _mm512_mul_ps(dw, _mm512_set1_ps(fp16_to_f32(((const struct nib_block_q8_0 *)yb + b)->d)));
            }
        }
        const __m512i qh = fifth ? _mm512_loadu_si512((const void *)(x + qh_at)) : _mm512_setzero_si512();
        for (int c = 0; c < 4; c++) {
            const __m512i q = _mm512_loadu_si512((const void *)(x + qs_at + 64 * c));
            for (int hi = 0; hi < 2; hi++) {
                const int L = c + 4 * hi;
                const __m512i w = lane_quants(q, qh, L, fifth);
                for (int t = 0; t < NT; t++) {
                    const char *yb = vy + (size_t)t * y_row_bytes;
                    const int8_t *aq = has_m ? ((const struct nib_block_q8_1 *)yb + b)->qs : ((const struct nib_block_q8_0 *)yb + b)->qs;
                    int32_t v;
                    memcpy(&v, aq + 4 * L, sizeof v);
                    const __m512i base = has_m ? _mm512_setzero_si512()
                                               : _mm512_set1_epi32(ybase[((size_t)t * (size_t)nb + (size_t)b) * 8 + (size_t)L]);
                    const __m512i s = _mm512_dpbusd_epi32(base, w, _mm512_set1_epi32(v));
                    acc[t][L] = _mm512_fmadd_ps(d[t], _mm512_cvtepi32_ps(s), acc[t][L]);
                }
            }
        }
    }
    for (int t = 0; t < NT; t++) {
        const __m512 r = hsum_f32x8_rows16(acc[t]);
        _mm512_storeu_ps(out + (size_t)t * out_stride, has_m ? _mm512_add_ps(r, summs[t]) : r);
    }
}

/* Up to 4 activation rows a call, then the rest. */
#define LEGACY_GEMV16(NAME, TYPE)                                                                                            \
    void NIB_X86_FN(NAME)(int64_t n, float *out, size_t out_stride, const void *unit, const void *y, size_t y_row_bytes,     \
                          const int32_t *ybase, int n_tok) {                                                                 \
        const int64_t nb = n / NIB_QK8_0;                                                                                    \
        for (int t = 0; t < n_tok;) {                                                                                        \
            const int m = n_tok - t < 4 ? n_tok - t : 4;                                                                     \
            float *o = out + (size_t)t * out_stride;                                                                         \
            const char *yt = (const char *)y + (size_t)t * y_row_bytes;                                                      \
            const int32_t *bt = ybase ? ybase + (size_t)t * (size_t)nb * 8 : NULL;                                           \
            switch (m) {                                                                                                     \
            case 4: legacy_rows(TYPE, nb, o, out_stride, unit, yt, y_row_bytes, bt, 4); break;                               \
            case 3: legacy_rows(TYPE, nb, o, out_stride, unit, yt, y_row_bytes, bt, 3); break;                               \
            case 2: legacy_rows(TYPE, nb, o, out_stride, unit, yt, y_row_bytes, bt, 2); break;                               \
            default: legacy_rows(TYPE, nb, o, out_stride, unit, yt, y_row_bytes, bt, 1); break;                              \
            }                                                                                                                \
            t += m;                                                                                                          \
        }                                                                                                                    \
    }

LEGACY_GEMV16(nib_gemv16_q4_1_q8_1, NIB_TYPE_Q4_1)
LEGACY_GEMV16(nib_gemv16_q5_0_q8_0, NIB_TYPE_Q5_0)
LEGACY_GEMV16(nib_gemv16_q5_1_q8_1, NIB_TYPE_Q5_1)
#endif
