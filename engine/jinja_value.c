/*
 * jinja_value.c — the render context (arena with a byte cap, error
 * messages) and Python semantics of values: truthiness, ==, <, len(),
 * str(), repr(), float repr, iteration (see jinja.h).
 */
#include "jinja.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int jfail(struct jctx *c, int line, const char *fmt, ...) {
    char msg[NIB_ERROR_MSG_SIZE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (line <= 0) line = c->line;
    return nib_error_set(c->err, NIB_E_FORMAT, "chat template line %d: %s", line, msg);
}

void *jalloc(struct jctx *c, size_t n) {
    if (n > JINJA_MAX_ARENA || c->arena_used > JINJA_MAX_ARENA - n) {
        jfail(c, 0, "template needs more than %zu MiB of memory", JINJA_MAX_ARENA >> 20);
        return NULL;
    }
    void *p = nib_arena_alloc(&c->arena, n ? n : 1);
    if (!p) {
        nib_error_set(c->err, NIB_E_NOMEM, "chat template: out of memory");
        return NULL;
    }
    c->arena_used += n;
    return p;
}

void jctx_free(struct jctx *c) { nib_arena_free(&c->arena); }

struct jv jv_undef(struct jctx *c, const char *fmt, ...) {
    struct jv v = jv_undef_plain();
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (n < 0) return v;
    size_t len = strlen(msg);
    char *p = jalloc(c, len + 1);
    if (p) {
        memcpy(p, msg, len);
        v.u.s.p = p;
        v.u.s.n = len;
    }
    return v;
}

int jv_str_copy(struct jctx *c, const char *s, size_t n, struct jv *out) {
    char *p = jalloc(c, n + 1);
    if (!p) return c->err ? c->err->status : NIB_E_NOMEM;
    if (n) memcpy(p, s, n);
    *out = jv_str(p, n);
    return 0;
}

/* ------------------------------------------------------- lists and dicts */

struct jlist *jlist_new(struct jctx *c, size_t cap) {
    struct jlist *l = jalloc(c, sizeof(*l));
    if (!l) return NULL;
    if (cap) {
        l->v = jalloc(c, cap * sizeof(struct jv));
        if (!l->v) return NULL;
        l->cap = cap;
    }
    return l;
}

int jlist_push(struct jctx *c, struct jlist *l, struct jv v) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        struct jv *nv = jalloc(c, cap * sizeof(struct jv));
        if (!nv) return c->err->status;
        if (l->n) memcpy(nv, l->v, l->n * sizeof(struct jv));
        l->v = nv;
        l->cap = cap;
    }
    l->v[l->n++] = v;
    return 0;
}

struct jv jv_list(struct jlist *l, bool tuple) {
    struct jv v = {0};
    v.kind = JV_LIST;
    v.flag = tuple ? JV_TUPLE : 0;
    v.u.l = l;
    return v;
}

struct jdict *jdict_new(struct jctx *c, size_t cap) {
    struct jdict *d = jalloc(c, sizeof(*d));
    if (!d) return NULL;
    if (cap) {
        d->k = jalloc(c, cap * sizeof(struct jv));
        d->v = jalloc(c, cap * sizeof(struct jv));
        if (!d->k || !d->v) return NULL;
        d->cap = cap;
    }
    return d;
}

struct jv *jdict_get(const struct jdict *d, const struct jv *key) {
    for (size_t i = 0; i < d->n; i++)
        if (jv_eq(&d->k[i], key)) return &d->v[i];
    return NULL;
}

struct jv *jdict_get_str(const struct jdict *d, const char *key) {
    for (size_t i = 0; i < d->n; i++)
        if (d->k[i].kind == JV_STR && jstr_eq(d->k[i].u.s, key)) return &d->v[i];
    return NULL;
}

int jdict_set(struct jctx *c, struct jdict *d, struct jv key, struct jv v) {
    struct jv *slot = jdict_get(d, &key);
    if (slot) {
        *slot = v;
        return 0;
    }
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 4;
        struct jv *nk = jalloc(c, cap * sizeof(struct jv)), *nv = jalloc(c, cap * sizeof(struct jv));
        if (!nk || !nv) return c->err->status;
        if (d->n) {
            memcpy(nk, d->k, d->n * sizeof(struct jv));
            memcpy(nv, d->v, d->n * sizeof(struct jv));
        }
        d->k = nk;
        d->v = nv;
        d->cap = cap;
    }
    d->k[d->n] = key;
    d->v[d->n] = v;
    d->n++;
    return 0;
}

