/*
 * gguf_access.c — opening (mmap), freeing and querying a parsed GGUF file.
 */
#include "gguf.h"

#include "error.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct nib_gguf_params nib_gguf_default_params(void) {
    struct nib_gguf_params p = { .max_tensors = 1u << 20, .max_kv = 1u << 20, .max_array_depth = 8 };
    return p;
}

const char *nib_gguf_type_name(int type) {
    static const char *const names[NIB_GGUF_TYPE_COUNT] = {
        "u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "str", "arr", "u64", "i64", "f64",
    };
    return type >= 0 && type < NIB_GGUF_TYPE_COUNT ? names[type] : "?";
}

static int open_parsed(struct nib_gguf *g, const struct nib_gguf_params *params,
                       struct nib_gguf **out, struct nib_error *err) {
    struct nib_gguf_params defaults = nib_gguf_default_params();
    int rc = nib_gguf_parse(g, params ? params : &defaults, err);
    if (rc) {
        nib_gguf_free(g);
        return rc;
    }
    *out = g;
    return NIB_OK;
}

int nib_gguf_open_memory(const void *data, size_t size, const struct nib_gguf_params *params,
                         struct nib_gguf **out, struct nib_error *err) {
    if (!out || (!data && size)) return nib_error_set(err, NIB_E_ARG, "nib_gguf_open_memory: NULL argument");
    *out = NULL;
    struct nib_gguf *g = calloc(1, sizeof(*g));
    if (!g) return nib_error_set(err, NIB_E_NOMEM, "out of memory");
    g->data = data;
    g->size = size;
    return open_parsed(g, params, out, err);
}

int nib_gguf_open(const char *path, const struct nib_gguf_params *params,
                  struct nib_gguf **out, struct nib_error *err) {
    if (!path || !out) return nib_error_set(err, NIB_E_ARG, "nib_gguf_open: NULL argument");
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return nib_error_set(err, NIB_E_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        int e = errno;
        close(fd);
        return nib_error_set(err, NIB_E_IO, "%s: %s", path,
                             S_ISDIR(st.st_mode) ? "is a directory" : e ? strerror(e) : "not a regular file");
    }
    struct nib_gguf *g = calloc(1, sizeof(*g));
    if (!g) {
        close(fd);
        return nib_error_set(err, NIB_E_NOMEM, "out of memory");
    }
    g->size = (uint64_t)st.st_size;
    if (g->size > 0) {
        void *m = mmap(NULL, (size_t)g->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            int e = errno;
            close(fd);
            free(g);
            return nib_error_set(err, NIB_E_IO, "%s: cannot mmap %" PRIu64 " bytes: %s", path, (uint64_t)st.st_size,
                                 strerror(e));
        }
        g->data = m;
        g->mapped = true;
    }
    close(fd);
    int rc = open_parsed(g, params, out, err);
    if (rc) nib_error_prefix(err, "%s: ", path);
    return rc;
}

void nib_gguf_free(struct nib_gguf *g) {
    if (!g) return;
    if (g->mapped) munmap((void *)g->data, (size_t)g->size);
    nib_arena_free(&g->arena);
    free(g);
}

uint32_t nib_gguf_version(const struct nib_gguf *g) { return g->version; }
uint64_t nib_gguf_alignment(const struct nib_gguf *g) { return g->alignment; }
uint64_t nib_gguf_data_offset(const struct nib_gguf *g) { return g->data_offset; }
uint64_t nib_gguf_file_size(const struct nib_gguf *g) { return g->size; }
const void *nib_gguf_file_data(const struct nib_gguf *g) { return g->data; }
int64_t nib_gguf_n_kv(const struct nib_gguf *g) { return g->n_kv; }
int64_t nib_gguf_n_tensors(const struct nib_gguf *g) { return g->n_tensors; }

const char *nib_gguf_kv_key(const struct nib_gguf *g, int64_t i) {
    return i >= 0 && i < g->n_kv ? g->kv[i].key : NULL;
}

const struct nib_gguf_value *nib_gguf_kv_value(const struct nib_gguf *g, int64_t i) {
    return i >= 0 && i < g->n_kv ? &g->kv[i].value : NULL;
}

