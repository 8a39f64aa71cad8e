/*
 * safetensors.h — strict reader of Hugging Face .safetensors files.
 *
 * Byte layout:
 *   u64 little-endian N                  header length
 *   N bytes of UTF-8 JSON                 { "name": { "dtype": "F32", "shape": [d0, d1, ...],
 *                                            "data_offsets": [begin, end] }, ...,
 *                                          "__metadata__": { "key": "string value", ... } }
 *   the data section                      offsets are relative to its start (8 + N)
 *
 * Validation (every failure is an error naming the tensor and the values):
 * N within the file, the header valid JSON whose top level is an object,
 * every entry an object with a known dtype (F32, F16, BF16; every other
 * safetensors dtype is refused by name), a shape of at most 8 non-negative
 * dims, begin <= end within the data section, end - begin equal to
 * product(shape) x dtype size (overflow-checked), and no two tensors'
 * byte ranges overlapping. `__metadata__` must map strings to strings.
 *
 * st_parse works on bytes in memory and never reads outside them, so it is
 * safe on arbitrary input (fuzzable). st_open maps a file read-only and
 * parses it; tensor data pointers point into the mapping, valid until
 * st_close. Nothing prints; errors come back in struct nib_error.
 * A parsed file is immutable and may be read from several threads.
 */
#ifndef NIB_SAFETENSORS_H
#define NIB_SAFETENSORS_H

#include "nib.h"

#include <stddef.h>
#include <stdint.h>

#define ST_MAX_DIMS 8

enum st_dtype { ST_F32, ST_F16, ST_BF16 };

struct st_tensor {
    char         *name;
    enum st_dtype dtype;
    int           n_dims;
    int64_t       shape[ST_MAX_DIMS]; /* row-major, shape[n_dims-1] is the row length */
    int64_t       n_elems;
    const uint8_t *data;              /* n_bytes at this address */
    uint64_t      n_bytes;
};

struct st_meta {
    char *key, *value;
};

struct st_file {
    char             *path;   /* NULL for st_parse */
    void             *map;    /* mmap base (st_open) */
    size_t            size;
    struct st_tensor *tensors; /* in header order */
    int64_t           n_tensors;
    struct st_meta   *meta;
    int64_t           n_meta;
};

size_t st_dtype_size(enum st_dtype t);
const char *st_dtype_name(enum st_dtype t);

/* Parses size bytes at data (not copied: must outlive *out). name is used in
 * messages. On error *out is left empty (st_close-safe). */
int  st_parse(const void *data, size_t size, const char *name, struct st_file *out, struct nib_error *err);
/* mmaps path and parses it. */
int  st_open(const char *path, struct st_file *out, struct nib_error *err);
void st_close(struct st_file *f);

/* Tensor by name, NULL if absent. */
const struct st_tensor *st_find(const struct st_file *f, const char *name);
/* __metadata__ value by key, NULL if absent. */
const char *st_meta_get(const struct st_file *f, const char *key);

#endif
