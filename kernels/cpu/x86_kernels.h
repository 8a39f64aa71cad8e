/*
 * x86_kernels.h — prototypes of the x86 kernel files (*_avx2*.c), included by
 * dispatch.h twice: once with NIB_X86_PROTO(name) = name##_avx2 (the files
 * built with -mavx2 -mfma -mf16c), once with name##_avx512 (the same files
 * built again with AVX-512 F/BW/VL/VNNI, NIB_AVX512_BUILD defined; see
 * avx2_util.h's NIB_X86_FN). Call the _avx2 set only where
 * nib_cpu_variant_available(AVX2), the _avx512 set only where AVX512.
 * No include guard, on purpose.
 */
void NIB_X86_PROTO(nib_vec_dot_f32_f32)(int64_t n, float *out, const void *x, const void *y);
void NIB_X86_PROTO(nib_vec_dot_f16_f16)(int64_t n, float *out, const void *x, const void *y);
void NIB_X86_PROTO(nib_vec_dot_bf16_bf16)(int64_t n, float *out, const void *x, const void *y);
void NIB_X86_PROTO(nib_rows8_q4_0_q8_0)(int64_t n, float *out, const void *w, size_t row_bytes, const void *y, int gemm);
void NIB_X86_PROTO(nib_rows8_q4_K_q8_K)(int64_t n, float *out, const void *w, size_t row_bytes, const void *y, int gemm);
void NIB_X86_PROTO(nib_packed8_q4_0_q8_0)(int64_t n, const void *group, const void *xq, size_t xq_row_bytes, int n_tok, float *y,
                                size_t y_stride, int gemm, const int32_t *ycorr, const float *dyf);
void NIB_X86_PROTO(nib_block_sums_q8_0)(const void *xq, size_t xq_row_bytes, int64_t nb, int64_t n_tok, int16_t *out);
void NIB_X86_PROTO(nib_packed8_q4_K_q8_K)(int64_t n, const void *group, const void *xq, size_t xq_row_bytes, int n_tok, float *y,
                                size_t y_stride, int gemm, const int32_t *ycorr, const float *dyf);
/* attention_decode_avx2.c: the tile in the decode order (called by nib_attention_tile). */
void NIB_X86_PROTO(nib_attention_tile_decode)(const struct nib_attn_tile *t, int head_dim, const uint16_t *k_base,
                                              const uint16_t *v_base, size_t row_stride, size_t head_off, const int32_t *slot,
                                              float scale, float *scratch);
void NIB_X86_PROTO(nib_dot4_q8_0_q8_0)(int64_t n, float *out, const void *x, const void *y, size_t y_row_bytes, int n_rows,
                             const float *dy);
/* These ten: defined in the AVX-512 build only (they need VNNI). */
void NIB_X86_PROTO(nib_gemm16_q8_0_q8_0)(int64_t n, const void *w, size_t w_row_bytes, const void *xq, size_t xq_row_bytes,
                                         int n_tok, const int32_t *ybase, const float *dyf, float *y, size_t y_stride,
                                         void *scratch);
void NIB_X86_PROTO(nib_packed16_q4_0_q8_0)(int64_t n, const void *pair, const void *xq, size_t xq_row_bytes, int n_tok,
                                           float *y, size_t y_stride, int gemm, const int32_t *ycorr, const float *dyf, void *scratch);
void NIB_X86_PROTO(nib_packed16_streams_q4_0_q8_0)(int64_t n, int n_pairs, const void *const *pairs, const void *xq,
                                                   float *const *y, const int32_t *ycorr, const float *dyf);
void NIB_X86_PROTO(nib_gemv16_streams_q8_0_q8_0)(int64_t n, int n_units, const void *const *units, const void *xq,
                                                 float *const *y, const int32_t *ybase, const float *dyf);
void NIB_X86_PROTO(nib_packed16_q4_K_q8_K)(int64_t n, const void *pair, const void *xq, size_t xq_row_bytes, int n_tok,
                                           float *y, size_t y_stride, int gemm, const int32_t *ycorr, const float *dyf, void *scratch);
