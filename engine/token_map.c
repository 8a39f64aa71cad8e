#include "token_map.h"

#include "vocab.h"

#include <stdlib.h>
#include <string.h>

uint32_t nib_hash_bytes(const char *s, size_t n) {
    /* FNV-1a, then a final avalanche so low bits are usable as an index. */
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 16777619u;
    h ^= h >> 16;
    h *= 0x7feb352du;
    h ^= h >> 15;
    return h;
}

static uint32_t capacity_for(int64_t n) {
    uint32_t cap = 16;
    while ((int64_t)cap * 3 < n * 4 && cap < (1u << 31)) cap <<= 1; /* load factor <= 3/4 */
    return cap;
}

bool nib_token_map_init(struct nib_token_map *m, int64_t n) {
    uint32_t cap = capacity_for(n);
    m->mask = cap - 1;
    m->slots = malloc(sizeof(*m->slots) * cap);
    if (!m->slots) return false;
    for (uint32_t i = 0; i < cap; i++) m->slots[i].id = -1;
    return true;
}

int32_t nib_token_map_insert(struct nib_token_map *m, const struct nib_token_data *toks, int32_t id) {
    const struct nib_token_data *t = &toks[id];
    uint32_t h = nib_hash_bytes(t->text, t->len);
    for (uint32_t i = h & m->mask;; i = (i + 1) & m->mask) {
        struct nib_token_slot *sl = &m->slots[i];
        if (sl->id < 0) {
            *sl = (struct nib_token_slot){ id, h };
            return -1;
        }
        if (sl->hash == h && toks[sl->id].len == t->len && memcmp(toks[sl->id].text, t->text, t->len) == 0) return sl->id;
    }
}

int32_t nib_token_map_find(const struct nib_token_map *m, const struct nib_token_data *toks, const char *s, size_t n) {
    return nib_token_map_find_hashed(m, toks, s, n, nib_hash_bytes(s, n));
}

int32_t nib_token_map_find_hashed(const struct nib_token_map *m, const struct nib_token_data *toks, const char *s, size_t n,
                                  uint32_t h) {
    for (uint32_t i = h & m->mask;; i = (i + 1) & m->mask) {
        const struct nib_token_slot *sl = &m->slots[i];
        if (sl->id < 0) return -1;
        if (sl->hash == h && toks[sl->id].len == n && memcmp(toks[sl->id].text, s, n) == 0) return sl->id;
    }
}

void nib_token_map_free(struct nib_token_map *m) {
    free(m->slots);
    m->slots = NULL;
}

static uint32_t hash_pair(int32_t left, int32_t right) {
    uint64_t key = (uint64_t)(uint32_t)left << 32 | (uint32_t)right;
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdull;
    key ^= key >> 33;
    return (uint32_t)key;
}

bool nib_merge_map_init(struct nib_merge_map *m, int64_t n) {
    uint32_t cap = capacity_for(n);
    m->mask = cap - 1;
    m->slots = malloc(sizeof(*m->slots) * cap);
    if (!m->slots) return false;
    for (uint32_t i = 0; i < cap; i++) m->slots[i].left = -1;
    return true;
}

void nib_merge_map_prefetch(const struct nib_merge_map *m, int32_t left, int32_t right) {
    __builtin_prefetch(&m->slots[hash_pair(left, right) & m->mask], 1);
}

void nib_merge_map_insert(struct nib_merge_map *m, int32_t left, int32_t right, int32_t rank) {
    for (uint32_t i = hash_pair(left, right) & m->mask;; i = (i + 1) & m->mask) {
        struct nib_merge_slot *sl = &m->slots[i];
        if (sl->left < 0) {
            *sl = (struct nib_merge_slot){ left, right, rank };
            return;
        }
        if (sl->left == left && sl->right == right) return;
    }
}

int32_t nib_merge_map_find(const struct nib_merge_map *m, int32_t left, int32_t right) {
    if (!m->slots) return -1;
    for (uint32_t i = hash_pair(left, right) & m->mask;; i = (i + 1) & m->mask) {
        const struct nib_merge_slot *sl = &m->slots[i];
        if (sl->left == left && sl->right == right) return sl->rank;
        if (sl->left < 0) return -1;
    }
}

void nib_merge_map_free(struct nib_merge_map *m) {
    free(m->slots);
    m->slots = NULL;
}
