/*
 * convert.h — the pieces of `nib convert` (tools/cmd_convert.c), which turns
 * a Hugging Face model directory into a GGUF file with the names, metadata
 * and tensor types llama.cpp's convert_hf_to_gguf.py writes (llama2.c
 * checkpoints: convert_l2c.h).
 *
 *  - a plan (struct cv_plan): the output tensors in file order, each with
 *    its type, shape and the input bytes it is made of (several sources
 *    for stacked MoE experts; a row permutation for llama's q/k), plus the
 *    metadata keys to write. Building a plan reads no tensor data
 *    (convert_hf.c);
 *  - the vocabulary (struct cv_vocab, convert_vocab.c) from tokenizer.model
 *    (SentencePiece protobuf, convert_spm.c) or tokenizer.json
 *    (convert_vocab_hf.c), with llama.cpp's
 *    SpecialVocab rules for special ids, add_bos/add_eos and the chat template;
 *  - writing (convert_write.c): rows converted a chunk at a time to F32,
 *    permuted, then to the output type (nib_quantize, ggml's rounding), a
 *    CRC32 per tensor kept for --verify, which re-reads the file.
 *
 * Nothing here prints or exits: errors come back as a status with a
 * one-line message in struct nib_error. Plans own their memory (cv_plan_free).
 */
#ifndef NIB_CONVERT_H
#define NIB_CONVERT_H

#include "cli.h"
#include "nib.h"
#include "safetensors.h"

#include <stdbool.h>
#include <stdint.h>

/* ------------------------------------------------------------ vocabulary */

enum cv_special { CV_BOS, CV_EOS, CV_UNK, CV_SEP, CV_PAD, CV_CLS, CV_MASK, CV_EOT, CV_EOM, CV_N_SPECIAL };

/* llama.cpp's token types (llama_token_type / gguf.TokenType). */
enum { CV_TOK_NORMAL = 1, CV_TOK_UNKNOWN = 2, CV_TOK_CONTROL = 3, CV_TOK_USER_DEFINED = 4, CV_TOK_UNUSED = 5,
       CV_TOK_BYTE = 6 };

struct cv_vocab {
    const char *model;          /* "llama" (SentencePiece) or "gpt2" (byte-level BPE) */
    char        pre[64];        /* tokenizer.ggml.pre */
    int64_t     n;
    char      **text;           /* n NUL-terminated tokens (malloc'ed each) */
    float      *scores;         /* n, or NULL (gpt2 vocabs have none) */
    int32_t    *types;          /* n */
    int64_t     n_merges;
    char      **merges;         /* "a b" */
    int64_t     special[CV_N_SPECIAL]; /* -1: unset */
    int         add[CV_N_SPECIAL];     /* -1 unset, 0, 1 (only bos, eos, sep written) */
    int         add_space_prefix;      /* -1 unset */
    int         norm_lowercase, norm_strip_accents; /* -1 unset */
    char       *chat_template;         /* NULL: none */
};

void cv_vocab_init(struct cv_vocab *v);
void cv_vocab_free(struct cv_vocab *v);
/* Allocates n tokens (text NULL, scores 0 when with_scores, types NORMAL). */
int  cv_vocab_alloc(struct cv_vocab *v, int64_t n, bool with_scores, struct nib_error *err);
int  cv_vocab_set_text(struct cv_vocab *v, int64_t i, const char *s, size_t len, struct nib_error *err);
/* All tokenizer.* keys. */
int  cv_vocab_write(struct nib_gguf_writer *w, const struct cv_vocab *v, struct nib_error *err);

/* SentencePiece tokenizer.model (ModelProto): pieces, scores, types. */
int cv_spm_read(const char *path, struct cv_vocab *v, struct nib_error *err);

/* A Hugging Face tokenizer directory, by llama.cpp's per-architecture rules:
 * arch_family "llama" tries tokenizer.model, then a SentencePiece-style
 * tokenizer.json (LlamaHfVocab), then byte-level BPE; "qwen2" tries
 * tokenizer.model then BPE; "bpe" only BPE. n_vocab_hint: config.json's
 * vocab_size, or -1. pre_override: --pre, or NULL (detect). */
int cv_hf_vocab_read(const char *dir, const char *arch_family, int64_t n_vocab_hint, const char *pre_override,
                     struct cv_vocab *v, struct nib_error *err);

/* tokenizer.ggml.pre from tokenizer.json's pre_tokenizer; NULL if unknown. */
const char *cv_detect_pre(const void *tokenizer_json_root);

