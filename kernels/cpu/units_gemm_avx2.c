/*
 * units_gemm_avx2.c — the x86 variants' unit_gemm (dispatch.h): prompt
 * batches over a packed copy in 16-row units (repack.h) for Q4_1, Q5_0,
 * Q5_1, Q5_K and Q6_K, in the block order of the amx variant's
 * (units_gemm_amx.c, packed_amx.c, q6_K_units_amx.c): one exact integer sum
 * per block (Q5_K: pair of sub-blocks) and token, then fma steps. Any exact
 * computation of those sums gives the same bits, so avx2, avx512 and amx
 * agree; KernelUnitGemm checks them against a scalar loop of that order.
 * Built with -mavx2 -mfma -mf16c (each unit as two halves of 8 rows, lane r
 * of a 256-bit vector row 8h + r: the first or second 32 bytes of each
 * 64-byte vector of the unit), and again for the avx512 variant (16 rows a
 * 512-bit vector, vpdpbusd).
 *
 * Why not gemv16 (vec_dot's bits): vec_dot keeps eight int32 lanes per row,
 * one dword of each block in each, so on AVX2 every dword's maddubs needs
 * its own madd, and every lane its own float step. In block order only a
 * row's whole sum counts: maddubs pair sums add up in int16 first (bounds at
 * each kernel) and one madd finishes them; the float step comes once per
 * block. Per call, each block (or super-block) of the unit is unpacked once
 * into the stack, then every tile of TILE token rows runs over it; the
 * float accumulators are y itself between blocks.
 */
#include "avx2_util.h"
#include "dispatch.h"
#include "gemm_tiles_x86.h"
#include "quant_blocks.h"
#include "repack.h"

#include <immintrin.h>
#include <stddef.h>
#include <string.h>

/* A K-quant unit_gemm's body (n, unit, xq, xq_row_bytes, n_tok, y,
 * y_stride in scope): y zeroed, then per super-block b of the unit (struct
 * XT), UNPACK it into an SBT on the stack and run STEP(x + b, &u, half, a,
 * y, y_stride, NT) over every tile of token rows (a: their blocks b). */
#define KQ_SUPERBLOCKS(XT, SBT, UNPACK, STEP)                                                                          \
    do {                                                                                                               \
        const int64_t nb = n / NIB_QK_K;                                                                               \
        const struct XT *x = unit;                                                                                     \
        struct SBT u;                                                                                                  \
        for (int t = 0; t < n_tok; t++) memset(y + (size_t)t * y_stride, 0, 16 * sizeof(float));                       \
        for (int64_t b = 0; b < nb; b++) {                                                                             \
            prefetch_stream(x + b + 1, sizeof x[b]);                                                                   \
            UNPACK(x + b, &u);                                                                                         \
            for (int t = 0; t < n_tok; t += TILE) {                                                                    \
                const char *rows[TILE];                                                                                \
                const struct nib_block_q8_K *a[TILE];                                                                  \
                tile_rows(xq, xq_row_bytes, t, n_tok, rows);                                                           \
                for (int i = 0; i < TILE; i++) a[i] = (const struct nib_block_q8_K *)rows[i] + b;                      \
                for (int half = 0; half < HALVES; half++)                                                              \
                    BY_TILE(n_tok - t < TILE ? n_tok - t : TILE, STEP, x + b, &u, half, a, y + (size_t)t * y_stride,   \
                            y_stride)                                                                                  \
            }                                                                                                          \
        }                                                                                                              \
    } while (0)


/* ---- Q6_K --------------------------------------------------------------- */

/* One super-block of a unit unpacked: w[s][d] holds dword d (values
 * 16 s + 4 d ..+3) of sub-block s of row r in bytes 4r..4r+3, unsigned
 * (v in [0, 63]); sc[s] the scales of sub-block s: AVX2 (sc, sc) as int16
 * in dword r, AVX-512 sc as the int32 of lane r. */
