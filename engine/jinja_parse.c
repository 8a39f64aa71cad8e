/*
 * jinja_parse.c — statements: text, {{ }}, and the {% %} tags chat
 * templates use: if/elif/else, for (with `if` filter and else), set (plain,
 * tuple, namespace attribute, block), macro, filter blocks, with,
 * generation (the transformers extension; renders its body), and
 * break/continue (jinja2.ext.loopcontrols, which apply_chat_template loads).
 * Anything else (call, include, extends, do, ...) is a syntax error naming
 * the tag, as in an Environment without those extensions.
 */
#include "jinja.h"

#include <string.h>

static const struct jtoken *cur(const struct jparser *p) { return &p->t[p->pos]; }

static int parse_body(struct jparser *p, const char *const *ends, struct jnode **out, struct jstr *which);

static int expect_block_end(struct jparser *p) {
    if (cur(p)->type != JT_BLOCK_END) {
        const struct jtoken *t = cur(p);
        if (t->type == JT_NAME || t->type == JT_OP)
            return jfail(p->c, t->line, "expected end of statement block, got '%.*s'", (int)t->s.n, t->s.p);
        return jfail(p->c, t->line, "expected end of statement block");
    }
    p->pos++;
    return 0;
}

static int expect_name(struct jparser *p, struct jstr *out) {
    if (cur(p)->type != JT_NAME) return jfail(p->c, cur(p)->line, "expected a name");
    *out = cur(p)->s;
    p->pos++;
    return 0;
}

/* for/set target: name, name.attr (with_ns), or a tuple of names. */
static int parse_target(struct jparser *p, bool with_ns, struct jnode **out) {
    const int line = cur(p)->line;
    bool paren = jp_is_op(p, "(");
    if (paren) p->pos++;
    struct jnode *tuple = NULL;
    struct jstr none = {0};
    for (;;) {
        struct jnode *n = jp_node(p, JN_NAME, cur(p)->line);
        if (!n) return p->c->err->status;
        int rc = expect_name(p, &n->name);
        if (rc) return rc;
        if (with_ns && !tuple && jp_is_op(p, ".")) {
            struct jnode *g = jp_node(p, JN_GETATTR, line);
            if (!g) return p->c->err->status;
            p->pos++;
            g->a = n;
            if ((rc = expect_name(p, &g->name))) return rc;
            *out = g;
            return 0;
        }
        if (!jp_is_op(p, ",")) {
            if (!tuple) {
                *out = n;
                break;
            }
            if ((rc = jp_push_kid(p, tuple, n, none))) return rc;
            *out = tuple;
            break;
        }
        if (!tuple && !(tuple = jp_node(p, JN_TUPLE, line))) return p->c->err->status;
        if ((rc = jp_push_kid(p, tuple, n, none))) return rc;
        p->pos++;
        if (cur(p)->type != JT_NAME) {
            *out = tuple;
            break;
        }
    }
    return paren ? jp_expect_op(p, ")") : 0;
}

static int parse_if(struct jparser *p, int line, struct jnode **out) {
    static const char *const ends[] = {"elif", "else", "endif", NULL};
    struct jnode *n = jp_node(p, JN_IF, line);
    if (!n) return p->c->err->status;
    struct jstr which;
    int rc = jp_tuple(p, true, &n->a);
    if (!rc) rc = expect_block_end(p);
    if (!rc) rc = parse_body(p, ends, &n->b, &which);
    if (rc) return rc;
    *out = n;
    if (jstr_eq(which, "elif")) return parse_if(p, cur(p)->line, &n->c);
    if (jstr_eq(which, "else")) {
        static const char *const end_only[] = {"endif", NULL};
        if ((rc = expect_block_end(p))) return rc;
        rc = parse_body(p, end_only, &n->c, &which);
    }
    return rc ? rc : expect_block_end(p);
}

static int parse_for(struct jparser *p, int line, struct jnode **out) {
    static const char *const ends[] = {"else", "endfor", NULL};
    static const char *const end_only[] = {"endfor", NULL};
    struct jnode *n = jp_node(p, JN_FOR, line);
    if (!n) return p->c->err->status;
    struct jstr which;
    int rc = parse_target(p, false, &n->a);
    if (!rc && !jp_is_name(p, "in")) rc = jfail(p->c, cur(p)->line, "expected 'in' in for loop");
    if (rc) return rc;
    p->pos++;
    if ((rc = jp_tuple(p, false, &n->b))) return rc;
    if (jp_is_name(p, "if")) {
        p->pos++;
        if ((rc = jp_expr(p, true, &n->e))) return rc;
    }
    if (jp_is_name(p, "recursive")) return jfail(p->c, cur(p)->line, "recursive for loops are not supported");
    if ((rc = expect_block_end(p))) return rc;
    p->loop_depth++;
    rc = parse_body(p, ends, &n->c, &which);
    p->loop_depth--;
    if (!rc && jstr_eq(which, "else")) {
        if ((rc = expect_block_end(p))) return rc;
        rc = parse_body(p, end_only, &n->d, &which);
    }
    *out = n;
    return rc ? rc : expect_block_end(p);
}

