#include "tok_scratch.h"

#include "vocab_internal.h"

#include "token_map.h"

#include <stdlib.h>
#include <string.h>


struct nib_tok_scratch *nib_tok_scratch_new(void) { return calloc(1, sizeof(struct nib_tok_scratch)); }

void nib_tok_scratch_free(struct nib_tok_scratch *s) {
    if (!s) return;
    nib_pre_scratch_free(&s->pre);
    free(s->syms);
    free(s->heap);
    free(s->text);
    free(s->frags);
    free(s->frags2);
    free(s->wids);
    nib_word_cache_free(&s->cache);
    free(s);
}

bool nib_heap_push(struct nib_tok_scratch *s, const struct nib_bigram *b, nib_bigram_before before) {
    if (!NIB_SCRATCH_RESERVE(s, heap, s->n_heap + 1)) return false;
    size_t i = s->n_heap++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!before(b, &s->heap[parent])) break;
        s->heap[i] = s->heap[parent];
        i = parent;
    }
    s->heap[i] = *b;
    return true;
}

struct nib_bigram nib_heap_pop(struct nib_tok_scratch *s, nib_bigram_before before) {
    struct nib_bigram top = s->heap[0];
    struct nib_bigram last = s->heap[--s->n_heap];
    size_t n = s->n_heap, i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && before(&s->heap[c + 1], &s->heap[c])) c++;
        if (!before(&s->heap[c], &last)) break;
        s->heap[i] = s->heap[c];
        i = c;
    }
    if (n) s->heap[i] = last;
    return top;
}

int nib_tokenize_word_cached(const struct nib_vocab *v, const char *w, int32_t len, struct nib_tok_scratch *s,
                             struct nib_id_out *out, nib_word_fn fn) {
    uint32_t hash = nib_hash_bytes(w, (size_t)len), n_ids;
    const int32_t *hit = nib_word_cache_get(&s->cache, w, (size_t)len, hash, &n_ids);
    if (hit) {
        for (uint32_t i = 0; i < n_ids; i++) nib_id_push(out, hit[i]);
        return NIB_OK;
    }
    if (!NIB_SCRATCH_RESERVE(s, wids, (size_t)len + 1)) return NIB_E_NOMEM;
    struct nib_id_out tmp = { s->wids, (int64_t)len + 1, 0 };
    int rc = fn(v, w, len, s, &tmp);
    if (rc) return rc;
    if (!nib_word_cache_put(&s->cache, w, (size_t)len, hash, s->wids, (uint32_t)tmp.n)) return NIB_E_NOMEM;
    for (int64_t i = 0; i < tmp.n; i++) nib_id_push(out, s->wids[i]);
    return NIB_OK;
}
