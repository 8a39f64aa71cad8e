/*
 * progress.c — see progress.h.
 */
#include "progress.h"

#include <inttypes.h>
#include <stdio.h>
#include <unistd.h>

void progress_start(struct progress *p, bool on) {
    p->tty = isatty(2) != 0;
    p->on = on || p->tty;
    p->bytes = 0;
    clock_gettime(CLOCK_MONOTONIC, &p->t0);
}

double progress_seconds(const struct progress *p) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - p->t0.tv_sec) + 1e-9 * (double)(t.tv_nsec - p->t0.tv_nsec);
}

void progress_tensor(const struct progress *p, int64_t i, int64_t n, const char *name, bool tensor_done) {
    if (!p->on || (!p->tty && !tensor_done)) return;
    double s = progress_seconds(p), mib = (double)p->bytes / (1 << 20);
    fprintf(stderr, "%s[%*" PRId64 "/%" PRId64 "] %-32s %10.1f MiB %8.1f MiB/s%s", p->tty ? "\r" : "", n > 999 ? 4 : 3, i + 1,
            n, name, mib, s > 0 ? mib / s : 0.0, p->tty ? "\033[K" : "\n");
    fflush(stderr);
}

void progress_end(const struct progress *p) {
    if (p->on && p->tty) fputc('\n', stderr);
}
