/*
 * jinja_utf8.c — the pieces of Python's str the interpreter needs on UTF-8
 * text: code point decoding, str.isspace(), strip, simple case mapping,
 * splitlines (see jinja.h).
 *
 * Case mapping covers ASCII, Latin-1, Latin Extended-A, Greek and Cyrillic
 * one-to-one pairs; other scripts are left unchanged (Python maps more, and
 * maps a few characters to several, e.g. 'ß'.upper() == 'SS').
 */
#include "jinja.h"

#include <string.h>

uint32_t ju_next(const char *s, size_t n, size_t *i) {
    const unsigned char *p = (const unsigned char *)s + *i;
    size_t left = n - *i;
    uint32_t c = p[0];
    size_t len = 1;
    if (c >= 0xc2 && c <= 0xdf && left >= 2 && (p[1] & 0xc0) == 0x80) {
        c = ((c & 0x1f) << 6) | (p[1] & 0x3f);
        len = 2;
    } else if (c >= 0xe0 && c <= 0xef && left >= 3 && (p[1] & 0xc0) == 0x80 && (p[2] & 0xc0) == 0x80) {
        uint32_t v = ((c & 0x0f) << 12) | ((uint32_t)(p[1] & 0x3f) << 6) | (p[2] & 0x3f);
        if (v >= 0x800) {
            c = v;
            len = 3;
        }
    } else if (c >= 0xf0 && c <= 0xf4 && left >= 4 && (p[1] & 0xc0) == 0x80 && (p[2] & 0xc0) == 0x80 &&
               (p[3] & 0xc0) == 0x80) {
        uint32_t v = ((c & 0x07) << 18) | ((uint32_t)(p[1] & 0x3f) << 12) | ((uint32_t)(p[2] & 0x3f) << 6) |
                     (p[3] & 0x3f);
        if (v >= 0x10000 && v <= 0x10ffff) {
            c = v;
            len = 4;
        }
    }
    *i += len;
    return c;
}

size_t ju_encode(uint32_t cp, char *out) {
    unsigned char *o = (unsigned char *)out;
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xc0 | (cp >> 6));
        o[1] = (unsigned char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xe0 | (cp >> 12));
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (unsigned char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (unsigned char)(0xf0 | (cp >> 18));
    o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (unsigned char)(0x80 | (cp & 0x3f));
    return 4;
}

bool ju_isspace(uint32_t cp) {
    return (cp >= 0x09 && cp <= 0x0d) || (cp >= 0x1c && cp <= 0x20) || cp == 0x85 || cp == 0xa0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 || cp == 0x2029 || cp == 0x202f || cp == 0x205f ||
           cp == 0x3000;
}

size_t ju_count(const char *s, size_t n) {
    size_t k = 0;
    for (size_t i = 0; i < n; k++) ju_next(s, n, &i);
    return k;
}

static bool in_chars(uint32_t cp, const struct jstr *chars) {
    if (!chars) return ju_isspace(cp);
    for (size_t i = 0; i < chars->n;)
        if (ju_next(chars->p, chars->n, &i) == cp) return true;
    return false;
}

/* Start offset of the code point ending at byte end (> 0). */
static size_t prev_start(const char *s, size_t end) {
    size_t st = end - 1;
    size_t lim = end >= 4 ? end - 4 : 0;
    while (st > lim && ((unsigned char)s[st] & 0xc0) == 0x80) st--;
    size_t i = st;
    ju_next(s, end, &i);
    return i == end ? st : end - 1;
}

struct jstr ju_strip(struct jstr s, const struct jstr *chars, bool left, bool right) {
    size_t a = 0, b = s.n;
    if (left)
        while (a < b) {
            size_t i = a;
            if (!in_chars(ju_next(s.p, b, &i), chars)) break;
            a = i;
        }
    if (right)
        while (b > a) {
            size_t st = prev_start(s.p, b), i = st;
            if (st < a || !in_chars(ju_next(s.p, b, &i), chars)) break;
            b = st;
        }
    struct jstr r = {s.p + a, b - a};
    return r;
}

/* One-to-one case pairs: [lower_first, lower_last, upper_first, step]. */
static const uint32_t case_ranges[][4] = {
    {0x61, 0x7a, 0x41, 1},    {0xe0, 0xf6, 0xc0, 1},    {0xf8, 0xfe, 0xd8, 1},   {0x3b1, 0x3c1, 0x391, 1},
    {0x3c3, 0x3c9, 0x3a3, 1}, {0x430, 0x44f, 0x410, 1}, {0x450, 0x45f, 0x400, 1},
};