struct q6_K_sb {
    uint8_t w[16][4][64];
    uint8_t sc[16][64];
};

static void unpack_q6_K(const struct nib_block_q6_Kx16 *x, struct q6_K_sb *out) {
#if NIB_VNNI
    for (int h = 0; h < 2; h++)
        for (int c = 0; c < 8; c++) { /* values 128 h + 32 j + 4 c + i: sub-block 8 h + 2 j + c / 4, dword c % 4 */
            __m512i v[4];
            nib_q6_K_quants512(x->q[h][c][0], v);
            for (int j = 0; j < 4; j++) _mm512_storeu_si512((void *)out->w[8 * h + 2 * j + c / 4][c % 4], v[j]);
        }
    for (int k = 0; k < 8; k++) { /* sc[k]: row r's (sc[2k], sc[2k + 1]) as bytes 2r, 2r + 1 */
        const __m512i pair = _mm512_cvtepi8_epi16(load32(x->sc[k]));
        _mm512_storeu_si512((void *)out->sc[2 * k], _mm512_srai_epi32(_mm512_slli_epi32(pair, 16), 16));
        _mm512_storeu_si512((void *)out->sc[2 * k + 1], _mm512_srai_epi32(pair, 16));
    }
#else
    const __m256i dup_lo = _mm256_broadcastsi128_si256(_mm_set_epi32(0x0D0C0D0C, 0x09080908, 0x05040504, 0x01000100));
    const __m256i dup_hi = _mm256_broadcastsi128_si256(_mm_set_epi32(0x0F0E0F0E, 0x0B0A0B0A, 0x07060706, 0x03020302));
    for (int half = 0; half < 2; half++) {
        for (int h = 0; h < 2; h++)
            for (int c = 0; c < 8; c++) {
                __m256i v[4];
                nib_q6_K_quants256(x->q[h][c][0] + 32 * half, v);
                for (int j = 0; j < 4; j++)
                    _mm256_storeu_si256((__m256i *)(out->w[8 * h + 2 * j + c / 4][c % 4] + 32 * half), v[j]);
            }
        for (int k = 0; k < 8; k++) {
            const __m256i pair = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)x->sc[k][8 * half]));
            _mm256_storeu_si256((__m256i *)(out->sc[2 * k] + 32 * half), _mm256_shuffle_epi8(pair, dup_lo));
            _mm256_storeu_si256((__m256i *)(out->sc[2 * k + 1] + 32 * half), _mm256_shuffle_epi8(pair, dup_hi));
        }
    }
#endif
}

/* One super-block (x: the unit's, u: unpacked), NT token rows (a: their
 * blocks of it), rows 8 half..+7 (AVX-512: all 16), per token t and row r
 * (q6_K_unit_order in tests/test_kernels_units.cc):
 *     isum = sum over sub-blocks s of sc[s] * sum of (v - 32) * y   (int32)
 *     acc  = fma((float)isum, d_w * d_y, acc)        (acc: y[t][r] itself)
 * The weights stay unsigned: the -32 comes back as -32 * the sum of
 * sc[s] * bsums[s], one madd per pair of sub-blocks. AVX2 bounds: a
 * maddubs pair sum is at most 2 * 63 * 127 = 16002, two of them 32004 <
 * 2^15; |isum| before the correction <= 32 * 2 * 32004 * 128 < 2^28, the
 * correction <= 32 * 16 * 128 * 2032 < 2^28. */