void NIB_X86_PROTO(nib_dot4x4_q8_0_q8_0)(int64_t n, float *out, const void *x, size_t x_row_bytes, const void *y,
                                         size_t y_row_bytes, const float *dy);
void NIB_X86_PROTO(nib_dot8_q8_0_q8_0)(int64_t n, float *out, const void *x, size_t x_row_bytes, const void *y);
/* dispatch.h's nib_gemv16_fn, one per type with 16-row units */
#define NIB_GEMV16_PROTO(name)                                                                                      \
    void NIB_X86_PROTO(name)(int64_t n, float *out, size_t out_stride, const void *unit, const void *y, size_t y_row_bytes, \
                             const int32_t *ybase, int n_tok)
NIB_GEMV16_PROTO(nib_gemv16_q4_1_q8_1);
NIB_GEMV16_PROTO(nib_gemv16_q5_0_q8_0);
NIB_GEMV16_PROTO(nib_gemv16_q5_1_q8_1);
NIB_GEMV16_PROTO(nib_gemv16_q5_K_q8_K);
NIB_GEMV16_PROTO(nib_gemv16_q6_K_q8_K);
NIB_GEMV16_PROTO(nib_gemv16_q8_0_q8_0);
#undef NIB_GEMV16_PROTO
/* units_gemm_avx2.c: dispatch.h's nib_unit_gemm_fn, in the amx variant's block order (dyf, syf: Q8_0/Q8_1 scales) */
#define NIB_UNIT_GEMM_PROTO(name)                                                                                 \
    void NIB_X86_PROTO(name)(int64_t n, const void *unit, const void *xq, size_t xq_row_bytes, int n_tok,        \
                             const float *dyf, const float *syf, float *y, size_t y_stride, void *scratch)
NIB_UNIT_GEMM_PROTO(nib_unit_gemm_q4_1_q8_1);
NIB_UNIT_GEMM_PROTO(nib_unit_gemm_q5_0_q8_0);
NIB_UNIT_GEMM_PROTO(nib_unit_gemm_q5_1_q8_1);
NIB_UNIT_GEMM_PROTO(nib_unit_gemm_q5_K_q8_K); /* AVX2 build only */
NIB_UNIT_GEMM_PROTO(nib_unit_gemm_q6_K_q8_K);
#undef NIB_UNIT_GEMM_PROTO
/* kquants_gemm_avx2.c: dispatch.h's nib_rows16_gemm_fn */
void NIB_X86_PROTO(nib_rows16_gemm_q2_K_q8_K)(int64_t n, const void *w, size_t w_row_bytes, const void *xq,
                                              size_t xq_row_bytes, int n_tok, float *y, size_t y_stride);
void NIB_X86_PROTO(nib_rows16_gemm_q3_K_q8_K)(int64_t n, const void *w, size_t w_row_bytes, const void *xq,
                                              size_t xq_row_bytes, int n_tok, float *y, size_t y_stride);
void NIB_X86_PROTO(nib_gemm8_q8_0_q8_0)(int64_t n, const void *w, size_t w_row_bytes, const void *xq, size_t xq_row_bytes,
                                        int n_tok, const int32_t *ybase, const float *dyf, float *y, size_t y_stride,
                                        void *scratch);
void NIB_X86_PROTO(nib_dot4_q5_0_q8_0)(int64_t n, float *out, const void *x, const void *y, size_t y_row_bytes, int n_rows,
                                       const float *dy);
void NIB_X86_PROTO(nib_dot4_q4_1_q8_1)(int64_t n, float *out, const void *x, const void *y, size_t y_row_bytes, int n_rows,
                                       const float *dy);
void NIB_X86_PROTO(nib_dot4_q5_1_q8_1)(int64_t n, float *out, const void *x, const void *y, size_t y_row_bytes, int n_rows,
                                       const float *dy);
void NIB_X86_PROTO(nib_gemm_tile_f32)(int64_t n, float *out, const void *w, size_t w_row_bytes, const void *x,
                                      size_t x_row_bytes);
void NIB_X86_PROTO(nib_gemm_tile_f16)(int64_t n, float *out, const void *w, size_t w_row_bytes, const void *x,
                                      size_t x_row_bytes);
