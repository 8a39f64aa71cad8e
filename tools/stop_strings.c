#define _GNU_SOURCE /* memmem */
#include "stop_strings.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void stop_filter_init(struct stop_filter *f, const char *const *stops, int n_stops, bool print) {
    memset(f, 0, sizeof(*f));
    f->stops = stops;
    f->n_stops = n_stops;
    f->print = print;
}

static void emit(struct stop_filter *f, const char *p, size_t n) {
    if (!f->print || !n) return;
    char out[3 * 256 + 16];
    while (n) {
        size_t k = n < 256 ? n : 256;
        size_t o = nib_utf8_stream_push(&f->utf8, p, k, out);
        fwrite(out, 1, o, stdout);
        p += k;
        n -= k;
    }
    fflush(stdout);
}

/* Length of the longest suffix of s[0..n) that is a proper prefix of a stop string. */
static size_t held_suffix(const struct stop_filter *f, const char *s, size_t n) {
    size_t best = 0;
    for (int k = 0; k < f->n_stops; k++) {
        size_t ls = strlen(f->stops[k]);
        for (size_t len = ls - 1 < n ? ls - 1 : n; len > best; len--)
            if (memcmp(s + n - len, f->stops[k], len) == 0) {
                best = len;
                break;
            }
    }
    return best;
}

bool stop_filter_push(struct stop_filter *f, const char *bytes, size_t n) {
    if (f->stopped) return true;
    if (f->n_pending + n > f->cap) {
        size_t cap = (f->n_pending + n) * 2 + 64;
        char *p = realloc(f->pending, cap);
        if (!p) {
            emit(f, f->pending, f->n_pending); /* cannot hold back: print and carry on */
            f->n_pending = 0;
            emit(f, bytes, n);
            return false;
        }
        f->pending = p;
        f->cap = cap;
    }
    memcpy(f->pending + f->n_pending, bytes, n);
    f->n_pending += n;
    size_t cut = f->n_pending;
    for (int k = 0; k < f->n_stops; k++) {
        const char *hit = memmem(f->pending, f->n_pending, f->stops[k], strlen(f->stops[k]));
        if (hit && (size_t)(hit - f->pending) < cut) cut = (size_t)(hit - f->pending);
    }
    if (cut < f->n_pending) {
        emit(f, f->pending, cut);
        f->n_pending = 0;
        f->stopped = true;
        return true;
    }
    size_t hold = held_suffix(f, f->pending, f->n_pending);
    emit(f, f->pending, f->n_pending - hold);
    memmove(f->pending, f->pending + f->n_pending - hold, hold);
    f->n_pending = hold;
    return false;
}

void stop_filter_finish(struct stop_filter *f) {
    if (!f->stopped) emit(f, f->pending, f->n_pending);
    f->n_pending = 0;
    if (f->print) {
        char out[16];
        size_t o = nib_utf8_stream_finish(&f->utf8, out);
        fwrite(out, 1, o, stdout);
        fflush(stdout);
    }
}

void stop_filter_free(struct stop_filter *f) {
    free(f->pending);
    f->pending = NULL;
}
