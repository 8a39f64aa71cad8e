/*
 * jinja_eval.c — evaluating expression nodes (see jinja.h for the node
 * layout). `and`/`or` return an operand as Python does; names not found
 * evaluate to an Undefined that remembers "'x' is undefined" for when it is
 * used in a way Jinja's Undefined refuses. Every evaluation counts against
 * JINJA_MAX_STEPS and JINJA_MAX_DEPTH.
 */
#include "jinja.h"

const struct jv *jargs_get(const struct jargs *a, size_t idx, const char *name) {
    if (idx < a->n_pos) return &a->pos[idx];
    if (name)
        for (size_t i = 0; i < a->n_kw; i++)
            if (jstr_eq(a->kw_names[i], name)) return &a->kw[i];
    return NULL;
}

/* Evaluates the argument kids of a CALL / FILTER / TEST node. */
static int eval_args(struct jctx *c, struct jscope *s, const struct jnode *e, struct jargs *a) {
    a->n_pos = a->n_kw = 0;
    a->pos = a->kw = NULL;
    a->kw_names = NULL;
    if (!e->n_kids) return 0;
    struct jv *vals = jalloc(c, e->n_kids * sizeof(struct jv));
    struct jstr *names = jalloc(c, e->n_kids * sizeof(struct jstr));
    if (!vals || !names) return c->err->status;
    for (size_t i = 0; i < e->n_kids; i++)
        if (!e->kw[i].n) a->n_pos++;
    a->pos = vals;
    a->kw = vals + a->n_pos;
    a->kw_names = names;
    size_t ip = 0, ik = 0;
    for (size_t i = 0; i < e->n_kids; i++) {
        struct jv v;
        int rc = jinja_eval(c, s, e->kids[i], &v);
        if (rc) return rc;
        if (e->kw[i].n) {
            names[ik] = e->kw[i];
            a->kw[ik++] = v;
        } else {
            a->pos[ip++] = v;
        }
    }
    a->n_kw = ik;
    return 0;
}

static int eval_list(struct jctx *c, struct jscope *s, const struct jnode *e, struct jv *out) {
    struct jlist *l = jlist_new(c, e->n_kids);
    if (!l) return c->err->status;
    for (size_t i = 0; i < e->n_kids; i++) {
        int rc = jinja_eval(c, s, e->kids[i], &l->v[i]);
        if (rc) return rc;
        l->n++;
    }
    *out = jv_list(l, e->kind == JN_TUPLE);
    return 0;
}

static int eval_dict(struct jctx *c, struct jscope *s, const struct jnode *e, struct jv *out) {
    struct jdict *d = jdict_new(c, e->n_kids / 2);
    if (!d) return c->err->status;
    for (size_t i = 0; i + 1 < e->n_kids; i += 2) {
        struct jv k, v;
        int rc = jinja_eval(c, s, e->kids[i], &k);
        if (!rc) rc = jinja_eval(c, s, e->kids[i + 1], &v);
        if (!rc && (k.kind == JV_LIST && k.flag != JV_TUPLE))
            rc = jfail(c, e->line, "unhashable type: 'list'");
        if (!rc && k.kind == JV_DICT) rc = jfail(c, e->line, "unhashable type: 'dict'");
        if (!rc) rc = jdict_set(c, d, k, v);
        if (rc) return rc;
    }
    *out = jv_dict(d, false);
    return 0;
}

static int eval_cmp(struct jctx *c, struct jscope *s, const struct jnode *e, struct jv *out) {
    struct jv left, right;
    int rc = jinja_eval(c, s, e->kids[0], &left);
    for (size_t i = 1; !rc && i < e->n_kids; i++) {
        bool r;
        if ((rc = jinja_eval(c, s, e->kids[i], &right)) || (rc = jinja_compare(c, e->ops[i], &left, &right, &r)))
            return rc;
        if (!r) {
            *out = jv_bool(false);
            return 0;
        }
        left = right;
    }
    *out = jv_bool(true);
    return rc;
}

static int eval_neg(struct jctx *c, const struct jnode *e, const struct jv *a, struct jv *out) {
    if (a->kind == JV_FLOAT) {
        *out = jv_float(e->kind == JN_NEG ? -a->u.f : a->u.f);
        return 0;
    }
    if (jv_is_intlike(a)) {
        int64_t v = jv_as_i64(a);
        if (e->kind == JN_NEG && v == INT64_MIN) return jfail(c, e->line, "integer overflow");
        *out = jv_int(e->kind == JN_NEG ? -v : v);
        return 0;
    }
    if (a->kind == JV_UNDEF) return jfail(c, e->line, "%.*s", (int)a->u.s.n, a->u.s.p);
    return jfail(c, e->line, "bad operand type for unary %c: '%s'", e->kind == JN_NEG ? '-' : '+', jv_type_name(a));
}