static inline __attribute__((always_inline)) void q6_K_step(const struct nib_block_q6_Kx16 *x, const struct q6_K_sb *u,
                                                            int half, const struct nib_block_q8_K *const *a, float *y,
                                                            size_t y_stride, const int NT) {
#if NIB_VNNI
    (void)half;
    __m512i isum[TILE];
    for (int t = 0; t < NT; t++) isum[t] = _mm512_setzero_si512();
    for (int k = 0; k < 8; k++) { /* the offsets: sc[2k] * bsums[2k] + sc[2k + 1] * bsums[2k + 1], per row */
        const __m512i pair = _mm512_cvtepi8_epi16(load32(x->sc[k]));
        for (int t = 0; t < NT; t++) {
            int32_t bs;
            memcpy(&bs, a[t]->bsums + 2 * k, sizeof bs);
            isum[t] = _mm512_dpwssd_epi32(isum[t], pair, _mm512_set1_epi32(bs));
        }
    }
    for (int t = 0; t < NT; t++) isum[t] = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_slli_epi32(isum[t], 5));
    for (int s = 0; s < 16; s++) {
        const __m512i sc = _mm512_loadu_si512((const void *)u->sc[s]);
        __m512i w[4];
        for (int d = 0; d < 4; d++) w[d] = _mm512_loadu_si512((const void *)u->w[s][d]);
        for (int t = 0; t < NT; t++) isum[t] = _mm512_add_epi32(isum[t], _mm512_mullo_epi32(dot16_rows16(w, a[t]->qs + 16 * s), sc));
    }
    const __m512 dw = _mm512_cvtph_ps(load32(x->d));
    for (int t = 0; t < NT; t++) {
        float *yt = y + (size_t)t * y_stride;
        _mm512_storeu_ps(yt, _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[t]), _mm512_mul_ps(dw, _mm512_set1_ps(a[t]->d)),
                                             _mm512_loadu_ps(yt)));
    }
#else
    __m256i isum[TILE];
    for (int t = 0; t < NT; t++) isum[t] = _mm256_setzero_si256();
    for (int k = 0; k < 8; k++) { /* the offsets, as above */
        const __m256i pair = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)x->sc[k][8 * half]));
        for (int t = 0; t < NT; t++) {
            int32_t bs;
            memcpy(&bs, a[t]->bsums + 2 * k, sizeof bs);
            isum[t] = _mm256_add_epi32(isum[t], _mm256_madd_epi16(pair, _mm256_set1_epi32(bs)));
        }
    }
    for (int t = 0; t < NT; t++) isum[t] = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(isum[t], 5));
    for (int s = 0; s < 16; s++) {
        const __m256i sc = load32(u->sc[s] + 32 * half);
        for (int d = 0; d < 4; d += 2) {
            const __m256i v0 = load32(u->w[s][d] + 32 * half), v1 = load32(u->w[s][d + 1] + 32 * half);
            for (int t = 0; t < NT; t++) {
                const int8_t *q8 = a[t]->qs + 16 * s + 4 * d;
                const __m256i p16 = _mm256_add_epi16(_mm256_maddubs_epi16(v0, bcast4(q8)), _mm256_maddubs_epi16(v1, bcast4(q8 + 4)));
                isum[t] = _mm256_add_epi32(isum[t], _mm256_madd_epi16(p16, sc));
            }
        }
    }
    const __m256 dw = load_f16x8(x->d + 8 * half);
    for (int t = 0; t < NT; t++) {
        float *yt = y + (size_t)t * y_stride + 8 * half;
        _mm256_storeu_ps(yt, _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[t]), _mm256_mul_ps(dw, _mm256_set1_ps(a[t]->d)),
                                             _mm256_loadu_ps(yt)));
    }
#endif
}

void NIB_X86_FN(nib_unit_gemm_q6_K_q8_K)(int64_t n, const void *unit, const void *xq, size_t xq_row_bytes, int n_tok,
                                         const float *dyf, const float *syf, float *y, size_t y_stride, void *scratch) {
    (void)dyf, (void)syf, (void)scratch; /* Q8_K's d is a float; a super-block unpacks into the stack */
    KQ_SUPERBLOCKS(nib_block_q6_Kx16, q6_K_sb, unpack_q6_K, q6_K_step);
}

/* ---- Q5_K --------------------------------------------------------------- */

