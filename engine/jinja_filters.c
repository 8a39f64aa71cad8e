/*
 * jinja_filters.c — the filter table and the scalar filters, with
 * jinja2/filters.py's definitions: trim, upper/lower/capitalize/title,
 * replace, indent, escape/e (markupsafe's five entities), safe, string,
 * int/float (with defaults), round (Python's correctly rounded round()),
 * abs, length/count, wordcount, center, default/d, tojson (transformers'
 * json.dumps override). Sequence filters live in jinja_filters_seq.c.
 */
#include "jinja.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int (*jfilter_fn)(struct jctx *c, const struct jv *in, const struct jargs *a, struct jv *out);

int jinja_filter_seq(struct jctx *c, struct jstr name, const struct jv *in, const struct jargs *a, struct jv *out,
                     bool *handled);

static int str_arg(struct jctx *c, const struct jv *in, struct jstr *out) {
    struct jv s;
    int rc = jv_to_str(c, in, &s);
    if (!rc) *out = s.u.s;
    return rc;
}

static int f_trim(struct jctx *c, const struct jv *in, const struct jargs *a, struct jv *out) {
    struct jstr s;
    const struct jv *chars = jargs_get(a, 0, "chars");
    int rc = str_arg(c, in, &s);
    if (rc) return rc;
    if (chars && chars->kind != JV_NONE && chars->kind != JV_STR) return jfail(c, 0, "trim chars must be a string");
    struct jstr r = ju_strip(s, chars && chars->kind == JV_STR ? &chars->u.s : NULL, true, true);
    *out = jv_str(r.p, r.n);
    return 0;
}

static int f_upper(struct jctx *c, const struct jv *in, const struct jargs *a, struct jv *out) {
    struct jstr s;
    (void)a;
    int rc = str_arg(c, in, &s);
    return rc ? rc : ju_map(c, s, ju_upper, out);
}

static int f_lower(struct jctx *c, const struct jv *in, const struct jargs *a, struct jv *out) {
    struct jstr s;
    (void)a;
    int rc = str_arg(c, in, &s);
    return rc ? rc : ju_map(c, s, ju_lower, out);
}

static bool title_sep(uint32_t cp) { return cp == '-' || cp == '(' || cp == '{' || cp == '[' || cp == '<' || ju_isspace(cp); }

/* capitalize: first upper, rest lower; title: the same per run of non-separators. */
static int case_words(struct jctx *c, const struct jv *in, bool title, struct jv *out) {
    struct jstr s;
    struct jbuf b = {0};
    int rc = str_arg(c, in, &s);
    bool start = true;
    for (size_t i = 0; i < s.n && !rc;) {
        uint32_t cp = ju_next(s.p, s.n, &i), m;
        if (title && title_sep(cp)) {
            m = cp;
            start = true;
        } else {
            m = start ? ju_upper(cp) : ju_lower(cp);
            start = false;
        }
        char enc[4];
        rc = jbuf_put(c, &b, enc, ju_encode(m, enc));
    }
    if (rc) return rc;
    *out = b.n ? jv_str(b.p, b.n) : jv_str("", 0);
    return 0;
}

static int f_capitalize(struct jctx *c, const struct jv *in, const struct jargs *a, struct jv *out) {
    (void)a;
    return case_words(c, in, false, out);
}

static int f_title(struct jctx *c, const struct jv *in, const struct jargs *a, struct jv *out) {
    (void)a;
    return case_words(c, in, true, out);
}

static int f_replace(struct jctx *c, const struct jv *in, const struct jargs *a, struct jv *out) {
    struct jv s, fn;
    int rc = jv_to_str(c, in, &s);
    if (rc) return rc;
    static const struct jstr name = {"replace", 7};
    if (!jinja_method_lookup(c, &s, name, &fn)) return c->err->status;
    struct jv args[3];
    struct jargs b = {0};
    for (size_t i = 0; i < 3; i++) {
        const struct jv *v = jargs_get(a, i, i == 0 ? "old" : i == 1 ? "new" : "count");
        if (!v) break;
        if (i < 2 && (rc = jv_to_str(c, v, &args[i]))) return rc;
        if (i == 2) args[i] = *v;
        b.n_pos++;
    }
    b.pos = args;
    if (b.n_pos > 2 && args[2].kind == JV_NONE) b.n_pos = 2;
    return jinja_method_call(c, fn.u.fn, &b, out);
}

