/*
 * convert_llama2c.c — the plan of a llama2.c checkpoint, laid out as
 * llama.cpp's examples/convert-llama2c-to-ggml writes it.
 *
 * Checkpoint layouts (little-endian, float32 weights):
 *  - legacy: int32 dim, hidden_dim, n_layers, n_heads, n_kv_heads,
 *    vocab_size (negative: a separate classifier follows), seq_len; then
 *    tok_embeddings [vocab][dim], rms_att [L][dim], wq [L][dim][dim],
 *    wk, wv [L][kv_dim][dim], wo [L][dim][dim], rms_ffn [L][dim],
 *    w1 [L][hidden][dim], w2 [L][dim][hidden], w3 [L][hidden][dim],
 *    rms_final [dim], freq_cis (seq_len * head_size floats, skipped),
 *    wcls [vocab][dim] when unshared; nothing may follow.
 *  - "ak42" version 1 (llama2.c export.py): u32 magic 0x616b3432, i32 1,
 *    the seven ints, u8 shared_classifier, zero padding to 256 bytes; then
 *    rms_att [L][dim], rms_ffn [L][dim], rms_final, tok_embeddings, wq, wk,
 *    wv, wo, w1, w2, w3, and wcls when unshared. Version 2 (int8 groups)
 *    is refused.
 * Output, in the example's order: token_embd, output_norm, output (the
 * embeddings again when shared), then per layer attn_q, attn_k, attn_v,
 * attn_output, attn_norm, ffn_gate, ffn_down, ffn_up, ffn_norm. llama2.c
 * already uses GGML's rotary layout, so nothing is permuted. Metadata: the
 * example's keys (rms eps 1e-5, rope dims min(64, head size)); context
 * length --ctx, default the checkpoint's seq_len (the example: 128).
 */
#include "convert.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct l2c {
    int32_t dim, hidden, n_layer, n_head, n_kv, vocab, seq_len;
    bool    shared;
    int64_t kv_dim;
};

/* Byte offsets of each weight array in the file. */
struct l2c_layout {
    uint64_t emb, rms_att, wq, wk, wv, wo, rms_ffn, w1, w2, w3, rms_final, wcls, end;
};

static int read_header(const char *path, const uint8_t *p, size_t size, struct l2c *c, uint64_t *data,
                       int *version, struct nib_error *err) {
    int32_t h[9];
    if (size < 28) return cv_error(err, NIB_E_FORMAT, "%s: %zu bytes is too short for a llama2.c checkpoint", path, size);
    memcpy(h, p, size >= 36 ? 36 : 28);
    *version = 0;
    const int32_t *cfg = h;
    if ((uint32_t)h[0] == 0x616b3432u) {
        if (size < 256) return cv_error(err, NIB_E_FORMAT, "%s: truncated ak42 header", path);
        *version = h[1];
        if (h[1] != 1)
            return cv_error(err, NIB_E_UNSUPPORTED, "%s: llama2.c checkpoint version %d is not supported (legacy and version 1)",
                            path, h[1]);
        cfg = h + 2;
    }
    c->dim = cfg[0], c->hidden = cfg[1], c->n_layer = cfg[2], c->n_head = cfg[3], c->n_kv = cfg[4];
    c->vocab = cfg[5], c->seq_len = cfg[6];
    if (*version == 1) {
        c->shared = p[36] != 0;
        *data = 256;
    } else {
        c->shared = c->vocab > 0;
        if (c->vocab < 0) c->vocab = -c->vocab;
        *data = 28;
    }
    if (c->dim < 1 || c->dim > 65536 || c->hidden < 1 || c->hidden > 1 << 20 || c->n_layer < 1 || c->n_layer > 1024 ||
        c->n_head < 1 || c->dim % c->n_head || c->n_kv < 1 || c->n_kv > c->n_head || c->n_head % c->n_kv ||
        c->vocab < 1 || c->vocab > 1 << 22 || c->seq_len < 1 || c->seq_len > 1 << 24)
        return cv_error(err, NIB_E_FORMAT,
                        "%s: not a llama2.c checkpoint (header dim %d, hidden %d, layers %d, heads %d, kv heads %d, "
                        "vocab %d, seq_len %d)", path, c->dim, c->hidden, c->n_layer, c->n_head, c->n_kv, c->vocab,
                        c->seq_len);
    c->kv_dim = (int64_t)c->dim * c->n_kv / c->n_head;
    return NIB_OK;
}

