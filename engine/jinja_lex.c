/*
 * jinja_lex.c — template source to tokens, following jinja2/lexer.py with
 * trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False.
 *
 * Whitespace rules reproduced from Jinja2:
 *  - newlines (\r\n, \r, \n) are normalized to \n and one trailing newline
 *    of the template is dropped;
 *  - `{%-`, `{{-`, `{#-` strip all whitespace before the tag; `-%}`, `-}}`,
 *    `-#}` strip all whitespace after it;
 *  - trim_blocks: `%}` and `#}` swallow one directly following \n (`+%}`
 *    keeps it);
 *  - lstrip_blocks: spaces before `{%` / `{#` are dropped when only
 *    whitespace separates the tag from the start of its line (`{%+` keeps
 *    them); "start of line" for text with no newline means the previous tag
 *    ended with a newline, or the template starts there;
 *  - `{% raw %}...{% endraw %}` passes its contents through as text;
 *  - `%}` / `}}` end a tag only outside brackets, so dict literals work.
 */
#include "jinja.h"

#include <stdlib.h>
#include <string.h>

struct lexer {
    struct jctx   *c;
    const char    *s;
    size_t         n, pos;
    int            line;  /* line at pos */
    bool           line_starting;
    struct jtoken *t;
    size_t         n_t, cap_t;
};

static void advance(struct lexer *L, size_t to) {
    for (size_t i = L->pos; i < to; i++) L->line += L->s[i] == '\n';
    L->pos = to;
}

static int emit(struct lexer *L, int type, int line, const char *p, size_t n) {
    if (L->n_t == L->cap_t) {
        size_t cap = L->cap_t ? L->cap_t * 2 : 256;
        struct jtoken *nt = jalloc(L->c, cap * sizeof(*nt));
        if (!nt) return L->c->err->status;
        if (L->n_t) memcpy(nt, L->t, L->n_t * sizeof(*nt));
        L->t = nt;
        L->cap_t = cap;
    }
    struct jtoken *t = &L->t[L->n_t++];
    memset(t, 0, sizeof(*t));
    t->type = (uint8_t)type;
    t->line = line;
    t->s.p = p;
    t->s.n = n;
    return 0;
}

static bool starts(const struct lexer *L, size_t at, const char *lit) {
    size_t k = strlen(lit);
    return at <= L->n && L->n - at >= k && memcmp(L->s + at, lit, k) == 0;
}

/* Python's \s at s[i] (ASCII or Unicode whitespace); *len = its byte length. */
static bool space_at(const struct lexer *L, size_t i, size_t *len) {
    size_t j = i;
    uint32_t cp = ju_next(L->s, L->n, &j);
    *len = j - i;
    return ju_isspace(cp);
}

static size_t skip_space(const struct lexer *L, size_t i) {
    size_t k;
    while (i < L->n && space_at(L, i, &k)) i += k;
    return i;
}

/* Emits text s[a..b) after the whitespace control of the tag that follows. */
static int emit_text(struct lexer *L, size_t a, size_t b, char sign, bool lstrip_ok) {
    int line = L->line;
    if (sign == '-') {
        struct jstr t = {L->s + a, b - a};
        b = a + ju_strip(t, NULL, false, true).n;
    } else if (sign != '+' && lstrip_ok) {
        size_t l = b;
        while (l > a && L->s[l - 1] != '\n') l--;
        if (l > a || L->line_starting) {
            size_t i = l, k;
            while (i < b && space_at(L, i, &k)) i += k;
            if (i == b && b > l) b = l;
        }
    }
    return b > a ? emit(L, JT_TEXT, line, L->s + a, b - a) : 0;
}

/* Consumes a block/comment end's suffix: `-` strips whitespace, plain trims one \n. */
static void end_suffix(struct lexer *L, size_t after, char sign) {
    if (sign == '-') after = skip_space(L, after);
    else if (sign != '+' && after < L->n && L->s[after] == '\n') after++;
    advance(L, after);
    L->line_starting = L->pos > 0 && L->s[L->pos - 1] == '\n';
}

