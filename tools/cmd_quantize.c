/*
 * cmd_quantize.c — `nib quantize IN.gguf OUT.gguf TYPE`: llama-quantize's
 * job, with its results. Tensor types come from quant_plan.c (llama.cpp's
 * rules per file type), values from nib_quantize (bit-identical with ggml's
 * quantize_row_*_ref, which is what llama-quantize runs without an importance
 * matrix), so the tensor data equals llama-quantize's byte for byte.
 *
 * The output: the input's metadata in order, then general.quantization_version
 * and general.file_type (moved to the end, as llama.cpp's gguf_set_val does),
 * tensors in llama.cpp's order (quant_sort). It is written to a temporary file
 * renamed onto OUT only when complete (nib_gguf_writer), so a failed run
 * never leaves a half file under OUT; Ctrl-C / SIGTERM / SIGHUP stop it at
 * the next chunk and remove the temporary file too; OUT must not exist (--force
 * replaces it) and may never be the input. Rows are converted in parallel,
 * CHUNK_BYTES of output at a time. --verify re-reads OUT and compares every
 * tensor's name, type, shape and CRC32 with what was written.
 *
 * --imatrix FILE (llama.cpp's GGUF or legacy .dat importance matrix,
 * tools/imatrix.c): the converted rows go through nib_quantize_weighted with
 * their tensor's (and expert's) weights, as llama-quantize passes them to
 * ggml; tensors the file lacks are quantized without; the file, dataset,
 * entry and chunk counts are recorded as llama-quantize records them
 * (quantize.imatrix.*), after general.file_type.
 */
#include "cli.h"
#include "imatrix.h"
#include "progress.h"
#include "quant_plan.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define CHUNK_BYTES ((size_t)32 << 20)
#define QNT_VERSION 2 /* ggml's GGML_QNT_VERSION */

static void usage(FILE *f) {
    fprintf(f,
            "usage: nib quantize [options] IN.gguf OUT.gguf TYPE [THREADS]\n"
            "  Convert a model's weights to TYPE with llama-quantize's per-tensor choices and rounding\n"
            "  (tensor data identical to llama.cpp's). TYPE: %s.\n"
            "  -t, --threads N             threads (default: all online CPUs)\n"
            "  --pure                      TYPE for every weight matrix, no mix rules (fallbacks still apply)\n"
            "  --output-tensor-type T      type of output.weight (no fallback)\n"
            "  --token-embedding-type T    type of token_embd.weight (no fallback)\n"
            "  --leave-output-tensor       keep output.weight as it is\n"
            "  --allow-requantize          allow inputs that are already quantized (quality suffers)\n"
            "  --force                     replace OUT if it exists\n"
            "  --verify                    re-read OUT and check every tensor's CRC32, type and shape\n"
            "  --dry-run                   print the plan (tensor, type now, new type, size) and write nothing\n"
            "  --imatrix FILE              importance matrix from llama-imatrix (GGUF or legacy .dat): weighted\n"
            "                              quantization as llama-quantize does it (Q2_K_S needs one)\n"
            "  --progress                  progress on stderr even when it is not a terminal\n"
            "Norms, biases, the MoE router and other vectors keep their type. A row length that is not a\n"
            "multiple of the chosen type's block falls back as llama.cpp does (Q2_K/Q3_K->Q4_0, Q4_K->Q5_0,\n"
            "Q5_K->Q5_1, Q6_K->Q8_0, else F16). The file is written to OUT.tmp-* and renamed when complete.\n",
            quant_ftype_names());
}

struct quant_args {
    const char               *in, *out, *imatrix_path;
    struct imatrix           *im;
    const struct quant_ftype *ftype;
    struct quant_options      opt;
    int32_t                   n_threads;
    bool                      allow_requantize, force, verify, dry_run, progress;
};

static bool parse_threads(const char *s, int32_t *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!*s || *end || errno || v < 1 || v > 1024) return false;
    *out = (int32_t)v;
    return true;
}

static int parse_type_opt(const char *o, const char *v, int *out) {
    enum nib_type t;
    if (nib_type_from_name(v, &t) || !nib_type_is_supported((int)t) || nib_type_row_bytes((int)t, 256) == 0)
        return cli_fail("quantize: %s: unknown or unsupported tensor type '%s'", o, v);
    *out = (int)t;
    return 0;
}

