/*
 * jinja_methods.c — methods templates call on values (Python semantics):
 * str: strip/lstrip/rstrip, startswith/endswith, split/rsplit, splitlines,
 * upper/lower/title/capitalize, replace, find/rfind/count, join, format
 * ({} {0} {name} only), isdigit/isalpha/isspace/isalnum/isupper/islower;
 * dict: get/items/keys/values; list: index/count. Mutating methods
 * (append, update, pop, ...) are refused as apply_chat_template's
 * ImmutableSandboxedEnvironment refuses them. Also the `loop` variable.
 */
#include "jinja.h"

#include <string.h>

enum {
    M_STRIP, M_LSTRIP, M_RSTRIP, M_STARTSWITH, M_ENDSWITH, M_SPLIT, M_RSPLIT, M_SPLITLINES, M_UPPER, M_LOWER,
    M_TITLE, M_CAPITALIZE, M_REPLACE, M_FIND, M_RFIND, M_COUNT, M_JOIN, M_FORMAT, M_ISDIGIT, M_ISALPHA,
    M_ISSPACE, M_ISALNUM, M_ISUPPER, M_ISLOWER, M_GET, M_ITEMS, M_KEYS, M_VALUES, M_INDEX, M_LCOUNT
};

static const struct {
    uint8_t     kind; /* receiver */
    const char *name;
    int         id;
} methods[] = {
    {JV_STR, "strip", M_STRIP},         {JV_STR, "lstrip", M_LSTRIP},       {JV_STR, "rstrip", M_RSTRIP},
    {JV_STR, "startswith", M_STARTSWITH}, {JV_STR, "endswith", M_ENDSWITH}, {JV_STR, "split", M_SPLIT},
    {JV_STR, "rsplit", M_RSPLIT},       {JV_STR, "splitlines", M_SPLITLINES}, {JV_STR, "upper", M_UPPER},
    {JV_STR, "lower", M_LOWER},         {JV_STR, "title", M_TITLE},         {JV_STR, "capitalize", M_CAPITALIZE},
    {JV_STR, "replace", M_REPLACE},     {JV_STR, "find", M_FIND},           {JV_STR, "rfind", M_RFIND},
    {JV_STR, "count", M_COUNT},         {JV_STR, "join", M_JOIN},           {JV_STR, "format", M_FORMAT},
    {JV_STR, "isdigit", M_ISDIGIT},     {JV_STR, "isalpha", M_ISALPHA},     {JV_STR, "isspace", M_ISSPACE},
    {JV_STR, "isalnum", M_ISALNUM},     {JV_STR, "isupper", M_ISUPPER},     {JV_STR, "islower", M_ISLOWER},
    {JV_DICT, "get", M_GET},            {JV_DICT, "items", M_ITEMS},        {JV_DICT, "keys", M_KEYS},
    {JV_DICT, "values", M_VALUES},      {JV_LIST, "index", M_INDEX},        {JV_LIST, "count", M_LCOUNT},
};

bool jinja_method_lookup(struct jctx *c, const struct jv *self, struct jstr name, struct jv *out) {
    if (self->kind == JV_DICT && self->flag == JV_NAMESPACE) return false;
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        if (methods[i].kind != self->kind || !jstr_eq(name, methods[i].name)) continue;
        struct jfunc *fn = jalloc(c, sizeof(*fn));
        if (!fn) return false;
        fn->kind = JF_METHOD;
        fn->id = methods[i].id;
        fn->name = name;
        fn->self = *self;
        *out = jv_none();
        out->kind = JV_FUNC;
        out->u.fn = fn;
        return true;
    }
    return false;
}

static int need_str(struct jctx *c, const struct jv *v, const char *what) {
    if (v && v->kind == JV_STR) return 0;
    return jfail(c, 0, "%s must be str, not %s", what, v ? jv_type_name(v) : "nothing");
}

static size_t find_bytes(struct jstr h, struct jstr n, size_t from) {
    if (n.n == 0) return from <= h.n ? from : (size_t)-1;
    for (size_t i = from; i + n.n <= h.n; i++)
        if (memcmp(h.p + i, n.p, n.n) == 0) return i;
    return (size_t)-1;
}

