/*
 * quant_blocks.h — byte layouts of ggml's block-quantized tensor types, and
 * the scalar reference functions over them.
 *
 * A quantized row of n elements is n / block_size consecutive blocks, packed
 * with no padding, little-endian. fp16 scales are stored as raw uint16_t bits
 * (formats/fp16.h converts them). Layouts, byte for byte as in ggml-common.h:
 *
 *  Q4_0  32 el, 18 B: d fp16 | qs[16]: element j in the low nibble of qs[j],
 *        element j+16 in the high nibble; x = d * (q - 8).
 *  Q4_1  32 el, 20 B: d, m fp16 | qs[16] as Q4_0; x = d * q + m.
 *  Q5_0  32 el, 22 B: d | qh[4] (bit j = 5th bit of element j, a little-endian
 *        uint32) | qs[16] as Q4_0; x = d * (q - 16).
 *  Q5_1  32 el, 24 B: d, m | qh[4] | qs[16]; x = d * q + m.
 *  Q8_0  32 el, 34 B: d | qs[32] int8; x = d * q.
 *  Q8_1  32 el, 36 B: d, s = fp16(d * sum(qs)) | qs[32] int8 (activations).
 *  Q2_K 256 el, 84 B: scales[16] (low nibble scale, high nibble min, one per
 *        16 elements) | qs[64] 2-bit | d, dmin fp16; x = d*sc*q - dmin*m.
 *        qs byte l of each 32-byte half holds elements l, l+32, l+64, l+96
 *        of that 128-element half in bit pairs 0, 2, 4, 6.
 *  Q3_K 256 el, 110 B: hmask[32] (high bit; bit k of hmask[l] belongs to
 *        element 32k + l) | qs[64] low 2 bits as Q2_K | scales[12] (sixteen
 *        6-bit scales, biased by 32) | d fp16; x = d * (sc - 32) * (q - 4·!h).
 *  Q4_K 256 el, 144 B: d, dmin fp16 | scales[12] (eight 6-bit scales and
 *        eight 6-bit mins, one pair per 32 elements) | qs[128]: each 32-byte
 *        group holds 64 elements, low nibbles first; x = d*sc*q - dmin*m.
 *  Q5_K 256 el, 176 B: d, dmin | scales[12] as Q4_K | qh[32] (bit k of qh[l]
 *        is the 5th bit of element 32k + l) | qs[128] as Q4_K.
 *  Q6_K 256 el, 210 B: ql[128] low 4 bits | qh[64] high 2 bits | scales[16]
 *        int8 (one per 16 elements) | d fp16; x = d * sc * (q - 32).
 *  Q8_K 256 el, 292 B: d fp32 | qs[256] int8 | bsums[16] int16 (sum of each
 *        16 quants); only an activation partner for the K-quant dot products.
 *
 * The functions below are always compiled scalar references; faster kernels
 * are tested against them. All are pure (thread-safe); n must be a multiple
 * of the block size (callers check; nib_dequantize reports it as an error).
 * They live in quant_legacy.c (floats, 32-element quants), quant_kquants.c
 * (K-quant dequantization, Q8_K), quant_kquants_ref.c (K-quant reference
 * quantization), vec_dot_ref_legacy.c and vec_dot_ref_kquants.c; callers
 * normally reach them through the type table (type_traits.h).
 */
#ifndef NIB_QUANT_BLOCKS_H
#define NIB_QUANT_BLOCKS_H

#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NIB_QK4_0 32
#define NIB_QK4_1 32
#define NIB_QK5_0 32
#define NIB_QK5_1 32
#define NIB_QK8_0 32
#define NIB_QK8_1 32
#define NIB_QK_K  256
#define NIB_K_SCALE_SIZE 12

struct nib_block_q4_0 {
    uint16_t d;
    uint8_t  qs[NIB_QK4_0 / 2];
};
struct nib_block_q4_1 {
    uint16_t d;
    uint16_t m;
    uint8_t  qs[NIB_QK4_1 / 2];
};
struct nib_block_q5_0 {
    uint16_t d;
    uint8_t  qh[4];
    uint8_t  qs[NIB_QK5_0 / 2];
};
struct nib_block_q5_1 {
    uint16_t d;
    uint16_t m;
    uint8_t  qh[4];
    uint8_t  qs[NIB_QK5_1 / 2];
};
struct nib_block_q8_0 {
    uint16_t d;
    int8_t   qs[NIB_QK8_0];
};
struct nib_block_q8_1 {
    uint16_t d;
    uint16_t s;
    int8_t   qs[NIB_QK8_1];
};
struct nib_block_q2_K {
    uint8_t  scales[NIB_QK_K / 16];
    uint8_t  qs[NIB_QK_K / 4];
    uint16_t d;
    uint16_t dmin;
};
struct nib_block_q3_K {
    uint8_t  hmask[NIB_QK_K / 8];
    uint8_t  qs[NIB_QK_K / 4];
    uint8_t  scales[12];
    uint16_t d;
};
struct nib_block_q4_K {
    uint16_t d;
    uint16_t dmin;
    uint8_t  scales[NIB_K_SCALE_SIZE];
    uint8_t  qs[NIB_QK_K / 2];
};
struct nib_block_q5_K {
    uint16_t d;
    uint16_t dmin;
    uint8_t  scales[NIB_K_SCALE_SIZE];
    uint8_t  qh[NIB_QK_K / 8];
    uint8_t  qs[NIB_QK_K / 2];
};
struct nib_block_q6_K {
    uint8_t  ql[NIB_QK_K / 2];
    uint8_t  qh[NIB_QK_K / 4];
    int8_t   scales[NIB_QK_K / 16];
    uint16_t d;
};
struct nib_block_q8_K {
    float    d;
    int8_t   qs[NIB_QK_K];
    int16_t  bsums[NIB_QK_K / 16];
};

