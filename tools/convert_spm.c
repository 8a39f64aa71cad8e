/*
 * convert_spm.c — a strict reader of SentencePiece's tokenizer.model
 * (protobuf ModelProto), taking only what a GGUF vocabulary needs.
 *
 * Wire format: each field is a varint key (field << 3 | wire type) then a
 * varint (type 0), 8 bytes (1), a varint length and that many bytes (2) or
 * 4 bytes (5); groups (3, 4) are refused. ModelProto field 1 is repeated
 * SentencePiece { 1: piece (string), 2: score (float), 3: type (enum,
 * default NORMAL = 1) }; every other field is skipped. The piece types
 * share llama.cpp's numbering (NORMAL 1, UNKNOWN 2, CONTROL 3,
 * USER_DEFINED 4, UNUSED 5, BYTE 6). Every length is checked against the
 * bytes left; nothing is read out of bounds on any input.
 */
#include "convert.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pb {
    const uint8_t *p, *end;
};

static bool pb_varint(struct pb *b, uint64_t *out) {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (b->p >= b->end) return false;
        uint8_t c = *b->p++;
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *out = v;
            return true;
        }
    }
    return false;
}

/* Reads one field; for type 2 *sub is its payload, for 5 *u32 holds the bits. */
static bool pb_field(struct pb *b, uint32_t *field, uint32_t *wt, struct pb *sub, uint64_t *num) {
    uint64_t key;
    if (!pb_varint(b, &key) || key >> 3 == 0 || key >> 3 > 0x1fffffff) return false;
    *field = (uint32_t)(key >> 3);
    *wt = (uint32_t)(key & 7);
    switch (*wt) {
    case 0: return pb_varint(b, num);
    case 1:
        if (b->end - b->p < 8) return false;
        b->p += 8;
        return true;
    case 2: {
        uint64_t len;
        if (!pb_varint(b, &len) || len > (uint64_t)(b->end - b->p)) return false;
        sub->p = b->p;
        sub->end = b->p + len;
        b->p += len;
        return true;
    }
    case 5: {
        if (b->end - b->p < 4) return false;
        uint32_t v;
        memcpy(&v, b->p, 4);
        *num = v;
        b->p += 4;
        return true;
    }
    default: return false;
    }
}

struct piece {
    const uint8_t *text;
    size_t         len;
    float          score;
    int32_t        type;
};

static int parse_piece(struct pb b, struct piece *out, const char *path, int64_t i, struct nib_error *err) {
    memset(out, 0, sizeof(*out));
    out->type = CV_TOK_NORMAL;
    bool has_piece = false;
    while (b.p < b.end) {
        uint32_t f, wt;
        struct pb sub = { 0 };
        uint64_t num = 0;
        if (!pb_field(&b, &f, &wt, &sub, &num))
            return cli_set_error(err, NIB_E_FORMAT, "%s: piece %lld: malformed protobuf field", path, (long long)i);
        if (f == 1 && wt == 2) {
            out->text = sub.p;
            out->len = (size_t)(sub.end - sub.p);
            has_piece = true;
        } else if (f == 2 && wt == 5) {
            uint32_t bits = (uint32_t)num;
            memcpy(&out->score, &bits, 4);
        } else if (f == 3 && wt == 0) {
            if (num < 1 || num > 6)
                return cli_set_error(err, NIB_E_FORMAT, "%s: piece %lld: unknown type %llu", path, (long long)i, (unsigned long long)num);
            out->type = (int32_t)num;
        } else if (f <= 3) {
            return cli_set_error(err, NIB_E_FORMAT, "%s: piece %lld: field %u has wire type %u", path, (long long)i, f, wt);
        }
    }
    if (!has_piece) return cli_set_error(err, NIB_E_FORMAT, "%s: piece %lld has no text", path, (long long)i);
    return NIB_OK;
}

static int read_pieces(const char *path, const uint8_t *data, size_t size, struct cv_vocab *v, struct nib_error *err) {
    struct pb b = { data, data + size };
    int64_t n = 0;
    while (b.p < b.end) { /* first pass: count and check framing */
        uint32_t f, wt;
        struct pb sub;
        uint64_t num;
        if (!pb_field(&b, &f, &wt, &sub, &num))
            return cli_set_error(err, NIB_E_FORMAT, "%s: not a SentencePiece model (malformed protobuf at byte %zu)", path,
                            (size_t)(b.p - data));
        if (f == 1 && wt == 2) n++;
        else if (f == 1) return cli_set_error(err, NIB_E_FORMAT, "%s: field 1 (pieces) has wire type %u", path, wt);
    }
    if (n == 0) return cli_set_error(err, NIB_E_FORMAT, "%s: no pieces in the SentencePiece model", path);
    int rc = cv_vocab_alloc(v, n, true, err);
    b.p = data;
    for (int64_t i = 0; !rc && b.p < b.end;) {
        uint32_t f, wt;
        struct pb sub;
        uint64_t num;
        pb_field(&b, &f, &wt, &sub, &num);
        if (f != 1) continue;
        struct piece pc;
        if ((rc = parse_piece(sub, &pc, path, i, err))) break;
        if (memchr(pc.text, 0, pc.len)) return cli_set_error(err, NIB_E_FORMAT, "%s: piece %lld contains a NUL byte", path, (long long)i);
        rc = cv_vocab_set_text(v, i, (const char *)pc.text, pc.len, err);
        v->scores[i] = pc.score;
        v->types[i] = pc.type;
        i++;
    }
    return rc;
}

int cv_spm_read(const char *path, struct cv_vocab *v, struct nib_error *err) {
    char *buf;
    size_t size;
    int rc = cv_slurp(path, &buf, &size, err);
    if (rc) return rc;
    rc = read_pieces(path, (const uint8_t *)buf, size, v, err);
    free(buf);
    if (rc) return rc;
    v->model = "llama";
    snprintf(v->pre, sizeof(v->pre), "default");
    return NIB_OK;
}
