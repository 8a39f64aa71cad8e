/*
 * pretokenizer.c — regex splitting and GPT-2 byte encoding (see pretokenizer.h).
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "pretokenizer.h"

#include "error.h"
#include "grow.h"
#include "unicode_class.h"

#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------- UTF-8 */

uint32_t nib_utf8_decode_lenient(const char *str, size_t n, size_t *i) {
    const unsigned char *s = (const unsigned char *)str;
    size_t p = *i;
    unsigned c = s[p];
    int len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
    if (len == 1) {
        *i = p + 1;
        return c;
    }
    /* llama.cpp: a continuation or 0xf8+ lead byte, or a sequence cut short or
     * with a bad continuation byte, is one invalid byte (U+FFFD). Overlong
     * forms and surrogates decode as written. */
    bool ok = len > 0 && p + (size_t)len <= n;
    for (int k = 1; ok && k < len; k++) ok = (s[p + (size_t)k] & 0xc0) == 0x80;
    if (!ok) {
        *i = p + 1;
        return 0xfffd;
    }
    uint32_t cp = len == 2 ? c & 0x1f : len == 3 ? c & 0x0f : c & 0x07;
    for (int k = 1; k < len; k++) cp = cp << 6 | (s[p + (size_t)k] & 0x3f);
    *i = p + (size_t)len;
    return cp;
}

int nib_utf8_encode(uint32_t cp, char out[4]) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    if (cp > 0x10ffff) return 0;
    out[0] = (char)(0xf0 | cp >> 18);
    out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* --------------------------------------------- GPT-2 byte alphabet */

/* Printable Latin-1 bytes map to themselves; the other 68 bytes, in order,
 * to U+0100 onwards. */
static bool byte_is_printable(unsigned b) {
    return (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae);
}

static uint32_t byte_cp(uint8_t b) {
    if (byte_is_printable(b)) return b;
    uint32_t n = 0;
    for (unsigned c = 0; c < b; c++) n += !byte_is_printable(c);
    return 256 + n;
}

int nib_byte_to_unicode(uint8_t b, char out[2]) {
    char u[4];
    int n = nib_utf8_encode(byte_cp(b), u); /* code points below U+0800: 1 or 2 bytes */
    memcpy(out, u, (size_t)n);
    return n;
}

int nib_unicode_to_byte(uint32_t cp) {
    if (cp < 256) return byte_is_printable(cp) ? (int)cp : -1;
    /* the 68 others, in byte order: 0x00-0x20, 0x7f-0xa0, 0xad */
    if (cp < 256 + 33) return (int)(cp - 256);
    if (cp < 256 + 67) return (int)(cp - 256 - 33 + 0x7f);
    return cp == 256 + 67 ? 0xad : -1;
}

/* White space as llama.cpp's tables define it (Unicode White_Space). */
static bool is_unicode_space(uint32_t cp) {
    switch (cp) {
    case 0x09: case 0x0a: case 0x0b: case 0x0c: case 0x0d: case 0x20: case 0x85: case 0xa0:
    case 0x1680: case 0x2028: case 0x2029: case 0x202f: case 0x205f: case 0x3000:
        return true;
    default:
        return cp >= 0x2000 && cp <= 0x200a;
    }
}

/* What a collapsed regex sees for each class: code points above U+00FF (so
 * \s, \d, \w, ASCII-only without PCRE2_UCP, never match them) that are in
 * that class in every Unicode version PCRE2 may know. */
static const uint32_t class_stand_in[] = {
    [NIB_CC_OTHER] = 0xe000,  /* private use */
    [NIB_CC_LETTER] = 0x0100, /* LATIN CAPITAL LETTER A WITH MACRON */
    [NIB_CC_NUMBER] = 0x0660, /* ARABIC-INDIC DIGIT ZERO */
    [NIB_CC_PUNCT] = 0x2010,  /* HYPHEN */
    [NIB_CC_MARK] = 0x0300,   /* COMBINING GRAVE ACCENT */
    [NIB_CC_SYMBOL] = 0x2190, /* LEFTWARDS ARROW */
};

/* llama.cpp's test for running a regex on the collapsed text. */
static bool regex_uses_classes(const char *re) {
    static const char *const names[] = { "\\p{N}", "\\p{L}", "\\p{P}", "\\p{M}", "\\p{S}",
                                         "\\p{Lu}", "\\p{Ll}", "\\p{Lt}", "\\p{Lm}", "\\p{Lo}" };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strstr(re, names[i])) return true;
    return false;
}

/* ---------------------------------------------------------- compile */

/* llama.cpp matches \p{Lu}, \p{Ll}, \p{Lt}, \p{Lm}, \p{Lo} as any letter. */
static char *rewrite_regex(const char *re) {
    size_t n = strlen(re);
    char *out = malloc(n + 1);
    if (!out) return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        if (strncmp(re + i, "\\p{L", 4) == 0 && i + 6 <= n && re[i + 5] == '}' && strchr("ultmo", re[i + 4])) {
            memcpy(out + o, "\\p{L}", 5);
            o += 5;
            i += 6;
        } else {
            out[o++] = re[i++];
        }
    }
    out[o] = '\0';
    return out;
}