static size_t rfind_bytes(struct jstr h, struct jstr n) {
    if (n.n > h.n) return (size_t)-1;
    for (size_t i = h.n - n.n + 1; i-- > 0;)
        if (memcmp(h.p + i, n.p, n.n) == 0) return i;
    return (size_t)-1;
}

static int push_str(struct jctx *c, struct jlist *l, const char *p, size_t n) { return jlist_push(c, l, jv_str(p, n)); }

/* str.split / str.rsplit (sep NULL: runs of whitespace). */
static int str_split(struct jctx *c, struct jstr s, const struct jv *sep, int64_t maxsplit, bool right, struct jv *out) {
    struct jlist *l = jlist_new(c, 0);
    if (!l) return c->err->status;
    int rc = 0;
    if (sep && sep->kind == JV_STR) {
        struct jstr d = sep->u.s;
        if (!d.n) return jfail(c, 0, "empty separator");
        if (!right) {
            size_t start = 0, at;
            while (maxsplit != 0 && (at = find_bytes(s, d, start)) != (size_t)-1 && !rc) {
                rc = push_str(c, l, s.p + start, at - start);
                start = at + d.n;
                maxsplit--;
            }
            if (!rc) rc = push_str(c, l, s.p + start, s.n - start);
        } else {
            struct jstr rest = s;
            size_t at;
            while (maxsplit != 0 && (at = rfind_bytes(rest, d)) != (size_t)-1 && !rc) {
                rc = push_str(c, l, rest.p + at + d.n, rest.n - at - d.n);
                rest.n = at;
                maxsplit--;
            }
            if (!rc) rc = push_str(c, l, rest.p, rest.n);
            for (size_t i = 0; i < l->n / 2; i++) {
                struct jv t = l->v[i];
                l->v[i] = l->v[l->n - 1 - i];
                l->v[l->n - 1 - i] = t;
            }
        }
    } else if (!right) {
        struct jstr rest = ju_strip(s, NULL, true, false);
        while (rest.n && !rc) {
            if (maxsplit == 0) {
                rc = push_str(c, l, rest.p, rest.n);
                break;
            }
            size_t i = 0, st = 0;
            while (i < rest.n) {
                st = i;
                if (ju_isspace(ju_next(rest.p, rest.n, &i))) break;
                st = i;
            }
            rc = push_str(c, l, rest.p, st);
            struct jstr tail = {rest.p + st, rest.n - st};
            rest = ju_strip(tail, NULL, true, false);
            maxsplit--;
        }
    } else {
        /* rsplit on whitespace: split all, then rejoin the leftmost pieces */
        struct jv all;
        if ((rc = str_split(c, s, NULL, -1, false, &all))) return rc;
        const struct jlist *a = all.u.l;
        if (maxsplit < 0 || (size_t)maxsplit >= a->n) {
            *out = all;
            return 0;
        }
        size_t keep = a->n - (size_t)maxsplit; /* pieces merged into the first */
        const char *end = a->v[keep - 1].u.s.p + a->v[keep - 1].u.s.n;
        rc = push_str(c, l, s.p, (size_t)(end - s.p));
        for (size_t i = keep; i < a->n && !rc; i++) rc = jlist_push(c, l, a->v[i]);
    }
    *out = jv_list(l, false);
    return rc;
}

static int str_replace(struct jctx *c, struct jstr s, struct jstr old, struct jstr rep, int64_t count, struct jv *out) {
    struct jbuf b = {0};
    int rc = 0;
    if (!old.n) {
        for (size_t i = 0; !rc;) {
            if (count != 0) {
                rc = jbuf_put(c, &b, rep.p, rep.n);
                count--;
            }
            if (rc || i >= s.n) break;
            size_t st = i;
            ju_next(s.p, s.n, &i);
            rc = jbuf_put(c, &b, s.p + st, i - st);
            if (count == 0 && !rc) {
                rc = jbuf_put(c, &b, s.p + i, s.n - i);
                break;
            }
        }
    } else {
        size_t start = 0, at;
        while (count != 0 && (at = find_bytes(s, old, start)) != (size_t)-1 && !rc) {
            rc = jbuf_put(c, &b, s.p + start, at - start);
            if (!rc) rc = jbuf_put(c, &b, rep.p, rep.n);
            start = at + old.n;
            count--;
        }
        if (!rc) rc = jbuf_put(c, &b, s.p + start, s.n - start);
    }
    if (rc) return rc;
    *out = b.n ? jv_str(b.p, b.n) : jv_str("", 0);
    return 0;
}

