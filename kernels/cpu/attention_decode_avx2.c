/*
 * attention_decode_avx2.c — the attention tile (attention_ref.h) in the
 * decode order: query i's output is nib_attention_head_ref(..., n_kv[i],
 * NIB_ATTN_DECODE)'s, bit for bit. Its callers: one-token forward calls
 * (the GQA heads of the token) and row-exact batches (the heads of one
 * sequence's rows), where llama.cpp runs each row alone.
 *
 * The decode order is ggml_vec_dot_f16's, in both matmuls:
 *   - q . k: head dim i feeds accumulator i % 32 (four 8-lane registers
 *     a0..a3), reduced as (a0 + a2) + (a1 + a3) lane by lane, then hadd8;
 *     dims past the last multiple of 32 are added in double;
 *   - P . V: key j feeds accumulator row j % 32, and per head dim the rows
 *     are reduced the same way.
 * Scores: each group of 8 K rows is converted to float once for the tile;
 * per query, the 8 keys' chains run side by side and their reductions are
 * done together by transposes.
 * P.V: the 32 accumulator rows fall in 8 groups {l, l+8, l+16, l+24}. One
 * group is four independent fma chains over the keys j = l (mod 8), held in
 * registers for a block of queries: each V load is converted once per block
 * and meets every query of it. A group ends as its (a0 + a2) + (a1 + a3);
 * hadd8 over the 8 groups is the output. The V rows are first copied in
 * group order, so each group's pass reads contiguous rows (read in place,
 * 8 rows apart, they cost a cache or TLB miss per load).
 * The score pass prefetches K ahead and V for the copy.
 */
#include "attention_ref.h"

#include "attention_avx2.h"
#include "avx2_util.h"
#include "dispatch.h"

#include <immintrin.h>
#include <math.h>

/* Eight keys' decode-order dots with one query, over head dims [0, np)
 * (np a multiple of 32): kf holds the keys' rows as floats, hd apart. */
static inline __attribute__((always_inline)) __m256 scores8(const float *qf, const float *kf, int hd, int np) {
    __m256 t[8]; /* per key: (a0 + a2) + (a1 + a3) */
#if NIB_VNNI
    __m512 a[8][2]; /* [a0|a1], [a2|a3] of each key */
    for (int l = 0; l < 8; l++) a[l][0] = a[l][1] = _mm512_setzero_ps();
    for (int d = 0; d < np; d += 32) {
        const __m512 q0 = _mm512_loadu_ps(qf + d), q1 = _mm512_loadu_ps(qf + d + 16);
        for (int l = 0; l < 8; l++) {
            a[l][0] = _mm512_fmadd_ps(_mm512_loadu_ps(kf + (size_t)l * (size_t)hd + d), q0, a[l][0]);
            a[l][1] = _mm512_fmadd_ps(_mm512_loadu_ps(kf + (size_t)l * (size_t)hd + d + 16), q1, a[l][1]);
        }
    }
    for (int l = 0; l < 8; l++) {
        const __m512 s = _mm512_add_ps(a[l][0], a[l][1]); /* [a0 + a2 | a1 + a3] */
        t[l] = _mm256_add_ps(_mm512_castps512_ps256(s), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(s), 1)));
    }
#else
    for (int l = 0; l < 8; l += 2) { /* two keys' four chains: 8 of the 16 registers */
        const float *k0 = kf + (size_t)l * (size_t)hd, *k1 = k0 + hd;
        __m256 a[2][4];
        for (int r = 0; r < 4; r++) a[0][r] = a[1][r] = _mm256_setzero_ps();
        for (int d = 0; d < np; d += 32)
            for (int r = 0; r < 4; r++) {
                const __m256 qv = _mm256_loadu_ps(qf + d + 8 * r);
                a[0][r] = _mm256_fmadd_ps(_mm256_loadu_ps(k0 + d + 8 * r), qv, a[0][r]);
                a[1][r] = _mm256_fmadd_ps(_mm256_loadu_ps(k1 + d + 8 * r), qv, a[1][r]);
            }
        for (int k = 0; k < 2; k++) t[l + k] = _mm256_add_ps(_mm256_add_ps(a[k][0], a[k][2]), _mm256_add_ps(a[k][1], a[k][3]));
    }
#endif
    return sums8_f32x8(t, 1);
}

/* The P.V kernels: the fma chains of group l for up to QB queries over one
 * slab of W head dims, then the group's reduction to R[(b * 8 + l) * W];
 * after the 8 groups, hadd8 into out[b]. vp holds the V rows (fp16, hd
 * apart; the slab starts at vp), key j at row (j % 8) * k8 + j / 8, so each
 * group's keys are contiguous. Query b reads keys [0, nj[b]); the loop runs
 * unmasked to the shortest. */
