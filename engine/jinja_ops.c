/*
 * jinja_ops.c — operators and access with Python/Jinja semantics:
 * arithmetic (ints stay ints except `/`; floor division and modulo round
 * toward -inf; overflow is an error, not a bigint), `~`, comparisons and
 * `in`, and Jinja's getattr/getitem fallbacks (a.b tries the attribute,
 * then the item; a[b] the item, then the attribute; a miss is Undefined,
 * while anything done to an Undefined other than printing, testing or
 * iterating it fails).
 */
#include "jinja.h"

#include <math.h>
#include <string.h>

static int undef_fail(struct jctx *c, const struct jv *v) { return jfail(c, 0, "%.*s", (int)v->u.s.n, v->u.s.p); }

static const char *const op_names[] = {"+", "-", "*", "/", "//", "%", "**", "~"};

static int type_error(struct jctx *c, int op, const struct jv *a, const struct jv *b) {
    if (a->kind == JV_UNDEF) return undef_fail(c, a);
    if (b->kind == JV_UNDEF) return undef_fail(c, b);
    return jfail(c, 0, "unsupported operand type(s) for %s: '%s' and '%s'", op_names[op], jv_type_name(a),
                 jv_type_name(b));
}

static int repeat(struct jctx *c, const struct jv *seq, int64_t times, struct jv *out) {
    if (times < 0) times = 0;
    if (seq->kind == JV_STR) {
        if (seq->u.s.n && (uint64_t)times > JINJA_MAX_OUTPUT / seq->u.s.n) return jfail(c, 0, "string repetition too large");
        struct jbuf b = {0};
        for (int64_t i = 0; i < times; i++) {
            int rc = jbuf_put(c, &b, seq->u.s.p, seq->u.s.n);
            if (rc) return rc;
        }
        *out = b.n ? jv_str(b.p, b.n) : jv_str("", 0);
        return 0;
    }
    const struct jlist *l = seq->u.l;
    if (l->n && (uint64_t)times > (JINJA_MAX_ARENA / sizeof(struct jv)) / l->n) return jfail(c, 0, "list repetition too large");
    struct jlist *r = jlist_new(c, l->n * (size_t)times);
    if (!r) return c->err->status;
    for (int64_t i = 0; i < times; i++)
        for (size_t k = 0; k < l->n; k++) r->v[r->n++] = l->v[k];
    *out = jv_list(r, seq->flag == JV_TUPLE);
    return 0;
}

static int int_arith(struct jctx *c, int op, int64_t x, int64_t y, struct jv *out) {
    int64_t r;
    switch (op) {
    case JOP_ADD: if (__builtin_add_overflow(x, y, &r)) goto overflow; break;
    case JOP_SUB: if (__builtin_sub_overflow(x, y, &r)) goto overflow; break;
    case JOP_MUL: if (__builtin_mul_overflow(x, y, &r)) goto overflow; break;
    case JOP_FLOORDIV:
    case JOP_MOD:
        if (y == 0) return jfail(c, 0, "integer division or modulo by zero");
        if (x == INT64_MIN && y == -1) goto overflow;
        r = op == JOP_FLOORDIV ? x / y : x % y;
        if (op == JOP_FLOORDIV && (x % y != 0) && ((x < 0) != (y < 0))) r--;
        if (op == JOP_MOD && r != 0 && ((r < 0) != (y < 0))) r += y;
        break;
    case JOP_POW:
        if (y < 0) {
            if (x == 0) return jfail(c, 0, "0.0 cannot be raised to a negative power");
            *out = jv_float(pow((double)x, (double)y));
            return 0;
        }
        if (x == 0 || x == 1 || x == -1) {
            r = y == 0 ? 1 : x == -1 ? ((y & 1) ? -1 : 1) : x;
            break;
        }
        r = 1; /* |x| >= 2 overflows within 63 steps */
        for (int64_t i = 0; i < y; i++)
            if (__builtin_mul_overflow(r, x, &r)) goto overflow;
        break;
    default: return -1;
    }
    *out = jv_int(r);
    return 0;
overflow:
    return jfail(c, 0, "integer overflow (nib's templates use 64-bit ints)");
}