static void layout(const struct l2c *c, uint64_t at, int version, struct l2c_layout *l) {
    uint64_t d = (uint64_t)c->dim, L = (uint64_t)c->n_layer, hd = (uint64_t)c->hidden, kv = (uint64_t)c->kv_dim;
    uint64_t v = (uint64_t)c->vocab;
#define TAKE(field, n) (l->field = at, at += 4 * (n))
    if (version == 1) {
        TAKE(rms_att, L * d), TAKE(rms_ffn, L * d), TAKE(rms_final, d), TAKE(emb, v * d);
        TAKE(wq, L * d * d), TAKE(wk, L * kv * d), TAKE(wv, L * kv * d), TAKE(wo, L * d * d);
        TAKE(w1, L * hd * d), TAKE(w2, L * d * hd), TAKE(w3, L * hd * d);
    } else {
        TAKE(emb, v * d), TAKE(rms_att, L * d), TAKE(wq, L * d * d), TAKE(wk, L * kv * d), TAKE(wv, L * kv * d);
        TAKE(wo, L * d * d), TAKE(rms_ffn, L * d), TAKE(w1, L * hd * d), TAKE(w2, L * d * hd), TAKE(w3, L * hd * d);
        TAKE(rms_final, d);
        at += 4 * (uint64_t)c->seq_len * (d / (uint64_t)c->n_head); /* freq_cis real + imag */
    }
    l->wcls = c->shared ? l->emb : at;
    if (!c->shared) at += 4 * v * d;
    l->end = at;
#undef TAKE
}

static int add(struct cv_plan *p, const struct cv_options *o, const char *name, const uint8_t *base, uint64_t off,
               int64_t rows, int64_t cols, struct nib_error *err) {
    struct cv_tensor *t;
    int rc = cv_tensor_add(p, name, 1, &t, err);
    if (rc) return rc;
    t->n_dims = rows > 1 ? 2 : 1;
    t->ne[0] = cols;
    t->ne[1] = rows;
    t->type = cv_choose_type(name, t->n_dims, cols, o->outtype);
    t->src[0] = (struct cv_source){ base + off, ST_F32, rows, cols };
    return NIB_OK;
}

static int tensors(struct cv_plan *p, const struct cv_options *o, const struct l2c *c, const struct l2c_layout *l,
                   const uint8_t *b, struct nib_error *err) {
    int64_t d = c->dim, hd = c->hidden, kv = c->kv_dim;
    int rc;
    if ((rc = add(p, o, "token_embd.weight", b, l->emb, c->vocab, d, err)) ||
        (rc = add(p, o, "output_norm.weight", b, l->rms_final, 1, d, err)) ||
        (rc = add(p, o, "output.weight", b, l->wcls, c->vocab, d, err)))
        return rc;
    for (int64_t i = 0; i < c->n_layer; i++) {
        char n[9][64];
        const char *parts[9] = { "attn_q", "attn_k", "attn_v", "attn_output", "attn_norm", "ffn_gate", "ffn_down", "ffn_up", "ffn_norm" };
        for (int k = 0; k < 9; k++) snprintf(n[k], sizeof(n[k]), "blk.%lld.%s.weight", (long long)i, parts[k]);
        if ((rc = add(p, o, n[0], b, l->wq + 4 * (uint64_t)(i * d * d), d, d, err)) ||
            (rc = add(p, o, n[1], b, l->wk + 4 * (uint64_t)(i * kv * d), kv, d, err)) ||
            (rc = add(p, o, n[2], b, l->wv + 4 * (uint64_t)(i * kv * d), kv, d, err)) ||
            (rc = add(p, o, n[3], b, l->wo + 4 * (uint64_t)(i * d * d), d, d, err)) ||
            (rc = add(p, o, n[4], b, l->rms_att + 4 * (uint64_t)(i * d), 1, d, err)) ||
            (rc = add(p, o, n[5], b, l->w1 + 4 * (uint64_t)(i * hd * d), hd, d, err)) ||
            (rc = add(p, o, n[6], b, l->w2 + 4 * (uint64_t)(i * d * hd), d, hd, err)) ||
            (rc = add(p, o, n[7], b, l->w3 + 4 * (uint64_t)(i * hd * d), hd, d, err)) ||
            (rc = add(p, o, n[8], b, l->rms_ffn + 4 * (uint64_t)(i * d), 1, d, err)))
            return rc;
    }
    return NIB_OK;
}