static bool cased(uint32_t cp) { return ju_upper(cp) != cp || ju_lower(cp) != cp; }

static int str_title(struct jctx *c, struct jstr s, bool capitalize, struct jv *out) {
    struct jbuf b = {0};
    bool prev = false, first = true;
    for (size_t i = 0; i < s.n;) {
        uint32_t cp = ju_next(s.p, s.n, &i), m;
        if (capitalize) m = first ? ju_upper(cp) : ju_lower(cp);
        else m = cased(cp) ? (prev ? ju_lower(cp) : ju_upper(cp)) : cp;
        prev = cased(cp);
        first = false;
        char enc[4];
        int rc = jbuf_put(c, &b, enc, ju_encode(m, enc));
        if (rc) return rc;
    }
    *out = b.n ? jv_str(b.p, b.n) : jv_str("", 0);
    return 0;
}

/* str.format with {} / {0} / {name} fields and {{ }} escapes. */
static int str_format(struct jctx *c, struct jstr s, const struct jargs *a, struct jv *out) {
    struct jbuf b = {0};
    size_t auto_idx = 0;
    int rc = 0;
    for (size_t i = 0; i < s.n && !rc; i++) {
        char ch = s.p[i];
        if ((ch == '{' || ch == '}') && i + 1 < s.n && s.p[i + 1] == ch) {
            rc = jbuf_put(c, &b, &ch, 1);
            i++;
            continue;
        }
        if (ch == '}') return jfail(c, 0, "single '}' encountered in format string");
        if (ch != '{') {
            rc = jbuf_put(c, &b, &ch, 1);
            continue;
        }
        size_t j = i + 1;
        while (j < s.n && s.p[j] != '}') j++;
        if (j >= s.n) return jfail(c, 0, "single '{' encountered in format string");
        struct jstr field = {s.p + i + 1, j - i - 1};
        const struct jv *v = NULL;
        if (!field.n) {
            v = jargs_get(a, auto_idx++, NULL);
        } else if (field.p[0] >= '0' && field.p[0] <= '9') {
            size_t k = 0;
            for (size_t t = 0; t < field.n && field.p[t] >= '0' && field.p[t] <= '9' && k < 1000000; t++)
                k = k * 10 + (size_t)(field.p[t] - '0');
            v = jargs_get(a, k, NULL);
        } else {
            for (size_t k = 0; k < a->n_kw; k++)
                if (a->kw_names[k].n == field.n && memcmp(a->kw_names[k].p, field.p, field.n) == 0) v = &a->kw[k];
        }
        if (!v) return jfail(c, 0, "format field {%.*s} has no value (format specs are not supported)", (int)field.n, field.p);
        rc = jv_write_str(c, v, &b);
        i = j;
    }
    if (rc) return rc;
    *out = b.n ? jv_str(b.p, b.n) : jv_str("", 0);
    return 0;
}

static bool str_all(struct jstr s, int what) {
    if (!s.n) return false;
    bool any_cased = false;
    for (size_t i = 0; i < s.n;) {
        uint32_t cp = ju_next(s.p, s.n, &i);
        bool ok;
        switch (what) {
        case M_ISDIGIT: ok = cp - '0' < 10u; break;
        case M_ISALPHA: ok = ju_isalpha(cp); break;
        case M_ISSPACE: ok = ju_isspace(cp); break;
        case M_ISALNUM: ok = cp - '0' < 10u || ju_isalpha(cp); break;
        case M_ISUPPER: ok = !cased(cp) || ju_lower(cp) != cp; break;
        default:        ok = !cased(cp) || ju_upper(cp) != cp; break;
        }
        any_cased |= cased(cp);
        if (!ok) return false;
    }
    return (what == M_ISUPPER || what == M_ISLOWER) ? any_cased : true;
}

