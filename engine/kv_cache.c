#include "kv_cache.h"

#include "error.h"

#include <stdlib.h>
#include <string.h>

int nib_kv_init(struct nib_kv_cache *kv, int32_t n_slots, int32_t n_layer, int32_t row, struct nib_error *err) {
    memset(kv, 0, sizeof(*kv));
    size_t n = (size_t)n_slots * (size_t)n_layer * (size_t)row;
    kv->n_slots = n_slots;
    kv->n_layer = n_layer;
    kv->row = row;
    kv->k = malloc(n * sizeof(uint16_t));
    kv->v = malloc(n * sizeof(uint16_t));
    kv->free_slots = malloc(sizeof(int32_t) * (size_t)n_slots);
    for (int s = 0; s < NIB_MAX_SEQ && kv->free_slots; s++)
        if (!(kv->seqs[s].slots = malloc(sizeof(int32_t) * (size_t)n_slots))) break;
    if (!kv->k || !kv->v || !kv->free_slots || !kv->seqs[NIB_MAX_SEQ - 1].slots) {
        nib_kv_free(kv);
        return nib_error_set(err, NIB_E_NOMEM, "out of memory for a KV cache of %d tokens (%zu MiB)", n_slots,
                             2 * n * sizeof(uint16_t) >> 20);
    }
    for (int32_t i = 0; i < n_slots; i++) kv->free_slots[i] = n_slots - 1 - i; /* slot 0 on top */
    kv->n_free = n_slots;
    return NIB_OK;
}

void nib_kv_free(struct nib_kv_cache *kv) {
    free(kv->k);
    free(kv->v);
    free(kv->free_slots);
    for (int s = 0; s < NIB_MAX_SEQ; s++) free(kv->seqs[s].slots);
    memset(kv, 0, sizeof(*kv));
}

int nib_kv_append(struct nib_kv_cache *kv, int32_t seq, int32_t n) {
    if (n > kv->n_free) return NIB_KV_FULL;
    struct nib_kv_seq *s = &kv->seqs[seq];
    for (int32_t i = 0; i < n; i++) s->slots[s->len++] = kv->free_slots[--kv->n_free];
    return NIB_OK;
}

void nib_kv_truncate(struct nib_kv_cache *kv, int32_t seq, int32_t n) {
    struct nib_kv_seq *s = &kv->seqs[seq];
    while (s->len > n) kv->free_slots[kv->n_free++] = s->slots[--s->len];
}