static int metadata(struct cv_plan *p, const struct cv_options *o, const struct l2c *c, struct nib_error *err) {
    int64_t head = c->dim / c->n_head;
    int64_t n_ctx = o->n_ctx > 0 ? o->n_ctx : c->seq_len;
    int rc;
    if ((rc = cv_kv_str(p, "general.architecture", "llama", err)) || (rc = cv_kv_str(p, "general.name", "llama", err)) ||
        (rc = cv_kv_u32(p, "llama.context_length", (uint32_t)n_ctx, err)) ||
        (rc = cv_kv_u32(p, "llama.embedding_length", (uint32_t)c->dim, err)) ||
        (rc = cv_kv_u32(p, "llama.feed_forward_length", (uint32_t)c->hidden, err)) ||
        (rc = cv_kv_u32(p, "llama.attention.head_count", (uint32_t)c->n_head, err)) ||
        (rc = cv_kv_u32(p, "llama.attention.head_count_kv", (uint32_t)c->n_kv, err)) ||
        (rc = cv_kv_u32(p, "llama.block_count", (uint32_t)c->n_layer, err)) ||
        (rc = cv_kv_u32(p, "llama.rope.dimension_count", (uint32_t)(head < 64 ? head : 64), err)) ||
        (rc = cv_kv_f32(p, "llama.attention.layer_norm_rms_epsilon", 1e-5f, err)))
        return rc;
    if (o->outtype != CV_OUT_AUTO && o->outtype != CV_OUT_F32)
        rc = cv_kv_u32(p, "general.file_type", cv_file_type(o->outtype), err);
    return rc;
}

int cv_plan_llama2c(const char *path, const struct cv_options *o, struct cv_plan *p, struct nib_error *err) {
    if (!o->tokenizer) return cv_error(err, NIB_E_ARG, "%s: a llama2.c checkpoint needs --tokenizer tokenizer.bin", path);
    int fd = open(path, O_RDONLY);
    if (fd < 0) return cv_error(err, NIB_E_IO, "cannot open %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size < 28) {
        close(fd);
        return cv_error(err, NIB_E_FORMAT, "%s: too short for a llama2.c checkpoint", path);
    }
    p->map_size = (size_t)st.st_size;
    p->map = mmap(NULL, p->map_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p->map == MAP_FAILED) {
        p->map = NULL;
        return cv_error(err, NIB_E_IO, "cannot map %s: %s", path, strerror(errno));
    }
    struct l2c c = { 0 };
    uint64_t data = 0;
    int version = 0, rc = read_header(path, p->map, p->map_size, &c, &data, &version, err);
    if (rc) return rc;
    struct l2c_layout l;
    layout(&c, data, version, &l);
    if (l.end != p->map_size)
        return cv_error(err, NIB_E_FORMAT, "%s: the header's shapes need %llu bytes but the file has %zu", path,
                        (unsigned long long)l.end, p->map_size);
    if (!o->vocab_only && (rc = tensors(p, o, &c, &l, p->map, err))) return rc;
    if ((rc = metadata(p, o, &c, err))) return rc;
    rc = cv_llama2c_vocab_read(o->tokenizer, c.vocab, &p->vocab, err);
    p->has_vocab = !rc;
    return rc;
}
