/*
 * Importance-matrix files (see imatrix.h): the legacy reader walks the bytes
 * through a bounded cursor; the GGUF reader goes through nib_gguf_open (which
 * has validated every offset) and pairs the .in_sum2 / .counts tensors.
 */
#include "imatrix.h"

#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 2^53: larger counts would not survive lround exactly (and none is real) */
static const double k_max_count = 9007199254740992.0;

void imatrix_free(struct imatrix *im) {
    if (!im) return;
    for (int64_t i = 0; i < im->n_entries; i++) {
        free(im->entries[i].name);
        free(im->entries[i].values);
    }
    for (int64_t i = 0; i < im->n_datasets; i++) free(im->datasets[i]);
    free(im->entries);
    free(im->datasets);
    free(im);
}

static int cmp_entry(const void *a, const void *b) {
    return strcmp(((const struct imatrix_entry *)a)->name, ((const struct imatrix_entry *)b)->name);
}

/* Sorts the entries and refuses duplicate names. */
static int finish_entries(const char *path, struct imatrix *im, struct nib_error *err) {
    if (im->n_entries > 1) qsort(im->entries, (size_t)im->n_entries, sizeof(im->entries[0]), cmp_entry);
    for (int64_t i = 1; i < im->n_entries; i++) {
        if (strcmp(im->entries[i - 1].name, im->entries[i].name) == 0)
            return cli_set_error(err, NIB_E_FORMAT, "imatrix '%s': entry '%s' appears twice", path, im->entries[i].name);
    }
    return NIB_OK;
}

static char *dup_bytes(const void *p, size_t n) {
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, p, n);
        s[n] = '\0';
    }
    return s;
}

static int add_dataset(struct imatrix *im, const char *s, size_t len) {
    char **d = realloc(im->datasets, (size_t)(im->n_datasets + 1) * sizeof(*d));
    if (!d) return NIB_E_NOMEM;
    im->datasets = d;
    if (!(d[im->n_datasets] = dup_bytes(s, len))) return NIB_E_NOMEM;
    im->n_datasets++;
    return NIB_OK;
}

/* ------------------------------------------------------------ legacy */

struct cursor {
    const uint8_t *p;
    size_t         left;
};

static bool take(struct cursor *c, size_t n, const uint8_t **out) {
    if (n > c->left) return false;
    *out = c->p;
    c->p += n;
    c->left -= n;
    return true;
}

static bool take_i32(struct cursor *c, int32_t *v) {
    const uint8_t *p;
    if (!take(c, 4, &p)) return false;
    memcpy(v, p, 4);
    return true;
}

/* One entry: name, ncall, values. Fills e (owning its name and values). */
static int legacy_entry(const char *path, int32_t idx, struct cursor *c, struct imatrix_entry *e,
                        struct nib_error *err) {
    int32_t len, ncall, nval;
    const uint8_t *name = NULL, *vals = NULL;
    if (!take_i32(c, &len))
        return cli_set_error(err, NIB_E_FORMAT, "imatrix '%s': entry %d: file ends before its name length", path, idx);
    if (len < 1 || (size_t)len > c->left)
        return cli_set_error(err, NIB_E_FORMAT, "imatrix '%s': entry %d: name length %d out of range (1..%zu bytes left)",
                             path, idx, len, c->left);
    take(c, (size_t)len, &name);
    if (memchr(name, '\0', (size_t)len))
        return cli_set_error(err, NIB_E_FORMAT, "imatrix '%s': entry %d: name contains a NUL byte", path, idx);
    if (!(e->name = dup_bytes(name, (size_t)len))) return cli_set_error(err, NIB_E_NOMEM, "imatrix: out of memory");
    if (!take_i32(c, &ncall) || !take_i32(c, &nval))
        return cli_set_error(err, NIB_E_FORMAT, "imatrix '%s': entry '%s': file ends before its counts", path, e->name);
    if (ncall < 0)
        return cli_set_error(err, NIB_E_FORMAT, "imatrix '%s': entry '%s': negative call count %d", path, e->name, ncall);
    if (nval < 1 || (size_t)nval > c->left / sizeof(float))
        return cli_set_error(err, NIB_E_FORMAT, "imatrix '%s': entry '%s': %d values out of range (1..%zu fit in the %zu bytes left)",
                             path, e->name, nval, c->left / sizeof(float), c->left);
    take(c, (size_t)nval * sizeof(float), &vals);
    if (!(e->values = malloc((size_t)nval * sizeof(float)))) return cli_set_error(err, NIB_E_NOMEM, "imatrix: out of memory");
    memcpy(e->values, vals, (size_t)nval * sizeof(float));
    for (int32_t i = 0; i < nval; i++) {
        if (!isfinite(e->values[i]))
            return cli_set_error(err, NIB_E_FORMAT, "imatrix '%s': entry '%s': value %d is %g", path, e->name, i,
                                 (double)e->values[i]);
        /* llama-quantize: sums[i] / ncall, the int64 ncall converted to float */
        if (ncall > 0) e->values[i] = e->values[i] / (float)ncall;
    }
    e->n_values = nval;
    e->n_experts = 0;
    return NIB_OK;
}

