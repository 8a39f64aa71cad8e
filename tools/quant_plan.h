/*
 * quant_plan.h — which type every tensor of a model gets when it is quantized
 * to one of llama.cpp's file types (`Q4_K_M`, `Q4_0`, `F16`, ...), by
 * llama-quantize's rules (src/llama-quant.cpp at de3ff81):
 *
 *  - only tensors named `*weight` with two or more dimensions are converted;
 *    norms (`*_norm.weight`) and the MoE router (`ffn_gate_inp.weight`) keep
 *    their type; `output.weight` too with leave_output;
 *  - float file types (F32, F16, BF16): every convertible tensor in that type;
 *  - quantized ones: the base type, changed per tensor by the mix rules
 *    (output and tied token_embd -> Q6_K; attn_v / ffn_down / attn_output get
 *    more bits in the _M and _L mixes, in the layers use_more_bits picks;
 *    8-expert models get Q8_0 attn_k/attn_v; the 70B attn_v bump), unless
 *    `pure`; then a row length that is not a multiple of the chosen type's
 *    block falls back (Q2_K, Q3_K -> Q4_0; Q4_K -> Q5_0; Q5_K -> Q5_1;
 *    Q6_K -> Q8_0; F16 when even that does not fit);
 *  - the counters of the mix rules run over the tensors in llama.cpp's order
 *    (quant_sort): layer number first (non-layer tensors before layer 0),
 *    then name.
 */
#ifndef NIB_QUANT_PLAN_H
#define NIB_QUANT_PLAN_H

#include "nib.h"

#include <stdbool.h>
#include <stdint.h>

struct quant_ftype {
    const char   *name;   /* "Q4_K_M" */
    uint32_t      ftype;  /* llama.h LLAMA_FTYPE_* (general.file_type) */
    enum nib_type base;   /* the type most tensors get */
};

/* Case-insensitive; aliases Q3_K, Q4_K, Q5_K mean the _M mixes, as in
 * llama-quantize. NULL when unknown. */
const struct quant_ftype *quant_ftype_find(const char *name);
const char *quant_ftype_names(void);

/* What the rules look at. n_head/n_head_kv are layer 0's. */
struct quant_model {
    char    arch[32];
    int64_t n_layer, n_head, n_head_kv, n_expert;
};

/* Reads {arch}.block_count, head counts (scalar or per-layer array) and
 * expert_count from a model's metadata. */
int quant_model_from_gguf(const struct nib_gguf *g, struct quant_model *m, struct nib_error *err);

struct quant_options {
    bool pure;             /* base type everywhere (fallback still applies) */
    bool leave_output;     /* output.weight keeps its type */
    int  output_type;      /* -1, or the type of output.weight (no fallback) */
    int  token_embd_type;  /* -1, or the type of token_embd.weight (no fallback) */
    bool has_imatrix;      /* an importance matrix is given (changes Q4_0/Q5_0's first ffn_down layers) */
};


struct quant_tensor {
    const char   *name;
    uint32_t      n_dims;
    int64_t       ne[4];
    enum nib_type type;     /* type now */
    enum nib_type new_type; /* set by quant_plan */
    bool          fell_back;/* set by quant_plan: the row length forced another type */
};

/* Whether llama.cpp refuses to make this tensor without importance data:
 * Q2_K tensors (other than token_embd/output) of a Q2_K_S file. */
bool quant_requires_imatrix(const struct quant_ftype *ft, const struct quant_tensor *t);

/* llama.cpp's tensor order (see above); stable. */
void quant_sort(struct quant_tensor *ts, int64_t n);

/* Sets new_type of ts[0..n), visited in the given order (sort first). Fails
 * (NIB_E_FORMAT) on an MoE tensor name without a layer number, as llama.cpp. */
int quant_plan(const struct quant_model *m, const struct quant_ftype *ft, const struct quant_options *o,
               struct quant_tensor *ts, int64_t n, struct nib_error *err);

#endif
