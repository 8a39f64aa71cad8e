/*
 * convert_write.c — streams a conversion plan into a GGUF file and checks
 * the result.
 *
 * Each tensor is produced a chunk of rows at a time: source rows (after the
 * q/k permutation, which only reorders rows) are widened to F32, then
 * converted with nib_quantize, which rounds as ggml's reference does (F16
 * and BF16 round to nearest even, Q8_0 as quantize_row_q8_0_ref). A CRC32
 * of every tensor's bytes is kept; --verify re-opens the written file and
 * compares names, types, shapes and CRCs.
 */
#include "convert.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define CHUNK_FLOATS ((int64_t)1 << 21)

static int widen(const struct cv_source *s, int64_t row, float *dst, struct nib_error *err) {
    size_t es = st_dtype_size(s->dtype);
    const uint8_t *p = s->data + (size_t)(row * s->n_cols) * es;
    if (s->dtype == ST_F32) {
        memcpy(dst, p, (size_t)s->n_cols * 4);
        return NIB_OK;
    }
    return nib_dequantize(s->dtype == ST_F16 ? NIB_TYPE_F16 : NIB_TYPE_BF16, p, dst, s->n_cols, err);
}

static int write_source(struct nib_gguf_writer *w, struct cv_tensor *t, const struct cv_source *s, float *f32,
                        uint8_t *out, struct nib_error *err) {
    int64_t n_cols = s->n_cols, n_rows = s->n_rows;
    int64_t chunk = CHUNK_FLOATS / n_cols > 0 ? CHUNK_FLOATS / n_cols : 1;
    int rc;
    for (int64_t r0 = 0; r0 < n_rows; r0 += chunk) {
        int64_t nr = n_rows - r0 < chunk ? n_rows - r0 : chunk;
        for (int64_t r = 0; r < nr; r++) {
            int64_t src = t->perm_heads > 0 && n_rows > 1 ? cv_permute_index(r0 + r, n_rows, t->perm_heads) : r0 + r;
            if ((rc = widen(s, src, f32 + r * n_cols, err))) return rc;
        }
        if (t->perm_heads > 0 && n_rows == 1) { /* a 1-D bias: permute its elements */
            float *tmp = f32 + n_cols;
            for (int64_t i = 0; i < n_cols; i++) tmp[i] = f32[cv_permute_index(i, n_cols, t->perm_heads)];
            memcpy(f32, tmp, (size_t)n_cols * 4);
        }
        size_t nb = nib_type_row_bytes(t->type, nr * n_cols);
        if (t->type == NIB_TYPE_F32) memcpy(out, f32, nb);
        else if ((rc = nib_quantize(t->type, f32, out, nr * n_cols, err))) return rc;
        t->crc = (uint32_t)crc32(t->crc, out, (uInt)nb);
        if ((rc = nib_gguf_writer_write_data(w, out, nb, err))) return rc;
    }
    return NIB_OK;
}

static int set_kvs(struct nib_gguf_writer *w, const struct cv_plan *p, struct nib_error *err) {
    int rc = NIB_OK;
    for (int64_t i = 0; i < p->n_kv && !rc; i++) {
        const struct cv_kv *k = &p->kv[i];
        struct nib_gguf_value v = { .type = NIB_GGUF_BOOL, .v.b = k->u != 0 };
        struct nib_gguf_value iv = { .type = NIB_GGUF_INT32, .v.i64 = k->i };
        switch (k->kind) {
        case CV_I32: rc = nib_gguf_writer_set_kv(w, k->key, &iv, err); break;
        case CV_STR: rc = nib_gguf_writer_set_str(w, k->key, k->s, err); break;
        case CV_U32: rc = nib_gguf_writer_set_u32(w, k->key, k->u, err); break;
        case CV_F32: rc = nib_gguf_writer_set_f32(w, k->key, k->f, err); break;
        case CV_BOOL: rc = nib_gguf_writer_set_kv(w, k->key, &v, err); break;
        }
    }
    if (!rc && p->has_vocab) rc = cv_vocab_write(w, &p->vocab, err);
    return rc;
}

