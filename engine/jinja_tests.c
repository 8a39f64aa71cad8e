/*
 * jinja_tests.c — `x is name(args)` tests with Jinja2's definitions
 * (jinja2/tests.py): defined/undefined, none, boolean/true/false, integer
 * (not bool), float, number (bool included), string, mapping, iterable,
 * sequence, callable, even/odd/divisibleby, sameas, lower/upper,
 * eq/ne/lt/le/gt/ge and their aliases, in.
 */
#include "jinja.h"

#include <string.h>

enum {
    T_DEFINED, T_UNDEFINED, T_NONE, T_BOOLEAN, T_TRUE, T_FALSE, T_INTEGER, T_FLOAT, T_NUMBER, T_STRING,
    T_MAPPING, T_ITERABLE, T_SEQUENCE, T_CALLABLE, T_EVEN, T_ODD, T_DIVISIBLEBY, T_SAMEAS, T_LOWER, T_UPPER,
    T_EQ, T_NE, T_LT, T_LE, T_GT, T_GE, T_IN
};

static const struct {
    const char *name;
    int         id;
} tests[] = {
    {"defined", T_DEFINED},   {"undefined", T_UNDEFINED}, {"none", T_NONE},       {"boolean", T_BOOLEAN},
    {"true", T_TRUE},         {"false", T_FALSE},         {"integer", T_INTEGER}, {"float", T_FLOAT},
    {"number", T_NUMBER},     {"string", T_STRING},       {"mapping", T_MAPPING}, {"iterable", T_ITERABLE},
    {"sequence", T_SEQUENCE}, {"callable", T_CALLABLE},   {"even", T_EVEN},       {"odd", T_ODD},
    {"divisibleby", T_DIVISIBLEBY}, {"sameas", T_SAMEAS}, {"lower", T_LOWER},     {"upper", T_UPPER},
    {"eq", T_EQ},             {"equalto", T_EQ},          {"==", T_EQ},           {"ne", T_NE},
    {"!=", T_NE},             {"lt", T_LT},               {"lessthan", T_LT},     {"<", T_LT},
    {"le", T_LE},             {"<=", T_LE},               {"gt", T_GT},           {"greaterthan", T_GT},
    {">", T_GT},              {"ge", T_GE},               {">=", T_GE},           {"in", T_IN},
};

static int find_test(struct jstr name) {
    for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
        if (jstr_eq(name, tests[i].name)) return tests[i].id;
    return -1;
}

bool jinja_has_test(struct jstr name) { return find_test(name) >= 0; }

static int int_mod(struct jctx *c, const struct jv *v, const struct jv *d, int64_t *out) {
    struct jv r;
    int rc = jinja_binop(c, JOP_MOD, v, d, &r);
    if (rc) return rc;
    *out = r.kind == JV_FLOAT ? (r.u.f != 0) : jv_as_i64(&r);
    return 0;
}

static bool case_is(const struct jv *v, bool upper) {
    if (v->kind != JV_STR) return false;
    bool any = false;
    for (size_t i = 0; i < v->u.s.n;) {
        uint32_t cp = ju_next(v->u.s.p, v->u.s.n, &i);
        bool cased = ju_upper(cp) != cp || ju_lower(cp) != cp;
        if (cased && (upper ? ju_lower(cp) == cp : ju_upper(cp) == cp)) return false;
        any |= cased;
    }
    return any;
}

int jinja_test(struct jctx *c, struct jstr name, const struct jv *v, const struct jargs *a, bool *out) {
    const int id = find_test(name);
    if (id < 0) return jfail(c, 0, "no test named '%.*s'", (int)name.n, name.p);
    const struct jv *arg = jargs_get(a, 0, NULL);
    if (id >= T_DIVISIBLEBY && id != T_LOWER && id != T_UPPER && !arg)
        return jfail(c, 0, "test '%.*s' needs an argument", (int)name.n, name.p);
    int64_t m;
    int rc = 0;
    switch (id) {
    case T_DEFINED:   *out = v->kind != JV_UNDEF; break;
    case T_UNDEFINED: *out = v->kind == JV_UNDEF; break;
    case T_NONE:      *out = v->kind == JV_NONE; break;
    case T_BOOLEAN:   *out = v->kind == JV_BOOL; break;
    case T_TRUE:      *out = v->kind == JV_BOOL && v->u.b; break;
    case T_FALSE:     *out = v->kind == JV_BOOL && !v->u.b; break;
    case T_INTEGER:   *out = v->kind == JV_INT; break;
    case T_FLOAT:     *out = v->kind == JV_FLOAT; break;
    case T_NUMBER:    *out = jv_is_num(v); break;
    case T_STRING:    *out = v->kind == JV_STR; break;
    case T_MAPPING:   *out = v->kind == JV_DICT && v->flag != JV_NAMESPACE; break;
    case T_ITERABLE:
        *out = v->kind == JV_UNDEF || v->kind == JV_STR || v->kind == JV_LIST || v->kind == JV_LOOP ||
               (v->kind == JV_DICT && v->flag != JV_NAMESPACE);
        break;
    case T_SEQUENCE:
        *out = v->kind == JV_STR || v->kind == JV_LIST || (v->kind == JV_DICT && v->flag != JV_NAMESPACE);
        break;
    case T_CALLABLE: *out = v->kind == JV_FUNC; break;
    case T_EVEN:
    case T_ODD: {
        const struct jv two = jv_int(2);
        if ((rc = int_mod(c, v, &two, &m))) return rc;
        *out = id == T_EVEN ? m == 0 : m != 0;
        break;
    }
    case T_DIVISIBLEBY:
        if ((rc = int_mod(c, v, arg, &m))) return rc;
        *out = m == 0;
        break;
    case T_SAMEAS:
        *out = v->kind == arg->kind && (v->kind == JV_NONE || v->kind == JV_UNDEF ||
                                        (v->kind == JV_BOOL && v->u.b == arg->u.b) ||
                                        (v->kind == JV_LIST && v->u.l == arg->u.l) ||
                                        (v->kind == JV_DICT && v->u.d == arg->u.d));
        break;
    case T_LOWER: *out = case_is(v, false); break;
    case T_UPPER: *out = case_is(v, true); break;
    case T_EQ:    rc = jinja_compare(c, JOP_EQ, v, arg, out); break;
    case T_NE:    rc = jinja_compare(c, JOP_NE, v, arg, out); break;
    case T_LT:    rc = jinja_compare(c, JOP_LT, v, arg, out); break;
    case T_LE:    rc = jinja_compare(c, JOP_LE, v, arg, out); break;
    case T_GT:    rc = jinja_compare(c, JOP_GT, v, arg, out); break;
    case T_GE:    rc = jinja_compare(c, JOP_GE, v, arg, out); break;
    default:      rc = jinja_compare(c, JOP_IN, v, arg, out); break;
    }
    return rc;
}