struct jv jv_dict(struct jdict *d, bool ns) {
    struct jv v = {0};
    v.kind = JV_DICT;
    v.flag = ns ? JV_NAMESPACE : 0;
    v.u.d = d;
    return v;
}

/* ------------------------------------------------------------- semantics */

bool jv_truthy(const struct jv *v) {
    switch (v->kind) {
    case JV_UNDEF:
    case JV_NONE:  return false;
    case JV_BOOL:  return v->u.b;
    case JV_INT:   return v->u.i != 0;
    case JV_FLOAT: return v->u.f != 0.0;
    case JV_STR:   return v->u.s.n != 0;
    case JV_LIST:  return v->u.l->n != 0;
    case JV_DICT:  return v->flag == JV_NAMESPACE || v->u.d->n != 0;
    default:       return true;
    }
}

bool jv_eq(const struct jv *a, const struct jv *b) {
    if (jv_is_num(a) && jv_is_num(b)) {
        if (jv_is_intlike(a) && jv_is_intlike(b)) return jv_as_i64(a) == jv_as_i64(b);
        return jv_as_f64(a) == jv_as_f64(b);
    }
    if (a->kind != b->kind) return false;
    switch (a->kind) {
    case JV_UNDEF:
    case JV_NONE: return true;
    case JV_STR:  return a->u.s.n == b->u.s.n && (a->u.s.n == 0 || memcmp(a->u.s.p, b->u.s.p, a->u.s.n) == 0);
    case JV_LIST:
        if (a->flag != b->flag || a->u.l->n != b->u.l->n) return false;
        for (size_t i = 0; i < a->u.l->n; i++)
            if (!jv_eq(&a->u.l->v[i], &b->u.l->v[i])) return false;
        return true;
    case JV_DICT:
        if (a->flag == JV_NAMESPACE || b->flag == JV_NAMESPACE) return a->u.d == b->u.d;
        if (a->u.d->n != b->u.d->n) return false;
        for (size_t i = 0; i < a->u.d->n; i++) {
            const struct jv *o = jdict_get(b->u.d, &a->u.d->k[i]);
            if (!o || !jv_eq(&a->u.d->v[i], o)) return false;
        }
        return true;
    case JV_FUNC: return a->u.fn == b->u.fn;
    case JV_LOOP: return a->u.loop == b->u.loop;
    default:      return false;
    }
}

static int cmp_str(struct jstr a, struct jstr b) {
    size_t m = a.n < b.n ? a.n : b.n;
    int r = m ? memcmp(a.p, b.p, m) : 0;
    if (r) return r < 0 ? -1 : 1;
    return a.n < b.n ? -1 : a.n > b.n;
}

int jv_cmp(struct jctx *c, const struct jv *a, const struct jv *b, int *res) {
    if (jv_is_num(a) && jv_is_num(b)) {
        if (jv_is_intlike(a) && jv_is_intlike(b)) {
            int64_t x = jv_as_i64(a), y = jv_as_i64(b);
            *res = x < y ? -1 : x > y;
        } else {
            double x = jv_as_f64(a), y = jv_as_f64(b);
            *res = x < y ? -1 : x > y ? 1 : 0;
        }
        return 0;
    }
    if (a->kind == JV_STR && b->kind == JV_STR) {
        *res = cmp_str(a->u.s, b->u.s);
        return 0;
    }
    if (a->kind == JV_LIST && b->kind == JV_LIST && a->flag == b->flag) {
        size_t n = a->u.l->n < b->u.l->n ? a->u.l->n : b->u.l->n;
        for (size_t i = 0; i < n; i++) {
            if (jv_eq(&a->u.l->v[i], &b->u.l->v[i])) continue;
            return jv_cmp(c, &a->u.l->v[i], &b->u.l->v[i], res);
        }
        *res = a->u.l->n < b->u.l->n ? -1 : a->u.l->n > b->u.l->n;
        return 0;
    }
    if (a->kind == JV_UNDEF) return jfail(c, 0, "%.*s", (int)a->u.s.n, a->u.s.p);
    if (b->kind == JV_UNDEF) return jfail(c, 0, "%.*s", (int)b->u.s.n, b->u.s.p);
    return jfail(c, 0, "cannot compare '%s' and '%s'", jv_type_name(a), jv_type_name(b));
}

const char *jv_type_name(const struct jv *v) {
    switch (v->kind) {
    case JV_UNDEF: return "Undefined";
    case JV_NONE:  return "NoneType";
    case JV_BOOL:  return "bool";
    case JV_INT:   return "int";
    case JV_FLOAT: return "float";
    case JV_STR:   return "str";
    case JV_LIST:  return v->flag == JV_TUPLE ? "tuple" : "list";
    case JV_DICT:  return v->flag == JV_NAMESPACE ? "Namespace" : "dict";
    case JV_FUNC:  return "function";
    default:       return "LoopContext";
    }
}