/* Optional trailer: int32 chunk count, then int32 len + dataset name. */
static int legacy_trailer(const char *path, struct cursor *c, struct imatrix *im, struct nib_error *err) {
    if (c->left == 0) return NIB_OK;
    int32_t chunks, len;
    if (!take_i32(c, &chunks) || chunks < 0)
        return cli_set_error(err, NIB_E_FORMAT, "imatrix '%s': bad trailer after the entries (chunk count)", path);
    im->chunk_count = (uint32_t)chunks;
    if (c->left == 0) return NIB_OK;
    if (!take_i32(c, &len))
        return cli_set_error(err, NIB_E_FORMAT, "imatrix '%s': bad trailer after the entries (%zu stray bytes)", path, c->left);
    if (len < 0 || (size_t)len != c->left)
        return cli_set_error(err, NIB_E_FORMAT,
                             "imatrix '%s': bad trailer after the entries (dataset name of %d bytes, %zu bytes left)", path,
                             len, c->left);
    const uint8_t *name = NULL;
    take(c, (size_t)len, &name);
    if (len > 0 && add_dataset(im, (const char *)name, (size_t)len) != NIB_OK)
        return cli_set_error(err, NIB_E_NOMEM, "imatrix: out of memory");
    return NIB_OK;
}

static int load_legacy(const char *path, const uint8_t *data, size_t size, struct imatrix *im, struct nib_error *err) {
    struct cursor c = {data, size};
    int32_t n;
    im->is_legacy = true;
    if (!take_i32(&c, &n)) return cli_set_error(err, NIB_E_FORMAT, "imatrix '%s': file too short (%zu bytes)", path, size);
    /* each entry takes at least 4 + 1 + 4 + 4 + 4 bytes */
    if (n < 1 || (size_t)n > c.left / 17)
        return cli_set_error(err, NIB_E_FORMAT, "imatrix '%s': %d entries out of range (1..%zu for %zu bytes)", path, n,
                             c.left / 17, size);
    if (!(im->entries = calloc((size_t)n, sizeof(im->entries[0]))))
        return cli_set_error(err, NIB_E_NOMEM, "imatrix: out of memory");
    for (int32_t i = 0; i < n; i++) {
        im->n_entries = i + 1; /* so imatrix_free releases a half-read entry */
        int rc = legacy_entry(path, i, &c, &im->entries[i], err);
        if (rc != NIB_OK) return rc;
    }
    int rc = legacy_trailer(path, &c, im, err);
    return rc != NIB_OK ? rc : finish_entries(path, im, err);
}

/* -------------------------------------------------------------- GGUF */

static const char k_sums[] = ".in_sum2", k_counts[] = ".counts";

/* The base name when `name` ends with `suffix` (and is longer), else NULL. */
static char *strip_suffix(const char *name, const char *suffix) {
    const size_t n = strlen(name), s = strlen(suffix);
    if (n <= s || strcmp(name + n - s, suffix) != 0) return NULL;
    return dup_bytes(name, n - s);
}

/* The tensor base+suffix, or NULL. */
static const struct nib_gguf_tensor *find_pair(const struct nib_gguf *g, const char *base, const char *suffix) {
    const size_t n = strlen(base), s = strlen(suffix);
    char *name = malloc(n + s + 1);
    if (!name) return NULL;
    memcpy(name, base, n);
    memcpy(name + n, suffix, s + 1);
    const int64_t i = nib_gguf_find_tensor(g, name);
    free(name);
    return i < 0 ? NULL : nib_gguf_get_tensor(g, i);
}