/* AVX2 only: in the avx512 build a VNNI version of these steps (vpdpbusd
 * per dword, the scale by vpmulld or vpdpwssd per sub-block) ran 188-199
 * GMAC/s at 64 rows against gemv16's 211-214 (one thread, 2048 x 2048,
 * Zen 5), so that variant keeps gemv16 for Q5_K. */
#if !NIB_VNNI

/* One super-block of a unit unpacked: w[s][c] holds dword c (values
 * 32 s + 4 c ..+3) of sub-block s of row r in bytes 4r..4r+3 (v in
 * [0, 31]); sc[s] the (sc, sc) of sub-block s of row r as int16 in dword r. */
struct q5_K_sb {
    uint8_t w[8][8][64];
    uint8_t sc[8][64];
};

static void unpack_q5_K(const struct nib_block_q5_Kx16 *x, struct q5_K_sb *out) {
    for (int half = 0; half < 2; half++) {
        for (int c = 0; c < 8; c++) {
            const __m256i qh = load32(x->qh[c] + 32 * half);
            for (int j = 0; j < 4; j++) { /* byte 32 j + 4 c + i: sub-block 2 j (low nibble), 2 j + 1 (high) */
                const __m256i q = load32(x->qs[j][c] + 32 * half);
                _mm256_storeu_si256((__m256i *)(out->w[2 * j][c] + 32 * half), nib_q5_merge256(q, qh, 2 * j));
                _mm256_storeu_si256((__m256i *)(out->w[2 * j + 1][c] + 32 * half),
                                    nib_q5_merge256(_mm256_srli_epi16(q, 4), qh, 2 * j + 1));
            }
        }
        for (int s = 0; s < 8; s++) {
            const __m256i v = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(x->sc[s] + 8 * half)));
            _mm256_storeu_si256((__m256i *)(out->sc[s] + 32 * half), _mm256_or_si256(v, _mm256_slli_epi32(v, 16)));
        }
    }
}

/* One super-block, NT token rows, rows 8 half..+7, in
 * the order of Q4_K's repacked GEMM (q5_K_gemm_order in
 * tests/test_kernels_units.cc): per pair p of sub-blocks isum = sc * dot +
 * sc' * dot' (int32) and acc = fma((float)isum, d_w * d_y, acc) (acc:
 * y[t][r] itself); the mins afterwards (q5_K_mins). Four maddubs pair
 * sums (each <= 2 * 31 * 127) add up in int16 before their scale's madd. */
static inline __attribute__((always_inline)) void q5_K_step(const struct nib_block_q5_Kx16 *x, const struct q5_K_sb *u,
                                                            int half, const struct nib_block_q8_K *const *a, float *y,
                                                            size_t y_stride, const int NT) {
    const __m256 dw = load_f16x8(x->d + 8 * half);
    __m256 acc[TILE], dd[TILE];
    for (int t = 0; t < NT; t++) {
        acc[t] = _mm256_loadu_ps(y + (size_t)t * y_stride + 8 * half);
        dd[t] = _mm256_mul_ps(dw, _mm256_set1_ps(a[t]->d));
    }
    for (int p = 0; p < 4; p++) {
        __m256i isum[TILE];
        for (int t = 0; t < NT; t++) isum[t] = _mm256_setzero_si256();
        for (int sb = 2 * p; sb < 2 * p + 2; sb++) {
            const __m256i sc = load32(u->sc[sb] + 32 * half);
            for (int c = 0; c < 8; c += 4) {
                const __m256i v0 = load32(u->w[sb][c] + 32 * half), v1 = load32(u->w[sb][c + 1] + 32 * half);
                const __m256i v2 = load32(u->w[sb][c + 2] + 32 * half), v3 = load32(u->w[sb][c + 3] + 32 * half);
                for (int t = 0; t < NT; t++) {
                    const int8_t *q8 = a[t]->qs + 32 * sb + 4 * c;
                    const __m256i p16 = _mm256_add_epi16(
                        _mm256_add_epi16(_mm256_maddubs_epi16(v0, bcast4(q8)), _mm256_maddubs_epi16(v1, bcast4(q8 + 4))),
                        _mm256_add_epi16(_mm256_maddubs_epi16(v2, bcast4(q8 + 8)), _mm256_maddubs_epi16(v3, bcast4(q8 + 12))));
                    isum[t] = _mm256_add_epi32(isum[t], _mm256_madd_epi16(p16, sc));
                }
            }
        }
        for (int t = 0; t < NT; t++) acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[t]), dd[t], acc[t]);
    }
    for (int t = 0; t < NT; t++) _mm256_storeu_ps(y + (size_t)t * y_stride + 8 * half, acc[t]);
}

