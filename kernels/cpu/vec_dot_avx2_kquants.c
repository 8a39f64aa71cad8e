/*
 * vec_dot_avx2_kquants.c — AVX2 dot products of the K-quants (Q2_K..Q6_K)
 * with Q8_K activations. Built with -mavx2 -mfma -mf16c; reached only
 * through dispatch.c's table after the CPU check.
 *
 * Per 256-element block everything integer is exact: the weight quants are
 * widened to unsigned bytes, maddubs multiplies them with the int8
 * activations into int16 pair sums, madd applies the sub-block scales into
 * eight int32 lanes, and offsets (Q3_K's -4, Q6_K's -32) and mins are taken
 * out in integers (bounds on the int32 lanes next to each kernel; where a
 * lane can pass 2^24 its conversion still rounds exactly as ggml's, since it
 * is the same int32 through the same cvtdq2ps).
 *
 * The float side reproduces llama.cpp's x86 AVX2 kernels (ggml-cpu
 * arch/x86/quants.c, ggml_vec_dot_qN_K_q8_K, as built for the "haswell"
 * variant) bit for bit, so the integer lanes are laid out exactly as there:
 * lane k of a block's int32 sum holds bytes 4k..4k+3 of every 32-element
 * chunk (what maddubs + madd give), with the same terms (offsets, mins) in
 * the same lanes. Then, per type:
 *   - d = y.d * x.d and dmin = -y.d * x.dmin, each one rounded multiply;
 *   - acc (8 lanes) += d * lanes as one fma per block (vfmadd231ps);
 *   - mins: Q2_K fmas dmin * (8 lanes) into acc first, Q4_K fmas dmin *
 *     (4 lanes) into a separate 4-lane accumulator, Q5_K does a scalar
 *     summs = fma(dmin, (float)int_sum, summs) (ggml's C is contracted);
 *   - the result is hsum_f32x8(acc) (ggml's hsum_float_8: hi128 + lo128,
 *     + movehl, + movehdup), plus the mins accumulator last for Q4_K/Q5_K.
 * kqcmp (see the report / /work/dbg/kq) checks this against the prebuilt
 * libggml-cpu-haswell.so. The project builds with -ffp-contract=off, so
 * every fma here is an explicit intrinsic.
 */
#include "avx2_util.h"
#include "dispatch.h"
#include "quant_blocks.h"
#include "repack.h"

#include <immintrin.h>
#include <string.h>


static inline int hsum_i32x4(__m128i s) {
    s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 1, 1, 1)));
    return _mm_cvtsi128_si32(s);
}



/* Scalar fma(a, b, c) with one rounding (vfmadd231ss, as contracted ggml C). */
static inline float fmadd_f32(float a, float b, float c) {
    return _mm_cvtss_f32(_mm_fmadd_ss(_mm_set_ss(a), _mm_set_ss(b), _mm_set_ss(c)));
}

/* sc holds eight int16 scales in each 128-bit half: word a of the low half
 * goes to every word of the low half, word b of the high half to every word
 * of the high half (constant controls once the callers' loops unroll). */
static inline __m256i pick_scales(__m256i sc, int a, int b) {
    return _mm256_shuffle_epi8(sc, _mm256_set_m128i(_mm_set1_epi16((short)(0x0100 * (2 * b + 1) + 2 * b)),
                                                    _mm_set1_epi16((short)(0x0100 * (2 * a + 1) + 2 * a))));
}

/* 128-bit half h of v in both halves. */
static inline __m256i dup_half(__m256i v, int h) {
    return h ? _mm256_permute2x128_si256(v, v, 0x11) : _mm256_permute2x128_si256(v, v, 0x00);
}

/* One 32-element chunk: unsigned quants q times int8 activations y, the two
 * 16-element halves scaled by the int16 scales in sc (one word per half,
 * broadcast by pick_scales) -> eight int32 lanes of 4 elements each. */
static inline __m256i chunk_dot(__m256i q, __m256i y, __m256i sc) {
    return _mm256_madd_epi16(sc, _mm256_maddubs_epi16(q, y));
}

/* sumi + chunk_dot(q, y, sc), and sumi + madd(sc, p16): one vpdpwssd in the
 * AVX-512 build (the same int32 sums, no saturation either way). */
static inline __m256i add_chunk_dot(__m256i sumi, __m256i q, __m256i y, __m256i sc) {
#if NIB_VNNI
    return _mm256_dpwssd_epi32(sumi, sc, _mm256_maddubs_epi16(q, y));
#else
    return _mm256_add_epi32(sumi, chunk_dot(q, y, sc));
#endif
}

static inline __m256i add_madd(__m256i sumi, __m256i sc, __m256i p16) {
#if NIB_VNNI
    return _mm256_dpwssd_epi32(sumi, sc, p16);
#else
    return _mm256_add_epi32(sumi, _mm256_madd_epi16(sc, p16));
#endif
}

/* Sum over the 16 sub-blocks of sc[j] * bsums[j] as eight int32 lanes. */
static inline __m256i scaled_bsums(__m256i sc16, const int16_t *bsums) {
    return _mm256_madd_epi16(sc16, load32(bsums));
}

#define TILE_KQ (NIB_VNNI ? 8 : 4) /* activation rows per dot4 call (Q2_K, Q3_K, Q6_K): 8 where AVX-512 gives 32 registers */

/* ROWS(..., NT) for n = NT in 1..TILE_KQ: each token count its own compiled
 * body (the accumulators stay in registers). */
#define KQ_CASES_1_4(n, ROWS, ...)                                                                            \
    case 4: ROWS(__VA_ARGS__, 4); break;                                                                      \
    case 3: ROWS(__VA_ARGS__, 3); break;                                                                      \
    case 2: ROWS(__VA_ARGS__, 2); break;                                                                      \
    default: ROWS(__VA_ARGS__, 1); break;
#if NIB_VNNI
#define KQ_BY_TOKENS(n, ROWS, ...)                                                                            \
    switch (n) {                                                                                              \
    case 8: ROWS(__VA_ARGS__, 8); break;                                                                      \
    case 7: ROWS(__VA_ARGS__, 7); break;                                                                      \
    case 6: ROWS(__VA_ARGS__, 6); break;                                                                      \
    case 5: ROWS(__VA_ARGS__, 5); break;                                                                      \
    KQ_CASES_1_4(n, ROWS, __VA_ARGS__)                                                                        \
    }