/* Returns 0 to go on, 1 on error (printed), 2 after --help. */
static int parse_args(struct quant_args *a, int argc, char **argv) {
    memset(a, 0, sizeof *a);
    a->opt.output_type = a->opt.token_embd_type = -1;
    const char *pos[4];
    int n_pos = 0;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        bool has_v = i + 1 < argc;
        if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
            usage(stdout);
            return 2;
        }
        if (!strcmp(o, "--pure")) a->opt.pure = true;
        else if (!strcmp(o, "--leave-output-tensor")) a->opt.leave_output = true;
        else if (!strcmp(o, "--allow-requantize")) a->allow_requantize = true;
        else if (!strcmp(o, "--force")) a->force = true;
        else if (!strcmp(o, "--verify")) a->verify = true;
        else if (!strcmp(o, "--dry-run")) a->dry_run = true;
        else if (!strcmp(o, "--progress")) a->progress = true;
        else if (has_v && (!strcmp(o, "-t") || !strcmp(o, "--threads"))) {
            if (!parse_threads(argv[++i], &a->n_threads)) return cli_fail("quantize: %s: '%s' is not a number in 1..1024", o, argv[i]);
        } else if (has_v && !strcmp(o, "--imatrix")) {
            a->imatrix_path = argv[++i];
        } else if (has_v && !strcmp(o, "--output-tensor-type")) {
            if (parse_type_opt(o, argv[++i], &a->opt.output_type)) return 1;
        } else if (has_v && !strcmp(o, "--token-embedding-type")) {
            if (parse_type_opt(o, argv[++i], &a->opt.token_embd_type)) return 1;
        } else if (o[0] == '-' && o[1]) {
            return cli_fail("quantize: unknown option or missing value: '%s' (see nib quantize --help)", o);
        } else {
            if (n_pos == 4) return cli_fail("quantize: too many arguments ('%s'); see nib quantize --help", o);
            pos[n_pos++] = o;
        }
    }
    if (n_pos < 3) return cli_fail("quantize: expected IN.gguf OUT.gguf TYPE (see nib quantize --help)");
    a->in = pos[0];
    a->out = pos[1];
    if (!(a->ftype = quant_ftype_find(pos[2])))
        return cli_fail("quantize: unknown type '%s' (one of %s)", pos[2], quant_ftype_names());
    if (n_pos == 4 && !parse_threads(pos[3], &a->n_threads))
        return cli_fail("quantize: thread count '%s' is not a number in 1..1024", pos[3]);
    if (a->n_threads <= 0) {
        long nc = sysconf(_SC_NPROCESSORS_ONLN);
        a->n_threads = nc > 0 && nc < 1024 ? (int32_t)nc : 1;
    }
    return 0;
}

/* OUT must not be IN (whatever the path spelling) and must not exist unless --force. */
static int check_paths(const struct quant_args *a) {
    struct stat si, so;
    if (stat(a->in, &si)) return cli_fail("quantize: cannot open '%s': %s", a->in, strerror(errno));
    if (stat(a->out, &so) == 0) {
        if (si.st_dev == so.st_dev && si.st_ino == so.st_ino)
            return cli_fail("quantize: the output '%s' is the input file; refusing to overwrite it", a->out);
        if (!a->force) return cli_fail("quantize: the output '%s' exists (use --force to replace it)", a->out);
        if (!S_ISREG(so.st_mode)) return cli_fail("quantize: the output '%s' is not a regular file", a->out);
    }
    return 0;
}

/* ------------------------------------------------------------------ plan */

static uint64_t tensor_bytes(enum nib_type type, const int64_t ne[4]) {
    return (uint64_t)nib_type_row_bytes((int)type, ne[0]) * (uint64_t)(ne[1] * ne[2] * ne[3]);
}

static uint32_t dims_of(const int64_t ne[4]) {
    for (uint32_t d = 4; d > 1; d--)
        if (ne[d - 1] != 1) return d;
    return 1;
}

