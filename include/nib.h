/*
 * nib.h — the one public header of libnib.
 *
 * Purpose: load GGUF files (strictly validated), describe their tensor types,
 * and (in later layers) run transformer inference on them. Tools and users
 * include only this header.
 *
 * Conventions:
 *  - Every fallible function returns an int status: NIB_OK (0) on success,
 *    a negative NIB_E_* on error, a positive value for recoverable conditions.
 *    When the caller passes a non-NULL `struct nib_error *`, it receives a
 *    one-line message naming the object and the offending values.
 *  - Handles are opaque; `*_free(NULL)` is a no-op.
 *  - The library never prints, exits or aborts on bad input.
 *  - Thread-safety: a `struct nib_gguf` is immutable after open and may be
 *    read from any number of threads; a writer belongs to one thread.
 */
#ifndef NIB_H
#define NIB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- status */

enum nib_status {
    NIB_OK            = 0,
    NIB_E_IO          = -1, /* open/read/write/mmap failed */
    NIB_E_FORMAT      = -2, /* the bytes violate the file format */
    NIB_E_UNSUPPORTED = -3, /* valid but not supported by this build */
    NIB_E_NOMEM       = -4, /* allocation failed */
    NIB_E_ARG         = -5, /* caller passed an invalid argument */
    NIB_E_NOT_FOUND   = -6, /* a named key or tensor does not exist */
    NIB_E_TYPE        = -7, /* value exists but has another type */
    NIB_E_STATE       = -8, /* call out of order (e.g. writer) */
    NIB_KV_FULL       = 1,  /* recoverable: the KV cache has no room for the batch */
};

#define NIB_ERROR_MSG_SIZE 512

struct nib_error {
    int  status;                   /* the same value the function returned */
    char msg[NIB_ERROR_MSG_SIZE];  /* one line, no trailing newline */
};

/* Short name of a status ("format error", ...). Never NULL. */
const char *nib_status_name(int status);

/* ---------------------------------------------------------- tensor types */

/* Numeric ids are ggml's, as stored in GGUF files. */
enum nib_type {
    NIB_TYPE_F32     = 0,
    NIB_TYPE_F16     = 1,
    NIB_TYPE_Q4_0    = 2,
    NIB_TYPE_Q4_1    = 3,
    NIB_TYPE_Q5_0    = 6,
    NIB_TYPE_Q5_1    = 7,
    NIB_TYPE_Q8_0    = 8,
    NIB_TYPE_Q8_1    = 9,
    NIB_TYPE_Q2_K    = 10,
    NIB_TYPE_Q3_K    = 11,
    NIB_TYPE_Q4_K    = 12,
    NIB_TYPE_Q5_K    = 13,
    NIB_TYPE_Q6_K    = 14,
    NIB_TYPE_Q8_K    = 15,
    NIB_TYPE_IQ2_XXS = 16,
    NIB_TYPE_IQ2_XS  = 17,
    NIB_TYPE_IQ3_XXS = 18,
    NIB_TYPE_IQ1_S   = 19,
    NIB_TYPE_IQ4_NL  = 20,
    NIB_TYPE_IQ3_S   = 21,
    NIB_TYPE_IQ2_S   = 22,
    NIB_TYPE_IQ4_XS  = 23,
    NIB_TYPE_I8      = 24,
    NIB_TYPE_I16     = 25,
    NIB_TYPE_I32     = 26,
    NIB_TYPE_I64     = 27,
    NIB_TYPE_F64     = 28,
    NIB_TYPE_IQ1_M   = 29,
    NIB_TYPE_BF16    = 30,
    NIB_TYPE_TQ1_0   = 34,
    NIB_TYPE_TQ2_0   = 35,
    NIB_TYPE_MXFP4   = 39,
    NIB_TYPE_NVFP4   = 40,
    NIB_TYPE_Q1_0    = 41,
    NIB_TYPE_Q2_0    = 42,
    NIB_TYPE_COUNT   = 43,
};

/* True for ids a GGUF file may carry (known layout). Removed ids (4, 5, 31..33,
 * 36..38) and ids >= NIB_TYPE_COUNT are not valid. */
bool        nib_type_is_valid(int type);
/* Upper-case name as ggml spells it ("Q4_K", "BF16"); "?" for invalid ids. */
const char *nib_type_name(int type);
/* Case-insensitive reverse of nib_type_name. */
int         nib_type_from_name(const char *name, enum nib_type *out);
/* Elements per block and bytes per block; 0 for invalid ids. */
int64_t     nib_type_block_size(int type);
size_t      nib_type_block_bytes(int type);
/* True when nib can dequantize (and compute with) this type. */
bool        nib_type_is_supported(int type);
/* Bytes of a row of n elements; 0 when n is not a multiple of the block size
 * or the type is invalid. */
size_t      nib_type_row_bytes(int type, int64_t n);

/* Dequantize n elements (a multiple of the block size) of `type` to float.
 * Bit-exact with ggml's reference `to_float`. */
int nib_dequantize(int type, const void *src, float *dst, int64_t n,
                   struct nib_error *err);
