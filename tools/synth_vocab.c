/*
 * synth_vocab.c — tokenizer metadata for `nib synth`: the default small
 * SentencePiece vocab (the same tokens, scores and types as the shared synth
 * models for the same size), or every tokenizer.* key of another GGUF.
 */
#include "synth_model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_FIXED 259 /* <unk> <s> </s> and the 256 byte tokens */

enum { TOKEN_NORMAL = 1, TOKEN_UNKNOWN = 2, TOKEN_CONTROL = 3, TOKEN_BYTE = 6 };

/* Filler token f (0-based): "▁" then f's digits in base 100 over the shortest
 * length that has room, most significant first, each digit a syllable
 * consonant x vowel ("ba", "be", ..., "zu"). */
static size_t filler(int64_t f, char *out) {
    static const char cons[] = "bcdfghjklmnprstvwxyz", vow[] = "aeiou";
    int len = 1;
    int64_t span = 100;
    while (f >= span) {
        f -= span;
        span *= 100;
        len++;
    }
    memcpy(out, "\xe2\x96\x81", 3);
    for (int i = len - 1; i >= 0; i--) {
        int d = (int)(f % 100);
        f /= 100;
        out[3 + 2 * i] = cons[d / 5];
        out[4 + 2 * i] = vow[d % 5];
    }
    return 3 + 2 * (size_t)len;
}

/* Text of token id into out (at least 16 bytes); returns its length. */
static size_t token_text(int64_t id, char *out) {
    static const char *const fixed[3] = { "<unk>", "<s>", "</s>" };
    if (id < 3) return (size_t)snprintf(out, 16, "%s", fixed[id]);
    if (id < N_FIXED) return (size_t)snprintf(out, 16, "<0x%02X>", (unsigned)(id - 3));
    if (id == N_FIXED) return (size_t)snprintf(out, 16, "\xe2\x96\x81");
    if (id < N_FIXED + 1 + 94) {
        out[0] = (char)('!' + (id - N_FIXED - 1));
        return 1;
    }
    return filler(id - (N_FIXED + 1 + 94), out);
}

static int set_bool(struct nib_gguf_writer *w, const char *key, bool b, struct nib_error *err) {
    struct nib_gguf_value v = { .type = NIB_GGUF_BOOL, .v.b = b };
    return nib_gguf_writer_set_kv(w, key, &v, err);
}

static int set_arrays(struct nib_gguf_writer *w, int64_t n, char *pool, struct nib_gguf_value *tokens, float *scores,
                      int32_t *types, struct nib_error *err) {
    size_t used = 0;
    for (int64_t i = 0; i < n; i++) {
        size_t len = token_text(i, pool + used);
        tokens[i] = (struct nib_gguf_value){ .type = NIB_GGUF_STRING, .v.str = { pool + used, len } };
        used += len;
        scores[i] = i < N_FIXED ? 0.0f : -(float)(i - N_FIXED);
        types[i] = i == 0 ? TOKEN_UNKNOWN : i < 3 ? TOKEN_CONTROL : i < N_FIXED ? TOKEN_BYTE : TOKEN_NORMAL;
    }
    struct nib_gguf_value tv = { .type = NIB_GGUF_ARRAY, .v.arr = { NIB_GGUF_STRING, (uint64_t)n, tokens } };
    struct nib_gguf_value sv = { .type = NIB_GGUF_ARRAY, .v.arr = { NIB_GGUF_FLOAT32, (uint64_t)n, scores } };
    struct nib_gguf_value yv = { .type = NIB_GGUF_ARRAY, .v.arr = { NIB_GGUF_INT32, (uint64_t)n, types } };
    int rc;
    if ((rc = nib_gguf_writer_set_kv(w, "tokenizer.ggml.tokens", &tv, err)) ||
        (rc = nib_gguf_writer_set_kv(w, "tokenizer.ggml.scores", &sv, err)) ||
        (rc = nib_gguf_writer_set_kv(w, "tokenizer.ggml.token_type", &yv, err)))
        return rc;
    return NIB_OK;
}

static int write_keys(struct nib_gguf_writer *w, int64_t n, char *pool, struct nib_gguf_value *tokens, float *scores,
                      int32_t *types, struct nib_error *err) {
    int rc;
    if ((rc = nib_gguf_writer_set_str(w, "tokenizer.ggml.model", "llama", err)) ||
        (rc = nib_gguf_writer_set_str(w, "tokenizer.ggml.pre", "default", err)) ||
        (rc = set_arrays(w, n, pool, tokens, scores, types, err)) ||
        (rc = nib_gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", 1, err)) ||
        (rc = nib_gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", 2, err)) ||
        (rc = nib_gguf_writer_set_u32(w, "tokenizer.ggml.unknown_token_id", 0, err)) ||
        (rc = set_bool(w, "tokenizer.ggml.add_bos_token", true, err)) ||
        (rc = set_bool(w, "tokenizer.ggml.add_eos_token", false, err)))
        return rc;
    return NIB_OK;
}

int synth_vocab_write_default(struct nib_gguf_writer *w, int64_t n, struct nib_error *err) {
    if (n < SYNTH_MIN_VOCAB)
        return cli_set_error(err, NIB_E_ARG, "n_vocab %lld is too small for the default vocab (at least %d; or use --vocab-from)",
                           (long long)n, SYNTH_MIN_VOCAB);
    char *pool = malloc((size_t)n * 16);
    struct nib_gguf_value *tokens = malloc(sizeof(*tokens) * (size_t)n);
    float *scores = malloc(sizeof(*scores) * (size_t)n);
    int32_t *types = malloc(sizeof(*types) * (size_t)n);
    int rc = pool && tokens && scores && types ? write_keys(w, n, pool, tokens, scores, types, err)
                                               : cli_set_error(err, NIB_E_NOMEM, "out of memory for the vocab");
    free(pool);
    free(tokens);
    free(scores);
    free(types);
    return rc;
}

int synth_vocab_size(const struct nib_gguf *g, const char *path, int64_t *n_vocab, struct nib_error *err) {
    const struct nib_gguf_value *v = nib_gguf_get(g, "tokenizer.ggml.tokens");
    if (!v || v->type != NIB_GGUF_ARRAY || v->v.arr.type != NIB_GGUF_STRING || v->v.arr.n == 0)
        return cli_set_error(err, NIB_E_FORMAT, "%s: no tokenizer (tokenizer.ggml.tokens missing or not a list of strings)", path);
    *n_vocab = (int64_t)v->v.arr.n;
    return NIB_OK;
}

int synth_vocab_copy(struct nib_gguf_writer *w, const struct nib_gguf *g, struct nib_error *err) {
    for (int64_t i = 0; i < nib_gguf_n_kv(g); i++) {
        const char *key = nib_gguf_kv_key(g, i);
        if (strncmp(key, "tokenizer.", 10) != 0) continue;
        int rc = nib_gguf_writer_set_kv(w, key, nib_gguf_kv_value(g, i), err);
        if (rc) return rc;
    }
    return NIB_OK;
}