static int f_indent(struct jctx *c, const struct jv *in, const struct jargs *a, struct jv *out) {
    const struct jv *w = jargs_get(a, 0, "width"), *first = jargs_get(a, 1, "first"), *blank = jargs_get(a, 2, "blank");
    struct jbuf ind = {0}, b = {0};
    struct jstr s;
    int rc = str_arg(c, in, &s);
    if (rc) return rc;
    if (w && w->kind == JV_STR) rc = jbuf_put(c, &ind, w->u.s.p, w->u.s.n);
    else {
        int64_t n = w ? (jv_is_intlike(w) ? jv_as_i64(w) : -1) : 4;
        if (n < 0 || n > 4096) return jfail(c, 0, "indent width must be a small non-negative integer or a string");
        for (int64_t i = 0; i < n && !rc; i++) rc = jbuf_put(c, &ind, " ", 1);
    }
    struct jbuf withnl = {0};
    struct jlist *lines;
    if (!rc) rc = jbuf_put(c, &withnl, s.p, s.n);
    if (!rc) rc = jbuf_put(c, &withnl, "\n", 1); /* as Jinja does before splitlines() */
    if (rc) return rc;
    struct jstr all = {withnl.p, withnl.n};
    if ((rc = ju_splitlines(c, all, &lines))) return rc;
    if (first && jv_truthy(first)) rc = jbuf_put(c, &b, ind.p ? ind.p : "", ind.n);
    for (size_t i = 0; i < lines->n && !rc; i++) {
        const struct jstr line = lines->v[i].u.s;
        if (i) rc = jbuf_put(c, &b, "\n", 1);
        if (!rc && i && (line.n || (blank && jv_truthy(blank)))) rc = jbuf_put(c, &b, ind.p ? ind.p : "", ind.n);
        if (!rc) rc = jbuf_put(c, &b, line.p, line.n);
    }
    if (rc) return rc;
    *out = b.n ? jv_str(b.p, b.n) : jv_str("", 0);
    return 0;
}

static int f_escape(struct jctx *c, const struct jv *in, const struct jargs *a, struct jv *out) {
    struct jstr s;
    struct jbuf b = {0};
    (void)a;
    int rc = str_arg(c, in, &s);
    for (size_t i = 0; i < s.n && !rc; i++) {
        const char *e = s.p[i] == '&' ? "&amp;" : s.p[i] == '<' ? "&lt;" : s.p[i] == '>' ? "&gt;"
                      : s.p[i] == '\'' ? "&#39;" : s.p[i] == '"' ? "&#34;" : NULL;
        rc = e ? jbuf_puts(c, &b, e) : jbuf_put(c, &b, s.p + i, 1);
    }
    if (rc) return rc;
    *out = b.n ? jv_str(b.p, b.n) : jv_str("", 0);
    return 0;
}

static int f_safe(struct jctx *c, const struct jv *in, const struct jargs *a, struct jv *out) {
    (void)c;
    (void)a;
    *out = *in;
    return 0;
}

static int f_string(struct jctx *c, const struct jv *in, const struct jargs *a, struct jv *out) {
    (void)a;
    return jv_to_str(c, in, out);
}

/* Python float(str) / int(str) on a stripped copy; false when it does not parse. */
static bool parse_num(struct jctx *c, struct jstr s, bool want_int, int64_t *i, double *f) {
    struct jstr t = ju_strip(s, NULL, true, true);
    char *buf = jalloc(c, t.n + 1), *end;
    if (!buf || !t.n) return false;
    size_t k = 0;
    for (size_t j = 0; j < t.n; j++)
        if (t.p[j] != '_') buf[k++] = t.p[j];
    buf[k] = '\0';
    errno = 0;
    if (want_int) {
        long long v = strtoll(buf, &end, 10);
        if (*end == '\0' && errno == 0 && (buf[0] == '-' || buf[0] == '+' || (buf[0] >= '0' && buf[0] <= '9'))) {
            *i = v;
            return true;
        }
        return false;
    }
    *f = strtod(buf, &end);
    return *end == '\0' && !(buf[0] == '0' && (buf[1] == 'x' || buf[1] == 'X'));
}

