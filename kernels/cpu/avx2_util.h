/*
 * avx2_util.h — small AVX2 helpers shared by the x86 kernel files (*_avx2*.c,
 * compiled with -mavx2 -mfma -mf16c, and a second time with AVX-512
 * F/BW/VL/VNNI added and NIB_AVX512_BUILD defined).
 *
 * NIB_X86_FN(name) names a kernel of the build at hand: name_avx2 or
 * name_avx512 (x86_kernels.h). In the AVX-512 build the helpers below use
 * VNNI's vpdpbusd where the AVX2 build pairs maddubs with madd: its 32-bit
 * lanes are the same four-product sums, exactly (maddubs never saturates
 * under the contracts stated at each use), so both builds give equal bits.
 */
#ifndef NIB_AVX2_UTIL_H
#define NIB_AVX2_UTIL_H

#include <immintrin.h>
#include <string.h>
#include <stdint.h>

#ifdef NIB_AVX512_BUILD
#define NIB_X86_FN(name) name##_avx512
#define NIB_VNNI 1 /* vpdpbusd on 256-bit vectors (AVX512_VNNI + AVX512VL) */
#else
#define NIB_X86_FN(name) name##_avx2
#define NIB_VNNI 0
#endif

/* The 8-lane float sum in ggml's order (hsum_float_8). */
static inline float hsum_f32x8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline float fp16_to_f32(uint16_t h) { return _cvtsh_ss(h); }

/* Weights streamed from memory (a one-token matmul reads each once) are
 * prefetched into L2 this many bytes ahead of the block being multiplied.
 * On an Intel Xeon with AMX (2026-11-26, 1 thread, TinyLlama decode) the
 * hardware prefetcher alone left a row-by-row Q8_0 dot reading 6.8 GB/s of
 * the 14.8 the machine reads (13.0 with it), the packed Q4_0 kernel 12.4
 * (14.9 with it); 1-4 KB ahead and the L1/L2 hints were tried, 3 KB into L2
 * was best or tied for each. On an AMD EPYC (Zen 5, 2026-11-27) the
 * AVX-512 build's kernels read more 6 KB ahead (TinyLlama tg64 one thread:
 * Q4_0 59.6-59.9 -> 64.0-64.8 t/s, Q4_K_M 51.4-52.0 -> 54.3-54.7, Q8_0
 * 32.2-32.4 -> 33.7-34.0; two threads within noise), the AVX2 build's less
 * (Q4_0 67.4-67.8 -> 65.5, Q4_K_M 54.0-55.4 -> 51.3-51.6), so the distance
 * is per build; 6 KB was not measured on the Intel host. Prefetches never
 * fault: running past a matrix's end is harmless. */
#if NIB_VNNI
#define NIB_STREAM_AHEAD 6144
#else
#define NIB_STREAM_AHEAD 3072
#endif
/* prefetch_stream 12 KB ahead: for kernels that spend longer on each byte
 * (the AVX2 Q6_K units: on an AMD Zen 5, 2026-11-27, one thread, a 300 MB
 * matrix 32.4 -> 39.6 GMAC/s; TinyLlama Q6_K tg64 29.7-30.3 -> 33.3-34.4
 * t/s, Q5_K_M 32.6-33.2 -> 35.0-35.9; two threads tied). */
static inline void prefetch_ahead(const void *block, unsigned bytes, unsigned ahead) {
    for (unsigned l = 0; l < bytes; l += 64) _mm_prefetch((const char *)block + ahead + l, _MM_HINT_T1);
}
static inline void prefetch_stream_far(const void *block, unsigned bytes) { prefetch_ahead(block, bytes, 12288); }
static inline void prefetch_stream(const void *block, unsigned bytes) { prefetch_ahead(block, bytes, NIB_STREAM_AHEAD); }

static inline __m256i load32(const void *p) { return _mm256_loadu_si256((const __m256i *)p); }

/* Four bytes (an activation dword) broadcast to every 32-bit lane. */
static inline __m256i bcast4(const int8_t *p) {
    int32_t v;
    memcpy(&v, p, sizeof v);
    return _mm256_set1_epi32(v);
}

/* Exact: F16C converts every fp16 value, subnormals included. */
static inline __m256 load_f16x8(const uint16_t *p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p)); }

static inline int hsum_i32x8(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 1, 1, 1)));
    return _mm_cvtsi128_si32(s);
}

/* 16 bytes of packed nibbles -> 32 bytes in [0, 15]: the low nibbles
 * (elements 0..15), then the high nibbles (elements 16..31). */