/* in_sum2 / counts -> weights, as quantize.cpp's load_imatrix. */
static int gguf_entry(const char *path, const char *base, const struct nib_gguf_tensor *sums,
                      const struct nib_gguf_tensor *counts, struct imatrix_entry *e, struct nib_error *err) {
    if (sums->type != NIB_TYPE_F32 || counts->type != NIB_TYPE_F32)
        return cli_set_error(err, NIB_E_FORMAT, "imatrix '%s': '%s': in_sum2 is %s and counts %s, both must be F32", path,
                             base, nib_type_name(sums->type), nib_type_name(counts->type));
    const int64_t nval = sums->n_elements, ncounts = counts->n_elements;
    if (nval < 1 || ncounts < 1 || nval % ncounts != 0)
        return cli_set_error(err, NIB_E_FORMAT, "imatrix '%s': '%s': %lld sums do not split into %lld experts", path, base,
                             (long long)nval, (long long)ncounts);
    const int64_t ne0 = nval / ncounts;
    if (!(e->values = malloc((size_t)nval * sizeof(float)))) return cli_set_error(err, NIB_E_NOMEM, "imatrix: out of memory");
    for (int64_t j = 0; j < ncounts; j++) {
        float cf;
        memcpy(&cf, (const uint8_t *)counts->data + j * 4, 4);
        if (!isfinite(cf) || cf < 0 || cf > k_max_count)
            return cli_set_error(err, NIB_E_FORMAT, "imatrix '%s': '%s': count %g of expert %lld is not a count", path,
                                 base, (double)cf, (long long)j);
        /* common_imatrix_load rounds to int64, load_imatrix converts back */
        const float count = (float)llroundf(cf);
        for (int64_t i = 0; i < ne0; i++) {
            float s;
            memcpy(&s, (const uint8_t *)sums->data + (j * ne0 + i) * 4, 4);
            if (!isfinite(s))
                return cli_set_error(err, NIB_E_FORMAT, "imatrix '%s': '%s': sum %lld of expert %lld is %g", path, base,
                                     (long long)i, (long long)j, (double)s);
            e->values[j * ne0 + i] = count > 0.0f ? s / count : 1.0f;
        }
    }
    e->n_values = nval;
    e->n_experts = ncounts;
    return NIB_OK;
}

static int gguf_metadata(const char *path, const struct nib_gguf *g, struct imatrix *im, struct nib_error *err) {
    uint64_t v[2];
    const char *keys[2] = {"imatrix.chunk_count", "imatrix.chunk_size"};
    if (nib_gguf_find_kv(g, "imatrix.datasets") < 0)
        return cli_set_error(err, NIB_E_FORMAT, "imatrix '%s': missing key imatrix.datasets (llama-quantize needs it too)", path);
    for (int k = 0; k < 2; k++) {
        int rc = nib_gguf_get_u64(g, keys[k], &v[k], NULL);
        if (rc != NIB_OK || v[k] > UINT32_MAX)
            return cli_set_error(err, NIB_E_FORMAT, "imatrix '%s': key %s %s", path, keys[k],
                                 rc == NIB_E_NOT_FOUND ? "missing (llama-quantize needs it too)" : "is not a u32");
    }
    im->chunk_count = (uint32_t)v[0];
    im->chunk_size = (uint32_t)v[1];
    const struct nib_gguf_value *d = nib_gguf_get(g, "imatrix.datasets");
    if (d->type == NIB_GGUF_ARRAY && d->v.arr.type == NIB_GGUF_STRING) { /* else ignored, as llama.cpp does */
        for (uint64_t i = 0; i < d->v.arr.n; i++) {
            const struct nib_gguf_value *s = nib_gguf_array_get_value(d, i);
            if (add_dataset(im, s->v.str.ptr, strlen(s->v.str.ptr)) != NIB_OK)
                return cli_set_error(err, NIB_E_NOMEM, "imatrix: out of memory");
        }
    }
    return NIB_OK;
}

/* Checks that every .counts has its .in_sum2 and counts the pairs. */
static int gguf_count_pairs(const char *path, const struct nib_gguf *g, int64_t *n_pairs, struct nib_error *err) {
    *n_pairs = 0;
    for (int64_t i = 0; i < nib_gguf_n_tensors(g); i++) {
        const char *name = nib_gguf_get_tensor(g, i)->name;
        for (int k = 0; k < 2; k++) {
            char *base = strip_suffix(name, k ? k_counts : k_sums);
            if (!base) continue;
            const bool paired = find_pair(g, base, k ? k_sums : k_counts) != NULL;
            if (!paired) cli_set_error(err, NIB_E_FORMAT, "imatrix '%s': '%s' has %s but no %s", path, base,
                                       k ? k_counts : k_sums, k ? k_sums : k_counts);
            free(base);
            if (!paired) return NIB_E_FORMAT;
            *n_pairs += k == 0;
        }
    }
    if (*n_pairs == 0)
        return cli_set_error(err, NIB_E_FORMAT, "imatrix '%s': no <name>.in_sum2 / <name>.counts tensors", path);
    return NIB_OK;
}

