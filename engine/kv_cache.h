/*
 * kv_cache.h — the KV cache behind the interface the forward pass uses.
 *
 * Storage: for every layer, K and V rows (n_head_kv * head_dim fp16 values)
 * in a pool of n_slots slots. Bookkeeping, kept apart from storage: each
 * sequence has a table mapping its positions 0..len-1 to slots, and free
 * slots sit on a stack. Attention reads K/V through that table, so a paged
 * cache (blocks of slots, shared prefixes) can replace the bookkeeping
 * without touching the kernels. Owned by one context; not thread-safe.
 */
#ifndef NIB_KV_CACHE_H
#define NIB_KV_CACHE_H

#include "nib.h"

#define NIB_MAX_SEQ 64

struct nib_kv_seq {
    int32_t  len;    /* positions held */
    int32_t *slots;  /* [n_slots]: slot of each position */
};

struct nib_kv_cache {
    int32_t   n_slots, n_layer, row;  /* row = n_head_kv * head_dim values */
    uint16_t *k, *v;                  /* [n_layer][n_slots][row] fp16 */
    int32_t  *free_slots;             /* stack of free slots */
    int32_t   n_free;
    struct nib_kv_seq seqs[NIB_MAX_SEQ];
};

int  nib_kv_init(struct nib_kv_cache *kv, int32_t n_slots, int32_t n_layer, int32_t row, struct nib_error *err);
void nib_kv_free(struct nib_kv_cache *kv);

/* Appends n positions to seq; NIB_KV_FULL (and no change) when slots run out. */
int  nib_kv_append(struct nib_kv_cache *kv, int32_t seq, int32_t n);
/* Keeps the first n positions of seq, returning the rest's slots. */
void nib_kv_truncate(struct nib_kv_cache *kv, int32_t seq, int32_t n);

static inline uint16_t *nib_kv_k(const struct nib_kv_cache *kv, int32_t layer, int32_t slot) {
    return kv->k + ((size_t)layer * (size_t)kv->n_slots + (size_t)slot) * (size_t)kv->row;
}
static inline uint16_t *nib_kv_v(const struct nib_kv_cache *kv, int32_t layer, int32_t slot) {
    return kv->v + ((size_t)layer * (size_t)kv->n_slots + (size_t)slot) * (size_t)kv->row;
}

#endif
