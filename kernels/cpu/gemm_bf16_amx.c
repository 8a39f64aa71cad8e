/*
 * gemm_bf16_amx.c — prompt matmuls on AMX-BF16 tiles (gemm_bf16_amx.h):
 * weights dequantized to bf16 a panel of 32 rows at a time, activations
 * (the partner Q8_0 / Q8_K rows) to bf16 once per call, TDPBF16PS over the
 * whole row length into fp32 tiles. Built with AVX-512 F/BW/VL/BF16 and
 * AMX-TILE/AMX-BF16; called only where cpu_features.c found them.
 *
 * Tiles: 0, 1 = A (two token tiles' 16 rows x 32 values of one chunk),
 * 2, 3 = B (the panel's rows 0-15 and 16-31: 16 pairs of the chunk x 16
 * rows), 4-7 = C (tokens x rows, fp32), loaded from and stored to y between
 * K blocks (a short last token tile's to a per-panel scratch). The
 * activations are laid out K block by K block and within one tile by tile
 * ([token tile][chunk][16 tokens][32 bf16]), the panel chunk by chunk
 * ([chunk][half][16 pairs][16 rows][2 bf16]), so every tile load reads 1 KB
 * in a row. Q4_K's values come from its paired packed copy, 16 rows a lane
 * each (no transpose), Q5_K's from its 16-row units, and so do Q8_0's and
 * Q6_K's where the variant packs them; else (and Q2_K's, Q3_K's) from
 * their rows, transposed 16 x 16. (Q4_1, Q5_0 and Q5_1 from their units
 * were tried: the stories260K golden prompts then missed their bound,
 * 0.22-0.23 against 0.19, so their prompts keep gemv16's exact sums.)
 *
 * Measured (Intel Xeon, TinyLlama-1.1B, pp512, 2 threads): Q4_K_M 292 ->
 * 540-562 t/s, Q8_0 425 -> 508-520 against the int8 tile kernels; one
 * 5632 x 2048 Q8_0 matrix at 512 tokens, 2 threads, 535 -> 818 GMAC/s. The
 * weights' dequantizing is once per call, so short batches lose (96 token
 * rows is the default threshold: dispatch.c).
 */
#include "gemm_bf16_amx.h"

#include "amx_util.h"
#include "avx2_util.h"
#include "fp16.h"
#include "nib.h"
#include "quant_blocks.h"
#include "repack.h"

#include <immintrin.h>
#include <string.h>

/* 32 floats as 32 bf16 (round to nearest even), in order. */
static inline __m512i to_bf16(__m512 lo, __m512 hi) { return (__m512i)_mm512_cvtne2ps_pbh(hi, lo); }

/* 32 int8 times d, as bf16 (each half sign-extended straight from memory). */
static inline __m512i q8_times(const int8_t *q, __m512 d) {
    const __m512 lo = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)q)));
    const __m512 hi = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(q + 16))));
    return to_bf16(_mm512_mul_ps(lo, d), _mm512_mul_ps(hi, d));
}

static inline __m512 fp16_splat(uint16_t h) { return _mm512_set1_ps(_cvtsh_ss(h)); }

/* Chunks (of 32 values) per K block: the panel's part of a block stays in
 * L1/L2 while every token tile pair passes over it, the activations' part
 * for all token tiles is one contiguous run that L2 holds while every panel
 * passes over it (with the whole row length at once, the activations of a
 * 512-token prompt came from L3: 15-21 ns per TDPBF16PS, against ~6 from
 * L2), and the C tiles go back to y between blocks. */
#define KB ((int64_t)(NIB_BF16_PANEL_BYTES / 2048))

/* Byte offset of token tile tt's chunk c in the activation tiles: K block
 * by K block, within one tile by tile. */
static inline size_t act_offset(int64_t nc, int64_t ntt, int64_t tt, int64_t c) {
    const int64_t k0 = c / KB * KB, kn = nc - k0 < KB ? nc - k0 : KB;
    return (size_t)(k0 * ntt + tt * kn + (c - k0)) * 1024;
}