#else
#define KQ_BY_TOKENS(n, ROWS, ...)                                                                            \
    switch (n) { KQ_CASES_1_4(n, ROWS, __VA_ARGS__) }
#endif

/* The NT activation rows (y_row_bytes apart) and their zeroed accumulators. */
static inline __attribute__((always_inline)) void kq_rows_start(const void *vy, size_t y_row_bytes, const int NT,
                                                                const struct nib_block_q8_K *y[], __m256 acc[]) {
    for (int t = 0; t < NT; t++) {
        y[t] = (const struct nib_block_q8_K *)((const char *)vy + (size_t)t * y_row_bytes);
        acc[t] = _mm256_setzero_ps();
    }
}

/* vec_dot (one activation row) and dot4 (up to TILE_KQ) of a K-quant from
 * its ROWS(nb, x, y, y_row_bytes, out, NT) kernel; Q8_K's scales are floats
 * already, so dot4's dy goes unused. */
#define KQ_ENTRIES(T, ROWS)                                                                                     \
    void NIB_X86_FN(nib_vec_dot_##T##_q8_K)(int64_t n, float *out, const void *vx, const void *vy) {            \
        ROWS(n / NIB_QK_K, vx, vy, 0, out, 1);                                                                  \
    }                                                                                                           \
    void NIB_X86_FN(nib_dot4_##T##_q8_K)(int64_t n, float *out, const void *vx, const void *vy, size_t y_row_bytes, \
                                         int n_rows, const float *dy) {                                         \
        (void)dy;                                                                                               \
        KQ_BY_TOKENS(n_rows, ROWS, n / NIB_QK_K, vx, vy, y_row_bytes, out);                                     \
    }

/* Q2_K: x = d*sc*q - dmin*m, q in [0, 3], sc and m in [0, 15]. A lane sums
 * 32 products of at most 15*3*127: < 2^21.
 * ggml order per block: acc = fma(dmin, mins lanes, acc) with dmin = -y.d *
 * x.dmin and mins lane k = m[2k]*bsums[2k] + m[2k+1]*bsums[2k+1]; then
 * acc = fma(d, sumi, acc). Result hsum_float_8(acc). */
static inline __attribute__((always_inline)) void q2_K_rows(int64_t nb, const struct nib_block_q2_K *x, const void *vy,
                                                            size_t y_row_bytes, float *out, const int NT) {
    const struct nib_block_q8_K *y[TILE_KQ];
    __m256 acc[TILE_KQ];
    kq_rows_start(vy, y_row_bytes, NT, y, acc);
    const __m256i m3 = _mm256_set1_epi8(3);
    for (int64_t i = 0; i < nb; i++) {
        prefetch_stream(x + i, sizeof x[i]);
        const float dx = fp16_to_f32(x[i].d), mx = fp16_to_f32(x[i].dmin);
        const __m128i packed = _mm_loadu_si128((const __m128i *)x[i].scales);
        const __m256i sc16 = _mm256_cvtepu8_epi16(_mm_and_si128(packed, _mm_set1_epi8(0x0F)));
        const __m256i m16 = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(packed, 4), _mm_set1_epi8(0x0F)));
        __m256i sumi[TILE_KQ];
        for (int t = 0; t < NT; t++) {
            acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(-y[t][i].d * mx), _mm256_cvtepi32_ps(scaled_bsums(m16, y[t][i].bsums)), acc[t]);
            sumi[t] = _mm256_setzero_si256();
        }
        for (int h = 0; h < 2; h++) { /* 128 elements: 32 bytes, four 2-bit fields each */
            const __m256i bits = load32(x[i].qs + 32 * h);
            const __m256i sc = dup_half(sc16, h);
            for (int s = 0; s < 4; s++) {
                const __m256i q = _mm256_and_si256(_mm256_srli_epi16(bits, 2 * s), m3);
                const __m256i scs = pick_scales(sc, 2 * s, 2 * s + 1);
                for (int t = 0; t < NT; t++) sumi[t] = add_chunk_dot(sumi[t], q, load32(y[t][i].qs + 128 * h + 32 * s), scs);
            }
        }
        for (int t = 0; t < NT; t++) acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(y[t][i].d * dx), _mm256_cvtepi32_ps(sumi[t]), acc[t]);
    }
    for (int t = 0; t < NT; t++) out[t] = hsum_f32x8(acc[t]);
}

KQ_ENTRIES(q2_K, q2_K_rows)

/* The sixteen 6-bit Q3_K scales, bias 32 removed, as int16: low nibbles of
 * bytes 0..7 then their high nibbles, top bit pairs from bytes 8..11. */
static inline __m256i q3_K_scales(const uint8_t *p /* [12] */) {
    uint32_t a[3];
    memcpy(a, p, sizeof(a));
    const uint32_t lo4 = 0x0f0f0f0f, hi2 = 0x03030303;
    const __m128i s = _mm_setr_epi32((int)((a[0] & lo4) | ((a[2] & hi2) << 4)),
                                     (int)((a[1] & lo4) | (((a[2] >> 2) & hi2) << 4)),
                                     (int)(((a[0] >> 4) & lo4) | (((a[2] >> 4) & hi2) << 4)),
                                     (int)(((a[1] >> 4) & lo4) | (((a[2] >> 6) & hi2) << 4)));
    return _mm256_cvtepi8_epi16(_mm_sub_epi8(s, _mm_set1_epi8(32)));
}

/* Q3_K: x = d*sc*(q - 4) with q = low 2 bits | high bit << 2 in [0, 7], sc in
 * [-32, 31]. As in ggml the -4 is applied per int16 pair sum: maddubs(low 2
 * bits, y) - maddubs(4 where the high bit is clear, y), so every lane holds
 * exactly its own elements, at most 32*32*4*128 < 2^18. ggml order: acc =
 * fma(d, sumi, acc) per block, result hsum_float_8(acc). */
