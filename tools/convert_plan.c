/*
 * convert_plan.c — the plan of a conversion (metadata keys and output
 * tensors) and llama.cpp's per-tensor type rule.
 */
#include "convert.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

int cv_slurp(const char *path, char **out, size_t *len, struct nib_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return cli_set_error(err, NIB_E_IO, "cannot open %s: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (n < cap) break;
        char *nb = cap > ((size_t)1 << 31) ? NULL : realloc(buf, cap * 2 + 1);
        if (!nb) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = nb;
        cap *= 2;
    }
    bool bad = ferror(f);
    fclose(f);
    if (!buf) return cli_set_error(err, NIB_E_NOMEM, "%s: out of memory (or over 2 GiB)", path);
    if (bad) {
        free(buf);
        return cli_set_error(err, NIB_E_IO, "cannot read %s", path);
    }
    buf[n] = 0;
    *out = buf;
    *len = n;
    return NIB_OK;
}

void cv_plan_init(struct cv_plan *p) {
    memset(p, 0, sizeof(*p));
    cv_vocab_init(&p->vocab);
}

void cv_plan_free(struct cv_plan *p) {
    if (!p) return;
    for (int64_t i = 0; i < p->n_kv; i++) free(p->kv[i].s);
    for (int64_t i = 0; i < p->n_t; i++) {
        free(p->t[i].src);
        free(p->t[i].owned_f32);
    }
    for (int64_t i = 0; i < p->n_files; i++) st_close(&p->files[i]);
    free(p->files);
    free(p->kv);
    free(p->t);
    cv_vocab_free(&p->vocab);
    if (p->map) munmap(p->map, p->map_size);
    memset(p, 0, sizeof(*p));
}

static struct cv_kv *kv_new(struct cv_plan *p, const char *key, enum cv_kind kind, struct nib_error *err) {
    for (int64_t i = 0; i < p->n_kv; i++)
        if (!strcmp(p->kv[i].key, key)) {
            cli_set_error(err, NIB_E_STATE, "metadata key %s set twice", key);
            return NULL;
        }
    if (p->n_kv == p->cap_kv) {
        int64_t cap = p->cap_kv ? p->cap_kv * 2 : 32;
        struct cv_kv *nk = realloc(p->kv, sizeof(*nk) * (size_t)cap);
        if (!nk) {
            cli_set_error(err, NIB_E_NOMEM, "out of memory");
            return NULL;
        }
        p->kv = nk;
        p->cap_kv = cap;
    }
    struct cv_kv *k = &p->kv[p->n_kv++];
    memset(k, 0, sizeof(*k));
    snprintf(k->key, sizeof(k->key), "%s", key);
    k->kind = kind;
    return k;
}

int cv_kv_str(struct cv_plan *p, const char *key, const char *s, struct nib_error *err) {
    struct cv_kv *k = kv_new(p, key, CV_STR, err);
    if (!k) return err ? err->status : NIB_E_NOMEM;
    if (!(k->s = strdup(s))) return cli_set_error(err, NIB_E_NOMEM, "out of memory");
    return NIB_OK;
}

int cv_kv_u32(struct cv_plan *p, const char *key, uint32_t u, struct nib_error *err) {
    struct cv_kv *k = kv_new(p, key, CV_U32, err);
    if (!k) return err ? err->status : NIB_E_NOMEM;
    k->u = u;
    return NIB_OK;
}

int cv_kv_i32(struct cv_plan *p, const char *key, int32_t i, struct nib_error *err) {
    struct cv_kv *k = kv_new(p, key, CV_I32, err);
    if (!k) return err ? err->status : NIB_E_NOMEM;
    k->i = i;
    return NIB_OK;
}

int cv_kv_f32(struct cv_plan *p, const char *key, float f, struct nib_error *err) {
    struct cv_kv *k = kv_new(p, key, CV_F32, err);
    if (!k) return err ? err->status : NIB_E_NOMEM;
    k->f = f;
    return NIB_OK;
}

int cv_kv_bool(struct cv_plan *p, const char *key, bool b, struct nib_error *err) {
    struct cv_kv *k = kv_new(p, key, CV_BOOL, err);
    if (!k) return err ? err->status : NIB_E_NOMEM;
    k->u = b;
    return NIB_OK;
}

int cv_tensor_add(struct cv_plan *p, const char *name, int64_t n_src, struct cv_tensor **out, struct nib_error *err) {
    for (int64_t i = 0; i < p->n_t; i++)
        if (!strcmp(p->t[i].name, name)) return cli_set_error(err, NIB_E_FORMAT, "two input tensors map to '%s'", name);
    if (strlen(name) >= sizeof(p->t[0].name)) return cli_set_error(err, NIB_E_FORMAT, "tensor name '%s' is too long", name);
    if (p->n_t == p->cap_t) {
        int64_t cap = p->cap_t ? p->cap_t * 2 : 64;
        struct cv_tensor *nt = realloc(p->t, sizeof(*nt) * (size_t)cap);
        if (!nt) return cli_set_error(err, NIB_E_NOMEM, "out of memory");
        p->t = nt;
        p->cap_t = cap;
    }
    struct cv_tensor *t = &p->t[p->n_t];
    memset(t, 0, sizeof(*t));
    snprintf(t->name, sizeof(t->name), "%s", name);
    t->src = calloc((size_t)n_src, sizeof(*t->src));
    if (!t->src) return cli_set_error(err, NIB_E_NOMEM, "out of memory");
    t->n_src = n_src;
    t->ne[0] = t->ne[1] = t->ne[2] = t->ne[3] = 1;
    p->n_t++;
    *out = t;
    return NIB_OK;
}

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !memcmp(s + n - m, suffix, m);
}

enum nib_type cv_choose_type(const char *name, uint32_t n_dims, int64_t ne0, enum cv_outtype out) {
    if (n_dims <= 1 || ends_with(name, "_norm.weight") || !ends_with(name, ".weight") ||
        strstr(name, ".ffn_gate_inp.") != NULL)
        return NIB_TYPE_F32;
    switch (out) {
    case CV_OUT_F16: return NIB_TYPE_F16;
    case CV_OUT_BF16: return NIB_TYPE_BF16;
    case CV_OUT_Q8_0: return ne0 % 32 == 0 ? NIB_TYPE_Q8_0 : NIB_TYPE_F16; /* gguf.quants raises; converter falls back */
    default: return NIB_TYPE_F32;
    }
}

uint32_t cv_file_type(enum cv_outtype out) {
    switch (out) {
    case CV_OUT_F16: return 1;
    case CV_OUT_BF16: return 32;
    case CV_OUT_Q8_0: return 7;
    default: return 0;
    }
}

int64_t cv_permute_index(int64_t r, int64_t n, int64_t n_head) {
    int64_t half = n / n_head / 2;
    if (half <= 0) return r;
    int64_t h = r / (2 * half), rem = r % (2 * half);
    int64_t i = rem / 2, j = rem % 2;
    return h * 2 * half + j * half + i;
}
