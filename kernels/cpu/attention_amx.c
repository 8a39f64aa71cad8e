/*
 * attention_amx.c — the batch-order attention tile (attention_ref.h) on
 * AMX-BF16 tiles, for the prompt batches the bf16 GEMM takes too
 * (nib_op_attention_tile_bf16, where nib_op_attention_bf16 says so). Built
 * with the amx sources' flags; called only where AMX-BF16 and AVX512-BF16
 * were found.
 *
 * Each fp16 value (q rounded to fp16 as llama.cpp rounds it, K, V, and the
 * probabilities rounded to fp16 as they meet V) is the exact sum of two
 * bf16 values, hi + lo, so a product of two is hi.hi + hi.lo + lo.hi up to
 * lo.lo (2^-16 of it): three TDPBF16PS give each score and each output to
 * about fp32's accuracy, summed in another order than llama.cpp's (not its
 * bits: the golden tests hold these batches to the quantized bound). The
 * softmax between is attention_avx2.h's.
 *
 * Tiles: scores: 0-3 = A (q hi, lo of query tiles 0 and 1, 32 head dims),
 * 4, 5 = B (K hi, lo of 16 keys), 6, 7 = C (query tile x 16 keys). P.V: per
 * pair of 16-dim slabs, 0, 1 = A (P hi, lo of a query tile, 32 keys), 2, 3
 * = B (V hi, lo of 32 keys x 16 dims), 4-7 = C (query tiles x slabs).
 *
 * Measured (Intel Xeon, TinyLlama-1.1B, pp512, 2 threads, alternated with
 * the avx512 tile): Q8_0 516-540 -> 574-596 t/s, Q4_K_M 531-555 -> 612-626,
 * Q4_0 436-447 -> 469-479. Against the batch-order reference (test_attention
 * .cc) the outputs move by at most 0.14% of sum p |v| (keys nearly tied at
 * head dim 1024); on the golden F32 models the logits by 1.9e-5.
 */
#include "attention_ref.h"

#include "amx_util.h"
#include "attention_avx2.h"
#include "avx2_util.h"

#include <immintrin.h>
#include <string.h>

/* 32 floats (each exact as hi + lo bf16) into hi and lo, 32 bf16 each. */
static inline void split32(__m512 a, __m512 b, __m512i *hi, __m512i *lo) {
    const __m512bh h = _mm512_cvtne2ps_pbh(b, a);
    const __m512i hw = (__m512i)h;
    /* the hi values back as floats: bf16 bits in the top half of a word pair */
    const __m512 ha = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm512_castsi512_si256(hw)), 16));
    const __m512 hb = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm512_extracti64x4_epi64(hw, 1)), 16));
    *hi = hw;
    *lo = (__m512i)_mm512_cvtne2ps_pbh(_mm512_sub_ps(b, hb), _mm512_sub_ps(a, ha));
}

/* 32 fp16 values as floats. */
static inline void load_f16x32(const uint16_t *p, __m512 *a, __m512 *b) {
    *a = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p));
    *b = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(p + 16)));
}

/* C += P.V from tiles 0, 1 (P hi, lo) and 2, 3 (V hi, lo): hi.hi, hi.lo, lo.hi */
#define PV3(C)                                                                                                         \
    do {                                                                                                               \
        _tile_dpbf16ps(C, 0, 2);                                                                                       \
        _tile_dpbf16ps(C, 0, 3);                                                                                       \
        _tile_dpbf16ps(C, 1, 2);                                                                                       \
    } while (0)

