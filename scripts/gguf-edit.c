/*
 * gguf-edit.c — developer tool: copy a GGUF file with metadata changed and,
 * optionally, one extra F32 vector tensor. Used by scripts/gen-rope-golden.sh
 * to make model variants that llama.cpp and nib then both run.
 *
 *   gguf-edit IN.gguf OUT.gguf [key=str:VALUE | key=u32:N | key=f32:X]...
 *                              [--tensor NAME=v1,v2,...]
 *
 * Built by the script against build/libnib.a; not part of the library.
 */
#include "nib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_EDITS 16

struct edit {
    char key[128];
    struct nib_gguf_value v;
    char str[256];
};

static int fail(const char *what, const char *msg) {
    fprintf(stderr, "gguf-edit: %s: %s\n", what, msg);
    return 1;
}

static int parse_edit(const char *arg, struct edit *e) {
    const char *eq = strchr(arg, '='), *colon = eq ? strchr(eq, ':') : NULL;
    if (!eq || !colon || (size_t)(eq - arg) >= sizeof(e->key)) return 1;
    memcpy(e->key, arg, (size_t)(eq - arg));
    e->key[eq - arg] = '\0';
    const char *type = eq + 1, *val = colon + 1;
    if (!strncmp(type, "str:", 4)) {
        snprintf(e->str, sizeof(e->str), "%s", val);
        e->v.type = NIB_GGUF_STRING;
        e->v.v.str.ptr = e->str;
        e->v.v.str.len = strlen(e->str);
    } else if (!strncmp(type, "u32:", 4)) {
        e->v.type = NIB_GGUF_UINT32;
        e->v.v.u64 = strtoull(val, NULL, 10);
    } else if (!strncmp(type, "f32:", 4)) {
        e->v.type = NIB_GGUF_FLOAT32;
        e->v.v.f64 = strtod(val, NULL);
    } else {
        return 1;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3) return fail("usage", "gguf-edit IN OUT [key=type:value]... [--tensor NAME=v1,v2,...]");
    struct edit edits[MAX_EDITS];
    int n_edits = 0;
    const char *tname = NULL;
    float tvals[4096];
    int64_t tn = 0;
    for (int i = 3; i < argc; i++) {
        if (!strcmp(argv[i], "--tensor") && i + 1 < argc) {
            char *spec = argv[++i], *eq = strchr(spec, '=');
            if (!eq) return fail(spec, "expected NAME=v1,v2,...");
            *eq = '\0';
            tname = spec;
            for (char *p = eq + 1; *p && tn < 4096;) {
                tvals[tn++] = strtof(p, &p);
                if (*p == ',') p++;
            }
        } else if (n_edits == MAX_EDITS || parse_edit(argv[i], &edits[n_edits++])) {
            return fail(argv[i], "expected key=str:VALUE, key=u32:N or key=f32:X");
        }
    }
    struct nib_error err = { 0 };
    struct nib_gguf *g = NULL;
    struct nib_gguf_writer *w = NULL;
    if (nib_gguf_open(argv[1], NULL, &g, &err) || nib_gguf_writer_open(argv[2], (uint32_t)nib_gguf_alignment(g), &w, &err))
        return fail(argv[1], err.msg);
    int rc = 0;
    for (int64_t i = 0; !rc && i < nib_gguf_n_kv(g); i++) {
        const char *k = nib_gguf_kv_key(g, i);
        bool replaced = false;
        for (int e = 0; e < n_edits; e++) replaced |= !strcmp(edits[e].key, k);
        if (!replaced && strcmp(k, "general.alignment")) rc = nib_gguf_writer_set_kv(w, k, nib_gguf_kv_value(g, i), &err);
    }
    for (int e = 0; !rc && e < n_edits; e++) rc = nib_gguf_writer_set_kv(w, edits[e].key, &edits[e].v, &err);
    for (int64_t i = 0; !rc && i < nib_gguf_n_tensors(g); i++) {
        const struct nib_gguf_tensor *t = nib_gguf_get_tensor(g, i);
        rc = nib_gguf_writer_add_tensor(w, t->name, t->type, t->n_dims, t->ne, &err);
    }
    if (!rc && tname) rc = nib_gguf_writer_add_tensor(w, tname, NIB_TYPE_F32, 1, &tn, &err);
    if (!rc) rc = nib_gguf_writer_write_header(w, &err);
    for (int64_t i = 0; !rc && i < nib_gguf_n_tensors(g); i++) {
        const struct nib_gguf_tensor *t = nib_gguf_get_tensor(g, i);
        rc = nib_gguf_writer_write_data(w, t->data, t->n_bytes, &err);
    }
    if (!rc && tname) rc = nib_gguf_writer_write_data(w, tvals, sizeof(float) * (size_t)tn, &err);
    if (!rc) rc = nib_gguf_writer_close(w, &err);
    nib_gguf_writer_free(w);
    nib_gguf_free(g);
    return rc ? fail(argv[2], err.msg) : 0;
}