size_t nib_bf16_acts_bytes(int64_t n_in, int64_t n_tok) {
    return (size_t)((n_tok + 15) / 16) * (size_t)(n_in / 32) * 1024;
}

void nib_bf16_acts_amx(int act_type, const void *xq, size_t xq_row_bytes, int64_t n_in, int64_t n_tok, int64_t tile,
                       void *out) {
    const int64_t nc = n_in / 32, ntt = (n_tok + 15) / 16;
    for (int j = 0; j < 16; j++) {
        const char *row = (const char *)xq + (size_t)(tile * 16 + j) * xq_row_bytes;
        for (int64_t c = 0; c < nc; c++) {
            __m512i v = _mm512_setzero_si512(); /* tokens past n_tok stay zero */
            if (tile * 16 + j >= n_tok) {
            } else if (act_type == NIB_TYPE_Q8_0) {
                const struct nib_block_q8_0 *b = (const struct nib_block_q8_0 *)row + c;
                v = q8_times(b->qs, fp16_splat(b->d));
            } else { /* Q8_K: 256-value blocks, a float scale */
                const struct nib_block_q8_K *b = (const struct nib_block_q8_K *)row + c / 8;
                v = q8_times(b->qs + 32 * (c % 8), _mm512_set1_ps(b->d));
            }
            _mm512_store_si512((void *)((char *)out + act_offset(nc, ntt, tile, c) + 64 * (size_t)j), v);
        }
    }
}

/* A chunk's 16 rows as bf16 pairs (v[r]: row r's 32 values) into B's
 * layout at dst. */
static inline void put_half(__m512i v[16], uint16_t *dst) {
    nib_transpose16_epi32(v);
    for (int p = 0; p < 16; p++) _mm512_store_si512((void *)(dst + 32 * p), v[p]);
}

/* Q8_0: chunks [c0, c1) of 32 rows (w_row_bytes apart) into the panel. */
static void panel_q8_0(const void *w, size_t w_row_bytes, int64_t c0, int64_t c1, uint16_t *panel) {
    for (int64_t c = c0; c < c1; c++)
        for (int h = 0; h < 2; h++) {
            __m512i v[16];
            for (int r = 0; r < 16; r++) {
                const struct nib_block_q8_0 *x =
                    (const struct nib_block_q8_0 *)((const char *)w + (size_t)(16 * h + r) * w_row_bytes) + c;
                v[r] = q8_times(x->qs, fp16_splat(x->d));
            }
            put_half(v, panel + ((size_t)(c - c0) * 2 + (size_t)h) * 512);
        }
}

/* Q8_0 from its packed copy (repack.h): chunks [c0, c1) of two 16-row units
 * into the panel. A unit's dword c already holds 16 rows' 4 values; each
 * value times its row's scale and rounded as q8_times does, pairs (4c, 4c+1)
 * and (4c+2, 4c+3) interleaved into B's dwords: the same panel. */
static void panel_q8_0_units(const void *const u[2], int64_t c0, int64_t c1, uint16_t *panel) {
    const __m512i pairs = nib_bf16_interleave_index(), flip = _mm512_set1_epi8((char)0x80);
    for (int64_t c = c0; c < c1; c++)
        for (int h = 0; h < 2; h++) {
            const struct nib_block_q8_0x16 *b = (const struct nib_block_q8_0x16 *)u[h] + c;
            const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)b->d));
            uint16_t *dst = panel + ((size_t)(c - c0) * 2 + (size_t)h) * 512;
            for (int w = 0; w < 8; w++) {
                const __m512i x = _mm512_xor_si512(_mm512_loadu_si512((const void *)(b->qs + 64 * w)), flip);
                __m512 f[4];
                for (int i = 0; i < 4; i++)
                    f[i] = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_srai_epi32(_mm512_slli_epi32(x, 24 - 8 * i), 24)), d);
                for (int p = 0; p < 2; p++)
                    _mm512_store_si512((void *)(dst + 32 * (2 * w + p)),
                                       _mm512_permutexvar_epi16(pairs, (__m512i)_mm512_cvtne2ps_pbh(f[2 * p + 1], f[2 * p])));
            }
        }
}

