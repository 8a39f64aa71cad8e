/*
 * attention_q8_0_avx2.c — the attention tile over a Q8_0 cache
 * (attention_ref.h), vectorized: query i's output is
 * nib_attention_head_q8_0_ref's, bit for bit, for every query of the tile
 * (the GQA heads of a token, the tokens of one sequence).
 *   - scores: the queries are quantized once; each K row meets them four at
 *     a time through the chosen table's dot4, which gives vec_dot's bits (the
 *     reference's dots);
 *   - softmax: attention_avx2.h's, the reference's order;
 *   - P.V: key by key in order, each V block converted to floats once for
 *     the tile and met by every query: (p * d) times the values, then added
 *     (the reference's separate product and sum), the sums held in
 *     registers for a block of queries and one 32-value block of the head.
 */
#include "attention_ref.h"

#include "attention_avx2.h"
#include "avx2_util.h"
#include "dispatch.h"
#include "quant_blocks.h"

#include <immintrin.h>
#include <math.h>

#if NIB_VNNI
#define PV_QB 8 /* queries per P.V pass: 2 zmm sums each, 16 of the 32 registers */
#else
#define PV_QB 3 /* 4 ymm sums each, 12 of the 16 registers */
#endif

/* One 32-value block (byte offset off in each V row) for NQ queries: query
 * b reads keys [0, nj[b]) with probabilities p[b]; its 32 sums go to out[b]. */
static inline __attribute__((always_inline)) void pv_block(const float *const *p, const int32_t *nj, const char *v_base,
                                                           size_t row_bytes, size_t off, const int32_t *slot, float *const *out,
                                                           const int NQ) {
    int32_t lo = nj[0], hi = nj[0];
    for (int b = 1; b < NQ; b++) {
        lo = nj[b] < lo ? nj[b] : lo;
        hi = nj[b] > hi ? nj[b] : hi;
    }
#if NIB_VNNI
    __m512 A[PV_QB][2];
    for (int b = 0; b < NQ; b++) A[b][0] = A[b][1] = _mm512_setzero_ps();
    for (int32_t j = 0; j < hi; j++) {
        const struct nib_block_q8_0 *v = (const struct nib_block_q8_0 *)(v_base + (size_t)slot[j] * row_bytes + off);
        const float dv = fp16_to_f32(v->d);
        const __m512 v0 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)v->qs)));
        const __m512 v1 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(v->qs + 16))));
        for (int b = 0; b < NQ; b++)
            if (j < nj[b]) {
                const __m512 pd = _mm512_set1_ps(p[b][j] * dv);
                A[b][0] = _mm512_add_ps(A[b][0], _mm512_mul_ps(pd, v0));
                A[b][1] = _mm512_add_ps(A[b][1], _mm512_mul_ps(pd, v1));
            }
    }
    for (int b = 0; b < NQ; b++) {
        _mm512_storeu_ps(out[b], A[b][0]);
        _mm512_storeu_ps(out[b] + 16, A[b][1]);
    }
#else
    __m256 A[PV_QB][4];
    for (int b = 0; b < NQ; b++)
        for (int r = 0; r < 4; r++) A[b][r] = _mm256_setzero_ps();
    for (int32_t j = 0; j < hi; j++) {
        const struct nib_block_q8_0 *v = (const struct nib_block_q8_0 *)(v_base + (size_t)slot[j] * row_bytes + off);
        const float dv = fp16_to_f32(v->d);
        __m256 vr[4];
        for (int r = 0; r < 4; r++) vr[r] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(v->qs + 8 * r))));
        for (int b = 0; b < NQ; b++)
            if (j < nj[b]) {
                const __m256 pd = _mm256_set1_ps(p[b][j] * dv);
                for (int r = 0; r < 4; r++) A[b][r] = _mm256_add_ps(A[b][r], _mm256_mul_ps(pd, vr[r]));
            }
    }
    for (int b = 0; b < NQ; b++)
        for (int r = 0; r < 4; r++) _mm256_storeu_ps(out[b] + 8 * r, A[b][r]);
#endif
}