/* Quantize n floats (a multiple of the block size) to `type` with ggml's
 * reference rounding (bit-exact with quantize_row_*_ref). NIB_E_UNSUPPORTED
 * when nib cannot quantize to the type. dst needs nib_type_row_bytes(type, n). */
int nib_quantize(int type, const float *src, void *dst, int64_t n,
                 struct nib_error *err);
/* Quantize n_rows rows of n_per_row floats (a multiple of the block size)
 * with per-column importance weights quant_weights[n_per_row] (an importance
 * matrix row, the same for every row), bit-identical with ggml's
 * quantize_<type>(src, dst, n_rows, n_per_row, quant_weights) as
 * llama-quantize --imatrix calls it. F32, F16, BF16 and Q8_0 ignore the
 * weights (as ggml does); quant_weights NULL is nib_quantize over all rows.
 * NIB_E_UNSUPPORTED for the types nib cannot quantize this way (Q8_1, Q8_K,
 * the IQ and TQ types).
 * src and dst must be non-NULL unless n_per_row is 0; dst needs
 * n_rows * nib_type_row_bytes(type, n_per_row) bytes. Stateless, thread-safe. */
int nib_quantize_weighted(int type, const float *src, void *dst, int64_t n_per_row, int64_t n_rows,
                          const float *quant_weights, struct nib_error *err);

/* --------------------------------------------------------------- GGUF */

/* Metadata value types, numbered as in the file. */
enum nib_gguf_type {
    NIB_GGUF_UINT8   = 0,
    NIB_GGUF_INT8    = 1,
    NIB_GGUF_UINT16  = 2,
    NIB_GGUF_INT16   = 3,
    NIB_GGUF_UINT32  = 4,
    NIB_GGUF_INT32   = 5,
    NIB_GGUF_FLOAT32 = 6,
    NIB_GGUF_BOOL    = 7,
    NIB_GGUF_STRING  = 8,
    NIB_GGUF_ARRAY   = 9,
    NIB_GGUF_UINT64  = 10,
    NIB_GGUF_INT64   = 11,
    NIB_GGUF_FLOAT64 = 12,
    NIB_GGUF_TYPE_COUNT
};

const char *nib_gguf_type_name(int type); /* "u32", "str", "arr", ... */

/*
 * A metadata value. Scalars are decoded; strings are NUL-terminated copies
 * (GGUF strings may contain NUL bytes: use `len`). Arrays:
 *  - numeric/bool element types: `data` points at the raw little-endian
 *    elements (possibly unaligned): read them with nib_gguf_array_*.
 *  - string and array element types: `data` points at `n` struct nib_gguf_value.
 * All pointers live as long as the owning nib_gguf (or writer).
 */
struct nib_gguf_value {
    enum nib_gguf_type type;
    union {
        uint64_t u64;   /* UINT8/16/32/64 */
        int64_t  i64;   /* INT8/16/32/64 */
        double   f64;   /* FLOAT32/64 */
        bool     b;     /* BOOL */
        struct { const char *ptr; uint64_t len; } str;
        struct { enum nib_gguf_type type; uint64_t n; const void *data; } arr;
    } v;
};

/* Element i of an array value, converted. Returns NIB_E_TYPE when the
 * element type does not convert (string, array), NIB_E_ARG when i >= n. */
int nib_gguf_array_get_i64(const struct nib_gguf_value *arr, uint64_t i, int64_t *out);
int nib_gguf_array_get_f64(const struct nib_gguf_value *arr, uint64_t i, double *out);
/* Element i of an array of strings or arrays. NULL when out of range/wrong type. */
const struct nib_gguf_value *nib_gguf_array_get_value(const struct nib_gguf_value *arr, uint64_t i);

struct nib_gguf_tensor {
    const char   *name;
    enum nib_type type;
    uint32_t      n_dims;     /* 1..4 */
    int64_t       ne[4];      /* ne[0] is the row length; unused dims are 1 */
    int64_t       n_elements;
    uint64_t      offset;     /* from the start of the data section */
    uint64_t      n_bytes;
    const void   *data;       /* points into the mapped file; never copied */
};

struct nib_gguf;  /* an opened, validated file (immutable) */

struct nib_gguf_params {
    uint64_t max_tensors;     /* cap before allocating; default 1<<20 */
    uint64_t max_kv;          /* default 1<<20 */
    uint64_t max_array_depth; /* nested arrays; default 8 */
};
struct nib_gguf_params nib_gguf_default_params(void);

/* Open and validate a file (mmapped, read-only). params may be NULL. */
int  nib_gguf_open(const char *path, const struct nib_gguf_params *params,
                   struct nib_gguf **out, struct nib_error *err);
/* Validate a buffer in memory; the buffer must outlive the handle (no copy). */
int  nib_gguf_open_memory(const void *data, size_t size,
                          const struct nib_gguf_params *params,
                          struct nib_gguf **out, struct nib_error *err);
void nib_gguf_free(struct nib_gguf *g);

