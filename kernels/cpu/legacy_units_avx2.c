/*
 * legacy_units_avx2.c — gemv16 (dispatch.h) for Q4_1, Q5_0 and Q5_1 over
 * their 16-row units (repack.h's nib_block_q4_1x16 / q5_0x16 / q5_1x16),
 * in 512-bit vectors in the AVX-512 build, in two 8-row halves of 256 bits
 * (maddubs + madd for vpdpbusd) in the AVX2 build.
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

/* The vector the build works in: 16 rows (AVX-512) or 8 (AVX2) a vector. */
#if NIB_VNNI
#define ROWS 16
typedef __m512i vi;
typedef __m512 vf;
#define V_LOAD(p) _mm512_loadu_si512((const void *)(p))
#define V_AND _mm512_and_si512
#define V_SRLI16 _mm512_srli_epi16
#define V_SLLI16 _mm512_slli_epi16
#define V_SET1_8 _mm512_set1_epi8
#define V_SET1_32 _mm512_set1_epi32
#define V_ZERO_I _mm512_setzero_si512
#define V_ZERO_F _mm512_setzero_ps
#define V_CVT_I2F _mm512_cvtepi32_ps
#define V_FMA _mm512_fmadd_ps
#define V_MUL _mm512_mul_ps
#define V_ADD _mm512_add_ps
#define V_SET1_F _mm512_set1_ps
#define V_STORE _mm512_storeu_ps
#define V_FP16(p) _mm512_cvtph_ps(load32(p))
#define V_HSUM_ROWS hsum_f32x8_rows16
/* pick: low nibble of n, bit 4 of h (then & 0x1F) */
#define V_MERGE5(n, h) _mm512_and_si512(_mm512_ternarylogic_epi32(n, h, _mm512_set1_epi8(0x0F), 0xE4), _mm512_set1_epi8(0x1F))
#define V_DOT(base, w, a) _mm512_dpbusd_epi32(base, w, a)
#else
#define ROWS 8
typedef __m256i vi;
typedef __m256 vf;
#define V_LOAD(p) load32(p)
#define V_AND _mm256_and_si256
#define V_SRLI16 _mm256_srli_epi16
#define V_SLLI16 _mm256_slli_epi16
#define V_SET1_8 _mm256_set1_epi8
#define V_SET1_32 _mm256_set1_epi32
#define V_ZERO_I _mm256_setzero_si256
#define V_ZERO_F _mm256_setzero_ps
#define V_CVT_I2F _mm256_cvtepi32_ps
#define V_FMA _mm256_fmadd_ps
#define V_MUL _mm256_mul_ps
#define V_ADD _mm256_add_ps
#define V_SET1_F _mm256_set1_ps
#define V_STORE _mm256_storeu_ps
#define V_FP16(p) _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p)))
#define V_HSUM_ROWS hsum_f32x8_rows8
#define V_MERGE5(n, h) _mm256_or_si256(_mm256_and_si256(n, _mm256_set1_epi8(0x0F)), _mm256_and_si256(h, _mm256_set1_epi8(0x10)))
#define V_DOT(base, w, a) _mm256_add_epi32(base, dot_u8_s8(w, a))
#endif
#define HALVES (16 / ROWS)

/* Lane L's ROWS rows of quants, unsigned: q the dword L % 4 of qs, qh the
 * unit's fifth bits (unused without them). */
static inline __attribute__((always_inline)) vi lane_quants(vi q, vi qh, int L, int fifth) {
    const vi nib = L < 4 ? q : V_SRLI16(q, 4);
    if (!fifth) return V_AND(nib, V_SET1_8(0x0F));
    const vi h = L < 4 ? V_SLLI16(qh, 4 - L) : L > 4 ? V_SRLI16(qh, L - 4) : qh;
    return V_MERGE5(nib, h);
}