/* The mins of Q5_K for one token row over every super-block:
 * accm = fma((float)(m * bsum + m' * bsum'), dmin_w * d_y, accm) per pair of
 * sub-blocks, then y[r] = acc - accm. */
static void q5_K_mins(int64_t nb, const struct nib_block_q5_Kx16 *x, const struct nib_block_q8_K *a, float *y) {
    for (int half = 0; half < 2; half++) {
        __m256 accm = _mm256_setzero_ps();
        for (int64_t b = 0; b < nb; b++) {
            const __m256 dd = _mm256_mul_ps(load_f16x8(x[b].dmin + 8 * half), _mm256_set1_ps(a[b].d));
            for (int p = 0; p < 4; p++) {
                const int16_t *bs = a[b].bsums + 4 * p;
                const int32_t pair = (int32_t)((uint32_t)(uint16_t)(bs[0] + bs[1]) | (uint32_t)(uint16_t)(bs[2] + bs[3]) << 16);
                const __m256i mn2 = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)x[b].m[p][8 * half]));
                accm = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_madd_epi16(mn2, _mm256_set1_epi32(pair))), dd, accm);
            }
        }
        _mm256_storeu_ps(y + 8 * half, _mm256_sub_ps(_mm256_loadu_ps(y + 8 * half), accm));
    }
}

void NIB_X86_FN(nib_unit_gemm_q5_K_q8_K)(int64_t n, const void *unit, const void *xq, size_t xq_row_bytes, int n_tok,
                                         const float *dyf, const float *syf, float *y, size_t y_stride, void *scratch) {
    (void)dyf, (void)syf, (void)scratch;
    KQ_SUPERBLOCKS(nib_block_q5_Kx16, q5_K_sb, unpack_q5_K, q5_K_step);
    for (int t = 0; t < n_tok; t++)
        q5_K_mins(n / NIB_QK_K, unit, (const struct nib_block_q8_K *)((const char *)xq + (size_t)t * xq_row_bytes),
                  y + (size_t)t * y_stride);
}

#endif

/* ---- Q4_1, Q5_0, Q5_1 --------------------------------------------------- */

/* A group of up to LG blocks of a unit unpacked: w[g][c] holds dword c
 * (values 4c..4c+3) of block g of row r in bytes 4r..4r+3: Q4_1's and
 * Q5_1's values unsigned ([0, 15], [0, 31]); Q5_0's q - 16 in sgn, and in w
 * |q - 16| (AVX2's sign trick: maddubs(|w|, sign(y, w))); AVX-512 takes
 * sgn against y + 128 instead, less 128 * (the row's block sum, corr). */
#define LG 8
struct legacy_group {
    uint8_t w[LG][8][64];
    int8_t  sgn[LG][8][64];
    int32_t corr[LG][16];
};

static inline size_t legacy_unit_bytes(int type) {
    return type == NIB_TYPE_Q4_1 ? sizeof(struct nib_block_q4_1x16)
           : type == NIB_TYPE_Q5_0 ? sizeof(struct nib_block_q5_0x16)
                                   : sizeof(struct nib_block_q5_1x16);
}

