/*
 * l2c_checkpoint.h — reading karpathy's llama2.c checkpoints and their
 * tokenizer.bin for `nib convert` (one job: bytes in, validated arrays out).
 *
 * Checkpoint formats (all little-endian):
 *  - legacy: 7 int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads,
 *    vocab_size, seq_len; a negative vocab_size means an output matrix of its
 *    own), then float32 token_embedding, rms_att[L], wq[L], wk[L], wv[L],
 *    wo[L], rms_ffn[L], w1[L], w2[L], w3[L], rms_final, the RoPE tables
 *    (seq_len * head_size floats, skipped), and wcls when not shared;
 *  - version 1 ("ak42", export.py version1): a 256-byte header (magic,
 *    version, the 7 ints, uint8 shared_classifier), then float32 rms_att[L],
 *    rms_ffn[L], rms_final, token_embedding, wq[L] ... w3[L], wcls;
 *  - version 2 ("ak42", Q8_0 export): header as v1 plus int32 group_size;
 *    float32 norms as v1, then per matrix (token_embedding, wq[L] ... w3[L],
 *    wcls) int8 values followed by one float32 scale per group, read back as
 *    value * scale.
 * The file size must be exactly what the header implies. Matrices are
 * row-major [out][in], i.e. already GGUF's [in, out] layout; wq/wk are in
 * Meta's rotary order, which llama.cpp expects (no permutation).
 *
 * tokenizer.bin: int32 max_token_length, then per token: float32 score,
 * int32 length, bytes.
 */
#ifndef NIB_L2C_CHECKPOINT_H
#define NIB_L2C_CHECKPOINT_H

#include "nib.h"

#include <stdbool.h>
#include <stdint.h>

struct l2c_model {
    int32_t dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len;
    bool    shared;  /* the output matrix is token_embd */
    int     version; /* 0 legacy, 1, 2 */
    /* float32 arrays (owned, one allocation): per-layer ones are [L][...] */
    float  *tok_embd, *rms_att, *wq, *wk, *wv, *wo, *rms_ffn, *w1, *w2, *w3, *rms_final, *wcls;
    float  *buf;
};

int  l2c_model_load(const char *path, struct l2c_model *m, struct nib_error *err);
void l2c_model_free(struct l2c_model *m);

struct l2c_vocab {
    int32_t n;
    char  **text;    /* as llama.cpp's converter writes them (spaces as U+2581) */
    size_t *len;
    float  *scores;
    int32_t *types;  /* llama.cpp token types: 1 normal, 2 unknown, 3 control, 6 byte */
    char   *pool;
};

/* Reads n tokens (the model's vocab_size) from tokenizer.bin; ids 0, 1, 2 are
 * <unk>, <s>, </s> as llama.cpp's converter names them. */
int  l2c_vocab_load(const char *path, int32_t n, struct l2c_vocab *v, struct nib_error *err);
void l2c_vocab_free(struct l2c_vocab *v);

#endif
