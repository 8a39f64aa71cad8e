/*
 * arch.h — the architecture table: what differs between llama, qwen2,
 * qwen3 and qwen3moe is data here, not `if`s in the forward pass.
 */
#ifndef NIB_ARCH_H
#define NIB_ARCH_H

#include <stdbool.h>

enum nib_rope_kind {
    NIB_ROPE_NORM = 0, /* rotate pairs of consecutive values (x[2i], x[2i+1]) */
    NIB_ROPE_NEOX = 2, /* rotate x[i] with x[i + n_rot/2] */
};

enum nib_need { NIB_ABSENT = 0, NIB_OPTIONAL, NIB_REQUIRED };

struct nib_arch {
    const char        *name;      /* general.architecture */
    enum nib_rope_kind rope;      /* as llama.cpp assigns it */
    enum nib_need      qkv_bias;  /* attn_{q,k,v}.bias */
    enum nib_need      qk_norm;   /* attn_{q,k}_norm.weight, per head */
    enum nib_need      out_bias;  /* attn_output.bias */
    enum nib_need      ffn_bias;  /* ffn_{gate,up,down}.bias */
    enum nib_need      rope_freqs;/* rope_freqs.weight (Llama 3 frequency factors) */
    enum nib_need      experts;   /* MoE FFN (expert_count, ffn_gate_inp, ffn_*_exps) instead of the dense one */
    bool               expert_ff; /* expert width from expert_feed_forward_length (else feed_forward_length) */
};

/* NULL when nib does not support the architecture. */
const struct nib_arch *nib_arch_find(const char *name);
/* "llama, qwen2, qwen3, qwen3moe" for error messages. */
const char *nib_arch_list(void);

#endif
