/*
 * detokenize.c — tokens back to text, as llama.cpp's token_to_piece and
 * detokenize do (leading-space removal after add_space_prefix, optional BOS/
 * EOS removal, the clean-up passes of BPE vocabularies), and a streaming
 * UTF-8 assembler for printing generated tokens.
 */
#include "error.h"
#include "vocab_internal.h"

#include <stdlib.h>
#include <string.h>

static bool hidden(const struct nib_vocab *v, int32_t id, uint32_t flags) {
    return !(flags & NIB_DETOKENIZE_RENDER_SPECIAL) &&
           (v->tokens[id].attr & (NIB_TOKEN_ATTR_UNKNOWN | NIB_TOKEN_ATTR_CONTROL));
}

/* The piece of id with up to `lstrip` leading spaces removed. */
static const char *piece(const struct nib_vocab *v, int32_t id, uint32_t flags, int lstrip, int64_t *len) {
    if (hidden(v, id, flags)) {
        *len = 0;
        return "";
    }
    const char *p = nib_vocab_piece(v, id, len);
    for (int i = 0; i < lstrip && *len > 0 && *p == ' '; i++) {
        p++;
        (*len)--;
    }
    return p;
}

int64_t nib_token_to_piece(const struct nib_vocab *v, int32_t id, uint32_t flags, char *buf, int64_t cap) {
    if (!v || id < 0 || id >= v->n_tokens) return NIB_E_ARG;
    int64_t len;
    const char *p = piece(v, id, flags, 0, &len);
    if (buf && cap > 0) memcpy(buf, p, (size_t)(len < cap ? len : cap));
    return len;
}

/* llama.cpp's three clean-up passes over the detokenized text, in place. */
static int64_t clean_spaces(char *text, int64_t total) {
    int64_t t1 = total;
    total = total ? 1 : 0;
    for (int64_t i = 1; i < t1; i++) { /* " ?", " !", " .", " ," */
        char x = text[i];
        if (text[i - 1] == ' ' && (x == '?' || x == '!' || x == '.' || x == ',')) total--;
        text[total++] = x;
    }
    int64_t t2 = total;
    total = total ? 1 : 0;
    for (int64_t i = 1; i < t2; i++) { /* " ' " -> "'" */
        char x = text[i];
        if (x == '\'' && i + 1 < t2 && text[i - 1] == ' ' && text[i + 1] == ' ') {
            total--;
            text[++i] = '\0';
        }
        text[total++] = x;
    }
    int64_t t3 = total;
    total = total ? 1 : 0;
    for (int64_t i = 1; i < t3; i++) { /* " 's", " 'm", " 're", " 've" */
        char x = text[i];
        if (text[i - 1] == ' ' && x == '\'' && i + 1 < t3) {
            char x1 = text[i + 1];
            if (x1 == 's' || x1 == 'm') total--;
            else if (i + 2 < t3 && ((x1 == 'r' && text[i + 2] == 'e') || (x1 == 'v' && text[i + 2] == 'e'))) total--;
        }
        text[total++] = x;
    }
    return total;
}

int64_t nib_detokenize(const struct nib_vocab *v, const int32_t *ids, int64_t n, uint32_t flags, char *buf, int64_t cap,
                       struct nib_error *err) {
    if (!v || (!ids && n > 0) || n < 0 || cap < 0 || (!buf && cap > 0))
        return nib_error_set(err, NIB_E_ARG, "nib_detokenize: invalid argument");
    for (int64_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= v->n_tokens)
            return nib_error_set(err, NIB_E_ARG, "token %d at position %lld is out of range (vocabulary has %d tokens)", ids[i],
                                 (long long)i, v->n_tokens);
    bool strip_first = v->add_space_prefix; /* the space SentencePiece put in front */
    if ((flags & NIB_DETOKENIZE_REMOVE_SPECIAL) && v->add_bos && n > 0 && ids[0] == v->special[NIB_SPECIAL_BOS]) {
        strip_first = false;
        ids++;
        n--;
    }
    if ((flags & NIB_DETOKENIZE_REMOVE_SPECIAL) && v->add_eos && n > 0 && ids[n - 1] == v->special[NIB_SPECIAL_EOS]) n--;
    int64_t total = 0, len;
    for (int64_t i = 0; i < n; i++) {
        piece(v, ids[i], flags, i == 0 && strip_first, &len);
        total += len;
    }
    char *text = malloc((size_t)total + 1);
    if (!text) return nib_error_set(err, NIB_E_NOMEM, "out of memory");
    for (int64_t i = 0, o = 0; i < n; i++) {
        const char *p = piece(v, ids[i], flags, i == 0 && strip_first, &len);
        memcpy(text + o, p, (size_t)len);
        o += len;
    }
    if (v->clean_spaces) total = clean_spaces(text, total);
    if (buf && cap > 0) {
        memcpy(buf, text, (size_t)(total < cap ? total : cap));
        if (total < cap) buf[total] = '\0';
    }
    free(text);
    return total;
}

/* ------------------------------------------------------ UTF-8 stream */

static size_t put_fffd(char *out) {
    memcpy(out, "\xef\xbf\xbd", 3);
    return 3;
}

/* Bytes a sequence starting with lead byte c needs in all; 0: not a lead. */
static int seq_len(unsigned char c) {
    return c < 0x80 ? 1 : (c >= 0xc2 && c <= 0xdf) ? 2 : (c >= 0xe0 && c <= 0xef) ? 3 : (c >= 0xf0 && c <= 0xf4) ? 4 : 0;
}

/* Whether b may follow the pending bytes (excludes overlongs, surrogates, > U+10FFFF). */
static bool continues(const unsigned char *pending, int n, unsigned char b) {
    if ((b & 0xc0) != 0x80) return false;
    if (n != 1) return true;
    switch (pending[0]) {
    case 0xe0: return b >= 0xa0;
    case 0xed: return b <= 0x9f;
    case 0xf0: return b >= 0x90;
    case 0xf4: return b <= 0x8f;
    default: return true;
    }
}

size_t nib_utf8_stream_push(struct nib_utf8_stream *s, const char *bytes, size_t n, char *out) {
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char b = (unsigned char)bytes[i];
        if (s->n_pending) {
            if (continues(s->pending, s->n_pending, b)) {
                s->pending[s->n_pending++] = b;
                if (s->n_pending == seq_len(s->pending[0])) {
                    memcpy(out + o, s->pending, (size_t)s->n_pending);
                    o += (size_t)s->n_pending;
                    s->n_pending = 0;
                }
                continue;
            }
            o += put_fffd(out + o); /* an incomplete sequence: one U+FFFD, then b starts afresh */
            s->n_pending = 0;
        }
        int len = seq_len(b);
        if (len == 1) out[o++] = (char)b;
        else if (len == 0) o += put_fffd(out + o);
        else s->pending[s->n_pending++] = b;
    }
    return o;
}

size_t nib_utf8_stream_finish(struct nib_utf8_stream *s, char *out) {
    size_t o = 0;
    if (s->n_pending) o = put_fffd(out);
    s->n_pending = 0;
    return o;
}
