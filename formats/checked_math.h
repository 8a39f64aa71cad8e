/*
 * checked_math.h — overflow-checked size arithmetic for untrusted values.
 * Each helper returns false (and leaves *out unspecified) on overflow.
 */
#ifndef NIB_CHECKED_MATH_H
#define NIB_CHECKED_MATH_H

#include <stdbool.h>
#include <stdint.h>

static inline bool nib_add_u64(uint64_t a, uint64_t b, uint64_t *out) {
    return !__builtin_add_overflow(a, b, out);
}
static inline bool nib_mul_u64(uint64_t a, uint64_t b, uint64_t *out) {
    return !__builtin_mul_overflow(a, b, out);
}
static inline bool nib_mul_i64(int64_t a, int64_t b, int64_t *out) {
    return !__builtin_mul_overflow(a, b, out);
}
/* Round x up to a multiple of align (a power of two). */
static inline bool nib_align_u64(uint64_t x, uint64_t align, uint64_t *out) {
    uint64_t t;
    if (!nib_add_u64(x, align - 1, &t)) return false;
    *out = t & ~(align - 1);
    return true;
}
static inline bool nib_is_pow2_u64(uint64_t x) { return x != 0 && (x & (x - 1)) == 0; }

#endif