static int float_arith(struct jctx *c, int op, double x, double y, struct jv *out) {
    double r;
    switch (op) {
    case JOP_ADD: r = x + y; break;
    case JOP_SUB: r = x - y; break;
    case JOP_MUL: r = x * y; break;
    case JOP_DIV:
        if (y == 0) return jfail(c, 0, "division by zero");
        r = x / y;
        break;
    case JOP_FLOORDIV:
    case JOP_MOD: { /* CPython's float_divmod */
        if (y == 0) return jfail(c, 0, "float floor division or modulo by zero");
        double mod = fmod(x, y), div = (x - mod) / y, fd;
        if (mod != 0) {
            if ((y < 0) != (mod < 0)) {
                mod += y;
                div -= 1.0;
            }
        } else {
            mod = copysign(0.0, y);
        }
        if (div != 0) {
            fd = floor(div);
            if (div - fd > 0.5) fd += 1.0;
        } else {
            fd = copysign(0.0, x / y);
        }
        r = op == JOP_MOD ? mod : fd;
        break;
    }
    default:
        if (x == 0 && y < 0) return jfail(c, 0, "0.0 cannot be raised to a negative power");
        r = pow(x, y);
        break;
    }
    *out = jv_float(r);
    return 0;
}

int jinja_binop(struct jctx *c, int op, const struct jv *a, const struct jv *b, struct jv *out) {
    if (op == JOP_CONCAT) {
        struct jv sa, sb;
        struct jbuf buf = {0};
        int rc = jv_to_str(c, a, &sa);
        if (!rc) rc = jv_to_str(c, b, &sb);
        if (!rc) rc = jbuf_put(c, &buf, sa.u.s.p, sa.u.s.n);
        if (!rc) rc = jbuf_put(c, &buf, sb.u.s.p, sb.u.s.n);
        if (rc) return rc;
        *out = buf.n ? jv_str(buf.p, buf.n) : jv_str("", 0);
        return 0;
    }
    if (jv_is_num(a) && jv_is_num(b)) {
        if (jv_is_intlike(a) && jv_is_intlike(b) && op != JOP_DIV)
            return int_arith(c, op, jv_as_i64(a), jv_as_i64(b), out);
        return float_arith(c, op, jv_as_f64(a), jv_as_f64(b), out);
    }
    if (op == JOP_ADD && a->kind == JV_STR && b->kind == JV_STR) {
        struct jbuf buf = {0};
        int rc = jbuf_put(c, &buf, a->u.s.p, a->u.s.n);
        if (!rc) rc = jbuf_put(c, &buf, b->u.s.p, b->u.s.n);
        if (rc) return rc;
        *out = buf.n ? jv_str(buf.p, buf.n) : jv_str("", 0);
        return 0;
    }
    if (op == JOP_ADD && a->kind == JV_LIST && b->kind == JV_LIST && a->flag == b->flag) {
        struct jlist *l = jlist_new(c, a->u.l->n + b->u.l->n);
        if (!l) return c->err->status;
        for (size_t i = 0; i < a->u.l->n; i++) l->v[l->n++] = a->u.l->v[i];
        for (size_t i = 0; i < b->u.l->n; i++) l->v[l->n++] = b->u.l->v[i];
        *out = jv_list(l, a->flag == JV_TUPLE);
        return 0;
    }
    if (op == JOP_MUL) {
        if ((a->kind == JV_STR || a->kind == JV_LIST) && jv_is_intlike(b)) return repeat(c, a, jv_as_i64(b), out);
        if ((b->kind == JV_STR || b->kind == JV_LIST) && jv_is_intlike(a)) return repeat(c, b, jv_as_i64(a), out);
    }
    if (op == JOP_MOD && a->kind == JV_STR) return jfail(c, 0, "printf-style '%%' string formatting is not supported");
    return type_error(c, op, a, b);
}