uint32_t nib_gguf_version(const struct nib_gguf *g);
uint64_t nib_gguf_alignment(const struct nib_gguf *g);
uint64_t nib_gguf_data_offset(const struct nib_gguf *g);  /* start of tensor data */
uint64_t nib_gguf_file_size(const struct nib_gguf *g);
const void *nib_gguf_file_data(const struct nib_gguf *g); /* the whole mapping */

int64_t nib_gguf_n_kv(const struct nib_gguf *g);
const char *nib_gguf_kv_key(const struct nib_gguf *g, int64_t i);
const struct nib_gguf_value *nib_gguf_kv_value(const struct nib_gguf *g, int64_t i);
int64_t nib_gguf_find_kv(const struct nib_gguf *g, const char *key); /* -1: absent */
const struct nib_gguf_value *nib_gguf_get(const struct nib_gguf *g, const char *key);

/* Typed lookups: NIB_E_NOT_FOUND when absent, NIB_E_TYPE when the stored type
 * does not convert losslessly (any integer type converts to i64/u64 when in
 * range; FLOAT32/64 to f64). */
int nib_gguf_get_u64(const struct nib_gguf *g, const char *key, uint64_t *out, struct nib_error *err);
int nib_gguf_get_i64(const struct nib_gguf *g, const char *key, int64_t *out, struct nib_error *err);
int nib_gguf_get_f64(const struct nib_gguf *g, const char *key, double *out, struct nib_error *err);
int nib_gguf_get_bool(const struct nib_gguf *g, const char *key, bool *out, struct nib_error *err);
int nib_gguf_get_str(const struct nib_gguf *g, const char *key, const char **out, struct nib_error *err);

int64_t nib_gguf_n_tensors(const struct nib_gguf *g);
const struct nib_gguf_tensor *nib_gguf_get_tensor(const struct nib_gguf *g, int64_t i);
int64_t nib_gguf_find_tensor(const struct nib_gguf *g, const char *name); /* -1: absent */

/* ----------------------------------------------------------- GGUF writer */

/*
 * Streaming writer. Order of calls:
 *   open -> set_kv* -> add_tensor* -> write_header -> write_data* -> close
 * write_data appends bytes to the tensors in the order they were added (any
 * chunking); padding is inserted automatically. Output goes to a temporary
 * file next to `path`, renamed onto `path` only by a successful close;
 * nib_gguf_writer_free without close removes the temporary file.
 */
struct nib_gguf_writer;

int  nib_gguf_writer_open(const char *path, uint32_t alignment,
                          struct nib_gguf_writer **out, struct nib_error *err);
/* Deep-copies the value. A key set twice is an error. `general.alignment`
 * must agree with the writer's alignment. */
int  nib_gguf_writer_set_kv(struct nib_gguf_writer *w, const char *key,
                            const struct nib_gguf_value *v, struct nib_error *err);
int  nib_gguf_writer_set_u32(struct nib_gguf_writer *w, const char *key, uint32_t v, struct nib_error *err);
int  nib_gguf_writer_set_f32(struct nib_gguf_writer *w, const char *key, float v, struct nib_error *err);
int  nib_gguf_writer_set_str(struct nib_gguf_writer *w, const char *key, const char *v, struct nib_error *err);
int  nib_gguf_writer_add_tensor(struct nib_gguf_writer *w, const char *name, enum nib_type type,
                                uint32_t n_dims, const int64_t *ne, struct nib_error *err);
int  nib_gguf_writer_write_header(struct nib_gguf_writer *w, struct nib_error *err);
int  nib_gguf_writer_write_data(struct nib_gguf_writer *w, const void *data, size_t n,
                                struct nib_error *err);
int  nib_gguf_writer_close(struct nib_gguf_writer *w, struct nib_error *err);
void nib_gguf_writer_free(struct nib_gguf_writer *w);


/* ------------------------------------------------------------ tokenizer */

/*
 * A vocabulary read from GGUF metadata (`tokenizer.ggml.*`): SentencePiece
 * (`llama`) or byte-level BPE (`gpt2`) with the pre-tokenizer named by
 * `tokenizer.ggml.pre`, tokenizing exactly as llama.cpp does. Immutable after
 * load: any number of threads may tokenize with one vocab at once. It copies
 * what it needs, so the nib_gguf may be freed after nib_vocab_load.
 */
struct nib_vocab;

enum nib_vocab_kind {
    NIB_VOCAB_SPM = 1, /* SentencePiece: score-ordered merges, byte fallback */
    NIB_VOCAB_BPE = 2, /* byte-level BPE: regex pre-split, rank-ordered merges */
};

/* Token attributes, as llama.cpp derives them from tokenizer.ggml.token_type. */
enum nib_token_attr {
    NIB_TOKEN_ATTR_UNKNOWN      = 1 << 0,
    NIB_TOKEN_ATTR_UNUSED       = 1 << 1,
    NIB_TOKEN_ATTR_NORMAL       = 1 << 2,
    NIB_TOKEN_ATTR_CONTROL      = 1 << 3,
    NIB_TOKEN_ATTR_USER_DEFINED = 1 << 4,
    NIB_TOKEN_ATTR_BYTE         = 1 << 5,
    NIB_TOKEN_ATTR_LSTRIP       = 1 << 7,
    NIB_TOKEN_ATTR_RSTRIP       = 1 << 8,
};