#ifdef __cplusplus
#define NIB_STATIC_ASSERT static_assert
#else
#define NIB_STATIC_ASSERT _Static_assert
#endif
NIB_STATIC_ASSERT(sizeof(struct nib_block_q4_0) == 18,  "q4_0 block layout");
NIB_STATIC_ASSERT(sizeof(struct nib_block_q4_1) == 20,  "q4_1 block layout");
NIB_STATIC_ASSERT(sizeof(struct nib_block_q5_0) == 22,  "q5_0 block layout");
NIB_STATIC_ASSERT(sizeof(struct nib_block_q5_1) == 24,  "q5_1 block layout");
NIB_STATIC_ASSERT(sizeof(struct nib_block_q8_0) == 34,  "q8_0 block layout");
NIB_STATIC_ASSERT(sizeof(struct nib_block_q8_1) == 36,  "q8_1 block layout");
NIB_STATIC_ASSERT(sizeof(struct nib_block_q2_K) == 84,  "q2_K block layout");
NIB_STATIC_ASSERT(sizeof(struct nib_block_q3_K) == 110, "q3_K block layout");
NIB_STATIC_ASSERT(sizeof(struct nib_block_q4_K) == 144, "q4_K block layout");
NIB_STATIC_ASSERT(sizeof(struct nib_block_q5_K) == 176, "q5_K block layout");
NIB_STATIC_ASSERT(sizeof(struct nib_block_q6_K) == 210, "q6_K block layout");
NIB_STATIC_ASSERT(sizeof(struct nib_block_q8_K) == 292, "q8_K block layout");
#undef NIB_STATIC_ASSERT

/* ggml's nearest_int: round half to even through the 1.5 * 2^23 magic number
 * (exact for |f| <= 2^22; larger values give the same garbage as ggml). */
static inline int nib_nearest_int(float f) {
    const float v = f + 12582912.f;
    int32_t i;
    memcpy(&i, &v, sizeof(i));
    return (i & 0x007fffff) - 0x00400000;
}

/* Q4_K/Q5_K: 6-bit scale and min of sub-block j (0..7) from the 12 packed
 * bytes: j < 4 in the low 6 bits of bytes j and j+4; j >= 4 from a nibble of
 * byte j+4 plus the top 2 bits of bytes j-4 (scale) and j (min). */
