/*
 * jinja.h — the Jinja2-subset interpreter behind nib_chat_template_apply.
 *
 * Purpose: render a chat template exactly as Hugging Face's
 * apply_chat_template renders it with Jinja2: an ImmutableSandboxedEnvironment
 * with trim_blocks, lstrip_blocks, keep_trailing_newline off, the loopcontrols
 * extension, a `tojson` filter that is json.dumps(ensure_ascii=False), and the
 * globals raise_exception and strftime_now. Values follow Python: ints and
 * floats apart (`/` gives a float, floats print as repr), None/True/False,
 * str() and repr() of lists and dicts, Jinja's default Undefined (prints as
 * "", is falsy and iterates as empty; any attribute, item or call on it fails).
 *
 * Pipeline: jinja_lex.c (source -> tokens, whitespace control applied),
 * jinja_parse*.c (tokens -> AST), jinja_eval.c / jinja_exec.c (AST -> text),
 * with values in jinja_value.c, operators in jinja_ops.c, filters and tests
 * in jinja_filters.c / jinja_tests.c, methods of str/dict/list in
 * jinja_methods.c, tojson in jinja_json.c and UTF-8 helpers in jinja_utf8.c.
 *
 * Ownership: everything one render allocates (tokens, AST, values, output)
 * comes from the arena in struct jctx and is released at once by
 * jctx_free; nothing is reference counted. Every render is capped: arena
 * bytes, output bytes, evaluation steps and call depth, so a hostile template
 * ends with an error rather than exhausting the process. Not thread-safe per
 * context; separate renders share nothing.
 */
#ifndef NIB_JINJA_H
#define NIB_JINJA_H

#include "arena.h"
#include "error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JINJA_MAX_ARENA  ((size_t)256 << 20) /* bytes of values, AST and text */
#define JINJA_MAX_OUTPUT ((size_t)64 << 20)  /* bytes of any one rendered string */
#define JINJA_MAX_STEPS  ((uint64_t)20000000) /* evaluations, statements and loop iterations */
#define JINJA_MAX_DEPTH  400                 /* nested macro calls and expressions */

/* Control flow out of a statement (non-negative; errors are negative). */
enum { JFLOW_NONE = 0, JFLOW_BREAK = 1, JFLOW_CONTINUE = 2 };

struct jctx {
    struct nib_arena arena;
    size_t           arena_used;
    uint64_t         steps;
    int              depth;
    int              line;     /* line being evaluated, for messages */
    struct nib_error *err;
};

/* Returns NIB_E_FORMAT with "line N: <message>" in c->err. */
int jfail(struct jctx *c, int line, const char *fmt, ...) NIB_PRINTF(3, 4);
/* Zeroed arena memory, counted against JINJA_MAX_ARENA; NULL (error set) when over. */
void *jalloc(struct jctx *c, size_t n);
void  jctx_free(struct jctx *c);

/* ------------------------------------------------------------------ values */

struct jstr {
    const char *p; /* not NUL-terminated in general */
    size_t      n;
};

enum jv_kind { JV_UNDEF, JV_NONE, JV_BOOL, JV_INT, JV_FLOAT, JV_STR, JV_LIST, JV_DICT, JV_FUNC, JV_LOOP };
enum { JV_TUPLE = 1 /* JV_LIST flag */, JV_NAMESPACE = 1 /* JV_DICT flag */ };

struct jlist;
struct jdict;
struct jfunc;
struct jloop;

struct jv {
    uint8_t kind;
    uint8_t flag;
    union {
        bool          b;
        int64_t       i;
        double        f;
        struct jstr   s; /* JV_STR text; JV_UNDEF: the hint printed when it is used */
        struct jlist *l;
        struct jdict *d;
        struct jfunc *fn;
        struct jloop *loop;
    } u;
};

struct jlist {
    size_t     n, cap;
    struct jv *v;
};

/* Insertion-ordered, linear lookup (dicts in chat templates are small). */
struct jdict {
    size_t     n, cap;
    struct jv *k, *v;
};

enum jfunc_kind { JF_BUILTIN, JF_METHOD, JF_MACRO };

struct jnode;
struct jscope;

struct jfunc {
    uint8_t              kind;
    int                  id;      /* JF_BUILTIN: enum jbuiltin; JF_METHOD: method id */
    struct jstr          name;
    struct jv            self;    /* JF_METHOD receiver */
    const struct jnode  *macro;   /* JF_MACRO definition */
    struct jscope       *closure; /* JF_MACRO: scope it was defined in */
};

