#include "ppl_text.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

size_t ppl_utf8_invalid_offset(const char *str, size_t len) {
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        unsigned lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
        if (c >= 0xc2 && c <= 0xdf) n = 2;
        else if (c >= 0xe0 && c <= 0xef) {
            n = 3;
            if (c == 0xe0) lo = 0xa0;      /* overlong */
            else if (c == 0xed) hi = 0x9f; /* surrogates */
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 4;
            if (c == 0xf0) lo = 0x90;      /* overlong */
            else if (c == 0xf4) hi = 0x8f; /* past U+10FFFF */
        } else {
            return i;
        }
        if (i + n > len) return i;
        if (s[i + 1] < lo || s[i + 1] > hi) return i;
        for (size_t k = 2; k < n; k++)
            if ((s[i + k] & 0xc0) != 0x80) return i;
        i += n;
    }
    return len;
}

int ppl_text_read(const char *path, char **out, size_t *len, char *msg, size_t msg_cap) {
    *out = NULL;
    *len = 0;
    gzFile f = gzopen(path, "rb");
    if (!f) {
        snprintf(msg, msg_cap, "%s: cannot open: %s", path, errno ? strerror(errno) : "out of memory");
        return 1;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    int rc = 0;
    for (;;) {
        if (!buf) {
            snprintf(msg, msg_cap, "%s: out of memory", path);
            rc = 1;
            break;
        }
        if (n == cap) {
            if (cap >= PPL_TEXT_MAX_BYTES) {
                snprintf(msg, msg_cap, "%s: longer than %zu bytes", path, (size_t)PPL_TEXT_MAX_BYTES);
                rc = 1;
                break;
            }
            char *p = realloc(buf, cap * 2 + 1);
            if (!p) free(buf);
            buf = p;
            cap *= 2;
            continue;
        }
        size_t want = cap - n < (1u << 30) ? cap - n : (1u << 30);
        int got = gzread(f, buf + n, (unsigned)want);
        if (got < 0) {
            int zerr = 0;
            const char *zmsg = gzerror(f, &zerr);
            snprintf(msg, msg_cap, "%s: read failed: %s", path, zerr == Z_ERRNO ? strerror(errno) : zmsg);
            rc = 1;
            break;
        }
        if (got == 0) break;
        n += (size_t)got;
    }
    int zc = gzclose(f);
    if (!rc && zc == Z_BUF_ERROR) {
        snprintf(msg, msg_cap, "%s: the gzip stream ends early (truncated file?)", path);
        rc = 1;
    }
    if (rc) {
        free(buf);
        return rc;
    }
    if (n > 0 && buf[n - 1] == '\n') n--; /* as llama.cpp's -f */
    buf[n] = '\0';
    size_t bad = ppl_utf8_invalid_offset(buf, n);
    if (bad < n) {
        snprintf(msg, msg_cap, "%s: not valid UTF-8: byte 0x%02x at offset %zu", path, (unsigned char)buf[bad], bad);
        free(buf);
        return 1;
    }
    *out = buf;
    *len = n;
    return 0;
}
