/*
 * fp16.h — IEEE half (fp16) and brain float (bf16) <-> fp32 conversions.
 *
 * Bit-exact with ggml's portable conversions (ggml-impl.h:
 * ggml_compute_fp16_to_fp32, ggml_compute_fp32_to_fp16,
 * ggml_compute_bf16_to_fp32, ggml_compute_fp32_to_bf16), which GGUF files
 * and ggml's reference quantizers are built with:
 *  - fp16 -> fp32 and bf16 -> fp32 are exact (subnormals, inf and NaN kept).
 *  - fp32 -> fp16 rounds to nearest even, produces fp16 subnormals, saturates
 *    to inf on overflow, and maps every NaN to the quiet NaN 0x7E00 (sign kept).
 *  - fp32 -> bf16 rounds to nearest even without flushing subnormals; a NaN
 *    keeps its sign and top payload bits and is forced quiet (| 0x40).
 * The arithmetic tricks (scaling to a magic exponent and letting the FPU round)
 * are those of https://github.com/Maratyszcza/FP16 used by ggml; they rely on
 * float arithmetic in round-to-nearest and no flush-to-zero.
 * Values travel as raw uint16_t bit patterns. Pure functions: thread-safe.
 */
#ifndef NIB_FP16_H
#define NIB_FP16_H

#include <math.h>
#include <stdint.h>
#include <string.h>

static inline float nib_f32_from_bits(uint32_t w) {
    float f;
    memcpy(&f, &w, sizeof(f));
    return f;
}

static inline uint32_t nib_f32_to_bits(float f) {
    uint32_t w;
    memcpy(&w, &f, sizeof(w));
    return w;
}

static inline float nib_fp16_to_fp32(uint16_t h) {
    const uint32_t w     = (uint32_t)h << 16;
    const uint32_t sign  = w & UINT32_C(0x80000000);
    const uint32_t two_w = w + w;

    /* Normal numbers: shift exponent+mantissa into place and rebias by a
     * multiplication (2^-112), which also turns fp16 inf/NaN into fp32 ones. */
    const uint32_t exp_offset = UINT32_C(0xE0) << 23;
    const float normalized = nib_f32_from_bits((two_w >> 4) + exp_offset) * 0x1.0p-112f;

    /* Subnormals: place the mantissa in a float with exponent 2^-1 and
     * subtract 0.5, which yields mantissa * 2^-24 exactly. */
    const uint32_t magic_mask = UINT32_C(126) << 23;
    const float denormalized = nib_f32_from_bits((two_w >> 17) | magic_mask) - 0.5f;

    const uint32_t denormalized_cutoff = UINT32_C(1) << 27;
    const uint32_t result = sign | (two_w < denormalized_cutoff ? nib_f32_to_bits(denormalized)
                                                                : nib_f32_to_bits(normalized));
    return nib_f32_from_bits(result);
}

static inline uint16_t nib_fp32_to_fp16(float f) {
    /* Scaling up then down saturates overflow to inf and leaves the value
     * ready for rounding; adding a power of two with the right exponent makes
     * the FPU round the mantissa to 10 bits (nearest even). */
    const float scaled_up = fabsf(f) * 0x1.0p+112f;
    float base = scaled_up * 0x1.0p-110f;

    const uint32_t w      = nib_f32_to_bits(f);
    const uint32_t shl1_w = w + w;
    const uint32_t sign   = w & UINT32_C(0x80000000);
    uint32_t bias = shl1_w & UINT32_C(0xFF000000);
    if (bias < UINT32_C(0x71000000)) bias = UINT32_C(0x71000000);

    base = nib_f32_from_bits((bias >> 1) + UINT32_C(0x07800000)) + base;
    const uint32_t bits          = nib_f32_to_bits(base);
    const uint32_t exp_bits      = (bits >> 13) & UINT32_C(0x00007C00);
    const uint32_t mantissa_bits = bits & UINT32_C(0x00000FFF);
    const uint32_t nonsign       = exp_bits + mantissa_bits;
    return (uint16_t)((sign >> 16) | (shl1_w > UINT32_C(0xFF000000) ? UINT32_C(0x7E00) : nonsign));
}

static inline float nib_bf16_to_fp32(uint16_t h) {
    return nib_f32_from_bits((uint32_t)h << 16);
}

static inline uint16_t nib_fp32_to_bf16(float f) {
    const uint32_t u = nib_f32_to_bits(f);
    if ((u & UINT32_C(0x7fffffff)) > UINT32_C(0x7f800000)) {
        return (uint16_t)((u >> 16) | 64); /* NaN: keep payload top, force quiet */
    }
    return (uint16_t)((u + (UINT32_C(0x7fff) + ((u >> 16) & 1))) >> 16);
}

#endif /* NIB_FP16_H */