static inline __attribute__((always_inline)) void q3_K_rows(int64_t nb, const struct nib_block_q3_K *x, const void *vy,
                                                            size_t y_row_bytes, float *out, const int NT) {
    const struct nib_block_q8_K *y[TILE_KQ];
    __m256 acc[TILE_KQ];
    kq_rows_start(vy, y_row_bytes, NT, y, acc);
    const __m256i m3 = _mm256_set1_epi8(3), one = _mm256_set1_epi8(1);
    for (int64_t i = 0; i < nb; i++) {
        prefetch_stream(x + i, sizeof x[i]);
        const __m256i sc16 = q3_K_scales(x[i].scales);
        const __m256i nhbits = _mm256_xor_si256(load32(x[i].hmask), _mm256_set1_epi8(-1)); /* high bit clear */
        __m256i sumi[TILE_KQ];
        for (int t = 0; t < NT; t++) sumi[t] = _mm256_setzero_si256();
        for (int h = 0; h < 2; h++) {
            const __m256i bits = load32(x[i].qs + 32 * h);
            const __m256i sc = dup_half(sc16, h);
            for (int s = 0; s < 4; s++) {
                const int g = 4 * h + s; /* 32-element group = bit of hmask */
                const __m256i lo = _mm256_and_si256(_mm256_srli_epi16(bits, 2 * s), m3);
                const __m256i off = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(nhbits, g), one), 2);
                const __m256i scs = pick_scales(sc, 2 * s, 2 * s + 1);
                for (int t = 0; t < NT; t++) {
                    const __m256i a = load32(y[t][i].qs + 128 * h + 32 * s);
                    const __m256i p16 = _mm256_sub_epi16(_mm256_maddubs_epi16(lo, a), _mm256_maddubs_epi16(off, a));
                    sumi[t] = add_madd(sumi[t], scs, p16);
                }
            }
        }
        const float dx = fp16_to_f32(x[i].d);
        for (int t = 0; t < NT; t++) acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(y[t][i].d * dx), _mm256_cvtepi32_ps(sumi[t]), acc[t]);
    }
    for (int t = 0; t < NT; t++) out[t] = hsum_f32x8(acc[t]);
}

KQ_ENTRIES(q3_K, q3_K_rows)

/* Q4_K/Q5_K: eight 6-bit scales and mins from the 12 packed bytes (layout in
 * quant_blocks.h): scales 0..3 / mins 0..3 are the low 6 bits of bytes 0..3 /
 * 4..7; scales 4..7 / mins 4..7 take a nibble of bytes 8..11 plus the top 2
 * bits of bytes 0..3 / 4..7. Both as int16 in both 128-bit halves. */
static inline void q4_K_scales_mins(const uint8_t *p /* [12] */, __m256i *sc, __m128i *mins) {
    uint32_t a[3];
    memcpy(a, p, sizeof(a));
    const uint32_t lo6 = 0x3f3f3f3f, lo4 = 0x0f0f0f0f, hi2 = 0x03030303;
    const uint32_t sc_lo = a[0] & lo6, sc_hi = (a[2] & lo4) | (((a[0] >> 6) & hi2) << 4);
    const uint32_t m_lo = a[1] & lo6, m_hi = ((a[2] >> 4) & lo4) | (((a[1] >> 6) & hi2) << 4);
    const __m128i s16 = _mm_cvtepu8_epi16(_mm_setr_epi32((int)sc_lo, (int)sc_hi, 0, 0));
    *sc = _mm256_set_m128i(s16, s16);
    *mins = _mm_cvtepu8_epi16(_mm_setr_epi32((int)m_lo, (int)m_hi, 0, 0));
}

/* mins_j * (bsums_{2j} + bsums_{2j+1}) summed in pairs of j into four int32
 * lanes (ggml's layout: lane k = j in {2k, 2k+1}): 8 * 63 * 4064 < 2^21. */
static inline __m128i q4_K_min_lanes(__m128i mins, const int16_t *bsums) {
    const __m128i b0 = _mm_loadu_si128((const __m128i *)bsums), b1 = _mm_loadu_si128((const __m128i *)(bsums + 8));
    return _mm_madd_epi16(mins, _mm_hadd_epi16(b0, b1));
}

/* Q4_K: x = d*sc*q - dmin*m, q in [0, 15], one scale per 32 elements. A lane
 * is at most 32*63*15*127 < 2^22.
 * ggml order: acc_m (4 lanes) = fma(dmin, min lanes, acc_m) with dmin =
 * -y.d * x.dmin; acc = fma(d, sumi, acc). Result hsum_float_8(acc) +
 * ((m0 + m2) + (m1 + m3)) of acc_m (movehl, then movehdup). */
void NIB_X86_FN(nib_vec_dot_q4_K_q8_K)(int64_t n, float *out, const void *vx, const void *vy) {
    const struct nib_block_q4_K *x = vx; /* [n/256] */
    const struct nib_block_q8_K *y = vy; /* [n/256] */
    const int64_t nb = n / NIB_QK_K;
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    __m256 acc = _mm256_setzero_ps();
    __m128 acc_m = _mm_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        prefetch_stream(x + i, sizeof x[i]);
        const float d = y[i].d * fp16_to_f32(x[i].d), dmin = -y[i].d * fp16_to_f32(x[i].dmin);
        __m256i sc;
        __m128i mins;
        q4_K_scales_mins(x[i].scales, &sc, &mins);
        acc_m = _mm_fmadd_ps(_mm_set1_ps(dmin), _mm_cvtepi32_ps(q4_K_min_lanes(mins, y[i].bsums)), acc_m);
        __m256i sumi = _mm256_setzero_si256();
        for (int j = 0; j < 4; j++) { /* 64 elements: low nibbles, then high */
            const __m256i bits = load32(x[i].qs + 32 * j);
            const __m256i lo = _mm256_and_si256(bits, m4), hi = _mm256_and_si256(_mm256_srli_epi16(bits, 4), m4);
            const int8_t *q8 = y[i].qs + 64 * j;
            sumi = add_chunk_dot(sumi, lo, load32(q8), pick_scales(sc, 2 * j, 2 * j));
            sumi = add_chunk_dot(sumi, hi, load32(q8 + 32), pick_scales(sc, 2 * j + 1, 2 * j + 1));
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
    }
    acc_m = _mm_add_ps(acc_m, _mm_movehl_ps(acc_m, acc_m));
    acc_m = _mm_add_ss(acc_m, _mm_movehdup_ps(acc_m));
    *out = hsum_f32x8(acc) + _mm_cvtss_f32(acc_m);
}

/* Q5_K: Q4_K plus a 5th bit (bit k of qh[l] belongs to element 32k + l),
 * q in [0, 31]. A lane is at most 32*63*31*127 < 2^23.
 * ggml order (unlike Q4_K): the mins are one exact int32 per block, summs =
 * fma(dmin, (float)that, summs) in scalar with dmin = -y.d * x.dmin; acc =
 * fma(d, sumi, acc). Result hsum_float_8(acc) + summs. */
