/*
 * ops_ref.h — scalar reference ops of the CPU backend. Stateless: pointers,
 * sizes and strides in, outputs out; they never see model or context
 * structs. Rounding follows ggml where it matters for agreement with
 * llama.cpp (rms norm sums in double, rope angles by repeated float
 * multiplication, the rotation's products fused as the compiler fuses
 * ggml's, SiLU through ggml_v_expf: ggml_order.h). Attention lives in
 * attention_ref.h.
 * Threading: functions taking n_threads split independent rows with OpenMP;
 * results do not depend on the thread count.
 */
#ifndef NIB_OPS_REF_H
#define NIB_OPS_REF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* y[t][o] = dot(w row o, x row t) for t < n_tok, o < n_out, with the kernels
 * of the CPU variant chosen at run time (dispatch.h), picked per shape the way
 * llama.cpp picks its matmul path (so that results agree bit for bit):
 * rows8 where the variant has it and n_out % 8 == 0 (llama.cpp's repacked
 * matrices; never for a matrix llama.cpp cannot repack: pass
 * NIB_MATMUL_NO_REPACK, e.g. for an output matrix tied to the embeddings),
 * gemm_dot for n_tok >= 2 when n_in % 8 == 0 and n_out % 4 == 0 (tinyBLAS),
 * vec_dot otherwise. packed: the matrix's packed copy (repack.h) or NULL;
 * when given (nib_op_packs for w_type and n_out) it is read instead of w.
 * Results do not depend on n_threads.
 * w: n_out rows of w_row_bytes (type w_type, n_in elements each);
 * xq: n_tok rows of xq_row_bytes, already quantized to w_type's partner type.
 * NIB_MATMUL_ROWWISE: every token row exactly as a one-token matmul computes
 * it (which is also how llama.cpp's MUL_MAT_ID computes MoE experts):
 * repacked matrices through their GEMV only, the others through vec_dot or
 * the 4-token dot kernels that equal it bit for bit (never the tinyBLAS or
 * repacked GEMM order).
 * NIB_MATMUL_INT_GEMM: never the amx variant's bf16 prompt GEMM
 * (gemm_bf16_amx.h), which a plain batch of enough rows takes otherwise. */
enum nib_matmul_flags { NIB_MATMUL_NO_REPACK = 1, NIB_MATMUL_ROWWISE = 2, NIB_MATMUL_INT_GEMM = 4 };
void nib_op_matmul(int w_type, const void *w, size_t w_row_bytes, const void *packed, int64_t n_in, int64_t n_out,
                   const void *xq, size_t xq_row_bytes, int64_t n_tok, float *y /* [n_tok][n_out] */, int flags,
                   int n_threads);

/* Whether nib_op_matmul reads the packed copy of an n_out-row matrix of
 * w_type in repack.h's paired layout (the variant has a 16-row kernel for
 * w_type and n_out % 16 == 0): nib_repack_groups's `pair` for it. */
bool nib_op_packed_paired(int w_type, int64_t n_out);

/* Whether the variant has kernels for a packed copy (repack.h) of an
 * n_out-row matrix of w_type: packed8 for w_type, or gemv16 and
 * n_out % 16 == 0. The model makes such copies at load time. */
bool nib_op_packs(int w_type, int64_t n_out);

/* Quantizes n_tok rows of n floats to `type` (the partner of a weight type),
 * rounding as ggml's CPU backend does (quantize_act.c). */
void nib_op_quantize_rows(int type, const float *x /* [n_tok][n] */, int64_t n, int64_t n_tok, void *out,
                          size_t out_row_bytes);

/* y = x / sqrt(mean(x^2) + eps) * w, one row of n. y may equal x. */
void nib_op_rmsnorm(const float *x, const float *w, int64_t n, float eps, float *y);

struct nib_rope_params {
    int   n_rot;          /* rotated dims (even, <= head_dim) */
    int   neox;           /* 0: pairs (2i, 2i+1); 1: pairs (i, i + n_rot/2) */
    float freq_base, freq_scale;
    const float *freq_factors; /* [n_rot/2] or NULL */
    float ext_factor, attn_factor, beta_fast, beta_slow;
    int   n_ctx_orig;
};

/* YaRN's constants for p (ext_factor != 0): the pair range [corr[0],
 * corr[1]] its ramp runs over, and the cos/sin scale, attn_factor times
 * 1 + 0.1 ln(1 / freq_scale). The CUDA RoPE takes them from here too. */
void nib_rope_yarn(const struct nib_rope_params *p, float corr[2], float *mscale);

/* Rotates n_head heads of head_dim values at position pos, in place. */
void nib_op_rope(float *x /* [n_head][head_dim] */, int n_head, int head_dim, int32_t pos, const struct nib_rope_params *p);

/* y[i] = silu(g[i]) * u[i], with ggml's vectorized exp where ggml uses it. */
void nib_op_swiglu(const float *g, const float *u, int64_t n, float *y);

#ifdef __cplusplus
}
#endif
#endif