static inline __attribute__((always_inline)) void unpack_legacy(int type, const char *x, int ng, struct legacy_group *out) {
    const int has_m = type != NIB_TYPE_Q5_0, fifth = type != NIB_TYPE_Q4_1;
    const size_t qh_at = has_m ? 64 : 32, qs_at = qh_at + (fifth ? 64 : 0), ub = legacy_unit_bytes(type);
#if NIB_VNNI
    for (int g = 0; g < ng; g++, x += ub) {
        const __m512i qh = fifth ? _mm512_loadu_si512((const void *)(x + qh_at)) : _mm512_setzero_si512();
        __m512i sum = _mm512_setzero_si512();
        for (int c = 0; c < 4; c++) {
            const __m512i q = _mm512_loadu_si512((const void *)(x + qs_at + 64 * c));
            for (int hi = 0; hi < 2; hi++) {
                const int L = c + 4 * hi; /* values 4L..4L+3: qs dword c's low (L < 4) or high nibbles, qh bit L */
                const __m512i nib = hi ? _mm512_srli_epi16(q, 4) : q;
                __m512i v = fifth ? nib_q5_merge512(nib, qh, L) : _mm512_and_si512(nib, _mm512_set1_epi8(0x0F));
                if (type == NIB_TYPE_Q5_0) { /* q - 16, and 128 * the row's sum of it (below) */
                    v = _mm512_sub_epi8(v, _mm512_set1_epi8(16));
                    sum = _mm512_dpbusd_epi32(sum, _mm512_set1_epi8(1), v);
                    _mm512_storeu_si512((void *)out->sgn[g][L], v);
                } else {
                    _mm512_storeu_si512((void *)out->w[g][L], v);
                }
            }
        }
        if (type == NIB_TYPE_Q5_0) _mm512_storeu_si512((void *)out->corr[g], _mm512_slli_epi32(sum, 7));
    }
#else
    const __m256i k16 = _mm256_set1_epi8(16);
    for (int g = 0; g < ng; g++, x += ub)
        for (int half = 0; half < 2; half++) {
            const __m256i qh = fifth ? load32(x + qh_at + 32 * half) : _mm256_setzero_si256();
            for (int c = 0; c < 4; c++) {
                const __m256i q = load32(x + qs_at + 64 * c + 32 * half);
                for (int hi = 0; hi < 2; hi++) {
                    const int L = c + 4 * hi;
                    const __m256i nib = hi ? _mm256_srli_epi16(q, 4) : q;
                    __m256i v = fifth ? nib_q5_merge256(nib, qh, L) : _mm256_and_si256(nib, _mm256_set1_epi8(0x0F));
                    if (type == NIB_TYPE_Q5_0) { /* q - 16 and |q - 16| */
                        v = _mm256_sub_epi8(v, k16);
                        _mm256_storeu_si256((__m256i *)(out->sgn[g][L] + 32 * half), v);
                        v = _mm256_sign_epi8(v, v);
                    }
                    _mm256_storeu_si256((__m256i *)(out->w[g][L] + 32 * half), v);
                }
            }
        }
#endif
}

/* ng blocks of one unit (x: the first's, u: unpacked), NT token rows (aq:
 * their first block's quants, a_stride apart a block; dy, sy: their
 * scales, s_stride apart a row), rows 8 half..+7 (AVX-512: all 16), per
 * block, token t and row r (unit_gemm_order in tests/test_kernels_units.cc):
 *     acc = fma((float)isum, d_w * d_y, acc)
 *     acc = fma(m_w, s_y, acc)                 (Q4_1, Q5_1)
 * acc: y[t][r] itself, loaded and stored once per group. AVX2: the maddubs
 * pair sums add up in int16 before one madd: Q4_1's eight (each <= 2 * 15 *
 * 127), Q5_0's eight (<= 2 * 16 * 127), Q5_1's in two fours (<= 2 * 31 *
 * 127). */