static int contains(struct jctx *c, const struct jv *hay, const struct jv *needle, bool *out) {
    switch (hay->kind) {
    case JV_UNDEF: *out = false; return 0;
    case JV_STR:
        if (needle->kind != JV_STR)
            return jfail(c, 0, "'in <string>' requires string as left operand, not %s", jv_type_name(needle));
        if (needle->u.s.n == 0) {
            *out = true;
            return 0;
        }
        *out = false;
        for (size_t i = 0; i + needle->u.s.n <= hay->u.s.n && !*out; i++)
            *out = memcmp(hay->u.s.p + i, needle->u.s.p, needle->u.s.n) == 0;
        return 0;
    case JV_LIST:
        *out = false;
        for (size_t i = 0; i < hay->u.l->n && !*out; i++) *out = jv_eq(&hay->u.l->v[i], needle);
        return 0;
    case JV_DICT:
        if (hay->flag == JV_NAMESPACE) break;
        *out = jdict_get(hay->u.d, needle) != NULL;
        return 0;
    case JV_LOOP:
        *out = false;
        for (size_t i = 0; i < hay->u.loop->items->n && !*out; i++) *out = jv_eq(&hay->u.loop->items->v[i], needle);
        return 0;
    default: break;
    }
    return jfail(c, 0, "argument of type '%s' is not iterable", jv_type_name(hay));
}

int jinja_compare(struct jctx *c, int op, const struct jv *a, const struct jv *b, bool *out) {
    int r, rc;
    switch (op) {
    case JOP_EQ: *out = jv_eq(a, b); return 0;
    case JOP_NE: *out = !jv_eq(a, b); return 0;
    case JOP_IN:
    case JOP_NOTIN:
        if ((rc = contains(c, b, a, out))) return rc;
        if (op == JOP_NOTIN) *out = !*out;
        return 0;
    default:
        if ((rc = jv_cmp(c, a, b, &r))) return rc;
        *out = op == JOP_LT ? r < 0 : op == JOP_LE ? r <= 0 : op == JOP_GT ? r > 0 : r >= 0;
        return 0;
    }
}

static struct jv no_attr(struct jctx *c, const struct jv *obj, struct jstr name) {
    return jv_undef(c, "'%s object' has no attribute '%.*s'", obj->kind == JV_DICT && obj->flag == JV_NAMESPACE
                                                                 ? "jinja2.utils.Namespace" : jv_type_name(obj),
                    (int)name.n, name.p);
}

int jinja_getattr(struct jctx *c, const struct jv *obj, struct jstr name, struct jv *out) {
    if (obj->kind == JV_UNDEF) return undef_fail(c, obj);
    if (obj->kind == JV_LOOP) return jinja_loop_attr(c, obj, name, out);
    if (jinja_method_lookup(c, obj, name, out)) return 0;
    if (obj->kind == JV_DICT) {
        const struct jv key = jv_str(name.p, name.n);
        const struct jv *v = jdict_get(obj->u.d, &key);
        if (v) {
            *out = *v;
            return 0;
        }
    }
    *out = no_attr(c, obj, name);
    return 0;
}

/* Python index normalization; false when out of range. */
static bool norm_index(int64_t i, size_t n, size_t *out) {
    if (i < 0) i += (int64_t)n;
    if (i < 0 || (uint64_t)i >= n) return false;
    *out = (size_t)i;
    return true;
}

