/*
 * l2c_checkpoint.c — llama2.c checkpoints and tokenizer.bin (see
 * l2c_checkpoint.h).
 */
#include "l2c_checkpoint.h"
#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define L2C_MAGIC 0x616b3432u /* "ak42" */

/* The whole file in memory (checkpoints of llama2.c's sizes are small). */
static int read_file(const char *path, uint8_t **data, size_t *size, struct nib_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return cli_set_error(err, NIB_E_IO, "cannot open '%s': %s", path, strerror(errno));
    int rc = NIB_OK;
    long n = -1;
    if (fseek(f, 0, SEEK_END) == 0) n = ftell(f);
    if (n < 0 || fseek(f, 0, SEEK_SET) != 0) rc = cli_set_error(err, NIB_E_IO, "cannot read '%s'", path);
    *data = rc ? NULL : malloc(n > 0 ? (size_t)n : 1);
    if (!rc && !*data) rc = cli_set_error(err, NIB_E_NOMEM, "out of memory for '%s' (%ld bytes)", path, n);
    if (!rc && n > 0 && fread(*data, 1, (size_t)n, f) != (size_t)n) rc = cli_set_error(err, NIB_E_IO, "cannot read '%s'", path);
    fclose(f);
    if (rc) {
        free(*data);
        *data = NULL;
        return rc;
    }
    *size = (size_t)n;
    return NIB_OK;
}