static inline __attribute__((always_inline)) void legacy_step(int type, const char *x, const struct legacy_group *u, int ng,
                                                              int half, const int8_t *const *aq, size_t a_stride,
                                                              const float *dy, const float *sy, size_t s_stride,
                                                              float *y, size_t y_stride, const int NT) {
    const int has_m = type != NIB_TYPE_Q5_0;
    const size_t ub = legacy_unit_bytes(type);
#if NIB_VNNI
    (void)half;
    __m512 acc[TILE];
    for (int t = 0; t < NT; t++) acc[t] = _mm512_loadu_ps(y + (size_t)t * y_stride);
    for (int g = 0; g < ng; g++) {
        const uint16_t *d16 = (const uint16_t *)(x + (size_t)g * ub);
        __m512i isum[TILE];
        for (int t = 0; t < NT; t++)
            isum[t] = type == NIB_TYPE_Q5_0 ? _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_loadu_si512((const void *)u->corr[g]))
                                            : _mm512_setzero_si512();
        for (int c = 0; c < 8; c++) {
            if (type == NIB_TYPE_Q5_0) { /* y + 128 (unsigned) against q - 16 (signed) */
                const __m512i w = _mm512_loadu_si512((const void *)u->sgn[g][c]);
                for (int t = 0; t < NT; t++)
                    isum[t] = _mm512_dpbusd_epi32(isum[t], _mm512_set1_epi32((int32_t)((uint32_t)dword_at(aq[t] + (size_t)g * a_stride + 4 * c) ^ 0x80808080u)), w);
            } else {
                const __m512i w = _mm512_loadu_si512((const void *)u->w[g][c]);
                for (int t = 0; t < NT; t++)
                    isum[t] = _mm512_dpbusd_epi32(isum[t], w, _mm512_set1_epi32(dword_at(aq[t] + (size_t)g * a_stride + 4 * c)));
            }
        }
        const __m512 dw = _mm512_cvtph_ps(load32(d16)), mw = has_m ? _mm512_cvtph_ps(load32(d16 + 16)) : dw;
        for (int t = 0; t < NT; t++) {
            const size_t i = (size_t)t * s_stride + (size_t)g;
            acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[t]), _mm512_mul_ps(dw, _mm512_set1_ps(dy[i])), acc[t]);
            if (has_m) acc[t] = _mm512_fmadd_ps(mw, _mm512_set1_ps(sy[i]), acc[t]);
        }
    }
    for (int t = 0; t < NT; t++) _mm512_storeu_ps(y + (size_t)t * y_stride, acc[t]);
#else
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc[TILE];
    for (int t = 0; t < NT; t++) acc[t] = _mm256_loadu_ps(y + (size_t)t * y_stride + 8 * half);
    for (int g = 0; g < ng; g++) {
        const uint16_t *d16 = (const uint16_t *)(x + (size_t)g * ub);
        __m256i isum[TILE], p16[TILE];
        for (int t = 0; t < NT; t++) p16[t] = _mm256_setzero_si256();
        for (int c = 0; c < 8; c++) {
            const __m256i w = load32(u->w[g][c] + 32 * half);
            const __m256i sg = type == NIB_TYPE_Q5_0 ? load32(u->sgn[g][c] + 32 * half) : w;
            for (int t = 0; t < NT; t++) {
                const __m256i a = bcast4(aq[t] + (size_t)g * a_stride + 4 * c);
                p16[t] = _mm256_add_epi16(p16[t], _mm256_maddubs_epi16(w, type == NIB_TYPE_Q5_0 ? _mm256_sign_epi8(a, sg) : a));
            }
            if (type == NIB_TYPE_Q5_1 && c == 3)
                for (int t = 0; t < NT; t++) isum[t] = _mm256_madd_epi16(p16[t], ones), p16[t] = _mm256_setzero_si256();
        }
        for (int t = 0; t < NT; t++)
            isum[t] = type == NIB_TYPE_Q5_1 ? _mm256_add_epi32(isum[t], _mm256_madd_epi16(p16[t], ones))
                                            : _mm256_madd_epi16(p16[t], ones);
        const __m256 dw = load_f16x8(d16 + 8 * half);
        for (int t = 0; t < NT; t++) { /* m converted per row: hoisted, Q4_1 ran 1-3% slower (16 registers) */
            const size_t i = (size_t)t * s_stride + (size_t)g;
            acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[t]), _mm256_mul_ps(dw, _mm256_set1_ps(dy[i])), acc[t]);
            if (has_m) acc[t] = _mm256_fmadd_ps(load_f16x8(d16 + 16 + 8 * half), _mm256_set1_ps(sy[i]), acc[t]);
        }
    }
    for (int t = 0; t < NT; t++) _mm256_storeu_ps(y + (size_t)t * y_stride + 8 * half, acc[t]);
