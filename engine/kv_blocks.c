/*
 * kv_blocks.c — block pool, block tables and the prefix cache (see
 * kv_blocks.h).
 */
#include "kv_blocks.h"

#include "error.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define NOT_CACHED (-2)

int nib_kv_blocks_init(struct nib_kv_blocks *b, int32_t n_blocks, int32_t block_size, struct nib_error *err) {
    memset(b, 0, sizeof(*b));
    if (n_blocks <= 0 || block_size <= 0)
        return nib_error_set(err, NIB_E_ARG, "KV cache: %d blocks of %d tokens", n_blocks, block_size);
    b->block_size = block_size;
    b->n_blocks = n_blocks;
    b->n_buckets = 1;
    while (b->n_buckets < 2 * n_blocks) b->n_buckets *= 2;
    const size_t nb = (size_t)n_blocks, slots = nb * (size_t)block_size;
    b->ref = calloc(nb, sizeof(int32_t));
    b->free_stack = malloc(sizeof(int32_t) * nb);
    b->hash = calloc(nb, sizeof(uint64_t));
    b->parent = malloc(sizeof(int32_t) * nb);
    b->tokens = malloc(sizeof(int32_t) * slots);
    b->bucket = malloc(sizeof(int32_t) * (size_t)b->n_buckets);
    b->chain = malloc(sizeof(int32_t) * nb);
    b->lru_prev = malloc(sizeof(int32_t) * nb);
    b->lru_next = malloc(sizeof(int32_t) * nb);
    bool ok = b->ref && b->free_stack && b->hash && b->parent && b->tokens && b->bucket && b->chain && b->lru_prev && b->lru_next;
    for (int s = 0; s < NIB_KV_MAX_SEQ && ok; s++)
        ok = (b->seq[s].blocks = malloc(sizeof(int32_t) * nb)) != NULL && (b->seq_tokens[s] = malloc(sizeof(int32_t) * slots)) != NULL;
    if (!ok) {
        nib_kv_blocks_free(b);
        return nib_error_set(err, NIB_E_NOMEM, "out of memory for the KV block tables (%d blocks)", n_blocks);
    }
    for (int32_t i = 0; i < n_blocks; i++) {
        b->free_stack[i] = n_blocks - 1 - i; /* block 0 on top */
        b->parent[i] = NOT_CACHED;
    }
    for (int32_t i = 0; i < b->n_buckets; i++) b->bucket[i] = -1;
    b->n_stack = b->n_free = n_blocks;
    b->lru_head = b->lru_tail = -1;
    return NIB_OK;
}

void nib_kv_blocks_free(struct nib_kv_blocks *b) {
    free(b->ref);
    free(b->free_stack);
    free(b->hash);
    free(b->parent);
    free(b->tokens);
    free(b->bucket);
    free(b->chain);
    free(b->lru_prev);
    free(b->lru_next);
    for (int s = 0; s < NIB_KV_MAX_SEQ; s++) {
        free(b->seq[s].blocks);
        free(b->seq_tokens[s]);
    }
    memset(b, 0, sizeof(*b));
}

/* ---- the cache's hash table and LRU list ---- */

static uint64_t mix(uint64_t h, const int32_t *t, int32_t n) { /* FNV-1a over the token bytes, seeded by the prefix */
    for (int32_t i = 0; i < n; i++)
        for (int k = 0; k < 4; k++) h = (h ^ ((uint32_t)t[i] >> (8 * k) & 0xFF)) * 0x100000001b3ull;
    return h;
}

static void lru_remove(struct nib_kv_blocks *b, int32_t blk) {
    const int32_t p = b->lru_prev[blk], n = b->lru_next[blk];
    if (p >= 0) b->lru_next[p] = n;
    else b->lru_head = n;
    if (n >= 0) b->lru_prev[n] = p;
    else b->lru_tail = p;
}

static void lru_push(struct nib_kv_blocks *b, int32_t blk) {
    b->lru_prev[blk] = b->lru_tail;
    b->lru_next[blk] = -1;
    if (b->lru_tail >= 0) b->lru_next[b->lru_tail] = blk;
    else b->lru_head = blk;
    b->lru_tail = blk;
}

static void uncache(struct nib_kv_blocks *b, int32_t blk) {
    if (b->parent[blk] == NOT_CACHED) return;
    int32_t *at = &b->bucket[b->hash[blk] & (uint64_t)(b->n_buckets - 1)];
    while (*at != blk) at = &b->chain[*at];
    *at = b->chain[blk];
    b->parent[blk] = NOT_CACHED;
}

/* ---- the pool ---- */

static void unref(struct nib_kv_blocks *b, int32_t blk) {
    if (--b->ref[blk] > 0) return;
    if (b->parent[blk] != NOT_CACHED) lru_push(b, blk); /* stays findable until evicted */
    else b->free_stack[b->n_stack++] = blk;
    b->n_free++;
}

static int32_t take(struct nib_kv_blocks *b) {
    int32_t blk;
    if (b->n_stack > 0) {
        blk = b->free_stack[--b->n_stack];
    } else { /* evict the cached block released longest ago */
        blk = b->lru_head;
        lru_remove(b, blk);
        uncache(b, blk);
    }
    b->n_free--;
    b->ref[blk] = 1;
    return blk;
}

static void hold(struct nib_kv_blocks *b, int32_t blk) {
    if (b->ref[blk]++ == 0) { /* a cached block back in use */
        lru_remove(b, blk);
        b->n_free--;
    }
}