/* startswith/endswith with a str or a tuple of str. */
static int affix(struct jctx *c, struct jstr s, const struct jv *arg, bool end, bool *out) {
    *out = false;
    if (arg && arg->kind == JV_LIST && arg->flag == JV_TUPLE) {
        for (size_t i = 0; i < arg->u.l->n && !*out; i++) {
            int rc = affix(c, s, &arg->u.l->v[i], end, out);
            if (rc) return rc;
        }
        return 0;
    }
    int rc = need_str(c, arg, end ? "endswith first arg" : "startswith first arg");
    if (rc) return rc;
    const struct jstr x = arg->u.s;
    *out = x.n <= s.n && memcmp(end ? s.p + s.n - x.n : s.p, x.p, x.n) == 0;
    return 0;
}

static int str_method(struct jctx *c, int id, struct jstr s, const struct jargs *a, struct jv *out) {
    const struct jv *a0 = jargs_get(a, 0, NULL), *a1 = jargs_get(a, 1, NULL);
    int rc;
    bool b;
    switch (id) {
    case M_STRIP:
    case M_LSTRIP:
    case M_RSTRIP: {
        a0 = jargs_get(a, 0, "chars");
        if (a0 && a0->kind != JV_NONE && (rc = need_str(c, a0, "strip arg"))) return rc;
        struct jstr r = ju_strip(s, a0 && a0->kind == JV_STR ? &a0->u.s : NULL, id != M_RSTRIP, id != M_LSTRIP);
        *out = jv_str(r.p, r.n);
        return 0;
    }
    case M_STARTSWITH:
    case M_ENDSWITH:
        if ((rc = affix(c, s, a0, id == M_ENDSWITH, &b))) return rc;
        *out = jv_bool(b);
        return 0;
    case M_SPLIT:
    case M_RSPLIT: {
        const struct jv *sep = jargs_get(a, 0, "sep"), *mx = jargs_get(a, 1, "maxsplit");
        if (sep && sep->kind != JV_NONE && (rc = need_str(c, sep, "separator"))) return rc;
        if (mx && !jv_is_intlike(mx)) return jfail(c, 0, "maxsplit must be an integer");
        return str_split(c, s, sep, mx ? jv_as_i64(mx) : -1, id == M_RSPLIT, out);
    }
    case M_SPLITLINES: {
        struct jlist *l;
        if ((rc = ju_splitlines(c, s, &l))) return rc;
        *out = jv_list(l, false);
        return 0;
    }
    case M_UPPER: return ju_map(c, s, ju_upper, out);
    case M_LOWER: return ju_map(c, s, ju_lower, out);
    case M_TITLE:
    case M_CAPITALIZE: return str_title(c, s, id == M_CAPITALIZE, out);
    case M_REPLACE: {
        const struct jv *cnt = jargs_get(a, 2, "count");
        if ((rc = need_str(c, a0, "replace arg 1")) || (rc = need_str(c, a1, "replace arg 2"))) return rc;
        if (cnt && !jv_is_intlike(cnt)) return jfail(c, 0, "replace count must be an integer");
        return str_replace(c, s, a0->u.s, a1->u.s, cnt ? jv_as_i64(cnt) : -1, out);
    }
    case M_FIND:
    case M_RFIND:
    case M_COUNT: {
        if ((rc = need_str(c, a0, "substring"))) return rc;
        if (id == M_COUNT) {
            int64_t k = 0;
            if (!a0->u.s.n) k = (int64_t)ju_count(s.p, s.n) + 1;
            else
                for (size_t at = 0; (at = find_bytes(s, a0->u.s, at)) != (size_t)-1; at += a0->u.s.n) k++;
            *out = jv_int(k);
            return 0;
        }
        size_t at = id == M_FIND ? find_bytes(s, a0->u.s, 0) : rfind_bytes(s, a0->u.s);
        *out = jv_int(at == (size_t)-1 ? -1 : (int64_t)ju_count(s.p, at));
        return 0;
    }
    case M_JOIN: {
        const struct jlist *items;
        struct jbuf buf = {0};
        if (!a0) return jfail(c, 0, "join() takes exactly one argument");
        if ((rc = jv_iterate(c, a0, &items))) return rc;
        for (size_t i = 0; i < items->n; i++) {
            if ((rc = need_str(c, &items->v[i], "sequence item"))) return rc;
            if ((i && (rc = jbuf_put(c, &buf, s.p, s.n))) ||
                (rc = jbuf_put(c, &buf, items->v[i].u.s.p, items->v[i].u.s.n)))
                return rc;
        }
        *out = buf.n ? jv_str(buf.p, buf.n) : jv_str("", 0);
        return 0;
    }
    case M_FORMAT: return str_format(c, s, a, out);
    default: *out = jv_bool(str_all(s, id)); return 0;
    }
}

