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
    while ((int64_t)cap < n * 2 && cap < (1u << 31)) cap <<= 1;
    return cap;
}

bool nib_token_map_init(struct nib_token_map *m, int64_t n) {
    uint32_t cap = capacity_for(n);
    m->mask = cap - 1;
    m->slots = malloc(sizeof(*m->slots) * cap);
    m->hashes = malloc(sizeof(*m->hashes) * cap);
    if (!m->slots || !m->hashes) return false;
    memset(m->slots, 0xff, sizeof(*m->slots) * cap);
    return true;
}

int32_t nib_token_map_insert(struct nib_token_map *m, const struct nib_token_data *toks, int32_t id) {
    const struct nib_token_data *t = &toks[id];
    uint32_t h = nib_hash_bytes(t->text, t->len);
    for (uint32_t i = h & m->mask;; i = (i + 1) & m->mask) {
        int32_t s = m->slots[i];
        if (s < 0) {
            m->slots[i] = id;
            m->hashes[i] = h;
            return -1;
        }
        if (m->hashes[i] == h && toks[s].len == t->len && memcmp(toks[s].text, t->text, t->len) == 0) return s;
    }
}

int32_t nib_token_map_find(const struct nib_token_map *m, const struct nib_token_data *toks, const char *s, size_t n) {
    uint32_t h = nib_hash_bytes(s, n);
    for (uint32_t i = h & m->mask;; i = (i + 1) & m->mask) {
        int32_t id = m->slots[i];
        if (id < 0) return -1;
        if (m->hashes[i] == h && toks[id].len == n && memcmp(toks[id].text, s, n) == 0) return id;
    }
}

void nib_token_map_free(struct nib_token_map *m) {
    free(m->slots);
    free(m->hashes);
    m->slots = NULL;
    m->hashes = NULL;
}

static uint32_t hash_pair(uint64_t key) {
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdull;
    key ^= key >> 33;
    return (uint32_t)key;
}

bool nib_merge_map_init(struct nib_merge_map *m, int64_t n) {
    uint32_t cap = capacity_for(n);
    m->mask = cap - 1;
    m->keys = malloc(sizeof(*m->keys) * cap);
    m->ranks = malloc(sizeof(*m->ranks) * cap);
    if (!m->keys || !m->ranks) return false;
    memset(m->keys, 0xff, sizeof(*m->keys) * cap);
    return true;
}

void nib_merge_map_insert(struct nib_merge_map *m, int32_t left, int32_t right, int32_t rank) {
    uint64_t key = (uint64_t)(uint32_t)left << 32 | (uint32_t)right;
    for (uint32_t i = hash_pair(key) & m->mask;; i = (i + 1) & m->mask) {
        if (m->keys[i] == UINT64_MAX) {
            m->keys[i] = key;
            m->ranks[i] = rank;
            return;
        }
        if (m->keys[i] == key) return;
    }
}

int32_t nib_merge_map_find(const struct nib_merge_map *m, int32_t left, int32_t right) {
    if (!m->keys) return -1;
    uint64_t key = (uint64_t)(uint32_t)left << 32 | (uint32_t)right;
    for (uint32_t i = hash_pair(key) & m->mask;; i = (i + 1) & m->mask) {
        if (m->keys[i] == key) return m->ranks[i];
        if (m->keys[i] == UINT64_MAX) return -1;
    }
}

void nib_merge_map_free(struct nib_merge_map *m) {
    free(m->keys);
    free(m->ranks);
    m->keys = NULL;
    m->ranks = NULL;
}
