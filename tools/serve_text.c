/*
 * serve_text.c — UTF-8 assembly and stop-string hold-back for generated text
 * (see serve_text.h).
 */
#define _GNU_SOURCE /* memmem */
#include "serve_text.h"

#include <string.h>

void serve_text_init(struct serve_text *t, char *const *stops, int n_stops) {
    memset(t, 0, sizeof(*t));
    t->stops = stops;
    t->n_stops = n_stops;
}

/* Length of the longest suffix of s[0..n) that is a proper prefix of a stop string. */
static size_t held_suffix(const struct serve_text *t, const char *s, size_t n) {
    size_t best = 0;
    for (int k = 0; k < t->n_stops; k++) {
        const size_t ls = strlen(t->stops[k]);
        for (size_t len = ls - 1 < n ? ls - 1 : n; len > best; len--)
            if (memcmp(s + n - len, t->stops[k], len) == 0) {
                best = len;
                break;
            }
    }
    return best;
}

/* Releases held text up to the first stop string (then stops), or all but
 * the tail that could still become one (all of it when final). */
static int release(struct serve_text *t, struct serve_buf *out, bool final) {
    struct serve_buf *h = &t->held;
    size_t cut = h->n;
    for (int k = 0; k < t->n_stops; k++) {
        const char *hit = h->n ? memmem(h->p, h->n, t->stops[k], strlen(t->stops[k])) : NULL;
        if (hit && (size_t)(hit - h->p) < cut) cut = (size_t)(hit - h->p);
    }
    if (cut < h->n) {
        if (!serve_buf_append(out, h->p, cut)) return -1;
        h->n = 0;
        t->stopped = true;
        return 1;
    }
    const size_t keep = final ? 0 : held_suffix(t, h->p, h->n);
    if (!serve_buf_append(out, h->p, h->n - keep)) return -1;
    memmove(h->p, h->p + h->n - keep, keep);
    h->n = keep;
    return 0;
}

int serve_text_push(struct serve_text *t, const char *bytes, size_t n, struct serve_buf *out) {
    if (t->stopped) return 1;
    while (n) {
        char clean[3 * (256 + 4)];
        const size_t k = n < 256 ? n : 256;
        const size_t o = nib_utf8_stream_push(&t->utf8, bytes, k, clean);
        if (!serve_buf_append(&t->held, clean, o)) return -1;
        bytes += k;
        n -= k;
    }
    return release(t, out, false);
}

int serve_text_finish(struct serve_text *t, struct serve_buf *out) {
    if (t->stopped) return 1;
    char clean[16];
    const size_t o = nib_utf8_stream_finish(&t->utf8, clean);
    if (!serve_buf_append(&t->held, clean, o)) return -1;
    return release(t, out, true);
}

void serve_text_free(struct serve_text *t) { serve_buf_free(&t->held); }