static int parse_set(struct jparser *p, int line, struct jnode **out) {
    static const char *const ends[] = {"endset", NULL};
    struct jnode *n = jp_node(p, JN_SET, line);
    if (!n) return p->c->err->status;
    int rc = parse_target(p, true, &n->a);
    if (rc) return rc;
    *out = n;
    if (jp_is_op(p, "=")) {
        p->pos++;
        rc = jp_tuple(p, true, &n->b);
        return rc ? rc : expect_block_end(p);
    }
    if (n->a->kind != JN_NAME && n->a->kind != JN_GETATTR) return jfail(p->c, line, "cannot block-assign to a tuple");
    n->kind = JN_SET_BLOCK;
    while (!rc && jp_is_op(p, "|")) { /* {% set x | filter %} */
        p->pos++;
        rc = jp_filter(p, n->b, &n->b);
    }
    struct jstr which;
    if (!rc) rc = expect_block_end(p);
    if (!rc) rc = parse_body(p, ends, &n->c, &which);
    return rc ? rc : expect_block_end(p);
}

static int parse_macro(struct jparser *p, int line, struct jnode **out) {
    static const char *const ends[] = {"endmacro", NULL};
    struct jnode *n = jp_node(p, JN_MACRO, line);
    if (!n) return p->c->err->status;
    int rc = expect_name(p, &n->name);
    if (!rc) rc = jp_expect_op(p, "(");
    struct jstr none = {0};
    while (!rc && !jp_is_op(p, ")")) {
        if (n->n_kids && (rc = jp_expect_op(p, ","))) break;
        struct jnode *a = jp_node(p, JN_NAME, cur(p)->line);
        if (!a) return p->c->err->status;
        if ((rc = expect_name(p, &a->name))) break;
        if (jp_is_op(p, "=")) {
            p->pos++;
            if ((rc = jp_expr(p, true, &a->a))) break;
        }
        rc = jp_push_kid(p, n, a, none);
    }
    if (!rc) rc = jp_expect_op(p, ")");
    if (!rc) rc = expect_block_end(p);
    struct jstr which;
    const int saved = p->loop_depth;
    p->loop_depth = 0;
    if (!rc) rc = parse_body(p, ends, &n->c, &which);
    p->loop_depth = saved;
    *out = n;
    return rc ? rc : expect_block_end(p);
}

static int parse_filter_block(struct jparser *p, int line, struct jnode **out) {
    static const char *const ends[] = {"endfilter", NULL};
    struct jnode *n = jp_node(p, JN_FILTER_BLOCK, line);
    if (!n) return p->c->err->status;
    int rc = jp_filter(p, NULL, &n->a);
    while (!rc && jp_is_op(p, "|")) {
        p->pos++;
        rc = jp_filter(p, n->a, &n->a);
    }
    struct jstr which;
    if (!rc) rc = expect_block_end(p);
    if (!rc) rc = parse_body(p, ends, &n->c, &which);
    *out = n;
    return rc ? rc : expect_block_end(p);
}

static int parse_with(struct jparser *p, int line, struct jnode **out) {
    static const char *const ends[] = {"endwith", NULL};
    struct jnode *n = jp_node(p, JN_WITH, line);
    if (!n) return p->c->err->status;
    int rc = 0;
    struct jstr none = {0};
    while (!rc && cur(p)->type != JT_BLOCK_END) {
        if (n->n_kids && (rc = jp_expect_op(p, ","))) break;
        struct jnode *s = jp_node(p, JN_SET, cur(p)->line);
        if (!s) return p->c->err->status;
        if ((rc = parse_target(p, false, &s->a)) || (rc = jp_expect_op(p, "=")) || (rc = jp_expr(p, true, &s->b)))
            break;
        rc = jp_push_kid(p, n, s, none);
    }
    struct jstr which;
    if (!rc) rc = expect_block_end(p);
    if (!rc) rc = parse_body(p, ends, &n->c, &which);
    *out = n;
    return rc ? rc : expect_block_end(p);
}

