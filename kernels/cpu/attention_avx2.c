/*
 * attention_avx2.c — attention_ref.c's attention, vectorized (AVX2 + F16C +
 * FMA; this file alone gets those flags): the tile in the batch order (the
 * decode order's is attention_decode_avx2.c, a Q8_0 cache's
 * attention_q8_0_avx2.c). Every
 * rounding step is the one the reference takes (attention_ref.h), so the
 * two give identical bits:
 *   - fp16 products are exact in float, so the reference's "acc + p" and an
 *     fma agree;
 *   - the reference's lanes are this code's lanes: key j of P.V feeds
 *     accumulator row j % 8 (tinyBLAS order);
 *   - exp is ggml_v_expf itself (the __m256 form ggml_order.h copies).
 * Queries of a tile that read the same keys share each K and V load (two
 * for the scores, up to three for P.V); each chain still takes its terms in
 * the reference's order. AVX2, one thread, bench_attention (512 tokens,
 * head_dim 64, 8 heads per K/V head) on an AMD EPYC (Zen 5): 24.1 -> 25.6
 * GMAC/s. Head dims that are not a multiple of 8 go to the reference.
 */
#include "attention_ref.h"

#include "attention_avx2.h"
#include "avx2_util.h"
#include "dispatch.h"
#include "quant_blocks.h"

#include <immintrin.h>
#include <math.h>

/* tree8 over the eight accumulator rows of the batch order's P.V:
 * (l, l+4), (l, l+2), (0, 1), lane by lane. */
static inline __m256 tree8_rows(const __m256 r[8]) {
    const __m256 a0 = _mm256_add_ps(r[4], r[0]), a1 = _mm256_add_ps(r[5], r[1]);
    const __m256 a2 = _mm256_add_ps(r[6], r[2]), a3 = _mm256_add_ps(r[7], r[3]);
    return _mm256_add_ps(_mm256_add_ps(a0, a2), _mm256_add_ps(a1, a3));
}

/* ---- Tiles of query heads sharing one K/V head (attention_ref.h) ---- */

/* Eight keys' batch-order scores (unscaled) for one query: kf holds the
 * keys' rows converted to float, hd apart; one 8-lane fma chain per key. */
static inline __m256 tile_scores8(const float *qf, const float *kf, int hd) {
    __m256 a[8];
    for (int l = 0; l < 8; l++) a[l] = _mm256_setzero_ps();
    for (int d = 0; d < hd; d += 8) {
        const __m256 qv = _mm256_loadu_ps(qf + d);
        for (int l = 0; l < 8; l++) a[l] = _mm256_fmadd_ps(_mm256_loadu_ps(kf + (size_t)l * (size_t)hd + d), qv, a[l]);
    }
    return sums8_f32x8(a, 0);
}

#if NIB_VNNI
/* tile_scores8 for two queries at once (AVX-512 gives the 32 registers):
 * each K load feeds both queries' chains, each chain as tile_scores8's. */
static inline void tile_scores8x2(const float *qa, const float *qb, const float *kf, int hd, __m256 sc, float *outa,
                                  float *outb) {
    __m256 a[8], b[8];
    for (int l = 0; l < 8; l++) a[l] = b[l] = _mm256_setzero_ps();
    for (int d = 0; d < hd; d += 8) {
        const __m256 qva = _mm256_loadu_ps(qa + d), qvb = _mm256_loadu_ps(qb + d);
        for (int l = 0; l < 8; l++) {
            __m256 k = _mm256_loadu_ps(kf + (size_t)l * (size_t)hd + d);
            __asm__("" : "+v"(k)); /* one load for both fmas (as in tile_pv_block_zmm) */
            a[l] = _mm256_fmadd_ps(k, qva, a[l]);
            b[l] = _mm256_fmadd_ps(k, qvb, b[l]);
        }
    }
    _mm256_storeu_ps(outa, _mm256_mul_ps(sums8_f32x8(a, 0), sc));
    _mm256_storeu_ps(outb, _mm256_mul_ps(sums8_f32x8(b, 0), sc));
}
#else
/* tile_scores8 for two queries at once in AVX2's 16 registers: keys 0-3,
 * then 4-7, each K load feeding both queries' chains (each chain as
 * tile_scores8's, so the same sums). */