/* Special-token roles; nib_vocab_special returns -1 where the vocab has none. */
enum nib_special {
    NIB_SPECIAL_BOS, NIB_SPECIAL_EOS, NIB_SPECIAL_EOT, NIB_SPECIAL_EOM, NIB_SPECIAL_UNK,
    NIB_SPECIAL_SEP, NIB_SPECIAL_PAD, NIB_SPECIAL_MASK, NIB_SPECIAL_NL,
    NIB_SPECIAL_FIM_PRE, NIB_SPECIAL_FIM_SUF, NIB_SPECIAL_FIM_MID, NIB_SPECIAL_FIM_PAD,
    NIB_SPECIAL_FIM_REP, NIB_SPECIAL_FIM_SEP,
    NIB_SPECIAL_COUNT
};

int  nib_vocab_load(const struct nib_gguf *g, struct nib_vocab **out, struct nib_error *err);
void nib_vocab_free(struct nib_vocab *v);

enum nib_vocab_kind nib_vocab_kind(const struct nib_vocab *v);
int32_t     nib_vocab_n_tokens(const struct nib_vocab *v);
int64_t     nib_vocab_n_merges(const struct nib_vocab *v); /* BPE merge rules; 0 for SPM */
const char *nib_vocab_pre_name(const struct nib_vocab *v); /* "default", "llama-bpe", ... */
int32_t     nib_vocab_special(const struct nib_vocab *v, enum nib_special which);
bool        nib_vocab_add_bos(const struct nib_vocab *v);
bool        nib_vocab_add_eos(const struct nib_vocab *v);
/* End of generation: every token llama.cpp stops at (EOS, EOT, EOM, <|im_end|>, ...). */
bool        nib_vocab_is_eog(const struct nib_vocab *v, int32_t id);
int32_t     nib_vocab_n_eog(const struct nib_vocab *v);
int32_t     nib_vocab_eog(const struct nib_vocab *v, int32_t i); /* ascending ids */
/* Token text as stored (NUL-terminated; *len may be NULL); NULL for bad ids. */
const char *nib_vocab_token_text(const struct nib_vocab *v, int32_t id, size_t *len);
uint32_t    nib_vocab_token_attr(const struct nib_vocab *v, int32_t id);
float       nib_vocab_token_score(const struct nib_vocab *v, int32_t id);

enum nib_tokenize_flags {
    NIB_TOKENIZE_ADD_SPECIAL   = 1 << 0, /* BOS/EOS as the vocab says (add_bos_token, ...) */
    NIB_TOKENIZE_PARSE_SPECIAL = 1 << 1, /* special-token text in the input becomes that token */
};

/*
 * Tokenizes text[0..len) (any bytes; invalid UTF-8 is handled as llama.cpp
 * does). Writes up to `cap` ids and returns the total number of ids (which
 * may exceed cap: call again with a larger buffer), or a negative status.
 * len + 3 ids always suffice.
 */
int64_t nib_tokenize(const struct nib_vocab *v, const char *text, size_t len, uint32_t flags,
                     int32_t *ids, int64_t cap, struct nib_error *err);

enum nib_detokenize_flags {
    NIB_DETOKENIZE_REMOVE_SPECIAL = 1 << 0, /* drop a leading BOS / trailing EOS the vocab adds */
    NIB_DETOKENIZE_RENDER_SPECIAL = 1 << 1, /* print control tokens' text (else hidden) */
};

/* The bytes of one token (llama.cpp's token_to_piece). Returns the length
 * (writing at most cap bytes, no NUL) or a negative status for a bad id. */
int64_t nib_token_to_piece(const struct nib_vocab *v, int32_t id, uint32_t flags, char *buf, int64_t cap);

/* Text of a token sequence, as llama.cpp's detokenize (leading-space and
 * clean-up rules included). Returns the full length; writes at most cap bytes
 * and NUL-terminates when cap > length. Negative status for a bad id. */
int64_t nib_detokenize(const struct nib_vocab *v, const int32_t *ids, int64_t n, uint32_t flags,
                       char *buf, int64_t cap, struct nib_error *err);

/*
 * Streaming UTF-8 assembly for printing tokens as they are generated: bytes
 * go in in any chunks; only complete, valid UTF-8 comes out. Each ill-formed
 * sequence (maximal subpart, as the Unicode standard recommends) becomes one
 * U+FFFD, as a terminal expects. Output is identical however the input is
 * split. Zero-initialize before use.
 */
struct nib_utf8_stream {
    unsigned char pending[4];
    int           n_pending;
};
/* Appends to out (which needs 3 * (n + 4) bytes of room); returns bytes written. */
size_t nib_utf8_stream_push(struct nib_utf8_stream *s, const char *bytes, size_t n, char *out);
/* Ends the stream: any incomplete sequence becomes U+FFFD. out needs 12 bytes. */
size_t nib_utf8_stream_finish(struct nib_utf8_stream *s, char *out);

