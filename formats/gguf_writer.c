/*
 * gguf_writer.c — streaming GGUF v3 writer (API and call order in nib.h).
 *
 * Only metadata and tensor descriptions are held in memory; tensor bytes are
 * written straight to the file as the caller produces them, so files larger
 * than RAM can be written. Output goes to "<path>.tmp.XXXXXX" and is renamed
 * onto <path> only when close succeeds.
 */
#include "gguf.h"

#include "checked_math.h"
#include "error.h"
#include "gguf_value.h"
#include "type_traits.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum writer_state { W_META, W_DATA, W_CLOSED, W_FAILED };

struct wkv {
    const char           *key;
    struct nib_gguf_value value;
};

struct wtensor {
    const char   *name;
    enum nib_type type;
    uint32_t      n_dims;
    int64_t       ne[NIB_GGUF_MAX_DIMS];
    uint64_t      n_bytes, offset;
};

struct nib_gguf_writer {
    FILE    *f;
    char    *path, *tmp_path;
    uint64_t alignment;
    enum writer_state state;

    struct wkv     *kv;
    int64_t         n_kv, cap_kv;
    struct wtensor *tensors;
    int64_t         n_tensors, cap_tensors;

    int64_t  cur;          /* tensor receiving data */
    uint64_t cur_written;  /* bytes of it written so far */
    uint64_t data_size;    /* aligned size of the data section */
    struct nib_arena arena;
};

int nib_gguf_writer_open(const char *path, uint32_t alignment, struct nib_gguf_writer **out,
                         struct nib_error *err) {
    if (!path || !out) return nib_error_set(err, NIB_E_ARG, "nib_gguf_writer_open: NULL argument");
    *out = NULL;
    if (alignment == 0) alignment = NIB_GGUF_DEFAULT_ALIGNMENT;
    if (!nib_is_pow2_u64(alignment))
        return nib_error_set(err, NIB_E_ARG, "alignment %u is not a power of two", alignment);
    struct nib_gguf_writer *w = calloc(1, sizeof(*w));
    size_t n = strlen(path);
    char *tmp = malloc(n + 16);
    if (!w || !tmp) {
        free(w);
        free(tmp);
        return nib_error_set(err, NIB_E_NOMEM, "out of memory");
    }
    snprintf(tmp, n + 16, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        int e = errno;
        free(w);
        free(tmp);
        return nib_error_set(err, NIB_E_IO, "%s: cannot create temporary file: %s", path, strerror(e));
    }
    fchmod(fd, 0644); /* mkstemp makes 0600; a model file is not secret */
    w->f = fdopen(fd, "wb");
    w->path = strdup(path);
    w->tmp_path = tmp;
    w->alignment = alignment;
    if (!w->f || !w->path) {
        if (!w->f) close(fd);
        nib_gguf_writer_free(w);
        return nib_error_set(err, NIB_E_NOMEM, "out of memory");
    }
    *out = w;
    return NIB_OK;
}

void nib_gguf_writer_free(struct nib_gguf_writer *w) {
    if (!w) return;
    if (w->f) fclose(w->f);
    if (w->state != W_CLOSED && w->tmp_path) unlink(w->tmp_path);
    free(w->kv);
    free(w->tensors);
    free(w->path);
    free(w->tmp_path);
    nib_arena_free(&w->arena);
    free(w);
}

static bool grow(void **p, int64_t *cap, int64_t n, size_t elem) {
    if (n < *cap) return true;
    int64_t nc = *cap ? *cap * 2 : 16;
    void *q = realloc(*p, (size_t)nc * elem);
    if (!q) return false;
    *p = q;
    *cap = nc;
    return true;
}

static int require_state(struct nib_gguf_writer *w, enum writer_state s, const char *call, struct nib_error *err) {
    if (!w) return nib_error_set(err, NIB_E_ARG, "%s: NULL writer", call);
    if (w->state != s)
        return nib_error_set(err, NIB_E_STATE, "%s: called in the wrong order (writer state %d, needs %d)", call,
                             (int)w->state, (int)s);
    return NIB_OK;
}