static int make_plan(const struct quant_args *a, const struct nib_gguf *g, struct quant_tensor **out, int64_t *n_out) {
    int64_t n = nib_gguf_n_tensors(g);
    struct quant_tensor *ts = calloc(n > 0 ? (size_t)n : 1, sizeof *ts);
    if (!ts) return cli_fail("quantize: out of memory");
    for (int64_t i = 0; i < n; i++) {
        const struct nib_gguf_tensor *t = nib_gguf_get_tensor(g, i);
        ts[i] = (struct quant_tensor){ .name = t->name, .n_dims = t->n_dims, .type = t->type };
        memcpy(ts[i].ne, t->ne, sizeof ts[i].ne);
    }
    quant_sort(ts, n);
    struct quant_model m;
    struct nib_error err = { 0 };
    int rc = 0;
    if (quant_model_from_gguf(g, &m, &err) || quant_plan(&m, a->ftype, &a->opt, ts, n, &err))
        rc = cli_fail("quantize: %s: %s", a->in, err.msg);
    for (int64_t i = 0; !rc && i < n; i++) {
        const struct quant_tensor *t = &ts[i];
        if (t->new_type == t->type) continue;
        const float *w = NULL;
        struct nib_error ierr = { 0 };
        const int lr = a->im ? imatrix_lookup(a->im, t->name, t->ne[0], t->ne[2], 0, &w, &ierr) : NIB_E_NOT_FOUND;
        if (quant_requires_imatrix(a->ftype, t) && lr != NIB_OK)
            rc = cli_fail("quantize: %s makes tensor '%s' %s, which needs importance data (--imatrix FILE%s); "
                          "without it the result would be garbage", a->ftype->name, t->name, nib_type_name(t->new_type),
                          a->im ? " with an entry for it" : "");
        else if (lr != NIB_OK && lr != NIB_E_NOT_FOUND && strcmp(t->name, "token_embd.weight"))
            rc = cli_fail("quantize: --imatrix %s: %s", a->imatrix_path, ierr.msg); /* llama-quantize refuses too */
        else if (!nib_type_is_supported((int)t->type))
            rc = cli_fail("quantize: tensor '%s' is %s, which nib cannot read", t->name, nib_type_name(t->type));
        else if (!a->allow_requantize && t->type != NIB_TYPE_F32 && t->type != NIB_TYPE_F16 && t->type != NIB_TYPE_BF16)
            rc = cli_fail("quantize: tensor '%s' is already quantized (%s); requantizing loses quality — "
                          "pass --allow-requantize to do it anyway, or start from an F32/F16/BF16 file",
                          t->name, nib_type_name(t->type));
    }
    if (rc) free(ts);
    else *out = ts, *n_out = n;
    return rc;
}

static void print_plan(const struct quant_tensor *ts, int64_t n) {
    uint64_t before = 0, after = 0;
    for (int64_t i = 0; i < n; i++) {
        const struct quant_tensor *t = &ts[i];
        char shape[96];
        cli_fmt_dims(shape, t->n_dims, t->ne);
        uint64_t b0 = tensor_bytes(t->type, t->ne), b1 = tensor_bytes(t->new_type, t->ne);
        printf("%-36s %-22s %-5s -> %-5s %12" PRIu64 "%s\n", t->name, shape, nib_type_name(t->type),
               nib_type_name(t->new_type), b1, t->fell_back ? "  (row length: fallback)" : "");
        before += b0, after += b1;
    }
    char b0[32], b1[32];
    printf("total: %" PRId64 " tensors, %s -> %s\n", n, cli_fmt_bytes(b0, (double)before), cli_fmt_bytes(b1, (double)after));
}

/* ----------------------------------------------------------------- write */

static volatile sig_atomic_t interrupted;

static void on_signal(int sig) { interrupted = sig; }

static void catch_signals(bool on) {
    struct sigaction sa = { 0 };
    sa.sa_handler = on ? on_signal : SIG_DFL;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
}

static int check_interrupted(void) {
    return interrupted ? cli_fail("quantize: interrupted (signal %d); nothing written", (int)interrupted) : 0;
}

struct job {
    struct nib_gguf_writer *w;
    uint8_t                *buf;
    size_t                  cap;
    int32_t                 n_threads;
    struct progress         progress;
    uint32_t               *crc; /* per tensor, of the bytes written */
    const float            *imw; /* this tensor's importance weights [n_experts][ne0], or NULL */
    const struct imatrix   *im;
};

/* llama-quantize passes these as string overrides: at most 127 bytes. */
static void clip127(char out[128], const char *s) { snprintf(out, 128, "%s", s); }

