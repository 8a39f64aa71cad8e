/*
 * progress.h — the per-tensor progress line of the commands that write model
 * files (synth, quantize): "[ i/N] name   written MiB   MiB/s" on stderr,
 * redrawn in place on a terminal, one line per finished tensor otherwise
 * (only when asked for with `on`), and the elapsed time for the summary.
 */
#ifndef NIB_PROGRESS_H
#define NIB_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

struct progress {
    bool            on, tty;
    struct timespec t0;
    uint64_t        bytes; /* output written so far; the caller adds to it */
};

/* on: forced on (--progress); a terminal on stderr turns it on anyway. */
void   progress_start(struct progress *p, bool on);
/* Tensor i (0-based) of n: called after each chunk; tensor_done on its last. */
void   progress_tensor(const struct progress *p, int64_t i, int64_t n, const char *name, bool tensor_done);
/* Ends the redrawn line (terminal only). */
void   progress_end(const struct progress *p);
double progress_seconds(const struct progress *p);

#endif