int jinja_getitem(struct jctx *c, const struct jv *obj, const struct jv *key, struct jv *out) {
    size_t idx;
    if (obj->kind == JV_UNDEF) return undef_fail(c, obj);
    if (obj->kind == JV_DICT && obj->flag != JV_NAMESPACE) {
        const struct jv *v = jdict_get(obj->u.d, key);
        if (v) {
            *out = *v;
            return 0;
        }
    } else if (obj->kind == JV_LIST && jv_is_intlike(key)) {
        if (norm_index(jv_as_i64(key), obj->u.l->n, &idx)) {
            *out = obj->u.l->v[idx];
            return 0;
        }
    } else if (obj->kind == JV_STR && jv_is_intlike(key)) {
        size_t *off, n_cp;
        int rc = ju_offsets(c, obj->u.s, &off, &n_cp);
        if (rc) return rc;
        if (norm_index(jv_as_i64(key), n_cp, &idx)) {
            *out = jv_str(obj->u.s.p + off[idx], off[idx + 1] - off[idx]);
            return 0;
        }
    }
    if (key->kind == JV_STR) return jinja_getattr(c, obj, key->u.s, out);
    struct jbuf b = {0};
    int rc = jv_write_repr(c, key, &b);
    if (rc) return rc;
    struct jstr name = {b.p ? b.p : "", b.n};
    *out = no_attr(c, obj, name);
    return 0;
}

static int slice_index(struct jctx *c, const struct jv *v, int64_t *out, bool *given) {
    *given = v->kind != JV_NONE;
    if (!*given) return 0;
    if (!jv_is_intlike(v)) return jfail(c, 0, "slice indices must be integers or None");
    *out = jv_as_i64(v);
    return 0;
}

int jinja_slice(struct jctx *c, const struct jv *obj, const struct jv *start, const struct jv *stop,
                const struct jv *step, struct jv *out) {
    if (obj->kind == JV_UNDEF) return undef_fail(c, obj);
    if (obj->kind != JV_STR && obj->kind != JV_LIST) {
        *out = jv_undef(c, "'%s' object is not subscriptable", jv_type_name(obj));
        return 0;
    }
    int64_t a = 0, b = 0, st = 1;
    bool ga, gb, gs;
    int rc;
    if ((rc = slice_index(c, start, &a, &ga)) || (rc = slice_index(c, stop, &b, &gb)) ||
        (rc = slice_index(c, step, &st, &gs)))
        return rc;
    if (!gs) st = 1;
    if (st == 0) return jfail(c, 0, "slice step cannot be zero");
    size_t *off = NULL, n;
    if (obj->kind == JV_STR) {
        if ((rc = ju_offsets(c, obj->u.s, &off, &n))) return rc;
    } else {
        n = obj->u.l->n;
    }
    const int64_t len = (int64_t)n;
    if (!ga) a = st < 0 ? len - 1 : 0;
    else if (a < 0) a = a + len < 0 ? (st < 0 ? -1 : 0) : a + len;
    else if (a >= len) a = st < 0 ? len - 1 : len;
    if (!gb) b = st < 0 ? -1 : len;
    else if (b < 0) b = b + len < 0 ? (st < 0 ? -1 : 0) : b + len;
    else if (b >= len) b = st < 0 ? len - 1 : len;
    int64_t count = 0;
    if (st < 0 && b < a) count = (a - b - 1) / (-st) + 1;
    if (st > 0 && a < b) count = (b - a - 1) / st + 1;
    if (obj->kind == JV_STR) {
        struct jbuf buf = {0};
        for (int64_t k = 0, i = a; k < count; k++, i += st)
            if ((rc = jbuf_put(c, &buf, obj->u.s.p + off[i], off[i + 1] - off[i]))) return rc;
        *out = buf.n ? jv_str(buf.p, buf.n) : jv_str("", 0);
        return 0;
    }
    struct jlist *l = jlist_new(c, (size_t)count);
    if (!l) return c->err->status;
    for (int64_t k = 0, i = a; k < count; k++, i += st) l->v[l->n++] = obj->u.l->v[i];
    *out = jv_list(l, obj->flag == JV_TUPLE);
    return 0;
}