static int write_header(struct nib_gguf_writer *w, const struct nib_gguf *g, const struct quant_args *a,
                        const struct quant_tensor *ts, int64_t n) {
    static const char *const moved[] = { "general.quantization_version", "general.file_type", "split.no", "split.count",
                                         "split.tensors.count" };
    static const char *const imatrix_keys[] = { "quantize.imatrix.file", "quantize.imatrix.dataset",
                                                "quantize.imatrix.entries_count", "quantize.imatrix.chunks_count" };
    const struct imatrix *im = a->im && a->im->n_entries > 0 ? a->im : NULL;
    struct nib_error err = { 0 };
    for (int64_t i = 0; i < nib_gguf_n_kv(g); i++) {
        const char *key = nib_gguf_kv_key(g, i);
        bool skip = false;
        for (size_t k = 0; k < sizeof moved / sizeof moved[0]; k++) skip |= !strcmp(key, moved[k]);
        for (size_t k = 0; im && k < sizeof imatrix_keys / sizeof imatrix_keys[0]; k++) skip |= !strcmp(key, imatrix_keys[k]);
        if (!skip && nib_gguf_writer_set_kv(w, key, nib_gguf_kv_value(g, i), &err)) return cli_fail_err(&err);
    }
    if (nib_gguf_writer_set_u32(w, "general.quantization_version", QNT_VERSION, &err) ||
        nib_gguf_writer_set_u32(w, "general.file_type", a->ftype->ftype, &err))
        return cli_fail_err(&err);
    char clip[128];
    if (im && ((clip127(clip, a->imatrix_path), nib_gguf_writer_set_str(w, imatrix_keys[0], clip, &err)) ||
               (im->n_datasets > 0 && (clip127(clip, im->datasets[0]), nib_gguf_writer_set_str(w, imatrix_keys[1], clip, &err))) ||
               nib_gguf_writer_set_u32(w, imatrix_keys[2], (uint32_t)im->n_entries, &err) ||
               (im->chunk_count > 0 && nib_gguf_writer_set_u32(w, imatrix_keys[3], im->chunk_count, &err))))
        return cli_fail_err(&err);
    for (int64_t i = 0; i < n; i++)
        if (nib_gguf_writer_add_tensor(w, ts[i].name, ts[i].new_type, dims_of(ts[i].ne), ts[i].ne, &err))
            return cli_fail_err(&err);
    if (nib_gguf_writer_write_header(w, &err)) return cli_fail_err(&err);
    return 0;
}

/* Converts rows [r0, r0 + nr) of t (source rows at src) into j->buf. */
static bool convert_rows(const struct job *j, const struct quant_tensor *t, const uint8_t *src, int64_t r0, int64_t nr) {
    int64_t ne0 = t->ne[0];
    size_t in_bytes = nib_type_row_bytes((int)t->type, ne0), out_bytes = nib_type_row_bytes((int)t->new_type, ne0);
    int failed = 0;
#pragma omp parallel num_threads(j->n_threads) if (nr > 1) reduction(|| : failed)
    {
        float *row = t->type == NIB_TYPE_F32 ? NULL : malloc(sizeof(float) * (size_t)ne0);
        failed = t->type != NIB_TYPE_F32 && row == NULL;
#pragma omp for schedule(dynamic, 1)
        for (int64_t i = 0; i < nr; i++) {
            if (failed) continue;
            const uint8_t *in = src + (size_t)i * in_bytes;
            const float *f = (const float *)in;
            if (row) {
                if (nib_dequantize((int)t->type, in, row, ne0, NULL)) failed = 1;
                f = row;
            }
            uint8_t *dst = j->buf + (size_t)i * out_bytes;
            if (j->imw) { /* the row's expert: rows of expert e are [e * ne1, (e + 1) * ne1) */
                const float *w = j->imw + (size_t)((r0 + i) / t->ne[1]) * (size_t)ne0;
                if (nib_quantize_weighted((int)t->new_type, f, dst, ne0, 1, w, NULL)) failed = 1;
            } else if (nib_quantize((int)t->new_type, f, dst, ne0, NULL)) {
                failed = 1;
            }
        }
        free(row);
    }
    return !failed;
}

/* The input's pages of a finished tensor leave memory (they are file-backed:
 * read again if ever needed), so converting a model larger than RAM keeps
 * RSS at about one tensor, as llama-quantize's unmapping does. */
static void release_input(const struct nib_gguf_tensor *t) {
    const long page = sysconf(_SC_PAGESIZE);
    if (page <= 0 || t->n_bytes == 0) return;
    uintptr_t a = (uintptr_t)t->data, b = a + t->n_bytes;
    a = (a + (uintptr_t)page - 1) / (uintptr_t)page * (uintptr_t)page; /* whole pages inside the tensor only */
    b = b / (uintptr_t)page * (uintptr_t)page;
    if (b > a) madvise((void *)a, b - a, MADV_DONTNEED);
}

