/*
 * gguf-set-pre.c — developer helper for scripts/gen-tokenizer-golden.sh:
 * copies a vocabulary-only GGUF with `tokenizer.ggml.pre` replaced, so that
 * llama.cpp and nib can be run on the same vocabulary under every
 * pre-tokenizer name.
 *
 *   gguf-set-pre IN.gguf OUT.gguf NAME
 *
 * Every other key is copied as is and in order (the new name takes the old
 * one's place, or comes last when IN has none). IN must have no tensors.
 * Built by the script against build/libnib.a; not part of the library.
 */
#include "nib.h"

#include <stdio.h>
#include <string.h>

static int fail(const char *what, const struct nib_error *err) {
    fprintf(stderr, "gguf-set-pre: %s: %s\n", what, err->msg);
    return 1;
}

static int copy_with_pre(const struct nib_gguf *g, const char *out, const char *name) {
    struct nib_error err = { 0 };
    struct nib_gguf_writer *w = NULL;
    if (nib_gguf_writer_open(out, (uint32_t)nib_gguf_alignment(g), &w, &err) != NIB_OK) return fail(out, &err);
    const char *pre_key = "tokenizer.ggml.pre";
    bool have_pre = false;
    int rc = NIB_OK;
    for (int64_t i = 0; rc == NIB_OK && i < nib_gguf_n_kv(g); i++) {
        const char *key = nib_gguf_kv_key(g, i);
        if (strcmp(key, pre_key) == 0) {
            rc = nib_gguf_writer_set_str(w, pre_key, name, &err);
            have_pre = true;
        } else {
            rc = nib_gguf_writer_set_kv(w, key, nib_gguf_kv_value(g, i), &err);
        }
    }
    if (rc == NIB_OK && !have_pre) rc = nib_gguf_writer_set_str(w, pre_key, name, &err);
    if (rc == NIB_OK) rc = nib_gguf_writer_write_header(w, &err);
    if (rc == NIB_OK) rc = nib_gguf_writer_close(w, &err);
    nib_gguf_writer_free(w);
    return rc == NIB_OK ? 0 : fail(out, &err);
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: gguf-set-pre IN.gguf OUT.gguf NAME\n");
        return 2;
    }
    struct nib_error err = { 0 };
    struct nib_gguf *g = NULL;
    if (nib_gguf_open(argv[1], NULL, &g, &err) != NIB_OK) return fail(argv[1], &err);
    if (nib_gguf_n_tensors(g) != 0) {
        fprintf(stderr, "gguf-set-pre: %s: has %lld tensors; only vocabulary-only files are copied\n", argv[1],
                (long long)nib_gguf_n_tensors(g));
        nib_gguf_free(g);
        return 1;
    }
    int rc = copy_with_pre(g, argv[2], argv[3]);
    nib_gguf_free(g);
    return rc;
}
