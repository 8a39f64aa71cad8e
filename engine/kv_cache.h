/*
 * kv_cache.h — the paged KV cache behind the interface the forward pass uses.
 *
 * Storage: for every layer and K/V head, that head's K and V rows (head_dim
 * values each) of n_blocks * block_size slots, one after another: a head's
 * rows are contiguous, so attention streams them (one slot's heads side by
 * side would put each head's rows a whole row apart, read 128 bytes at a
 * time at head_dim 64; measured 1.4x slower at 4000 keys).
 * Bookkeeping, kept apart from storage, is kv_blocks.h's block pool and
 * per-sequence block tables (fork shares
 * blocks, a write to a shared partly-filled block copies it first). For the
 * kernels each sequence also keeps the slot of every position it holds, so
 * attention reads K/V through one slot array whatever the block layout.
 * Owned by one context; not thread-safe.
 */
#ifndef NIB_KV_CACHE_H
#define NIB_KV_CACHE_H

#include "kv_blocks.h"
#include "nib.h"


#ifdef __cplusplus
extern "C" {
#endif
#define NIB_MAX_SEQ NIB_KV_MAX_SEQ

struct nib_kv_seq {
    int32_t  len;    /* positions held */
    int32_t *slots;  /* [n_slots]: slot of each position */
};

struct nib_kv_cache {
    int32_t   n_slots, n_layer;       /* n_slots = n_blocks * block_size */
    int32_t   n_head_kv, head_dim, row; /* row = n_head_kv * head_dim values (one slot, every head) */
    int       type;                   /* NIB_TYPE_F16 or NIB_TYPE_Q8_0 (head_dim % 32 == 0) */
    size_t    head_bytes, row_bytes;  /* bytes of one head's row of that type; of all heads' */
    uint8_t  *k, *v;                  /* [n_layer][n_head_kv][n_slots][head_bytes] */
    struct nib_kv_blocks blocks;
    struct nib_kv_seq seqs[NIB_MAX_SEQ];
    /* copy-on-write copies made since the owner last cleared n_cow (a GPU
     * mirror of the storage repeats them) */
    struct nib_kv_copy cow[NIB_MAX_SEQ];
    int32_t            n_cow;
};

/* A cache of at least n_tokens slots, in blocks of block_size, for n_head_kv
 * heads of head_dim values of `type` (F16, or Q8_0 when head_dim is a
 * multiple of 32). */
int  nib_kv_init(struct nib_kv_cache *kv, int32_t n_tokens, int32_t block_size, int32_t n_layer, int32_t n_head_kv,
                 int32_t head_dim, int type, struct nib_error *err);
void nib_kv_free(struct nib_kv_cache *kv);

/* Free blocks that appending n positions to seq needs. */
int32_t nib_kv_needed(const struct nib_kv_cache *kv, int32_t seq, int32_t n);
/* Appends n positions to seq; NIB_KV_FULL (and no change) when blocks run out. */
int  nib_kv_append(struct nib_kv_cache *kv, int32_t seq, int32_t n);
/* Keeps the first n positions of seq; whole blocks past them return to the pool. */
void nib_kv_truncate(struct nib_kv_cache *kv, int32_t seq, int32_t n);
/* dst becomes a copy of src that shares its blocks. */
void nib_kv_fork(struct nib_kv_cache *kv, int32_t dst, int32_t src);
/* Maps an empty seq's leading full blocks from the prefix cache (kv_blocks.h);
 * returns the positions now held. */
int32_t nib_kv_reuse_prefix(struct nib_kv_cache *kv, int32_t seq, const int32_t *tokens, int32_t n);

/* One head's K or V row of a slot (head_bytes of kv->type); the head's rows
 * of slots s and s + 1 are head_bytes apart. */
static inline void *nib_kv_k(const struct nib_kv_cache *kv, int32_t layer, int32_t head, int32_t slot) {
    return kv->k + (((size_t)layer * (size_t)kv->n_head_kv + (size_t)head) * (size_t)kv->n_slots + (size_t)slot) * kv->head_bytes;
}
static inline void *nib_kv_v(const struct nib_kv_cache *kv, int32_t layer, int32_t head, int32_t slot) {
    return kv->v + (((size_t)layer * (size_t)kv->n_head_kv + (size_t)head) * (size_t)kv->n_slots + (size_t)slot) * kv->head_bytes;
}

#ifdef __cplusplus
}
#endif
#endif