/* Against up to 4 activation rows at once (dot4), each weight block's scales
 * and 5-bit quants unpacked once; per row the steps above: the vec_dot's bits. */
static inline __attribute__((always_inline)) void q5_K_rows(int64_t nb, const struct nib_block_q5_K *x, const void *vy,
                                                            size_t y_row_bytes, float *out, const int NT) {
    const __m256i m4 = _mm256_set1_epi8(0x0F), one = _mm256_set1_epi8(1);
    const struct nib_block_q8_K *y[4];
    __m256 acc[4];
    float summs[4];
    for (int t = 0; t < NT; t++) {
        y[t] = (const struct nib_block_q8_K *)((const char *)vy + (size_t)t * y_row_bytes);
        acc[t] = _mm256_setzero_ps();
        summs[t] = 0.0f;
    }
    for (int64_t i = 0; i < nb; i++) {
        prefetch_stream(x + i, sizeof x[i]);
        __m256i sc;
        __m128i mins;
        q4_K_scales_mins(x[i].scales, &sc, &mins);
        const float dx = fp16_to_f32(x[i].d), dminx = fp16_to_f32(x[i].dmin);
        __m256i sumi[4];
        for (int t = 0; t < NT; t++) {
            summs[t] = fmadd_f32(-y[t][i].d * dminx, (float)hsum_i32x4(q4_K_min_lanes(mins, y[t][i].bsums)), summs[t]);
            sumi[t] = _mm256_setzero_si256();
        }
        const __m256i hbits = load32(x[i].qh);
        for (int j = 0; j < 4; j++) {
            const __m256i bits = load32(x[i].qs + 32 * j);
            const __m256i h0 = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hbits, 2 * j), one), 4);
            const __m256i h1 = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hbits, 2 * j + 1), one), 4);
            const __m256i lo = _mm256_or_si256(_mm256_and_si256(bits, m4), h0);
            const __m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(bits, 4), m4), h1);
            const __m256i sc_lo = pick_scales(sc, 2 * j, 2 * j), sc_hi = pick_scales(sc, 2 * j + 1, 2 * j + 1);
            for (int t = 0; t < NT; t++) {
                const int8_t *q8 = y[t][i].qs + 64 * j;
                sumi[t] = add_chunk_dot(sumi[t], lo, load32(q8), sc_lo);
                sumi[t] = add_chunk_dot(sumi[t], hi, load32(q8 + 32), sc_hi);
            }
        }
        for (int t = 0; t < NT; t++)
            acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(y[t][i].d * dx), _mm256_cvtepi32_ps(sumi[t]), acc[t]);
    }
    for (int t = 0; t < NT; t++) out[t] = hsum_f32x8(acc[t]) + summs[t];
}

void NIB_X86_FN(nib_vec_dot_q5_K_q8_K)(int64_t n, float *out, const void *vx, const void *vy) {
    q5_K_rows(n / NIB_QK_K, vx, vy, 0, out, 1);
}

void NIB_X86_FN(nib_dot4_q5_K_q8_K)(int64_t n, float *out, const void *vx, const void *vy, size_t y_row_bytes, int n_rows,
                                    const float *dy) {
    (void)dy; /* Q8_K's scales are floats already */
    const int64_t nb = n / NIB_QK_K;
    switch (n_rows) {
    case 4: q5_K_rows(nb, vx, vy, y_row_bytes, out, 4); break;
    case 3: q5_K_rows(nb, vx, vy, y_row_bytes, out, 3); break;
    case 2: q5_K_rows(nb, vx, vy, y_row_bytes, out, 2); break;
    default: q5_K_rows(nb, vx, vy, y_row_bytes, out, 1); break;
    }
}

/* Q6_K: x = d*sc*(q - 32), q in [0, 63], sc int8. As in ggml the -32 is
 * taken out per block in int32 lanes: sumi (unsigned q) minus 32 * (lane k:
 * sc[2k]*bsums[2k] + sc[2k+1]*bsums[2k+1]). A lane stays within
 * 32*63*128*128 + 32*2*128*4064 < 2^26, no int32 overflow; past 2^24 its
 * conversion rounds, identically to ggml's. ggml order: acc = fma(d, lanes,
 * acc) per block, result hsum_float_8(acc). Against up to 4 activation rows
 * at once (dot4), each weight block is unpacked once; the vec_dot is the
 * one-row case. */
/* The four 32-weight chunks q[0..3] of one half (h) of a Q6_K block, as
 * unsigned 6-bit bytes, in W-bit vectors (256, or 512 for two rows side by
 * side): low nibbles of ql (l0: bytes 0-31, l1: 32-63) for chunks 0 and 1,
 * high nibbles for 2 and 3, each with its 2 bits of qh (hb) above. */
#define Q6_K_QUANTS(W, l0, l1, hb, m4, m2, q)                                                                          \
    do {                                                                                                               \
        q[0] = _mm##W##_or_si##W(_mm##W##_and_si##W(l0, m4), _mm##W##_slli_epi16(_mm##W##_and_si##W(hb, m2), 4));      \
        q[1] = _mm##W##_or_si##W(_mm##W##_and_si##W(l1, m4),                                                           \
                                 _mm##W##_slli_epi16(_mm##W##_and_si##W(_mm##W##_srli_epi16(hb, 2), m2), 4));          \
        q[2] = _mm##W##_or_si##W(_mm##W##_and_si##W(_mm##W##_srli_epi16(l0, 4), m4),                                   \
                                 _mm##W##_slli_epi16(_mm##W##_and_si##W(_mm##W##_srli_epi16(hb, 4), m2), 4));          \
        q[3] = _mm##W##_or_si##W(_mm##W##_and_si##W(_mm##W##_srli_epi16(l1, 4), m4),                                   \
                                 _mm##W##_slli_epi16(_mm##W##_and_si##W(_mm##W##_srli_epi16(hb, 6), m2), 4));          \
    } while (0)

