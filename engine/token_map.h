/*
 * token_map.h — open-addressing hash tables used by the vocabulary:
 *   nib_token_map: token text -> id (keys are the vocab's own token texts)
 *   nib_merge_map: BPE merge (left id, right id) -> rank
 * Built once, then read-only (safe to query from many threads).
 */
#ifndef NIB_TOKEN_MAP_H
#define NIB_TOKEN_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct nib_token_data;

struct nib_token_slot {
    int32_t  id;   /* -1: empty */
    uint32_t hash; /* full hash, to skip most string compares */
};

struct nib_token_map {
    uint32_t               mask;  /* capacity - 1; capacity a power of two */
    struct nib_token_slot *slots;
};

/* Capacity for n keys; false when out of memory. */
bool    nib_token_map_init(struct nib_token_map *m, int64_t n);
/* Inserts id; returns the id already holding that text, or -1 if new. */
int32_t nib_token_map_insert(struct nib_token_map *m, const struct nib_token_data *toks, int32_t id);
int32_t nib_token_map_find(const struct nib_token_map *m, const struct nib_token_data *toks, const char *s, size_t n);
/* The same with the hash of s already computed (nib_hash_bytes). */
int32_t nib_token_map_find_hashed(const struct nib_token_map *m, const struct nib_token_data *toks, const char *s, size_t n,
                                  uint32_t hash);
static inline void nib_token_map_prefetch(const struct nib_token_map *m, uint32_t hash) {
    __builtin_prefetch(&m->slots[hash & m->mask]);
}
void    nib_token_map_free(struct nib_token_map *m);

uint32_t nib_hash_bytes(const char *s, size_t n);

struct nib_merge_slot {
    int32_t left, right; /* left -1: empty */
    int32_t rank;
};

struct nib_merge_map {
    uint32_t               mask;
    struct nib_merge_slot *slots;
};

bool    nib_merge_map_init(struct nib_merge_map *m, int64_t n);
/* Keeps the first (lowest) rank when a pair repeats, as llama.cpp's emplace does. */
void    nib_merge_map_insert(struct nib_merge_map *m, int32_t left, int32_t right, int32_t rank);
void    nib_merge_map_prefetch(const struct nib_merge_map *m, int32_t left, int32_t right);
int32_t nib_merge_map_find(const struct nib_merge_map *m, int32_t left, int32_t right); /* -1: none */
void    nib_merge_map_free(struct nib_merge_map *m);

#endif