int64_t jv_len(const struct jv *v) {
    switch (v->kind) {
    case JV_UNDEF: return 0;
    case JV_STR:   return (int64_t)ju_count(v->u.s.p, v->u.s.n);
    case JV_LIST:  return (int64_t)v->u.l->n;
    case JV_DICT:  return v->flag == JV_NAMESPACE ? -1 : (int64_t)v->u.d->n;
    case JV_LOOP:  return (int64_t)v->u.loop->items->n;
    default:       return -1;
    }
}

/* ---------------------------------------------------------------- output */

int jbuf_put(struct jctx *c, struct jbuf *b, const char *s, size_t n) {
    if (n > JINJA_MAX_OUTPUT - b->n)
        return jfail(c, 0, "rendered text exceeds %zu MiB", JINJA_MAX_OUTPUT >> 20);
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n + 1) cap *= 2;
        char *p = jalloc(c, cap);
        if (!p) return c->err->status;
        if (b->n) memcpy(p, b->p, b->n);
        b->p = p;
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
    return 0;
}

int jbuf_puts(struct jctx *c, struct jbuf *b, const char *s) { return jbuf_put(c, b, s, strlen(s)); }

void jv_fmt_float(double d, char *buf) {
    if (isnan(d)) {
        strcpy(buf, "nan");
        return;
    }
    if (isinf(d)) {
        strcpy(buf, d < 0 ? "-inf" : "inf");
        return;
    }
    char tmp[40];
    int prec = 1;
    for (; prec <= 17; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, d);
        if (strtod(tmp, NULL) == d) break;
    }
    /* tmp = [-]D[.DDD]e±XX: collect digits and the decimal exponent. */
    char digits[24];
    int nd = 0, neg = tmp[0] == '-';
    const char *q = tmp + neg;
    for (; *q && *q != 'e'; q++)
        if (*q >= '0' && *q <= '9') digits[nd++] = *q;
    int exp10 = atoi(q + 1);
    while (nd > 1 && digits[nd - 1] == '0') nd--;
    char *o = buf;
    if (neg) *o++ = '-';
    if (exp10 < -4 || exp10 >= 16) {
        *o++ = digits[0];
        if (nd > 1) {
            *o++ = '.';
            memcpy(o, digits + 1, (size_t)nd - 1);
            o += nd - 1;
        }
        sprintf(o, "e%c%02d", exp10 < 0 ? '-' : '+', exp10 < 0 ? -exp10 : exp10);
        return;
    }
    if (exp10 < 0) {
        *o++ = '0';
        *o++ = '.';
        for (int i = 0; i < -exp10 - 1; i++) *o++ = '0';
        memcpy(o, digits, (size_t)nd);
        o += nd;
    } else {
        for (int i = 0; i <= exp10; i++) *o++ = i < nd ? digits[i] : '0';
        *o++ = '.';
        if (nd > exp10 + 1) {
            memcpy(o, digits + exp10 + 1, (size_t)(nd - exp10 - 1));
            o += nd - exp10 - 1;
        } else {
            *o++ = '0';
        }
    }
    *o = '\0';
}

/* Python repr of a str: single quotes unless the text has ' and no ". */
static int write_str_repr(struct jctx *c, struct jstr s, struct jbuf *b) {
    bool sq = false, dq = false;
    for (size_t i = 0; i < s.n; i++) {
        sq |= s.p[i] == '\'';
        dq |= s.p[i] == '"';
    }
    const char quote = sq && !dq ? '"' : '\'';
    int rc = jbuf_put(c, b, &quote, 1);
    for (size_t i = 0; i < s.n && !rc;) {
        size_t start = i;
        uint32_t cp = ju_next(s.p, s.n, &i);
        char esc[12];
        if (cp == '\\' || cp == (uint32_t)quote) {
            esc[0] = '\\';
            esc[1] = (char)cp;
            rc = jbuf_put(c, b, esc, 2);
        } else if (cp == '\n') rc = jbuf_puts(c, b, "\\n");
        else if (cp == '\r') rc = jbuf_puts(c, b, "\\r");
        else if (cp == '\t') rc = jbuf_puts(c, b, "\\t");
        else if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0)) {
            snprintf(esc, sizeof(esc), "\\x%02x", cp);
            rc = jbuf_puts(c, b, esc);
        } else {
            rc = jbuf_put(c, b, s.p + start, i - start);
        }
    }
    return rc ? rc : jbuf_put(c, b, &quote, 1);
}

