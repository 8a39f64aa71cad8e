/*
 * jinja_exec.c — running statements, scopes and macro calls.
 *
 * Scoping follows Jinja2: `set` binds in the innermost scope; each for-loop
 * iteration and each macro call gets a fresh scope (so a `set` inside a
 * loop is gone at the next iteration and after the loop, which is why
 * templates use namespace()); `if` opens none. A macro's scope hangs off
 * the scope it was defined in, looked up when it runs, so it sees
 * template variables set after its definition, as Jinja's macros do.
 */
#include "jinja.h"

#include <stdio.h>
#include <string.h>

struct jscope *jscope_new(struct jctx *c, struct jscope *parent) {
    struct jscope *s = jalloc(c, sizeof(*s));
    if (!s) return NULL;
    s->parent = parent;
    s->vars = jdict_new(c, 0);
    return s->vars ? s : NULL;
}

struct jv *jscope_find(struct jscope *s, struct jstr name) {
    for (; s; s = s->parent)
        for (size_t i = 0; i < s->vars->n; i++) {
            const struct jstr k = s->vars->k[i].u.s;
            if (k.n == name.n && memcmp(k.p, name.p, name.n) == 0) return &s->vars->v[i];
        }
    return NULL;
}

int jscope_set(struct jctx *c, struct jscope *s, struct jstr name, struct jv v) {
    return jdict_set(c, s->vars, jv_str(name.p, name.n), v);
}

/* Binds a for/set target (NAME, TUPLE of NAMEs, or ns.attr). */
static int assign(struct jctx *c, struct jscope *s, const struct jnode *t, const struct jv *v) {
    if (t->kind == JN_NAME) return jscope_set(c, s, t->name, *v);
    if (t->kind == JN_GETATTR) {
        struct jv *ns = jscope_find(s, t->a->name);
        if (!ns || ns->kind != JV_DICT || ns->flag != JV_NAMESPACE)
            return jfail(c, t->line, "cannot assign attribute on non-namespace object");
        return jdict_set(c, ns->u.d, jv_str(t->name.p, t->name.n), *v);
    }
    const struct jlist *items;
    if (v->kind == JV_UNDEF) return jfail(c, t->line, "%.*s", (int)v->u.s.n, v->u.s.p);
    int rc = jv_iterate(c, v, &items);
    if (rc) return rc;
    if (items->n != t->n_kids)
        return jfail(c, t->line, items->n > t->n_kids ? "too many values to unpack (expected %zu)"
                                                      : "not enough values to unpack (expected %zu)", t->n_kids);
    for (size_t i = 0; i < t->n_kids && !rc; i++) rc = assign(c, s, t->kids[i], &items->v[i]);
    return rc;
}

/* Applies a filter chain (its innermost node has a NULL input) to v. */
static int apply_chain(struct jctx *c, struct jscope *s, const struct jnode *f, struct jv *v) {
    if (!f) return 0;
    int rc = apply_chain(c, s, f->a, v);
    struct jargs a = {0};
    struct jv *vals = f->n_kids ? jalloc(c, f->n_kids * sizeof(struct jv)) : NULL;
    struct jstr *names = f->n_kids ? jalloc(c, f->n_kids * sizeof(struct jstr)) : NULL;
    if (f->n_kids && (!vals || !names)) return c->err->status;
    for (size_t i = 0; i < f->n_kids && !rc; i++)
        if (!f->kw[i].n) rc = jinja_eval(c, s, f->kids[i], &vals[a.n_pos++]);
    a.pos = vals;
    a.kw = vals + a.n_pos;
    a.kw_names = names;
    for (size_t i = 0; i < f->n_kids && !rc; i++)
        if (f->kw[i].n) {
            names[a.n_kw] = f->kw[i];
            rc = jinja_eval(c, s, f->kids[i], &a.kw[a.n_kw++]);
        }
    c->line = f->line;
    return rc ? rc : jinja_filter(c, f->name, v, &a, v);
}

