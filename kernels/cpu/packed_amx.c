/*
 * packed_amx.c — the amx variant's Q4_0 packed16 (dispatch.h's
 * nib_packed16_fn): a pair of 8-row groups in repack.h's paired layout
 * against up to NIB_AMX_PACKED_TOKENS activation rows, on Intel AMX tiles.
 * Built with AVX-512 F/BW/VL/VNNI and AMX-TILE/AMX-INT8; called only where
 * cpu_features.c found AMX and Linux granted the tile state.
 *
 * Per block, the four 32-byte chunks of the pair's nibbles unpack (one mask,
 * one shift, minus 8: the weights signed) into the 8 rows of AMX's B layout
 * for K = 32: B row 2c holds, in dword lane r, weights 8c..8c+3 of row r
 * (the low nibbles of chunk c), row 2c + 1 weights 8c+4..8c+7 (the high
 * ones). A tile load takes m token rows' 32 quants of block b at the rows'
 * stride, and one TDPBSSD gives every (token, row) pair's exact integer dot
 * product of the signed weights, which equals packed16's
 * -8 * sum(y) + sum(y * (q + 8)). The float step is packed16's, in block
 * order:
 *     acc = fma((float)isum, d_w[r] * d_y, acc)
 * so the bits are packed16's, and so llama.cpp's repacked kernels'
 * (KernelPacked.SameBitsAsRows8 on the variant chosen).
 *
 * Token rows in tiles of 16: each tile streams over the pair, its blocks
 * unpacked two ahead into a small ring (prefetched 3 KB ahead as the
 * avx512 kernels do; unpacking again per tile beat unpacking the whole pair
 * once into scratch), in amx_util.h's pipeline (NIB_AMX_TOKEN_TILE). A last
 * tile of fewer than NIB_AMX_MIN_PACKED rows, and so calls that small
 * (decode batches of up to 8 sequences: there tiles lost to the avx512
 * kernel), go to the avx512 kernel, which uses ycorr; the tiles do not.
 */
#include "amx_util.h"
#include "avx2_util.h"
#include "dispatch.h"
#include "quant_blocks.h"
#include "repack.h"

#include <immintrin.h>
#include <stddef.h>
#include <string.h>

/* One block of the pair unpacked: B's 8 rows of 64 bytes, the 16 row scales. */
struct q4_0x16_amx {
    _Alignas(64) int8_t qs[8][64];
    float d[16];
};

static inline __attribute__((always_inline)) void unpack(const struct nib_block_q4_0x8 *w0, struct q4_0x16_amx *out) {
    const struct nib_block_q4_0x8 *w1 = w0 + 1;
    const __m512i m4 = _mm512_set1_epi8(0x0F), e8 = _mm512_set1_epi8(8);
    for (int c = 0; c < 4; c++) {
        const __m512i q = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(w0->qs + 32 * c))),
                                             _mm256_loadu_si256((const __m256i *)(w1->qs + 32 * c)), 1);
        _mm512_store_si512((void *)out->qs[2 * c], _mm512_sub_epi8(_mm512_and_si512(q, m4), e8));
        _mm512_store_si512((void *)out->qs[2 * c + 1], _mm512_sub_epi8(_mm512_and_si512(_mm512_srli_epi16(q, 4), m4), e8));
    }
    _mm512_storeu_ps(out->d, _mm512_cvtph_ps(_mm256_inserti128_si256(
                                 _mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)w0->d)),
                                 _mm_loadu_si128((const __m128i *)w1->d), 1)));
}

#define RING 8 /* a slot is rewritten 8 blocks on: after its float step (3 on) read the scales */

/* NT (<= 16) token rows, the weights streamed and unpacked two blocks ahead
 * into a ring. */
static inline __attribute__((always_inline)) void stream_tile(int64_t nb, const struct nib_block_q4_0x8 *w, const char *a,
                                                              size_t xq_row_bytes, const float *dyf, float *y, size_t y_stride,
                                                              const int NT) {
    struct q4_0x16_amx ring[RING];
#define WT(j) (&ring[(j) % RING])
#define PREP(j)                                                                                                        \
    do {                                                                                                               \
        if ((j) < nb) {                                                                                                \
            prefetch_stream(w + 2 * (j), 2 * sizeof *w);                                                               \
            unpack(w + 2 * (j), WT(j));                                                                                \
        }                                                                                                              \
    } while (0)
    NIB_AMX_TOKEN_TILE();
#undef PREP
#undef WT
}

/* The avx512 kernel on rows [t0, t1), 8 a call. */
static void avx512_rows(int64_t n, const void *pair, const void *xq, size_t xq_row_bytes, int t0, int t1, float *y,
                        size_t y_stride, int gemm, const int32_t *ycorr, const float *dyf) {
    const size_t nb = (size_t)(n / NIB_QK8_0);
    for (int t = t0; t < t1; t += 8)
        nib_packed16_q4_0_q8_0_avx512(n, pair, (const char *)xq + (size_t)t * xq_row_bytes, xq_row_bytes, t1 - t < 8 ? t1 - t : 8,
                                      y + (size_t)t * y_stride, y_stride, gemm, ycorr + (size_t)t * nb, dyf + (size_t)t * nb);
}

void nib_packed16_q4_0_q8_0_amx(int64_t n, const void *pair, const void *xq, size_t xq_row_bytes, int n_tok, float *y,
                                size_t y_stride, int gemm, const int32_t *ycorr, const float *dyf) {
    const int64_t nb = n / NIB_QK8_0;
    /* whole tiles of 16 rows on AMX, a short tail of NIB_AMX_MIN_PACKED+ too */
    const int n_amx = n_tok % 16 >= NIB_AMX_MIN_PACKED ? n_tok : n_tok / 16 * 16;
#define STREAM(NT, at, dt, yt) stream_tile(nb, pair, at, xq_row_bytes, dt, yt, y_stride, NT)
    NIB_AMX_TOKEN_TILES(n_amx, STREAM);
#undef STREAM
    avx512_rows(n, pair, xq, xq_row_bytes, n_amx, n_tok, y, y_stride, gemm, ycorr, dyf);
}