/* Q6_K: chunk c8 (0..7) of a super-block, 32 values (ggml's
 * dequantize_row_q6_K: d * scale * (q - 32), a scale per 16 values). */
static inline __m512i q6_K_chunk(const struct nib_block_q6_K *x, int c8) {
    const int half = c8 >> 2, j = c8 & 3;
    const __m256i l = _mm256_loadu_si256((const __m256i *)(x->ql + 64 * half + 32 * (j & 1)));
    const __m256i lo4 = _mm256_set1_epi8(0x0F);
    const __m256i nib = j < 2 ? _mm256_and_si256(l, lo4) : _mm256_and_si256(_mm256_srli_epi16(l, 4), lo4);
    const __m256i h = _mm256_and_si256(_mm256_srli_epi16(_mm256_loadu_si256((const __m256i *)(x->qh + 32 * half)), 2 * j),
                                       _mm256_set1_epi8(3));
    const __m256i q = _mm256_sub_epi8(_mm256_or_si256(nib, _mm256_slli_epi16(h, 4)), _mm256_set1_epi8(32));
    const float d = _cvtsh_ss(x->d);
    const __m512 sa = _mm512_set1_ps(d * (float)x->scales[8 * half + 2 * j]);
    const __m512 sb = _mm512_set1_ps(d * (float)x->scales[8 * half + 2 * j + 1]);
    const __m512 lo = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm256_castsi256_si128(q)));
    const __m512 hi = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm256_extracti128_si256(q, 1)));
    return to_bf16(_mm512_mul_ps(lo, sa), _mm512_mul_ps(hi, sb));
}

/* Q6_K: chunks [c0, c1) of 32 rows (w_row_bytes apart) into the panel. */
static void panel_q6_K(const void *w, size_t w_row_bytes, int64_t c0, int64_t c1, uint16_t *panel) {
    for (int64_t c = c0; c < c1; c++)
        for (int h = 0; h < 2; h++) {
            __m512i v[16];
            for (int r = 0; r < 16; r++)
                v[r] = q6_K_chunk((const struct nib_block_q6_K *)((const char *)w + (size_t)(16 * h + r) * w_row_bytes) + c / 8,
                                  (int)(c % 8));
            put_half(v, panel + ((size_t)(c - c0) * 2 + (size_t)h) * 512);
        }
}

/* Q6_K from its packed copy (repack.h's nib_block_q6_Kx16): chunks
 * [c0, c1) of two 16-row units into the panel. Chunk j of half h is v_j of
 * the unit's dwords q[h][c]: 4 values of each row a lane, each (q - 32)
 * times its row's d * scale rounded as q6_K_chunk does, interleaved as in
 * panel_q8_0_units: the same panel. */