static inline __attribute__((always_inline)) void q6_K_rows(int64_t nb, const struct nib_block_q6_K *x, const void *vy,
                                                            size_t y_row_bytes, float *out, const int NT) {
    const __m256i m4 = _mm256_set1_epi8(0x0F), m2 = _mm256_set1_epi8(3);
    const struct nib_block_q8_K *y[TILE_KQ];
    __m256 acc[TILE_KQ];
    kq_rows_start(vy, y_row_bytes, NT, y, acc);
    for (int64_t i = 0; i < nb; i++) {
        prefetch_stream(x + i, sizeof x[i]);
        const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)x[i].scales));
        __m256i sumi[TILE_KQ];
        for (int t = 0; t < NT; t++) sumi[t] = _mm256_setzero_si256();
        for (int h = 0; h < 2; h++) {
            const __m256i l0 = load32(x[i].ql + 64 * h), l1 = load32(x[i].ql + 64 * h + 32);
            const __m256i hb = load32(x[i].qh + 32 * h);
            const __m256i sc = dup_half(sc16, h);
            __m256i q[4];
            Q6_K_QUANTS(256, l0, l1, hb, m4, m2, q);
            for (int s = 0; s < 4; s++) {
                const __m256i scs = pick_scales(sc, 2 * s, 2 * s + 1);
                for (int t = 0; t < NT; t++)
                    sumi[t] = add_chunk_dot(sumi[t], q[s], load32(y[t][i].qs + 128 * h + 32 * s), scs);
            }
        }
        const float dx = fp16_to_f32(x[i].d);
        for (int t = 0; t < NT; t++) {
            sumi[t] = _mm256_sub_epi32(sumi[t], _mm256_slli_epi32(scaled_bsums(sc16, y[t][i].bsums), 5));
            acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(y[t][i].d * dx), _mm256_cvtepi32_ps(sumi[t]), acc[t]);
        }
    }
    for (int t = 0; t < NT; t++) out[t] = hsum_f32x8(acc[t]);
}

#if NIB_VNNI
/* q6_K_rows for two weight rows (x_row_bytes apart) at once in 512-bit
 * vectors: the low 256 bits are row 0's ymm lanes, the high 256 row 1's,
 * each activation chunk broadcast to both halves. Every lane takes the ymm
 * kernel's steps (the scale word picks, the int32 sums, d = y.d * x.d as
 * one rounded multiply, one fma per block), so each row's result is its
 * vec_dot's bits; the weight unpacking and the dot products take half the
 * instructions. out[8 * r + t]. */
static inline __attribute__((always_inline)) void q6_K_rows2(int64_t nb, const struct nib_block_q6_K *x0, size_t x_row_bytes,
                                                             const void *vy, size_t y_row_bytes, float *out, const int NT) {
    const struct nib_block_q6_K *x1 = (const struct nib_block_q6_K *)((const char *)x0 + x_row_bytes);
    const __m512i m4 = _mm512_set1_epi8(0x0F), m2 = _mm512_set1_epi8(3);
    const struct nib_block_q8_K *y[TILE_KQ];
    __m512 acc[TILE_KQ];
    for (int t = 0; t < NT; t++) {
        y[t] = (const struct nib_block_q8_K *)((const char *)vy + (size_t)t * y_row_bytes);
        acc[t] = _mm512_setzero_ps();
    }
#define PAIR32(p0, p1) _mm512_inserti64x4(_mm512_castsi256_si512(load32(p0)), load32(p1), 1)
    for (int64_t i = 0; i < nb; i++) {
        prefetch_stream(x0 + i, sizeof x0[i]);
        prefetch_stream(x1 + i, sizeof x1[i]);
        const __m512i sc16 = _mm512_inserti64x4(
            _mm512_castsi256_si512(_mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)x0[i].scales))),
            _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)x1[i].scales)), 1);
        __m512i sumi[TILE_KQ];
        for (int t = 0; t < NT; t++) sumi[t] = _mm512_setzero_si512();
        for (int h = 0; h < 2; h++) {
            const __m512i l0 = PAIR32(x0[i].ql + 64 * h, x1[i].ql + 64 * h);
            const __m512i l1 = PAIR32(x0[i].ql + 64 * h + 32, x1[i].ql + 64 * h + 32);
            const __m512i hb = PAIR32(x0[i].qh + 32 * h, x1[i].qh + 32 * h);
            /* dup_half per row: 128-bit lanes h, h of row 0's half, 2 + h, 2 + h of row 1's */
            const __m512i sc = h ? _mm512_shuffle_i64x2(sc16, sc16, 0xF5) : _mm512_shuffle_i64x2(sc16, sc16, 0xA0);
            __m512i q[4];
            Q6_K_QUANTS(512, l0, l1, hb, m4, m2, q);
            for (int s = 0; s < 4; s++) {
                /* pick_scales per 256-bit half: word 2s in the low 128 bits, 2s + 1 in the high */
                const int a = 2 * s, b = 2 * s + 1;
                const __m128i ca = _mm_set1_epi16((short)(0x0100 * (2 * a + 1) + 2 * a));
                const __m128i cb = _mm_set1_epi16((short)(0x0100 * (2 * b + 1) + 2 * b));
                const __m256i c256 = _mm256_set_m128i(cb, ca);
                const __m512i scs = _mm512_shuffle_epi8(sc, _mm512_inserti64x4(_mm512_castsi256_si512(c256), c256, 1));
                for (int t = 0; t < NT; t++) {
                    const __m512i yv = _mm512_broadcast_i64x4(load32(y[t][i].qs + 128 * h + 32 * s));
                    sumi[t] = _mm512_dpwssd_epi32(sumi[t], scs, _mm512_maddubs_epi16(q[s], yv));
                }
            }
        }
        const __m512 dx = _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castps_pd(_mm512_set1_ps(fp16_to_f32(x0[i].d))),
                                                              _mm256_castps_pd(_mm256_set1_ps(fp16_to_f32(x1[i].d))), 1));
        for (int t = 0; t < NT; t++) {
            const __m512i bs = _mm512_madd_epi16(sc16, _mm512_broadcast_i64x4(load32(y[t][i].bsums)));
            sumi[t] = _mm512_sub_epi32(sumi[t], _mm512_slli_epi32(bs, 5));
            acc[t] = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_set1_ps(y[t][i].d), dx), _mm512_cvtepi32_ps(sumi[t]), acc[t]);
        }
    }
#undef PAIR32
    for (int t = 0; t < NT; t++) {
        out[t] = hsum_f32x8(_mm512_castps512_ps256(acc[t]));
        out[8 + t] = hsum_f32x8(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(acc[t]), 1)));
    }
}

