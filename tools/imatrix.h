/*
 * imatrix.h — importance-matrix files for `nib quantize --imatrix`: read,
 * validate, look up.
 *
 * Reads both formats llama.cpp's llama-imatrix writes and llama-quantize
 * accepts (common/imatrix-loader.cpp, tools/quantize/quantize.cpp):
 *  - GGUF (current): per tensor <name>.in_sum2 (F32, [n_per_row, n_experts],
 *    sums of squared activations) and <name>.counts (F32, [1, n_experts],
 *    tokens seen per expert); keys imatrix.datasets (string array),
 *    imatrix.chunk_count, imatrix.chunk_size (u32) are required, as
 *    llama-quantize requires them. Weights = in_sum2 / lround(count), per
 *    expert; an expert with count 0 gets weights 1.
 *  - legacy binary (.dat, little-endian): int32 n_entries >= 1, then per
 *    entry int32 name_len, name bytes, int32 ncall, int32 nval >= 1,
 *    nval floats (already averaged and multiplied by ncall); then optionally
 *    int32 chunk_count and (int32 len, len bytes) the dataset name.
 *    Weights = value / ncall (value itself when ncall is 0).
 * A file starting with the bytes "GGUF" is read as GGUF, anything else as
 * legacy. Every entry's weights are exactly the floats llama-quantize hands
 * to ggml_quantize_chunk (same arithmetic, same order).
 *
 * Validation is strict: every length is checked against the bytes left,
 * counts are capped before allocating, values must be finite, names
 * non-empty and unique, counts and ncall non-negative; errors name the
 * entry and the values. Nothing is printed.
 *
 * Ownership: imatrix_load allocates one struct imatrix that owns all its
 * strings and arrays; imatrix_free(NULL) is a no-op. Immutable after load:
 * safe to read from any number of threads.
 */
#ifndef NIB_TOOLS_IMATRIX_H
#define NIB_TOOLS_IMATRIX_H

#include "nib.h"

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct imatrix_entry {
    char    *name;        /* the model tensor's name, e.g. "blk.0.ffn_up.weight" */
    int64_t  n_values;    /* n_per_row * n_experts */
    int64_t  n_experts;   /* GGUF: number of counts; legacy: 0 (the file does not say) */
    float   *values;      /* [n_experts][n_per_row] importance weights */
};

struct imatrix {
    struct imatrix_entry *entries;   /* sorted by name (strcmp) */
    int64_t               n_entries;
    char                **datasets;  /* names of the calibration texts */
    int64_t               n_datasets;
    uint32_t              chunk_count; /* legacy: the trailing call count, 0 when absent */
    uint32_t              chunk_size;  /* legacy: 0 */
    bool                  is_legacy;
};

int  imatrix_load(const char *path, struct imatrix **out, struct nib_error *err);
void imatrix_free(struct imatrix *im);

/* The entry for a tensor name; NULL when absent. */
const struct imatrix_entry *imatrix_find(const struct imatrix *im, const char *name);

/*
 * The weights for expert `expert` of a tensor with n_per_row columns and
 * n_experts experts (1 for a plain matrix): *out = values + expert * n_per_row,
 * n_per_row floats, as llama-quantize passes them per row. NIB_E_NOT_FOUND when
 * the file has no entry (llama-quantize then quantizes without weights),
 * NIB_E_FORMAT when its size is not n_per_row * n_experts (llama-quantize
 * refuses the model then, except for token_embd), NIB_E_ARG for a bad expert.
 */
int imatrix_lookup(const struct imatrix *im, const char *name, int64_t n_per_row, int64_t n_experts,
                   int64_t expert, const float **out, struct nib_error *err);

#ifdef __cplusplus
}
#endif

#endif
