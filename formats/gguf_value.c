/*
 * gguf_value.c — reading elements of metadata arrays, and deep copies of
 * values (used by the writer).
 */
#include "gguf.h"
#include "gguf_value.h"

#include <string.h>

static bool elem_raw(const struct nib_gguf_value *a, uint64_t i, uint8_t b[8]) {
    uint64_t sz = nib_gguf_scalar_size(a->v.arr.type);
    if (!sz) return false;
    memset(b, 0, 8);
    memcpy(b, (const uint8_t *)a->v.arr.data + i * sz, (size_t)sz);
    return true;
}

int nib_gguf_array_get_i64(const struct nib_gguf_value *a, uint64_t i, int64_t *out) {
    if (!a || a->type != NIB_GGUF_ARRAY) return NIB_E_TYPE;
    if (i >= a->v.arr.n) return NIB_E_ARG;
    uint8_t b[8];
    if (!elem_raw(a, i, b)) return NIB_E_TYPE;
    switch (a->v.arr.type) {
    case NIB_GGUF_UINT8: case NIB_GGUF_BOOL: *out = b[0]; break;
    case NIB_GGUF_INT8:   *out = (int8_t)b[0]; break;
    case NIB_GGUF_UINT16: { uint16_t x; memcpy(&x, b, 2); *out = x; break; }
    case NIB_GGUF_INT16:  { int16_t x;  memcpy(&x, b, 2); *out = x; break; }
    case NIB_GGUF_UINT32: { uint32_t x; memcpy(&x, b, 4); *out = x; break; }
    case NIB_GGUF_INT32:  { int32_t x;  memcpy(&x, b, 4); *out = x; break; }
    case NIB_GGUF_INT64:  memcpy(out, b, 8); break;
    case NIB_GGUF_UINT64: {
        uint64_t x;
        memcpy(&x, b, 8);
        if (x > INT64_MAX) return NIB_E_TYPE;
        *out = (int64_t)x;
        break;
    }
    default: return NIB_E_TYPE;
    }
    return NIB_OK;
}

int nib_gguf_array_get_f64(const struct nib_gguf_value *a, uint64_t i, double *out) {
    if (!a || a->type != NIB_GGUF_ARRAY) return NIB_E_TYPE;
    if (i >= a->v.arr.n) return NIB_E_ARG;
    uint8_t b[8];
    if (!elem_raw(a, i, b)) return NIB_E_TYPE;
    if (a->v.arr.type == NIB_GGUF_FLOAT32) {
        float x;
        memcpy(&x, b, 4);
        *out = x;
    } else if (a->v.arr.type == NIB_GGUF_FLOAT64) {
        memcpy(out, b, 8);
    } else {
        int64_t x;
        int rc = nib_gguf_array_get_i64(a, i, &x);
        if (rc) return rc;
        *out = (double)x;
    }
    return NIB_OK;
}

const struct nib_gguf_value *nib_gguf_array_get_value(const struct nib_gguf_value *a, uint64_t i) {
    if (!a || a->type != NIB_GGUF_ARRAY || i >= a->v.arr.n) return NULL;
    if (a->v.arr.type != NIB_GGUF_STRING && a->v.arr.type != NIB_GGUF_ARRAY) return NULL;
    return &((const struct nib_gguf_value *)a->v.arr.data)[i];
}

int nib_gguf_value_copy(struct nib_arena *arena, struct nib_gguf_value *dst, const struct nib_gguf_value *src,
                        uint32_t depth) {
    *dst = *src;
    if (src->type == NIB_GGUF_STRING) {
        dst->v.str.ptr = nib_arena_strndup(arena, src->v.str.ptr, (size_t)src->v.str.len);
        return dst->v.str.ptr ? NIB_OK : NIB_E_NOMEM;
    }
    if (src->type != NIB_GGUF_ARRAY) return src->type < NIB_GGUF_TYPE_COUNT ? NIB_OK : NIB_E_ARG;
    if (depth > 64 || src->v.arr.type >= NIB_GGUF_TYPE_COUNT) return NIB_E_ARG;
    uint64_t n = src->v.arr.n, sz = nib_gguf_scalar_size(src->v.arr.type);
    if (sz) {
        if (n > SIZE_MAX / sz) return NIB_E_NOMEM;
        void *p = nib_arena_alloc(arena, (size_t)(n * sz) + 1);
        if (!p) return NIB_E_NOMEM;
        if (n) memcpy(p, src->v.arr.data, (size_t)(n * sz));
        dst->v.arr.data = p;
        return NIB_OK;
    }
    if (n > SIZE_MAX / sizeof(struct nib_gguf_value)) return NIB_E_NOMEM;
    struct nib_gguf_value *elems = nib_arena_alloc(arena, (size_t)(n ? n : 1) * sizeof(*elems));
    if (!elems) return NIB_E_NOMEM;
    const struct nib_gguf_value *se = src->v.arr.data;
    for (uint64_t i = 0; i < n; i++) {
        if (se[i].type != src->v.arr.type) return NIB_E_ARG;
        int rc = nib_gguf_value_copy(arena, &elems[i], &se[i], depth + 1);
        if (rc) return rc;
    }
    dst->v.arr.data = elems;
    return NIB_OK;
}
