/*
 * jinja_parse_expr.c — expressions, by jinja2/parser.py's grammar and
 * precedence (loosest first):
 *
 *   tuple     expr (',' expr)*                (only where Jinja allows one)
 *   expr      or ['if' or ['else' expr]]
 *   or        and ('or' and)*
 *   and       not ('and' not)*
 *   not       'not' not | compare
 *   compare   math1 (('=='|'!='|'<'|'<='|'>'|'>='|'in'|'not' 'in') math1)*
 *   math1     concat (('+'|'-') concat)*
 *   concat    math2 ('~' math2)*
 *   math2     pow (('*'|'/'|'//'|'%') pow)*
 *   pow       unary ('**' unary)*
 *   unary     ('-'|'+') unary-without-filters | primary postfix, then
 *             filters/tests/calls: ('|' name [args] | 'is' ['not'] name [args] | '(' args ')')*
 *   postfix   ('.' name | '.' int | '[' subscript ']' | '(' args ')')*
 *
 * so `-x|abs` is abs(-x), `a ~ b|upper` is a ~ (b|upper) and
 * `not x is defined` is not (x is defined), as in Jinja.
 */
#include "jinja.h"

#include <string.h>

#define JP_MAX_DEPTH 100

struct jnode *jp_node(struct jparser *p, int kind, int line) {
    struct jnode *n = jalloc(p->c, sizeof(*n));
    if (!n) return NULL;
    n->kind = (uint8_t)kind;
    n->line = line;
    return n;
}

int jp_push_kid(struct jparser *p, struct jnode *n, struct jnode *kid, struct jstr kw) {
    /* kids grow by doubling; capacity is the next power of two >= n_kids */
    size_t cap = 4;
    while (cap < n->n_kids) cap *= 2;
    if (n->n_kids == 0 || n->n_kids == cap) {
        size_t ncap = n->n_kids == 0 ? 4 : cap * 2;
        struct jnode **k = jalloc(p->c, ncap * sizeof(*k));
        struct jstr *w = jalloc(p->c, ncap * sizeof(*w));
        uint8_t *o = jalloc(p->c, ncap);
        if (!k || !w || !o) return p->c->err->status;
        if (n->n_kids) {
            memcpy(k, n->kids, n->n_kids * sizeof(*k));
            memcpy(w, n->kw, n->n_kids * sizeof(*w));
            memcpy(o, n->ops, n->n_kids);
        }
        n->kids = k;
        n->kw = w;
        n->ops = o;
    }
    n->kids[n->n_kids] = kid;
    n->kw[n->n_kids] = kw;
    n->ops[n->n_kids] = 0;
    n->n_kids++;
    return 0;
}

static const struct jtoken *cur(const struct jparser *p) { return &p->t[p->pos]; }

bool jp_is_op(const struct jparser *p, const char *op) {
    const struct jtoken *t = cur(p);
    return t->type == JT_OP && jstr_eq(t->s, op);
}

bool jp_is_name(const struct jparser *p, const char *name) {
    const struct jtoken *t = cur(p);
    return t->type == JT_NAME && jstr_eq(t->s, name);
}

static const char *tok_desc(const struct jtoken *t) {
    switch (t->type) {
    case JT_TEXT:        return "template text";
    case JT_VAR_BEGIN:   return "'{{'";
    case JT_VAR_END:     return "end of print statement '}}'";
    case JT_BLOCK_BEGIN: return "'{%'";
    case JT_BLOCK_END:   return "end of statement block '%}'";
    case JT_NAME:        return "a name";
    case JT_STRING:      return "a string";
    case JT_INT:
    case JT_FLOAT:       return "a number";
    case JT_OP:          return "an operator";
    default:             return "end of template";
    }
}

int jp_expect_op(struct jparser *p, const char *op) {
    if (!jp_is_op(p, op)) {
        const struct jtoken *t = cur(p);
        if (t->type == JT_OP || t->type == JT_NAME)
            return jfail(p->c, t->line, "expected '%s', got '%.*s'", op, (int)t->s.n, t->s.p);
        return jfail(p->c, t->line, "expected '%s', got %s", op, tok_desc(t));
    }
    p->pos++;
    return 0;
}