static int write_tensor(struct job *j, const struct nib_gguf *g, const struct quant_tensor *t, int64_t idx, int64_t n) {
    const struct nib_gguf_tensor *src = nib_gguf_get_tensor(g, nib_gguf_find_tensor(g, t->name));
    const uint8_t *data = src->data;
    struct nib_error err = { 0 };
    uint32_t crc = (uint32_t)crc32_z(0, NULL, 0);
    if (t->new_type == t->type) { /* copied as it is, a chunk at a time */
        for (uint64_t off = 0; off < src->n_bytes; off += CHUNK_BYTES) {
            if (check_interrupted()) return 1;
            size_t len = src->n_bytes - off < CHUNK_BYTES ? (size_t)(src->n_bytes - off) : CHUNK_BYTES;
            if (nib_gguf_writer_write_data(j->w, data + off, len, &err)) return cli_fail_err(&err);
            crc = (uint32_t)crc32_z(crc, data + off, len);
            j->progress.bytes += len;
            progress_tensor(&j->progress, idx, n, t->name, off + len == src->n_bytes);
        }
        if (src->n_bytes == 0) progress_tensor(&j->progress, idx, n, t->name, true);
        j->crc[idx] = crc;
        release_input(src);
        return 0;
    }
    size_t in_bytes = nib_type_row_bytes((int)t->type, t->ne[0]), out_bytes = nib_type_row_bytes((int)t->new_type, t->ne[0]);
    int64_t rows = t->ne[1] * t->ne[2] * t->ne[3];
    if (in_bytes == 0 || out_bytes == 0 || out_bytes > j->cap)
        return cli_fail("quantize: tensor '%s': cannot convert rows of %" PRId64 " from %s to %s", t->name, t->ne[0],
                        nib_type_name(t->type), nib_type_name(t->new_type));
    int64_t per_chunk = (int64_t)(j->cap / out_bytes);
    j->imw = NULL; /* absent, or of the wrong size for token_embd: quantized without, as llama-quantize */
    if (j->im && imatrix_lookup(j->im, t->name, t->ne[0], t->ne[2], 0, &j->imw, NULL) != NIB_OK) j->imw = NULL;
    for (int64_t r0 = 0; r0 < rows; r0 += per_chunk) {
        int64_t nr = rows - r0 < per_chunk ? rows - r0 : per_chunk;
        if (check_interrupted()) return 1;
        if (!convert_rows(j, t, data + (size_t)r0 * in_bytes, r0, nr))
            return cli_fail("quantize: tensor '%s': out of memory or cannot convert %s to %s", t->name,
                            nib_type_name(t->type), nib_type_name(t->new_type));
        size_t len = (size_t)nr * out_bytes;
        if (nib_gguf_writer_write_data(j->w, j->buf, len, &err)) return cli_fail_err(&err);
        crc = (uint32_t)crc32_z(crc, j->buf, len);
        j->progress.bytes += len;
        progress_tensor(&j->progress, idx, n, t->name, r0 + nr == rows);
    }
    j->crc[idx] = crc;
    release_input(src);
    return 0;
}

/* --verify: the file on disk against the plan and the CRCs of what was written. */
static int verify_output(const char *path, const struct quant_tensor *ts, int64_t n, const uint32_t *crc) {
    struct nib_gguf *g = NULL;
    struct nib_error err = { 0 };
    if (nib_gguf_open(path, NULL, &g, &err)) return cli_fail("quantize: --verify: %s", err.msg);
    int rc = 0;
    if (nib_gguf_n_tensors(g) != n)
        rc = cli_fail("quantize: --verify: '%s' has %" PRId64 " tensors, %" PRId64 " were written", path,
                      nib_gguf_n_tensors(g), n);
    for (int64_t i = 0; !rc && i < n; i++) {
        const struct nib_gguf_tensor *t = nib_gguf_get_tensor(g, i);
        if (strcmp(t->name, ts[i].name) || t->type != ts[i].new_type || memcmp(t->ne, ts[i].ne, sizeof t->ne))
            rc = cli_fail("quantize: --verify: tensor %" PRId64 " of '%s' is '%s' %s, expected '%s' %s", i, path, t->name,
                          nib_type_name(t->type), ts[i].name, nib_type_name(ts[i].new_type));
        else if ((uint32_t)crc32_z(crc32_z(0, NULL, 0), t->data, t->n_bytes) != crc[i])
            rc = cli_fail("quantize: --verify: tensor '%s' in '%s' does not hold the bytes written (CRC32 differs)",
                          t->name, path);
    }
    nib_gguf_free(g);
    if (!rc) fprintf(stderr, "nib quantize: verified %s: %" PRId64 " tensors, CRC32 of each matches\n", path, n);
    return rc;
}

