/*
 * serve_buf.c — growable byte buffer (see serve_buf.h).
 */
#include "serve_buf.h"

#include <stdlib.h>
#include <string.h>

bool serve_buf_append(struct serve_buf *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        size_t cap = (b->n + n + 1) * 2 + 64;
        char *p = realloc(b->p, cap);
        if (!p) return false;
        b->p = p;
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
    return true;
}

bool serve_buf_appends(struct serve_buf *b, const char *s) { return serve_buf_append(b, s, strlen(s)); }

void serve_buf_free(struct serve_buf *b) {
    free(b->p);
    b->p = NULL;
    b->n = b->cap = 0;
}