static int write_all(struct nib_gguf_writer *w, struct cv_plan *p, void (*progress)(int64_t, int64_t, void *),
                     void *user, struct nib_error *err) {
    int rc = set_kvs(w, p, err);
    int64_t max_cols = 1;
    for (int64_t i = 0; i < p->n_t && !rc; i++) {
        struct cv_tensor *t = &p->t[i];
        rc = nib_gguf_writer_add_tensor(w, t->name, t->type, t->n_dims, t->ne, err);
        if (t->ne[0] > max_cols) max_cols = t->ne[0];
    }
    if (rc || (rc = nib_gguf_writer_write_header(w, err))) return rc;
    int64_t cap = CHUNK_FLOATS > max_cols ? CHUNK_FLOATS : max_cols;
    float *f32 = malloc(sizeof(float) * (size_t)(cap + max_cols));
    uint8_t *out = malloc(sizeof(float) * (size_t)cap);
    if (!f32 || !out) rc = cli_set_error(err, NIB_E_NOMEM, "out of memory for conversion buffers");
    for (int64_t i = 0; i < p->n_t && !rc; i++) {
        struct cv_tensor *t = &p->t[i];
        t->crc = (uint32_t)crc32(0, Z_NULL, 0);
        for (int64_t s = 0; s < t->n_src && !rc; s++) rc = write_source(w, t, &t->src[s], f32, out, err);
        if (!rc && progress) progress(i + 1, p->n_t, user);
    }
    free(f32);
    free(out);
    return rc;
}

int cv_write(struct cv_plan *p, const char *path, void (*progress)(int64_t, int64_t, void *), void *user,
             struct nib_error *err) {
    struct nib_gguf_writer *w = NULL;
    int rc = nib_gguf_writer_open(path, 32, &w, err);
    if (rc) return rc;
    rc = write_all(w, p, progress, user, err);
    if (!rc) rc = nib_gguf_writer_close(w, err);
    nib_gguf_writer_free(w);
    return rc;
}

static int verify_tensor(const struct cv_tensor *t, const struct nib_gguf_tensor *g, const char *path,
                         struct nib_error *err) {
    if (strcmp(t->name, g->name) || t->type != g->type || t->n_dims != g->n_dims)
        return cli_set_error(err, NIB_E_FORMAT, "%s: tensor '%s' (%s) reads back as '%s' (%s)", path, t->name,
                        nib_type_name(t->type), g->name, nib_type_name(g->type));
    for (uint32_t d = 0; d < t->n_dims; d++)
        if (t->ne[d] != g->ne[d])
            return cli_set_error(err, NIB_E_FORMAT, "%s: tensor '%s': ne[%u] %lld reads back as %lld", path, t->name, d,
                            (long long)t->ne[d], (long long)g->ne[d]);
    uLong crc = crc32(0, Z_NULL, 0);
    const uint8_t *q = g->data;
    for (uint64_t off = 0; off < g->n_bytes;) {
        uint64_t n = g->n_bytes - off > (1u << 30) ? (1u << 30) : g->n_bytes - off;
        crc = crc32(crc, q + off, (uInt)n);
        off += n;
    }
    if ((uint32_t)crc != t->crc)
        return cli_set_error(err, NIB_E_FORMAT, "%s: tensor '%s': CRC32 %08x of the file's bytes differs from %08x written",
                        path, t->name, (unsigned)crc, (unsigned)t->crc);
    return NIB_OK;
}

int cv_verify(const struct cv_plan *p, const char *path, struct nib_error *err) {
    struct nib_gguf *g = NULL;
    int rc = nib_gguf_open(path, NULL, &g, err);
    if (rc) return rc;
    if (nib_gguf_n_tensors(g) != p->n_t)
        rc = cli_set_error(err, NIB_E_FORMAT, "%s: %lld tensors read back, %lld written", path,
                      (long long)nib_gguf_n_tensors(g), (long long)p->n_t);
    for (int64_t i = 0; i < p->n_t && !rc; i++) rc = verify_tensor(&p->t[i], nib_gguf_get_tensor(g, i), path, err);
    nib_gguf_free(g);
    return rc;
}