/* ----------------------------------------------------------------- cpu */

/* The CPU kernel variant in use ("ref", "avx2", "avx512", "neon"), chosen once
 * from the CPU's features; NIB_CPU=ref|avx2|avx512|neon forces one. */
const char *nib_cpu_backend(void);
/* Why a forced NIB_CPU value was not used, or NULL. */
const char *nib_cpu_backend_note(void);

/* ---------------------------------------------------------------- model */

/*
 * A model: hyperparameters, weight views into the mmapped GGUF file (never
 * copied), and its vocabulary. Immutable after load: any number of contexts
 * and threads may share one model. Architectures: llama (dense or Mixtral-style MoE), qwen2, qwen3, qwen3moe.
 */
struct nib_model;

struct nib_model_params {
    /* false (default): weights the CPU kernels read as stored stay mapped
     * from the file, but for the repacked Q4_0/Q4_K copies and Q8_0
     * matrices, which are copied either way (onto huge pages: faster decode).
     * true: every matmul weight is copied into anonymous memory on huge
     * pages where the system gives them, and the file's pages are released
     * (llama.cpp's --no-mmap): a load-time copy for faster decode of the
     * other types (K-quants but Q4_K, Q4_1/Q5_x, floats). */
    bool no_mmap;
};
struct nib_model_params nib_model_default_params(void);

int  nib_model_load(const char *path, const struct nib_model_params *params, struct nib_model **out,
                    struct nib_error *err);
void nib_model_free(struct nib_model *m);

const struct nib_vocab *nib_model_vocab(const struct nib_model *m);
const struct nib_gguf  *nib_model_gguf(const struct nib_model *m);
const char *nib_model_arch(const struct nib_model *m);
int32_t     nib_model_n_vocab(const struct nib_model *m);
int32_t     nib_model_n_ctx_train(const struct nib_model *m);
int32_t     nib_model_n_embd(const struct nib_model *m);
int32_t     nib_model_n_layer(const struct nib_model *m);
uint64_t    nib_model_n_params(const struct nib_model *m);
uint64_t    nib_model_weight_bytes(const struct nib_model *m);
/* Weight bytes one decode step reads: every matmul weight (embeddings: one
 * row; MoE experts: the n_expert_used a token is routed to). */
uint64_t    nib_model_decode_bytes(const struct nib_model *m);
/* MoE: experts per layer and experts each token uses (0 and 0 for a dense
 * model), and the parameters one token uses (all of them when dense). */
int32_t     nib_model_n_expert(const struct nib_model *m);
int32_t     nib_model_n_expert_used(const struct nib_model *m);
uint64_t    nib_model_n_params_active(const struct nib_model *m);

/* -------------------------------------------------------------- context */

/*
 * A context: everything mutable for running a model — the KV cache, the
 * activation buffers, the logits of the last batch. One context belongs to
 * one thread at a time (it may use several worker threads internally).
 */
struct nib_context;

struct nib_context_params {
    int32_t n_ctx;     /* KV cache size in tokens; 0: the model's training context */
    int32_t n_batch;   /* most tokens per nib_decode call; 0: min(n_ctx, 512) */
    int32_t n_threads; /* 0: the number of physical cores */
    int32_t kv_block;  /* KV cache block size in tokens; 0: 16 */
    int32_t kv_type;   /* KV cache type: 0 or NIB_TYPE_F16 (default), NIB_TYPE_Q8_0 (half the memory;
                          head dims must be multiples of 32) */
    int32_t n_gpu_layers; /* the first N layers (all: N >= n_layer, the head too) on the CUDA device;
                             0 (default): CPU only. Needs a build with -DNIB_CUDA=ON and a device;
                             dense models, F16 KV (a clear error otherwise) */
    /* Called while the GPU layers' weights are uploaded, with the bytes done
     * and the total (the last call has done == total); NULL: none. */
    void (*gpu_progress)(uint64_t done, uint64_t total, void *user);
    void *gpu_progress_user;
};
struct nib_context_params nib_context_default_params(void);

int  nib_context_new(const struct nib_model *m, const struct nib_context_params *params, struct nib_context **out,
                     struct nib_error *err);
void nib_context_free(struct nib_context *c);

int32_t nib_context_n_ctx(const struct nib_context *c);
int32_t nib_context_n_batch(const struct nib_context *c);
int32_t nib_context_n_threads(const struct nib_context *c);
const struct nib_model *nib_context_model(const struct nib_context *c);
uint64_t nib_context_kv_bytes(const struct nib_context *c);
uint64_t nib_context_compute_bytes(const struct nib_context *c);
/* Device bytes a context with these parameters would take on the GPU (0 in
 * a build without CUDA or with n_gpu_layers 0), for printing before loading. */
uint64_t nib_context_gpu_bytes(const struct nib_model *m, const struct nib_context_params *p);

/* The CUDA device nib uses (device 0): name, compute capability, multiprocessors,
 * memory. NIB_E_UNSUPPORTED in a build without CUDA or when no device is
 * present (the message says which). */
