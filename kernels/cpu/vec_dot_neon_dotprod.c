/*
 * vec_dot_neon_dotprod.c — the quantized dot products (vec_dot_neon_quants.h)
 * with the ARMv8.2 dot-product instructions (SDOT). This file alone is built
 * with -march=armv8.2-a+dotprod; dispatch.c reaches it only after
 * cpu_features.c has seen HWCAP_ASIMDDP (getauxval).
 */
#include "dispatch.h"

#include <arm_neon.h>

/* acc[l] += the four products a[4l..4l+3] * b[4l..4l+3]. */
static inline int32x4_t neon_dot_i8(int32x4_t acc, int8x16_t a, int8x16_t b) { return vdotq_s32(acc, a, b); }

#include "vec_dot_neon_quants.h"

void nib_vec_dot_q4_0_q8_0_neon_dotprod(int64_t n, float *out, const void *x, const void *y) { nq_q4_0(n, out, x, y); }
void nib_vec_dot_q4_1_q8_1_neon_dotprod(int64_t n, float *out, const void *x, const void *y) { nq_q4_1(n, out, x, y); }
void nib_vec_dot_q5_0_q8_0_neon_dotprod(int64_t n, float *out, const void *x, const void *y) { nq_q5_0(n, out, x, y); }
void nib_vec_dot_q5_1_q8_1_neon_dotprod(int64_t n, float *out, const void *x, const void *y) { nq_q5_1(n, out, x, y); }
void nib_vec_dot_q8_0_q8_0_neon_dotprod(int64_t n, float *out, const void *x, const void *y) { nq_q8_0(n, out, x, y); }
void nib_vec_dot_q2_K_q8_K_neon_dotprod(int64_t n, float *out, const void *x, const void *y) { nq_q2_K(n, out, x, y); }
void nib_vec_dot_q3_K_q8_K_neon_dotprod(int64_t n, float *out, const void *x, const void *y) { nq_q3_K(n, out, x, y); }
void nib_vec_dot_q4_K_q8_K_neon_dotprod(int64_t n, float *out, const void *x, const void *y) { nq_q4_K(n, out, x, y); }
void nib_vec_dot_q5_K_q8_K_neon_dotprod(int64_t n, float *out, const void *x, const void *y) { nq_q5_K(n, out, x, y); }
void nib_vec_dot_q6_K_q8_K_neon_dotprod(int64_t n, float *out, const void *x, const void *y) { nq_q6_K(n, out, x, y); }
