/*
 * jinja_json.c — Python's json.dumps for template values, as the tojson
 * filter that transformers installs calls it: ensure_ascii (default false
 * there), indent (newline + indent per level, "," item separator unless
 * separators= is given), sort_keys, floats as repr() with NaN/Infinity,
 * non-string dict keys converted as json.dumps converts them. Undefined and
 * functions are not serializable (an error, as in Python).
 */
#include "jinja.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static int put_json_string(struct jctx *c, struct jstr s, bool ascii, struct jbuf *b) {
    int rc = jbuf_put(c, b, "\"", 1);
    for (size_t i = 0; i < s.n && !rc;) {
        size_t st = i;
        uint32_t cp = ju_next(s.p, s.n, &i);
        char esc[16];
        switch (cp) {
        case '"':  rc = jbuf_puts(c, b, "\\\""); continue;
        case '\\': rc = jbuf_puts(c, b, "\\\\"); continue;
        case '\n': rc = jbuf_puts(c, b, "\\n"); continue;
        case '\r': rc = jbuf_puts(c, b, "\\r"); continue;
        case '\t': rc = jbuf_puts(c, b, "\\t"); continue;
        case '\b': rc = jbuf_puts(c, b, "\\b"); continue;
        case '\f': rc = jbuf_puts(c, b, "\\f"); continue;
        default:   break;
        }
        if (cp < 0x20 || (ascii && cp >= 0x7f)) {
            if (cp >= 0x10000) {
                uint32_t v = cp - 0x10000;
                snprintf(esc, sizeof(esc), "\\u%04x\\u%04x", 0xd800 + (v >> 10), 0xdc00 + (v & 0x3ff));
            } else {
                snprintf(esc, sizeof(esc), "\\u%04x", cp);
            }
            rc = jbuf_puts(c, b, esc);
        } else {
            rc = jbuf_put(c, b, s.p + st, i - st);
        }
    }
    return rc ? rc : jbuf_put(c, b, "\"", 1);
}

static int put_number(struct jctx *c, const struct jv *v, struct jbuf *b) {
    char num[48];
    if (v->kind == JV_BOOL) return jbuf_puts(c, b, v->u.b ? "true" : "false");
    if (v->kind == JV_INT) snprintf(num, sizeof(num), "%" PRId64, v->u.i);
    else if (isnan(v->u.f)) strcpy(num, "NaN");
    else if (isinf(v->u.f)) strcpy(num, v->u.f < 0 ? "-Infinity" : "Infinity");
    else jv_fmt_float(v->u.f, num);
    return jbuf_puts(c, b, num);
}

static int newline(struct jctx *c, const struct jjson_opts *o, int level, struct jbuf *b) {
    if (o->indent < 0) return 0;
    int rc = jbuf_put(c, b, "\n", 1);
    for (int i = 0; i < level * o->indent && !rc; i++) rc = jbuf_put(c, b, " ", 1);
    return rc;
}

/* A dict key as json.dumps converts it: str as is, numbers/bools/None to text. */
static int key_string(struct jctx *c, const struct jv *k, struct jv *out) {
    switch (k->kind) {
    case JV_STR: *out = *k; return 0;
    case JV_NONE: *out = jv_str("null", 4); return 0;
    case JV_BOOL: *out = k->u.b ? jv_str("true", 4) : jv_str("false", 5); return 0;
    case JV_INT:
    case JV_FLOAT: {
        struct jbuf b = {0};
        int rc = put_number(c, k, &b);
        if (!rc) *out = jv_str(b.p, b.n);
        return rc;
    }
    default: return jfail(c, 0, "keys must be str, int, float, bool or None, not %s", jv_type_name(k));
    }
}

static int dump(struct jctx *c, const struct jv *v, const struct jjson_opts *o, int level, struct jbuf *b);

static int dump_dict(struct jctx *c, const struct jdict *d, const struct jjson_opts *o, int level, struct jbuf *b) {
    if (!d->n) return jbuf_puts(c, b, "{}");
    size_t *order = jalloc(c, d->n * sizeof(size_t));
    struct jv *keys = jalloc(c, d->n * sizeof(struct jv));
    if (!order || !keys) return c->err->status;
    int rc = 0;
    for (size_t i = 0; i < d->n && !rc; i++) {
        order[i] = i;
        rc = key_string(c, &d->k[i], &keys[i]);
    }
    if (rc) return rc;
    if (o->sort_keys) /* insertion sort: stable, and dicts here are small */
        for (size_t i = 1; i < d->n; i++)
            for (size_t j = i; j > 0; j--) {
                int r;
                if ((rc = jv_cmp(c, &keys[order[j]], &keys[order[j - 1]], &r))) return rc;
                if (r >= 0) break;
                size_t t = order[j];
                order[j] = order[j - 1];
                order[j - 1] = t;
            }
    rc = jbuf_put(c, b, "{", 1);
    for (size_t i = 0; i < d->n && !rc; i++) {
        if (i) rc = jbuf_put(c, b, o->item_sep.p, o->item_sep.n);
        if (!rc) rc = newline(c, o, level + 1, b);
        if (!rc) rc = put_json_string(c, keys[order[i]].u.s, o->ensure_ascii, b);
        if (!rc) rc = jbuf_put(c, b, o->key_sep.p, o->key_sep.n);
        if (!rc) rc = dump(c, &d->v[order[i]], o, level + 1, b);
    }
    if (!rc) rc = newline(c, o, level, b);
    return rc ? rc : jbuf_put(c, b, "}", 1);
}

static int dump(struct jctx *c, const struct jv *v, const struct jjson_opts *o, int level, struct jbuf *b) {
    if (level > JINJA_MAX_DEPTH) return jfail(c, 0, "value nested too deeply for tojson");
    switch (v->kind) {
    case JV_NONE: return jbuf_puts(c, b, "null");
    case JV_BOOL:
    case JV_INT:
    case JV_FLOAT: return put_number(c, v, b);
    case JV_STR: return put_json_string(c, v->u.s, o->ensure_ascii, b);
    case JV_LIST: {
        const struct jlist *l = v->u.l;
        if (!l->n) return jbuf_puts(c, b, "[]");
        int rc = jbuf_put(c, b, "[", 1);
        for (size_t i = 0; i < l->n && !rc; i++) {
            if (i) rc = jbuf_put(c, b, o->item_sep.p, o->item_sep.n);
            if (!rc) rc = newline(c, o, level + 1, b);
            if (!rc) rc = dump(c, &l->v[i], o, level + 1, b);
        }
        if (!rc) rc = newline(c, o, level, b);
        return rc ? rc : jbuf_put(c, b, "]", 1);
    }
    case JV_DICT:
        if (v->flag != JV_NAMESPACE) return dump_dict(c, v->u.d, o, level, b);
        break;
    default: break;
    }
    if (v->kind == JV_UNDEF) return jfail(c, 0, "Object of type Undefined is not JSON serializable");
    return jfail(c, 0, "Object of type %s is not JSON serializable", jv_type_name(v));
}

int jinja_tojson(struct jctx *c, const struct jv *v, const struct jjson_opts *o, struct jbuf *out) {
    return dump(c, v, o, 0, out);
}