/* NT activation rows (y_row_bytes apart) against one unit; ybase (Q5_0):
 * -16 * each activation dword's sum, [NT][nb][8]. Rows 16 a vector, or two
 * halves of 8 (byte offset 32 * half into every 64-byte vector, row scales
 * from 8 * half). */
static inline __attribute__((always_inline)) void legacy_rows(int type, int64_t nb, float *out, size_t out_stride,
                                                              const void *unit, const char *vy, size_t y_row_bytes,
                                                              const int32_t *ybase, const int NT) {
    const int has_m = type != NIB_TYPE_Q5_0, fifth = type != NIB_TYPE_Q4_1;
    const size_t ub = type == NIB_TYPE_Q4_1 ? sizeof(struct nib_block_q4_1x16)
                      : type == NIB_TYPE_Q5_0 ? sizeof(struct nib_block_q5_0x16)
                                              : sizeof(struct nib_block_q5_1x16);
    /* each unit starts with d[16] (and m[16]); then qh (Q5_0 / Q5_1) and qs[4][64] */
    const size_t qh_at = has_m ? 64 : 32, qs_at = qh_at + (fifth ? 64 : 0);
    vf acc[HALVES][4][8], summs[HALVES][4];
    for (int hv = 0; hv < HALVES; hv++)
        for (int t = 0; t < NT; t++) {
            summs[hv][t] = V_ZERO_F();
            for (int L = 0; L < 8; L++) acc[hv][t][L] = V_ZERO_F();
        }
    for (int64_t b = 0; b < nb; b++) {
        const char *x = (const char *)unit + (size_t)b * ub;
        prefetch_stream(x, (unsigned)ub);
        for (int hv = 0; hv < HALVES; hv++) {
            const vf dw = V_FP16(x + 2 * ROWS * hv);
            vf d[4];
            for (int t = 0; t < NT; t++) {
                const char *yb = vy + (size_t)t * y_row_bytes;
                if (has_m) {
                    const struct nib_block_q8_1 *a = (const struct nib_block_q8_1 *)yb + b;
                    d[t] = V_MUL(dw, V_SET1_F(fp16_to_f32(a->d)));
                    summs[hv][t] = V_ADD(summs[hv][t], V_MUL(V_FP16(x + 32 + 2 * ROWS * hv), V_SET1_F(fp16_to_f32(a->s))));
                } else {
                    d[t] = V_MUL(dw, V_SET1_F(fp16_to_f32(((const struct nib_block_q8_0 *)yb + b)->d)));
                }
            }
            const vi qh = fifth ? V_LOAD(x + qh_at + 4 * ROWS * hv) : V_ZERO_I();
            for (int c = 0; c < 4; c++) {
                const vi q = V_LOAD(x + qs_at + 64 * c + 4 * ROWS * hv);
                for (int hi = 0; hi < 2; hi++) {
                    const int L = c + 4 * hi;
                    const vi w = lane_quants(q, qh, L, fifth);
                    for (int t = 0; t < NT; t++) {
                        const char *yb = vy + (size_t)t * y_row_bytes;
                        const int8_t *aq = has_m ? ((const struct nib_block_q8_1 *)yb + b)->qs : ((const struct nib_block_q8_0 *)yb + b)->qs;
                        int32_t v;
                        memcpy(&v, aq + 4 * L, sizeof v);
                        const vi base = has_m ? V_ZERO_I() : V_SET1_32(ybase[((size_t)t * (size_t)nb + (size_t)b) * 8 + (size_t)L]);
                        acc[hv][t][L] = V_FMA(d[t], V_CVT_I2F(V_DOT(base, w, V_SET1_32(v))), acc[hv][t][L]);
                    }
                }
            }
        }
    }
    for (int hv = 0; hv < HALVES; hv++)
        for (int t = 0; t < NT; t++) {
            const vf r = V_HSUM_ROWS(acc[hv][t]);
            V_STORE(out + (size_t)t * out_stride + ROWS * hv, has_m ? V_ADD(r, summs[hv][t]) : r);
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
