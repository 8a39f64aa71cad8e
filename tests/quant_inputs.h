/*
 * quant_inputs.h — the float inputs of the quantization tests
 * (test_quant.cc, test_quant_imatrix.cc): kinds of data that stress the
 * scale searches, deterministic from a seed (NibRng). ggml's expected
 * digests were made from C copies of make_input (see
 * scripts/ggml-quant-expected/ggml-quant-expected.c): keep them in step.
 */
#ifndef NIB_TESTS_QUANT_INPUTS_H
#define NIB_TESTS_QUANT_INPUTS_H

#include "test_util.h"

#include <cstdint>
#include <cstring>

enum InputKind {
    IN_UNIFORM, IN_LARGE, IN_ZEROS, IN_ONE_LARGE, IN_TINY, IN_NEG_MAX, IN_TIES, IN_HEAVY,
    IN_KINDS,                 /* kinds used for every quantized type */
    IN_SPECIAL = IN_KINDS,    /* inf, NaN, subnormals, rounding ties: F16/BF16 only */
    IN_KINDS_ALL
};

/* fp32 bit patterns: NaNs (quiet, signalling, negative with payload), infs,
 * zeros, fp32 subnormals, fp16 max / overflow / subnormal boundaries, and
 * fp16 / bf16 round-to-even ties. */
inline const uint32_t kSpecialBits[] = {
    0x7fc00000, 0x7f800001, 0xffc12345, 0x7f800000, 0xff800000, 0x00000000, 0x80000000,
    0x00000001, 0x807fffff, 0x477fe000, 0x477fefff, 0x477ff000, 0xc77ff000, 0x33800000,
    0x33000000, 0x33000001, 0xb3400000, 0x387fc000, 0x38800000, 0x3f801000, 0x3f803000,
    0x3f801001, 0x3f808000, 0x3f818000, 0x3f808001, 0x7f7fffff, 0xff7f8000, 0x3e2aaaab,
};
inline const int64_t kNumSpecial = sizeof(kSpecialBits) / sizeof(kSpecialBits[0]);

/* Products by powers of two are exact, so these values do not depend on
 * whether the compiler fuses the multiply-adds. */
inline void make_input(int kind, uint64_t seed, float *x, int64_t n) {
    NibRng rng(seed);
    for (int64_t i = 0; i < n; i++) {
        const float u = rng.uniform();
        float v;
        switch (kind) {
        case IN_UNIFORM:   v = u; break;
        case IN_LARGE:     v = u * 30000.0f; break;
        case IN_ZEROS:     v = 0.0f; break;
        case IN_ONE_LARGE: v = (i % 29 == 3) ? 100.0f : u * 0.015625f; break;
        case IN_TINY:      v = ((i / 64) % 2 == 0) ? u * 1e-6f : u * 1e-20f; break;
        case IN_NEG_MAX:   v = (i % 32 == 7) ? -2.0f + u * 0.25f : u * 0.5f; break;
        case IN_TIES:      v = (i % 32 == 0) ? 127.0f : (i % 32 == 17) ? -127.0f
                                                    : (float)((int)(i % 61) - 30) + 0.5f; break;
        case IN_HEAVY:     v = u * u * u * 16.0f; break;
        default: {
            const uint32_t b = i < kNumSpecial ? kSpecialBits[i] : (uint32_t)rng.next();
            std::memcpy(&v, &b, sizeof(v));
        }
        }
        x[i] = v;
    }
}

#endif