/* ------------------------------------------------------------------ plan */

enum cv_kind { CV_STR, CV_U32, CV_I32, CV_F32, CV_BOOL };

struct cv_kv {
    char         key[96];
    enum cv_kind kind;
    char        *s;
    uint32_t     u;
    int32_t      i;
    float        f;
};

struct cv_source {
    const uint8_t *data;
    enum st_dtype  dtype;
    int64_t        n_rows, n_cols; /* 1-D: n_rows 1 */
};

struct cv_tensor {
    char              name[96];
    enum nib_type     type;
    uint32_t          n_dims;
    int64_t           ne[4];     /* ggml order: ne[0] = row length */
    int64_t           n_src;     /* > 1: stacked experts, one per ne[2] index */
    struct cv_source *src;
    int64_t           perm_heads; /* > 0: llama.cpp's permute(w, n_head) on rows (on elements for 1-D) */
    float            *owned_f32;  /* generated data (rope_freqs), freed with the plan */
    uint32_t          crc;        /* CRC32 of the bytes written */
};

struct cv_plan {
    struct cv_kv     *kv;
    int64_t           n_kv, cap_kv;
    struct cv_tensor *t;
    int64_t           n_t, cap_t;
    struct cv_vocab   vocab;
    bool              has_vocab;
    struct st_file   *files;      /* inputs kept mapped while writing */
    int64_t           n_files;
    void             *map;        /* llama2.c checkpoint mapping */
    size_t            map_size;
};

enum cv_outtype { CV_OUT_AUTO, CV_OUT_F32, CV_OUT_F16, CV_OUT_BF16, CV_OUT_Q8_0 };

struct cv_options {
    enum cv_outtype outtype;
    const char     *tokenizer;  /* llama2.c: tokenizer.bin */
    const char     *pre;        /* override tokenizer.ggml.pre */
    int64_t         n_ctx;      /* llama2.c: context_length (0: the checkpoint's seq_len) */
    bool            vocab_only;
};

void cv_plan_init(struct cv_plan *p);
void cv_plan_free(struct cv_plan *p);
int  cv_kv_str(struct cv_plan *p, const char *key, const char *s, struct nib_error *err);
int  cv_kv_u32(struct cv_plan *p, const char *key, uint32_t u, struct nib_error *err);
int  cv_kv_i32(struct cv_plan *p, const char *key, int32_t i, struct nib_error *err);
int  cv_kv_f32(struct cv_plan *p, const char *key, float f, struct nib_error *err);
int  cv_kv_bool(struct cv_plan *p, const char *key, bool b, struct nib_error *err);
/* Appends a tensor; *out points into p->t (valid until the next add). */
int  cv_tensor_add(struct cv_plan *p, const char *name, int64_t n_src, struct cv_tensor **out, struct nib_error *err);

/* llama.cpp's type rule: F32 for 1-D, *_norm.weight, ffn_gate_inp and
 * non-.weight tensors; otherwise the outtype, Q8_0 falling back to F16 when
 * the row length is not a multiple of 32. */
enum nib_type cv_choose_type(const char *name, uint32_t n_dims, int64_t ne0, enum cv_outtype out);
/* general.file_type (LLAMA_FTYPE) of an outtype. */
uint32_t cv_file_type(enum cv_outtype out);

/* Maps the model's safetensors parts into p->files: the files named by
 * model.safetensors.index.json (whose weight_map must agree with the parts'
 * tensors), else model*.safetensors; sorted by name. */
int cv_open_parts(const char *dir, struct cv_plan *p, struct nib_error *err);

int cv_plan_hf(const char *dir, const struct cv_options *o, struct cv_plan *p, struct nib_error *err);

/* Source row (or element) that lands at output index r under llama.cpp's permute. */
int64_t cv_permute_index(int64_t r, int64_t n, int64_t n_head);

/* Writes the plan to path through nib_gguf_writer (temp file renamed on
 * success); progress(i, n, user) after each tensor when non-NULL. */
int cv_write(struct cv_plan *p, const char *path, void (*progress)(int64_t, int64_t, void *), void *user,
             struct nib_error *err);
/* Re-opens path and checks every tensor's name, type, shape and CRC32. */
int cv_verify(const struct cv_plan *p, const char *path, struct nib_error *err);

/* Whole file into a NUL-terminated buffer (*len without the NUL). */
int cv_slurp(const char *path, char **out, size_t *len, struct nib_error *err);

#endif
