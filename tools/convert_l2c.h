/*
 * convert_l2c.h — `nib convert` of a llama2.c checkpoint (legacy, version 1
 * or version 2; l2c_checkpoint.c reads them) with its tokenizer.bin to a
 * GGUF llama model, as llama.cpp's convert-llama2c-to-ggml writes it: the
 * same metadata keys in the same order, the same tensor names and order, the
 * vocabulary with its scores and llama.cpp's token types (stories260K.bin +
 * tok512.bin with ctx 2048 gives the published stories260K-f32.gguf byte for
 * byte). context_length is the checkpoint's seq_len unless ctx says
 * otherwise (llama.cpp's tool takes it from its own option, 128 by default).
 * Matrices in outtype (Q8_0 rows not a multiple of 32 -> F16), norms F32;
 * general.file_type only for the non-F32 types. Written to a temporary file
 * renamed when complete; verify re-reads it and compares every tensor's
 * CRC32. The caller checks the paths (output not an input, --force).
 */
#ifndef NIB_CONVERT_L2C_H
#define NIB_CONVERT_L2C_H

#include "nib.h"

#include <stdbool.h>
#include <stdint.h>

struct l2c_convert_opts {
    const char   *tokenizer; /* tokenizer.bin (required) */
    int32_t       ctx;       /* 0: the checkpoint's seq_len */
    enum nib_type outtype;   /* F32, F16, BF16 or Q8_0 */
    bool          verify, progress, dry_run;
};

/* Prints its errors (one line) and returns the exit code (0 or 1). */
int l2c_convert(const char *src, const char *out, const struct l2c_convert_opts *o);

#endif