static inline void nib_q4_K_scale_min(int j, const uint8_t *q, uint8_t *sc, uint8_t *m) {
    if (j < 4) {
        *sc = q[j] & 63;
        *m  = q[j + 4] & 63;
    } else {
        *sc = (uint8_t)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
        *m  = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

/* Q3_K: the sixteen 6-bit scales (still biased by 32; one, or all): low 4 bits are the
 * nibbles of bytes 0..7 (low nibbles for scales 0..7, high for 8..15), high
 * 2 bits are bit pair j/4 of byte 8 + j%4. */
static inline int8_t nib_q3_K_scale(const uint8_t *packed /* [12] */, int j) {
    const int lo = (j < 8 ? packed[j] : packed[j - 8] >> 4) & 0xF;
    const int hi = (packed[8 + (j & 3)] >> (2 * (j >> 2))) & 3;
    return (int8_t)(lo | (hi << 4));
}

static inline void nib_q3_K_unpack_scales(const uint8_t *packed /* [12] */, int8_t *scales /* [16] */) {
    for (int j = 0; j < 16; j++) scales[j] = nib_q3_K_scale(packed, j);
}

/* ---- to_float: n elements (a multiple of the block size) to float ---- */
void nib_quant_to_float_f32(const void *src, float *dst, int64_t n);
void nib_quant_to_float_f16(const void *src, float *dst, int64_t n);
void nib_quant_to_float_bf16(const void *src, float *dst, int64_t n);
void nib_quant_to_float_q4_0(const void *src, float *dst, int64_t n);
void nib_quant_to_float_q4_1(const void *src, float *dst, int64_t n);
void nib_quant_to_float_q5_0(const void *src, float *dst, int64_t n);
void nib_quant_to_float_q5_1(const void *src, float *dst, int64_t n);
void nib_quant_to_float_q8_0(const void *src, float *dst, int64_t n);
void nib_quant_to_float_q8_1(const void *src, float *dst, int64_t n);
void nib_quant_to_float_q2_K(const void *src, float *dst, int64_t n);
void nib_quant_to_float_q3_K(const void *src, float *dst, int64_t n);
void nib_quant_to_float_q4_K(const void *src, float *dst, int64_t n);
void nib_quant_to_float_q5_K(const void *src, float *dst, int64_t n);
void nib_quant_to_float_q6_K(const void *src, float *dst, int64_t n);
void nib_quant_to_float_q8_K(const void *src, float *dst, int64_t n);

/* ---- from_float: reference quantization (ggml's quantize_row_*_ref) ---- */
void nib_quant_from_float_f32(const float *src, void *dst, int64_t n);
void nib_quant_from_float_f16(const float *src, void *dst, int64_t n);
void nib_quant_from_float_bf16(const float *src, void *dst, int64_t n);
void nib_quant_from_float_q4_0(const float *src, void *dst, int64_t n);
void nib_quant_from_float_q4_1(const float *src, void *dst, int64_t n);
void nib_quant_from_float_q5_0(const float *src, void *dst, int64_t n);
void nib_quant_from_float_q5_1(const float *src, void *dst, int64_t n);
void nib_quant_from_float_q8_0(const float *src, void *dst, int64_t n);
void nib_quant_from_float_q8_1(const float *src, void *dst, int64_t n);
void nib_quant_from_float_q8_K(const float *src, void *dst, int64_t n);
void nib_quant_from_float_q2_K(const float *src, void *dst, int64_t n);
void nib_quant_from_float_q3_K(const float *src, void *dst, int64_t n);
void nib_quant_from_float_q4_K(const float *src, void *dst, int64_t n);
void nib_quant_from_float_q5_K(const float *src, void *dst, int64_t n);
void nib_quant_from_float_q6_K(const float *src, void *dst, int64_t n);

/* ---- importance-weighted quantization of ONE row of n elements, qw[n] one
 * non-NULL weight per column (ggml's quantize_row_<type>_impl, as called by
 * quantize_<type> with quant_weights). The f32/f16/bf16/q8_0 ones ignore qw
 * as ggml does. quant_imatrix_legacy.c, quant_imatrix_kquants.c ---- */
void nib_quant_weighted_f32(const float *src, void *dst, int64_t n, const float *qw);
void nib_quant_weighted_f16(const float *src, void *dst, int64_t n, const float *qw);
void nib_quant_weighted_bf16(const float *src, void *dst, int64_t n, const float *qw);
void nib_quant_weighted_q4_0(const float *src, void *dst, int64_t n, const float *qw);
void nib_quant_weighted_q4_1(const float *src, void *dst, int64_t n, const float *qw);
void nib_quant_weighted_q5_0(const float *src, void *dst, int64_t n, const float *qw);
void nib_quant_weighted_q5_1(const float *src, void *dst, int64_t n, const float *qw);
void nib_quant_weighted_q8_0(const float *src, void *dst, int64_t n, const float *qw);
void nib_quant_weighted_q2_K(const float *src, void *dst, int64_t n, const float *qw);
void nib_quant_weighted_q3_K(const float *src, void *dst, int64_t n, const float *qw);
void nib_quant_weighted_q4_K(const float *src, void *dst, int64_t n, const float *qw);
void nib_quant_weighted_q5_K(const float *src, void *dst, int64_t n, const float *qw);
void nib_quant_weighted_q6_K(const float *src, void *dst, int64_t n, const float *qw);
/* Q6_K with qw or (NULL) the reference rounding: both share one body. */
void nib_quant_q6_K_row(const float *src, void *dst, int64_t n, const float *qw);

/* ---- vec_dot: *out = dot(weight row x, activation row y in the partner
 * type), n elements; arithmetic identical to ggml's *_generic kernels ---- */
void nib_vec_dot_f32_f32(int64_t n, float *out, const void *x, const void *y);
void nib_vec_dot_f16_f16(int64_t n, float *out, const void *x, const void *y);
void nib_vec_dot_bf16_bf16(int64_t n, float *out, const void *x, const void *y);
void nib_vec_dot_q4_0_q8_0(int64_t n, float *out, const void *x, const void *y);
void nib_vec_dot_q4_1_q8_1(int64_t n, float *out, const void *x, const void *y);
void nib_vec_dot_q5_0_q8_0(int64_t n, float *out, const void *x, const void *y);
void nib_vec_dot_q5_1_q8_1(int64_t n, float *out, const void *x, const void *y);
void nib_vec_dot_q8_0_q8_0(int64_t n, float *out, const void *x, const void *y);
void nib_vec_dot_q2_K_q8_K(int64_t n, float *out, const void *x, const void *y);
void nib_vec_dot_q3_K_q8_K(int64_t n, float *out, const void *x, const void *y);
void nib_vec_dot_q4_K_q8_K(int64_t n, float *out, const void *x, const void *y);
void nib_vec_dot_q5_K_q8_K(int64_t n, float *out, const void *x, const void *y);
void nib_vec_dot_q6_K_q8_K(int64_t n, float *out, const void *x, const void *y);

#ifdef __cplusplus
}
#endif
#endif /* NIB_QUANT_BLOCKS_H */