static int lex_comment(struct lexer *L) {
    for (size_t i = L->pos; i < L->n; i++) {
        if (starts(L, i, "+#}")) return end_suffix(L, i + 3, '+'), 0;
        if (starts(L, i, "-#}")) return end_suffix(L, i + 3, '-'), 0;
        if (starts(L, i, "#}")) return end_suffix(L, i + 2, 0), 0;
    }
    return jfail(L->c, L->line, "missing end of comment tag");
}

/* At s[i]: `{%[-+]? raw|endraw %}`; on success *end is past the tag and *close its sign. */
static bool raw_tag(const struct lexer *L, size_t i, const char *word, bool begin, size_t *end, char *close) {
    if (!starts(L, i, "{%")) return false;
    i += 2;
    if (i < L->n && (L->s[i] == '-' || L->s[i] == '+')) i++;
    i = skip_space(L, i);
    if (!starts(L, i, word)) return false;
    i = skip_space(L, i + strlen(word));
    if (!begin && starts(L, i, "+%}")) *close = '+', *end = i + 3;
    else if (starts(L, i, "-%}")) *close = '-', *end = i + 3;
    else if (starts(L, i, "%}")) *close = begin ? '+' : 0, *end = i + 2;
    else return false;
    return true;
}

static int lex_raw(struct lexer *L) {
    for (size_t i = L->pos; i < L->n; i++) {
        size_t end;
        char close;
        if (!raw_tag(L, i, "endraw", false, &end, &close)) continue;
        char sign = L->s[i + 2] == '-' || L->s[i + 2] == '+' ? L->s[i + 2] : 0;
        int rc = emit_text(L, L->pos, i, sign, true);
        if (rc) return rc;
        advance(L, i);
        end_suffix(L, end, close);
        return 0;
    }
    return jfail(L->c, L->line, "missing end of raw directive");
}

static bool is_ident(char ch, bool first) {
    unsigned char u = (unsigned char)ch;
    return u == '_' || (unsigned)((u | 0x20) - 'a') < 26u || (!first && (unsigned)(u - '0') < 10u) || u >= 0x80;
}

/* Number literal at pos: digits with _ separators, optional fraction/exponent. */
static int lex_number(struct lexer *L) {
    size_t i = L->pos, j;
    char buf[128];
    size_t nb = 0;
    bool is_float = false;
    for (; i < L->n && (((unsigned)L->s[i] - '0') < 10u || (L->s[i] == '_' && i > L->pos)); i++)
        if (L->s[i] != '_' && nb < sizeof(buf) - 8) buf[nb++] = L->s[i];
    if (i + 1 < L->n && L->s[i] == '.' && ((unsigned)L->s[i + 1] - '0') < 10u) {
        is_float = true;
        buf[nb++] = '.';
        for (i++; i < L->n && (((unsigned)L->s[i] - '0') < 10u || L->s[i] == '_'); i++)
            if (L->s[i] != '_' && nb < sizeof(buf) - 8) buf[nb++] = L->s[i];
    }
    j = i;
    if (j < L->n && (L->s[j] == 'e' || L->s[j] == 'E')) {
        j++;
        if (j < L->n && (L->s[j] == '+' || L->s[j] == '-')) j++;
        if (j < L->n && ((unsigned)L->s[j] - '0') < 10u) {
            is_float = true;
            buf[nb++] = 'e';
            if (L->s[j - 1] == '-') buf[nb++] = '-';
            for (; j < L->n && (((unsigned)L->s[j] - '0') < 10u || L->s[j] == '_'); j++)
                if (L->s[j] != '_' && nb < sizeof(buf) - 2) buf[nb++] = L->s[j];
            i = j;
        }
    }
    buf[nb] = '\0';
    int rc = emit(L, is_float ? JT_FLOAT : JT_INT, L->line, L->s + L->pos, i - L->pos);
    if (rc) return rc;
    struct jtoken *t = &L->t[L->n_t - 1];
    if (is_float) {
        t->f = strtod(buf, NULL);
    } else {
        if (nb > 18) return jfail(L->c, L->line, "integer literal %s too large", buf);
        t->i = strtoll(buf, NULL, 10);
    }
    advance(L, i);
    return 0;
}

static int hexval(const char *p, size_t n, uint32_t *out) {
    uint32_t v = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)p[i];
        int d = (unsigned)(ch - '0') < 10u ? ch - '0' : (unsigned)((ch | 0x20) - 'a') < 6u ? (ch | 0x20) - 'a' + 10 : -1;
        if (d < 0) return -1;
        v = v * 16 + (uint32_t)d;
    }
    *out = v;
    return 0;
}