static inline void tile_scores8x2(const float *qa, const float *qb, const float *kf, int hd, __m256 sc, float *outa,
                                  float *outb) {
    __m256 a[8], b[8];
    for (int h = 0; h < 8; h += 4) {
        __m256 x[4], y[4];
        for (int l = 0; l < 4; l++) x[l] = y[l] = _mm256_setzero_ps();
        for (int d = 0; d < hd; d += 8) {
            const __m256 qva = _mm256_loadu_ps(qa + d), qvb = _mm256_loadu_ps(qb + d);
            for (int l = 0; l < 4; l++) {
                __m256 k = _mm256_loadu_ps(kf + (size_t)(h + l) * (size_t)hd + d);
                __asm__("" : "+x"(k)); /* one load for both fmas */
                x[l] = _mm256_fmadd_ps(k, qva, x[l]);
                y[l] = _mm256_fmadd_ps(k, qvb, y[l]);
            }
        }
        for (int l = 0; l < 4; l++) a[h + l] = x[l], b[h + l] = y[l];
    }
    _mm256_storeu_ps(outa, _mm256_mul_ps(sums8_f32x8(a, 0), sc));
    _mm256_storeu_ps(outb, _mm256_mul_ps(sums8_f32x8(b, 0), sc));
}
#endif

/* P.V over keys [j0, nj) of a chunk whose 8 V columns were converted to vf
 * (8 floats per key): batch_pv_pass's accumulators, carried between chunks
 * in st (the chunk starts at a multiple of 8 keys). */
static void tile_pv_chunk(const float *p, const float *vf, int32_t j0, int32_t nj, float *st, int first) {
    __m256 A[8];
    for (int l = 0; l < 8; l++) A[l] = first ? _mm256_setzero_ps() : _mm256_loadu_ps(st + l * 8);
    int32_t j = j0; /* a multiple of 8 */
    for (; j + 8 <= nj; j += 8)
        for (int l = 0; l < 8; l++) A[l] = _mm256_fmadd_ps(_mm256_broadcast_ss(p + j + l), _mm256_loadu_ps(vf + (size_t)(j + l) * 8), A[l]);
    for (int l = 0; l < 8; l++)
        if (j + l < nj) A[l] = _mm256_fmadd_ps(_mm256_broadcast_ss(p + j + l), _mm256_loadu_ps(vf + (size_t)(j + l) * 8), A[l]);
    for (int l = 0; l < 8; l++) _mm256_storeu_ps(st + l * 8, A[l]);
}

#if !NIB_VNNI
/* tile_pv_chunk for QB queries at once (query b over keys [0, nj[b])) in
 * AVX2's 16 registers: accumulator rows 0-3, then 4-7, each V row loaded
 * once for every query over the keys all of them read, then tile_pv_chunk
 * for each query's further keys; each row still takes its keys in order,
 * so the same sums. */
static inline __attribute__((always_inline)) void tile_pv_chunks(const float *const *p, const int32_t *nj, const float *vf,
                                                                 float *const *st, int first, const int QB) {
    int32_t all = nj[0];
    for (int b = 1; b < QB; b++) all = nj[b] < all ? nj[b] : all;
    all = all / 8 * 8;
    for (int h = 0; h < 8; h += 4) {
        __m256 A[3][4];
        for (int b = 0; b < QB; b++)
            for (int l = 0; l < 4; l++) A[b][l] = first ? _mm256_setzero_ps() : _mm256_loadu_ps(st[b] + (h + l) * 8);
        for (int32_t j = 0; j < all; j += 8)
            for (int l = 0; l < 4; l++) {
                __m256 v = _mm256_loadu_ps(vf + (size_t)(j + h + l) * 8);
                __asm__("" : "+x"(v)); /* one load for the QB fmas */
                for (int b = 0; b < QB; b++) A[b][l] = _mm256_fmadd_ps(_mm256_broadcast_ss(p[b] + j + h + l), v, A[b][l]);
            }
        for (int b = 0; b < QB; b++)
            for (int l = 0; l < 4; l++) _mm256_storeu_ps(st[b] + (h + l) * 8, A[b][l]);
    }
    for (int b = 0; b < QB; b++) /* the keys not every query reads */
        if (all < nj[b]) tile_pv_chunk(p[b], vf, all, nj[b], st[b], 0);
}
#endif