static int exec_for(struct jctx *c, struct jscope *s, const struct jnode *n, struct jbuf *out) {
    struct jv seq;
    const struct jlist *items;
    int rc = jinja_eval(c, s, n->b, &seq);
    if (!rc) {
        c->line = n->line;
        rc = jv_iterate(c, &seq, &items);
    }
    if (rc) return rc;
    if (n->e) { /* {% for x in xs if cond %}: loop.* count only the kept items */
        struct jlist *kept = jlist_new(c, items->n);
        if (!kept) return c->err->status;
        for (size_t i = 0; i < items->n; i++) {
            struct jscope *it = jscope_new(c, s);
            struct jv keep;
            if (!it) return c->err->status;
            if ((rc = assign(c, it, n->a, &items->v[i])) || (rc = jinja_eval(c, it, n->e, &keep))) return rc;
            if (jv_truthy(&keep)) kept->v[kept->n++] = items->v[i];
        }
        items = kept;
    }
    if (!items->n) return n->d ? jinja_exec(c, s, n->d, out) : 0;
    struct jloop *loop = jalloc(c, sizeof(*loop));
    if (!loop) return c->err->status;
    loop->items = items;
    struct jv lv = {0};
    lv.kind = JV_LOOP;
    lv.u.loop = loop;
    static const struct jstr loop_name = {"loop", 4};
    for (size_t i = 0; i < items->n; i++) {
        if (++c->steps > JINJA_MAX_STEPS) return jfail(c, n->line, "template takes too many steps to render");
        struct jscope *it = jscope_new(c, s);
        if (!it) return c->err->status;
        loop->index0 = i;
        if ((rc = jscope_set(c, it, loop_name, lv)) || (rc = assign(c, it, n->a, &items->v[i]))) return rc;
        rc = jinja_exec(c, it, n->c, out);
        if (rc == JFLOW_BREAK) break;
        if (rc < 0) return rc;
    }
    return 0;
}

static int exec_stmt(struct jctx *c, struct jscope *s, const struct jnode *n, struct jbuf *out) {
    struct jv v;
    int rc;
    c->line = n->line;
    switch (n->kind) {
    case JN_TEXT: return jbuf_put(c, out, n->lit.u.s.p, n->lit.u.s.n);
    case JN_OUTPUT:
        if ((rc = jinja_eval(c, s, n->a, &v))) return rc;
        return jv_write_str(c, &v, out);
    case JN_IF:
        for (;;) {
            if ((rc = jinja_eval(c, s, n->a, &v))) return rc;
            if (jv_truthy(&v)) return jinja_exec(c, s, n->b, out);
            if (!n->c) return 0;
            if (n->c->kind != JN_IF) return jinja_exec(c, s, n->c, out);
            n = n->c;
        }
    case JN_FOR: return exec_for(c, s, n, out);
    case JN_SET:
        if ((rc = jinja_eval(c, s, n->b, &v))) return rc;
        return assign(c, s, n->a, &v);
    case JN_SET_BLOCK:
    case JN_FILTER_BLOCK: {
        struct jbuf body = {0};
        if ((rc = jinja_exec(c, s, n->c, &body)) < 0) return rc;
        v = body.n ? jv_str(body.p, body.n) : jv_str("", 0);
        if ((rc = apply_chain(c, s, n->kind == JN_SET_BLOCK ? n->b : n->a, &v))) return rc;
        if (n->kind == JN_SET_BLOCK) return assign(c, s, n->a, &v);
        return jv_write_str(c, &v, out);
    }
    case JN_MACRO: {
        struct jfunc *fn = jalloc(c, sizeof(*fn));
        if (!fn) return c->err->status;
        fn->kind = JF_MACRO;
        fn->name = n->name;
        fn->macro = n;
        fn->closure = s;
        v = jv_none();
        v.kind = JV_FUNC;
        v.u.fn = fn;
        return jscope_set(c, s, n->name, v);
    }
    case JN_WITH: {
        struct jscope *w = jscope_new(c, s);
        if (!w) return c->err->status;
        for (size_t i = 0; i < n->n_kids; i++)
            if ((rc = jinja_eval(c, s, n->kids[i]->b, &v)) || (rc = assign(c, w, n->kids[i]->a, &v))) return rc;
        return jinja_exec(c, w, n->c, out);
    }
    case JN_BREAK: return JFLOW_BREAK;
    case JN_CONTINUE: return JFLOW_CONTINUE;
    case JN_BODY: return jinja_exec(c, s, n, out);
    default: return jfail(c, n->line, "expression used as a statement");
    }
}

