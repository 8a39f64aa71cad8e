/*
 * safetensors.c — strict .safetensors reader (layout and rules in safetensors.h).
 */
#include "safetensors.h"
#include "cli.h"

#include <cjson/cJSON.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_HEADER ((uint64_t)100 << 20) /* the reference implementation's cap */


size_t st_dtype_size(enum st_dtype t) { return t == ST_F32 ? 4 : 2; }
const char *st_dtype_name(enum st_dtype t) { return t == ST_F32 ? "F32" : t == ST_F16 ? "F16" : "BF16"; }

static const char *const other_dtypes[] = { "F64", "I64", "I32", "I16", "I8", "U8", "U16", "U32", "U64", "BOOL",
                                            "F8_E4M3", "F8_E5M2", "F8_E8M0", "F4", "F6_E2M3", "F6_E3M2", "C64" };

static int parse_dtype(const char *file, const char *name, const char *s, enum st_dtype *out, struct nib_error *err) {
    if (!strcmp(s, "F32")) *out = ST_F32;
    else if (!strcmp(s, "F16")) *out = ST_F16;
    else if (!strcmp(s, "BF16")) *out = ST_BF16;
    else {
        for (size_t i = 0; i < sizeof(other_dtypes) / sizeof(other_dtypes[0]); i++)
            if (!strcmp(s, other_dtypes[i]))
                return cli_set_error(err, NIB_E_UNSUPPORTED, "%s: tensor '%s': dtype %s is not supported (only F32, F16, BF16)", file,
                            name, s);
        return cli_set_error(err, NIB_E_FORMAT, "%s: tensor '%s': unknown dtype '%.32s'", file, name, s);
    }
    return NIB_OK;
}

/* A JSON number that is an exact non-negative integer up to 2^53. */
static bool json_u64(const cJSON *j, uint64_t *out) {
    if (!cJSON_IsNumber(j)) return false;
    double v = j->valuedouble;
    if (!(v >= 0 && v <= 9007199254740992.0) || v != (double)(uint64_t)v) return false;
    *out = (uint64_t)v;
    return true;
}

static int parse_entry(const cJSON *e, const char *file, struct st_tensor *t, uint64_t data_size,
                       struct nib_error *err) {
    const char *name = e->string;
    if (!cJSON_IsObject(e)) return cli_set_error(err, NIB_E_FORMAT, "%s: tensor '%s': header entry is not an object", file, name);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(e, "shape");
    const cJSON *of = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    if (!cJSON_IsString(dt) || !cJSON_IsArray(sh) || !cJSON_IsArray(of))
        return cli_set_error(err, NIB_E_FORMAT, "%s: tensor '%s': needs \"dtype\" (string), \"shape\" and \"data_offsets\" (arrays)",
                    file, name);
    int rc = parse_dtype(file, name, dt->valuestring, &t->dtype, err);
    if (rc) return rc;
    int n = cJSON_GetArraySize(sh);
    if (n > ST_MAX_DIMS) return cli_set_error(err, NIB_E_FORMAT, "%s: tensor '%s': %d dims (at most %d)", file, name, n, ST_MAX_DIMS);
    t->n_dims = n;
    uint64_t elems = 1;
    for (int i = 0; i < n; i++) {
        uint64_t d;
        if (!json_u64(cJSON_GetArrayItem(sh, i), &d) || d > ((uint64_t)1 << 40))
            return cli_set_error(err, NIB_E_FORMAT, "%s: tensor '%s': shape[%d] is not a valid dimension", file, name, i);
        t->shape[i] = (int64_t)d;
        if (__builtin_mul_overflow(elems, d, &elems))
            return cli_set_error(err, NIB_E_FORMAT, "%s: tensor '%s': element count overflows", file, name);
    }
    uint64_t begin, end, n_bytes;
    if (cJSON_GetArraySize(of) != 2 || !json_u64(cJSON_GetArrayItem(of, 0), &begin) ||
        !json_u64(cJSON_GetArrayItem(of, 1), &end))
        return cli_set_error(err, NIB_E_FORMAT, "%s: tensor '%s': data_offsets must be two non-negative integers", file, name);
    if (begin > end || end > data_size)
        return cli_set_error(err, NIB_E_FORMAT, "%s: tensor '%s': data_offsets [%llu, %llu] out of range (data section %llu bytes)",
                    file, name, (unsigned long long)begin, (unsigned long long)end, (unsigned long long)data_size);
    if (__builtin_mul_overflow(elems, (uint64_t)st_dtype_size(t->dtype), &n_bytes) || n_bytes != end - begin)
        return cli_set_error(err, NIB_E_FORMAT, "%s: tensor '%s': %llu bytes in data_offsets but shape x %s needs %llu", file, name,
                    (unsigned long long)(end - begin), st_dtype_name(t->dtype), (unsigned long long)n_bytes);
    t->n_elems = (int64_t)elems;
    t->n_bytes = n_bytes;
    t->data = (const uint8_t *)(uintptr_t)begin; /* relative until the caller rebases */
    return NIB_OK;
}