#if NIB_VNNI
/* The same for QB queries at once over 16 head dims (zmm lanes are ymm
 * lanes side by side, so the sums are the same): each V row is loaded once
 * for the block and each probability is an fma's broadcast operand, so the
 * fmas, not the loads, bound it. Query b runs over keys [0, nj[b]). */
static inline __attribute__((always_inline)) void tile_pv_block_zmm(const float *const *p, const int32_t *nj, const float *vf,
                                                                    float *const *st, int first, const int QB) {
    __m512 A[3][8];
    int32_t lo = nj[0], hi = nj[0];
    for (int b = 0; b < QB; b++) {
        lo = nj[b] < lo ? nj[b] : lo;
        hi = nj[b] > hi ? nj[b] : hi;
        for (int l = 0; l < 8; l++) A[b][l] = first ? _mm512_setzero_ps() : _mm512_loadu_ps(st[b] + l * 16);
    }
    int32_t j = 0;
    for (; j + 8 <= lo; j += 8)
        for (int l = 0; l < 8; l++) {
            __m512 v = _mm512_loadu_ps(vf + (size_t)(j + l) * 16);
            __asm__("" : "+v"(v)); /* one load for the QB fmas: gcc folds it into each, and the loads then bound the loop */
            for (int b = 0; b < QB; b++) A[b][l] = _mm512_fmadd_ps(_mm512_set1_ps(p[b][j + l]), v, A[b][l]);
        }
    for (; j < hi; j += 8) /* the keys not every query reads */
        for (int l = 0; l < 8 && j + l < hi; l++) {
            const __m512 v = _mm512_loadu_ps(vf + (size_t)(j + l) * 16);
            for (int b = 0; b < QB; b++)
                if (j + l < nj[b]) A[b][l] = _mm512_fmadd_ps(_mm512_set1_ps(p[b][j + l]), v, A[b][l]);
        }
    for (int b = 0; b < QB; b++)
        for (int l = 0; l < 8; l++) _mm512_storeu_ps(st[b] + l * 16, A[b][l]);
}
#define TILE_SW 16 /* head dims per P.V slab */
#else
#define TILE_SW 8
#endif
#define TILE_CHUNK 256 /* keys per converted V chunk (a multiple of 8; 16 KB at TILE_SW 16) */

