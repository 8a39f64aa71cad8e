/*
 * gguf.h — GGUF file layout and the parsed representation (internal).
 *
 * Byte layout (little-endian, versions 2 and 3 are identical on disk):
 *   char     magic[4]   = "GGUF"
 *   uint32   version    (2 or 3; 1 used 32-bit counts and is not supported)
 *   uint64   n_tensors
 *   uint64   n_kv
 *   n_kv x   { string key; uint32 value_type; value }
 *   n_tensors x { string name; uint32 n_dims; int64 ne[n_dims];
 *                 uint32 type; uint64 offset }
 *   padding to `alignment` (general.alignment, a uint32 power of two; default 32)
 *   tensor data: tensor i at data_start + offset_i, where offset_0 = 0 and
 *                offset_{i+1} = align(offset_i + n_bytes_i)
 * where string = { uint64 len; char bytes[len] } (not NUL-terminated) and
 * value = scalar of the type's width (bool = 1 byte, 0 or 1), a string, or
 * an array { uint32 elem_type; uint64 n; n x value } (arrays may nest).
 *
 * Ownership: a struct nib_gguf owns its mapping (or borrows a caller buffer),
 * its metadata arena and its tables. Immutable after nib_gguf_open: any number
 * of threads may read it. Tensor data pointers point into the mapping.
 */
#ifndef NIB_GGUF_H
#define NIB_GGUF_H

#include "nib.h"
#include "arena.h"

#define NIB_GGUF_MAGIC             "GGUF"
#define NIB_GGUF_DEFAULT_ALIGNMENT 32
#define NIB_GGUF_MAX_DIMS          4
#define NIB_GGUF_KEY_ALIGNMENT     "general.alignment"

struct nib_gguf_kv {
    const char           *key;   /* NUL-terminated copy */
    uint64_t              key_len;
    struct nib_gguf_value value;
};

struct nib_gguf {
    const uint8_t *data;        /* the whole file */
    uint64_t       size;
    bool           mapped;      /* true: munmap on free */

    uint32_t version;
    uint64_t alignment;
    uint64_t data_offset;       /* absolute offset of the tensor data section */

    int64_t                 n_kv;
    struct nib_gguf_kv     *kv;
    int64_t                 n_tensors;
    struct nib_gguf_tensor *tensors;

    struct nib_arena arena;
};

/* Size in bytes of a scalar value type; 0 for STRING, ARRAY and invalid. */
uint64_t nib_gguf_scalar_size(int type);

/* Parses and validates g->data[0..g->size) into g (gguf_reader.c). On error
 * g holds partial tables that nib_gguf_free releases. */
int nib_gguf_parse(struct nib_gguf *g, const struct nib_gguf_params *params, struct nib_error *err);

#endif