/* The last block is shared and has rows past which this sequence would write. */
static bool needs_copy(const struct nib_kv_blocks *b, const struct nib_kv_table *t) {
    return t->len % b->block_size != 0 && b->ref[t->blocks[t->n - 1]] > 1;
}

int32_t nib_kv_blocks_needed(const struct nib_kv_blocks *b, int32_t seq, int32_t n) {
    const struct nib_kv_table *t = &b->seq[seq];
    if (n <= 0) return 0;
    const int32_t have = t->n * b->block_size; /* positions the table's blocks can hold */
    const int32_t fresh = t->len + n > have ? (t->len + n - have + b->block_size - 1) / b->block_size : 0;
    return fresh + (needs_copy(b, t) ? 1 : 0);
}

int nib_kv_blocks_append(struct nib_kv_blocks *b, int32_t seq, int32_t n, struct nib_kv_copy *copy) {
    struct nib_kv_table *t = &b->seq[seq];
    copy->n = 0;
    if (n <= 0) return NIB_OK;
    if (nib_kv_blocks_needed(b, seq, n) > b->n_free) return NIB_KV_FULL;
    if (needs_copy(b, t)) {
        const int32_t old = t->blocks[t->n - 1], blk = take(b);
        *copy = (struct nib_kv_copy){ .src = old, .dst = blk, .n = t->len % b->block_size };
        b->ref[old]--; /* still > 0: another sequence holds it */
        t->blocks[t->n - 1] = blk;
    } else if (t->len % b->block_size != 0) {
        uncache(b, t->blocks[t->n - 1]); /* written in place: its cached content is gone */
    }
    for (int32_t p = t->len; p < t->len + n; p++) b->seq_tokens[seq][p] = -1;
    t->len += n;
    while (t->n * b->block_size < t->len) t->blocks[t->n++] = take(b);
    return NIB_OK;
}

void nib_kv_blocks_truncate(struct nib_kv_blocks *b, int32_t seq, int32_t n) {
    struct nib_kv_table *t = &b->seq[seq];
    if (n < 0) n = 0;
    if (n >= t->len) return;
    t->len = n;
    const int32_t keep = (n + b->block_size - 1) / b->block_size;
    while (t->n > keep) unref(b, t->blocks[--t->n]);
}

void nib_kv_blocks_fork(struct nib_kv_blocks *b, int32_t dst, int32_t src) {
    if (dst == src) return;
    nib_kv_blocks_truncate(b, dst, 0);
    struct nib_kv_table *d = &b->seq[dst];
    const struct nib_kv_table *s = &b->seq[src];
    for (int32_t i = 0; i < s->n; i++) hold(b, d->blocks[i] = s->blocks[i]);
    d->n = s->n;
    d->len = s->len;
    memcpy(b->seq_tokens[dst], b->seq_tokens[src], sizeof(int32_t) * (size_t)s->len);
}

/* Caches block i of seq if it is full and all its tokens, and its parent's, are known. */
static void cache_block(struct nib_kv_blocks *b, int32_t seq, int32_t i) {
    const struct nib_kv_table *t = &b->seq[seq];
    const int32_t bs = b->block_size, blk = t->blocks[i];
    const int32_t *tok = b->seq_tokens[seq] + (size_t)i * (size_t)bs;
    if (b->parent[blk] != NOT_CACHED || (i + 1) * bs > t->len) return;
    for (int32_t k = 0; k < bs; k++)
        if (tok[k] < 0) return;
    const int32_t par = i ? t->blocks[i - 1] : -1;
    if (par >= 0 && b->parent[par] == NOT_CACHED) return; /* its prefix is not cached: no key */
    const uint64_t h = mix(par >= 0 ? b->hash[par] : 0xcbf29ce484222325ull, tok, bs);
    b->hash[blk] = h;
    b->parent[blk] = par;
    memcpy(b->tokens + (size_t)blk * (size_t)bs, tok, sizeof(int32_t) * (size_t)bs);
    int32_t *head = &b->bucket[h & (uint64_t)(b->n_buckets - 1)];
    b->chain[blk] = *head;
    *head = blk;
}

void nib_kv_blocks_set_tokens(struct nib_kv_blocks *b, int32_t seq, int32_t pos, const int32_t *tokens, int32_t n) {
    const int32_t bs = b->block_size;
    memcpy(b->seq_tokens[seq] + pos, tokens, sizeof(int32_t) * (size_t)n);
    for (int32_t i = pos / bs; i < (pos + n) / bs; i++) cache_block(b, seq, i);
}

int32_t nib_kv_blocks_reuse_prefix(struct nib_kv_blocks *b, int32_t seq, const int32_t *tokens, int32_t n) {
    struct nib_kv_table *t = &b->seq[seq];
    const int32_t bs = b->block_size;
    if (t->len != 0) return 0;
    uint64_t h = 0xcbf29ce484222325ull;
    int32_t par = -1, i = 0;
    for (; (i + 1) * bs < n; i++) { /* leave at least one token to compute */
        const int32_t *tok = tokens + (size_t)i * (size_t)bs;
        h = mix(h, tok, bs);
        int32_t blk = b->bucket[h & (uint64_t)(b->n_buckets - 1)];
        while (blk >= 0 && !(b->hash[blk] == h && b->parent[blk] == par &&
                             !memcmp(b->tokens + (size_t)blk * (size_t)bs, tok, sizeof(int32_t) * (size_t)bs)))
            blk = b->chain[blk];
        if (blk < 0) break;
        hold(b, blk);
        t->blocks[t->n++] = blk;
        par = blk;
    }
    t->len = i * bs;
    memcpy(b->seq_tokens[seq], tokens, sizeof(int32_t) * (size_t)t->len);
    return t->len;
}
