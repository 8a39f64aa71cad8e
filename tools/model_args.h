/*
 * model_args.h — the options `nib generate` and `nib logits` share: model
 * path (default: the model in models/), prompt as text or ids, context
 * size and threads; and loading model + context from them.
 */
#ifndef NIB_MODEL_ARGS_H
#define NIB_MODEL_ARGS_H

#include "nib.h"

#include <stdbool.h>

struct model_args {
    const char *model;      /* -m */
    const char *prompt;     /* -p */
    const char *tokens;     /* --tokens 1,2,3 */
    int32_t     n_ctx;      /* -c */
    int32_t     n_threads;  /* -t */
    int32_t     kv_block;   /* --kv-block: KV cache block size in tokens, 0 = default */
    int32_t     kv_type;    /* --kv-type f16|q8_0: 0 = default (f16) */
    int32_t     n_gpu_layers; /* -ngl / --n-gpu-layers: layers on the CUDA device (0: CPU) */
    bool        no_special; /* --no-special: do not parse special-token text */
    bool        no_mmap;    /* --no-mmap: weights copied into memory (nib_model_params) */
    const char *default_name; /* the file in models/ without -m (NULL: the story model) */
};

/* Consumes argv[*i] (and its value) if it is a shared option; returns 1 if
 * consumed, 0 if not, -1 (message printed) on a bad value. */
int model_args_parse(struct model_args *a, int argc, char **argv, int *i);

struct loaded {
    struct nib_model   *model;
    struct nib_context *ctx;
    int32_t            *prompt;
    int32_t             n_prompt;
};

/* Loads the model, tokenizes the prompt (BOS as the model says) and creates
 * a context for n_needed tokens (0: the model's context or -c). Prints one
 * error line and returns 1 on failure. */
int model_args_load(const struct model_args *a, int32_t n_extra, struct loaded *out);
/* Loads the model and a context without a prompt: -c, else the model's
 * context capped at default_ctx (0: no cap). Prints one error line and
 * returns 1 on failure. */
int model_args_open(const struct model_args *a, int32_t default_ctx, struct loaded *out);
void loaded_free(struct loaded *l);

/* models/NAME from the working directory, else next to the binary
 * (build/../models); the path is written to buf. */
const char *model_args_find_model(const char *name, char *buf, size_t cap);
/* The default model: models/stories260K-q8_0.gguf, found as above. */
const char *model_args_default_model(char *buf, size_t cap);

/* Loads the model at path with the options' model parameters (--no-mmap);
 * prints one error line and returns 1 on failure. */
int model_args_load_model(const struct model_args *a, const char *path, struct nib_model **out);

/* Parses "1,2,3" into ids (prints an error and returns -1 on bad input). */
int64_t parse_token_list(const char *s, int32_t **out);
/* Strict integer / float option values. */
bool parse_i32(const char *s, int32_t lo, int32_t hi, int32_t *out);
bool parse_f32(const char *s, float lo, float hi, float *out);

#endif