/* The `loop` variable of a for statement. */
struct jloop {
    const struct jlist *items;
    size_t              index0;
};

struct jbuf {
    char  *p;
    size_t n, cap;
};

static inline struct jv jv_undef_plain(void) { struct jv v = {0}; v.kind = JV_UNDEF; return v; }
static inline struct jv jv_none(void) { struct jv v = {0}; v.kind = JV_NONE; return v; }
static inline struct jv jv_bool(bool b) { struct jv v = {0}; v.kind = JV_BOOL; v.u.b = b; return v; }
static inline struct jv jv_int(int64_t i) { struct jv v = {0}; v.kind = JV_INT; v.u.i = i; return v; }
static inline struct jv jv_float(double f) { struct jv v = {0}; v.kind = JV_FLOAT; v.u.f = f; return v; }
static inline struct jv jv_str(const char *p, size_t n) {
    struct jv v = {0};
    v.kind = JV_STR;
    v.u.s.p = p;
    v.u.s.n = n;
    return v;
}
static inline bool jv_is_num(const struct jv *v) { return v->kind == JV_INT || v->kind == JV_FLOAT || v->kind == JV_BOOL; }
static inline bool jv_is_intlike(const struct jv *v) { return v->kind == JV_INT || v->kind == JV_BOOL; }
static inline int64_t jv_as_i64(const struct jv *v) { return v->kind == JV_BOOL ? (int64_t)v->u.b : v->u.i; }
static inline double jv_as_f64(const struct jv *v) {
    return v->kind == JV_FLOAT ? v->u.f : (double)jv_as_i64(v);
}
static inline bool jstr_eq(struct jstr a, const char *b) {
    size_t i = 0;
    for (; i < a.n; i++)
        if (b[i] != a.p[i] || !b[i]) return false;
    return b[i] == '\0';
}

/* An Undefined carrying the message Jinja gives when it is used. */
struct jv jv_undef(struct jctx *c, const char *fmt, ...) NIB_PRINTF(2, 3);
/* Copies s[0..n) into the arena. */
int jv_str_copy(struct jctx *c, const char *s, size_t n, struct jv *out);

struct jlist *jlist_new(struct jctx *c, size_t cap);
int           jlist_push(struct jctx *c, struct jlist *l, struct jv v);
struct jv     jv_list(struct jlist *l, bool tuple);
struct jdict *jdict_new(struct jctx *c, size_t cap);
/* Lookup by Python equality of keys; NULL when absent. */
struct jv    *jdict_get(const struct jdict *d, const struct jv *key);
struct jv    *jdict_get_str(const struct jdict *d, const char *key);
int           jdict_set(struct jctx *c, struct jdict *d, struct jv key, struct jv v);
struct jv     jv_dict(struct jdict *d, bool ns);

bool        jv_truthy(const struct jv *v);
bool        jv_eq(const struct jv *a, const struct jv *b);
/* *res = -1, 0, 1 for Python's <, ==, >; error when Python raises TypeError. */
int         jv_cmp(struct jctx *c, const struct jv *a, const struct jv *b, int *res);
const char *jv_type_name(const struct jv *v); /* "str", "dict", ... as Python names them */
/* Python len(); -1 when the value has no length. */
int64_t     jv_len(const struct jv *v);

int  jbuf_put(struct jctx *c, struct jbuf *b, const char *s, size_t n);
int  jbuf_puts(struct jctx *c, struct jbuf *b, const char *s);
/* Python str(v) and repr(v) appended to b. */
int  jv_write_str(struct jctx *c, const struct jv *v, struct jbuf *b);
int  jv_write_repr(struct jctx *c, const struct jv *v, struct jbuf *b);
/* str(v) as a string value (no copy when v is already a string). */
int  jv_to_str(struct jctx *c, const struct jv *v, struct jv *out);
/* Python repr() of a float into buf (at least 32 bytes). */
void jv_fmt_float(double d, char *buf);

/* Iteration as Python's iter(): list items, dict keys, string characters,
 * nothing for Undefined; error for other values. *out is a fresh or shared list. */
int jv_iterate(struct jctx *c, const struct jv *v, const struct jlist **out);

/* --------------------------------------------------------------- UTF-8 */