struct nib_gpu_info {
    char     name[256];
    int32_t  cc_major, cc_minor, sm_count;
    uint64_t total_bytes, free_bytes;
};
int nib_gpu_info(struct nib_gpu_info *out, struct nib_error *err);
/* Measures that device's copy bandwidth (GB/s of a device-to-device copy of
 * 1 GiB, bytes read and written both counted, best of five): the physical
 * limit GPU decode is measured against. NIB_E_UNSUPPORTED as nib_gpu_info. */
int nib_gpu_copy_gbps(double *gbps, struct nib_error *err);

/*
 * A batch: n tokens, each with its position, its sequence and whether its
 * logits are wanted. Prefill, decode and (later) multi-sequence serving and
 * speculative verification are all one call. pos and seq may be NULL
 * (positions continue the sequence, sequence 0); logits NULL = last token only.
 */
struct nib_batch {
    int32_t        n;
    const int32_t *tokens;
    const int32_t *pos;
    const int32_t *seq;
    const int8_t  *logits;
    uint32_t       flags;  /* enum nib_batch_flags; 0 = a plain batch */
};

/*
 * NIB_BATCH_ROW_EXACT: every row is computed with the kernels a one-token
 * batch uses, so its logits and its K/V are bit-identical to decoding that
 * token alone after the same history, whatever else is in the batch. The
 * weights are still read once per batch where the kernels allow (repacked
 * matrices and the 4-token dot kernels); float matrices and attention go row
 * by row. For verifying drafted tokens (speculative decoding gives exactly
 * the tokens plain decoding gives) and for serving sequences whose results
 * must not depend on their batch-mates. A plain batch (prompts) uses the
 * batch kernels, whose float order differs in the last bits (on CPUs with
 * AMX, Q4_1, Q5_0, Q5_1, Q5_K and Q6_K matrices take int8 tiles: each
 * block's integer sum exact, the blocks added in their own order); and on
 * CPUs with AMX-BF16, from 96 rows on, Q8_0, Q2_K..Q6_K matrices round each
 * weight and activation value to bf16 (kernels/cpu/gemm_bf16_amx.h: up to
 * 2^-7 of the sum of a product's terms' magnitudes; about twice as fast).
 * and their attention runs on bf16 tiles too (each fp16 value split into
 * two bf16 values: about fp32's accuracy, another summation order).
 * NIB_BATCH_INT_GEMM: a plain batch that keeps the integer kernels (and
 * llama.cpp's attention order) where the bf16 tiles would be used; for
 * measurements that compare with llama.cpp to better than that (nib
 * perplexity's KL divergence).
 */
enum nib_batch_flags { NIB_BATCH_ROW_EXACT = 1, NIB_BATCH_EMBEDDINGS = 2, NIB_BATCH_INT_GEMM = 4 };
/*
 * NIB_BATCH_EMBEDDINGS: the rows that ask for output get their final hidden
 * state (after the output norm, n_embd floats; nib_context_embedding) instead
 * of logits, and the output matrix is not computed. Mean-pool and normalize
 * them for a sentence embedding.
 */

/* Runs the batch. NIB_OK; NIB_KV_FULL when the cache cannot hold it (nothing
 * is changed); or an error (bad token id, positions not continuing the
 * sequence, batch larger than n_batch). */
int nib_decode(struct nib_context *c, const struct nib_batch *batch, struct nib_error *err);
/* Logits of the i-th token of the last batch that asked for them (in batch
 * order), n_vocab floats; NULL when that token did not ask. */
const float *nib_context_logits(const struct nib_context *c, int32_t i);
/* The final hidden state of the i-th token of the last batch, when that
 * batch had NIB_BATCH_EMBEDDINGS and the token asked for output; NULL otherwise. */
const float *nib_context_embedding(const struct nib_context *c, int32_t i);
/* Number of tokens in a sequence's KV cache. */
int32_t nib_context_seq_len(const struct nib_context *c, int32_t seq);
/* Drops tokens at positions >= n of a sequence (n = 0 clears it); whole KV
 * blocks past them return to the pool. */
int nib_context_seq_truncate(struct nib_context *c, int32_t seq, int32_t n, struct nib_error *err);
/* Makes sequence dst (cleared first) a copy of src that shares src's KV
 * blocks: nothing is copied until one of them writes into a shared, partly
 * filled block (copy-on-write). */
int nib_context_seq_fork(struct nib_context *c, int32_t dst, int32_t src, struct nib_error *err);
/* Prefix caching: full KV blocks are remembered by the tokens up to their
 * end, and stay cached after their sequences let them go until the pool
 * needs them (least recently released first). For an empty sequence about
 * to take tokens[0..n), maps the longest run of cached leading blocks
 * (token for token the same prefix; at least one token is left to compute)
 * and returns the number of positions it now holds: decode tokens[ret..n)
 * next. -1 on a bad argument (err says which). */
int32_t nib_context_seq_reuse_prefix(struct nib_context *c, int32_t seq, const int32_t *tokens, int32_t n,
                                     struct nib_error *err);