static void panel_q6_K_units(const void *const u[2], int64_t c0, int64_t c1, uint16_t *panel) {
    const __m512i pairs = nib_bf16_interleave_index(), m3f = _mm512_set1_epi8(0x3F), m03 = _mm512_set1_epi8(3);
    const __m512i m0f = _mm512_set1_epi8(0x0F), byte = _mm512_set1_epi32(0xFF), m32 = _mm512_set1_epi32(32);
    for (int64_t c = c0; c < c1; c++) {
        const int hh = (int)(c % 8) / 4, j = (int)(c % 4);
        for (int h = 0; h < 2; h++) {
            const struct nib_block_q6_Kx16 *b = (const struct nib_block_q6_Kx16 *)u[h] + c / 8;
            const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)b->d));
            const __m512i sc = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)b->sc[4 * hh + j]));
            __m512 sa[2]; /* sub-blocks 8hh + 2j (dwords 0-3) and + 1 (dwords 4-7) */
            for (int e = 0; e < 2; e++)
                sa[e] = _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_srai_epi32(_mm512_slli_epi32(sc, 16 - 16 * e), 16)));
            uint16_t *dst = panel + ((size_t)(c - c0) * 2 + (size_t)h) * 512;
            for (int w = 0; w < 8; w++) {
                const uint8_t *p = b->q[hh][w][0];
                const __m512i a = _mm512_loadu_si512((const void *)p), bb = _mm512_loadu_si512((const void *)(p + 64));
                const __m512i cc = _mm512_loadu_si512((const void *)(p + 128));
                __m512i x;
                if (j < 3) {
                    x = _mm512_and_si512(j == 0 ? a : j == 1 ? bb : cc, m3f);
                } else { /* as avx2_util.h's nib_q6_K_quants512 */
                    const __m512i ab = _mm512_ternarylogic_epi32(_mm512_srli_epi16(a, 6), _mm512_srli_epi16(bb, 4), m03, 0xE4);
                    x = _mm512_ternarylogic_epi32(ab, _mm512_srli_epi16(_mm512_and_si512(cc, _mm512_set1_epi8((char)0xC0)), 2), m0f,
                                                  0xEC);
                }
                __m512 f[4];
                for (int i = 0; i < 4; i++)
                    f[i] = _mm512_mul_ps(
                        _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_and_si512(_mm512_srli_epi32(x, 8 * i), byte), m32)), sa[w / 4]);
                for (int p2 = 0; p2 < 2; p2++)
                    _mm512_store_si512((void *)(dst + 32 * (2 * w + p2)),
                                       _mm512_permutexvar_epi16(pairs, (__m512i)_mm512_cvtne2ps_pbh(f[2 * p2 + 1], f[2 * p2])));
            }
        }
    }
}

/* Q2_K / Q3_K: chunk c8 (0..7) of a super-block, 32 values (ggml's
 * dequantize_row_q2_K: d * sc * q - dmin * m, and _q3_K: d * (sc - 32) *
 * (q - 4 unless the hmask bit)), a scale per 16 values. */
static inline __m512i q2_K_chunk(const struct nib_block_q2_K *x, int c8) {
    const int h = c8 >> 2, s = c8 & 3;
    const __m256i q = _mm256_and_si256(_mm256_srli_epi16(_mm256_loadu_si256((const __m256i *)(x->qs + 32 * h)), 2 * s),
                                       _mm256_set1_epi8(3));
    const float d = _cvtsh_ss(x->d), dmin = _cvtsh_ss(x->dmin);
    __m512 v[2];
    for (int k = 0; k < 2; k++) {
        const uint8_t sc = x->scales[8 * h + 2 * s + k];
        const __m512 f = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(k ? _mm256_extracti128_si256(q, 1) : _mm256_castsi256_si128(q)));
        v[k] = _mm512_fmsub_ps(f, _mm512_set1_ps(d * (float)(sc & 0xF)), _mm512_set1_ps(dmin * (float)(sc >> 4)));
    }
    return to_bf16(v[0], v[1]);
}

static inline __m512i q3_K_chunk(const struct nib_block_q3_K *x, int c8) {
    const int h = c8 >> 2, s = c8 & 3;
    const __m256i lo = _mm256_and_si256(_mm256_srli_epi16(_mm256_loadu_si256((const __m256i *)(x->qs + 32 * h)), 2 * s),
                                        _mm256_set1_epi8(3));
    const __m256i hb = _mm256_and_si256(_mm256_srli_epi16(_mm256_loadu_si256((const __m256i *)x->hmask), c8), _mm256_set1_epi8(1));
    const __m256i q = _mm256_sub_epi8(_mm256_or_si256(lo, _mm256_slli_epi16(hb, 2)), _mm256_set1_epi8(4)); /* [-4, 3] */
    const float d = _cvtsh_ss(x->d);
    __m512 v[2];
    for (int k = 0; k < 2; k++) {
        const __m512 f = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(k ? _mm256_extracti128_si256(q, 1) : _mm256_castsi256_si128(q)));
        v[k] = _mm512_mul_ps(f, _mm512_set1_ps(d * (float)(nib_q3_K_scale(x->scales, 8 * h + 2 * s + k) - 32)));
    }
    return to_bf16(v[0], v[1]);
}

