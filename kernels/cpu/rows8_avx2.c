/*
 * rows8_avx2.c — eight weight rows against one activation row, in the float
 * order of llama.cpp's repacked x86 kernels (AVX2, built with -mavx2 -mfma
 * -mf16c like the other *_avx2*.c files).
 *
 * On an AVX2 CPU llama.cpp repacks Q4_0 and Q4_K matrices whose row count is
 * a multiple of 8 into 8-row interleaved blocks, and its GEMV/GEMM over them
 * adds each block (Q4_0: 32 weights; Q4_K: a 256-weight super-block) as one
 * exact integer sum times one float scale:
 *
 *   Q4_0:  acc = fma((float)sum_i q_i*y_i,  d_w * d_y,  acc)           per block
 *   Q4_K:  acc = fma((float)sum_s sc_s*dot_s,  d_w * d_y,  acc)
 *          acc_min = fma((float)sum_s m_s*bsum_s,  dmin_w * d_y,  acc_min)
 *          out = acc - acc_min
 *          per super-block in the GEMV, per 64-weight pair of sub-blocks in
 *          the GEMM (which takes a batch's rows 4 at a time: the first
 *          n - n % 4 of n >= 4 rows; the rest go through the GEMV)
 *
 * That order differs from the row-wise vec_dot (eight lanes of partial sums
 * and a final horizontal add), so the results differ in the last bit; nib
 * reproduces it to agree with llama.cpp exactly. Eight rows share one pass
 * over the activation, and their integer sums end up one per lane.
 */
#include "avx2_util.h"
#include "dispatch.h"
#include "quant_blocks.h"

#include <immintrin.h>
#include <math.h>
#include <string.h>

/* Lane r of the result = the sum of the eight lanes of v[r]. */
static inline __m256i transpose_sum8(const __m256i v[8]) {
    const __m256i s01 = _mm256_hadd_epi32(v[0], v[1]), s23 = _mm256_hadd_epi32(v[2], v[3]);
    const __m256i s45 = _mm256_hadd_epi32(v[4], v[5]), s67 = _mm256_hadd_epi32(v[6], v[7]);
    const __m256i s0123 = _mm256_hadd_epi32(s01, s23), s4567 = _mm256_hadd_epi32(s45, s67);
    return _mm256_add_epi32(_mm256_permute2x128_si256(s0123, s4567, 0x20),
                            _mm256_permute2x128_si256(s0123, s4567, 0x31));
}

void NIB_X86_FN(nib_rows8_q4_0_q8_0)(int64_t n, float *out, const void *vw, size_t row_bytes, const void *vy, int gemm) {
    (void)gemm; /* GEMV and GEMM add the same per-block terms */
    const struct nib_block_q8_0 *y = vy; /* [n/32] */
    const int64_t nb = n / NIB_QK8_0;
    __m256 acc = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const __m256i qy = _mm256_loadu_si256((const __m256i *)y[b].qs);
        __m256i s[8];
        float dw[8];
        for (int r = 0; r < 8; r++) {
            const struct nib_block_q4_0 *x = (const struct nib_block_q4_0 *)((const char *)vw + (size_t)r * row_bytes) + b;
            s[r] = dot_s8_s8(_mm256_sub_epi8(unpack_nibbles(x->qs), _mm256_set1_epi8(8)), qy);
            dw[r] = fp16_to_f32(x->d);
        }
        const __m256 d = _mm256_mul_ps(_mm256_loadu_ps(dw), _mm256_set1_ps(fp16_to_f32(y[b].d)));
        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(transpose_sum8(s)), d, acc);
    }
    _mm256_storeu_ps(out, acc);
}

/* Q4_K's 6-bit scale and min of sub-block j (ggml's get_scale_min_k4). */
static inline void scale_min_k4(int j, const uint8_t *q, int *sc, int *m) {
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
        *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

void NIB_X86_FN(nib_rows8_q4_K_q8_K)(int64_t n, float *out, const void *vw, size_t row_bytes, const void *vy, int gemm) {
    const struct nib_block_q8_K *y = vy; /* [n/256] */
    const int64_t nb = n / NIB_QK_K;
    for (int r = 0; r < 8; r++) {
        const struct nib_block_q4_K *x = (const struct nib_block_q4_K *)((const char *)vw + (size_t)r * row_bytes);
        float acc = 0.0f, acc_min = 0.0f;
        for (int64_t b = 0; b < nb; b++) {
            const float d = fp16_to_f32(x[b].d) * y[b].d, dmin = fp16_to_f32(x[b].dmin) * y[b].d;
            int isum = 0, mins = 0;
            for (int j = 0; j < NIB_QK_K / 64; j++) { /* 32 bytes: sub-blocks 2j (low) and 2j+1 (high) */
                const __m256i q = _mm256_loadu_si256((const __m256i *)(x[b].qs + 32 * j));
                const __m256i lo = _mm256_and_si256(q, _mm256_set1_epi8(0x0F));
                const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), _mm256_set1_epi8(0x0F));
                int sc0, m0, sc1, m1;
                scale_min_k4(2 * j, x[b].scales, &sc0, &m0);
                scale_min_k4(2 * j + 1, x[b].scales, &sc1, &m1);
                const __m256i p0 = _mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)(y[b].qs + 64 * j)));
                const __m256i p1 = _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(y[b].qs + 64 * j + 32)));
                const int s = hsum_i32x8(_mm256_add_epi32(_mm256_madd_epi16(p0, _mm256_set1_epi16((short)sc0)),
                                                          _mm256_madd_epi16(p1, _mm256_set1_epi16((short)sc1))));
                const int mn = m0 * (y[b].bsums[4 * j] + y[b].bsums[4 * j + 1]) + m1 * (y[b].bsums[4 * j + 2] + y[b].bsums[4 * j + 3]);
                if (gemm) { /* the GEMM adds each 64-weight pair of sub-blocks */
                    acc = fmaf((float)s, d, acc);
                    acc_min = fmaf((float)mn, dmin, acc_min);
                } else {
                    isum += s;
                    mins += mn;
                }
            }
            if (!gemm) { /* the GEMV adds each super-block */
                acc = fmaf((float)isum, d, acc);
                acc_min = fmaf((float)mins, dmin, acc_min);
            }
        }
        out[r] = acc - acc_min;
    }
}
