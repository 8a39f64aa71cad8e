/*
 * type_traits.h — the one table that describes every tensor type.
 *
 * For each ggml type id: block size, bytes per block, and for the types nib
 * computes with, the scalar reference functions:
 *   to_float   dequantize n elements (n % block_size == 0); bit-exact with ggml
 *   from_float quantize n floats (reference rounding, bit-exact with ggml's
 *              quantize_row_*_ref); NULL where nib does not quantize to it yet
 *   from_float_weighted
 *              quantize ONE row of n floats with importance weights qw[n]
 *              (non-NULL), bit-exact with what ggml's quantize_<type> does
 *              with quant_weights (it ignores them for F32/F16/BF16/Q8_0);
 *              NULL where ggml has no such quantizer (Q8_1, Q8_K)
 *   vec_dot    dot product of one weight row of this type with one activation
 *              row already quantized to `vec_dot_type` (the partner type);
 *              n is the row length in elements
 * The table is immutable static data: safe from any thread.
 * Later layers (kernels/cpu, kernels/cuda) provide faster variants and are
 * tested against these.
 */
#ifndef NIB_TYPE_TRAITS_H
#define NIB_TYPE_TRAITS_H

#include "nib.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef void (*nib_to_float_fn)(const void *src, float *dst, int64_t n);
typedef void (*nib_from_float_fn)(const float *src, void *dst, int64_t n);
typedef void (*nib_from_float_weighted_fn)(const float *src, void *dst, int64_t n, const float *qw);
typedef void (*nib_vec_dot_fn)(int64_t n, float *out, const void *x /* weights */,
                               const void *y /* activations, partner type */);

struct nib_type_traits {
    const char       *name;
    int64_t           block_size;   /* 0: not a valid type id */
    size_t            block_bytes;
    bool              is_quantized;
    nib_to_float_fn   to_float;
    nib_from_float_fn from_float;
    nib_vec_dot_fn    vec_dot;
    enum nib_type     vec_dot_type;
    nib_from_float_weighted_fn from_float_weighted;
};

/* Never NULL: invalid ids get an entry with block_size 0 and no functions. */
const struct nib_type_traits *nib_type_traits(int type);

#ifdef __cplusplus
}
#endif

#endif
