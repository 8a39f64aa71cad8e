/*
 * attention_avx2.c — attention_ref.c's attention, vectorized (AVX2 + F16C +
 * FMA; this file alone gets those flags). Every rounding step is the one the
 * reference takes (attention_ref.h), so the two give identical bits:
 *   - fp16 products are exact in float, so the reference's "acc + p" and an
 *     fma agree;
 *   - the reference's lanes are this code's lanes: key j of P.V feeds
 *     accumulator row j % 8 (tinyBLAS order) or j % 32 (vec_dot_f16 order),
 *     here as float arrays walked 8 head dims at a time;
 *   - exp is ggml_v_expf itself (the __m256 form ggml_order.h copies).
 * Head dims that are not a multiple of 8 go to the reference.
 */
#include "attention_ref.h"

#include "avx2_util.h"
#include "dispatch.h"
#include "quant_blocks.h"

#include <immintrin.h>
#include <math.h>

/* exp(s - max) in place, 8 keys at a time (padding keys give 0); the tree8
 * sums accumulated in a double, as attention_ref.c's softmax_exp. */
static double softmax_exp(float *scores, int32_t n_kv, float max) {
    double sum = 0.0;
    for (int32_t j = 0; j < n_kv; j += 8) {
        __m256 s;
        if (j + 8 <= n_kv) {
            s = nib_v_expf_avx2(_mm256_sub_ps(_mm256_loadu_ps(scores + j), _mm256_set1_ps(max)));
            _mm256_storeu_ps(scores + j, s);
        } else {
            float tmp[8];
            for (int l = 0; l < 8; l++) tmp[l] = j + l < n_kv ? scores[j + l] - max : -INFINITY;
            s = nib_v_expf_avx2(_mm256_loadu_ps(tmp));
            _mm256_storeu_ps(tmp, s);
            for (int l = 0; j + l < n_kv; l++) scores[j + l] = tmp[l];
        }
        sum += (double)hsum_f32x8(s);
    }
    return sum;
}

/* The largest score (the scalar loop's result: max is order-free, and
 * max_ps(s, m) keeps m where s is not greater, as `s > m ? s : m`). */
static float max_of(const float *s, int32_t n) {
    __m256 m = _mm256_set1_ps(-INFINITY);
    int32_t j = 0;
    for (; j + 8 <= n; j += 8) m = _mm256_max_ps(_mm256_loadu_ps(s + j), m);
    float lanes[8], max = -INFINITY;
    _mm256_storeu_ps(lanes, m);
    for (int l = 0; l < 8; l++) max = lanes[l] > max ? lanes[l] : max;
    for (; j < n; j++) max = s[j] > max ? s[j] : max;
    return max;
}

/* softmax: exp(s - max) / sum, the probabilities rounded to fp16, as they
 * meet fp16 V. */
static void normalize_probs(float *scores, int32_t n_kv, float max) {
    const double sum = softmax_exp(scores, n_kv, max);
    const __m256 inv = _mm256_set1_ps((float)(1.0 / sum));
    int32_t j;
    for (j = 0; j + 8 <= n_kv; j += 8)
        _mm256_storeu_ps(scores + j, _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_mul_ps(_mm256_loadu_ps(scores + j), inv), _MM_FROUND_TO_NEAREST_INT)));
    for (; j < n_kv; j++) scores[j] = fp16_to_f32(_cvtss_sh(scores[j] * _mm256_cvtss_f32(inv), _MM_FROUND_TO_NEAREST_INT));
}

/* hsum_f32x8(a) and hsum_f32x8(b) into r[0], r[1], with the same additions
 * (lane i + lane i+4, then (0+2) + (1+3)), two vectors per shuffle. */
