/*
 * model.h — a loaded model (internal layout of struct nib_model).
 *
 * Hyperparameters come from the GGUF metadata, weights are views into the
 * mapping (struct nib_weight: type, shape, data), and small tensors that
 * the forward pass needs in float (norm weights, biases, rope factors) are
 * dequantized once at load into model-owned buffers. Everything here is
 * validated before any kernel runs; the struct is immutable after load.
 */
#ifndef NIB_MODEL_H
#define NIB_MODEL_H

#include "nib.h"
#include "arch.h"
#include "arena.h"

/* A 2-D weight as stored: rows of ne0 elements (ne0 = input dim), ne1 rows. */
struct nib_weight {
    enum nib_type type;
    int64_t       ne0, ne1;
    size_t        row_bytes;
    const void   *data;   /* NULL when the tensor is absent (optional ones) */
    bool          is_embedding; /* the output matrix tied to token_embd (read by get_rows too) */
    const void   *packed;       /* the CPU kernels' packed copy (model_pack.c), or NULL */
};

struct nib_layer {
    const float *attn_norm;                 /* [n_embd] */
    struct nib_weight wq, wk, wv, wo;       /* [n_embd -> n_head*hd_k] ... */
    const float *bq, *bk, *bv, *bo;         /* optional biases, NULL if absent */
    const float *q_norm, *k_norm;           /* qwen3: [hd_k], NULL otherwise */
    const float *ffn_norm;                  /* [n_embd] */
    struct nib_weight ffn_gate, ffn_up, ffn_down; /* dense FFN (absent in MoE layers) */
    const float *b_gate, *b_up, *b_down;    /* optional */
    /* MoE FFN: the router [n_embd -> n_expert] and, per expert, views of
     * the stacked ffn_{gate,up,down}_exps tensors as plain matrices
     * (gate/up [n_embd -> n_ff_exp], down [n_ff_exp -> n_embd]). */
    struct nib_weight  ffn_gate_inp;
    struct nib_weight *gate_exps, *up_exps, *down_exps; /* [n_expert] each, NULL in dense layers */
};

struct nib_hparams {
    int32_t n_vocab, n_ctx_train, n_embd, n_layer, n_ff;
    int32_t n_head, n_head_kv, head_dim_k, head_dim_v, n_rot;
    float   rms_eps;
    float   rope_freq_base, rope_freq_scale; /* scale = 1 / linear factor */
    float   attn_scale;                      /* 1/sqrt(head_dim) unless the file says */
    enum nib_rope_kind rope_kind;
    /* YaRN (ext_factor 0 = off) */
    float   yarn_ext_factor, yarn_attn_factor, yarn_beta_fast, yarn_beta_slow;
    int32_t n_ctx_orig;
    /* MoE: experts per layer, experts each token uses, an expert's FFN width (0 0 0: dense) */
    int32_t n_expert, n_expert_used, n_ff_exp;
};

struct nib_model {
    struct nib_gguf        *gguf;
    struct nib_vocab       *vocab;
    const struct nib_arch  *arch;
    struct nib_hparams      hp;

    struct nib_weight tok_embd;   /* [n_embd] x n_vocab */
    const float      *output_norm;
    struct nib_weight output;     /* tied: same as tok_embd */
    const float      *rope_freqs; /* [n_rot/2] or NULL */
    struct nib_layer *layers;     /* [n_layer] */

    struct nib_arena owned_arena;  /* dequantized small tensors, the layer table */
    void            *packed;       /* one buffer for every packed copy, or NULL */
    size_t           packed_bytes;
    uint64_t n_params, weight_bytes;
    uint64_t decode_bytes;        /* weight bytes one decode step reads (all matmul weights; of
                                     the experts, the n_expert_used a token is routed to) */
    uint64_t n_params_active;     /* parameters one token uses (= n_params for dense models) */
};

/* model_pack.c: copies the matrices the CPU variant has packed kernels for
 * into its interleaved layout (kernels/cpu/repack.h) and sets their
 * `packed`; with copy_all, the other matmul weights too, as stored (their
 * `data` then points into the copy). The mapped pages of the originals are
 * released. Out of memory is not an error: those matrices keep the mapped
 * data and the row-wise path. */
void nib_model_pack(struct nib_model *m, bool copy_all);

#endif
