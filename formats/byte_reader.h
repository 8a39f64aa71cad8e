/*
 * byte_reader.h — a bounded little-endian cursor over untrusted bytes.
 *
 * Every read checks the requested length against the bytes that remain and
 * fails (returns false, position unchanged) instead of reading past the end.
 * nib supports little-endian hosts only (checked at build time in gguf_reader.c).
 */
#ifndef NIB_BYTE_READER_H
#define NIB_BYTE_READER_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

struct nib_byte_reader {
    const uint8_t *base;
    uint64_t       size;
    uint64_t       pos;   /* invariant: pos <= size */
};

static inline uint64_t nib_br_left(const struct nib_byte_reader *r) { return r->size - r->pos; }

static inline bool nib_br_read(struct nib_byte_reader *r, void *dst, uint64_t n) {
    if (n > nib_br_left(r)) return false;
    memcpy(dst, r->base + r->pos, (size_t)n);
    r->pos += n;
    return true;
}

static inline bool nib_br_skip(struct nib_byte_reader *r, uint64_t n) {
    if (n > nib_br_left(r)) return false;
    r->pos += n;
    return true;
}

static inline bool nib_br_u32(struct nib_byte_reader *r, uint32_t *v) { return nib_br_read(r, v, 4); }
static inline bool nib_br_u64(struct nib_byte_reader *r, uint64_t *v) { return nib_br_read(r, v, 8); }

#endif