static inline __m256i unpack_nibbles(const uint8_t *qs /* [16] */) {
    const __m128i b = _mm_loadu_si128((const __m128i *)qs);
    return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(b, 4), b), _mm256_set1_epi8(0x0F));
}

/* Eight int32 sums of four products: unsigned bytes u times signed bytes s.
 * maddubs cannot saturate: |u| <= 128 and |s| <= 127 keep pair sums < 2^15. */
static inline __m256i dot_u8_s8(__m256i u, __m256i s) {
#if NIB_VNNI
    return _mm256_dpbusd_epi32(_mm256_setzero_si256(), u, s);
#else
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
#endif
}

/* 8 rows' 8-lane accumulators held transposed (acc[c] lane r: lane c of
 * row r), each row summed in hsum_f32x8's order. */
static inline __m256 hsum_f32x8_rows8(const __m256 acc[8]) {
    const __m256 s0 = _mm256_add_ps(acc[0], acc[4]), s1 = _mm256_add_ps(acc[1], acc[5]);
    const __m256 s2 = _mm256_add_ps(acc[2], acc[6]), s3 = _mm256_add_ps(acc[3], acc[7]);
    return _mm256_add_ps(_mm256_add_ps(s0, s2), _mm256_add_ps(s1, s3));
}

#if NIB_VNNI
/* The same for 16 rows. */
static inline __m512 hsum_f32x8_rows16(const __m512 acc[8]) {
    const __m512 s0 = _mm512_add_ps(acc[0], acc[4]), s1 = _mm512_add_ps(acc[1], acc[5]);
    const __m512 s2 = _mm512_add_ps(acc[2], acc[6]), s3 = _mm512_add_ps(acc[3], acc[7]);
    return _mm512_add_ps(_mm512_add_ps(s0, s2), _mm512_add_ps(s1, s3));
}
#endif

/* 32 five-bit values of a Q5 unit (repack.h: Q5_0, Q5_1, Q5_K), a 256-bit
 * half: the low nibble of each byte of nib (the quant bytes, shifted right
 * by 4 for the high nibbles) with bit `bit` (0..7) of the same byte of qh
 * as the fifth bit. */
static inline __attribute__((always_inline)) __m256i nib_q5_merge256(__m256i nib, __m256i qh, int bit) {
    const __m256i h = bit < 4 ? _mm256_slli_epi16(qh, 4 - bit) : bit > 4 ? _mm256_srli_epi16(qh, bit - 4) : qh;
    return _mm256_or_si256(_mm256_and_si256(nib, _mm256_set1_epi8(0x0F)), _mm256_and_si256(h, _mm256_set1_epi8(0x10)));
}

/* The four 32-value chunks' dword c of a Q6_K unit's half h (repack.h's
 * nib_block_q6_Kx16, p = q[h][c][0], plus 32 for rows 8-15), unsigned 6-bit
 * bytes: v_0..v_2 by one mask each, v_3 from the three top bit pairs. */
static inline __attribute__((always_inline)) void nib_q6_K_quants256(const uint8_t *p, __m256i v[4]) {
    const __m256i m3f = _mm256_set1_epi8(0x3F);
    const __m256i a = _mm256_loadu_si256((const __m256i *)p), b = _mm256_loadu_si256((const __m256i *)(p + 64));
    const __m256i c = _mm256_loadu_si256((const __m256i *)(p + 128));
    v[0] = _mm256_and_si256(a, m3f);
    v[1] = _mm256_and_si256(b, m3f);
    v[2] = _mm256_and_si256(c, m3f);
    v[3] = _mm256_or_si256(_mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(a, 6), _mm256_set1_epi8(0x03)),
                                           _mm256_and_si256(_mm256_srli_epi16(b, 4), _mm256_set1_epi8(0x0C))),
                           _mm256_and_si256(_mm256_srli_epi16(c, 2), _mm256_set1_epi8(0x30)));
}

#ifdef __AVX512BW__
/* nib_q5_merge256 for 64 values. */
static inline __attribute__((always_inline)) __m512i nib_q5_merge512(__m512i nib, __m512i qh, int bit) {
    const __m512i h = bit < 4 ? _mm512_slli_epi16(qh, 4 - bit) : bit > 4 ? _mm512_srli_epi16(qh, bit - 4) : qh;
    /* 0x0F ? nib : h, bit by bit */
    return _mm512_and_si512(_mm512_ternarylogic_epi32(_mm512_set1_epi8(0x0F), nib, h, 0xCA), _mm512_set1_epi8(0x1F));
}