static inline void hsum2_f32x8(__m256 a, __m256 b, float *r) {
    const __m256 s = _mm256_add_ps(_mm256_permute2f128_ps(a, b, 0x20), _mm256_permute2f128_ps(a, b, 0x31));
    const __m256 t = _mm256_add_ps(s, _mm256_permute_ps(s, _MM_SHUFFLE(1, 0, 3, 2)));
    const __m256 u = _mm256_add_ps(t, _mm256_permute_ps(t, _MM_SHUFFLE(2, 3, 0, 1)));
    r[0] = _mm256_cvtss_f32(u);
    r[1] = _mm_cvtss_f32(_mm256_extractf128_ps(u, 1));
}

/* The batch order's scores (tinyBLAS's dot: one 8-lane fma accumulator over
 * head_dim, then hsum_f32x8), four keys at a time for independent chains;
 * q (fp16-rounded) converted once. */
static void batch_scores(const uint16_t *qh, int head_dim, const uint16_t *k_base, size_t row_stride, size_t head_off,
                         const int32_t *slot, int32_t n_kv, float scale, float *scores) {
    float qf[1024];
    for (int d = 0; d < head_dim; d += 8) _mm256_storeu_ps(qf + d, load_f16x8(qh + d));
    int32_t j = 0;
    for (; j + 4 <= n_kv; j += 4) {
        const uint16_t *k0 = k_base + (size_t)slot[j] * row_stride + head_off;
        const uint16_t *k1 = k_base + (size_t)slot[j + 1] * row_stride + head_off;
        const uint16_t *k2 = k_base + (size_t)slot[j + 2] * row_stride + head_off;
        const uint16_t *k3 = k_base + (size_t)slot[j + 3] * row_stride + head_off;
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (int d = 0; d < head_dim; d += 8) {
            const __m256 qv = _mm256_loadu_ps(qf + d);
            a0 = _mm256_fmadd_ps(load_f16x8(k0 + d), qv, a0);
            a1 = _mm256_fmadd_ps(load_f16x8(k1 + d), qv, a1);
            a2 = _mm256_fmadd_ps(load_f16x8(k2 + d), qv, a2);
            a3 = _mm256_fmadd_ps(load_f16x8(k3 + d), qv, a3);
        }
        float h[4];
        hsum2_f32x8(a0, a1, h);
        hsum2_f32x8(a2, a3, h + 2);
        for (int i = 0; i < 4; i++) scores[j + i] = h[i] * scale;
    }
    for (; j < n_kv; j++) {
        const uint16_t *k = k_base + (size_t)slot[j] * row_stride + head_off;
        __m256 a = _mm256_setzero_ps();
        for (int d = 0; d < head_dim; d += 8) a = _mm256_fmadd_ps(load_f16x8(k + d), _mm256_loadu_ps(qf + d), a);
        scores[j] = hsum_f32x8(a) * scale;
    }
}

/* Head dims per pass of the batch-order P.V: its 8 accumulator rows x SW/8
 * vectors stay in registers (16 of the AVX-512 build's 32, 8 of AVX2's 16). */
#define PV_SW (NIB_VNNI ? 16 : 8)

/* One pass of the batch order's P.V over NV * 8 head dims from d0:
 * compile-time indices only, so the accumulators stay in registers. */