/* Q5_K over a packed 16-row unit (repack.h's nib_block_q5_Kx16), one
 * activation row: q5_K_rows's steps for all 16 rows at once. Lane r of
 * sumi (for dword c) is lane c of row r's sumi there: per chunk (j, low or
 * high nibbles) one maddubs of the 16 rows' dword c (the fifth bit merged:
 * a ternary-logic pick of the nibble and the shifted qh bit, then & 0x1F)
 * with the activation dword, one vpdpwssd with the chunk's scale as a pair
 * of words per row. The mins' exact int32 total per row, summs = fma(-y.d *
 * dmin, total, summs), acc[c] = fma(y.d * d, sumi, acc[c]); out = hsum_f32x8
 * of row r's lanes + summs: the vec_dot's bits. */
/* NT (<= 4) activation rows (y_row_bytes apart) against one unit, each
 * dword's quants unpacked once for all of them. */
static inline __attribute__((always_inline)) void q5_K_unit_rows(int64_t nb, float *out, size_t out_stride,
                                                                 const struct nib_block_q5_Kx16 *x, const void *vy,
                                                                 size_t y_row_bytes, const int NT) {
    const struct nib_block_q8_K *y[4];
    __m512 acc[4][8], summs[4];
    for (int t = 0; t < NT; t++) {
        y[t] = (const struct nib_block_q8_K *)((const char *)vy + (size_t)t * y_row_bytes);
        summs[t] = _mm512_setzero_ps();
        for (int c = 0; c < 8; c++) acc[t][c] = _mm512_setzero_ps();
    }
    for (int64_t b = 0; b < nb; b++) {
        /* prefetched an eighth at a time, below */
        __m512i scv[8];
        for (int s = 0; s < 8; s++) {
            const __m512i v = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)x[b].sc[s]));
            scv[s] = _mm512_or_si512(v, _mm512_slli_epi32(v, 16));
        }
        const __m512 dmin = _mm512_cvtph_ps(load32(x[b].dmin)), dx = _mm512_cvtph_ps(load32(x[b].d));
        __m512 d[4];
        for (int t = 0; t < NT; t++) {
            __m512i imin = _mm512_setzero_si512();
            for (int p = 0; p < 4; p++) {
                const int16_t *bs = y[t][b].bsums + 4 * p;
                const uint32_t pair = (uint16_t)(bs[0] + bs[1]) | (uint32_t)(uint16_t)(bs[2] + bs[3]) << 16;
                imin = _mm512_dpwssd_epi32(imin, _mm512_cvtepu8_epi16(load32(x[b].m[p])), _mm512_set1_epi32((int)pair));
            }
            summs[t] = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_set1_ps(-y[t][b].d), dmin), _mm512_cvtepi32_ps(imin), summs[t]);
            d[t] = _mm512_mul_ps(_mm512_set1_ps(y[t][b].d), dx);
        }
        for (int c = 0; c < 8; c++) {
            prefetch_stream((const char *)(x + b) + c * (sizeof x[b] / 8), sizeof x[b] / 8);
            const __m512i qh = _mm512_loadu_si512((const void *)x[b].qh[c]);
            __m512i sumi[4];
            for (int t = 0; t < NT; t++) sumi[t] = _mm512_setzero_si512();
            for (int j = 0; j < 4; j++) {
                const __m512i q = _mm512_loadu_si512((const void *)x[b].qs[j][c]);
                const __m512i lo = nib_q5_merge512(q, qh, 2 * j), hi = nib_q5_merge512(_mm512_srli_epi16(q, 4), qh, 2 * j + 1);
                for (int t = 0; t < NT; t++) {
                    int32_t vlo, vhi;
                    memcpy(&vlo, y[t][b].qs + 64 * j + 4 * c, sizeof vlo);
                    memcpy(&vhi, y[t][b].qs + 64 * j + 32 + 4 * c, sizeof vhi);
                    sumi[t] = _mm512_dpwssd_epi32(sumi[t], scv[2 * j], _mm512_maddubs_epi16(lo, _mm512_set1_epi32(vlo)));
                    sumi[t] = _mm512_dpwssd_epi32(sumi[t], scv[2 * j + 1], _mm512_maddubs_epi16(hi, _mm512_set1_epi32(vhi)));
                }
            }
            for (int t = 0; t < NT; t++) acc[t][c] = _mm512_fmadd_ps(d[t], _mm512_cvtepi32_ps(sumi[t]), acc[t][c]);
        }
    }
    for (int t = 0; t < NT; t++) _mm512_storeu_ps(out + (size_t)t * out_stride, _mm512_add_ps(hsum_f32x8_rows16(acc[t]), summs[t]));
}

/* Q6_K over a packed 16-row unit (repack.h's nib_block_q6_Kx16), one
 * activation row: q6_K_rows's steps for all 16 rows at once. Lane r of
 * sumi (for dword c) is lane c of row r's sumi there: per half and chunk j,
 * one maddubs of the 16 rows' unsigned quants (v_j: three masks, and v_3
 * from the top bit pairs) with the activation dword, one vpdpwssd with the
 * sub-block's scale as a pair of words per row; then minus 32 * (row r's
 * sc[2c] * bsums[2c] + sc[2c + 1] * bsums[2c + 1]), acc[c] = fma(y.d * d,
 * sumi, acc[c]); out = hsum_f32x8 of row r's lanes: the vec_dot's bits.
 * Per 16 rows and 256 values that is ~210 port-0 instructions (maddubs,
 * vpdpwssd, shifts; the 2-row kernel ~1.5x more), 44-48 GMAC/s from L2 on
 * an Intel Xeon with AMX against dot4x2's 35. Each eighth of a unit is
 * prefetched with the dword that reads it: the whole unit's 53 lines
 * prefetched at its start left a 300 MB matrix at 15.0-15.6 GMAC/s, spread
 * out 18.8-18.9 (94% of the bandwidth; the rows' vec_dot 16.2-17.0); Q5_K's
 * units the same way: 17.2-17.8 -> 20.1-21.7. */
/* NT activation rows (y_row_bytes apart) against one unit: each weight
 * dword unpacked once for all of them. */
