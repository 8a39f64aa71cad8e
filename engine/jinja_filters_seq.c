/*
 * jinja_filters_seq.c — filters over sequences, as jinja2/filters.py
 * defines them: first, last, join, list, items, dictsort, map,
 * select/reject/selectattr/rejectattr, unique, sort, reverse, batch,
 * min, max, sum. Attribute paths ("a.b.0") use Jinja's getitem rules;
 * string comparison in sort/unique/min/max ignores case unless
 * case_sensitive=true. Sorting is stable (merge sort), as Python's is.
 */
#include "jinja.h"

#include <string.h>

/* make_attrgetter: "a.b.0" -> item['a']['b'][0]. */
static int attr_get(struct jctx *c, const struct jv *item, const struct jv *attr, struct jv *out) {
    if (jv_is_intlike(attr)) return jinja_getitem(c, item, attr, out);
    if (attr->kind != JV_STR) return jfail(c, 0, "attribute must be a string");
    struct jv cur = *item;
    struct jstr s = attr->u.s;
    for (size_t a = 0; a <= s.n;) {
        size_t b = a;
        while (b < s.n && s.p[b] != '.') b++;
        struct jv key = jv_str(s.p + a, b - a);
        bool digits = b > a;
        int64_t k = 0;
        for (size_t i = a; i < b && digits; i++) {
            digits = s.p[i] >= '0' && s.p[i] <= '9' && k < 100000000;
            k = k * 10 + (s.p[i] - '0');
        }
        if (digits) key = jv_int(k);
        int rc = jinja_getitem(c, &cur, &key, &cur);
        if (rc) return rc;
        a = b + 1;
    }
    *out = cur;
    return 0;
}

/* Sort key / comparison value: lower-cased strings unless case-sensitive. */
static int fold(struct jctx *c, const struct jv *v, bool case_sensitive, struct jv *out) {
    if (case_sensitive || v->kind != JV_STR) {
        *out = *v;
        return 0;
    }
    return ju_map(c, v->u.s, ju_lower, out);
}

static int keyed(struct jctx *c, const struct jlist *items, const struct jv *attr, bool cs, struct jv **keys) {
    *keys = jalloc(c, (items->n ? items->n : 1) * sizeof(struct jv));
    if (!*keys) return c->err->status;
    for (size_t i = 0; i < items->n; i++) {
        struct jv k = items->v[i];
        int rc = 0;
        if (attr && attr->kind != JV_NONE) rc = attr_get(c, &items->v[i], attr, &k);
        if (rc || (rc = fold(c, &k, cs, &(*keys)[i]))) return rc;
    }
    return 0;
}

/* Stable merge sort of idx[0..n) by keys. */
static int merge_sort(struct jctx *c, size_t *idx, size_t *tmp, size_t n, const struct jv *keys, bool rev) {
    if (n < 2) return 0;
    size_t h = n / 2;
    int rc = merge_sort(c, idx, tmp, h, keys, rev);
    if (!rc) rc = merge_sort(c, idx + h, tmp, n - h, keys, rev);
    if (rc) return rc;
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n) {
        int r;
        if ((rc = jv_cmp(c, &keys[idx[j]], &keys[idx[i]], &r))) return rc;
        /* take from the right only when strictly before (stable) */
        tmp[k++] = (rev ? r > 0 : r < 0) ? idx[j++] : idx[i++];
    }
    while (i < h) tmp[k++] = idx[i++];
    while (j < n) tmp[k++] = idx[j++];
    memcpy(idx, tmp, n * sizeof(size_t));
    return 0;
}

static int sorted(struct jctx *c, const struct jlist *items, const struct jv *keys, bool rev, struct jlist **out) {
    size_t *idx = jalloc(c, (items->n + 1) * sizeof(size_t)), *tmp = jalloc(c, (items->n + 1) * sizeof(size_t));
    struct jlist *l = jlist_new(c, items->n);
    if (!idx || !tmp || !l) return c->err->status;
    for (size_t i = 0; i < items->n; i++) idx[i] = i;
    int rc = merge_sort(c, idx, tmp, items->n, keys, rev);
    if (rc) return rc;
    for (size_t i = 0; i < items->n; i++) l->v[l->n++] = items->v[idx[i]];
    *out = l;
    return 0;
}

static int select_like(struct jctx *c, const struct jlist *items, const struct jargs *a, bool attr, bool keep,
                       struct jv *out) {
    const struct jv *attr_name = attr ? jargs_get(a, 0, NULL) : NULL;
    const size_t t = attr ? 1 : 0;
    const struct jv *test = jargs_get(a, t, NULL);
    if (attr && !attr_name) return jfail(c, 0, "missing parameter for attribute name");
    if (test && test->kind != JV_STR) return jfail(c, 0, "test name must be a string");
    struct jargs targs = {0};
    if (a->n_pos > t + 1) {
        targs.n_pos = a->n_pos - t - 1;
        targs.pos = a->pos + t + 1;
    }
    struct jlist *l = jlist_new(c, items->n);
    if (!l) return c->err->status;
    for (size_t i = 0; i < items->n; i++) {
        struct jv v = items->v[i];
        bool r;
        int rc = attr ? attr_get(c, &items->v[i], attr_name, &v) : 0;
        if (rc) return rc;
        if (test) {
            if ((rc = jinja_test(c, test->u.s, &v, &targs, &r))) return rc;
        } else {
            r = jv_truthy(&v);
        }
        if (r == keep) l->v[l->n++] = items->v[i];
    }
    *out = jv_list(l, false);
    return 0;
}