static void pv_block_n(int nq, const float *const *p, const int32_t *nj, const char *v_base, size_t row_bytes, size_t off,
                       const int32_t *slot, float *const *out) {
    switch (nq) {
#if PV_QB > 3
    case 8: pv_block(p, nj, v_base, row_bytes, off, slot, out, 8); return;
    case 7: pv_block(p, nj, v_base, row_bytes, off, slot, out, 7); return;
    case 6: pv_block(p, nj, v_base, row_bytes, off, slot, out, 6); return;
    case 5: pv_block(p, nj, v_base, row_bytes, off, slot, out, 5); return;
    case 4: pv_block(p, nj, v_base, row_bytes, off, slot, out, 4); return;
#endif
    case 3: pv_block(p, nj, v_base, row_bytes, off, slot, out, 3); return;
    case 2: pv_block(p, nj, v_base, row_bytes, off, slot, out, 2); return;
    default: pv_block(p, nj, v_base, row_bytes, off, slot, out, 1); return;
    }
}

void NIB_X86_FN(nib_attention_tile_q8_0)(const struct nib_attn_tile *t, int head_dim, const void *k_base, const void *v_base,
                                         size_t row_bytes, size_t head_off, const int32_t *slot, float scale, float *scratch) {
    const struct nib_cpu_kernels *k = nib_cpu_kernels(); /* the reference's dots are the chosen table's */
    const int hd = head_dim, nq = t->n_q, nb = hd / 32;
    const int32_t n_max = tile_n_max(t);
    const size_t n_pad = ((size_t)n_max + 7) / 8 * 8, qrow = (size_t)nb * sizeof(struct nib_block_q8_0);
    const size_t off = head_off / 32 * sizeof(struct nib_block_q8_0);
    float *S = scratch, *dy = S + NIB_ATTN_TILE_MAX * n_pad + NIB_ATTN_TILE_MAX * (size_t)hd; /* [group][block][4] */
    char *qq = (char *)(S + NIB_ATTN_TILE_MAX * n_pad);                                         /* nq rows of qrow bytes */
    for (int i = 0; i < nq; i++) k->quantize_act[NIB_TYPE_Q8_0](t->q[i], qq + (size_t)i * qrow, hd);
    const int n_groups = (nq + 3) / 4;
    for (int g = 0; g < n_groups; g++)
        for (int b = 0; b < nb; b++)
            for (int u = 0; u < 4; u++)
                dy[((size_t)g * (size_t)nb + (size_t)b) * 4 + (size_t)u] =
                    4 * g + u < nq ? fp16_to_f32(((const struct nib_block_q8_0 *)(qq + (size_t)(4 * g + u) * qrow))[b].d) : 0.0f;
    float max[NIB_ATTN_TILE_MAX];
    for (int i = 0; i < nq; i++) max[i] = -INFINITY;
    for (int32_t j = 0; j < n_max; j++) {
        const char *kr = (const char *)k_base + (size_t)slot[j] * row_bytes + off;
        for (int g = 0; g < n_groups; g++) {
            const int n4 = nq - 4 * g < 4 ? nq - 4 * g : 4;
            float o4[4];
            if (k->dot4[NIB_TYPE_Q8_0])
                k->dot4[NIB_TYPE_Q8_0](hd, o4, kr, qq + (size_t)(4 * g) * qrow, qrow, n4, dy + (size_t)g * (size_t)nb * 4);
            else /* a table without dot4 (the reference's): its vec_dot, as the reference */
                for (int u = 0; u < n4; u++) k->vec_dot[NIB_TYPE_Q8_0](hd, &o4[u], kr, qq + (size_t)(4 * g + u) * qrow);
            for (int u = 0; u < n4; u++) {
                const int i = 4 * g + u;
                if (j >= t->n_kv[i]) continue;
                const float s = o4[u] * scale;
                S[(size_t)i * n_pad + (size_t)j] = s;
                if (s > max[i]) max[i] = s;
            }
        }
    }
    for (int i = 0; i < nq; i++) { /* the probabilities, p = e * inv as the reference forms them */
        float *si = S + (size_t)i * n_pad;
        const float inv = (float)(1.0 / softmax_exp(si, t->n_kv[i], max[i]));
        for (int32_t j = 0; j < t->n_kv[i]; j++) si[j] *= inv;
    }
    for (int b0 = 0; b0 < nq; b0 += PV_QB) {
        const int qb = nq - b0 < PV_QB ? nq - b0 : PV_QB;
        const float *p[PV_QB];
        for (int u = 0; u < qb; u++) p[u] = S + (size_t)(b0 + u) * n_pad;
        for (int b = 0; b < nb; b++) {
            float *out[PV_QB];
            for (int u = 0; u < qb; u++) out[u] = t->out[b0 + u] + 32 * b;
            pv_block_n(qb, p, t->n_kv + b0, (const char *)v_base, row_bytes, off + (size_t)b * sizeof(struct nib_block_q8_0), slot,
                       out);
        }
    }
}