static int parse_meta(const cJSON *m, const char *file, struct st_file *out, struct nib_error *err) {
    if (!cJSON_IsObject(m)) return cli_set_error(err, NIB_E_FORMAT, "%s: __metadata__ is not an object", file);
    int n = cJSON_GetArraySize(m);
    out->meta = calloc((size_t)n + 1, sizeof(*out->meta));
    if (!out->meta) return cli_set_error(err, NIB_E_NOMEM, "out of memory");
    const cJSON *e;
    cJSON_ArrayForEach(e, m) {
        if (!cJSON_IsString(e)) return cli_set_error(err, NIB_E_FORMAT, "%s: __metadata__ '%s' is not a string", file, e->string);
        struct st_meta *s = &out->meta[out->n_meta++];
        s->key = strdup(e->string);
        s->value = strdup(e->valuestring);
        if (!s->key || !s->value) return cli_set_error(err, NIB_E_NOMEM, "out of memory");
    }
    return NIB_OK;
}

static int cmp_begin(const void *a, const void *b) {
    const struct st_tensor *x = *(const struct st_tensor *const *)a, *y = *(const struct st_tensor *const *)b;
    return x->data < y->data ? -1 : x->data > y->data;
}

static int cmp_name(const void *a, const void *b) {
    return strcmp((*(const struct st_tensor *const *)a)->name, (*(const struct st_tensor *const *)b)->name);
}

/* Sorted by start offset, each tensor must end at or before the next one starts.
 * Also catches duplicate names (cJSON keeps both). */
static int check_layout(struct st_file *f, const char *file, struct nib_error *err) {
    int64_t n = f->n_tensors;
    const struct st_tensor **v = malloc(sizeof(*v) * (size_t)(n ? n : 1));
    if (!v) return cli_set_error(err, NIB_E_NOMEM, "out of memory");
    for (int64_t i = 0; i < n; i++) v[i] = &f->tensors[i];
    qsort(v, (size_t)n, sizeof(*v), cmp_begin);
    int rc = NIB_OK;
    for (int64_t i = 1; i < n && !rc; i++) {
        uint64_t prev_end = (uint64_t)(uintptr_t)v[i - 1]->data + v[i - 1]->n_bytes;
        if ((uint64_t)(uintptr_t)v[i]->data < prev_end && v[i]->n_bytes && v[i - 1]->n_bytes)
            rc = cli_set_error(err, NIB_E_FORMAT, "%s: tensors '%s' and '%s' overlap (bytes %llu.. and ..%llu)", file, v[i - 1]->name,
                      v[i]->name, (unsigned long long)(uintptr_t)v[i]->data, (unsigned long long)prev_end);
    }
    qsort(v, (size_t)n, sizeof(*v), cmp_name);
    for (int64_t i = 1; i < n && !rc; i++)
        if (!strcmp(v[i - 1]->name, v[i]->name))
            rc = cli_set_error(err, NIB_E_FORMAT, "%s: tensor '%s' appears twice in the header", file, v[i]->name);
    free(v);
    return rc;
}

static int parse_header(const cJSON *root, const char *file, const uint8_t *data, uint64_t data_size,
                        struct st_file *out, struct nib_error *err) {
    if (!cJSON_IsObject(root)) return cli_set_error(err, NIB_E_FORMAT, "%s: header is not a JSON object", file);
    int n = cJSON_GetArraySize(root);
    out->tensors = calloc((size_t)n + 1, sizeof(*out->tensors));
    if (!out->tensors) return cli_set_error(err, NIB_E_NOMEM, "out of memory");
    const cJSON *e;
    int rc;
    cJSON_ArrayForEach(e, root) {
        if (!strcmp(e->string, "__metadata__")) {
            if (out->meta) return cli_set_error(err, NIB_E_FORMAT, "%s: __metadata__ appears twice", file);
            if ((rc = parse_meta(e, file, out, err))) return rc;
            continue;
        }
        struct st_tensor *t = &out->tensors[out->n_tensors];
        if (!(t->name = strdup(e->string))) return cli_set_error(err, NIB_E_NOMEM, "out of memory");
        out->n_tensors++;
        if ((rc = parse_entry(e, file, t, data_size, err))) return rc;
    }
    if ((rc = check_layout(out, file, err))) return rc;
    for (int64_t i = 0; i < out->n_tensors; i++) out->tensors[i].data = data + (uintptr_t)out->tensors[i].data;
    return NIB_OK;
}