static int32_t rd_i32(const uint8_t *p) {
    uint32_t v = (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
    int32_t s;
    memcpy(&s, &v, sizeof s);
    return s;
}

/* Element counts of the model's arrays, in one place. */
struct l2c_sizes {
    uint64_t embd, att_norm, q, kv, o, ff_in, ff_out, final, cls, rope;
};

static int sizes_of(const struct l2c_model *m, struct l2c_sizes *s, struct nib_error *err) {
    if (m->dim <= 0 || m->hidden_dim <= 0 || m->n_layers <= 0 || m->n_heads <= 0 || m->n_kv_heads <= 0 ||
        m->vocab_size <= 0 || m->seq_len <= 0 || m->dim % m->n_heads || m->n_heads % m->n_kv_heads || m->dim > (1 << 16) ||
        m->hidden_dim > (1 << 18) || m->n_layers > 1024 || m->vocab_size > (1 << 22) || m->seq_len > (1 << 24))
        return cli_set_error(err, NIB_E_FORMAT,
                             "llama2.c header (dim %d, hidden %d, layers %d, heads %d/%d, vocab %d, seq_len %d) is not a model",
                             m->dim, m->hidden_dim, m->n_layers, m->n_heads, m->n_kv_heads, m->vocab_size, m->seq_len);
    const uint64_t d = (uint64_t)m->dim, L = (uint64_t)m->n_layers, kvd = d * (uint64_t)m->n_kv_heads / (uint64_t)m->n_heads;
    s->embd = (uint64_t)m->vocab_size * d;
    s->att_norm = L * d;
    s->q = L * d * d;
    s->kv = L * d * kvd;
    s->o = L * d * d;
    s->ff_in = L * d * (uint64_t)m->hidden_dim;
    s->ff_out = s->ff_in;
    s->final = d;
    s->cls = m->shared ? 0 : s->embd;
    s->rope = (uint64_t)m->seq_len * (d / (uint64_t)m->n_heads);
    return NIB_OK;
}

/* Points the model's arrays into one float buffer. */
static int alloc_arrays(struct l2c_model *m, const struct l2c_sizes *s, struct nib_error *err) {
    const uint64_t total = s->embd + 2 * s->att_norm + s->q + 2 * s->kv + s->o + 3 * s->ff_in + s->final + s->cls;
    if (total > ((uint64_t)1 << 34)) return cli_set_error(err, NIB_E_FORMAT, "llama2.c model of %" PRIu64 " floats is too large", total);
    m->buf = malloc(sizeof(float) * (size_t)total);
    if (!m->buf) return cli_set_error(err, NIB_E_NOMEM, "out of memory for %" PRIu64 " floats", total);
    float *p = m->buf;
    m->tok_embd = p, p += s->embd;
    m->rms_att = p, p += s->att_norm;
    m->wq = p, p += s->q;
    m->wk = p, p += s->kv;
    m->wv = p, p += s->kv;
    m->wo = p, p += s->o;
    m->rms_ffn = p, p += s->att_norm;
    m->w1 = p, p += s->ff_in;
    m->w2 = p, p += s->ff_out;
    m->w3 = p, p += s->ff_in;
    m->rms_final = p, p += s->final;
    m->wcls = s->cls ? p : NULL;
    return NIB_OK;
}

/* Sequential float32 reads with bounds checks. */
struct cursor {
    const uint8_t *p;
    size_t         left;
};

static bool take_f32(struct cursor *c, float *dst, uint64_t n) {
    if (n > c->left / 4) return false;
    memcpy(dst, c->p, (size_t)n * 4);
    c->p += n * 4;
    c->left -= (size_t)n * 4;
    return true;
}

/* v2: n int8 values then n / gs float32 scales. */
static bool take_q8(struct cursor *c, float *dst, uint64_t n, int32_t gs) {
    if (n % (uint64_t)gs || n > c->left) return false;
    const int8_t *q = (const int8_t *)c->p;
    const uint64_t ng = n / (uint64_t)gs;
    if (ng > (c->left - n) / 4) return false;
    const uint8_t *sp = c->p + n;
    for (uint64_t g = 0; g < ng; g++) {
        float s;
        memcpy(&s, sp + 4 * g, 4);
        for (int32_t i = 0; i < gs; i++) dst[g * (uint64_t)gs + (uint64_t)i] = (float)q[g * (uint64_t)gs + (uint64_t)i] * s;
    }
    c->p += n + 4 * ng;
    c->left -= (size_t)(n + 4 * ng);
    return true;
}

static int load_body(struct l2c_model *m, const struct l2c_sizes *s, struct cursor *c, int32_t gs, struct nib_error *err) {
    bool ok;
    if (m->version == 0) {
        ok = take_f32(c, m->tok_embd, s->embd) && take_f32(c, m->rms_att, s->att_norm) && take_f32(c, m->wq, s->q) &&
             take_f32(c, m->wk, s->kv) && take_f32(c, m->wv, s->kv) && take_f32(c, m->wo, s->o) &&
             take_f32(c, m->rms_ffn, s->att_norm) && take_f32(c, m->w1, s->ff_in) && take_f32(c, m->w2, s->ff_out) &&
             take_f32(c, m->w3, s->ff_in) && take_f32(c, m->rms_final, s->final);
        if (ok) { /* the RoPE tables llama2.c stored: skipped */
            ok = s->rope <= c->left / 4;
            if (ok) c->p += s->rope * 4, c->left -= (size_t)s->rope * 4;
        }
        if (ok && s->cls) ok = take_f32(c, m->wcls, s->cls);
    } else {
        ok = take_f32(c, m->rms_att, s->att_norm) && take_f32(c, m->rms_ffn, s->att_norm) && take_f32(c, m->rms_final, s->final);
        if (m->version == 1) {
            ok = ok && take_f32(c, m->tok_embd, s->embd) && take_f32(c, m->wq, s->q) && take_f32(c, m->wk, s->kv) &&
                 take_f32(c, m->wv, s->kv) && take_f32(c, m->wo, s->o) && take_f32(c, m->w1, s->ff_in) &&
                 take_f32(c, m->w2, s->ff_out) && take_f32(c, m->w3, s->ff_in) && (!s->cls || take_f32(c, m->wcls, s->cls));
        } else { /* v2: each layer's matrix quantized on its own */
            const uint64_t L = (uint64_t)m->n_layers;
            float *arrs[] = { m->wq, m->wk, m->wv, m->wo, m->w1, m->w2, m->w3 };
            const uint64_t per[] = { s->q / L, s->kv / L, s->kv / L, s->o / L, s->ff_in / L, s->ff_out / L, s->ff_in / L };
            ok = ok && take_q8(c, m->tok_embd, s->embd, gs);
            for (int a = 0; ok && a < 7; a++)
                for (uint64_t l = 0; ok && l < L; l++) ok = take_q8(c, arrs[a] + l * per[a], per[a], gs);
            if (ok && s->cls) ok = take_q8(c, m->wcls, s->cls, gs);
        }
    }
    if (!ok) return cli_set_error(err, NIB_E_FORMAT, "llama2.c checkpoint is truncated (shorter than its header says)");
    if (c->left) return cli_set_error(err, NIB_E_FORMAT, "llama2.c checkpoint has %zu bytes more than its header says", c->left);
    return NIB_OK;
}

int l2c_model_load(const char *path, struct l2c_model *m, struct nib_error *err) {
    memset(m, 0, sizeof *m);
    uint8_t *data = NULL;
    size_t size = 0;
    int rc = read_file(path, &data, &size, err);
    if (rc) return rc;
    struct cursor c = { data, size };
    int32_t gs = 0;
    if (size >= 8 && (uint32_t)rd_i32(data) == L2C_MAGIC) {
        m->version = rd_i32(data + 4);
        if (m->version != 1 && m->version != 2)
            rc = cli_set_error(err, NIB_E_UNSUPPORTED, "'%s': llama2.c checkpoint version %d (nib reads 1 and 2, and the legacy format)",
                               path, m->version);
        else if (size < 256)
            rc = cli_set_error(err, NIB_E_FORMAT, "'%s': llama2.c header is truncated", path);
        else {
            int32_t *h[] = { &m->dim, &m->hidden_dim, &m->n_layers, &m->n_heads, &m->n_kv_heads, &m->vocab_size, &m->seq_len };
            for (int i = 0; i < 7; i++) *h[i] = rd_i32(data + 8 + 4 * i);
            m->shared = data[36] != 0;
            if (m->version == 2) {
                gs = rd_i32(data + 37);
                if (gs <= 0 || gs > (1 << 20)) rc = cli_set_error(err, NIB_E_FORMAT, "'%s': group size %d", path, gs);
            }
            c.p += 256, c.left -= 256;
        }
    } else if (size >= 28) {
        int32_t *h[] = { &m->dim, &m->hidden_dim, &m->n_layers, &m->n_heads, &m->n_kv_heads, &m->vocab_size, &m->seq_len };
        for (int i = 0; i < 7; i++) *h[i] = rd_i32(data + 4 * i);
        m->shared = m->vocab_size > 0;
        if (m->vocab_size < 0 && m->vocab_size != INT32_MIN) m->vocab_size = -m->vocab_size;
        c.p += 28, c.left -= 28;
    } else {
        rc = cli_set_error(err, NIB_E_FORMAT, "'%s' is too short for a llama2.c checkpoint (%zu bytes)", path, size);
    }
    struct l2c_sizes s = { 0 };
    if (!rc) rc = sizes_of(m, &s, err);
    if (!rc) rc = alloc_arrays(m, &s, err);
    if (!rc) rc = load_body(m, &s, &c, gs, err);
    if (rc && err) {
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "%s", err->msg);
        if (!strstr(msg, path)) snprintf(err->msg, sizeof err->msg, "'%.200s': %.300s", path, msg);
    }
    free(data);
    if (rc) l2c_model_free(m);
    return rc;
}