int nib_gguf_writer_set_kv(struct nib_gguf_writer *w, const char *key, const struct nib_gguf_value *v,
                           struct nib_error *err) {
    int rc = require_state(w, W_META, "nib_gguf_writer_set_kv", err);
    if (rc) return rc;
    if (!key || !*key || !v) return nib_error_set(err, NIB_E_ARG, "set_kv: empty key or NULL value");
    for (int64_t i = 0; i < w->n_kv; i++)
        if (strcmp(w->kv[i].key, key) == 0) return nib_error_set(err, NIB_E_ARG, "metadata key '%s' set twice", key);
    if (strcmp(key, NIB_GGUF_KEY_ALIGNMENT) == 0 && (v->type != NIB_GGUF_UINT32 || v->v.u64 != w->alignment))
        return nib_error_set(err, NIB_E_ARG, "'%s' must be a u32 equal to the writer's alignment %" PRIu64, key,
                             w->alignment);
    if (!grow((void **)&w->kv, &w->cap_kv, w->n_kv, sizeof(*w->kv)))
        return nib_error_set(err, NIB_E_NOMEM, "out of memory");
    struct wkv *kv = &w->kv[w->n_kv];
    kv->key = nib_arena_strndup(&w->arena, key, strlen(key));
    if (!kv->key) return nib_error_set(err, NIB_E_NOMEM, "out of memory");
    rc = nib_gguf_value_copy(&w->arena, &kv->value, v, 0);
    if (rc) return nib_error_set(err, rc, "metadata key '%s': invalid or too large value", key);
    w->n_kv++;
    return NIB_OK;
}

int nib_gguf_writer_set_u32(struct nib_gguf_writer *w, const char *key, uint32_t x, struct nib_error *err) {
    struct nib_gguf_value v = { .type = NIB_GGUF_UINT32, .v.u64 = x };
    return nib_gguf_writer_set_kv(w, key, &v, err);
}

int nib_gguf_writer_set_f32(struct nib_gguf_writer *w, const char *key, float x, struct nib_error *err) {
    struct nib_gguf_value v = { .type = NIB_GGUF_FLOAT32, .v.f64 = x };
    return nib_gguf_writer_set_kv(w, key, &v, err);
}

int nib_gguf_writer_set_str(struct nib_gguf_writer *w, const char *key, const char *x, struct nib_error *err) {
    if (!x) return nib_error_set(err, NIB_E_ARG, "set_str '%s': NULL string", key ? key : "?");
    struct nib_gguf_value v = { .type = NIB_GGUF_STRING, .v.str = { x, strlen(x) } };
    return nib_gguf_writer_set_kv(w, key, &v, err);
}