void NIB_X86_FN(nib_attention_tile)(const struct nib_attn_tile *t, int head_dim, const uint16_t *k_base, const uint16_t *v_base,
                                    size_t row_stride, size_t head_off, const int32_t *slot, float scale, float *scratch) {
    if (head_dim % 8 != 0 || head_dim > 1024) {
        nib_attention_tile_ref(t, head_dim, k_base, v_base, row_stride, head_off, slot, scale, scratch);
        return;
    }
    if (t->order == NIB_ATTN_DECODE) {
        NIB_X86_FN(nib_attention_tile_decode)(t, head_dim, k_base, v_base, row_stride, head_off, slot, scale, scratch);
        return;
    }
    const int hd = head_dim, nq = t->n_q;
    const int32_t n_max = tile_n_max(t);
    const size_t n_pad = ((size_t)n_max + 7) / 8 * 8;
    float *S = scratch, *qf = S + NIB_ATTN_TILE_MAX * n_pad, *kf = qf + NIB_ATTN_TILE_MAX * (size_t)hd;
    float *vf = kf + 8 * (size_t)hd, *st = vf + TILE_CHUNK * 16;
    tile_queries_f16(t, hd, qf);
    /* scores: each group of 8 K rows converted once, then met by every query that reads it */
    const __m256 sc = _mm256_set1_ps(scale);
    for (int32_t j0 = 0; j0 < n_max; j0 += 8) {
        tile_k_rows8(kf, k_base, row_stride, head_off, slot, j0, n_max, hd);
        for (int i = 0; i < nq; i++) {
            if (j0 >= t->n_kv[i]) continue;
            if (i + 1 < nq && j0 < t->n_kv[i + 1]) { /* two queries that read these keys */
                tile_scores8x2(qf + (size_t)i * (size_t)hd, qf + (size_t)(i + 1) * (size_t)hd, kf, hd, sc,
                               S + (size_t)i * n_pad + (size_t)j0, S + (size_t)(i + 1) * n_pad + (size_t)j0);
                i++;
                continue;
            }
            _mm256_storeu_ps(S + (size_t)i * n_pad + (size_t)j0, _mm256_mul_ps(tile_scores8(qf + (size_t)i * (size_t)hd, kf, hd), sc));
        }
    }
    for (int i = 0; i < nq; i++) {
        float *si = S + (size_t)i * n_pad;
        normalize_probs(si, t->n_kv[i], max_of(si, t->n_kv[i]));
    }
    /* P.V: per slab of head dims, V converted a chunk of keys at a time */
    for (int d0 = 0; d0 < hd;) {
        const int w = hd - d0 >= TILE_SW ? TILE_SW : 8; /* 16 on AVX-512 only */
        for (int32_t c0 = 0; c0 < n_max; c0 += TILE_CHUNK) {
            const int32_t rows = n_max - c0 < TILE_CHUNK ? n_max - c0 : TILE_CHUNK;
            for (int32_t r = 0; r < rows; r++) {
                const uint16_t *v = v_base + (size_t)slot[c0 + r] * row_stride + head_off + (size_t)d0;
                for (int d = 0; d < w; d += 8) _mm256_storeu_ps(vf + (size_t)r * (size_t)w + d, load_f16x8(v + d));
            }
            const float *p[NIB_ATTN_TILE_MAX];
            float *sti[NIB_ATTN_TILE_MAX];
            int32_t nj[NIB_ATTN_TILE_MAX];
            int nr = 0; /* the queries that read keys of this chunk */
            for (int i = 0; i < nq; i++) {
                nj[nr] = t->n_kv[i] - c0 < rows ? t->n_kv[i] - c0 : rows;
                if (nj[nr] <= 0) continue;
                p[nr] = S + (size_t)i * n_pad + (size_t)c0;
                sti[nr++] = st + (size_t)i * 8 * TILE_SW; /* row l of the accumulators: w floats */
            }
            for (int b = 0; b < nr;) {
#if NIB_VNNI
                if (w == 16) {
                    const int qb = nr - b >= 3 ? 3 : nr - b;
                    if (qb == 3) tile_pv_block_zmm(p + b, nj + b, vf, sti + b, c0 == 0, 3);
                    else if (qb == 2) tile_pv_block_zmm(p + b, nj + b, vf, sti + b, c0 == 0, 2);
                    else tile_pv_block_zmm(p + b, nj + b, vf, sti + b, c0 == 0, 1);
                    b += qb;
                    continue;
                }
#endif
#if !NIB_VNNI
                if (nr - b >= 3) {
                    tile_pv_chunks(p + b, nj + b, vf, sti + b, c0 == 0, 3);
                    b += 3;
                    continue;
                }
                if (nr - b == 2) {
                    tile_pv_chunks(p + b, nj + b, vf, sti + b, c0 == 0, 2);
                    b += 2;
                    continue;
                }
#endif
                tile_pv_chunk(p[b], vf, 0, nj[b], sti[b], c0 == 0);
                b++;
            }
        }
        const int nv = w / 8;
        for (int i = 0; i < nq; i++) {
            const float *sti = st + (size_t)i * 8 * TILE_SW;
            for (int v = 0; v < nv; v++) {
                __m256 A[8];
                for (int l = 0; l < 8; l++) A[l] = _mm256_loadu_ps(sti + (l * nv + v) * 8);
                _mm256_storeu_ps(t->out[i] + d0 + 8 * v, tree8_rows(A));
            }
        }
        d0 += w;
    }
}