void l2c_model_free(struct l2c_model *m) {
    free(m->buf);
    memset(m, 0, sizeof *m);
}

/* llama.cpp's converter: "<0x" and a hex digit (its sscanf "<0x%02hhX>"). */
static bool is_byte_token(const char *s, size_t n) {
    return n >= 4 && !memcmp(s, "<0x", 3) &&
           ((s[3] >= '0' && s[3] <= '9') || (s[3] >= 'a' && s[3] <= 'f') || (s[3] >= 'A' && s[3] <= 'F'));
}

int l2c_vocab_load(const char *path, int32_t n, struct l2c_vocab *v, struct nib_error *err) {
    memset(v, 0, sizeof *v);
    uint8_t *data = NULL;
    size_t size = 0;
    int rc = read_file(path, &data, &size, err);
    if (rc) return rc;
    v->n = n;
    v->text = calloc((size_t)n, sizeof *v->text);
    v->len = calloc((size_t)n, sizeof *v->len);
    v->scores = calloc((size_t)n, sizeof *v->scores);
    v->types = calloc((size_t)n, sizeof *v->types);
    v->pool = malloc(3 * size + 64); /* each byte grows to at most 3 (a space to U+2581) */
    if (!v->text || !v->len || !v->scores || !v->types || !v->pool) rc = cli_set_error(err, NIB_E_NOMEM, "out of memory");
    size_t at = 4, used = 0;
    if (!rc && size < 4) rc = cli_set_error(err, NIB_E_FORMAT, "'%s' is too short for a llama2.c tokenizer", path);
    for (int32_t id = 0; !rc && id < n; id++) {
        if (size - at < 8) {
            rc = cli_set_error(err, NIB_E_FORMAT, "'%s' ends at token %d; the model has %d tokens", path, id, n);
            break;
        }
        float score;
        memcpy(&score, data + at, 4);
        const int32_t len = rd_i32(data + at + 4);
        at += 8;
        if (len < 0 || (size_t)len > size - at) {
            rc = cli_set_error(err, NIB_E_FORMAT, "'%s': token %d has a bad length %d", path, id, len);
            break;
        }
        if (!isfinite(score)) {
            rc = cli_set_error(err, NIB_E_FORMAT, "'%s': token %d has a non-finite score", path, id);
            break;
        }
        const char *src = (const char *)data + at;
        at += (size_t)len;
        static const char *const special[3] = { "<unk>", "<s>", "</s>" };
        int32_t type = 1;
        size_t sl = (size_t)len;
        if (id < 3) src = special[id], sl = strlen(src), type = id == 0 ? 2 : 3;
        else if (len == 0) type = 3;
        else if (is_byte_token(src, sl)) type = 6;
        char *dst = v->pool + used;
        size_t k = 0;
        for (size_t i = 0; i < sl; i++) {
            if (src[i] == ' ') memcpy(dst + k, "\xe2\x96\x81", 3), k += 3;
            else dst[k++] = src[i];
        }
        v->text[id] = dst;
        v->len[id] = k;
        v->scores[id] = score;
        v->types[id] = type;
        used += k;
    }
    free(data);
    if (rc) l2c_vocab_free(v);
    return rc;
}

void l2c_vocab_free(struct l2c_vocab *v) {
    free(v->text);
    free(v->len);
    free(v->scores);
    free(v->types);
    free(v->pool);
    memset(v, 0, sizeof *v);
}