int nib_gguf_writer_add_tensor(struct nib_gguf_writer *w, const char *name, enum nib_type type, uint32_t n_dims,
                               const int64_t *ne, struct nib_error *err) {
    int rc = require_state(w, W_META, "nib_gguf_writer_add_tensor", err);
    if (rc) return rc;
    if (!name || !*name || !ne) return nib_error_set(err, NIB_E_ARG, "add_tensor: empty name or NULL shape");
    if (!nib_type_is_valid((int)type)) return nib_error_set(err, NIB_E_ARG, "tensor '%s': invalid type %d", name, (int)type);
    if (n_dims < 1 || n_dims > NIB_GGUF_MAX_DIMS)
        return nib_error_set(err, NIB_E_ARG, "tensor '%s': n_dims %u out of range 1..4", name, n_dims);
    for (int64_t i = 0; i < w->n_tensors; i++)
        if (strcmp(w->tensors[i].name, name) == 0) return nib_error_set(err, NIB_E_ARG, "tensor '%s' added twice", name);
    struct wtensor t = { .type = type, .n_dims = n_dims, .ne = { 1, 1, 1, 1 } };
    int64_t n = 1;
    for (uint32_t d = 0; d < n_dims; d++) {
        t.ne[d] = ne[d];
        if (ne[d] <= 0 || !nib_mul_i64(n, ne[d], &n))
            return nib_error_set(err, NIB_E_ARG, "tensor '%s': dimension %u = %" PRId64 " invalid", name, d, ne[d]);
    }
    const struct nib_type_traits *tt = nib_type_traits((int)type);
    if (ne[0] % tt->block_size)
        return nib_error_set(err, NIB_E_ARG, "tensor '%s': row length %" PRId64 " not a multiple of %s block size %" PRId64,
                             name, ne[0], tt->name, tt->block_size);
    t.n_bytes = (uint64_t)(n / tt->block_size) * tt->block_bytes;
    t.offset = w->data_size;
    uint64_t end;
    if (!nib_add_u64(t.offset, t.n_bytes, &end) || !nib_align_u64(end, w->alignment, &w->data_size))
        return nib_error_set(err, NIB_E_ARG, "tensor '%s': data size overflows", name);
    if (!grow((void **)&w->tensors, &w->cap_tensors, w->n_tensors, sizeof(*w->tensors)) ||
        !(t.name = nib_arena_strndup(&w->arena, name, strlen(name))))
        return nib_error_set(err, NIB_E_NOMEM, "out of memory");
    w->tensors[w->n_tensors++] = t;
    return NIB_OK;
}

static void put(struct nib_gguf_writer *w, const void *p, size_t n) {
    if (n && fwrite(p, 1, n, w->f) != n) w->state = W_FAILED;
}
static void put_u32(struct nib_gguf_writer *w, uint32_t x) { put(w, &x, 4); }
static void put_u64(struct nib_gguf_writer *w, uint64_t x) { put(w, &x, 8); }
static void put_str(struct nib_gguf_writer *w, const char *s, uint64_t n) {
    put_u64(w, n);
    put(w, s, (size_t)n);
}
static void put_zeros(struct nib_gguf_writer *w, uint64_t n) {
    static const uint8_t zeros[64];
    while (n) {
        size_t k = n < sizeof(zeros) ? (size_t)n : sizeof(zeros);
        put(w, zeros, k);
        n -= k;
    }
}

static void put_value(struct nib_gguf_writer *w, const struct nib_gguf_value *v) {
    uint8_t b[8];
    uint64_t sz = nib_gguf_scalar_size(v->type);
    switch (v->type) {
    case NIB_GGUF_STRING: put_str(w, v->v.str.ptr, v->v.str.len); return;
    case NIB_GGUF_ARRAY: {
        put_u32(w, (uint32_t)v->v.arr.type);
        put_u64(w, v->v.arr.n);
        uint64_t esz = nib_gguf_scalar_size(v->v.arr.type);
        if (esz) {
            put(w, v->v.arr.data, (size_t)(esz * v->v.arr.n));
            return;
        }
        for (uint64_t i = 0; i < v->v.arr.n; i++) put_value(w, &((const struct nib_gguf_value *)v->v.arr.data)[i]);
        return;
    }
    case NIB_GGUF_FLOAT32: { float f = (float)v->v.f64; memcpy(b, &f, 4); break; }
    case NIB_GGUF_FLOAT64: memcpy(b, &v->v.f64, 8); break;
    case NIB_GGUF_BOOL: b[0] = v->v.b ? 1 : 0; break;
    default: memcpy(b, &v->v.u64, 8); break; /* integers: low bytes, little-endian */
    }
    put(w, b, (size_t)sz);
}

