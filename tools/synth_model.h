/*
 * synth_model.h — the pieces of `nib synth` (tools/cmd_synth.c), which writes
 * a GGUF model of a real shape filled with deterministic random weights.
 *
 *  - shapes: named presets with published dimensions, overridable dim by
 *    dim, validated before anything is written (synth_shape.c);
 *  - tensors: the architecture's tensor list in converter order, each with
 *    the type llama-quantize would give it for the requested type or mix
 *    (synth_tensors.c);
 *  - values: every tensor row drawn from its own random stream, keyed by
 *    (seed, tensor name, row), so values never depend on other tensors,
 *    on the types chosen, on chunking or on the thread count (synth_random.c);
 *  - tokenizer metadata: a small SentencePiece vocab of any size, or every
 *    tokenizer.* key copied from another GGUF (synth_vocab.c).
 *
 * All functions are reentrant (no globals); errors come back as a status
 * with a one-line message in struct nib_error, as in the library.
 */
#ifndef NIB_SYNTH_MODEL_H
#define NIB_SYNTH_MODEL_H

#include "cli.h"
#include "nib.h"

#include <stdbool.h>
#include <stdint.h>

/* ----------------------------------------------------------------- types */

enum synth_mix { SYNTH_MIX_NONE, SYNTH_MIX_Q3_K_M, SYNTH_MIX_Q4_K_M, SYNTH_MIX_Q5_K_M };

struct synth_type {
    const char    *name;  /* as given to --type */
    enum nib_type  base;  /* the type of most matrices */
    uint32_t       ftype; /* general.file_type, numbered as llama.cpp's LLAMA_FTYPE_* */
    enum synth_mix mix;   /* per-tensor choices of llama-quantize, or none (all matrices `base`) */
};

/* NULL for an unknown name (case-insensitive). */
const struct synth_type *synth_type_find(const char *name);
const char *synth_type_names(void); /* "F32, F16, ..." */

/* ---------------------------------------------------------------- shapes */

struct synth_shape {
    char    name[32];   /* preset name, or "custom" */
    char    arch[16];   /* llama | qwen2 | qwen3 | qwen3moe */
    int64_t n_embd, n_layer, n_head, n_head_kv, n_ff, n_vocab, n_ctx;
    int64_t head_dim;   /* 0: n_embd / n_head */
    int64_t n_expert, n_expert_used; /* 0, 0: dense */
    int64_t n_ff_exp;   /* qwen3moe expert FFN width; 0: n_ff / n_expert_used */
    double  rope_base, rms_eps;
    bool    tied;       /* no output.weight: the output reuses token_embd */
};

/* NIB_E_NOT_FOUND for an unknown preset. */
int synth_preset_get(const char *name, struct synth_shape *out);
const char *synth_preset_names(void);

/* Checks the shape (divisibility, ranges, what the architecture allows) and
 * fills derived values (head_dim, n_ff_exp). */
int synth_shape_check(struct synth_shape *s, struct nib_error *err);

/* general.* and <arch>.* metadata. */
int synth_write_hparams(struct nib_gguf_writer *w, const struct synth_shape *s, const struct synth_type *t,
                        const char *description, struct nib_error *err);

/* --------------------------------------------------------------- tensors */

enum synth_kind {
    SYNTH_MATRIX, /* std * group_factor * z */
    SYNTH_NORM,   /* 1 + std * z */
    SYNTH_BIAS,   /* std * z */
};

struct synth_tensor {
    char            name[48];
    enum synth_kind kind;
    enum nib_type   type;
    uint32_t        n_dims;
    int64_t         ne[3]; /* ne[0] is the row length */
};

/* All tensors of the model in file order with their types; *out is
 * malloc'ed (free it). */
int synth_tensors_build(const struct synth_shape *s, const struct synth_type *t, struct synth_tensor **out,
                        int64_t *n_out, struct nib_error *err);

/* ---------------------------------------------------------------- values */

struct synth_values {
    uint64_t seed;
    double   std;        /* standard deviation of the weights */
    int64_t  std_blocks; /* 0: off; N: per-group scale factors over N values of a row */
    double   block_std;  /* > 0: std of the blk.* matrices instead of std */
};

/* The key of a tensor's stream: seed XOR FNV-1a-64(name). */
uint64_t synth_stream_key(uint64_t seed, const char *name);

/* Fills dst[0..n) with row `row` (0-based over all rows of the tensor) of
 * a tensor of this kind. Pure function of its arguments. */
void synth_fill_row(const struct synth_values *v, uint64_t key, enum synth_kind kind, int64_t row, float *dst,
                    int64_t n);

/* ------------------------------------------------------------- tokenizer */

#define SYNTH_MIN_VOCAB 260 /* <unk> <s> </s>, 256 bytes, "▁" */

/* A SentencePiece vocab of n tokens like the shared synth models':
 * <unk> <s> </s>, <0x00>..<0xFF> (type 6), "▁", printable ASCII, then
 * "▁" + syllables; scores 0 for the first 259, then -(id - 259). */
int synth_vocab_write_default(struct nib_gguf_writer *w, int64_t n_vocab, struct nib_error *err);
/* Number of tokens of a GGUF's tokenizer.ggml.tokens. */
int synth_vocab_size(const struct nib_gguf *g, const char *path, int64_t *n_vocab, struct nib_error *err);
/* Copies every tokenizer.* key. */
int synth_vocab_copy(struct nib_gguf_writer *w, const struct nib_gguf *g, struct nib_error *err);


#endif