static int write_value(struct jctx *c, const struct jv *v, struct jbuf *b, bool repr) {
    char num[48];
    int rc = 0;
    if (++c->depth > JINJA_MAX_DEPTH) {
        c->depth--;
        return jfail(c, 0, "value nested too deeply to print");
    }
    switch (v->kind) {
    case JV_UNDEF: break;
    case JV_NONE:  rc = jbuf_puts(c, b, "None"); break;
    case JV_BOOL:  rc = jbuf_puts(c, b, v->u.b ? "True" : "False"); break;
    case JV_INT:
        snprintf(num, sizeof(num), "%" PRId64, v->u.i);
        rc = jbuf_puts(c, b, num);
        break;
    case JV_FLOAT:
        jv_fmt_float(v->u.f, num);
        rc = jbuf_puts(c, b, num);
        break;
    case JV_STR: rc = repr ? write_str_repr(c, v->u.s, b) : jbuf_put(c, b, v->u.s.p, v->u.s.n); break;
    case JV_LIST: {
        const bool tuple = v->flag == JV_TUPLE;
        rc = jbuf_puts(c, b, tuple ? "(" : "[");
        for (size_t i = 0; i < v->u.l->n && !rc; i++) {
            if (i) rc = jbuf_puts(c, b, ", ");
            if (!rc) rc = write_value(c, &v->u.l->v[i], b, true);
        }
        if (!rc && tuple && v->u.l->n == 1) rc = jbuf_puts(c, b, ",");
        if (!rc) rc = jbuf_puts(c, b, tuple ? ")" : "]");
        break;
    }
    case JV_DICT:
        rc = jbuf_puts(c, b, v->flag == JV_NAMESPACE ? "<Namespace {" : "{");
        for (size_t i = 0; i < v->u.d->n && !rc; i++) {
            if (i) rc = jbuf_puts(c, b, ", ");
            if (!rc) rc = write_value(c, &v->u.d->k[i], b, true);
            if (!rc) rc = jbuf_puts(c, b, ": ");
            if (!rc) rc = write_value(c, &v->u.d->v[i], b, true);
        }
        if (!rc) rc = jbuf_puts(c, b, v->flag == JV_NAMESPACE ? "}>" : "}");
        break;
    case JV_FUNC:
        rc = jbuf_puts(c, b, "<function ");
        if (!rc) rc = jbuf_put(c, b, v->u.fn->name.p, v->u.fn->name.n);
        if (!rc) rc = jbuf_puts(c, b, ">");
        break;
    default: rc = jbuf_puts(c, b, "<LoopContext>"); break;
    }
    c->depth--;
    return rc;
}

int jv_write_str(struct jctx *c, const struct jv *v, struct jbuf *b) { return write_value(c, v, b, false); }
int jv_write_repr(struct jctx *c, const struct jv *v, struct jbuf *b) { return write_value(c, v, b, true); }

int jv_to_str(struct jctx *c, const struct jv *v, struct jv *out) {
    if (v->kind == JV_STR) {
        *out = *v;
        return 0;
    }
    if (v->kind == JV_UNDEF) {
        *out = jv_str("", 0);
        return 0;
    }
    struct jbuf b = {0};
    int rc = jv_write_str(c, v, &b);
    if (rc) return rc;
    *out = b.n ? jv_str(b.p, b.n) : jv_str("", 0);
    return 0;
}

int jv_iterate(struct jctx *c, const struct jv *v, const struct jlist **out) {
    static const struct jlist empty = {0, 0, NULL};
    switch (v->kind) {
    case JV_UNDEF: *out = &empty; return 0;
    case JV_LIST:  *out = v->u.l; return 0;
    case JV_DICT: {
        if (v->flag == JV_NAMESPACE) break;
        struct jlist *l = jlist_new(c, v->u.d->n);
        if (!l) return c->err->status;
        for (size_t i = 0; i < v->u.d->n; i++) l->v[l->n++] = v->u.d->k[i];
        *out = l;
        return 0;
    }
    case JV_STR: {
        struct jlist *l = jlist_new(c, v->u.s.n);
        if (!l) return c->err->status;
        for (size_t i = 0; i < v->u.s.n;) {
            size_t s = i;
            ju_next(v->u.s.p, v->u.s.n, &i);
            l->v[l->n++] = jv_str(v->u.s.p + s, i - s);
        }
        *out = l;
        return 0;
    }
    case JV_LOOP: *out = v->u.loop->items; return 0;
    default: break;
    }
    return jfail(c, 0, "'%s' object is not iterable", jv_type_name(v));
}