/* Decodes one code point at s[*i] (invalid bytes decode as themselves) and advances *i. */
uint32_t ju_next(const char *s, size_t n, size_t *i);
size_t   ju_encode(uint32_t cp, char *out); /* 1..4 bytes */
bool     ju_isspace(uint32_t cp);           /* Python str.isspace() */
size_t   ju_count(const char *s, size_t n); /* code points */
/* Python str.strip/lstrip/rstrip; chars NULL strips whitespace. */
struct jstr ju_strip(struct jstr s, const struct jstr *chars, bool left, bool right);
uint32_t ju_upper(uint32_t cp);
uint32_t ju_lower(uint32_t cp);
bool     ju_isalpha(uint32_t cp);
/* Maps each code point of s through f into a new arena string. */
int ju_map(struct jctx *c, struct jstr s, uint32_t (*f)(uint32_t), struct jv *out);
/* Byte offsets of the code points of s (n_cp + 1 entries, last = s.n). */
int ju_offsets(struct jctx *c, struct jstr s, size_t **off, size_t *n_cp);
/* Python str.splitlines() (no keepends) into a list of strings. */
int ju_splitlines(struct jctx *c, struct jstr s, struct jlist **out);

/* ----------------------------------------------------------------- lexer */

enum jtok_type {
    JT_TEXT, JT_VAR_BEGIN, JT_VAR_END, JT_BLOCK_BEGIN, JT_BLOCK_END,
    JT_NAME, JT_STRING, JT_INT, JT_FLOAT, JT_OP, JT_EOF
};

struct jtoken {
    uint8_t     type;
    int         line;
    struct jstr s;  /* text, name, decoded string or the operator */
    int64_t     i;
    double      f;
};

/* Tokenizes src (newlines normalized to \n, one trailing newline dropped,
 * trim_blocks/lstrip_blocks and -/+ whitespace control applied). */
int jinja_lex(struct jctx *c, const char *src, size_t n, struct jtoken **toks, size_t *n_toks);

/* ------------------------------------------------------------------- AST */

enum jnode_kind {
    /* expressions */
    JN_LIT, JN_NAME, JN_LIST, JN_TUPLE, JN_DICT, JN_GETATTR, JN_GETITEM, JN_SLICE, JN_CALL,
    JN_FILTER, JN_TEST, JN_NOT, JN_NEG, JN_POS, JN_BINOP, JN_AND, JN_OR, JN_CMP, JN_COND,
    /* statements */
    JN_BODY, JN_TEXT, JN_OUTPUT, JN_IF, JN_FOR, JN_SET, JN_SET_BLOCK, JN_MACRO, JN_FILTER_BLOCK,
    JN_WITH, JN_BREAK, JN_CONTINUE
};

/* JN_BINOP / JN_CMP operators. */
enum jop {
    JOP_ADD, JOP_SUB, JOP_MUL, JOP_DIV, JOP_FLOORDIV, JOP_MOD, JOP_POW, JOP_CONCAT,
    JOP_EQ, JOP_NE, JOP_LT, JOP_LE, JOP_GT, JOP_GE, JOP_IN, JOP_NOTIN
};

/*
 * One node; which fields mean what, by kind:
 *   LIT lit | NAME name | LIST/TUPLE kids | DICT kids = k0,v0,k1,v1...
 *   GETATTR a.name | GETITEM a[b] | SLICE a[b:c:d] (NULL parts omitted)
 *   CALL a(kids; kw[i].n != 0 names a keyword argument) | FILTER a|name(kids, kw)
 *   (a NULL in a filter block) | TEST a is [not: op] name(kids)
 *   NOT/NEG/POS a | BINOP a op b | AND/OR a, b | CMP kids[0] ops[0] kids[1] ...
 *   COND b if a else c (c NULL: Undefined)
 *   BODY kids | TEXT lit | OUTPUT a | IF a then b else c (c: BODY or IF)
 *   FOR a (NAME or TUPLE of NAMEs) in b [if e]: c else d | SET a = b
 *   SET_BLOCK a = body c | MACRO name(kids: NAMEs, default in kid->a) body c
 *   FILTER_BLOCK a (FILTER chain applied to the body) body c
 *   WITH kids (SETs) body c
 */
struct jnode {
    uint8_t       kind;
    uint8_t       op;
    int           line;
    struct jv     lit;
    struct jstr   name;
    struct jnode *a, *b, *c, *d, *e;
    struct jnode **kids;
    struct jstr  *kw;
    uint8_t      *ops;
    size_t        n_kids;
};

/* Parses the token stream into a JN_BODY. */
int jinja_parse(struct jctx *c, const struct jtoken *t, size_t n, struct jnode **root);