/* Q2_K / Q3_K: chunks [c0, c1) of 32 rows (w_row_bytes apart) into the panel. */
static void panel_low_k(int w_type, const void *w, size_t w_row_bytes, int64_t c0, int64_t c1, uint16_t *panel) {
    for (int64_t c = c0; c < c1; c++)
        for (int h = 0; h < 2; h++) {
            __m512i v[16];
            for (int r = 0; r < 16; r++) {
                const char *row = (const char *)w + (size_t)(16 * h + r) * w_row_bytes;
                v[r] = w_type == NIB_TYPE_Q2_K ? q2_K_chunk((const struct nib_block_q2_K *)row + c / 8, (int)(c % 8))
                                               : q3_K_chunk((const struct nib_block_q3_K *)row + c / 8, (int)(c % 8));
            }
            put_half(v, panel + ((size_t)(c - c0) * 2 + (size_t)h) * 512);
        }
}

/* Q5_K from its 16-row units (repack.h's nib_block_q5_Kx16): chunk c is
 * sub-block s = c % 8, 4 values of each row a lane per dword (the nibble of
 * qs[s / 2], the fifth bit s of qh), each d * sc * q - dmin * m as
 * panel_q4_K rounds it, interleaved as in panel_q8_0_units. */
static void panel_q5_K_units(const void *const u[2], int64_t c0, int64_t c1, uint16_t *panel) {
    const __m512i pairs = nib_bf16_interleave_index(), byte = _mm512_set1_epi32(0xFF);
    for (int64_t c = c0; c < c1; c++) {
        const int s = (int)(c % 8);
        for (int h = 0; h < 2; h++) {
            const struct nib_block_q5_Kx16 *x = (const struct nib_block_q5_Kx16 *)u[h] + c / 8;
            const __m512 d = _mm512_mul_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)x->d)),
                                           _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)x->sc[s]))));
            const __m512 m = _mm512_mul_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)x->dmin)),
                                           _mm512_cvtepi32_ps(_mm512_cvtepu16_epi32(_mm256_srli_epi16(
                                               _mm256_slli_epi16(_mm256_loadu_si256((const __m256i *)x->m[s / 2]), 8 - 8 * (s % 2)), 8))));
            uint16_t *dst = panel + ((size_t)(c - c0) * 2 + (size_t)h) * 512;
            for (int w = 0; w < 8; w++) {
                const __m512i q = _mm512_loadu_si512((const void *)x->qs[s / 2][w]), qh = _mm512_loadu_si512((const void *)x->qh[w]);
                const __m512i v = nib_q5_merge512(s % 2 ? _mm512_srli_epi16(q, 4) : q, qh, s);
                __m512 f[4];
                for (int i = 0; i < 4; i++)
                    f[i] = _mm512_fmsub_ps(_mm512_cvtepi32_ps(_mm512_and_si512(_mm512_srli_epi32(v, 8 * i), byte)), d, m);
                for (int p2 = 0; p2 < 2; p2++)
                    _mm512_store_si512((void *)(dst + 32 * (2 * w + p2)),
                                       _mm512_permutexvar_epi16(pairs, (__m512i)_mm512_cvtne2ps_pbh(f[2 * p2 + 1], f[2 * p2])));
            }
        }
    }
}

/* 8 values of each of 16 rows in 64 bytes of nibbles (repack.h:
 * dword lane r holds row r's four bytes; low nibbles values 0-3, high
 * nibbles 4-7) as 4 rows of B's layout at dst: value = q * d - m per lane. */
static inline void nibble_pairs(__m512i q, __m512 d, __m512 m, __m512i inter, uint16_t *dst) {
    const __m512i lo4 = _mm512_set1_epi8(0x0F), byte = _mm512_set1_epi32(0xFF);
    const __m512i nib[2] = { _mm512_and_si512(q, lo4), _mm512_and_si512(_mm512_srli_epi16(q, 4), lo4) };
    for (int k = 0; k < 4; k++) { /* pair k: values 2k, 2k + 1 of every row */
        const __m512i src = nib[k / 2];
        const int sh = 16 * (k % 2);
        const __m512 va = _mm512_cvtepi32_ps(_mm512_and_si512(_mm512_srli_epi32(src, sh), byte));
        const __m512 vb = _mm512_cvtepi32_ps(_mm512_and_si512(_mm512_srli_epi32(src, sh + 8), byte));
        const __m512i pair = (__m512i)_mm512_cvtne2ps_pbh(_mm512_fmsub_ps(vb, d, m), _mm512_fmsub_ps(va, d, m));
        _mm512_store_si512((void *)(dst + 32 * k), _mm512_permutexvar_epi16(inter, pair));
    }
}