int nib_pretokenizer_init(struct nib_pretokenizer *p, const struct nib_pre_spec *spec, struct nib_error *err) {
    memset(p, 0, sizeof(*p));
    p->spec = spec;
    for (int b = 0; b < 256; b++) p->byte_len[b] = (uint8_t)nib_byte_to_unicode((uint8_t)b, p->byte_utf8[b]);
    for (int i = 0; spec->regexes[i]; i++) {
        if (i >= NIB_PRE_MAX_REGEX) return nib_error_set(err, NIB_E_UNSUPPORTED, "pre-tokenizer '%s': too many regexes", spec->name);
        char *re = rewrite_regex(spec->regexes[i]);
        if (!re) return nib_error_set(err, NIB_E_NOMEM, "out of memory");
        int ec;
        PCRE2_SIZE off;
        pcre2_code *code = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_DOLLAR_ENDONLY,
                                         &ec, &off, NULL);
        free(re);
        if (!code) {
            PCRE2_UCHAR msg[160];
            pcre2_get_error_message(ec, msg, sizeof(msg));
            nib_pretokenizer_free(p);
            return nib_error_set(err, NIB_E_UNSUPPORTED, "pre-tokenizer '%s': regex %d does not compile at offset %zu: %s",
                                 spec->name, i, (size_t)off, (const char *)msg);
        }
        p->jit[i] = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0; /* else the interpreter */
        p->code[i] = code;
        p->n_regex = i + 1;
    }
    return NIB_OK;
}

void nib_pretokenizer_free(struct nib_pretokenizer *p) {
    for (int i = 0; i < p->n_regex; i++) pcre2_code_free(p->code[i]);
    p->n_regex = 0;
}

void nib_pre_scratch_free(struct nib_pre_scratch *s) {
    free(s->cps);
    free(s->match);
    free(s->cp_at);
    free(s->b_of);
    free(s->pieces);
    free(s->pieces2);
    free(s->words);
    free(s->word_end);
    if (s->md) pcre2_match_data_free(s->md);
    memset(s, 0, sizeof(*s));
}


#define RESERVE(s, field, n) nib_grow((void **)&(s)->field, &(s)->cap_##field, (n), sizeof(*(s)->field))

/* Decodes text into s->cps as llama.cpp does. */
static bool decode(struct nib_pre_scratch *s, const char *text, size_t len, size_t *n_cps) {
    if (!RESERVE(s, cps, len + 1)) return false;
    size_t n = 0;
    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)text[i];
        if (c < 0x80) { /* ASCII, the common case */
            s->cps[n++] = c;
            i++;
        } else {
            s->cps[n++] = nib_utf8_decode_lenient(text, len, &i);
        }
    }
    *n_cps = n;
    return true;
}

/* Writes the UTF-8 the regexes see for s->cps[0..n) into s->match, with the
 * offset maps. ASCII is shown as is and other white space as U+000B, as
 * llama.cpp does; with `collapse`, every other code point as its class's
 * stand-in; without, as itself (surrogates and values past U+10FFFF, which
 * PCRE2 cannot take, as U+FFFD). */