static int do_map(struct jctx *c, const struct jlist *items, const struct jargs *a, struct jv *out) {
    const struct jv *attr = jargs_get(a, SIZE_MAX, "attribute"), *dflt = jargs_get(a, SIZE_MAX, "default");
    const struct jv *fname = jargs_get(a, 0, NULL);
    if (!attr && (!fname || fname->kind != JV_STR)) return jfail(c, 0, "map needs a filter name or attribute=");
    struct jargs fargs = {0};
    if (!attr && a->n_pos > 1) {
        fargs.n_pos = a->n_pos - 1;
        fargs.pos = a->pos + 1;
    }
    if (!attr) {
        fargs.n_kw = a->n_kw;
        fargs.kw = a->kw;
        fargs.kw_names = a->kw_names;
    }
    struct jlist *l = jlist_new(c, items->n);
    if (!l) return c->err->status;
    for (size_t i = 0; i < items->n; i++) {
        int rc = attr ? attr_get(c, &items->v[i], attr, &l->v[i]) : jinja_filter(c, fname->u.s, &items->v[i], &fargs, &l->v[i]);
        if (rc) return rc;
        if (attr && dflt && l->v[i].kind == JV_UNDEF) l->v[i] = *dflt;
        l->n++;
    }
    *out = jv_list(l, false);
    return 0;
}

static int do_join(struct jctx *c, const struct jlist *items, const struct jargs *a, struct jv *out) {
    const struct jv *d = jargs_get(a, 0, "d"), *attr = jargs_get(a, 1, "attribute");
    struct jv sep = jv_str("", 0), s;
    struct jbuf b = {0};
    int rc = d ? jv_to_str(c, d, &sep) : 0;
    for (size_t i = 0; i < items->n && !rc; i++) {
        struct jv v = items->v[i];
        if (attr && attr->kind != JV_NONE && (rc = attr_get(c, &items->v[i], attr, &v))) return rc;
        if (i && (rc = jbuf_put(c, &b, sep.u.s.p, sep.u.s.n))) return rc;
        if ((rc = jv_to_str(c, &v, &s)) || (rc = jbuf_put(c, &b, s.u.s.p, s.u.s.n))) return rc;
    }
    if (rc) return rc;
    *out = b.n ? jv_str(b.p, b.n) : jv_str("", 0);
    return 0;
}

static int min_max(struct jctx *c, const struct jlist *items, const struct jargs *a, bool max, struct jv *out) {
    const struct jv *cs = jargs_get(a, 0, "case_sensitive"), *attr = jargs_get(a, 1, "attribute");
    struct jv *keys;
    int rc = keyed(c, items, attr, cs && jv_truthy(cs), &keys);
    if (rc) return rc;
    if (!items->n) {
        *out = jv_undef(c, "No aggregated item, sequence was empty.");
        return 0;
    }
    size_t best = 0;
    for (size_t i = 1; i < items->n; i++) {
        int r;
        if ((rc = jv_cmp(c, &keys[i], &keys[best], &r))) return rc;
        if (max ? r > 0 : r < 0) best = i;
    }
    *out = items->v[best];
    return 0;
}

static int do_items(struct jctx *c, const struct jv *in, struct jv *out) {
    if (in->kind == JV_UNDEF) {
        struct jlist *l = jlist_new(c, 0);
        if (!l) return c->err->status;
        *out = jv_list(l, false);
        return 0;
    }
    if (in->kind != JV_DICT || in->flag == JV_NAMESPACE) return jfail(c, 0, "Can only get item pairs from a mapping.");
    struct jv fn;
    static const struct jstr name = {"items", 5};
    struct jargs none = {0};
    if (!jinja_method_lookup(c, in, name, &fn)) return c->err->status;
    return jinja_method_call(c, fn.u.fn, &none, out);
}

