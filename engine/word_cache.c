#include "word_cache.h"

#include "grow.h"

#include <stdlib.h>
#include <string.h>

#define SLOTS (1u << 15)

const int32_t *nib_word_cache_get(const struct nib_word_cache *c, const char *w, size_t len, uint32_t hash, uint32_t *n_ids) {
    if (!c->slots) return NULL;
    for (uint32_t i = hash & c->mask;; i = (i + 1) & c->mask) {
        const struct nib_word_entry *e = &c->slots[i];
        if (!e->len) return NULL;
        if (e->hash == hash && e->len == len && memcmp(c->text + e->text_off, w, len) == 0) {
            *n_ids = e->n_ids;
            return c->ids + e->ids_off;
        }
    }
}

static void clear(struct nib_word_cache *c) {
    memset(c->slots, 0, sizeof(*c->slots) * (c->mask + 1));
    c->used = 0;
    c->text_len = 0;
    c->ids_len = 0;
}


bool nib_word_cache_put(struct nib_word_cache *c, const char *w, size_t len, uint32_t hash, const int32_t *ids, uint32_t n_ids) {
    if (len == 0 || len > NIB_WORD_CACHE_MAX_LEN) return true;
    if (!c->slots) {
        c->slots = calloc(SLOTS, sizeof(*c->slots));
        if (!c->slots) return false;
        c->mask = SLOTS - 1;
    }
    if (c->used >= SLOTS / 2) clear(c);
    if (!nib_grow((void **)&c->text, &c->text_cap, c->text_len + len, 1) ||
        !nib_grow((void **)&c->ids, &c->ids_cap, c->ids_len + n_ids, sizeof(*c->ids)))
        return false;
    uint32_t i = hash & c->mask;
    while (c->slots[i].len) i = (i + 1) & c->mask;
    c->slots[i] = (struct nib_word_entry){ hash, (uint32_t)len, (uint32_t)c->text_len, (uint32_t)c->ids_len, n_ids };
    memcpy(c->text + c->text_len, w, len);
    if (n_ids) memcpy(c->ids + c->ids_len, ids, n_ids * sizeof(*ids));
    c->text_len += len;
    c->ids_len += n_ids;
    c->used++;
    return true;
}

void nib_word_cache_free(struct nib_word_cache *c) {
    free(c->slots);
    free(c->text);
    free(c->ids);
    memset(c, 0, sizeof(*c));
}
