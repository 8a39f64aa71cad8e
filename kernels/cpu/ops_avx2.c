/*
 * ops_avx2.c — AVX2 versions of ops_ref.c's element-wise ops, giving the
 * reference's bits (this file alone gets -mavx2 -mfma -mf16c).
 */
#include "avx2_util.h"
#include "dispatch.h"

#include <immintrin.h>
#include <math.h>

/* ggml_vec_swiglu_f32: silu(g) * u with ggml_v_silu 8 at a time, the tail
 * through expf as the reference does. */
void NIB_X86_FN(nib_swiglu)(const float *g, const float *u, int64_t n, float *y) {
    int64_t i = 0;
    const __m256 one = _mm256_set1_ps(1.0f);
    for (; i + 8 <= n; i += 8) {
        const __m256 x = _mm256_loadu_ps(g + i);
        const __m256 e = nib_v_expf_avx2(_mm256_sub_ps(_mm256_setzero_ps(), x));
        _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_div_ps(x, _mm256_add_ps(one, e)), _mm256_loadu_ps(u + i)));
    }
    for (; i < n; i++) y[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}