static int parse_statement(struct jparser *p, struct jnode **out) {
    const struct jtoken *t = cur(p);
    const int line = t->line;
    if (t->type != JT_NAME) return jfail(p->c, line, "tag name expected");
    p->pos++;
    if (++p->depth > 100) return jfail(p->c, line, "statements nested too deeply");
    int rc;
    if (jstr_eq(t->s, "if")) rc = parse_if(p, line, out);
    else if (jstr_eq(t->s, "for")) rc = parse_for(p, line, out);
    else if (jstr_eq(t->s, "set")) rc = parse_set(p, line, out);
    else if (jstr_eq(t->s, "macro")) rc = parse_macro(p, line, out);
    else if (jstr_eq(t->s, "filter")) rc = parse_filter_block(p, line, out);
    else if (jstr_eq(t->s, "with")) rc = parse_with(p, line, out);
    else if (jstr_eq(t->s, "generation")) {
        /* transformers renders the body as a call block: its own scope */
        static const char *const ends[] = {"endgeneration", NULL};
        struct jstr which;
        if (!(*out = jp_node(p, JN_WITH, line))) return p->c->err->status;
        rc = expect_block_end(p);
        if (!rc) rc = parse_body(p, ends, &(*out)->c, &which);
        if (!rc) rc = expect_block_end(p);
    } else if (jstr_eq(t->s, "break") || jstr_eq(t->s, "continue")) {
        if (!p->loop_depth) return jfail(p->c, line, "'%.*s' outside of a loop", (int)t->s.n, t->s.p);
        *out = jp_node(p, jstr_eq(t->s, "break") ? JN_BREAK : JN_CONTINUE, line);
        rc = *out ? expect_block_end(p) : p->c->err->status;
    } else {
        rc = jfail(p->c, line, "encountered unknown tag '%.*s'", (int)t->s.n, t->s.p);
    }
    p->depth--;
    return rc;
}

/* Statements until a {% name %} with name in ends (NULL: end of template).
 * Leaves the parser after that name; *which is the name found. */
static int parse_body(struct jparser *p, const char *const *ends, struct jnode **out, struct jstr *which) {
    struct jnode *body = jp_node(p, JN_BODY, cur(p)->line);
    if (!body) return p->c->err->status;
    struct jstr none = {0};
    *out = body;
    for (;;) {
        const struct jtoken *t = cur(p);
        struct jnode *n = NULL;
        int rc = 0;
        if (t->type == JT_EOF) {
            if (!ends) return 0;
        {
            size_t last = 0;
            while (ends[last + 1]) last++;
            return jfail(p->c, t->line, "unexpected end of template, expected '%s'", ends[last]);
        }
        }
        if (t->type == JT_TEXT) {
            if (!(n = jp_node(p, JN_TEXT, t->line))) return p->c->err->status;
            n->lit = jv_str(t->s.p, t->s.n);
            p->pos++;
        } else if (t->type == JT_VAR_BEGIN) {
            if (!(n = jp_node(p, JN_OUTPUT, t->line))) return p->c->err->status;
            p->pos++;
            rc = jp_tuple(p, true, &n->a);
            if (!rc && cur(p)->type != JT_VAR_END) {
                const struct jtoken *e = cur(p);
                if (e->type == JT_NAME || e->type == JT_OP)
                    return jfail(p->c, e->line, "expected end of print statement, got '%.*s'", (int)e->s.n, e->s.p);
                return jfail(p->c, e->line, "expected end of print statement");
            }
            p->pos++;
        } else if (t->type == JT_BLOCK_BEGIN) {
            const struct jtoken *name = &p->t[p->pos + 1];
            if (name->type == JT_NAME && ends)
                for (const char *const *e = ends; *e; e++)
                    if (jstr_eq(name->s, *e)) {
                        *which = name->s;
                        p->pos += 2;
                        return 0;
                    }
            if (name->type == JT_NAME && (jstr_eq(name->s, "endif") || jstr_eq(name->s, "endfor") ||
                                          jstr_eq(name->s, "elif") || jstr_eq(name->s, "else") ||
                                          jstr_eq(name->s, "endmacro") || jstr_eq(name->s, "endset")))
                return jfail(p->c, name->line, "unexpected '%.*s'", (int)name->s.n, name->s.p);
            p->pos++;
            rc = parse_statement(p, &n);
        } else {
            return jfail(p->c, t->line, "unexpected token");
        }
        if (rc || (rc = jp_push_kid(p, body, n, none))) return rc;
    }
}

int jinja_parse(struct jctx *c, const struct jtoken *t, size_t n, struct jnode **root) {
    struct jparser p = {.c = c, .t = t, .n = n};
    struct jstr which = {0};
    return parse_body(&p, NULL, root, &which);
}