static inline __attribute__((always_inline)) void batch_pv_pass(const float *p, const uint16_t *v_base, size_t row_stride,
                                                                size_t off, const int32_t *slot, int32_t n_kv, float *out,
                                                                const int NV) {
    __m256 A[8][PV_SW / 8];
    for (int l = 0; l < 8; l++)
        for (int v = 0; v < NV; v++) A[l][v] = _mm256_setzero_ps();
    int32_t j = 0;
    for (; j + 8 <= n_kv; j += 8)
        for (int l = 0; l < 8; l++) {
            const __m256 pj = _mm256_broadcast_ss(p + j + l);
            const uint16_t *vr = v_base + (size_t)slot[j + l] * row_stride + off;
            for (int v = 0; v < NV; v++) A[l][v] = _mm256_fmadd_ps(pj, load_f16x8(vr + 8 * v), A[l][v]);
        }
    for (int l = 0; l < 8; l++)
        if (j + l < n_kv) {
            const __m256 pj = _mm256_broadcast_ss(p + j + l);
            const uint16_t *vr = v_base + (size_t)slot[j + l] * row_stride + off;
            for (int v = 0; v < NV; v++) A[l][v] = _mm256_fmadd_ps(pj, load_f16x8(vr + 8 * v), A[l][v]);
        }
    for (int v = 0; v < NV; v++) { /* tree8: (l, l+4), (l, l+2), (0, 1) */
        const __m256 a0 = _mm256_add_ps(A[4][v], A[0][v]), a1 = _mm256_add_ps(A[5][v], A[1][v]);
        const __m256 a2 = _mm256_add_ps(A[6][v], A[2][v]), a3 = _mm256_add_ps(A[7][v], A[3][v]);
        _mm256_storeu_ps(out + 8 * v, _mm256_add_ps(_mm256_add_ps(a0, a2), _mm256_add_ps(a1, a3)));
    }
}

/* The batch order's P.V (tinyBLAS: key j feeds accumulator row j % 8, then
 * tree8 over the rows), out[head_dim], the probabilities already rounded. */
static void batch_pv(const float *p, int head_dim, const uint16_t *v_base, size_t row_stride, size_t head_off,
                     const int32_t *slot, int32_t n_kv, float *out) {
    int d0 = 0;
    for (; d0 + PV_SW <= head_dim; d0 += PV_SW)
        batch_pv_pass(p, v_base, row_stride, head_off + (size_t)d0, slot, n_kv, out + d0, PV_SW / 8);
    for (; d0 < head_dim; d0 += 8) batch_pv_pass(p, v_base, row_stride, head_off + (size_t)d0, slot, n_kv, out + d0, 1);
}