static inline __attribute__((always_inline)) void q6_K_unit_rows(int64_t nb, float *out, size_t out_stride,
                                                                 const struct nib_block_q6_Kx16 *x, const void *vy,
                                                                 size_t y_row_bytes, const int NT) {
    const struct nib_block_q8_K *y[4];
    __m512 acc[4][8];
    for (int t = 0; t < NT; t++) {
        y[t] = (const struct nib_block_q8_K *)((const char *)vy + (size_t)t * y_row_bytes);
        for (int c = 0; c < 8; c++) acc[t][c] = _mm512_setzero_ps();
    }
    /* per 128-bit lane, dword m's word 0 (dup_lo) or word 1 (dup_hi) twice */
    const __m512i dup_lo = _mm512_broadcast_i32x4(_mm_set_epi32(0x0D0C0D0C, 0x09080908, 0x05040504, 0x01000100));
    const __m512i dup_hi = _mm512_broadcast_i32x4(_mm_set_epi32(0x0F0E0F0E, 0x0B0A0B0A, 0x07060706, 0x03020302));
    for (int64_t b = 0; b < nb; b++) {
        /* prefetched an eighth at a time, below */
        __m512i pair[8], scv[16]; /* pair[k]: row r's (sc[2k], sc[2k + 1]); scv[s]: (sc[s], sc[s]) */
        for (int k = 0; k < 8; k++) {
            pair[k] = _mm512_cvtepi8_epi16(load32(x[b].sc[k]));
            scv[2 * k] = _mm512_shuffle_epi8(pair[k], dup_lo);
            scv[2 * k + 1] = _mm512_shuffle_epi8(pair[k], dup_hi);
        }
        const __m512 dx = _mm512_cvtph_ps(load32(x[b].d));
        for (int c = 0; c < 8; c++) {
            prefetch_stream((const char *)(x + b) + c * (sizeof x[b] / 8), sizeof x[b] / 8);
            __m512i sumi[4];
            for (int t = 0; t < NT; t++) sumi[t] = _mm512_setzero_si512();
            for (int h = 0; h < 2; h++) {
                __m512i v[4];
                nib_q6_K_quants512(x[b].q[h][c][0], v);
                for (int j = 0; j < 4; j++)
                    for (int t = 0; t < NT; t++) {
                        int32_t a;
                        memcpy(&a, y[t][b].qs + 128 * h + 32 * j + 4 * c, sizeof a);
                        sumi[t] = _mm512_dpwssd_epi32(sumi[t], scv[8 * h + 2 * j + c / 4], _mm512_maddubs_epi16(v[j], _mm512_set1_epi32(a)));
                    }
            }
            for (int t = 0; t < NT; t++) {
                int32_t bs; /* bsums[2c] low, [2c + 1] high: the two words as they lie (little-endian) */
                memcpy(&bs, y[t][b].bsums + 2 * c, sizeof bs);
                const __m512i corr = _mm512_madd_epi16(pair[c], _mm512_set1_epi32(bs));
                const __m512i s32 = _mm512_sub_epi32(sumi[t], _mm512_slli_epi32(corr, 5));
                acc[t][c] = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_set1_ps(y[t][b].d), dx), _mm512_cvtepi32_ps(s32), acc[t][c]);
            }
        }
    }
    for (int t = 0; t < NT; t++) _mm512_storeu_ps(out + (size_t)t * out_stride, hsum_f32x8_rows16(acc[t]));
}

void NIB_X86_FN(nib_dot4x2_q6_K_q8_K)(int64_t n, float *out, const void *vx, size_t x_row_bytes, const void *vy,
                                      size_t y_row_bytes, int n_rows) {
    const int64_t nb = n / NIB_QK_K;
    KQ_BY_TOKENS(n_rows, q6_K_rows2, nb, vx, x_row_bytes, vy, y_row_bytes, out);
}
#else
/* The AVX2 build of q6_K_unit_rows: each unit as two halves of 8 rows in
 * 256-bit vectors (the first and second 32 bytes of every 64-byte vector),
 * the same steps otherwise, maddubs + madd for vpdpwssd and the quants'
 * merges without ternary logic: the same int32 lanes, so vec_dot's bits. */
static inline __attribute__((always_inline)) void q6_K_unit_rows(int64_t nb, float *out, size_t out_stride,
                                                                 const struct nib_block_q6_Kx16 *x, const void *vy,
                                                                 size_t y_row_bytes, const int NT) {
    const __m256i dup_lo = _mm256_broadcastsi128_si256(_mm_set_epi32(0x0D0C0D0C, 0x09080908, 0x05040504, 0x01000100));
    const __m256i dup_hi = _mm256_broadcastsi128_si256(_mm_set_epi32(0x0F0E0F0E, 0x0B0A0B0A, 0x07060706, 0x03020302));
    const struct nib_block_q8_K *y[4];
    __m256 acc[2][4][8]; /* [half][token][lane]: rows 8 * half + lane r */
    for (int t = 0; t < NT; t++) {
        y[t] = (const struct nib_block_q8_K *)((const char *)vy + (size_t)t * y_row_bytes);
        for (int c = 0; c < 8; c++) acc[0][t][c] = acc[1][t][c] = _mm256_setzero_ps();
    }
    for (int64_t b = 0; b < nb; b++)
        for (int half = 0; half < 2; half++) {
            __m256i pair[8], scv[16];
            for (int k = 0; k < 8; k++) {
                pair[k] = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(x[b].sc[k][8 * half])));
                scv[2 * k] = _mm256_shuffle_epi8(pair[k], dup_lo);
                scv[2 * k + 1] = _mm256_shuffle_epi8(pair[k], dup_hi);
            }
            const __m256 dx = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x[b].d + 8 * half)));
            for (int c = 0; c < 8; c++) {
                if (!half) prefetch_stream_far((const char *)(x + b) + c * (sizeof x[b] / 8), sizeof x[b] / 8);
                __m256i sumi[4];
                for (int t = 0; t < NT; t++) sumi[t] = _mm256_setzero_si256();
                for (int h = 0; h < 2; h++) {
                    __m256i v[4];
                    nib_q6_K_quants256(x[b].q[h][c][0] + 32 * half, v);
                    for (int j = 0; j < 4; j++)
                        for (int t = 0; t < NT; t++) {
                            int32_t a;
                            memcpy(&a, y[t][b].qs + 128 * h + 32 * j + 4 * c, sizeof a);
                            sumi[t] = add_chunk_dot(sumi[t], v[j], _mm256_set1_epi32(a), scv[8 * h + 2 * j + c / 4]);
                        }
                }
                for (int t = 0; t < NT; t++) {
                    int32_t bs; /* bsums[2c] low, [2c + 1] high, as they lie */
                    memcpy(&bs, y[t][b].bsums + 2 * c, sizeof bs);
                    const __m256i corr = _mm256_madd_epi16(pair[c], _mm256_set1_epi32(bs));
                    const __m256i s32 = _mm256_sub_epi32(sumi[t], _mm256_slli_epi32(corr, 5));
                    acc[half][t][c] =
                        _mm256_fmadd_ps(_mm256_mul_ps(_mm256_set1_ps(y[t][b].d), dx), _mm256_cvtepi32_ps(s32), acc[half][t][c]);
                }
            }
        }
    for (int half = 0; half < 2; half++)
        for (int t = 0; t < NT; t++) _mm256_storeu_ps(out + (size_t)t * out_stride + 8 * half, hsum_f32x8_rows8(acc[half][t]));
}

