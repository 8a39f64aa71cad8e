#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int nib_error_set(struct nib_error *err, int status, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
        err->status = status;
    }
    return status;
}

void nib_error_prefix(struct nib_error *err, const char *fmt, ...) {
    if (!err) return;
    char prefix[NIB_ERROR_MSG_SIZE];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    if (n < 0) return;
    size_t plen = strlen(prefix), mlen = strnlen(err->msg, sizeof(err->msg) - 1);
    if (plen > sizeof(err->msg) - 1) plen = sizeof(err->msg) - 1;
    if (mlen > sizeof(err->msg) - 1 - plen) mlen = sizeof(err->msg) - 1 - plen;
    memmove(err->msg + plen, err->msg, mlen);
    memcpy(err->msg, prefix, plen);
    err->msg[plen + mlen] = '\0';
}

const char *nib_status_name(int status) {
    switch (status) {
    case NIB_OK:            return "ok";
    case NIB_E_IO:          return "I/O error";
    case NIB_E_FORMAT:      return "format error";
    case NIB_E_UNSUPPORTED: return "unsupported";
    case NIB_E_NOMEM:       return "out of memory";
    case NIB_E_ARG:         return "invalid argument";
    case NIB_E_NOT_FOUND:   return "not found";
    case NIB_E_TYPE:        return "type mismatch";
    case NIB_E_STATE:       return "invalid state";
    case NIB_KV_FULL:       return "KV cache full";
    default:                return status > 0 ? "recoverable condition" : "error";
    }
}
