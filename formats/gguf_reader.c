/*
 * gguf_reader.c — parse and validate GGUF bytes (layout in gguf.h).
 *
 * Every length and count from the file is checked against the bytes that
 * remain before anything is allocated or read, so no input makes the parser
 * crash, loop long or allocate more than a small multiple of the file size.
 */
#include "gguf.h"

#include "byte_reader.h"
#include "checked_math.h"
#include "error.h"
#include "type_traits.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "nib reads GGUF in place and supports little-endian hosts only"
#endif

/* Smallest encodings, used to cap counts before allocating. */
#define MIN_KV_BYTES     (8 + 4 + 1)          /* empty key, type, 1-byte value */
#define MIN_TENSOR_BYTES (8 + 1 + 4 + 8 + 4 + 8) /* 1-char name, 1 dim */
#define MIN_STRING_BYTES 8
#define MIN_ARRAY_BYTES  (4 + 8)

struct parser {
    struct nib_byte_reader  r;
    struct nib_gguf        *g;
    const struct nib_gguf_params *params;
    struct nib_error       *err;
};

uint64_t nib_gguf_scalar_size(int type) {
    switch (type) {
    case NIB_GGUF_UINT8: case NIB_GGUF_INT8: case NIB_GGUF_BOOL: return 1;
    case NIB_GGUF_UINT16: case NIB_GGUF_INT16: return 2;
    case NIB_GGUF_UINT32: case NIB_GGUF_INT32: case NIB_GGUF_FLOAT32: return 4;
    case NIB_GGUF_UINT64: case NIB_GGUF_INT64: case NIB_GGUF_FLOAT64: return 8;
    default: return 0;
    }
}

static int fail_trunc(struct parser *p, const char *what, uint64_t need) {
    return nib_error_set(p->err, NIB_E_FORMAT,
                         "truncated file: %s needs %" PRIu64 " bytes at offset %" PRIu64
                         " but only %" PRIu64 " remain",
                         what, need, p->r.pos, nib_br_left(&p->r));
}

/* Reads a GGUF string into the arena. `what` names it in errors. */
static int read_string(struct parser *p, const char *what, const char **out, uint64_t *out_len) {
    uint64_t len;
    if (!nib_br_u64(&p->r, &len)) return fail_trunc(p, what, 8);
    if (len > nib_br_left(&p->r))
        return nib_error_set(p->err, NIB_E_FORMAT,
                             "%s: string length %" PRIu64 " at offset %" PRIu64
                             " runs past the end of the file (%" PRIu64 " bytes left)",
                             what, len, p->r.pos - 8, nib_br_left(&p->r));
    char *s = nib_arena_strndup(&p->g->arena, (const char *)p->r.base + p->r.pos, (size_t)len);
    if (!s) return nib_error_set(p->err, NIB_E_NOMEM, "%s: out of memory for %" PRIu64 "-byte string", what, len);
    p->r.pos += len;
    *out = s;
    if (out_len) *out_len = len;
    return NIB_OK;
}

static int read_value(struct parser *p, const char *what, int type, struct nib_gguf_value *v, uint32_t depth);

static int read_scalar(struct parser *p, const char *what, int type, struct nib_gguf_value *v) {
    uint8_t b[8] = {0};
    uint64_t n = nib_gguf_scalar_size(type);
    if (!nib_br_read(&p->r, b, n)) return fail_trunc(p, what, n);
    switch (type) {
    case NIB_GGUF_UINT8:  v->v.u64 = b[0]; break;
    case NIB_GGUF_INT8:   v->v.i64 = (int8_t)b[0]; break;
    case NIB_GGUF_UINT16: { uint16_t x; memcpy(&x, b, 2); v->v.u64 = x; break; }
    case NIB_GGUF_INT16:  { int16_t x;  memcpy(&x, b, 2); v->v.i64 = x; break; }
    case NIB_GGUF_UINT32: { uint32_t x; memcpy(&x, b, 4); v->v.u64 = x; break; }
    case NIB_GGUF_INT32:  { int32_t x;  memcpy(&x, b, 4); v->v.i64 = x; break; }
    case NIB_GGUF_UINT64: memcpy(&v->v.u64, b, 8); break;
    case NIB_GGUF_INT64:  memcpy(&v->v.i64, b, 8); break;
    case NIB_GGUF_FLOAT32: { float x; memcpy(&x, b, 4); v->v.f64 = x; break; }
    case NIB_GGUF_FLOAT64: memcpy(&v->v.f64, b, 8); break;
    case NIB_GGUF_BOOL:
        if (b[0] > 1)
            return nib_error_set(p->err, NIB_E_FORMAT, "%s: bool value %u at offset %" PRIu64 " is not 0 or 1",
                                 what, b[0], p->r.pos - 1);
        v->v.b = b[0] != 0;
        break;
    }
    return NIB_OK;
}