static int f_int(struct jctx *c, const struct jv *in, const struct jargs *a, struct jv *out) {
    const struct jv *dflt = jargs_get(a, 0, "default");
    int64_t i;
    double f;
    if (jv_is_intlike(in)) {
        *out = jv_int(jv_as_i64(in));
        return 0;
    }
    if (in->kind == JV_FLOAT && isfinite(in->u.f) && fabs(in->u.f) < 9.2e18) {
        *out = jv_int((int64_t)in->u.f);
        return 0;
    }
    if (in->kind == JV_STR) {
        if (parse_num(c, in->u.s, true, &i, &f)) {
            *out = jv_int(i);
            return 0;
        }
        if (parse_num(c, in->u.s, false, &i, &f) && isfinite(f) && fabs(f) < 9.2e18) {
            *out = jv_int((int64_t)f);
            return 0;
        }
    }
    *out = dflt ? *dflt : jv_int(0);
    return 0;
}

static int f_float(struct jctx *c, const struct jv *in, const struct jargs *a, struct jv *out) {
    const struct jv *dflt = jargs_get(a, 0, "default");
    int64_t i;
    double f;
    if (jv_is_num(in)) {
        *out = jv_float(jv_as_f64(in));
        return 0;
    }
    if (in->kind == JV_STR && parse_num(c, in->u.s, false, &i, &f)) {
        *out = jv_float(f);
        return 0;
    }
    *out = dflt ? *dflt : jv_float(0.0);
    return 0;
}

static int f_round(struct jctx *c, const struct jv *in, const struct jargs *a, struct jv *out) {
    const struct jv *prec = jargs_get(a, 0, "precision"), *method = jargs_get(a, 1, "method");
    int64_t p = prec && jv_is_intlike(prec) ? jv_as_i64(prec) : 0;
    if (!jv_is_num(in)) return jfail(c, 0, "round() needs a number, got %s", jv_type_name(in));
    if (p < -300 || p > 300) return jfail(c, 0, "round precision out of range");
    const bool common = !method || (method->kind == JV_STR && jstr_eq(method->u.s, "common"));
    if (common && jv_is_intlike(in) && p >= 0) {
        *out = jv_int(jv_as_i64(in));
        return 0;
    }
    double x = jv_as_f64(in), r;
    if (common && p >= 0 && isfinite(x)) {
        char buf[400];
        snprintf(buf, sizeof(buf), "%.*f", (int)p, x);
        r = strtod(buf, NULL);
    } else {
        double scale = pow(10.0, (double)p);
        if (common) r = nearbyint(x * scale) / scale;
        else if (method->kind == JV_STR && jstr_eq(method->u.s, "ceil")) r = ceil(x * scale) / scale;
        else if (method->kind == JV_STR && jstr_eq(method->u.s, "floor")) r = floor(x * scale) / scale;
        else return jfail(c, 0, "method must be common, ceil or floor");
    }
    *out = jv_float(r);
    return 0;
}

static int f_abs(struct jctx *c, const struct jv *in, const struct jargs *a, struct jv *out) {
    (void)a;
    if (in->kind == JV_FLOAT) *out = jv_float(fabs(in->u.f));
    else if (jv_is_intlike(in) && jv_as_i64(in) != INT64_MIN) *out = jv_int(llabs(jv_as_i64(in)));
    else return jfail(c, 0, "bad operand type for abs(): '%s'", jv_type_name(in));
    return 0;
}

static int f_length(struct jctx *c, const struct jv *in, const struct jargs *a, struct jv *out) {
    (void)a;
    int64_t n = jv_len(in);
    if (n < 0) return jfail(c, 0, "object of type '%s' has no len()", jv_type_name(in));
    *out = jv_int(n);
    return 0;
}

static int f_wordcount(struct jctx *c, const struct jv *in, const struct jargs *a, struct jv *out) {
    struct jstr s;
    (void)a;
    int rc = str_arg(c, in, &s);
    if (rc) return rc;
    int64_t n = 0;
    bool in_word = false;
    for (size_t i = 0; i < s.n;) {
        uint32_t cp = ju_next(s.p, s.n, &i);
        bool w = cp == '_' || cp - '0' < 10u || ju_isalpha(cp);
        n += w && !in_word;
        in_word = w;
    }
    *out = jv_int(n);
    return 0;
}