#define DEFINE_DECODE_PV(NAME, VEC, W, ZERO, LOADV, FMA, SET1, ADD, LOAD, STORE)                                                 \
    static inline __attribute__((always_inline)) void NAME(const float *const *p, const int32_t *nj, const uint16_t *vp,  \
                                                           size_t k8, size_t hd, float *R, float *const *out,          \
                                                           const int QB) {                                            \
        int32_t lo = nj[0], hi = nj[0];                                                                                 \
        for (int b = 1; b < QB; b++) {                                                                                  \
            lo = nj[b] < lo ? nj[b] : lo;                                                                               \
            hi = nj[b] > hi ? nj[b] : hi;                                                                               \
        }                                                                                                               \
        for (int l = 0; l < 8; l++) {                                                                                   \
            const uint16_t *vl = vp + (size_t)l * k8 * hd;                                                              \
            VEC A[PV_QB_MAX][4];                                                                                        \
            for (int b = 0; b < QB; b++)                                                                                \
                for (int c = 0; c < 4; c++) A[b][c] = ZERO();                                                           \
            int32_t k = 0; /* key j = 8 k + l feeds chain k % 4 */                                                      \
            for (; 8 * (k + 3) + l < lo; k += 4)                                                                        \
                for (int c = 0; c < 4; c++) {                                                                           \
                    const int32_t j = 8 * (k + c) + l;                                                                  \
                    const VEC v = LOADV(vl + (size_t)(k + c) * hd);                                                       \
                    for (int b = 0; b < QB; b++) A[b][c] = FMA(SET1(p[b][j]), v, A[b][c]);                              \
                }                                                                                                       \
            for (; 8 * k + l < hi; k += 4)                                                                              \
                for (int c = 0; c < 4 && 8 * (k + c) + l < hi; c++) {                                                   \
                    const int32_t j = 8 * (k + c) + l;                                                                  \
                    const VEC v = LOADV(vl + (size_t)(k + c) * hd);                                                       \
                    for (int b = 0; b < QB; b++)                                                                        \
                        if (j < nj[b]) A[b][c] = FMA(SET1(p[b][j]), v, A[b][c]);                                        \
                }                                                                                                       \
            for (int b = 0; b < QB; b++) STORE(R + (b * 8 + l) * W, ADD(ADD(A[b][0], A[b][2]), ADD(A[b][1], A[b][3]))); \
        }                                                                                                               \
        for (int b = 0; b < QB; b++) {                                                                                  \
            VEC r[8];                                                                                                   \
            for (int l = 0; l < 8; l++) r[l] = LOAD(R + (b * 8 + l) * W);                                               \
            STORE(out[b], ADD(ADD(ADD(r[0], r[4]), ADD(r[1], r[5])), ADD(ADD(r[2], r[6]), ADD(r[3], r[7]))));           \
        }                                                                                                               \
    }

#if NIB_VNNI
#define PV_SW 16    /* head dims per slab */
#define PV_QB_MAX 6 /* queries per block: 24 of the 32 registers */
#else
#define PV_SW 8
#define PV_QB_MAX 3 /* 12 of the 16 registers */
#endif

DEFINE_DECODE_PV(decode_pv_ymm, __m256, 8, _mm256_setzero_ps, load_f16x8, _mm256_fmadd_ps, _mm256_set1_ps, _mm256_add_ps, _mm256_loadu_ps,
                 _mm256_storeu_ps)
#if NIB_VNNI
static inline __m512 load_f16x16(const uint16_t *p) { return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p)); }
DEFINE_DECODE_PV(decode_pv_zmm, __m512, 16, _mm512_setzero_ps, load_f16x16, _mm512_fmadd_ps, _mm512_set1_ps, _mm512_add_ps, _mm512_loadu_ps,
                 _mm512_storeu_ps)
#endif

/* One slab of w head dims (16 on AVX-512, else 8) at d0 for a block of
 * qb queries: the kernel instance for that block size. */
static void decode_pv_block(int w, int qb, const float *const *p, const int32_t *nj, const uint16_t *vp, size_t k8, size_t hd,
                            float *R, float *const *out) {
#if NIB_VNNI
    if (w == 16) {
        switch (qb) {
        case 6: decode_pv_zmm(p, nj, vp, k8, hd, R, out, 6); return;
        case 5: decode_pv_zmm(p, nj, vp, k8, hd, R, out, 5); return;
        case 4: decode_pv_zmm(p, nj, vp, k8, hd, R, out, 4); return;
        case 3: decode_pv_zmm(p, nj, vp, k8, hd, R, out, 3); return;
        case 2: decode_pv_zmm(p, nj, vp, k8, hd, R, out, 2); return;
        default: decode_pv_zmm(p, nj, vp, k8, hd, R, out, 1); return;
        }
    }
#endif
    (void)w;
    switch (qb) {
#if PV_QB_MAX > 3
    case 6: decode_pv_ymm(p, nj, vp, k8, hd, R, out, 6); return;
    case 5: decode_pv_ymm(p, nj, vp, k8, hd, R, out, 5); return;
    case 4: decode_pv_ymm(p, nj, vp, k8, hd, R, out, 4); return;
#endif
    case 3: decode_pv_ymm(p, nj, vp, k8, hd, R, out, 3); return;
    case 2: decode_pv_ymm(p, nj, vp, k8, hd, R, out, 2); return;
    default: decode_pv_ymm(p, nj, vp, k8, hd, R, out, 1); return;
    }
}

