/*
 * convert_l2c.c — `nib convert` of a llama2.c checkpoint (see convert_l2c.h).
 */
#include "convert_l2c.h"
#include "cli.h"
#include "l2c_checkpoint.h"
#include "progress.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* ------------------------------------------------------------- tensors */

struct conv_tensor {
    char         name[64];
    uint32_t     n_dims;
    int64_t      ne[4];
    enum nib_type type;
    const float *data; /* ne[0] * ne[1] floats */
};

static void add(struct conv_tensor *ts, int *n, const char *name, const float *data, int64_t ne0, int64_t ne1,
                enum nib_type matrix_type) {
    struct conv_tensor *t = &ts[(*n)++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->n_dims = ne1 > 1 ? 2 : 1;
    t->ne[0] = ne0, t->ne[1] = ne1, t->ne[2] = t->ne[3] = 1;
    t->data = data;
    enum nib_type ty = t->n_dims == 2 ? matrix_type : NIB_TYPE_F32;
    if (ty == NIB_TYPE_Q8_0 && ne0 % 32) ty = NIB_TYPE_F16; /* rows no Q8_0 block divides */
    t->type = ty;
}

/* llama.cpp's order: token_embd, output_norm, output, then per layer q, k, v,
 * o, attn_norm, gate (w1), down (w2), up (w3), ffn_norm. */
static struct conv_tensor *tensor_list(const struct l2c_model *m, enum nib_type mt, int *n_out) {
    const int64_t d = m->dim, ff = m->hidden_dim, kvd = d * m->n_kv_heads / m->n_heads, L = m->n_layers;
    struct conv_tensor *ts = calloc((size_t)(3 + 9 * L), sizeof *ts);
    if (!ts) return NULL;
    int n = 0;
    char name[64];
    add(ts, &n, "token_embd.weight", m->tok_embd, d, m->vocab_size, mt);
    add(ts, &n, "output_norm.weight", m->rms_final, d, 1, mt);
    add(ts, &n, "output.weight", m->wcls ? m->wcls : m->tok_embd, d, m->vocab_size, mt);
    for (int64_t l = 0; l < L; l++) {
        const struct { const char *suffix; const float *data; int64_t ne0, ne1; } parts[] = {
            { "attn_q", m->wq + l * d * d, d, d },          { "attn_k", m->wk + l * d * kvd, d, kvd },
            { "attn_v", m->wv + l * d * kvd, d, kvd },      { "attn_output", m->wo + l * d * d, d, d },
            { "attn_norm", m->rms_att + l * d, d, 1 },      { "ffn_gate", m->w1 + l * d * ff, d, ff },
            { "ffn_down", m->w2 + l * ff * d, ff, d },      { "ffn_up", m->w3 + l * d * ff, d, ff },
            { "ffn_norm", m->rms_ffn + l * d, d, 1 },
        };
        for (size_t p = 0; p < sizeof parts / sizeof parts[0]; p++) {
            snprintf(name, sizeof name, "blk.%" PRId64 ".%s.weight", l, parts[p].suffix);
            add(ts, &n, name, parts[p].data, parts[p].ne0, parts[p].ne1, mt);
        }
    }
    *n_out = n;
    return ts;
}

/* ------------------------------------------------------------- writing */

static int write_kv(struct nib_gguf_writer *w, const struct l2c_model *m, const struct l2c_vocab *v,
                    const struct l2c_convert_opts *a, struct nib_error *err) {
    struct nib_gguf_value *tok = malloc(sizeof *tok * (size_t)v->n);
    if (!tok) return cli_set_error(err, NIB_E_NOMEM, "out of memory");
    for (int32_t i = 0; i < v->n; i++) tok[i] = (struct nib_gguf_value){ .type = NIB_GGUF_STRING, .v.str = { v->text[i], v->len[i] } };
    const struct nib_gguf_value tv = { .type = NIB_GGUF_ARRAY, .v.arr = { NIB_GGUF_STRING, (uint64_t)v->n, tok } };
    const struct nib_gguf_value sv = { .type = NIB_GGUF_ARRAY, .v.arr = { NIB_GGUF_FLOAT32, (uint64_t)v->n, v->scores } };
    const struct nib_gguf_value yv = { .type = NIB_GGUF_ARRAY, .v.arr = { NIB_GGUF_INT32, (uint64_t)v->n, v->types } };
    const uint32_t ftype = a->outtype == NIB_TYPE_F16 ? 1 : a->outtype == NIB_TYPE_BF16 ? 32 : a->outtype == NIB_TYPE_Q8_0 ? 7 : 0;
    int rc = nib_gguf_writer_set_kv(w, "tokenizer.ggml.tokens", &tv, err) || nib_gguf_writer_set_kv(w, "tokenizer.ggml.scores", &sv, err) ||
             nib_gguf_writer_set_kv(w, "tokenizer.ggml.token_type", &yv, err) ||
             nib_gguf_writer_set_str(w, "tokenizer.ggml.model", "llama", err) ||
             nib_gguf_writer_set_str(w, "general.architecture", "llama", err) || nib_gguf_writer_set_str(w, "general.name", "llama", err) ||
             nib_gguf_writer_set_u32(w, "tokenizer.ggml.unknown_token_id", 0, err) ||
             nib_gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", 1, err) ||
             nib_gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", 2, err) ||
             nib_gguf_writer_set_u32(w, "tokenizer.ggml.seperator_token_id", UINT32_MAX, err) || /* llama.cpp's spelling */
             nib_gguf_writer_set_u32(w, "tokenizer.ggml.padding_token_id", UINT32_MAX, err) ||
             nib_gguf_writer_set_u32(w, "llama.context_length", (uint32_t)(a->ctx ? a->ctx : m->seq_len), err) ||
             nib_gguf_writer_set_u32(w, "llama.embedding_length", (uint32_t)m->dim, err) ||
             nib_gguf_writer_set_u32(w, "llama.feed_forward_length", (uint32_t)m->hidden_dim, err) ||
             nib_gguf_writer_set_u32(w, "llama.attention.head_count", (uint32_t)m->n_heads, err) ||
             nib_gguf_writer_set_u32(w, "llama.attention.head_count_kv", (uint32_t)m->n_kv_heads, err) ||
             nib_gguf_writer_set_u32(w, "llama.block_count", (uint32_t)m->n_layers, err) ||
             nib_gguf_writer_set_u32(w, "llama.rope.dimension_count", (uint32_t)(m->dim / m->n_heads < 64 ? m->dim / m->n_heads : 64), err) ||
             nib_gguf_writer_set_f32(w, "llama.attention.layer_norm_rms_epsilon", 1e-5f, err) ||
             (ftype && nib_gguf_writer_set_u32(w, "general.file_type", ftype, err));
    free(tok);
    return rc ? (err ? err->status : NIB_E_IO) : NIB_OK;
}

static int write_tensors(struct nib_gguf_writer *w, const struct conv_tensor *ts, int n, uint32_t *crc, bool progress_on,
                         struct nib_error *err) {
    struct progress pr;
    progress_start(&pr, progress_on);
    for (int i = 0; i < n; i++) {
        const struct conv_tensor *t = &ts[i];
        const size_t rb = nib_type_row_bytes(t->type, t->ne[0]);
        uint8_t *row = malloc(rb);
        if (!row) return cli_set_error(err, NIB_E_NOMEM, "out of memory");
        uLong c = crc32_z(0, NULL, 0);
        int rc = NIB_OK;
        for (int64_t r = 0; !rc && r < t->ne[1]; r++) {
            rc = nib_quantize(t->type, t->data + r * t->ne[0], row, t->ne[0], err);
            if (!rc) rc = nib_gguf_writer_write_data(w, row, rb, err);
            c = crc32_z(c, row, rb);
            pr.bytes += rb;
        }
        free(row);
        if (rc) return rc;
        crc[i] = (uint32_t)c;
        progress_tensor(&pr, i, n, t->name, true);
    }
    progress_end(&pr);
    return NIB_OK;
}

static int verify(const char *path, const struct conv_tensor *ts, int n, const uint32_t *crc) {
    struct nib_gguf *g = NULL;
    struct nib_error err = { 0 };
    if (nib_gguf_open(path, NULL, &g, &err)) return cli_fail("convert: --verify: %s", err.msg);
    int rc = nib_gguf_n_tensors(g) == n ? 0 : cli_fail("convert: --verify: '%s' has %" PRId64 " tensors, %d were written", path,
                                                       nib_gguf_n_tensors(g), n);
    for (int i = 0; !rc && i < n; i++) {
        const struct nib_gguf_tensor *t = nib_gguf_get_tensor(g, i);
        if (strcmp(t->name, ts[i].name) || t->type != ts[i].type || (uint32_t)crc32_z(0, t->data, t->n_bytes) != crc[i])
            rc = cli_fail("convert: --verify: tensor '%s' of '%s' is not what was written", ts[i].name, path);
    }
    nib_gguf_free(g);
    if (!rc) fprintf(stderr, "nib convert: verified %s: %d tensors, CRC32 of each matches\n", path, n);
    return rc;
}

static void print_tensors(const struct conv_tensor *ts, int n) {
    for (int i = 0; i < n; i++) {
        char shape[96];
        printf("%-40s %-5s %s\n", ts[i].name, nib_type_name(ts[i].type), cli_fmt_dims(shape, ts[i].n_dims, ts[i].ne));
    }
}

int l2c_convert(const char *src, const char *out, const struct l2c_convert_opts *a) {
    struct l2c_model m;
    struct l2c_vocab v;
    struct nib_error err = { 0 };
    if (l2c_model_load(src, &m, &err)) return cli_fail("convert: %s", err.msg);
    if (l2c_vocab_load(a->tokenizer, m.vocab_size, &v, &err)) {
        l2c_model_free(&m);
        return cli_fail("convert: %s", err.msg);
    }
    int n = 0, rc = 0;
    struct conv_tensor *ts = tensor_list(&m, a->outtype, &n);
    uint32_t *crc = calloc((size_t)n + 1, sizeof *crc);
    struct nib_gguf_writer *w = NULL;
    if (!ts || !crc) rc = cli_fail("convert: out of memory");
    if (!rc && a->dry_run) {
        print_tensors(ts, n);
        free(crc);
        free(ts);
        l2c_vocab_free(&v);
        l2c_model_free(&m);
        return 0;
    }
    if (!rc && nib_gguf_writer_open(out, 32, &w, &err)) rc = cli_fail_err(&err);
    if (!rc && write_kv(w, &m, &v, a, &err)) rc = cli_fail_err(&err);
    for (int i = 0; !rc && i < n; i++)
        if (nib_gguf_writer_add_tensor(w, ts[i].name, ts[i].type, ts[i].n_dims, ts[i].ne, &err)) rc = cli_fail_err(&err);
    if (!rc && nib_gguf_writer_write_header(w, &err)) rc = cli_fail_err(&err);
    if (!rc && write_tensors(w, ts, n, crc, a->progress, &err)) rc = cli_fail_err(&err);
    if (!rc && nib_gguf_writer_close(w, &err)) rc = cli_fail_err(&err);
    nib_gguf_writer_free(w); /* removes the temporary file unless closed */
    if (!rc)
        fprintf(stderr, "nib convert: wrote %s: llama2.c %s checkpoint, %d layers, dim %d, vocab %d, %d tensors (%s)\n", out,
                m.version == 0 ? "legacy" : m.version == 1 ? "v1" : "v2", m.n_layers, m.dim, m.vocab_size, n,
                nib_type_name(a->outtype));
    if (!rc && a->verify) rc = verify(out, ts, n, crc);
    free(crc);
    free(ts);
    l2c_vocab_free(&v);
    l2c_model_free(&m);
    return rc;
}

