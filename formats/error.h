/*
 * error.h — filling a caller's struct nib_error (include/nib.h).
 *
 * nib_error_set formats a one-line message into err (when non-NULL) and
 * returns status, so error paths read `return nib_error_set(err, NIB_E_FORMAT, ...)`.
 * No global state; safe from any thread.
 */
#ifndef NIB_ERROR_H
#define NIB_ERROR_H

#include "nib.h"

#if defined(__GNUC__)
#define NIB_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define NIB_PRINTF(f, a)
#endif

int nib_error_set(struct nib_error *err, int status, const char *fmt, ...) NIB_PRINTF(3, 4);

/* Prefix an existing message with context ("file 'x.gguf': ..."). */
void nib_error_prefix(struct nib_error *err, const char *fmt, ...) NIB_PRINTF(2, 3);

#endif
