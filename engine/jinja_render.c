/*
 * jinja_render.c — the entry point (lex, parse, run) and the global
 * functions a chat template can call: range (capped at 100000 items like
 * Jinja's sandbox), namespace, dict, raise_exception, strftime_now (local
 * time, C locale formats) and loop.cycle.
 */
#include "jinja.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define JINJA_MAX_RANGE 100000

struct jv jinja_builtin(struct jctx *c, int id, const char *name) {
    struct jfunc *fn = jalloc(c, sizeof(*fn));
    if (!fn) return jv_undef_plain();
    fn->kind = JF_BUILTIN;
    fn->id = id;
    fn->name.p = name;
    fn->name.n = strlen(name);
    struct jv v = jv_none();
    v.kind = JV_FUNC;
    v.u.fn = fn;
    return v;
}

static int do_range(struct jctx *c, const struct jargs *a, struct jv *out) {
    int64_t r[3] = {0, 0, 1};
    if (a->n_pos < 1 || a->n_pos > 3 || a->n_kw) return jfail(c, 0, "range expected 1 to 3 arguments");
    for (size_t i = 0; i < a->n_pos; i++) {
        if (!jv_is_intlike(&a->pos[i]))
            return jfail(c, 0, "'%s' object cannot be interpreted as an integer", jv_type_name(&a->pos[i]));
        r[a->n_pos == 1 ? 1 : i] = jv_as_i64(&a->pos[i]);
    }
    if (r[2] == 0) return jfail(c, 0, "range() arg 3 must not be zero");
    int64_t n = 0;
    if (r[2] > 0 && r[0] < r[1]) n = (int64_t)(((__int128)r[1] - r[0] - 1) / r[2] + 1);
    if (r[2] < 0 && r[0] > r[1]) n = (int64_t)(((__int128)r[0] - r[1] - 1) / -(__int128)r[2] + 1);
    if (n > JINJA_MAX_RANGE)
        return jfail(c, 0, "Range too big. The sandbox blocks ranges larger than MAX_RANGE (%d).", JINJA_MAX_RANGE);
    struct jlist *l = jlist_new(c, (size_t)n);
    if (!l) return c->err->status;
    for (int64_t i = 0; i < n; i++) l->v[l->n++] = jv_int(r[0] + i * r[2]);
    *out = jv_list(l, false);
    return 0;
}

static int do_dict(struct jctx *c, const struct jargs *a, bool ns, struct jv *out) {
    struct jdict *d = jdict_new(c, a->n_kw);
    if (!d) return c->err->status;
    int rc = 0;
    if (a->n_pos > 1) return jfail(c, 0, "%s expected at most 1 positional argument", ns ? "namespace" : "dict");
    if (a->n_pos == 1) {
        if (a->pos[0].kind != JV_DICT) return jfail(c, 0, "cannot convert %s to a dict", jv_type_name(&a->pos[0]));
        for (size_t i = 0; i < a->pos[0].u.d->n && !rc; i++) rc = jdict_set(c, d, a->pos[0].u.d->k[i], a->pos[0].u.d->v[i]);
    }
    for (size_t i = 0; i < a->n_kw && !rc; i++) rc = jdict_set(c, d, jv_str(a->kw_names[i].p, a->kw_names[i].n), a->kw[i]);
    if (rc) return rc;
    *out = jv_dict(d, ns);
    return 0;
}

static int do_strftime(struct jctx *c, const struct jargs *a, struct jv *out) {
    const struct jv *f = jargs_get(a, 0, NULL);
    if (!f || f->kind != JV_STR) return jfail(c, 0, "strftime_now needs a format string");
    char *fmt = jalloc(c, f->u.s.n + 2);
    if (!fmt) return c->err->status;
    memcpy(fmt, f->u.s.p, f->u.s.n);
    fmt[f->u.s.n] = ' '; /* so a legitimately empty result is not mistaken for "too small" */
    time_t now = time(NULL);
    struct tm tm;
    if (!localtime_r(&now, &tm)) return jfail(c, 0, "strftime_now: cannot read the local time");
    for (size_t cap = 256; cap <= 65536; cap *= 4) {
        char *buf = jalloc(c, cap);
        if (!buf) return c->err->status;
        size_t n = strftime(buf, cap, fmt, &tm);
        if (n) return jv_str_copy(c, buf, n - 1, out);
    }
    return jfail(c, 0, "strftime_now: result too long");
}

int jinja_builtin_call(struct jctx *c, const struct jfunc *fn, const struct jargs *a, struct jv *out) {
    switch (fn->id) {
    case JB_RANGE: return do_range(c, a, out);
    case JB_NAMESPACE: return do_dict(c, a, true, out);
    case JB_DICT: return do_dict(c, a, false, out);
    case JB_RAISE: {
        struct jv msg = jv_str("", 0);
        const struct jv *m = jargs_get(a, 0, NULL);
        int rc = m ? jv_to_str(c, m, &msg) : 0;
        return rc ? rc : jfail(c, 0, "%.*s", (int)msg.u.s.n, msg.u.s.p);
    }
    case JB_STRFTIME: return do_strftime(c, a, out);
    default: { /* loop.cycle */
        if (!a->n_pos) return jfail(c, 0, "no items for cycling given");
        *out = a->pos[fn->self.u.loop->index0 % a->n_pos];
        return 0;
    }
    }
}

int jinja_render(struct jctx *c, const char *src, size_t n, struct jdict *globals, struct jstr *out) {
    struct jtoken *toks;
    size_t n_toks;
    struct jnode *root;
    int rc = jinja_lex(c, src, n, &toks, &n_toks);
    if (!rc) rc = jinja_parse(c, toks, n_toks, &root);
    if (rc) return rc;
    static const struct { const char *name; int id; } builtins[] = {
        {"range", JB_RANGE}, {"namespace", JB_NAMESPACE}, {"dict", JB_DICT},
        {"raise_exception", JB_RAISE}, {"strftime_now", JB_STRFTIME}};
    struct jscope *g = jscope_new(c, NULL);
    if (!g) return c->err->status;
    for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]) && !rc; i++) {
        struct jv f = jinja_builtin(c, builtins[i].id, builtins[i].name);
        if (f.kind != JV_FUNC) return c->err->status;
        rc = jdict_set(c, g->vars, jv_str(builtins[i].name, strlen(builtins[i].name)), f);
    }
    for (size_t i = 0; i < globals->n && !rc; i++) rc = jdict_set(c, g->vars, globals->k[i], globals->v[i]);
    struct jscope *top = rc ? NULL : jscope_new(c, g);
    if (rc || !top) return rc ? rc : c->err->status;
    struct jbuf b = {0};
    rc = jinja_exec(c, top, root, &b);
    if (rc < 0) return rc;
    out->p = b.p ? b.p : "";
    out->n = b.n;
    return 0;
}
