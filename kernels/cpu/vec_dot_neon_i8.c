/*
 * vec_dot_neon_i8.c — the quantized dot products (vec_dot_neon_quants.h) for
 * every aarch64 CPU: plain ARMv8-A NEON, no dot-product instructions. Built
 * on aarch64 only; dispatch.c uses these where cpu_features.c found ASIMD
 * but not ASIMDDP (e.g. Cortex-A53, A72).
 */
#include "dispatch.h"

#include <arm_neon.h>

/* acc += the 16 products a[k] * b[k]: widening multiplies (|a b| <= 2^14
 * fits int16), then pairwise widening adds into the four int32 lanes. */
static inline int32x4_t neon_dot_i8(int32x4_t acc, int8x16_t a, int8x16_t b) {
    acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(a), vget_low_s8(b)));
    return vpadalq_s16(acc, vmull_high_s8(a, b));
}

#include "vec_dot_neon_quants.h"

void nib_vec_dot_q4_0_q8_0_neon(int64_t n, float *out, const void *x, const void *y) { nq_q4_0(n, out, x, y); }
void nib_vec_dot_q4_1_q8_1_neon(int64_t n, float *out, const void *x, const void *y) { nq_q4_1(n, out, x, y); }
void nib_vec_dot_q5_0_q8_0_neon(int64_t n, float *out, const void *x, const void *y) { nq_q5_0(n, out, x, y); }
void nib_vec_dot_q5_1_q8_1_neon(int64_t n, float *out, const void *x, const void *y) { nq_q5_1(n, out, x, y); }
void nib_vec_dot_q8_0_q8_0_neon(int64_t n, float *out, const void *x, const void *y) { nq_q8_0(n, out, x, y); }
void nib_vec_dot_q2_K_q8_K_neon(int64_t n, float *out, const void *x, const void *y) { nq_q2_K(n, out, x, y); }
void nib_vec_dot_q3_K_q8_K_neon(int64_t n, float *out, const void *x, const void *y) { nq_q3_K(n, out, x, y); }
void nib_vec_dot_q4_K_q8_K_neon(int64_t n, float *out, const void *x, const void *y) { nq_q4_K(n, out, x, y); }
void nib_vec_dot_q5_K_q8_K_neon(int64_t n, float *out, const void *x, const void *y) { nq_q5_K(n, out, x, y); }
void nib_vec_dot_q6_K_q8_K_neon(int64_t n, float *out, const void *x, const void *y) { nq_q6_K(n, out, x, y); }