int jinja_exec(struct jctx *c, struct jscope *s, const struct jnode *body, struct jbuf *out) {
    if (++c->depth > JINJA_MAX_DEPTH) {
        c->depth--;
        return jfail(c, body->line, "statements or macro calls nested too deeply");
    }
    int rc = 0;
    for (size_t i = 0; i < body->n_kids && rc == 0; i++) {
        if (++c->steps > JINJA_MAX_STEPS) {
            rc = jfail(c, body->kids[i]->line, "template takes too many steps to render");
            break;
        }
        rc = exec_stmt(c, s, body->kids[i], out);
    }
    c->depth--;
    return rc;
}

static int call_macro(struct jctx *c, const struct jfunc *fn, const struct jargs *a, struct jv *out) {
    const struct jnode *m = fn->macro;
    if (a->n_pos > m->n_kids)
        return jfail(c, 0, "macro '%.*s' takes not more than %zu argument(s)", (int)m->name.n, m->name.p, m->n_kids);
    for (size_t k = 0; k < a->n_kw; k++) {
        size_t i = 0;
        while (i < m->n_kids && !(m->kids[i]->name.n == a->kw_names[k].n &&
                                  memcmp(m->kids[i]->name.p, a->kw_names[k].p, a->kw_names[k].n) == 0))
            i++;
        if (i == m->n_kids)
            return jfail(c, 0, "macro '%.*s' takes no keyword argument '%.*s'", (int)m->name.n, m->name.p,
                         (int)a->kw_names[k].n, a->kw_names[k].p);
    }
    struct jscope *s = jscope_new(c, fn->closure);
    if (!s) return c->err->status;
    for (size_t i = 0; i < m->n_kids; i++) {
        const struct jnode *p = m->kids[i];
        char name[64];
        snprintf(name, sizeof(name), "%.*s", (int)p->name.n, p->name.p);
        const struct jv *given = jargs_get(a, i, p->name.n < sizeof(name) ? name : NULL);
        struct jv v;
        int rc = 0;
        if (given) v = *given;
        else if (p->a) rc = jinja_eval(c, s, p->a, &v);
        else v = jv_undef(c, "parameter '%.*s' was not provided", (int)p->name.n, p->name.p);
        if (rc || (rc = jscope_set(c, s, p->name, v))) return rc;
    }
    struct jbuf b = {0};
    int rc = jinja_exec(c, s, m->c, &b);
    if (rc < 0) return rc;
    *out = b.n ? jv_str(b.p, b.n) : jv_str("", 0);
    return 0;
}

int jinja_call(struct jctx *c, const struct jv *fn, const struct jargs *a, struct jv *out) {
    if (fn->kind == JV_UNDEF) return jfail(c, 0, "%.*s", (int)fn->u.s.n, fn->u.s.p);
    if (fn->kind != JV_FUNC) return jfail(c, 0, "'%s' object is not callable", jv_type_name(fn));
    switch (fn->u.fn->kind) {
    case JF_BUILTIN: return jinja_builtin_call(c, fn->u.fn, a, out);
    case JF_METHOD:  return jinja_method_call(c, fn->u.fn, a, out);
    default:         return call_macro(c, fn->u.fn, a, out);
    }
}
