/*
 * kv_blocks.c — block pool and block tables (see kv_blocks.h).
 */
#include "kv_blocks.h"

#include "error.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

int nib_kv_blocks_init(struct nib_kv_blocks *b, int32_t n_blocks, int32_t block_size, struct nib_error *err) {
    memset(b, 0, sizeof(*b));
    if (n_blocks <= 0 || block_size <= 0)
        return nib_error_set(err, NIB_E_ARG, "KV cache: %d blocks of %d tokens", n_blocks, block_size);
    b->block_size = block_size;
    b->n_blocks = n_blocks;
    b->ref = calloc((size_t)n_blocks, sizeof(int32_t));
    b->free_stack = malloc(sizeof(int32_t) * (size_t)n_blocks);
    bool ok = b->ref && b->free_stack;
    for (int s = 0; s < NIB_KV_MAX_SEQ && ok; s++) ok = (b->seq[s].blocks = malloc(sizeof(int32_t) * (size_t)n_blocks)) != NULL;
    if (!ok) {
        nib_kv_blocks_free(b);
        return nib_error_set(err, NIB_E_NOMEM, "out of memory for the KV block tables (%d blocks)", n_blocks);
    }
    for (int32_t i = 0; i < n_blocks; i++) b->free_stack[i] = n_blocks - 1 - i; /* block 0 on top */
    b->n_free = n_blocks;
    return NIB_OK;
}

void nib_kv_blocks_free(struct nib_kv_blocks *b) {
    free(b->ref);
    free(b->free_stack);
    for (int s = 0; s < NIB_KV_MAX_SEQ; s++) free(b->seq[s].blocks);
    memset(b, 0, sizeof(*b));
}

static void unref(struct nib_kv_blocks *b, int32_t blk) {
    if (--b->ref[blk] == 0) b->free_stack[b->n_free++] = blk;
}

static int32_t take(struct nib_kv_blocks *b) {
    const int32_t blk = b->free_stack[--b->n_free];
    b->ref[blk] = 1;
    return blk;
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
    }
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
    for (int32_t i = 0; i < s->n; i++) b->ref[d->blocks[i] = s->blocks[i]]++;
    d->n = s->n;
    d->len = s->len;
}