static void free_parsed(struct st_file *f) {
    for (int64_t i = 0; i < f->n_tensors; i++) free(f->tensors[i].name);
    for (int64_t i = 0; i < f->n_meta; i++) {
        free(f->meta[i].key);
        free(f->meta[i].value);
    }
    free(f->tensors);
    free(f->meta);
    f->tensors = NULL;
    f->meta = NULL;
    f->n_tensors = f->n_meta = 0;
}

int st_parse(const void *data, size_t size, const char *name, struct st_file *out, struct nib_error *err) {
    memset(out, 0, sizeof(*out));
    const uint8_t *p = data;
    if (size < 8) return cli_set_error(err, NIB_E_FORMAT, "%s: %zu bytes is too short for a safetensors file (8-byte header length)", name, size);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = n << 8 | p[i];
    if (n > size - 8)
        return cli_set_error(err, NIB_E_FORMAT, "%s: header length %llu runs past the end of the file (%zu bytes)", name,
                    (unsigned long long)n, size);
    if (n > MAX_HEADER) return cli_set_error(err, NIB_E_FORMAT, "%s: header length %llu is over the 100 MiB limit", name, (unsigned long long)n);
    if (n < 2) return cli_set_error(err, NIB_E_FORMAT, "%s: header of %llu bytes cannot be a JSON object", name, (unsigned long long)n);
    if (memchr(p + 8, 0, n)) return cli_set_error(err, NIB_E_FORMAT, "%s: header contains a NUL byte", name);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts((const char *)p + 8, n, &end, false);
    if (!root) return cli_set_error(err, NIB_E_FORMAT, "%s: header is not valid JSON", name);
    for (; end && end < (const char *)p + 8 + n; end++)
        if (*end != ' ') {
            cJSON_Delete(root);
            return cli_set_error(err, NIB_E_FORMAT, "%s: header has bytes after the JSON object", name);
        }
    int rc = parse_header(root, name, p + 8 + n, size - 8 - n, out, err);
    cJSON_Delete(root);
    if (rc) free_parsed(out);
    return rc;
}

int st_open(const char *path, struct st_file *out, struct nib_error *err) {
    memset(out, 0, sizeof(*out));
    int fd = open(path, O_RDONLY);
    if (fd < 0) return cli_set_error(err, NIB_E_IO, "cannot open %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return cli_set_error(err, NIB_E_IO, "%s is not a regular file", path);
    }
    size_t size = (size_t)st.st_size;
    void *map = size ? mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0) : NULL;
    close(fd);
    if (size && map == MAP_FAILED) return cli_set_error(err, NIB_E_IO, "cannot map %s: %s", path, strerror(errno));
    int rc = st_parse(size ? map : "", size, path, out, err);
    if (rc) {
        if (size) munmap(map, size);
        return rc;
    }
    out->map = map;
    out->size = size;
    out->path = strdup(path);
    if (!out->path) {
        st_close(out);
        return cli_set_error(err, NIB_E_NOMEM, "out of memory");
    }
    return NIB_OK;
}

void st_close(struct st_file *f) {
    if (!f) return;
    free_parsed(f);
    if (f->map && f->size) munmap(f->map, f->size);
    free(f->path);
    memset(f, 0, sizeof(*f));
}

const struct st_tensor *st_find(const struct st_file *f, const char *name) {
    for (int64_t i = 0; i < f->n_tensors; i++)
        if (!strcmp(f->tensors[i].name, name)) return &f->tensors[i];
    return NULL;
}

const char *st_meta_get(const struct st_file *f, const char *key) {
    for (int64_t i = 0; i < f->n_meta; i++)
        if (!strcmp(f->meta[i].key, key)) return f->meta[i].value;
    return NULL;
}