static int unexpected(struct jparser *p) {
    const struct jtoken *t = cur(p);
    if (t->type == JT_OP || t->type == JT_NAME)
        return jfail(p->c, t->line, "unexpected '%.*s'", (int)t->s.n, t->s.p);
    return jfail(p->c, t->line, "unexpected %s", tok_desc(t));
}

static int parse_unary(struct jparser *p, bool with_filter, struct jnode **out);

/* Call arguments after '(' up to and including ')'. */
static int parse_args(struct jparser *p, struct jnode *n) {
    int rc = jp_expect_op(p, "(");
    bool kw_seen = false;
    while (!rc && !jp_is_op(p, ")")) {
        if (n->n_kids && (rc = jp_expect_op(p, ","))) break;
        if (jp_is_op(p, ")")) break;
        struct jstr kw = {0};
        if (cur(p)->type == JT_NAME && p->t[p->pos + 1].type == JT_OP && jstr_eq(p->t[p->pos + 1].s, "=")) {
            kw = cur(p)->s;
            p->pos += 2;
            kw_seen = true;
        } else if (kw_seen) {
            return jfail(p->c, cur(p)->line, "positional argument after keyword argument");
        } else if (jp_is_op(p, "*") || jp_is_op(p, "**")) {
            return jfail(p->c, cur(p)->line, "*args and **kwargs are not supported");
        }
        struct jnode *e;
        rc = jp_expr(p, true, &e);
        if (!rc) rc = jp_push_kid(p, n, e, kw);
    }
    return rc ? rc : jp_expect_op(p, ")");
}

static int parse_list_like(struct jparser *p, int kind, const char *close, struct jnode **out) {
    struct jnode *n = jp_node(p, kind, cur(p)->line);
    if (!n) return p->c->err->status;
    p->pos++;
    int rc = 0;
    while (!rc && !jp_is_op(p, close)) {
        if (n->n_kids && (rc = jp_expect_op(p, ","))) break;
        if (jp_is_op(p, close)) break;
        struct jnode *k, *v = NULL;
        rc = jp_expr(p, true, &k);
        if (!rc && kind == JN_DICT) {
            rc = jp_expect_op(p, ":");
            if (!rc) rc = jp_expr(p, true, &v);
        }
        struct jstr none = {0};
        if (!rc) rc = jp_push_kid(p, n, k, none);
        if (!rc && v) rc = jp_push_kid(p, n, v, none);
    }
    if (!rc) rc = jp_expect_op(p, close);
    *out = n;
    return rc;
}

static int parse_primary(struct jparser *p, struct jnode **out) {
    const struct jtoken *t = cur(p);
    struct jnode *n;
    if (t->type == JT_NAME) {
        n = jp_node(p, JN_LIT, t->line);
        if (!n) return p->c->err->status;
        if (jstr_eq(t->s, "true") || jstr_eq(t->s, "True")) n->lit = jv_bool(true);
        else if (jstr_eq(t->s, "false") || jstr_eq(t->s, "False")) n->lit = jv_bool(false);
        else if (jstr_eq(t->s, "none") || jstr_eq(t->s, "None")) n->lit = jv_none();
        else {
            n->kind = JN_NAME;
            n->name = t->s;
        }
        p->pos++;
    } else if (t->type == JT_STRING) {
        n = jp_node(p, JN_LIT, t->line);
        if (!n) return p->c->err->status;
        n->lit = jv_str(t->s.p, t->s.n);
        for (p->pos++; cur(p)->type == JT_STRING; p->pos++) {
            struct jbuf b = {0};
            int rc = jbuf_put(p->c, &b, n->lit.u.s.p, n->lit.u.s.n);
            if (!rc) rc = jbuf_put(p->c, &b, cur(p)->s.p, cur(p)->s.n);
            if (rc) return rc;
            n->lit = jv_str(b.p, b.n);
        }
    } else if (t->type == JT_INT || t->type == JT_FLOAT) {
        n = jp_node(p, JN_LIT, t->line);
        if (!n) return p->c->err->status;
        n->lit = t->type == JT_INT ? jv_int(t->i) : jv_float(t->f);
        p->pos++;
    } else if (jp_is_op(p, "(")) {
        p->pos++;
        if (jp_is_op(p, ")")) { /* empty tuple */
            n = jp_node(p, JN_TUPLE, t->line);
            if (!n) return p->c->err->status;
            p->pos++;
        } else {
            int rc = jp_tuple(p, true, &n);
            if (!rc) rc = jp_expect_op(p, ")");
            if (rc) return rc;
        }
    } else if (jp_is_op(p, "[")) {
        return parse_list_like(p, JN_LIST, "]", out);
    } else if (jp_is_op(p, "{")) {
        return parse_list_like(p, JN_DICT, "}", out);
    } else {
        return unexpected(p);
    }
    *out = n;
    return 0;
}