/* The AVX2 build of q5_K_unit_row, two 8-row halves as q6_K_unit_rows's,
 * for NT activation rows (y_row_bytes apart) at once: each weight chunk's
 * 5-bit unpacking is shared by the rows, every row's lanes take the one-row
 * steps (so vec_dot's bits); the float accumulators live in memory. AVX2
 * build, Zen 5, one thread, 2048 x 2048 at 64 tokens: 52.9-53.6 -> 87.7-88.4
 * GMAC/s against one row at a time; one row from memory 36.3-36.6 -> 37.6. */
static inline __attribute__((always_inline)) void q5_K_unit_rows(int64_t nb, float *out, size_t out_stride,
                                                                 const struct nib_block_q5_Kx16 *x, const void *vy,
                                                                 size_t y_row_bytes, const int NT) {
    const struct nib_block_q8_K *y[4];
    __m256 acc[2][4][8], summs[2][4]; /* [half][token][lane] */
    for (int t = 0; t < NT; t++) {
        y[t] = (const struct nib_block_q8_K *)((const char *)vy + (size_t)t * y_row_bytes);
        for (int c = 0; c < 8; c++) acc[0][t][c] = acc[1][t][c] = _mm256_setzero_ps();
        summs[0][t] = summs[1][t] = _mm256_setzero_ps();
    }
    for (int64_t b = 0; b < nb; b++) {
        int32_t pairs[4][4]; /* [token][p]: bsums 4p + 0..1 | 4p + 2..3 << 16, as 16-bit sums */
        for (int t = 0; t < NT; t++)
            for (int p = 0; p < 4; p++) {
                const int16_t *bs = y[t][b].bsums + 4 * p;
                pairs[t][p] = (int32_t)((uint32_t)(uint16_t)(bs[0] + bs[1]) | (uint32_t)(uint16_t)(bs[2] + bs[3]) << 16);
            }
        for (int half = 0; half < 2; half++) {
            __m256i scv[8];
            for (int s = 0; s < 8; s++) {
                const __m256i v = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(x[b].sc[s] + 8 * half)));
                scv[s] = _mm256_or_si256(v, _mm256_slli_epi32(v, 16));
            }
            const __m256 dmin = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x[b].dmin + 8 * half)));
            const __m256 dx = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x[b].d + 8 * half)));
            __m256 d[4];
            for (int t = 0; t < NT; t++) {
                __m256i imin = _mm256_setzero_si256();
                for (int p = 0; p < 4; p++)
                    imin = add_madd(imin, _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)x[b].m[p][8 * half])),
                                    _mm256_set1_epi32(pairs[t][p]));
                summs[half][t] =
                    _mm256_fmadd_ps(_mm256_mul_ps(_mm256_set1_ps(-y[t][b].d), dmin), _mm256_cvtepi32_ps(imin), summs[half][t]);
                d[t] = _mm256_mul_ps(_mm256_set1_ps(y[t][b].d), dx);
            }
            for (int c = 0; c < 8; c++) {
                if (!half) prefetch_stream((const char *)(x + b) + c * (sizeof x[b] / 8), sizeof x[b] / 8);
                const __m256i qh = load32(x[b].qh[c] + 32 * half);
                __m256i sumi[4];
                for (int t = 0; t < NT; t++) sumi[t] = _mm256_setzero_si256();
                for (int j = 0; j < 4; j++) {
                    const __m256i q = load32(x[b].qs[j][c] + 32 * half);
                    const __m256i lo = nib_q5_merge256(q, qh, 2 * j), hi = nib_q5_merge256(_mm256_srli_epi16(q, 4), qh, 2 * j + 1);
                    for (int t = 0; t < NT; t++) {
                        sumi[t] = add_chunk_dot(sumi[t], lo, bcast4(y[t][b].qs + 64 * j + 4 * c), scv[2 * j]);
                        sumi[t] = add_chunk_dot(sumi[t], hi, bcast4(y[t][b].qs + 64 * j + 32 + 4 * c), scv[2 * j + 1]);
                    }
                }
                for (int t = 0; t < NT; t++) acc[half][t][c] = _mm256_fmadd_ps(d[t], _mm256_cvtepi32_ps(sumi[t]), acc[half][t][c]);
            }
        }
    }
    for (int half = 0; half < 2; half++)
        for (int t = 0; t < NT; t++)
            _mm256_storeu_ps(out + (size_t)t * out_stride + 8 * half, _mm256_add_ps(hsum_f32x8_rows8(acc[half][t]), summs[half][t]));
}
#endif

/* gemv16 (dispatch.h) of a K-quant from its ROWS(nb, out, out_stride, unit,
 * y, y_row_bytes, NT) kernel: 4 activation rows a call, then the rest. */
#define KQ_GEMV16(T, ROWS)                                                                                          \
    void NIB_X86_FN(nib_gemv16_##T##_q8_K)(int64_t n, float *out, size_t out_stride, const void *unit, const void *y, \
                                           size_t y_row_bytes, const int32_t *ybase, int n_tok) {                    \
        (void)ybase;                                                                                                \
        for (int t = 0; t < n_tok; t += 4) {                                                                        \
            const char *yt = (const char *)y + (size_t)t * y_row_bytes;                                             \
            switch (n_tok - t < 4 ? n_tok - t : 4) {                                                                \
                KQ_CASES_1_4(m, ROWS, n / NIB_QK_K, out + (size_t)t * out_stride, out_stride, unit, yt, y_row_bytes) \
            }                                                                                                       \
        }                                                                                                           \
    }
KQ_GEMV16(q5_K, q5_K_unit_rows)
KQ_GEMV16(q6_K, q6_K_unit_rows)

KQ_ENTRIES(q6_K, q6_K_rows)