/* Internal parser state shared by jinja_parse.c and jinja_parse_expr.c. */
struct jparser {
    struct jctx         *c;
    const struct jtoken *t;
    size_t               n, pos;
    int                  loop_depth;
    int                  depth;
};
struct jnode *jp_node(struct jparser *p, int kind, int line);
int jp_push_kid(struct jparser *p, struct jnode *n, struct jnode *kid, struct jstr kw);
int jp_expr(struct jparser *p, bool with_condexpr, struct jnode **out);
/* An expression or a bare tuple `a, b` (as in {{ }}, set and for). */
int jp_tuple(struct jparser *p, bool with_condexpr, struct jnode **out);
int jp_filter(struct jparser *p, struct jnode *input, struct jnode **out);
bool jp_is_op(const struct jparser *p, const char *op);
bool jp_is_name(const struct jparser *p, const char *name);
int  jp_expect_op(struct jparser *p, const char *op);

/* ------------------------------------------------------------- evaluation */

struct jscope {
    struct jscope *parent;
    struct jdict  *vars;
};

struct jscope *jscope_new(struct jctx *c, struct jscope *parent);
struct jv     *jscope_find(struct jscope *s, struct jstr name);
int            jscope_set(struct jctx *c, struct jscope *s, struct jstr name, struct jv v);

int jinja_eval(struct jctx *c, struct jscope *s, const struct jnode *e, struct jv *out);
/* Runs statement list `body` appending to out; returns JFLOW_* or an error. */
int jinja_exec(struct jctx *c, struct jscope *s, const struct jnode *body, struct jbuf *out);

/* Arguments of a call, filter or test (positional first, then keywords). */
struct jargs {
    size_t             n_pos, n_kw;
    struct jv         *pos;
    const struct jstr *kw_names;
    struct jv         *kw;
};
/* The argument at position idx or named name; NULL when not given. */
const struct jv *jargs_get(const struct jargs *a, size_t idx, const char *name);
int jinja_call(struct jctx *c, const struct jv *fn, const struct jargs *a, struct jv *out);

/* Attribute (a.name) and item (a[key]) access with Jinja's fallbacks. */
int jinja_getattr(struct jctx *c, const struct jv *obj, struct jstr name, struct jv *out);
int jinja_getitem(struct jctx *c, const struct jv *obj, const struct jv *key, struct jv *out);
int jinja_slice(struct jctx *c, const struct jv *obj, const struct jv *start, const struct jv *stop,
                const struct jv *step, struct jv *out);

int jinja_binop(struct jctx *c, int op, const struct jv *a, const struct jv *b, struct jv *out);
int jinja_compare(struct jctx *c, int op, const struct jv *a, const struct jv *b, bool *out);

int jinja_filter(struct jctx *c, struct jstr name, const struct jv *in, const struct jargs *a, struct jv *out);
int jinja_test(struct jctx *c, struct jstr name, const struct jv *in, const struct jargs *a, bool *out);
bool jinja_has_test(struct jstr name);

/* Bound method of a str/dict/list (JF_METHOD); false when there is none. */
bool jinja_method_lookup(struct jctx *c, const struct jv *self, struct jstr name, struct jv *out);
int  jinja_method_call(struct jctx *c, const struct jfunc *fn, const struct jargs *a, struct jv *out);
/* Attribute of the loop variable. */
int  jinja_loop_attr(struct jctx *c, const struct jv *loop, struct jstr name, struct jv *out);

/* json.dumps(v, ensure_ascii, indent (< 0: none), separators, sort_keys). */
struct jjson_opts {
    int         indent;     /* < 0: single line */
    bool        ensure_ascii;
    bool        sort_keys;
    struct jstr item_sep, key_sep;
};
int jinja_tojson(struct jctx *c, const struct jv *v, const struct jjson_opts *o, struct jbuf *out);

/* Built-in global functions. */
enum jbuiltin { JB_RANGE, JB_NAMESPACE, JB_DICT, JB_RAISE, JB_STRFTIME, JB_CYCLE };
int jinja_builtin_call(struct jctx *c, const struct jfunc *fn, const struct jargs *a, struct jv *out);
struct jv jinja_builtin(struct jctx *c, int id, const char *name);

/* Renders src with the variables in globals; *out is arena text. */
int jinja_render(struct jctx *c, const char *src, size_t n, struct jdict *globals, struct jstr *out);

#endif
