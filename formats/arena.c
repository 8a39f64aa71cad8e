#include "arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NIB_ARENA_CHUNK (64 * 1024)

struct nib_arena_chunk {
    struct nib_arena_chunk *next;
    size_t used, cap;
    _Alignas(16) unsigned char mem[];
};

void *nib_arena_alloc(struct nib_arena *a, size_t n) {
    if (n > SIZE_MAX - 32) return NULL;
    n = (n + 15) & ~(size_t)15;
    struct nib_arena_chunk *c = a->head;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > NIB_ARENA_CHUNK ? n : NIB_ARENA_CHUNK;
        c = malloc(sizeof(*c) + cap);
        if (!c) return NULL;
        c->used = 0;
        c->cap = cap;
        /* Oversized blocks go behind the head so the head keeps its free space. */
        if (a->head && cap > NIB_ARENA_CHUNK) {
            c->next = a->head->next;
            a->head->next = c;
        } else {
            c->next = a->head;
            a->head = c;
        }
    }
    void *p = c->mem + c->used;
    c->used += n;
    memset(p, 0, n);
    return p;
}

char *nib_arena_strndup(struct nib_arena *a, const char *s, size_t n) {
    char *p = nib_arena_alloc(a, n + 1);
    if (!p) return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void nib_arena_free(struct nib_arena *a) {
    struct nib_arena_chunk *c = a->head;
    while (c) {
        struct nib_arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
}
