#include "cli.h"

#include <inttypes.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

int cli_fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("nib: error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

int cli_fail_err(const struct nib_error *err) { return cli_fail("%s", err->msg); }

int cli_set_error(struct nib_error *err, int status, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
        err->status = status;
    }
    return status;
}

/* Prints a string with control characters and quotes escaped, truncated. */
static void print_escaped(FILE *f, const char *s, uint64_t len, uint64_t max) {
    fputc('"', f);
    for (uint64_t i = 0; i < len && i < max; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c == '\n') fputs("\\n", f);
        else if (c < 0x20 || c == 0x7f) fprintf(f, "\\x%02x", c);
        else fputc(c, f);
    }
    if (len > max) fprintf(f, "\"… (%" PRIu64 " bytes)", len);
    else fputc('"', f);
}

static void print_scalar(FILE *f, const struct nib_gguf_value *v) {
    switch (v->type) {
    case NIB_GGUF_UINT8: case NIB_GGUF_UINT16: case NIB_GGUF_UINT32: case NIB_GGUF_UINT64:
        fprintf(f, "%" PRIu64, v->v.u64);
        break;
    case NIB_GGUF_INT8: case NIB_GGUF_INT16: case NIB_GGUF_INT32: case NIB_GGUF_INT64:
        fprintf(f, "%" PRId64, v->v.i64);
        break;
    case NIB_GGUF_FLOAT32: case NIB_GGUF_FLOAT64: fprintf(f, "%g", v->v.f64); break;
    case NIB_GGUF_BOOL: fputs(v->v.b ? "true" : "false", f); break;
    case NIB_GGUF_STRING: print_escaped(f, v->v.str.ptr, v->v.str.len, 120); break;
    default: fputs("?", f);
    }
}

void cli_print_value(FILE *f, const struct nib_gguf_value *v, int max_items) {
    if (v->type != NIB_GGUF_ARRAY) {
        print_scalar(f, v);
        return;
    }
    uint64_t n = v->v.arr.n;
    fprintf(f, "[%" PRIu64 " × %s] ", n, nib_gguf_type_name(v->v.arr.type));
    for (uint64_t i = 0; i < n && i < (uint64_t)max_items; i++) {
        if (i) fputs(", ", f);
        const struct nib_gguf_value *e = nib_gguf_array_get_value(v, i);
        if (e) {
            if (e->type == NIB_GGUF_ARRAY) fprintf(f, "[%" PRIu64 " × %s]", e->v.arr.n, nib_gguf_type_name(e->v.arr.type));
            else print_scalar(f, e);
            continue;
        }
        int64_t x;
        double d;
        if (v->v.arr.type == NIB_GGUF_FLOAT32 || v->v.arr.type == NIB_GGUF_FLOAT64) {
            nib_gguf_array_get_f64(v, i, &d);
            fprintf(f, "%g", d);
        } else if (v->v.arr.type == NIB_GGUF_BOOL) {
            nib_gguf_array_get_i64(v, i, &x);
            fputs(x ? "true" : "false", f);
        } else if (nib_gguf_array_get_i64(v, i, &x) == NIB_OK) {
            fprintf(f, "%" PRId64, x);
        } else {
            fputs("?", f); /* u64 above INT64_MAX */
        }
    }
    if (n > (uint64_t)max_items) fputs(", …", f);
}

const char *cli_fmt_bytes(char buf[32], double b) {
    static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
    int u = 0;
    while (b >= 1024 && u < 4) {
        b /= 1024;
        u++;
    }
    snprintf(buf, 32, u ? "%.2f %s" : "%.0f %s", b, units[u]);
    return buf;
}

const char *cli_fmt_dims(char buf[96], uint32_t n_dims, const int64_t *ne) {
    int n = snprintf(buf, 96, "[");
    for (uint32_t d = 0; d < n_dims && n < 90; d++) n += snprintf(buf + n, (size_t)(96 - n), d ? ", %" PRId64 : "%" PRId64, ne[d]);
    snprintf(buf + n, (size_t)(96 - n), "]");
    return buf;
}

const char *cli_fmt_shape(char buf[96], const struct nib_gguf_tensor *t) { return cli_fmt_dims(buf, t->n_dims, t->ne); }

void cli_gpu_progress(uint64_t done, uint64_t total, void *user) {
    (void)user;
    if (done < total && !isatty(2)) return;
    fprintf(stderr, "\rnib: uploading weights to the GPU: %.0f/%.0f MiB%s", (double)done / 1048576.0, (double)total / 1048576.0,
            done >= total ? "\n" : "");
}