static int eval_node(struct jctx *c, struct jscope *s, const struct jnode *e, struct jv *out) {
    struct jv a, b;
    struct jargs args;
    int rc;
    switch (e->kind) {
    case JN_LIT: *out = e->lit; return 0;
    case JN_NAME: {
        struct jv *v = jscope_find(s, e->name);
        *out = v ? *v : jv_undef(c, "'%.*s' is undefined", (int)e->name.n, e->name.p);
        return 0;
    }
    case JN_LIST:
    case JN_TUPLE: return eval_list(c, s, e, out);
    case JN_DICT: return eval_dict(c, s, e, out);
    case JN_GETATTR:
        if ((rc = jinja_eval(c, s, e->a, &a))) return rc;
        c->line = e->line;
        return jinja_getattr(c, &a, e->name, out);
    case JN_GETITEM:
        if ((rc = jinja_eval(c, s, e->a, &a)) || (rc = jinja_eval(c, s, e->b, &b))) return rc;
        c->line = e->line;
        return jinja_getitem(c, &a, &b, out);
    case JN_SLICE: {
        struct jv parts[3];
        const struct jnode *pn[3] = {e->b, e->c, e->d};
        if ((rc = jinja_eval(c, s, e->a, &a))) return rc;
        for (int i = 0; i < 3; i++) {
            parts[i] = jv_none();
            if (pn[i] && (rc = jinja_eval(c, s, pn[i], &parts[i]))) return rc;
        }
        c->line = e->line;
        return jinja_slice(c, &a, &parts[0], &parts[1], &parts[2], out);
    }
    case JN_CALL:
        if ((rc = jinja_eval(c, s, e->a, &a)) || (rc = eval_args(c, s, e, &args))) return rc;
        c->line = e->line;
        return jinja_call(c, &a, &args, out);
    case JN_FILTER:
        if ((rc = jinja_eval(c, s, e->a, &a)) || (rc = eval_args(c, s, e, &args))) return rc;
        c->line = e->line;
        return jinja_filter(c, e->name, &a, &args, out);
    case JN_TEST: {
        bool r;
        if ((rc = jinja_eval(c, s, e->a, &a)) || (rc = eval_args(c, s, e, &args))) return rc;
        c->line = e->line;
        if ((rc = jinja_test(c, e->name, &a, &args, &r))) return rc;
        *out = jv_bool(e->op ? !r : r);
        return 0;
    }
    case JN_NOT:
        if ((rc = jinja_eval(c, s, e->a, &a))) return rc;
        *out = jv_bool(!jv_truthy(&a));
        return 0;
    case JN_NEG:
    case JN_POS:
        if ((rc = jinja_eval(c, s, e->a, &a))) return rc;
        return eval_neg(c, e, &a, out);
    case JN_BINOP:
        if ((rc = jinja_eval(c, s, e->a, &a)) || (rc = jinja_eval(c, s, e->b, &b))) return rc;
        c->line = e->line;
        return jinja_binop(c, e->op, &a, &b, out);
    case JN_AND:
    case JN_OR:
        if ((rc = jinja_eval(c, s, e->a, &a))) return rc;
        if (jv_truthy(&a) == (e->kind == JN_OR)) {
            *out = a;
            return 0;
        }
        return jinja_eval(c, s, e->b, out);
    case JN_CMP: return eval_cmp(c, s, e, out);
    case JN_COND:
        if ((rc = jinja_eval(c, s, e->a, &a))) return rc;
        if (jv_truthy(&a)) return jinja_eval(c, s, e->b, out);
        if (e->c) return jinja_eval(c, s, e->c, out);
        *out = jv_undef(c, "the inline if-expression evaluated to false and no else section was defined");
        return 0;
    default: return jfail(c, e->line, "statement used as an expression");
    }
}

int jinja_eval(struct jctx *c, struct jscope *s, const struct jnode *e, struct jv *out) {
    if (++c->steps > JINJA_MAX_STEPS) return jfail(c, e->line, "template takes too many steps to render");
    if (++c->depth > JINJA_MAX_DEPTH) {
        c->depth--;
        return jfail(c, e->line, "expression or macro calls nested too deeply");
    }
    c->line = e->line;
    int rc = eval_node(c, s, e, out);
    c->depth--;
    return rc;
}