int nib_gguf_writer_write_header(struct nib_gguf_writer *w, struct nib_error *err) {
    int rc = require_state(w, W_META, "nib_gguf_writer_write_header", err);
    if (rc) return rc;
    bool need_align_kv = w->alignment != NIB_GGUF_DEFAULT_ALIGNMENT;
    for (int64_t i = 0; i < w->n_kv; i++)
        if (strcmp(w->kv[i].key, NIB_GGUF_KEY_ALIGNMENT) == 0) need_align_kv = false;
    if (need_align_kv && (rc = nib_gguf_writer_set_u32(w, NIB_GGUF_KEY_ALIGNMENT, (uint32_t)w->alignment, err)))
        return rc;
    put(w, NIB_GGUF_MAGIC, 4);
    put_u32(w, 3);
    put_u64(w, (uint64_t)w->n_tensors);
    put_u64(w, (uint64_t)w->n_kv);
    for (int64_t i = 0; i < w->n_kv; i++) {
        put_str(w, w->kv[i].key, strlen(w->kv[i].key));
        put_u32(w, (uint32_t)w->kv[i].value.type);
        put_value(w, &w->kv[i].value);
    }
    for (int64_t i = 0; i < w->n_tensors; i++) {
        const struct wtensor *t = &w->tensors[i];
        put_str(w, t->name, strlen(t->name));
        put_u32(w, t->n_dims);
        put(w, t->ne, 8u * t->n_dims);
        put_u32(w, (uint32_t)t->type);
        put_u64(w, t->offset);
    }
    long pos = ftell(w->f);
    if (pos < 0) w->state = W_FAILED;
    else put_zeros(w, (w->alignment - (uint64_t)pos % w->alignment) % w->alignment);
    if (w->state == W_FAILED) return nib_error_set(err, NIB_E_IO, "%s: write failed: %s", w->tmp_path, strerror(errno));
    w->state = W_DATA;
    return NIB_OK;
}

int nib_gguf_writer_write_data(struct nib_gguf_writer *w, const void *data, size_t n, struct nib_error *err) {
    int rc = require_state(w, W_DATA, "nib_gguf_writer_write_data", err);
    if (rc) return rc;
    const uint8_t *p = data;
    while (n > 0) {
        if (w->cur >= w->n_tensors)
            return nib_error_set(err, NIB_E_ARG, "write_data: %zu bytes more than the declared tensors hold", n);
        const struct wtensor *t = &w->tensors[w->cur];
        uint64_t want = t->n_bytes - w->cur_written;
        size_t k = n < want ? n : (size_t)want;
        put(w, p, k);
        p += k;
        n -= k;
        w->cur_written += k;
        if (w->cur_written == t->n_bytes) {
            uint64_t padded = t->n_bytes;
            nib_align_u64(t->n_bytes, w->alignment, &padded);
            put_zeros(w, padded - t->n_bytes);
            w->cur++;
            w->cur_written = 0;
        }
        if (w->state == W_FAILED)
            return nib_error_set(err, NIB_E_IO, "%s: write failed: %s", w->tmp_path, strerror(errno));
    }
    return NIB_OK;
}

int nib_gguf_writer_close(struct nib_gguf_writer *w, struct nib_error *err) {
    int rc = require_state(w, W_DATA, "nib_gguf_writer_close", err);
    if (rc) return rc;
    /* Zero-byte tensors never receive a write_data call; skip them. */
    while (w->cur < w->n_tensors && w->tensors[w->cur].n_bytes == 0 && w->cur_written == 0) w->cur++;
    if (w->cur < w->n_tensors)
        return nib_error_set(err, NIB_E_STATE, "tensor '%s': only %" PRIu64 " of %" PRIu64 " bytes written",
                             w->tensors[w->cur].name, w->cur_written, w->tensors[w->cur].n_bytes);
    FILE *f = w->f;
    w->f = NULL;
    if (fflush(f) != 0 || fsync(fileno(f)) != 0 || fclose(f) != 0) {
        w->state = W_FAILED;
        return nib_error_set(err, NIB_E_IO, "%s: write failed: %s", w->tmp_path, strerror(errno));
    }
    if (rename(w->tmp_path, w->path) != 0) {
        w->state = W_FAILED;
        return nib_error_set(err, NIB_E_IO, "cannot rename %s to %s: %s", w->tmp_path, w->path, strerror(errno));
    }
    w->state = W_CLOSED;
    return NIB_OK;
}