static int f_center(struct jctx *c, const struct jv *in, const struct jargs *a, struct jv *out) {
    const struct jv *w = jargs_get(a, 0, "width");
    struct jstr s;
    struct jbuf b = {0};
    int rc = str_arg(c, in, &s);
    if (rc) return rc;
    int64_t width = w && jv_is_intlike(w) ? jv_as_i64(w) : 80, len = (int64_t)ju_count(s.p, s.n);
    if (width > 1 << 20) return jfail(c, 0, "center width too large");
    int64_t pad = width > len ? width - len : 0, left = pad / 2 + (pad & width & 1);
    for (int64_t i = 0; i < left && !rc; i++) rc = jbuf_put(c, &b, " ", 1);
    if (!rc) rc = jbuf_put(c, &b, s.p, s.n);
    for (int64_t i = 0; i < pad - left && !rc; i++) rc = jbuf_put(c, &b, " ", 1);
    if (rc) return rc;
    *out = b.n ? jv_str(b.p, b.n) : jv_str("", 0);
    return 0;
}

static int f_default(struct jctx *c, const struct jv *in, const struct jargs *a, struct jv *out) {
    const struct jv *d = jargs_get(a, 0, "default_value"), *boolean = jargs_get(a, 1, "boolean");
    (void)c;
    if (in->kind == JV_UNDEF || (boolean && jv_truthy(boolean) && !jv_truthy(in))) *out = d ? *d : jv_str("", 0);
    else *out = *in;
    return 0;
}

static int f_tojson(struct jctx *c, const struct jv *in, const struct jargs *a, struct jv *out) {
    const struct jv *ea = jargs_get(a, 0, "ensure_ascii"), *ind = jargs_get(a, 1, "indent"),
                    *seps = jargs_get(a, 2, "separators"), *sk = jargs_get(a, 3, "sort_keys");
    struct jjson_opts o = {.indent = -1, .ensure_ascii = ea && jv_truthy(ea), .sort_keys = sk && jv_truthy(sk)};
    if (ind && ind->kind != JV_NONE) {
        if (!jv_is_intlike(ind) || jv_as_i64(ind) > 1024) return jfail(c, 0, "tojson indent must be a small integer");
        o.indent = jv_as_i64(ind) < 0 ? 0 : (int)jv_as_i64(ind);
    }
    o.item_sep.p = o.indent >= 0 ? "," : ", ";
    o.item_sep.n = o.indent >= 0 ? 1 : 2;
    o.key_sep.p = ": ";
    o.key_sep.n = 2;
    if (seps && seps->kind != JV_NONE) {
        if (seps->kind != JV_LIST || seps->u.l->n != 2 || seps->u.l->v[0].kind != JV_STR ||
            seps->u.l->v[1].kind != JV_STR)
            return jfail(c, 0, "tojson separators must be a pair of strings");
        o.item_sep = seps->u.l->v[0].u.s;
        o.key_sep = seps->u.l->v[1].u.s;
    }
    struct jbuf b = {0};
    int rc = jinja_tojson(c, in, &o, &b);
    if (rc) return rc;
    *out = b.n ? jv_str(b.p, b.n) : jv_str("", 0);
    return 0;
}

static const struct {
    const char *name;
    jfilter_fn  fn;
} filters[] = {
    {"trim", f_trim},       {"upper", f_upper},         {"lower", f_lower},   {"capitalize", f_capitalize},
    {"title", f_title},     {"replace", f_replace},     {"indent", f_indent}, {"escape", f_escape},
    {"e", f_escape},        {"forceescape", f_escape},  {"safe", f_safe},     {"string", f_string},
    {"int", f_int},         {"float", f_float},         {"round", f_round},   {"abs", f_abs},
    {"length", f_length},   {"count", f_length},        {"wordcount", f_wordcount}, {"center", f_center},
    {"default", f_default}, {"d", f_default},           {"tojson", f_tojson},
};

int jinja_filter(struct jctx *c, struct jstr name, const struct jv *in, const struct jargs *a, struct jv *out) {
    for (size_t i = 0; i < sizeof(filters) / sizeof(filters[0]); i++)
        if (jstr_eq(name, filters[i].name)) return filters[i].fn(c, in, a, out);
    bool handled = false;
    int rc = jinja_filter_seq(c, name, in, a, out, &handled);
    if (handled) return rc;
    return jfail(c, 0, "no filter named '%.*s'", (int)name.n, name.p);
}