static int write_model(const struct quant_args *a, const struct nib_gguf *g, const struct quant_tensor *ts, int64_t n) {
    struct job j = { .n_threads = a->n_threads, .cap = CHUNK_BYTES, .im = a->im };
    for (int64_t i = 0; i < n; i++) {
        size_t rb = nib_type_row_bytes((int)ts[i].new_type, ts[i].ne[0]);
        if (rb > j.cap) j.cap = rb;
    }
    uint32_t align = (uint32_t)nib_gguf_alignment(g);
    struct nib_error err = { 0 };
    int rc = 0;
    if (!(j.crc = calloc(n > 0 ? (size_t)n : 1, sizeof *j.crc)) || !(j.buf = malloc(j.cap)))
        rc = cli_fail("quantize: out of memory for a %zu-byte chunk", j.cap);
    if (!rc && nib_gguf_writer_open(a->out, align, &j.w, &err)) rc = cli_fail_err(&err);
    if (!rc) rc = write_header(j.w, g, a, ts, n);
    progress_start(&j.progress, a->progress);
    catch_signals(true);
    for (int64_t i = 0; !rc && i < n; i++) rc = write_tensor(&j, g, &ts[i], i, n);
    if (!rc && !(rc = check_interrupted()) && nib_gguf_writer_close(j.w, &err)) rc = cli_fail_err(&err);
    catch_signals(false);
    progress_end(&j.progress);
    if (!rc) {
        uint64_t before = 0, after = 0, elems = 0;
        int64_t n_fallback = 0;
        for (int64_t i = 0; i < n; i++) {
            before += tensor_bytes(ts[i].type, ts[i].ne), after += tensor_bytes(ts[i].new_type, ts[i].ne);
            elems += (uint64_t)(ts[i].ne[0] * ts[i].ne[1] * ts[i].ne[2] * ts[i].ne[3]);
            n_fallback += ts[i].fell_back;
        }
        double sec = progress_seconds(&j.progress);
        fprintf(stderr,
                "nib quantize: wrote %s (%s): %" PRId64 " tensors, %.2f MiB (%.2f bits/weight) -> %.2f MiB (%.2f bits/weight) "
                "in %.2f s, %d threads\n",
                a->out, a->ftype->name, n, (double)before / (1 << 20), elems ? 8.0 * (double)before / (double)elems : 0.0,
                (double)after / (1 << 20), elems ? 8.0 * (double)after / (double)elems : 0.0, sec, j.n_threads);
        if (n_fallback)
            fprintf(stderr, "nib quantize: %" PRId64 " of %" PRId64 " tensors fell back to another type (row length not a "
                            "multiple of the block; --dry-run lists them)\n", n_fallback, n);
    }
    if (!rc && a->verify) rc = verify_output(a->out, ts, n, j.crc);
    nib_gguf_writer_free(j.w); /* removes the temporary file unless closed */
    free(j.buf);
    free(j.crc);
    return rc && interrupted ? 128 + (int)interrupted : rc;
}

int nib_cmd_quantize(int argc, char **argv) {
    struct quant_args a;
    int rc = parse_args(&a, argc, argv);
    if (rc) return rc == 2 ? 0 : rc;
    if (!a.dry_run && (rc = check_paths(&a))) return rc;
    struct nib_gguf *g = NULL;
    struct nib_error err = { 0 };
    if (a.imatrix_path) {
        if (imatrix_load(a.imatrix_path, &a.im, &err)) return cli_fail("quantize: --imatrix %s: %s", a.imatrix_path, err.msg);
        a.opt.has_imatrix = a.im->n_entries > 0;
    }
    if (nib_gguf_open(a.in, NULL, &g, &err)) {
        imatrix_free(a.im);
        return cli_fail_err(&err);
    }
    struct quant_tensor *ts = NULL;
    int64_t n = 0;
    rc = make_plan(&a, g, &ts, &n);
    if (!rc && a.dry_run) print_plan(ts, n);
    else if (!rc) rc = write_model(&a, g, ts, n);
    free(ts);
    nib_gguf_free(g);
    imatrix_free(a.im);
    return rc;
}