static bool present(struct nib_pre_scratch *s, size_t n, bool collapse) {
    if (!RESERVE(s, match, 4 * n + 4) || !RESERVE(s, b_of, n + 1) || !RESERVE(s, cp_at, 4 * n + 4)) return false;
    size_t m = 0;
    for (size_t k = 0; k < n; k++) {
        uint32_t cp = s->cps[k], shown = cp;
        s->b_of[k] = (uint32_t)m;
        s->cp_at[m] = (uint32_t)k;
        if (cp < 0x80) {
            s->match[m++] = (char)cp;
            continue;
        }
        if (is_unicode_space(cp)) shown = 0x0b;
        else if (collapse) shown = class_stand_in[nib_char_class(cp)];
        else if ((cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) shown = 0xfffd;
        m += (size_t)nib_utf8_encode(shown, s->match + m);
    }
    s->b_of[n] = (uint32_t)m;
    s->cp_at[m] = (uint32_t)n;
    s->match[m] = '\0';
    return true;
}

static bool push_piece(uint32_t **buf, size_t *cap, size_t *n, uint32_t start, uint32_t len) {
    if (!nib_grow((void **)buf, cap, 2 * (*n + 1), sizeof(uint32_t))) return false;
    (*buf)[2 * *n] = start;
    (*buf)[2 * *n + 1] = len;
    (*n)++;
    return true;
}

/* Splits one piece [start, start+len) code points with one regex; appends the
 * matches and the gaps between them to the output list. */
static int split_piece(struct nib_pre_scratch *s, const pcre2_code *code, bool jit, uint32_t start, uint32_t len,
                       size_t *n_out, struct nib_error *err) {
    const char *subject = s->match + s->b_of[start];
    size_t blen = s->b_of[start + len] - s->b_of[start];
    size_t pos = 0, last = 0;
    uint32_t opts = 0;
    while (pos <= blen) {
        /* the subject is valid UTF-8 by construction: the JIT entry skips the checks
         * (not after an empty match: JIT code cannot be anchored at match time) */
        int rc = jit && !opts ? pcre2_jit_match(code, (PCRE2_SPTR)subject, blen, pos, opts, s->md, NULL)
                     : pcre2_match(code, (PCRE2_SPTR)subject, blen, pos, opts | PCRE2_NO_UTF_CHECK, s->md, NULL);
        if (rc == PCRE2_ERROR_NOMATCH) {
            if (!opts) break;
            /* an empty match was not repeatable here: step one character */
            opts = 0;
            pos++;
            while (pos < blen && ((unsigned char)subject[pos] & 0xc0) == 0x80) pos++;
            continue;
        }
        if (rc < 0) return nib_error_set(err, NIB_E_UNSUPPORTED, "pre-tokenizer regex failed (PCRE2 error %d)", rc);
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(s->md);
        size_t ms = ov[0], me = ov[1];
        uint32_t cs = s->cp_at[s->b_of[start] + ms] - start, ce = s->cp_at[s->b_of[start] + me] - start;
        uint32_t cl = s->cp_at[s->b_of[start] + last] - start;
        if (cs > cl && !push_piece(&s->pieces2, &s->cap_pieces2, n_out, start + cl, cs - cl)) goto nomem;
        if (ce > cs && !push_piece(&s->pieces2, &s->cap_pieces2, n_out, start + cs, ce - cs)) goto nomem;
        last = me;
        pos = me;
        opts = me == ms ? PCRE2_NOTEMPTY_ATSTART | PCRE2_ANCHORED : 0;
    }
    uint32_t cl = s->cp_at[s->b_of[start] + last] - start;
    if (len > cl && !push_piece(&s->pieces2, &s->cap_pieces2, n_out, start + cl, len - cl)) goto nomem;
    return NIB_OK;
nomem:
    return nib_error_set(err, NIB_E_NOMEM, "out of memory splitting text");
}

/* Byte-encodes each piece's original code points into s->words. */
static bool encode_words(const struct nib_pretokenizer *p, struct nib_pre_scratch *s, size_t n_pieces) {
    size_t total = 0;
    for (size_t i = 0; i < n_pieces; i++) total += s->pieces[2 * i + 1];
    if (!RESERVE(s, words, 8 * total + 1) || !RESERVE(s, word_end, n_pieces + 1)) return false;
    size_t o = 0;
    for (size_t i = 0; i < n_pieces; i++) {
        uint32_t st = s->pieces[2 * i], ln = s->pieces[2 * i + 1];
        for (uint32_t k = st; k < st + ln; k++) {
            char u[4];
            int nb;
            if (s->cps[k] < 0x80) {
                u[0] = (char)s->cps[k];
                nb = 1;
            } else if (!(nb = nib_utf8_encode(s->cps[k], u))) {
                nb = nib_utf8_encode(0xfffd, u);
            }
            for (int b = 0; b < nb; b++) {
                uint8_t c = (uint8_t)u[b];
                memcpy(s->words + o, p->byte_utf8[c], 2);
                o += p->byte_len[c];
            }
        }
        s->word_end[i] = (uint32_t)o;
    }
    s->n_words = n_pieces;
    return true;
}

int nib_pretokenize(const struct nib_pretokenizer *p, const char *text, size_t len, struct nib_pre_scratch *s,
                    struct nib_error *err) {
    s->n_words = 0;
    if (len == 0) return NIB_OK;
    if (len > UINT32_MAX / 8) return nib_error_set(err, NIB_E_ARG, "text of %zu bytes is too long to tokenize at once", len);
    if (!s->md && !(s->md = pcre2_match_data_create(4, NULL))) return nib_error_set(err, NIB_E_NOMEM, "out of memory");
    size_t n_cps = 0, n = 0;
    if (!decode(s, text, len, &n_cps) || !push_piece(&s->pieces, &s->cap_pieces, &n, 0, (uint32_t)n_cps))
        return nib_error_set(err, NIB_E_NOMEM, "out of memory splitting text");
    int shown = -1; /* whether s->match holds the collapsed text; -1: nothing yet */
    for (int r = 0; r < p->n_regex; r++) {
        int collapse = regex_uses_classes(p->spec->regexes[r]);
        if (collapse != shown && !present(s, n_cps, collapse))
            return nib_error_set(err, NIB_E_NOMEM, "out of memory splitting text");
        shown = collapse;
        size_t n2 = 0;
        for (size_t i = 0; i < n; i++) {
            int rc = split_piece(s, p->code[r], p->jit[r], s->pieces[2 * i], s->pieces[2 * i + 1], &n2, err);
            if (rc) return rc;
        }
        uint32_t *t = s->pieces;
        size_t tc = s->cap_pieces;
        s->pieces = s->pieces2;
        s->cap_pieces = s->cap_pieces2;
        s->pieces2 = t;
        s->cap_pieces2 = tc;
        n = n2;
    }
    if (!encode_words(p, s, n)) return nib_error_set(err, NIB_E_NOMEM, "out of memory splitting text");
    return NIB_OK;
}