/* Latin Extended-A pairs: 1 when cp is a lower-case letter (upper = cp - 1),
 * -1 when upper-case (lower = cp + 1), 0 otherwise. */
static int latin_ext_a(uint32_t cp) {
    if (cp >= 0x100 && cp <= 0x137 && cp != 0x130 && cp != 0x131) return (cp & 1) ? 1 : -1;
    if (cp >= 0x139 && cp <= 0x148) return (cp & 1) ? -1 : 1;
    if (cp >= 0x14a && cp <= 0x177) return (cp & 1) ? 1 : -1;
    if (cp >= 0x179 && cp <= 0x17e) return (cp & 1) ? -1 : 1;
    return 0;
}

uint32_t ju_upper(uint32_t cp) {
    for (size_t r = 0; r < sizeof(case_ranges) / sizeof(case_ranges[0]); r++)
        if (cp >= case_ranges[r][0] && cp <= case_ranges[r][1]) return cp - case_ranges[r][0] + case_ranges[r][2];
    return latin_ext_a(cp) == 1 ? cp - 1 : cp;
}

uint32_t ju_lower(uint32_t cp) {
    for (size_t r = 0; r < sizeof(case_ranges) / sizeof(case_ranges[0]); r++) {
        uint32_t lo = case_ranges[r][2], hi = case_ranges[r][2] + (case_ranges[r][1] - case_ranges[r][0]);
        if (cp >= lo && cp <= hi) return cp - lo + case_ranges[r][0];
    }
    return latin_ext_a(cp) == -1 ? cp + 1 : cp;
}

bool ju_isalpha(uint32_t cp) {
    if (cp < 0x80) return (cp | 0x20) >= 'a' && (cp | 0x20) <= 'z';
    return ju_upper(cp) != cp || ju_lower(cp) != cp || (cp >= 0x4e00 && cp <= 0x9fff) || cp == 0xaa || cp == 0xba ||
           cp == 0xdf;
}

int ju_map(struct jctx *c, struct jstr s, uint32_t (*f)(uint32_t), struct jv *out) {
    char *p = jalloc(c, s.n * 2 + 1);
    if (!p) return c->err->status;
    size_t o = 0;
    for (size_t i = 0; i < s.n;) {
        size_t st = i;
        uint32_t cp = ju_next(s.p, s.n, &i), m = f(cp);
        if (m == cp) {
            memcpy(p + o, s.p + st, i - st);
            o += i - st;
        } else {
            o += ju_encode(m, p + o);
        }
    }
    *out = jv_str(p, o);
    return 0;
}

int ju_offsets(struct jctx *c, struct jstr s, size_t **off, size_t *n_cp) {
    size_t *o = jalloc(c, (s.n + 1) * sizeof(size_t));
    if (!o) return c->err->status;
    size_t k = 0;
    for (size_t i = 0; i < s.n;) {
        o[k++] = i;
        ju_next(s.p, s.n, &i);
    }
    o[k] = s.n;
    *off = o;
    *n_cp = k;
    return 0;
}

static bool is_line_break(uint32_t cp) {
    return cp == '\n' || cp == '\r' || cp == 0x0b || cp == 0x0c || (cp >= 0x1c && cp <= 0x1e) || cp == 0x85 ||
           cp == 0x2028 || cp == 0x2029;
}

int ju_splitlines(struct jctx *c, struct jstr s, struct jlist **out) {
    struct jlist *l = jlist_new(c, 0);
    if (!l) return c->err->status;
    size_t start = 0;
    for (size_t i = 0; i < s.n;) {
        size_t st = i;
        uint32_t cp = ju_next(s.p, s.n, &i);
        if (!is_line_break(cp)) continue;
        int rc = jlist_push(c, l, jv_str(s.p + start, st - start));
        if (rc) return rc;
        if (cp == '\r' && i < s.n && s.p[i] == '\n') i++;
        start = i;
    }
    if (start < s.n) {
        int rc = jlist_push(c, l, jv_str(s.p + start, s.n - start));
        if (rc) return rc;
    }
    *out = l;
    return 0;
}