#endif
}

static inline __attribute__((always_inline)) void legacy_gemm(int type, int64_t n, const void *unit, const void *xq,
                                                              size_t xq_row_bytes, int n_tok, const float *dyf,
                                                              const float *syf, float *y, size_t y_stride) {
    const int64_t nb = n / 32;
    const size_t ab = type == NIB_TYPE_Q5_0 ? sizeof(struct nib_block_q8_0) : sizeof(struct nib_block_q8_1);
    const size_t qs_off = type == NIB_TYPE_Q5_0 ? offsetof(struct nib_block_q8_0, qs) : offsetof(struct nib_block_q8_1, qs);
    const size_t ub = legacy_unit_bytes(type);
    struct legacy_group u;
    for (int t = 0; t < n_tok; t++) memset(y + (size_t)t * y_stride, 0, 16 * sizeof(float));
    for (int64_t b0 = 0; b0 < nb; b0 += LG) {
        const int ng = nb - b0 < LG ? (int)(nb - b0) : LG;
        const char *x = (const char *)unit + (size_t)b0 * ub;
        prefetch_stream(x + (size_t)ng * ub, (unsigned)((size_t)ng * ub));
        unpack_legacy(type, x, ng, &u);
        for (int t = 0; t < n_tok; t += TILE) {
            const char *rows[TILE];
            const int8_t *aq[TILE];
            tile_rows(xq, xq_row_bytes, t, n_tok, rows);
            for (int i = 0; i < TILE; i++) aq[i] = (const int8_t *)rows[i] + (size_t)b0 * ab + qs_off;
            const float *dy = dyf + (size_t)t * (size_t)nb + b0, *sy = syf ? syf + (size_t)t * (size_t)nb + b0 : NULL;
            for (int half = 0; half < HALVES; half++)
                BY_TILE(n_tok - t < TILE ? n_tok - t : TILE, legacy_step, type, x, &u, ng, half, aq, ab, dy, sy, (size_t)nb,
                        y + (size_t)t * y_stride, y_stride)
        }
    }
}

#define LEGACY_UNIT_GEMM(T, TYPE)                                                                                        \
    void NIB_X86_FN(nib_unit_gemm_##T)(int64_t n, const void *unit, const void *xq, size_t xq_row_bytes, int n_tok,     \
                                       const float *dyf, const float *syf, float *y, size_t y_stride, void *scratch) { \
        (void)scratch; /* a group of blocks unpacks into the stack */                                                  \
        legacy_gemm(TYPE, n, unit, xq, xq_row_bytes, n_tok, dyf, syf, y, y_stride);                                    \
    }
LEGACY_UNIT_GEMM(q4_1_q8_1, NIB_TYPE_Q4_1)
LEGACY_UNIT_GEMM(q5_0_q8_0, NIB_TYPE_Q5_0)
LEGACY_UNIT_GEMM(q5_1_q8_1, NIB_TYPE_Q5_1)
