/*
 * grow.h — growing a malloc'd array to hold at least n elements (doubling,
 * so appends are amortized O(1)). Shared by the tokenizer's scratch buffers.
 */
#ifndef NIB_GROW_H
#define NIB_GROW_H

#include <stdbool.h>
#include <stdlib.h>

/* Grows *buf (capacity *cap elements of elem bytes) to at least n; false when out of memory. */
static inline bool nib_grow(void **buf, size_t *cap, size_t n, size_t elem) {
    if (n <= *cap) return true;
    size_t c = *cap ? *cap : 64;
    while (c < n) c *= 2;
    void *q = realloc(*buf, c * elem);
    if (!q) return false;
    *buf = q;
    *cap = c;
    return true;
}

#endif
