/*
 * serve_buf.h — a growable byte buffer for nib serve (response bodies, SSE
 * frames, generated text). Always NUL-terminated when non-empty; appends
 * fail (false) only when out of memory, leaving the buffer as it was.
 */
#ifndef NIB_SERVE_BUF_H
#define NIB_SERVE_BUF_H

#include <stdbool.h>
#include <stddef.h>

struct serve_buf {
    char  *p;
    size_t n, cap;
};

bool serve_buf_append(struct serve_buf *b, const char *s, size_t n);
bool serve_buf_appends(struct serve_buf *b, const char *s); /* a C string */
void serve_buf_free(struct serve_buf *b);

#endif