int64_t nib_gguf_find_kv(const struct nib_gguf *g, const char *key) {
    for (int64_t i = 0; i < g->n_kv; i++)
        if (strcmp(g->kv[i].key, key) == 0) return i;
    return -1;
}

const struct nib_gguf_value *nib_gguf_get(const struct nib_gguf *g, const char *key) {
    return nib_gguf_kv_value(g, nib_gguf_find_kv(g, key));
}

const struct nib_gguf_tensor *nib_gguf_get_tensor(const struct nib_gguf *g, int64_t i) {
    return i >= 0 && i < g->n_tensors ? &g->tensors[i] : NULL;
}

int64_t nib_gguf_find_tensor(const struct nib_gguf *g, const char *name) {
    for (int64_t i = 0; i < g->n_tensors; i++)
        if (strcmp(g->tensors[i].name, name) == 0) return i;
    return -1;
}

static bool is_unsigned(int t) {
    return t == NIB_GGUF_UINT8 || t == NIB_GGUF_UINT16 || t == NIB_GGUF_UINT32 || t == NIB_GGUF_UINT64;
}
static bool is_signed(int t) {
    return t == NIB_GGUF_INT8 || t == NIB_GGUF_INT16 || t == NIB_GGUF_INT32 || t == NIB_GGUF_INT64;
}

static const struct nib_gguf_value *lookup(const struct nib_gguf *g, const char *key, struct nib_error *err) {
    const struct nib_gguf_value *v = nib_gguf_get(g, key);
    if (!v) nib_error_set(err, NIB_E_NOT_FOUND, "metadata key '%s' not found", key);
    return v;
}

static int type_error(const char *key, const struct nib_gguf_value *v, const char *want, struct nib_error *err) {
    return nib_error_set(err, NIB_E_TYPE, "metadata key '%s' has type %s, expected %s", key,
                         nib_gguf_type_name(v->type), want);
}

int nib_gguf_get_u64(const struct nib_gguf *g, const char *key, uint64_t *out, struct nib_error *err) {
    const struct nib_gguf_value *v = lookup(g, key, err);
    if (!v) return NIB_E_NOT_FOUND;
    if (is_unsigned(v->type)) *out = v->v.u64;
    else if (is_signed(v->type) && v->v.i64 >= 0) *out = (uint64_t)v->v.i64;
    else return type_error(key, v, "a non-negative integer", err);
    return NIB_OK;
}

int nib_gguf_get_i64(const struct nib_gguf *g, const char *key, int64_t *out, struct nib_error *err) {
    const struct nib_gguf_value *v = lookup(g, key, err);
    if (!v) return NIB_E_NOT_FOUND;
    if (is_signed(v->type)) *out = v->v.i64;
    else if (is_unsigned(v->type) && v->v.u64 <= INT64_MAX) *out = (int64_t)v->v.u64;
    else return type_error(key, v, "an integer", err);
    return NIB_OK;
}

int nib_gguf_get_f64(const struct nib_gguf *g, const char *key, double *out, struct nib_error *err) {
    const struct nib_gguf_value *v = lookup(g, key, err);
    if (!v) return NIB_E_NOT_FOUND;
    if (v->type != NIB_GGUF_FLOAT32 && v->type != NIB_GGUF_FLOAT64) return type_error(key, v, "a float", err);
    *out = v->v.f64;
    return NIB_OK;
}

int nib_gguf_get_bool(const struct nib_gguf *g, const char *key, bool *out, struct nib_error *err) {
    const struct nib_gguf_value *v = lookup(g, key, err);
    if (!v) return NIB_E_NOT_FOUND;
    if (v->type != NIB_GGUF_BOOL) return type_error(key, v, "bool", err);
    *out = v->v.b;
    return NIB_OK;
}

int nib_gguf_get_str(const struct nib_gguf *g, const char *key, const char **out, struct nib_error *err) {
    const struct nib_gguf_value *v = lookup(g, key, err);
    if (!v) return NIB_E_NOT_FOUND;
    if (v->type != NIB_GGUF_STRING) return type_error(key, v, "str", err);
    *out = v->v.str.ptr;
    return NIB_OK;
}