int jinja_filter_seq(struct jctx *c, struct jstr name, const struct jv *in, const struct jargs *a, struct jv *out,
                     bool *handled) {
    static const char *const names[] = {"first", "last", "join", "list", "map", "select", "reject", "selectattr",
                                        "rejectattr", "unique", "sort", "reverse", "batch", "min", "max", "sum",
                                        "items", "dictsort"};
    size_t id = 0;
    while (id < sizeof(names) / sizeof(names[0]) && !jstr_eq(name, names[id])) id++;
    if (id == sizeof(names) / sizeof(names[0])) return 0;
    *handled = true;
    if (id == 16) return do_items(c, in, out);
    const struct jlist *items;
    struct jlist *l = NULL;
    struct jv src = *in;
    if (id == 17) { /* dictsort: the (key, value) pairs */
        int rc = do_items(c, in, &src);
        if (rc) return rc;
    }
    if (id >= 4 && id <= 8 && !jv_truthy(in)) { /* Jinja: `if value:` before iterating */
        if (!(l = jlist_new(c, 0))) return c->err->status;
        *out = jv_list(l, false);
        return 0;
    }
    if (in->kind == JV_NONE || jv_is_num(in)) return jfail(c, 0, "'%s' object is not iterable", jv_type_name(in));
    int rc = jv_iterate(c, &src, &items);
    if (rc) return rc;
    struct jv *keys;
    switch (id) {
    case 0:
    case 1:
        *out = items->n ? items->v[id == 0 ? 0 : items->n - 1]
                        : jv_undef(c, "No %s item, sequence was empty.", id == 0 ? "first" : "last");
        return 0;
    case 2: return do_join(c, items, a, out);
    case 3:
        if (!(l = jlist_new(c, items->n))) return c->err->status;
        for (size_t i = 0; i < items->n; i++) l->v[l->n++] = items->v[i];
        *out = jv_list(l, false);
        return 0;
    case 4: return do_map(c, items, a, out);
    case 5:
    case 6:
    case 7:
    case 8: return select_like(c, items, a, id >= 7, id == 5 || id == 7, out);
    case 9: { /* unique */
        const struct jv *cs = jargs_get(a, 0, "case_sensitive"), *attr = jargs_get(a, 1, "attribute");
        if ((rc = keyed(c, items, attr, cs && jv_truthy(cs), &keys))) return rc;
        if (!(l = jlist_new(c, items->n))) return c->err->status;
        for (size_t i = 0; i < items->n; i++) {
            bool seen = false;
            for (size_t j = 0; j < i && !seen; j++) seen = jv_eq(&keys[j], &keys[i]);
            if (!seen) l->v[l->n++] = items->v[i];
            if (++c->steps > JINJA_MAX_STEPS) return jfail(c, 0, "template takes too many steps to render");
        }
        *out = jv_list(l, false);
        return 0;
    }
    case 10:
    case 17: { /* sort, dictsort */
        const struct jv *rev = jargs_get(a, id == 10 ? 0 : 2, "reverse");
        const struct jv *cs = jargs_get(a, id == 10 ? 1 : 0, "case_sensitive");
        const struct jv *attr = id == 10 ? jargs_get(a, 2, "attribute") : NULL;
        struct jv by_idx = jv_int(0);
        if (id == 17) {
            const struct jv *by = jargs_get(a, 1, "by");
            if (by && by->kind == JV_STR && jstr_eq(by->u.s, "value")) by_idx = jv_int(1);
            attr = &by_idx;
        }
        if ((rc = keyed(c, items, attr, cs && jv_truthy(cs), &keys)) ||
            (rc = sorted(c, items, keys, rev && jv_truthy(rev), &l)))
            return rc;
        *out = jv_list(l, false);
        return 0;
    }
    case 11:
        if (in->kind == JV_STR) {
            struct jbuf b = {0};
            for (size_t i = items->n; i-- > 0;)
                if ((rc = jbuf_put(c, &b, items->v[i].u.s.p, items->v[i].u.s.n))) return rc;
            *out = b.n ? jv_str(b.p, b.n) : jv_str("", 0);
            return 0;
        }
        if (!(l = jlist_new(c, items->n))) return c->err->status;
        for (size_t i = items->n; i-- > 0;) l->v[l->n++] = items->v[i];
        *out = jv_list(l, false);
        return 0;
    case 12: { /* batch(linecount, fill_with=None) */
        const struct jv *cnt = jargs_get(a, 0, "linecount"), *fill = jargs_get(a, 1, "fill_with");
        if (!cnt || !jv_is_intlike(cnt) || jv_as_i64(cnt) <= 0) return jfail(c, 0, "batch needs a positive count");
        const size_t k = jv_as_i64(cnt) > (int64_t)items->n ? items->n + 1 : (size_t)jv_as_i64(cnt);
        if (!(l = jlist_new(c, 0))) return c->err->status;
        for (size_t i = 0; i < items->n; i += k) {
            struct jlist *row = jlist_new(c, k);
            if (!row) return c->err->status;
            for (size_t j = i; j < i + k && j < items->n; j++) row->v[row->n++] = items->v[j];
            while (fill && fill->kind != JV_NONE && row->n < k) row->v[row->n++] = *fill;
            if ((rc = jlist_push(c, l, jv_list(row, false)))) return rc;
        }
        *out = jv_list(l, false);
        return 0;
    }
    case 13:
    case 14: return min_max(c, items, a, id == 14, out);
    default: { /* sum(attribute=None, start=0) */
        const struct jv *attr = jargs_get(a, 0, "attribute"), *start = jargs_get(a, 1, "start");
        struct jv acc = start ? *start : jv_int(0), v;
        for (size_t i = 0; i < items->n; i++) {
            v = items->v[i];
            if (attr && attr->kind != JV_NONE && (rc = attr_get(c, &items->v[i], attr, &v))) return rc;
            if ((rc = jinja_binop(c, JOP_ADD, &acc, &v, &acc))) return rc;
        }
        *out = acc;
        return 0;
    }
    }
}