void NIB_X86_PROTO(nib_gemm_tile_bf16)(int64_t n, float *out, const void *w, size_t w_row_bytes, const void *x,
                                       size_t x_row_bytes);
int NIB_X86_PROTO(nib_gemm_tile_rows)(void);
void NIB_X86_PROTO(nib_dot4_q2_K_q8_K)(int64_t n, float *out, const void *x, const void *y, size_t y_row_bytes, int n_rows,
                                       const float *dy);
void NIB_X86_PROTO(nib_dot4_q3_K_q8_K)(int64_t n, float *out, const void *x, const void *y, size_t y_row_bytes, int n_rows,
                                       const float *dy);
void NIB_X86_PROTO(nib_dot4_q5_K_q8_K)(int64_t n, float *out, const void *x, const void *y, size_t y_row_bytes, int n_rows,
                                       const float *dy);
/* AVX-512 build only: two Q6_K weight rows against up to 8 activation rows, out[8 * r + t]. */
void NIB_X86_PROTO(nib_dot4x2_q6_K_q8_K)(int64_t n, float *out, const void *x, size_t x_row_bytes, const void *y,
                                         size_t y_row_bytes, int n_rows);
void NIB_X86_PROTO(nib_dot4_q6_K_q8_K)(int64_t n, float *out, const void *x, const void *y, size_t y_row_bytes, int n_rows,
                             const float *dy);
void NIB_X86_PROTO(nib_swiglu)(const float *g, const float *u, int64_t n, float *y);
void NIB_X86_PROTO(nib_attention_tile)(const struct nib_attn_tile *t, int head_dim, const uint16_t *k_base, const uint16_t *v_base,
                                       size_t row_stride, size_t head_off, const int32_t *slot, float scale, float *scratch);
void NIB_X86_PROTO(nib_attention_tile_q8_0)(const struct nib_attn_tile *t, int head_dim, const void *k_base, const void *v_base,
                                            size_t row_bytes, size_t head_off, const int32_t *slot, float scale, float *scratch);
void NIB_X86_PROTO(nib_gemm_dot_f32_f32)(int64_t n, float *out, const void *x, const void *y);
void NIB_X86_PROTO(nib_gemm_dot_f16_f16)(int64_t n, float *out, const void *x, const void *y);
void NIB_X86_PROTO(nib_gemm_dot_bf16_bf16)(int64_t n, float *out, const void *x, const void *y);
void NIB_X86_PROTO(nib_vec_dot_q4_0_q8_0)(int64_t n, float *out, const void *x, const void *y);
void NIB_X86_PROTO(nib_vec_dot_q4_1_q8_1)(int64_t n, float *out, const void *x, const void *y);
void NIB_X86_PROTO(nib_vec_dot_q5_0_q8_0)(int64_t n, float *out, const void *x, const void *y);
void NIB_X86_PROTO(nib_vec_dot_q5_1_q8_1)(int64_t n, float *out, const void *x, const void *y);
void NIB_X86_PROTO(nib_vec_dot_q8_0_q8_0)(int64_t n, float *out, const void *x, const void *y);
void NIB_X86_PROTO(nib_vec_dot_q2_K_q8_K)(int64_t n, float *out, const void *x, const void *y);
void NIB_X86_PROTO(nib_vec_dot_q3_K_q8_K)(int64_t n, float *out, const void *x, const void *y);
void NIB_X86_PROTO(nib_vec_dot_q4_K_q8_K)(int64_t n, float *out, const void *x, const void *y);
void NIB_X86_PROTO(nib_vec_dot_q5_K_q8_K)(int64_t n, float *out, const void *x, const void *y);
void NIB_X86_PROTO(nib_vec_dot_q6_K_q8_K)(int64_t n, float *out, const void *x, const void *y);
void NIB_X86_PROTO(nib_quantize_act_q8_0)(const float *x, void *y, int64_t n);
void NIB_X86_PROTO(nib_quantize_act_q8_1)(const float *x, void *y, int64_t n);
void NIB_X86_PROTO(nib_quantize_act_q8_K)(const float *x, void *y, int64_t n);