/* KV blocks in use and in the pool, and their size in tokens (any may be NULL). */
void nib_context_kv_blocks(const struct nib_context *c, int32_t *used, int32_t *total, int32_t *block_size);

/* -------------------------------------------------------------- sampler */

/*
 * Picking the next token from logits: llama.cpp's default chain (logit bias
 * -> penalties -> top-k -> typical-p -> top-p -> min-p -> temperature ->
 * draw), seeded mt19937 (same seed, same draws on any machine and thread
 * count). A sampler is mutable: one sequence, one thread at a time.
 * Semantics and the few deliberate differences from llama.cpp are listed in
 * engine/sampler.h.
 */
#define NIB_SAMPLER_DEFAULT_SEED       42u
#define NIB_SAMPLER_MAX_PENALTY_LAST_N 131072 /* cap for penalty_last_n, used by -1 */

struct nib_sampler;

struct nib_logit_bias {
    int32_t token;
    float   bias; /* added to the logit; -INFINITY bans the token */
};

struct nib_sampler_params {
    float    temperature;       /* <= 0: greedy. default 0.8 */
    int32_t  top_k;             /* <= 0: off. default 40 */
    float    top_p;             /* (0, 1]; 1: off. default 0.95 */
    float    min_p;             /* [0, 1]; 0: off. default 0.05 */
    float    typical_p;         /* (0, 1]; 1: off. default 1.0 */
    float    repeat_penalty;    /* > 0; 1: off. default 1.0 */
    float    frequency_penalty; /* 0: off. default 0 */
    float    presence_penalty;  /* 0: off. default 0 */
    int32_t  penalty_last_n;    /* window of accepted tokens; 0: off; -1: all (capped). default 64 */
    uint64_t seed;              /* default NIB_SAMPLER_DEFAULT_SEED */
    const struct nib_logit_bias *logit_bias; /* n_logit_bias entries, copied at init */
    int32_t  n_logit_bias;
};

struct nib_sampler_params nib_sampler_default_params(void);

/* Validates params (NULL: defaults) against n_vocab and creates a sampler. */
int  nib_sampler_init(const struct nib_sampler_params *params, int32_t n_vocab,
                      struct nib_sampler **out, struct nib_error *err);
void nib_sampler_free(struct nib_sampler *s);

/* Picks the next token from logits[n_vocab] (not modified). Returns the id,
 * or a negative status (NIB_E_ARG: NULL logits, a +INFINITY logit, or every
 * logit -INFINITY/NaN after bias and penalties). Does not accept the token. */
int32_t nib_sampler_sample(struct nib_sampler *s, const float *logits, struct nib_error *err);

/* Records a token as generated, for the penalties; call it for prompt tokens
 * too if they should count. Ids outside [0, n_vocab) are ignored. */
void nib_sampler_accept(struct nib_sampler *s, int32_t token);

/* Clears the history and reseeds: the next draws repeat those after init. */
void nib_sampler_reset(struct nib_sampler *s);

/* The distribution the last sample was drawn from, after every filter and the
 * temperature: *ids and *probs point at n entries (the return value) owned by
 * the sampler, valid until the next sample/reset/free; probabilities sum to 1.
 * Order: the draw's walk order, i.e. descending logit when top-k or top-p is
 * on, typical-p's order when only it sorts, otherwise ascending id. After a
 * greedy sample: the chosen token alone, probability 1. 0 before any sample
 * and after a failed one. */
int32_t nib_sampler_last_candidates(const struct nib_sampler *s, const int32_t **ids,
                                    const float **probs);

/* -------------------------------------------------------- chat templates */

/*
 * Chat templates: the Jinja source a model ships in `tokenizer.chat_template`
 * (or a built-in one) rendered for a conversation, as Hugging Face's
 * apply_chat_template renders it with Jinja2 (byte-identical output for the
 * templates of the common model families). The interpreter covers the Jinja
 * subset chat templates use: {{ }}, {% if/elif/else %}, {% for %} (loop.*,
 * else), {% set %} (namespace() included), {% macro %}, whitespace control
 * ({%- -%}, trim_blocks/lstrip_blocks as apply_chat_template sets them),
 * expressions (arithmetic, comparisons, `in`, `is` tests, `~`, slicing,
 * ternary if/else), filters (trim, length, upper, lower, tojson, join, ...)
 * and string/dict methods (strip, startswith, split, items, get, ...);
 * raise_exception(msg) fails the render with msg.
 */
struct nib_chat_message {
    const char *role;    /* "system", "user", "assistant", ... */
    const char *content;
};

/* Renders `source` for msgs[0..n) into *out (malloc'd, NUL-terminated; the
 * caller frees it). Variables the template sees: messages (role/content
 * dicts), add_generation_prompt, bos_token, eos_token (NULL: ""). Errors
 * (NIB_E_FORMAT for a template nib cannot parse or that raises) name the
 * line and the problem; *out is NULL then. */
int nib_chat_template_apply(const char *source, const struct nib_chat_message *msgs, size_t n,
                            bool add_generation_prompt, const char *bos_token, const char *eos_token,
                            char **out, struct nib_error *err);

