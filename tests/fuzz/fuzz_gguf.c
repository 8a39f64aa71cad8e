/*
 * fuzz_gguf.c — libFuzzer target for the GGUF reader (build with NIB_FUZZ=ON
 * and clang). Each input is parsed from memory; whatever opens is walked
 * completely (every metadata value, the first row of every tensor
 * dequantized) so that any out-of-bounds view is caught by ASan.
 * When the metadata holds a vocabulary it is loaded and used for a tokenize /
 * detokenize round. Seed corpus: tests/fuzz/corpus (small valid files, v2
 * and v3, and the vocabularies of two shipped-size models).
 */
#include "nib.h"

#include <stdint.h>
#include <stdlib.h>

static uint64_t walk_value(const struct nib_gguf_value *v) {
    uint64_t h = 0;
    if (v->type == NIB_GGUF_STRING) {
        for (uint64_t i = 0; i < v->v.str.len; i++) h += (uint8_t)v->v.str.ptr[i];
    } else if (v->type == NIB_GGUF_ARRAY) {
        for (uint64_t i = 0; i < v->v.arr.n; i++) {
            const struct nib_gguf_value *e = nib_gguf_array_get_value(v, i);
            double d;
            if (e) h += walk_value(e);
            else if (nib_gguf_array_get_f64(v, i, &d) == NIB_OK) h += d != 0;
        }
    }
    return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    struct nib_gguf *g = NULL;
    if (nib_gguf_open_memory(data, size, NULL, &g, NULL) != NIB_OK) return 0;
    volatile uint64_t sink = 0;
    for (int64_t i = 0; i < nib_gguf_n_kv(g); i++) sink += walk_value(nib_gguf_kv_value(g, i));
    for (int64_t i = 0; i < nib_gguf_n_tensors(g); i++) {
        const struct nib_gguf_tensor *t = nib_gguf_get_tensor(g, i);
        if (!nib_type_is_supported(t->type) || t->ne[0] > 4096) continue;
        float *row = malloc((size_t)t->ne[0] * sizeof(float));
        if (row && nib_dequantize(t->type, t->data, row, t->ne[0], NULL) == NIB_OK) sink += row[0] != 0;
        free(row);
    }
    struct nib_vocab *v = NULL;
    if (nib_vocab_load(g, &v, NULL) == NIB_OK) { /* a vocabulary in the metadata: use it */
        static const char text[] = "Hello <s> world <|im_end|> \xe4\xbd\xa0\xff";
        int32_t ids[64];
        int64_t n = nib_tokenize(v, text, sizeof(text) - 1, NIB_TOKENIZE_ADD_SPECIAL | NIB_TOKENIZE_PARSE_SPECIAL, ids, 64, NULL);
        char out[512];
        if (n > 0 && n <= 64) sink += (uint64_t)nib_detokenize(v, ids, n, NIB_DETOKENIZE_RENDER_SPECIAL, out, sizeof(out), NULL);
        nib_vocab_free(v);
    }
    nib_gguf_free(g);
    (void)sink;
    return 0;
}
