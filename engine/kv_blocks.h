/*
 * kv_blocks.h — the bookkeeping of the paged KV cache (storage lives in
 * kv_cache.c): a pool of fixed-size blocks with reference counts and a free
 * stack, and per sequence a block table (vLLM's layout): position p of a
 * sequence lives in slot table[p / block_size] * block_size + p % block_size.
 *
 *  - fork: a child sequence shares all of its parent's blocks (refcount + 1
 *    each); nothing is copied.
 *  - append: new positions go to the table's last block while it has room,
 *    then to fresh blocks. A shared last block that is only partly filled is
 *    copied first (copy-on-write): the caller copies the rows the returned
 *    nib_kv_copy names, so a write never shows through another sequence.
 *  - truncate(n): drops positions >= n; blocks no longer used by the
 *    sequence lose one reference, and return to the free stack at zero.
 *  - prefix caching: a full block whose tokens are known (append_tokens) is
 *    registered under the hash of all tokens up to its end; when its last
 *    holder lets it go it stays cached (least recently released first out)
 *    until the pool needs it. reuse_prefix maps a new sequence's leading
 *    full blocks onto cached ones, checked token by token and parent by
 *    parent, so a hit is exact.
 * Every call either succeeds or changes nothing (NIB_KV_FULL when blocks run
 * out). Not thread-safe: one context owns it.
 */
#ifndef NIB_KV_BLOCKS_H
#define NIB_KV_BLOCKS_H

#include <stdint.h>

#include "nib.h"


#ifdef __cplusplus
extern "C" {
#endif
#define NIB_KV_MAX_SEQ 64

struct nib_kv_table {
    int32_t  len;     /* positions held */
    int32_t  n;       /* blocks in the table: ceil(len / block_size) */
    int32_t *blocks;  /* [n_blocks]: the table */
};

struct nib_kv_blocks {
    int32_t  block_size, n_blocks;
    int32_t *ref;        /* [n_blocks]: sequences holding each block */
    int32_t *free_stack; /* [n_blocks]: unreferenced blocks with nothing cached */
    int32_t  n_free;     /* blocks an append can take: free stack + cached LRU */
    int32_t  n_stack;
    /* prefix cache */
    uint64_t *hash;      /* [n_blocks]: hash of the tokens up to the block's end */
    int32_t  *parent;    /* [n_blocks]: the block before it in its sequence, -1 first, -2 not cached */
    int32_t  *tokens;    /* [n_blocks][block_size] */
    int32_t  *bucket, *chain; /* hash table: bucket heads [n_buckets], next in bucket [n_blocks] */
    int32_t   n_buckets;
    int32_t  *lru_prev, *lru_next, lru_head, lru_tail; /* cached, unreferenced blocks; head = oldest */
    int32_t  *seq_tokens[NIB_KV_MAX_SEQ]; /* [n_blocks * block_size]: tokens each sequence holds, -1 unknown */
    struct nib_kv_table seq[NIB_KV_MAX_SEQ];
};

/* A copy-on-write order: rows [0, n) of block src go to block dst. */
struct nib_kv_copy {
    int32_t src, dst, n;
};

int  nib_kv_blocks_init(struct nib_kv_blocks *b, int32_t n_blocks, int32_t block_size, struct nib_error *err);
void nib_kv_blocks_free(struct nib_kv_blocks *b);

/* Free blocks an append of n positions to seq takes (copy-on-write included). */
int32_t nib_kv_blocks_needed(const struct nib_kv_blocks *b, int32_t seq, int32_t n);
/* Appends n positions to seq. *copy gets a copy order (copy->n == 0: none). */
int  nib_kv_blocks_append(struct nib_kv_blocks *b, int32_t seq, int32_t n, struct nib_kv_copy *copy);
void nib_kv_blocks_truncate(struct nib_kv_blocks *b, int32_t seq, int32_t n);
/* dst (emptied first) shares src's blocks. */
void nib_kv_blocks_fork(struct nib_kv_blocks *b, int32_t dst, int32_t src);
/* Records the tokens of positions [pos, pos + n) of seq (after an append of
 * them) and caches the blocks they complete. */
void nib_kv_blocks_set_tokens(struct nib_kv_blocks *b, int32_t seq, int32_t pos, const int32_t *tokens, int32_t n);
/* For an empty seq about to take tokens[0..n): maps the longest run of
 * leading full blocks found in the cache, leaving at least one token to
 * compute; returns the positions mapped (a multiple of block_size). */
int32_t nib_kv_blocks_reuse_prefix(struct nib_kv_blocks *b, int32_t seq, const int32_t *tokens, int32_t n);

static inline int32_t nib_kv_blocks_slot(const struct nib_kv_blocks *b, int32_t seq, int32_t pos) {
    return b->seq[seq].blocks[pos / b->block_size] * b->block_size + pos % b->block_size;
}

#ifdef __cplusplus
}
#endif
#endif
