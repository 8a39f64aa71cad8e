/*
 * kv_cache.h — the paged KV cache behind the interface the forward pass uses.
 *
 * Storage: for every layer, K and V rows (n_head_kv * head_dim fp16 values)
 * in n_blocks * block_size slots. Bookkeeping, kept apart from storage, is
 * kv_blocks.h's block pool and per-sequence block tables (fork shares
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
    int32_t   n_slots, n_layer, row;  /* n_slots = n_blocks * block_size; row = n_head_kv * head_dim values */
    int       type;                   /* NIB_TYPE_F16 or NIB_TYPE_Q8_0 (row % 32 == 0) */
    size_t    row_bytes;              /* bytes of one row of that type */
    uint8_t  *k, *v;                  /* [n_layer][n_slots][row_bytes] */
    struct nib_kv_blocks blocks;
    struct nib_kv_seq seqs[NIB_MAX_SEQ];
    /* copy-on-write copies made since the owner last cleared n_cow (a GPU
     * mirror of the storage repeats them) */
    struct nib_kv_copy cow[NIB_MAX_SEQ];
    int32_t            n_cow;
};

/* A cache of at least n_tokens slots, in blocks of block_size, rows of
 * `type` (F16, or Q8_0 when row is a multiple of 32). */
int  nib_kv_init(struct nib_kv_cache *kv, int32_t n_tokens, int32_t block_size, int32_t n_layer, int32_t row, int type,
                 struct nib_error *err);
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

/* The K or V row of a slot (bytes of kv->type). */
static inline void *nib_kv_k(const struct nib_kv_cache *kv, int32_t layer, int32_t slot) {
    return kv->k + ((size_t)layer * (size_t)kv->n_slots + (size_t)slot) * kv->row_bytes;
}
static inline void *nib_kv_v(const struct nib_kv_cache *kv, int32_t layer, int32_t slot) {
    return kv->v + ((size_t)layer * (size_t)kv->n_slots + (size_t)slot) * kv->row_bytes;
}

#ifdef __cplusplus
}
#endif
#endif