static int parse_subscript(struct jparser *p, struct jnode *obj, struct jnode **out) {
    const int line = cur(p)->line;
    if (jp_is_op(p, ".")) {
        p->pos++;
        const struct jtoken *t = cur(p);
        struct jnode *n = jp_node(p, t->type == JT_INT ? JN_GETITEM : JN_GETATTR, line);
        if (!n) return p->c->err->status;
        n->a = obj;
        if (t->type == JT_NAME) {
            n->name = t->s;
        } else if (t->type == JT_INT) {
            n->b = jp_node(p, JN_LIT, line);
            if (!n->b) return p->c->err->status;
            n->b->lit = jv_int(t->i);
        } else {
            return jfail(p->c, line, "expected name or number after '.'");
        }
        p->pos++;
        *out = n;
        return 0;
    }
    p->pos++; /* '[' */
    struct jnode *parts[3] = {NULL, NULL, NULL};
    int k = 0, rc = 0;
    for (;;) {
        if (!jp_is_op(p, ":") && !jp_is_op(p, "]") && (rc = jp_expr(p, true, &parts[k]))) return rc;
        if (!jp_is_op(p, ":") || k == 2) break;
        p->pos++;
        k++;
    }
    if ((rc = jp_expect_op(p, "]"))) return rc;
    struct jnode *n = jp_node(p, k ? JN_SLICE : JN_GETITEM, line);
    if (!n) return p->c->err->status;
    n->a = obj;
    if (k) {
        n->b = parts[0];
        n->c = parts[1];
        n->d = parts[2];
    } else {
        if (!parts[0]) return jfail(p->c, line, "expected an expression in '[]'");
        n->b = parts[0];
    }
    *out = n;
    return 0;
}

static int parse_call(struct jparser *p, struct jnode *fn, struct jnode **out) {
    struct jnode *n = jp_node(p, JN_CALL, cur(p)->line);
    if (!n) return p->c->err->status;
    n->a = fn;
    *out = n;
    return parse_args(p, n);
}

int jp_filter(struct jparser *p, struct jnode *input, struct jnode **out) {
    if (cur(p)->type != JT_NAME) return jfail(p->c, cur(p)->line, "expected a filter name");
    struct jnode *n = jp_node(p, JN_FILTER, cur(p)->line);
    if (!n) return p->c->err->status;
    n->a = input;
    n->name = cur(p)->s;
    p->pos++;
    *out = n;
    return jp_is_op(p, "(") ? parse_args(p, n) : 0;
}

static int parse_test(struct jparser *p, struct jnode *input, struct jnode **out) {
    struct jnode *n = jp_node(p, JN_TEST, cur(p)->line);
    if (!n) return p->c->err->status;
    n->a = input;
    if (jp_is_name(p, "not")) {
        n->op = 1;
        p->pos++;
    }
    if (cur(p)->type != JT_NAME) return jfail(p->c, cur(p)->line, "expected a test name after 'is'");
    n->name = cur(p)->s;
    p->pos++;
    *out = n;
    if (jp_is_op(p, "(")) return parse_args(p, n);
    const struct jtoken *t = cur(p);
    bool arg = t->type == JT_STRING || t->type == JT_INT || t->type == JT_FLOAT || jp_is_op(p, "[") ||
               jp_is_op(p, "{") || (t->type == JT_NAME && !jp_is_name(p, "else") && !jp_is_name(p, "or") &&
                                    !jp_is_name(p, "and") && !jp_is_name(p, "is") && !jp_is_name(p, "in") &&
                                    !jp_is_name(p, "if") && !jp_is_name(p, "not"));
    if (!arg) return 0;
    struct jnode *e;
    int rc = parse_primary(p, &e);
    while (!rc && (jp_is_op(p, ".") || jp_is_op(p, "[") || jp_is_op(p, "(")))
        rc = jp_is_op(p, "(") ? parse_call(p, e, &e) : parse_subscript(p, e, &e);
    struct jstr none = {0};
    return rc ? rc : jp_push_kid(p, n, e, none);
}