void NIB_X86_FN(nib_attention_head)(const float *q, int head_dim, const uint16_t *k_base, const uint16_t *v_base, size_t row_stride,
                             size_t head_off, const int32_t *slot, int32_t n_kv, float scale, enum nib_attn_order order,
                             float *scores, float *out) {
    if (head_dim % 8 != 0 || head_dim > 1024) {
        nib_attention_head_ref(q, head_dim, k_base, v_base, row_stride, head_off, slot, n_kv, scale, order, scores, out);
        return;
    }
    uint16_t qh[1024]; /* q meets fp16 K in fp16 */
    for (int d = 0; d < head_dim; d += 8)
        _mm_storeu_si128((__m128i *)(qh + d), _mm256_cvtps_ph(_mm256_loadu_ps(q + d), _MM_FROUND_TO_NEAREST_INT));
    /* the F16 weight dots have exactly the two orders: tinyBLAS's (gemm_dot) and vec_dot_f16's */
    const int tiny = order == NIB_ATTN_BATCH; /* head_dim % 8 == 0 here: both matmuls take tinyBLAS */
    float max = -INFINITY;
    if (tiny) {
        batch_scores(qh, head_dim, k_base, row_stride, head_off, slot, n_kv, scale, scores);
        max = max_of(scores, n_kv);
    } else {
        for (int32_t j = 0; j < n_kv; j++) {
            const uint16_t *k = k_base + (size_t)slot[j] * row_stride + head_off;
            float d;
            NIB_X86_FN(nib_vec_dot_f16_f16)(head_dim, &d, k, qh);
            scores[j] = d * scale;
            if (scores[j] > max) max = scores[j];
        }
    }
    normalize_probs(scores, n_kv, max);
    int32_t j;
    if (tiny) {
        batch_pv(scores, head_dim, v_base, row_stride, head_off, slot, n_kv, out);
        return;
    }
    /* P . V: accumulator row j % n_acc, 8 head dims per vector, 64 per pass */
    const int n_acc = tiny ? 8 : 32;
    float acc[32][64];
    for (int d0 = 0; d0 < head_dim; d0 += 64) {
        const int nd = head_dim - d0 < 64 ? head_dim - d0 : 64;
        for (int a = 0; a < n_acc; a++)
            for (int d = 0; d < nd; d += 8) _mm256_storeu_ps(&acc[a][d], _mm256_setzero_ps());
        for (j = 0; j < n_kv; j++) {
            const __m256 p = _mm256_set1_ps(scores[j]);
            const uint16_t *v = v_base + (size_t)slot[j] * row_stride + head_off + (size_t)d0;
            float *a = acc[j % n_acc];
            for (int d = 0; d < nd; d += 8)
                _mm256_storeu_ps(a + d, _mm256_fmadd_ps(p, load_f16x8(v + d), _mm256_loadu_ps(a + d)));
        }
        for (int d = 0; d < nd; d += 8) {
            __m256 r[8];
            if (tiny) {
                for (int l = 0; l < 8; l++) r[l] = _mm256_loadu_ps(&acc[l][d]);
            } else { /* GGML_F32x8_REDUCE's register adds: (a0 + a2) + (a1 + a3), lane by lane */
                for (int l = 0; l < 8; l++)
                    r[l] = _mm256_add_ps(_mm256_add_ps(_mm256_loadu_ps(&acc[l][d]), _mm256_loadu_ps(&acc[16 + l][d])),
                                         _mm256_add_ps(_mm256_loadu_ps(&acc[8 + l][d]), _mm256_loadu_ps(&acc[24 + l][d])));
            }
            __m256 o;
            if (tiny) { /* tree8: (l, l+4), (l, l+2), (0, 1) */
                const __m256 a0 = _mm256_add_ps(r[4], r[0]), a1 = _mm256_add_ps(r[5], r[1]);
                const __m256 a2 = _mm256_add_ps(r[6], r[2]), a3 = _mm256_add_ps(r[7], r[3]);
                o = _mm256_add_ps(_mm256_add_ps(a0, a2), _mm256_add_ps(a1, a3));
            } else { /* hadd8: (l, l+4), then (0,1) + (2,3) */
                const __m256 a0 = _mm256_add_ps(r[0], r[4]), a1 = _mm256_add_ps(r[1], r[5]);
                const __m256 a2 = _mm256_add_ps(r[2], r[6]), a3 = _mm256_add_ps(r[3], r[7]);
                o = _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3));
            }
            _mm256_storeu_ps(out + d0 + d, o);
        }
    }
}

/* attention_ref.h's Q8_0-cache attention with the V rows dequantized 8 at
 * a time (the reference's products and sums, so its bits). */
void NIB_X86_FN(nib_attention_head_q8_0)(const float *q, int head_dim, const void *k_base, const void *v_base, size_t row_bytes,
                                  size_t head_off, const int32_t *slot, int32_t n_kv, float scale, float *scores, float *out) {
    const float max = nib_attention_scores_q8_0(q, head_dim, k_base, row_bytes, head_off, slot, n_kv, scale, scores);
    const float inv = (float)(1.0 / softmax_exp(scores, n_kv, max));
    const size_t off = head_off / 32 * sizeof(struct nib_block_q8_0);
    for (int d = 0; d < head_dim; d++) out[d] = 0.0f;
    for (int32_t j = 0; j < n_kv; j++) {
        const float p = scores[j] * inv;
        const struct nib_block_q8_0 *v = (const struct nib_block_q8_0 *)((const char *)v_base + (size_t)slot[j] * row_bytes + off);
        for (int b = 0; b < head_dim / 32; b++) {
            const __m256 pd = _mm256_set1_ps(p * fp16_to_f32(v[b].d));
            for (int i = 0; i < 32; i += 8) {
                const __m256 qv = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(v[b].qs + i))));
                float *o = out + 32 * b + i;
                _mm256_storeu_ps(o, _mm256_add_ps(_mm256_loadu_ps(o), _mm256_mul_ps(pd, qv)));
            }
        }
    }
}