/* Python unicode-escape decoding of a string literal body s[a..b). */
static int lex_string_body(struct lexer *L, size_t a, size_t b, struct jstr *out) {
    char *o = jalloc(L->c, b - a + 1);
    if (!o) return L->c->err->status;
    size_t n = 0;
    for (size_t i = a; i < b; i++) {
        char ch = L->s[i];
        if (ch != '\\' || i + 1 >= b) {
            o[n++] = ch;
            continue;
        }
        char e = L->s[++i];
        const char *simple = strchr("\\'\"abfnrtv\n", e);
        if (e && simple) {
            static const char map[] = "\\'\"\a\b\f\n\r\t\v";
            if (e != '\n') o[n++] = map[simple - "\\'\"abfnrtv\n"];
            continue;
        }
        if (e >= '0' && e <= '7') {
            uint32_t v = 0;
            size_t k = 0;
            for (; k < 3 && i + k < b && L->s[i + k] >= '0' && L->s[i + k] <= '7'; k++) v = v * 8 + (uint32_t)(L->s[i + k] - '0');
            i += k - 1;
            n += ju_encode(v, o + n);
            continue;
        }
        size_t len = e == 'x' ? 2 : e == 'u' ? 4 : e == 'U' ? 8 : 0;
        if (len) {
            uint32_t v;
            if (i + len >= b || hexval(L->s + i + 1, len, &v) < 0 || v > 0x10ffff || (v >= 0xd800 && v < 0xe000))
                return jfail(L->c, L->line, "bad \\%c escape in string literal", e);
            i += len;
            n += ju_encode(v, o + n);
            continue;
        }
        if (e == 'N') return jfail(L->c, L->line, "\\N{...} escapes are not supported");
        o[n++] = '\\';
        o[n++] = e;
    }
    out->p = o;
    out->n = n;
    return 0;
}

static int lex_string(struct lexer *L) {
    char q = L->s[L->pos];
    size_t i = L->pos + 1;
    while (i < L->n && L->s[i] != q) i += L->s[i] == '\\' ? 2 : 1;
    if (i >= L->n) return jfail(L->c, L->line, "unterminated string literal");
    int rc = emit(L, JT_STRING, L->line, NULL, 0);
    if (!rc) rc = lex_string_body(L, L->pos + 1, i, &L->t[L->n_t - 1].s);
    if (!rc) advance(L, i + 1);
    return rc;
}

static const char *const ops[] = {"//", "**", "==", "!=", ">=", "<=", "+", "-", "/", "*", "%", "~", "[", "]", "(",
                                   ")", "{", "}", ">", "<", "=", ".", ":", "|", ",", ";"};

