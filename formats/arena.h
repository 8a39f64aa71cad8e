/*
 * arena.h — a grow-only allocator for parsed metadata (strings, value arrays).
 * Everything allocated lives until nib_arena_free. Not thread-safe; owned by
 * one parser or writer.
 */
#ifndef NIB_ARENA_H
#define NIB_ARENA_H

#include <stddef.h>

struct nib_arena_chunk;

struct nib_arena {
    struct nib_arena_chunk *head;
};

/* 16-byte aligned, zeroed memory; NULL when out of memory. */
void *nib_arena_alloc(struct nib_arena *a, size_t n);
/* NUL-terminated copy of n bytes. */
char *nib_arena_strndup(struct nib_arena *a, const char *s, size_t n);
void  nib_arena_free(struct nib_arena *a);

#endif