/* Q4_K from repack.h's paired layout (struct nib_block_q4_Kx16 per 16 rows
 * and super-block): chunks [c0, c1) (sub-blocks) of units u[0], u[1] (rows
 * 0-15, 16-31) into the panel. A 64-byte piece of a sub-block holds 8
 * weights of each of the 16 rows in its dword lanes (repack.h), so the
 * values come out row per lane, B's layout, with no transpose:
 * d * sc * q - dmin * m (ggml's dequantize_row_q4_K). */
static void panel_q4_K(const void *const u[2], int64_t c0, int64_t c1, uint16_t *panel) {
    const __m512i inter = nib_bf16_interleave_index();
    for (int64_t c = c0; c < c1; c++) {
        const int s = (int)(c % 8);
        for (int h = 0; h < 2; h++) {
            const struct nib_block_q4_Kx16 *x = (const struct nib_block_q4_Kx16 *)u[h] + c / 8;
            const __m512 dm = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)x->d));
            const __m512 mm = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)x->dmin));
            const __m512 d = _mm512_mul_ps(dm, _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)x->sc[s]))));
            const __m512 m = _mm512_mul_ps(mm, _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)x->m[s]))));
            uint16_t *dst = panel + ((size_t)(c - c0) * 2 + (size_t)h) * 512;
            for (int cc = 0; cc < 4; cc++) nibble_pairs(_mm512_loadu_si512((const void *)x->qs[s][cc]), d, m, inter, dst + 32 * 4 * cc);
        }
    }
}

bool nib_bf16_type_amx(int w_type, bool packed) {
    return w_type == NIB_TYPE_Q8_0 || w_type == NIB_TYPE_Q6_K || w_type == NIB_TYPE_Q2_K || w_type == NIB_TYPE_Q3_K ||
           ((w_type == NIB_TYPE_Q4_K || w_type == NIB_TYPE_Q5_K) && packed);
}

/* Chunks [c0, c1) of weight rows row0..row0+31 into the panel. */
static void make_panel(int w_type, const void *w, size_t w_row_bytes, const void *packed, int64_t n_in, int64_t row0,
                       int64_t c0, int64_t c1, uint16_t *panel) {
    const char *rows = (const char *)w + (size_t)row0 * w_row_bytes;
    /* a packed copy: the panel's two 16-row units (Q4_K's paired groups, Q8_0's and Q6_K's units) */
    const size_t unit_bytes = packed ? nib_repack_size(w_type, n_in, 16) : 0;
    const char *u0 = packed ? (const char *)packed + (size_t)(row0 / 16) * unit_bytes : NULL;
    const void *const u[2] = { u0, u0 ? u0 + unit_bytes : NULL };
    switch (w_type) {
    case NIB_TYPE_Q4_K: panel_q4_K(u, c0, c1, panel); break;
    case NIB_TYPE_Q5_K: panel_q5_K_units(u, c0, c1, panel); break;
    case NIB_TYPE_Q2_K:
    case NIB_TYPE_Q3_K: panel_low_k(w_type, rows, w_row_bytes, c0, c1, panel); break;
    case NIB_TYPE_Q6_K:
        if (packed) panel_q6_K_units(u, c0, c1, panel);
        else panel_q6_K(rows, w_row_bytes, c0, c1, panel);
        break;
    default:
        if (packed) panel_q8_0_units(u, c0, c1, panel);
        else panel_q8_0(rows, w_row_bytes, c0, c1, panel);
        break;
    }
}