/* Tokens of one {{ }} / {% %} tag, up to and including its end. */
static int lex_tag(struct lexer *L, bool block) {
    char stack[64];
    int depth = 0;
    for (;;) {
        size_t k;
        while (L->pos < L->n && space_at(L, L->pos, &k)) advance(L, L->pos + k);
        if (L->pos >= L->n) return jfail(L->c, L->line, "unexpected end of template, expected '%s'", block ? "%}" : "}}");
        if (depth == 0) {
            if (block && (starts(L, L->pos, "+%}") || starts(L, L->pos, "-%}") || starts(L, L->pos, "%}"))) {
                char sign = L->s[L->pos] == '%' ? 0 : L->s[L->pos];
                int rc = emit(L, JT_BLOCK_END, L->line, NULL, 0);
                if (rc) return rc;
                end_suffix(L, L->pos + (sign ? 3 : 2), sign);
                return 0;
            }
            if (!block && (starts(L, L->pos, "-}}") || starts(L, L->pos, "}}"))) {
                bool minus = L->s[L->pos] == '-';
                int rc = emit(L, JT_VAR_END, L->line, NULL, 0);
                if (rc) return rc;
                size_t after = L->pos + (minus ? 3 : 2);
                advance(L, minus ? skip_space(L, after) : after);
                L->line_starting = L->s[L->pos - 1] == '\n';
                return 0;
            }
        }
        char ch = L->s[L->pos];
        int rc;
        if ((unsigned)ch - '0' < 10u) {
            rc = lex_number(L);
        } else if (ch == '\'' || ch == '"') {
            rc = lex_string(L);
        } else if (is_ident(ch, true)) {
            size_t i = L->pos;
            while (i < L->n && is_ident(L->s[i], false)) i++;
            rc = emit(L, JT_NAME, L->line, L->s + L->pos, i - L->pos);
            advance(L, i);
        } else {
            size_t o = 0;
            for (; o < sizeof(ops) / sizeof(ops[0]); o++)
                if (starts(L, L->pos, ops[o])) break;
            if (o == sizeof(ops) / sizeof(ops[0])) return jfail(L->c, L->line, "unexpected character '%c'", ch);
            const size_t len = strlen(ops[o]);
            if (len == 1 && strchr("([{", ch)) {
                if (depth == (int)sizeof(stack)) return jfail(L->c, L->line, "brackets nested too deeply");
                stack[depth++] = ch == '(' ? ')' : ch == '[' ? ']' : '}';
            } else if (len == 1 && strchr(")]}", ch)) {
                if (depth == 0) return jfail(L->c, L->line, "unexpected '%c'", ch);
                if (stack[--depth] != ch) return jfail(L->c, L->line, "unexpected '%c', expected '%c'", ch, stack[depth]);
            }
            rc = emit(L, JT_OP, L->line, ops[o], len);
            advance(L, L->pos + len);
        }
        if (rc) return rc;
    }
}

/* Normalizes newlines and drops one trailing newline, as Jinja2 does first. */
static int normalize(struct jctx *c, const char *src, size_t n, const char **out, size_t *out_n) {
    char *o = jalloc(c, n + 1);
    if (!o) return c->err->status;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (src[i] == '\r') {
            o[k++] = '\n';
            if (i + 1 < n && src[i + 1] == '\n') i++;
        } else {
            o[k++] = src[i];
        }
    }
    if (k && o[k - 1] == '\n') k--;
    *out = o;
    *out_n = k;
    return 0;
}

int jinja_lex(struct jctx *c, const char *src, size_t n, struct jtoken **toks, size_t *n_toks) {
    struct lexer L = {.c = c, .line = 1, .line_starting = true};
    int rc = normalize(c, src, n, &L.s, &L.n);
    while (!rc && L.pos < L.n) {
        const char *p = L.s + L.pos, *hit = NULL;
        for (const char *q = memchr(p, '{', L.n - L.pos); q; q = memchr(q + 1, '{', (size_t)(L.s + L.n - q - 1))) {
            if (q + 1 < L.s + L.n && (q[1] == '{' || q[1] == '%' || q[1] == '#')) {
                hit = q;
                break;
            }
            if (q + 1 >= L.s + L.n) break;
        }
        if (!hit) {
            rc = emit(&L, JT_TEXT, L.line, p, L.n - L.pos);
            advance(&L, L.n);
            break;
        }
        size_t at = (size_t)(hit - L.s), after = at + 2;
        char kind = hit[1];
        char sign = after < L.n && (L.s[after] == '-' || L.s[after] == '+') ? L.s[after] : 0;
        size_t raw_end;
        char raw_close;
        bool raw = kind == '%' && raw_tag(&L, at, "raw", true, &raw_end, &raw_close);
        rc = emit_text(&L, L.pos, at, sign, kind != '{');
        if (rc) break;
        advance(&L, at);
        if (raw) {
            advance(&L, raw_close == '-' ? skip_space(&L, raw_end) : raw_end);
            L.line_starting = L.s[L.pos - 1] == '\n';
            rc = lex_raw(&L);
            continue;
        }
        advance(&L, after + (sign ? 1 : 0));
        if (kind == '#') {
            rc = lex_comment(&L);
            continue;
        }
        rc = emit(&L, kind == '%' ? JT_BLOCK_BEGIN : JT_VAR_BEGIN, L.line, NULL, 0);
        if (!rc) rc = lex_tag(&L, kind == '%');
    }
    if (!rc) rc = emit(&L, JT_EOF, L.line, NULL, 0);
    if (rc) return rc;
    *toks = L.t;
    *n_toks = L.n_t;
    return 0;
}