void nib_attention_tile_bf16_amx(const struct nib_attn_tile *t, int head_dim, const uint16_t *k_base, const uint16_t *v_base,
                                 size_t row_stride, size_t head_off, const int32_t *slot, float scale, float *scratch) {
    const int hd = head_dim, nq = t->n_q, nqt = nq > 16 ? 2 : 1, nc = hd / 32;
    const int32_t n_max = tile_n_max(t);
    const size_t n32 = ((size_t)n_max + 31) / 32 * 32;
    float *S = (float *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63); /* [32][n32] */
    uint16_t *pt = (uint16_t *)(S + NIB_ATTN_TILE_MAX * n32); /* [32-key chunk][qtile][hi, lo][16][32 keys] */
    uint16_t *qt = pt + n32 / 32 * 2 * 2 * 512;               /* [qtile][chunk][hi, lo][16][32] */
    uint16_t *kt = qt + (size_t)2 * (size_t)nc * 2 * 512;     /* [chunk][hi, lo][16 pairs][16 keys][2] */
    uint16_t *vt = kt + (size_t)nc * 2 * 512;                 /* [slab of 2][hi, lo][16 key pairs][16 dims][2] */
    float *O = (float *)(vt + (size_t)2 * 2 * 512);           /* [32][hd] */
    nib_amx_configure_bf16();
    /* q rounded to fp16, then hi/lo; rows past nq zero */
    for (int i = 0; i < 16 * nqt; i++)
        for (int c = 0; c < nc; c++) {
            __m512i hi = _mm512_setzero_si512(), lo = _mm512_setzero_si512();
            if (i < nq) {
                const float *q = t->q[i] + 32 * c;
                const __m512 a = _mm512_cvtph_ps(_mm512_cvtps_ph(_mm512_loadu_ps(q), _MM_FROUND_TO_NEAREST_INT));
                const __m512 b = _mm512_cvtph_ps(_mm512_cvtps_ph(_mm512_loadu_ps(q + 16), _MM_FROUND_TO_NEAREST_INT));
                split32(a, b, &hi, &lo);
            }
            uint16_t *dst = qt + (((size_t)(i / 16) * (size_t)nc + (size_t)c) * 2) * 512 + (size_t)(i % 16) * 32;
            _mm512_storeu_si512((void *)dst, hi);
            _mm512_storeu_si512((void *)(dst + 512), lo);
        }
    /* scores, 16 keys at a time */
    for (int32_t j0 = 0; j0 < n_max; j0 += 16) {
        for (int c = 0; c < nc; c++) {
            __m512i h[16], l[16];
            for (int r = 0; r < 16; r++) {
                if (j0 + r < n_max) {
                    __m512 a, b;
                    load_f16x32(k_base + (size_t)slot[j0 + r] * row_stride + head_off + 32 * c, &a, &b);
                    split32(a, b, &h[r], &l[r]);
                } else {
                    h[r] = l[r] = _mm512_setzero_si512();
                }
            }
            nib_transpose16_epi32(h);
            nib_transpose16_epi32(l);
            uint16_t *dst = kt + (size_t)c * 2 * 512;
            for (int p = 0; p < 16; p++) {
                _mm512_storeu_si512((void *)(dst + 32 * p), h[p]);
                _mm512_storeu_si512((void *)(dst + 512 + 32 * p), l[p]);
            }
        }
        _tile_zero(6);
        _tile_zero(7);
        for (int c = 0; c < nc; c++) {
            _tile_loadd(4, kt + (size_t)c * 2 * 512, 64);
            _tile_loadd(5, kt + (size_t)c * 2 * 512 + 512, 64);
            _tile_loadd(0, qt + ((size_t)c * 2) * 512, 64);
            _tile_loadd(1, qt + ((size_t)c * 2) * 512 + 512, 64);
            _tile_dpbf16ps(6, 0, 4); /* q hi . k hi, q hi . k lo, q lo . k hi */
            _tile_dpbf16ps(6, 0, 5);
            _tile_dpbf16ps(6, 1, 4);
            if (nqt == 2) {
                _tile_loadd(2, qt + (((size_t)nc + (size_t)c) * 2) * 512, 64);
                _tile_loadd(3, qt + (((size_t)nc + (size_t)c) * 2) * 512 + 512, 64);
                _tile_dpbf16ps(7, 2, 4);
                _tile_dpbf16ps(7, 2, 5);
                _tile_dpbf16ps(7, 3, 4);
            }
        }
        _tile_stored(6, S + j0, (long)(n32 * sizeof(float)));
        if (nqt == 2) _tile_stored(7, S + 16 * n32 + j0, (long)(n32 * sizeof(float)));
    }
    /* softmax as the avx512 tile's; keys a query does not read get probability 0 */
    for (int i = 0; i < 16 * nqt; i++) {
        float *si = S + (size_t)i * n32;
        const int32_t n = i < nq ? t->n_kv[i] : 0;
        for (int32_t j = 0; j < n; j += 16) _mm512_storeu_ps(si + j, _mm512_mul_ps(_mm512_loadu_ps(si + j), _mm512_set1_ps(scale)));
        if (n > 0) normalize_probs(si, n, max_of(si, n));
        for (int32_t j = n; j < (int32_t)n32; j++) si[j] = 0.0f;
    }
    /* the probabilities as hi/lo A tiles, once for every slab pair below */
    for (int32_t j0 = 0; j0 < n_max; j0 += 32)
        for (int q = 0; q < nqt; q++)
            for (int i = 0; i < 16; i++) {
                const float *p = S + (size_t)(16 * q + i) * n32 + j0;
                uint16_t *dst = pt + ((size_t)(j0 / 32) * 2 + (size_t)q) * 1024 + 32 * (size_t)i;
                __m512i hi, lo;
                split32(_mm512_loadu_ps(p), _mm512_loadu_ps(p + 16), &hi, &lo);
                _mm512_storeu_si512((void *)dst, hi);
                _mm512_storeu_si512((void *)(dst + 512), lo);
            }
    /* P.V, two 16-dim slabs at a time */
    for (int d0 = 0; d0 < hd; d0 += 32) {
        _tile_zero(4);
        _tile_zero(5);
        _tile_zero(6);
        _tile_zero(7);
        for (int32_t j0 = 0; j0 < n_max; j0 += 32) {
            const uint16_t *pc = pt + (size_t)(j0 / 32) * 2 * 1024; /* this chunk's P tiles */
            for (int kp = 0; kp < 16; kp++) { /* V of keys 2kp, 2kp + 1: pairs per dim, both slabs */
                __m512 va0, va1, vb0, vb1;
                const int32_t ja = j0 + 2 * kp, jb = ja + 1;
                if (ja < n_max) load_f16x32(v_base + (size_t)slot[ja] * row_stride + head_off + d0, &va0, &va1);
                else va0 = va1 = _mm512_setzero_ps();
                if (jb < n_max) load_f16x32(v_base + (size_t)slot[jb] * row_stride + head_off + d0, &vb0, &vb1);
                else vb0 = vb1 = _mm512_setzero_ps();
                for (int s = 0; s < 2; s++) {
                    __m512i ha, la;
                    split32(s ? va1 : va0, s ? vb1 : vb0, &ha, &la); /* words: a's 16 dims, then b's */
                    const __m512i inter = nib_bf16_interleave_index();
                    uint16_t *dst = vt + (size_t)s * 1024 + 32 * (size_t)kp;
                    _mm512_storeu_si512((void *)dst, _mm512_permutexvar_epi16(inter, ha));
                    _mm512_storeu_si512((void *)(dst + 512), _mm512_permutexvar_epi16(inter, la));
                }
            }
            for (int s = 0; s < 2; s++) {
                _tile_loadd(2, vt + (size_t)s * 1024, 64);
                _tile_loadd(3, vt + (size_t)s * 1024 + 512, 64);
                _tile_loadd(0, pc, 64);
                _tile_loadd(1, pc + 512, 64);
                if (s == 0) PV3(4);
                else PV3(5);
                if (nqt == 2) {
                    _tile_loadd(0, pc + 1024, 64);
                    _tile_loadd(1, pc + 1024 + 512, 64);
                    if (s == 0) PV3(6);
                    else PV3(7);
                }
            }
        }
        const long os = (long)((size_t)hd * sizeof(float));
        _tile_stored(4, O + d0, os);
        _tile_stored(5, O + d0 + 16, os);
        if (nqt == 2) {
            _tile_stored(6, O + 16 * (size_t)hd + d0, os);
            _tile_stored(7, O + 16 * (size_t)hd + d0 + 16, os);
        }
    }
    for (int i = 0; i < nq; i++) memcpy(t->out[i], O + (size_t)i * (size_t)hd, (size_t)hd * sizeof(float));
}
#undef PV3