static int read_array(struct parser *p, const char *what, struct nib_gguf_value *v, uint32_t depth) {
    uint32_t et;
    uint64_t n;
    if (!nib_br_u32(&p->r, &et)) return fail_trunc(p, what, 4);
    if (et >= NIB_GGUF_TYPE_COUNT)
        return nib_error_set(p->err, NIB_E_FORMAT, "%s: unknown array element type %u at offset %" PRIu64,
                             what, et, p->r.pos - 4);
    if (!nib_br_u64(&p->r, &n)) return fail_trunc(p, what, 8);
    uint64_t esize = nib_gguf_scalar_size((int)et);
    uint64_t min = esize ? esize : et == NIB_GGUF_STRING ? MIN_STRING_BYTES : MIN_ARRAY_BYTES;
    if (n > nib_br_left(&p->r) / min)
        return nib_error_set(p->err, NIB_E_FORMAT,
                             "%s: array of %" PRIu64 " %s elements at offset %" PRIu64
                             " cannot fit in the %" PRIu64 " bytes left",
                             what, n, nib_gguf_type_name((int)et), p->r.pos - 12, nib_br_left(&p->r));
    v->v.arr.type = (enum nib_gguf_type)et;
    v->v.arr.n = n;
    if (esize) {
        const uint8_t *data = p->r.base + p->r.pos;
        if (et == NIB_GGUF_BOOL)
            for (uint64_t i = 0; i < n; i++)
                if (data[i] > 1)
                    return nib_error_set(p->err, NIB_E_FORMAT, "%s: bool element %" PRIu64 " is %u, not 0 or 1",
                                         what, i, data[i]);
        v->v.arr.data = data;
        p->r.pos += n * esize;
        return NIB_OK;
    }
    if (depth >= p->params->max_array_depth)
        return nib_error_set(p->err, NIB_E_FORMAT, "%s: arrays nested deeper than %" PRIu64,
                             what, p->params->max_array_depth);
    struct nib_gguf_value *elems = nib_arena_alloc(&p->g->arena, (size_t)(n ? n : 1) * sizeof(*elems));
    if (!elems) return nib_error_set(p->err, NIB_E_NOMEM, "%s: out of memory for %" PRIu64 " elements", what, n);
    for (uint64_t i = 0; i < n; i++) {
        int rc = read_value(p, what, (int)et, &elems[i], depth + 1);
        if (rc) return rc;
    }
    v->v.arr.data = elems;
    return NIB_OK;
}

static int read_value(struct parser *p, const char *what, int type, struct nib_gguf_value *v, uint32_t depth) {
    v->type = (enum nib_gguf_type)type;
    if (type == NIB_GGUF_STRING) return read_string(p, what, &v->v.str.ptr, &v->v.str.len);
    if (type == NIB_GGUF_ARRAY) return read_array(p, what, v, depth);
    return read_scalar(p, what, type, v);
}