#define K_AHEAD 16 /* keys ahead that the score pass prefetches K for */

/* head_dim: a multiple of 8, at most 1024 (nib_attention_tile checks). */
void NIB_X86_FN(nib_attention_tile_decode)(const struct nib_attn_tile *t, int head_dim, const uint16_t *k_base,
                                           const uint16_t *v_base, size_t row_stride, size_t head_off, const int32_t *slot,
                                           float scale, float *scratch) {
    const int hd = head_dim, nq = t->n_q, np = hd & ~31;
    const int32_t n_max = tile_n_max(t);
    const size_t n_pad = ((size_t)n_max + 7) / 8 * 8, k8 = n_pad / 8;
    float *S = scratch, *qf = S + NIB_ATTN_TILE_MAX * n_pad, *kf = qf + NIB_ATTN_TILE_MAX * (size_t)hd;
    float *R = kf + 8 * (size_t)hd;                      /* PV_QB_MAX * 8 * PV_SW floats */
    uint16_t *vp = (uint16_t *)(R + PV_QB_MAX * 8 * 16); /* n_pad * hd fp16 */
    tile_queries_f16(t, hd, qf);
    const __m256 sc = _mm256_set1_ps(scale);
    for (int32_t j0 = 0; j0 < n_max; j0 += 8) {
        tile_k_rows8(kf, k_base, row_stride, head_off, slot, j0, n_max, hd);
        /* Prefetch K a few keys ahead (slots jump between KV blocks), and V
         * (copied after the scores) now. Measured at 4000 keys, TinyLlama
         * shape, head-major cache (kv_cache.h): 18 ms per token with, 20
         * without; 1.45x when the cache put a slot's heads side by side. */
        for (int32_t j = j0; j < j0 + 8 && j < n_max; j++)
            for (int d = 0; d < hd; d += 32) {
                _mm_prefetch((const char *)(v_base + (size_t)slot[j] * row_stride + head_off + d), _MM_HINT_T1);
                if (j + K_AHEAD < n_max)
                    _mm_prefetch((const char *)(k_base + (size_t)slot[j + K_AHEAD] * row_stride + head_off + d), _MM_HINT_T0);
            }
        for (int i = 0; i < nq; i++) {
            if (j0 >= t->n_kv[i]) continue;
            const float *qi = qf + (size_t)i * (size_t)hd;
            float *si = S + (size_t)i * n_pad + (size_t)j0;
            _mm256_storeu_ps(si, scores8(qi, kf, hd, np));
            if (np < hd) /* the dims past the last 32: added in double, as vec_dot_f16's leftovers */
                for (int l = 0; l < 8; l++) {
                    double sum = (double)si[l];
                    for (int d = np; d < hd; d++) sum += (double)(qi[d] * kf[(size_t)l * (size_t)hd + (size_t)d]);
                    si[l] = (float)sum;
                }
            _mm256_storeu_ps(si, _mm256_mul_ps(_mm256_loadu_ps(si), sc));
        }
    }
    for (int i = 0; i < nq; i++) {
        float *si = S + (size_t)i * n_pad;
        normalize_probs(si, t->n_kv[i], max_of(si, t->n_kv[i]));
    }
    /* P.V in query blocks of near-equal size */
    const int n_blocks = (nq + PV_QB_MAX - 1) / PV_QB_MAX;
    for (int32_t j = 0; j < n_max; j++) { /* V rows in order, each group's keys together */
        const uint16_t *v = v_base + (size_t)slot[j] * row_stride + head_off;
        uint16_t *dst = vp + ((size_t)(j & 7) * k8 + (size_t)(j >> 3)) * (size_t)hd;
        for (int d = 0; d < hd; d += 8) _mm_storeu_si128((__m128i *)(dst + d), _mm_loadu_si128((const __m128i *)(v + d)));
    }
    for (int d0 = 0; d0 < hd;) {
        const int w = hd - d0 >= PV_SW ? PV_SW : 8;
        for (int b0 = 0, blk = 0; b0 < nq; blk++) {
            const int qb = (nq - b0 + (n_blocks - blk) - 1) / (n_blocks - blk);
            const float *p[PV_QB_MAX];
            float *out[PV_QB_MAX];
            for (int b = 0; b < qb; b++) {
                p[b] = S + (size_t)(b0 + b) * n_pad;
                out[b] = t->out[b0 + b] + d0;
            }
            decode_pv_block(w, qb, p, t->n_kv + b0, vp + d0, k8, (size_t)hd, R, out);
            b0 += qb;
        }
        d0 += w;
    }
}