static int parse_unary(struct jparser *p, bool with_filter, struct jnode **out) {
    const int line = cur(p)->line;
    int rc;
    struct jnode *n;
    if (jp_is_op(p, "-") || jp_is_op(p, "+")) {
        n = jp_node(p, jp_is_op(p, "-") ? JN_NEG : JN_POS, line);
        if (!n) return p->c->err->status;
        p->pos++;
        if (++p->depth > JP_MAX_DEPTH) return jfail(p->c, line, "expression nested too deeply");
        rc = parse_unary(p, false, &n->a);
        p->depth--;
    } else {
        rc = parse_primary(p, &n);
    }
    while (!rc && (jp_is_op(p, ".") || jp_is_op(p, "[") || jp_is_op(p, "(")))
        rc = jp_is_op(p, "(") ? parse_call(p, n, &n) : parse_subscript(p, n, &n);
    while (!rc && with_filter) {
        if (jp_is_op(p, "|")) {
            p->pos++;
            rc = jp_filter(p, n, &n);
        } else if (jp_is_name(p, "is")) {
            p->pos++;
            rc = parse_test(p, n, &n);
        } else if (jp_is_op(p, "(")) {
            rc = parse_call(p, n, &n);
        } else {
            break;
        }
    }
    *out = n;
    return rc;
}

static int binop(struct jparser *p, int kind, int op, struct jnode *a, struct jnode *b, int line, struct jnode **out) {
    struct jnode *n = jp_node(p, kind, line);
    if (!n) return p->c->err->status;
    n->op = (uint8_t)op;
    n->a = a;
    n->b = b;
    *out = n;
    return 0;
}

static int parse_pow(struct jparser *p, struct jnode **out) {
    int rc = parse_unary(p, true, out);
    while (!rc && jp_is_op(p, "**")) {
        const int line = cur(p)->line;
        struct jnode *r;
        p->pos++;
        rc = parse_unary(p, true, &r);
        if (!rc) rc = binop(p, JN_BINOP, JOP_POW, *out, r, line, out);
    }
    return rc;
}

static int parse_math2(struct jparser *p, struct jnode **out) {
    int rc = parse_pow(p, out);
    for (;;) {
        int op = jp_is_op(p, "*") ? JOP_MUL : jp_is_op(p, "/") ? JOP_DIV : jp_is_op(p, "//") ? JOP_FLOORDIV
               : jp_is_op(p, "%") ? JOP_MOD : -1;
        if (rc || op < 0) return rc;
        const int line = cur(p)->line;
        struct jnode *r;
        p->pos++;
        rc = parse_pow(p, &r);
        if (!rc) rc = binop(p, JN_BINOP, op, *out, r, line, out);
    }
}

static int parse_concat(struct jparser *p, struct jnode **out) {
    int rc = parse_math2(p, out);
    while (!rc && jp_is_op(p, "~")) {
        const int line = cur(p)->line;
        struct jnode *r;
        p->pos++;
        rc = parse_math2(p, &r);
        if (!rc) rc = binop(p, JN_BINOP, JOP_CONCAT, *out, r, line, out);
    }
    return rc;
}

static int parse_math1(struct jparser *p, struct jnode **out) {
    int rc = parse_concat(p, out);
    for (;;) {
        int op = jp_is_op(p, "+") ? JOP_ADD : jp_is_op(p, "-") ? JOP_SUB : -1;
        if (rc || op < 0) return rc;
        const int line = cur(p)->line;
        struct jnode *r;
        p->pos++;
        rc = parse_concat(p, &r);
        if (!rc) rc = binop(p, JN_BINOP, op, *out, r, line, out);
    }
}