static int cmp_cstr_ptr(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Finds a duplicate among n names (sorting a copy of the pointers). */
static const char *find_duplicate(const char **names, int64_t n) {
    qsort(names, (size_t)n, sizeof(*names), cmp_cstr_ptr);
    for (int64_t i = 1; i < n; i++)
        if (strcmp(names[i - 1], names[i]) == 0) return names[i];
    return NULL;
}

static int read_header(struct parser *p, uint64_t *n_tensors, uint64_t *n_kv) {
    char magic[4];
    if (p->r.size < 24)
        return nib_error_set(p->err, NIB_E_FORMAT, "truncated file: %" PRIu64 " bytes, a GGUF header needs 24",
                             p->r.size);
    nib_br_read(&p->r, magic, 4);
    if (memcmp(magic, NIB_GGUF_MAGIC, 4) != 0)
        return nib_error_set(p->err, NIB_E_FORMAT,
                             "bad magic %02x %02x %02x %02x: not a GGUF file (expected 'GGUF')",
                             (uint8_t)magic[0], (uint8_t)magic[1], (uint8_t)magic[2], (uint8_t)magic[3]);
    nib_br_u32(&p->r, &p->g->version);
    uint32_t ver = p->g->version;
    if (ver == 1)
        return nib_error_set(p->err, NIB_E_UNSUPPORTED, "GGUF version 1 is not supported (versions 2 and 3 are)");
    if (ver != 2 && ver != 3) {
        if ((ver & 0xffff) == 0 && (ver >> 24) >= 1 && (ver >> 24) <= 3)
            return nib_error_set(p->err, NIB_E_UNSUPPORTED,
                                 "GGUF version field 0x%08x looks byte-swapped: big-endian files are not supported", ver);
        return nib_error_set(p->err, NIB_E_UNSUPPORTED, "unsupported GGUF version %u (versions 2 and 3 are)", ver);
    }
    nib_br_u64(&p->r, n_tensors);
    nib_br_u64(&p->r, n_kv);
    uint64_t left = nib_br_left(&p->r);
    if (*n_kv > p->params->max_kv || *n_kv > left / MIN_KV_BYTES)
        return nib_error_set(p->err, NIB_E_FORMAT,
                             "metadata key count %" PRIu64 " is absurd for a file with %" PRIu64
                             " bytes after the header (limit %" PRIu64 ")",
                             *n_kv, left, p->params->max_kv);
    if (*n_tensors > p->params->max_tensors || *n_tensors > left / MIN_TENSOR_BYTES)
        return nib_error_set(p->err, NIB_E_FORMAT,
                             "tensor count %" PRIu64 " is absurd for a file with %" PRIu64
                             " bytes after the header (limit %" PRIu64 ")",
                             *n_tensors, left, p->params->max_tensors);
    return NIB_OK;
}

static int read_alignment(struct parser *p, const struct nib_gguf_kv *kv) {
    if (kv->value.type != NIB_GGUF_UINT32)
        return nib_error_set(p->err, NIB_E_FORMAT, "key '%s' has type %s, expected u32",
                             kv->key, nib_gguf_type_name(kv->value.type));
    if (!nib_is_pow2_u64(kv->value.v.u64))
        return nib_error_set(p->err, NIB_E_FORMAT, "key '%s' = %" PRIu64 " is not a power of two",
                             kv->key, kv->value.v.u64);
    p->g->alignment = kv->value.v.u64;
    return NIB_OK;
}

static int read_kvs(struct parser *p, uint64_t n_kv) {
    struct nib_gguf *g = p->g;
    g->kv = nib_arena_alloc(&g->arena, (size_t)(n_kv ? n_kv : 1) * sizeof(*g->kv));
    if (!g->kv) return nib_error_set(p->err, NIB_E_NOMEM, "out of memory for %" PRIu64 " metadata keys", n_kv);
    for (uint64_t i = 0; i < n_kv; i++) {
        struct nib_gguf_kv *kv = &g->kv[i];
        char what[96];
        snprintf(what, sizeof(what), "metadata key #%" PRIu64, i);
        int rc = read_string(p, what, &kv->key, &kv->key_len);
        if (rc) return rc;
        if (kv->key_len == 0 || strlen(kv->key) != kv->key_len)
            return nib_error_set(p->err, NIB_E_FORMAT, "%s: key is empty or contains a NUL byte", what);
        snprintf(what, sizeof(what), "key '%.64s'", kv->key);
        uint32_t type;
        if (!nib_br_u32(&p->r, &type)) return fail_trunc(p, what, 4);
        if (type >= NIB_GGUF_TYPE_COUNT)
            return nib_error_set(p->err, NIB_E_FORMAT, "%s: unknown value type %u at offset %" PRIu64,
                                 what, type, p->r.pos - 4);
        rc = read_value(p, what, (int)type, &kv->value, 0);
        if (rc) return rc;
        g->n_kv = (int64_t)i + 1;
        if (strcmp(kv->key, NIB_GGUF_KEY_ALIGNMENT) == 0 && (rc = read_alignment(p, kv))) return rc;
    }
    return NIB_OK;
}

/* Shape checks: dims in range, positive, element count and byte size fit. */
static int check_shape(struct parser *p, struct nib_gguf_tensor *t) {
    const struct nib_type_traits *tt = nib_type_traits((int)t->type);
    int64_t n = 1;
    for (uint32_t d = 0; d < NIB_GGUF_MAX_DIMS; d++) {
        if (t->ne[d] <= 0)
            return nib_error_set(p->err, NIB_E_FORMAT, "tensor '%s': dimension %u is %" PRId64 " (must be positive)",
                                 t->name, d, t->ne[d]);
        if (!nib_mul_i64(n, t->ne[d], &n))
            return nib_error_set(p->err, NIB_E_FORMAT, "tensor '%s': element count overflows (dimension %u = %" PRId64 ")",
                                 t->name, d, t->ne[d]);
    }
    t->n_elements = n;
    if (t->ne[0] % tt->block_size != 0)
        return nib_error_set(p->err, NIB_E_FORMAT,
                             "tensor '%s': row length %" PRId64 " is not a multiple of %s block size %" PRId64,
                             t->name, t->ne[0], tt->name, tt->block_size);
    uint64_t bytes;
    if (!nib_mul_u64((uint64_t)(n / tt->block_size), tt->block_bytes, &bytes))
        return nib_error_set(p->err, NIB_E_FORMAT, "tensor '%s': byte size overflows", t->name);
    t->n_bytes = bytes;
    return NIB_OK;
}

static int read_tensor_info(struct parser *p, uint64_t i, struct nib_gguf_tensor *t) {
    char what[64];
    snprintf(what, sizeof(what), "tensor #%" PRIu64 " name", i);
    uint64_t len = 0;
    int rc = read_string(p, what, &t->name, &len);
    if (rc) return rc;
    if (len == 0 || strlen(t->name) != len)
        return nib_error_set(p->err, NIB_E_FORMAT, "tensor #%" PRIu64 ": name is empty or contains a NUL byte", i);
    snprintf(what, sizeof(what), "tensor '%.40s'", t->name);
    if (!nib_br_u32(&p->r, &t->n_dims)) return fail_trunc(p, what, 4);
    if (t->n_dims < 1 || t->n_dims > NIB_GGUF_MAX_DIMS)
        return nib_error_set(p->err, NIB_E_FORMAT, "tensor '%s': n_dims = %u (must be 1..%d)",
                             t->name, t->n_dims, NIB_GGUF_MAX_DIMS);
    for (uint32_t d = 0; d < NIB_GGUF_MAX_DIMS; d++) t->ne[d] = 1;
    if (!nib_br_read(&p->r, t->ne, 8ull * t->n_dims)) return fail_trunc(p, what, 8ull * t->n_dims);
    uint32_t type;
    if (!nib_br_u32(&p->r, &type)) return fail_trunc(p, what, 4);
    if (!nib_type_is_valid((int)type))
        return nib_error_set(p->err, NIB_E_FORMAT, "tensor '%s': unknown type id %u", t->name, type);
    t->type = (enum nib_type)type;
    if (!nib_br_u64(&p->r, &t->offset)) return fail_trunc(p, what, 8);
    return check_shape(p, t);
}

static int read_tensors(struct parser *p, uint64_t n_tensors) {
    struct nib_gguf *g = p->g;
    g->tensors = nib_arena_alloc(&g->arena, (size_t)(n_tensors ? n_tensors : 1) * sizeof(*g->tensors));
    if (!g->tensors) return nib_error_set(p->err, NIB_E_NOMEM, "out of memory for %" PRIu64 " tensors", n_tensors);
    uint64_t expect = 0; /* running aligned sum of sizes */
    for (uint64_t i = 0; i < n_tensors; i++) {
        struct nib_gguf_tensor *t = &g->tensors[i];
        int rc = read_tensor_info(p, i, t);
        if (rc) return rc;
        g->n_tensors = (int64_t)i + 1;
        if (t->offset != expect)
            return nib_error_set(p->err, NIB_E_FORMAT,
                                 "tensor '%s': data offset %" PRIu64 " is not the expected %" PRIu64
                                 " (previous tensors' sizes aligned to %" PRIu64 ")",
                                 t->name, t->offset, expect, g->alignment);
        uint64_t end;
        if (!nib_add_u64(expect, t->n_bytes, &end) || !nib_align_u64(end, g->alignment, &expect))
            return nib_error_set(p->err, NIB_E_FORMAT, "tensor '%s': data section size overflows", t->name);
    }
    return NIB_OK;
}

static int check_data_section(struct parser *p) {
    struct nib_gguf *g = p->g;
    if (!nib_align_u64(p->r.pos, g->alignment, &g->data_offset) || g->data_offset > g->size) {
        if (g->n_tensors == 0) { g->data_offset = g->size; return NIB_OK; }
        return nib_error_set(p->err, NIB_E_FORMAT,
                             "truncated file: tensor data would start at offset %" PRIu64 " but the file is %" PRIu64 " bytes",
                             g->data_offset, g->size);
    }
    for (int64_t i = 0; i < g->n_tensors; i++) {
        struct nib_gguf_tensor *t = &g->tensors[i];
        uint64_t start, end;
        if (!nib_add_u64(g->data_offset, t->offset, &start) || !nib_add_u64(start, t->n_bytes, &end) ||
            end > g->size)
            return nib_error_set(p->err, NIB_E_FORMAT,
                                 "tensor '%s': data [%" PRIu64 ", +%" PRIu64 ") runs past the end of the file (size %" PRIu64 ")",
                                 t->name, g->data_offset + t->offset, t->n_bytes, g->size);
        t->data = g->data + start;
    }
    return NIB_OK;
}

static int check_unique_names(struct parser *p) {
    struct nib_gguf *g = p->g;
    int64_t n = g->n_kv > g->n_tensors ? g->n_kv : g->n_tensors;
    const char **names = malloc((size_t)(n ? n : 1) * sizeof(*names));
    if (!names) return nib_error_set(p->err, NIB_E_NOMEM, "out of memory checking names");
    for (int64_t i = 0; i < g->n_kv; i++) names[i] = g->kv[i].key;
    const char *dup = find_duplicate(names, g->n_kv);
    int rc = NIB_OK;
    if (dup) rc = nib_error_set(p->err, NIB_E_FORMAT, "duplicate metadata key '%s'", dup);
    if (!rc) {
        for (int64_t i = 0; i < g->n_tensors; i++) names[i] = g->tensors[i].name;
        dup = find_duplicate(names, g->n_tensors);
        if (dup) rc = nib_error_set(p->err, NIB_E_FORMAT, "duplicate tensor name '%s'", dup);
    }
    free(names);
    return rc;
}

int nib_gguf_parse(struct nib_gguf *g, const struct nib_gguf_params *params, struct nib_error *err) {
    struct parser p = { .r = { g->data, g->size, 0 }, .g = g, .params = params, .err = err };
    uint64_t n_tensors = 0, n_kv = 0;
    int rc;
    g->alignment = NIB_GGUF_DEFAULT_ALIGNMENT;
    if ((rc = read_header(&p, &n_tensors, &n_kv))) return rc;
    if ((rc = read_kvs(&p, n_kv))) return rc;
    if ((rc = read_tensors(&p, n_tensors))) return rc;
    if ((rc = check_unique_names(&p))) return rc;
    return check_data_section(&p);
}