/* The 2 x 2 tiles of token tiles tt, tt + 1 (if two) and the panel over
 * chunks [k0, k1): C from c[0..3] (strides cs[]) unless first, back there. */
static inline void tile_pair(const char *a0, const char *a1, const char *b, int64_t kn, bool two, bool first,
                             float *const c[4], const long cs[4]) {
    if (first) {
        _tile_zero(4);
        _tile_zero(5);
        _tile_zero(6);
        _tile_zero(7);
    } else {
        _tile_loadd(4, c[0], cs[0]);
        _tile_loadd(5, c[1], cs[1]);
        if (two) {
            _tile_loadd(6, c[2], cs[2]);
            _tile_loadd(7, c[3], cs[3]);
        }
    }
    if (two) {
        for (int64_t c = 0; c < kn; c++) {
            _tile_loadd(2, b + (size_t)c * 2048, 64);
            _tile_loadd(3, b + (size_t)c * 2048 + 1024, 64);
            _tile_loadd(0, a0 + (size_t)c * 1024, 64);
            _tile_loadd(1, a1 + (size_t)c * 1024, 64);
            _tile_dpbf16ps(4, 0, 2);
            _tile_dpbf16ps(5, 0, 3);
            _tile_dpbf16ps(6, 1, 2);
            _tile_dpbf16ps(7, 1, 3);
        }
    } else {
        for (int64_t c = 0; c < kn; c++) {
            _tile_loadd(2, b + (size_t)c * 2048, 64);
            _tile_loadd(3, b + (size_t)c * 2048 + 1024, 64);
            _tile_loadd(0, a0 + (size_t)c * 1024, 64);
            _tile_dpbf16ps(4, 0, 2);
            _tile_dpbf16ps(5, 0, 3);
        }
    }
    _tile_stored(4, c[0], cs[0]);
    _tile_stored(5, c[1], cs[1]);
    if (two) {
        _tile_stored(6, c[2], cs[2]);
        _tile_stored(7, c[3], cs[3]);
    }
}

void nib_bf16_matmul_amx(int w_type, const void *w, size_t w_row_bytes, const void *packed, int64_t n_in, int64_t p0,
                         int64_t p1, const void *acts, int64_t n_tok, float *y, size_t y_stride, void *scratch) {
    nib_amx_configure_bf16();
    const int64_t nc = n_in / 32, ntt = (n_tok + 15) / 16, full = n_tok / 16;
    uint16_t *panel = scratch;
    float *tail = (float *)((char *)scratch + NIB_BF16_PANEL_BYTES); /* the last, short token tile's C, per panel */
    const long ys = (long)(y_stride * sizeof(float));
    for (int64_t k0 = 0; k0 < nc; k0 += KB) {
        const int64_t kn = nc - k0 < KB ? nc - k0 : KB;
        for (int64_t p = p0; p < p1; p++) {
            make_panel(w_type, w, w_row_bytes, packed, n_in, 32 * p, k0, k0 + kn, panel);
            for (int64_t tt = 0; tt < ntt; tt += 2) {
                const char *a0 = (const char *)acts + act_offset(nc, ntt, tt, k0);
                float *c[4];
                long cs[4];
                for (int i = 0; i < 2; i++) {
                    const int64_t t = tt + i;
                    float *ct = t < full ? y + (size_t)(16 * t) * y_stride + 32 * p : tail + (size_t)(p - p0) * 16 * 32;
                    c[2 * i] = ct, c[2 * i + 1] = ct + 16;
                    cs[2 * i] = cs[2 * i + 1] = t < full ? ys : 128;
                }
                tile_pair(a0, a0 + (size_t)kn * 1024, (const char *)panel, kn, tt + 1 < ntt, k0 == 0, c, cs);
            }
        }
    }
    for (int64_t p = p0; p < p1; p++)
        for (int64_t t = 16 * full; t < n_tok; t++)
            memcpy(y + (size_t)t * y_stride + 32 * p, tail + (size_t)(p - p0) * 16 * 32 + (size_t)(t - 16 * full) * 32,
                   32 * sizeof(float));
}