static int load_gguf(const char *path, struct imatrix *im, struct nib_error *err) {
    struct nib_gguf *g = NULL;
    int rc = nib_gguf_open(path, NULL, &g, err);
    if (rc != NIB_OK) return rc;
    int64_t n_pairs;
    if ((rc = gguf_metadata(path, g, im, err)) != NIB_OK || (rc = gguf_count_pairs(path, g, &n_pairs, err)) != NIB_OK)
        goto done;
    if (!(im->entries = calloc((size_t)n_pairs, sizeof(im->entries[0])))) {
        rc = cli_set_error(err, NIB_E_NOMEM, "imatrix: out of memory");
        goto done;
    }
    for (int64_t i = 0; i < nib_gguf_n_tensors(g) && rc == NIB_OK; i++) {
        const struct nib_gguf_tensor *sums = nib_gguf_get_tensor(g, i);
        char *base = strip_suffix(sums->name, k_sums);
        if (!base) continue;
        struct imatrix_entry *e = &im->entries[im->n_entries++];
        e->name = base;
        rc = gguf_entry(path, base, sums, find_pair(g, base, k_counts), e, err);
    }
    if (rc == NIB_OK) rc = finish_entries(path, im, err);
done:
    nib_gguf_free(g);
    return rc;
}

/* ------------------------------------------------------------ public */

static int read_file(const char *path, uint8_t **data, size_t *size, struct nib_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return cli_set_error(err, NIB_E_IO, "imatrix '%s': %s", path, strerror(errno));
    int rc = NIB_OK;
    long n = -1;
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        rc = cli_set_error(err, NIB_E_IO, "imatrix '%s': cannot size the file: %s", path, strerror(errno));
    } else if (!(*data = malloc(n > 0 ? (size_t)n : 1))) {
        rc = cli_set_error(err, NIB_E_NOMEM, "imatrix '%s': out of memory for %ld bytes", path, n);
    } else if (fread(*data, 1, (size_t)n, f) != (size_t)n) {
        rc = cli_set_error(err, NIB_E_IO, "imatrix '%s': short read", path);
    }
    *size = (size_t)(n > 0 ? n : 0);
    fclose(f);
    return rc;
}

int imatrix_load(const char *path, struct imatrix **out, struct nib_error *err) {
    if (!path || !out) return cli_set_error(err, NIB_E_ARG, "imatrix_load: NULL %s", path ? "out" : "path");
    *out = NULL;
    struct imatrix *im = calloc(1, sizeof(*im));
    if (!im) return cli_set_error(err, NIB_E_NOMEM, "imatrix: out of memory");
    uint8_t *data = NULL;
    size_t size = 0;
    int rc = read_file(path, &data, &size, err);
    if (rc == NIB_OK) {
        if (size >= 4 && memcmp(data, "GGUF", 4) == 0) {
            free(data); /* nib_gguf maps the file itself */
            data = NULL;
            rc = load_gguf(path, im, err);
        } else {
            rc = load_legacy(path, data, size, im, err);
        }
    }
    free(data);
    if (rc != NIB_OK) {
        imatrix_free(im);
        return rc;
    }
    *out = im;
    return NIB_OK;
}

const struct imatrix_entry *imatrix_find(const struct imatrix *im, const char *name) {
    if (!im || !name || im->n_entries == 0) return NULL;
    const struct imatrix_entry key = {.name = (char *)name};
    return bsearch(&key, im->entries, (size_t)im->n_entries, sizeof(key), cmp_entry);
}

int imatrix_lookup(const struct imatrix *im, const char *name, int64_t n_per_row, int64_t n_experts,
                   int64_t expert, const float **out, struct nib_error *err) {
    if (!out || n_per_row < 1 || n_experts < 1 || expert < 0 || expert >= n_experts)
        return cli_set_error(err, NIB_E_ARG, "imatrix_lookup: bad arguments for '%s' (%lld columns, expert %lld of %lld)",
                             name ? name : "(null)", (long long)n_per_row, (long long)expert, (long long)n_experts);
    const struct imatrix_entry *e = imatrix_find(im, name);
    if (!e) return cli_set_error(err, NIB_E_NOT_FOUND, "imatrix: no weights for '%s'", name ? name : "(null)");
    int64_t want;
    if (__builtin_mul_overflow(n_per_row, n_experts, &want) || e->n_values != want)
        return cli_set_error(err, NIB_E_FORMAT, "imatrix: '%s' has %lld weights, the tensor needs %lld x %lld", name,
                             (long long)e->n_values, (long long)n_per_row, (long long)n_experts);
    *out = e->values + expert * n_per_row;
    return NIB_OK;
}
