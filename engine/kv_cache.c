/*
 * kv_cache.c — K/V storage over kv_blocks.c's bookkeeping (see kv_cache.h).
 */
#include "kv_cache.h"

#include "error.h"
#include "type_traits.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

int nib_kv_init(struct nib_kv_cache *kv, int32_t n_tokens, int32_t block_size, int32_t n_layer, int32_t n_head_kv,
                int32_t head_dim, int type, struct nib_error *err) {
    memset(kv, 0, sizeof(*kv));
    if (block_size <= 0 || n_tokens <= 0)
        return nib_error_set(err, NIB_E_ARG, "KV cache: %d tokens in blocks of %d", n_tokens, block_size);
    if (type != NIB_TYPE_F16 && type != NIB_TYPE_Q8_0)
        return nib_error_set(err, NIB_E_ARG, "KV cache: type %s is not supported (f16 or q8_0)", nib_type_name(type));
    if (type == NIB_TYPE_Q8_0 && head_dim % 32 != 0)
        return nib_error_set(err, NIB_E_ARG, "KV cache: q8_0 needs a head dim that is a multiple of 32 (this model: %d)",
                             head_dim);
    const int32_t n_blocks = (int32_t)(((int64_t)n_tokens + block_size - 1) / block_size);
    int rc = nib_kv_blocks_init(&kv->blocks, n_blocks, block_size, err);
    if (rc) return rc;
    kv->n_slots = n_blocks * block_size;
    kv->n_layer = n_layer;
    kv->n_head_kv = n_head_kv;
    kv->head_dim = head_dim;
    kv->row = n_head_kv * head_dim;
    kv->type = type;
    kv->head_bytes = type == NIB_TYPE_F16 ? (size_t)head_dim * 2 : (size_t)(head_dim / 32) * 34;
    kv->row_bytes = (size_t)n_head_kv * kv->head_bytes;
    const size_t n = (size_t)kv->n_slots * (size_t)n_layer * kv->row_bytes;
    /* 64-byte aligned: a head's fp16 rows (128 bytes at head_dim 64) then
     * sit in whole cache lines, and no vector load of one splits a line */
    const size_t n_alloc = (n + 63) / 64 * 64; /* aligned_alloc takes whole multiples */
    kv->k = aligned_alloc(64, n_alloc);
    kv->v = aligned_alloc(64, n_alloc);
    bool ok = kv->k && kv->v;
    for (int s = 0; s < NIB_MAX_SEQ && ok; s++) ok = (kv->seqs[s].slots = malloc(sizeof(int32_t) * (size_t)kv->n_slots)) != NULL;
    if (!ok) {
        nib_kv_free(kv);
        return nib_error_set(err, NIB_E_NOMEM, "out of memory for a KV cache of %d tokens (%zu MiB)", n_tokens, 2 * n >> 20);
    }
    return NIB_OK;
}

void nib_kv_free(struct nib_kv_cache *kv) {
    free(kv->k);
    free(kv->v);
    for (int s = 0; s < NIB_MAX_SEQ; s++) free(kv->seqs[s].slots);
    nib_kv_blocks_free(&kv->blocks);
    memset(kv, 0, sizeof(*kv));
}

int32_t nib_kv_needed(const struct nib_kv_cache *kv, int32_t seq, int32_t n) { return nib_kv_blocks_needed(&kv->blocks, seq, n); }

/* Slots of positions [from, to) of seq from its block table. */
static void refresh_slots(struct nib_kv_cache *kv, int32_t seq, int32_t from, int32_t to) {
    for (int32_t p = from; p < to; p++) kv->seqs[seq].slots[p] = nib_kv_blocks_slot(&kv->blocks, seq, p);
}

int nib_kv_append(struct nib_kv_cache *kv, int32_t seq, int32_t n) {
    struct nib_kv_copy cp;
    const int32_t old = kv->seqs[seq].len;
    int rc = nib_kv_blocks_append(&kv->blocks, seq, n, &cp);
    if (rc) return rc;
    if (cp.n) { /* copy-on-write: the shared block's rows this sequence holds, every layer and head */
        const int32_t bs = kv->blocks.block_size;
        const size_t bytes = (size_t)cp.n * kv->head_bytes;
        for (int32_t l = 0; l < kv->n_layer; l++)
            for (int32_t h = 0; h < kv->n_head_kv; h++) {
                memcpy(nib_kv_k(kv, l, h, cp.dst * bs), nib_kv_k(kv, l, h, cp.src * bs), bytes);
                memcpy(nib_kv_v(kv, l, h, cp.dst * bs), nib_kv_v(kv, l, h, cp.src * bs), bytes);
            }
        refresh_slots(kv, seq, old - cp.n, old);
        if (kv->n_cow < NIB_MAX_SEQ) kv->cow[kv->n_cow++] = cp;
    }
    refresh_slots(kv, seq, old, old + n);
    kv->seqs[seq].len = old + n;
    return NIB_OK;
}

void nib_kv_truncate(struct nib_kv_cache *kv, int32_t seq, int32_t n) {
    nib_kv_blocks_truncate(&kv->blocks, seq, n);
    kv->seqs[seq].len = kv->blocks.seq[seq].len;
}

void nib_kv_fork(struct nib_kv_cache *kv, int32_t dst, int32_t src) {
    if (dst == src) return;
    nib_kv_blocks_fork(&kv->blocks, dst, src);
    kv->seqs[dst].len = kv->seqs[src].len;
    memcpy(kv->seqs[dst].slots, kv->seqs[src].slots, sizeof(int32_t) * (size_t)kv->seqs[src].len);
}

int32_t nib_kv_reuse_prefix(struct nib_kv_cache *kv, int32_t seq, const int32_t *tokens, int32_t n) {
    const int32_t got = nib_kv_blocks_reuse_prefix(&kv->blocks, seq, tokens, n);
    refresh_slots(kv, seq, 0, got);
    kv->seqs[seq].len = got;
    return got;
}