/* The Jinja source of a built-in template by name (chatml, llama2, llama3,
 * mistral-v1, mistral-v3, mistral-v7, mistral-tekken, phi3, gemma, zephyr,
 * deepseek, smollm), or NULL; nib_chat_template_names() lists them,
 * comma-separated, for messages. */
const char *nib_chat_template_builtin(const char *name);
const char *nib_chat_template_names(void);

/* ---------------------------------------------------- speculative decoding */

/*
 * Speculative decoding: a small draft model (or n-gram lookup in the text
 * so far) proposes up to K tokens, the target scores them all in one
 * row-exact batch (NIB_BATCH_ROW_EXACT) and keeps the longest run it agrees
 * with, plus one token of its own. Greedy (temperature <= 0): the output is
 * identical to the target decoding alone. Sampling: a drafted token d is
 * kept with probability min(1, p(d)/q(d)) (p, q: the target's and the
 * draft's distributions after their samplers' filters), on rejection the
 * token is drawn from norm(max(0, p - q)) (Leviathan et al. 2023), so the
 * output follows the target's distribution. Rejected tails are truncated
 * from both KV caches. K adapts: from the recent acceptance rate and the
 * measured draft/target cost, the K with the best expected tokens per unit
 * of time, and plain one-token steps when speculation would not pay.
 * Both contexts use sequence `seq` (default 0), so one pair of contexts can
 * serve one speculation per sequence (nib serve: one per slot).
 */
struct nib_spec_params {
    int32_t  draft_max; /* K at most (default 16) */
    int32_t  draft_min; /* K at least when drafting (default 0: adaptive may turn drafting off) */
    float    p_min;     /* drafting stops when the draft's top probability is below this (default 0.75) */
    int32_t  lookup;    /* no draft model: propose what followed the last match of this many tokens (default 3) */
    bool     greedy;    /* the target samples greedily (exact-match acceptance) */
    uint64_t seed;      /* acceptance draws */
    int32_t  seq;       /* the sequence used in both contexts (default 0) */
    uint32_t prompt_flags; /* nib_batch flags of the target's prompt batches (default 0; the server:
                              NIB_BATCH_ROW_EXACT, as its other sequences) */
};
struct nib_spec_params nib_spec_default_params(void);

struct nib_spec_stats {
    int64_t steps;          /* target passes */
    int64_t drafted;        /* tokens proposed */
    int64_t accepted;       /* proposals kept */
    int64_t judged;         /* proposals the target judged: the kept ones and each first rejected one
                               (the rest of a rejected draft is never looked at). accepted / judged
                               is the per-token acceptance rate, the a of (1 - a^(K+1)) / (1 - a) */
    int64_t emitted;        /* tokens returned */
    double  t_draft, t_target; /* seconds spent proposing / verifying */
};

struct nib_spec;

/* Whether a draft vocabulary can stand in for the target's: same kind,
 * same BOS/EOS and add-BOS/EOS rules, at most 128 ids more or fewer, and
 * the same text for every id both have. The error names the first difference. */
int nib_spec_check_vocab(const struct nib_vocab *target, const struct nib_vocab *draft, struct nib_error *err);

/* draft may be NULL (n-gram lookup). The contexts stay owned by the caller;
 * sequence 0 of each is the speculation's (what they hold is reused only
 * through nib_spec_prompt's common prefix). */
int  nib_spec_new(struct nib_context *target, struct nib_context *draft, const struct nib_spec_params *p,
                  struct nib_spec **out, struct nib_error *err);
void nib_spec_free(struct nib_spec *s);
/* Brings the target to tokens[0..n) (the prompt, or a whole conversation
 * so far): what it already holds of them is kept (the common prefix with
 * the tokens given and generated before; for an empty sequence, the cached
 * prefix blocks nib_context_seq_reuse_prefix finds), the rest decoded in
 * n_batch pieces; the draft catches up lazily. The next nib_spec_next samples from
 * the last token's logits, so it must come before any other nib_decode on
 * the target context. nib_spec_reused: the prefix kept by the last call. */
int  nib_spec_prompt(struct nib_spec *s, const int32_t *tokens, int32_t n, struct nib_error *err);
int32_t nib_spec_reused(const struct nib_spec *s);
/* The next tokens (at least 1, at most cap; fewer when the context is
 * nearly full: 0 when it is full). target_sampler draws the target's tokens
 * (and its accept() sees every emitted token); draft_sampler the draft's
 * (NULL: greedy proposals). Returns the count or a negative status. */
int32_t nib_spec_next(struct nib_spec *s, struct nib_sampler *target_sampler, struct nib_sampler *draft_sampler,
                      int32_t *out, int32_t cap, struct nib_error *err);
void nib_spec_get_stats(const struct nib_spec *s, struct nib_spec_stats *out);
/* New sampling settings between calls (greedy or not, the acceptance
 * draws' seed); what the contexts hold stays usable. */
int  nib_spec_set_sampling(struct nib_spec *s, bool greedy, uint64_t seed, struct nib_error *err);

#ifdef __cplusplus
}
#endif
#endif /* NIB_H */