static int cmp_op(struct jparser *p) {
    static const struct { const char *s; int op; } tab[] = {
        {"==", JOP_EQ}, {"!=", JOP_NE}, {"<", JOP_LT}, {"<=", JOP_LE}, {">", JOP_GT}, {">=", JOP_GE}};
    for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
        if (jp_is_op(p, tab[i].s)) return p->pos++, tab[i].op;
    if (jp_is_name(p, "in")) return p->pos++, JOP_IN;
    if (jp_is_name(p, "not") && p->t[p->pos + 1].type == JT_NAME && jstr_eq(p->t[p->pos + 1].s, "in"))
        return p->pos += 2, JOP_NOTIN;
    return -1;
}

static int parse_compare(struct jparser *p, struct jnode **out) {
    const int line = cur(p)->line;
    struct jnode *first;
    int rc = parse_math1(p, &first);
    if (rc) return rc;
    struct jnode *n = NULL;
    struct jstr none = {0};
    for (int op; (op = cmp_op(p)) >= 0;) {
        if (!n) {
            n = jp_node(p, JN_CMP, line);
            if (!n || (rc = jp_push_kid(p, n, first, none))) return n ? rc : p->c->err->status;
        }
        struct jnode *r;
        if ((rc = parse_math1(p, &r)) || (rc = jp_push_kid(p, n, r, none))) return rc;
        n->ops[n->n_kids - 1] = (uint8_t)op;
    }
    *out = n ? n : first;
    return 0;
}

static int parse_not(struct jparser *p, struct jnode **out) {
    if (jp_is_name(p, "not")) {
        const int line = cur(p)->line;
        p->pos++;
        if (++p->depth > JP_MAX_DEPTH) return jfail(p->c, line, "expression nested too deeply");
        struct jnode *a;
        int rc = parse_not(p, &a);
        p->depth--;
        return rc ? rc : binop(p, JN_NOT, 0, a, NULL, line, out);
    }
    return parse_compare(p, out);
}

static int parse_and(struct jparser *p, struct jnode **out) {
    int rc = parse_not(p, out);
    while (!rc && jp_is_name(p, "and")) {
        const int line = cur(p)->line;
        struct jnode *r;
        p->pos++;
        rc = parse_not(p, &r);
        if (!rc) rc = binop(p, JN_AND, 0, *out, r, line, out);
    }
    return rc;
}

static int parse_or(struct jparser *p, struct jnode **out) {
    int rc = parse_and(p, out);
    while (!rc && jp_is_name(p, "or")) {
        const int line = cur(p)->line;
        struct jnode *r;
        p->pos++;
        rc = parse_and(p, &r);
        if (!rc) rc = binop(p, JN_OR, 0, *out, r, line, out);
    }
    return rc;
}

int jp_expr(struct jparser *p, bool with_condexpr, struct jnode **out) {
    const int line = cur(p)->line;
    if (++p->depth > JP_MAX_DEPTH) return jfail(p->c, line, "expression nested too deeply");
    int rc = parse_or(p, out);
    while (!rc && with_condexpr && jp_is_name(p, "if")) {
        struct jnode *n = jp_node(p, JN_COND, cur(p)->line);
        if (!n) return p->c->err->status;
        p->pos++;
        n->b = *out;
        rc = parse_or(p, &n->a);
        if (!rc && jp_is_name(p, "else")) {
            p->pos++;
            rc = jp_expr(p, true, &n->c);
        }
        *out = n;
    }
    p->depth--;
    return rc;
}

int jp_tuple(struct jparser *p, bool with_condexpr, struct jnode **out) {
    const int line = cur(p)->line;
    int rc = jp_expr(p, with_condexpr, out);
    if (rc || !jp_is_op(p, ",")) return rc;
    struct jnode *n = jp_node(p, JN_TUPLE, line);
    struct jstr none = {0};
    if (!n) return p->c->err->status;
    if ((rc = jp_push_kid(p, n, *out, none))) return rc;
    while (jp_is_op(p, ",")) {
        p->pos++;
        const struct jtoken *t = cur(p);
        if (t->type == JT_VAR_END || t->type == JT_BLOCK_END || jp_is_op(p, ")") || jp_is_op(p, "=") ||
            jp_is_name(p, "in") || jp_is_name(p, "if"))
            break;
        struct jnode *e;
        if ((rc = jp_expr(p, with_condexpr, &e)) || (rc = jp_push_kid(p, n, e, none))) return rc;
    }
    *out = n;
    return 0;
}