int jinja_method_call(struct jctx *c, const struct jfunc *fn, const struct jargs *a, struct jv *out) {
    const struct jv *self = &fn->self;
    const struct jv *a0 = jargs_get(a, 0, NULL);
    if (self->kind == JV_STR) return str_method(c, fn->id, self->u.s, a, out);
    if (self->kind == JV_DICT) {
        const struct jdict *d = self->u.d;
        if (fn->id == M_GET) {
            if (!a0) return jfail(c, 0, "get expected at least 1 argument, got 0");
            const struct jv *v = jdict_get(d, a0), *dflt = jargs_get(a, 1, NULL);
            *out = v ? *v : dflt ? *dflt : jv_none();
            return 0;
        }
        struct jlist *l = jlist_new(c, d->n);
        if (!l) return c->err->status;
        for (size_t i = 0; i < d->n; i++) {
            if (fn->id == M_ITEMS) {
                struct jlist *pair = jlist_new(c, 2);
                if (!pair) return c->err->status;
                pair->v[0] = d->k[i];
                pair->v[1] = d->v[i];
                pair->n = 2;
                l->v[i] = jv_list(pair, true);
            } else {
                l->v[i] = fn->id == M_KEYS ? d->k[i] : d->v[i];
            }
        }
        l->n = d->n;
        *out = jv_list(l, false);
        return 0;
    }
    /* list.index / list.count */
    const struct jlist *l = self->u.l;
    if (!a0) return jfail(c, 0, "%.*s() takes at least 1 argument", (int)fn->name.n, fn->name.p);
    int64_t k = 0;
    for (size_t i = 0; i < l->n; i++) {
        if (!jv_eq(&l->v[i], a0)) continue;
        if (fn->id == M_INDEX) {
            *out = jv_int((int64_t)i);
            return 0;
        }
        k++;
    }
    if (fn->id == M_INDEX) return jfail(c, 0, "value is not in list");
    *out = jv_int(k);
    return 0;
}

int jinja_loop_attr(struct jctx *c, const struct jv *loop, struct jstr name, struct jv *out) {
    const struct jloop *L = loop->u.loop;
    const int64_t i = (int64_t)L->index0, n = (int64_t)L->items->n;
    if (jstr_eq(name, "index")) *out = jv_int(i + 1);
    else if (jstr_eq(name, "index0")) *out = jv_int(i);
    else if (jstr_eq(name, "revindex")) *out = jv_int(n - i);
    else if (jstr_eq(name, "revindex0")) *out = jv_int(n - i - 1);
    else if (jstr_eq(name, "first")) *out = jv_bool(i == 0);
    else if (jstr_eq(name, "last")) *out = jv_bool(i == n - 1);
    else if (jstr_eq(name, "length")) *out = jv_int(n);
    else if (jstr_eq(name, "depth")) *out = jv_int(1);
    else if (jstr_eq(name, "depth0")) *out = jv_int(0);
    else if (jstr_eq(name, "previtem"))
        *out = i > 0 ? L->items->v[i - 1] : jv_undef(c, "there is no previous item");
    else if (jstr_eq(name, "nextitem"))
        *out = i + 1 < n ? L->items->v[i + 1] : jv_undef(c, "there is no next item");
    else if (jstr_eq(name, "cycle")) {
        *out = jinja_builtin(c, JB_CYCLE, "cycle");
        if (out->kind == JV_FUNC) out->u.fn->self = *loop;
    } else {
        *out = jv_undef(c, "'LoopContext object' has no attribute '%.*s'", (int)name.n, name.p);
    }
    return 0;
}