/* nib_q6_K_quants256 for all 16 rows. */
static inline __attribute__((always_inline)) void nib_q6_K_quants512(const uint8_t *p, __m512i v[4]) {
    const __m512i m3f = _mm512_set1_epi8(0x3F), m03 = _mm512_set1_epi8(3), m0f = _mm512_set1_epi8(0x0F);
    const __m512i a = _mm512_loadu_si512((const void *)p), b = _mm512_loadu_si512((const void *)(p + 64));
    const __m512i c = _mm512_loadu_si512((const void *)(p + 128));
    v[0] = _mm512_and_si512(a, m3f);
    v[1] = _mm512_and_si512(b, m3f);
    v[2] = _mm512_and_si512(c, m3f);
    /* bits 0-1 from a's top pair, 2-3 from b's, 4-5 from c's (c's top pair alone, so nothing above) */
    const __m512i ab = _mm512_ternarylogic_epi32(_mm512_srli_epi16(a, 6), _mm512_srli_epi16(b, 4), m03, 0xE4);
    const __m512i ct = _mm512_srli_epi16(_mm512_and_si512(c, _mm512_set1_epi8((char)0xC0)), 2);
    v[3] = _mm512_ternarylogic_epi32(ab, ct, m0f, 0xEC); /* (ab & 0x0F) | ct */
}
#endif

/* The same for signed x signed: |x| goes unsigned, x's sign moves to y.
 * Needs y != -128 (activation quants are in [-127, 127]). */
static inline __m256i dot_s8_s8(__m256i x, __m256i y) {
    return dot_u8_s8(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
}


/* ggml_v_expf, __m256 form. */
static inline __m256 nib_v_expf_avx2(__m256 x) {
    const __m256 r = _mm256_set1_ps(0x1.8p23f);
    const __m256 z = _mm256_fmadd_ps(x, _mm256_set1_ps(0x1.715476p+0f), r);
    const __m256 n = _mm256_sub_ps(z, r);
    const __m256 b = _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.7f7d1cp-20f), _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.62e4p-1f), x));
    const __m256i e = _mm256_slli_epi32(_mm256_castps_si256(z), 23);
    const __m256 k = _mm256_castsi256_ps(_mm256_add_epi32(e, _mm256_castps_si256(_mm256_set1_ps(1))));
    const __m256i c = _mm256_castps_si256(_mm256_cmp_ps(_mm256_andnot_ps(_mm256_set1_ps(-0.f), n), _mm256_set1_ps(126), _CMP_GT_OQ));
    const __m256 u = _mm256_mul_ps(b, b);
    const __m256 j = _mm256_fmadd_ps(
        _mm256_fmadd_ps(_mm256_fmadd_ps(_mm256_set1_ps(0x1.0e4020p-7f), b, _mm256_set1_ps(0x1.573e2ep-5f)), u,
                        _mm256_fmadd_ps(_mm256_set1_ps(0x1.555e66p-3f), b, _mm256_set1_ps(0x1.fffdb6p-2f))),
        u, _mm256_mul_ps(_mm256_set1_ps(0x1.ffffecp-1f), b));
    if (!_mm256_movemask_ps(_mm256_castsi256_ps(c))) return _mm256_fmadd_ps(j, k, k);
    const __m256i g = _mm256_and_si256(_mm256_castps_si256(_mm256_cmp_ps(n, _mm256_setzero_ps(), _CMP_LE_OQ)),
                                       _mm256_set1_epi32((int)0x82000000u));
    const __m256 s1 = _mm256_castsi256_ps(_mm256_add_epi32(g, _mm256_set1_epi32(0x7f000000)));
    const __m256 s2 = _mm256_castsi256_ps(_mm256_sub_epi32(e, g));
    const __m256i d = _mm256_castps_si256(_mm256_cmp_ps(_mm256_andnot_ps(_mm256_set1_ps(-0.f), n), _mm256_set1_ps(192), _CMP_GT_OQ));
    return _mm256_or_ps(_mm256_and_ps(_mm256_castsi256_ps(d), _mm256_mul_ps(s1, s1)),
                        _mm256_andnot_ps(_mm256_castsi256_ps(d),
                                         _mm256_or_ps(_mm256_and_ps(_mm256_castsi256_ps(c), _mm256_mul_ps(_mm256_fmadd_ps(s2, j, s2), s1)),
                                                      _mm256_andnot_ps(_mm256_castsi256_ps(c), _mm256_fmadd_ps(k, j, k)))));
}


#endif
