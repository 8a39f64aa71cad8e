/*
 * cmd_synth.c — `nib synth`: write a GGUF model of a real shape (a preset or
 * explicit dims) filled with deterministic random weights, in any type nib
 * can quantize to, so nib can be benchmarked on the shapes users run
 * without downloading them. llama.cpp loads what it writes.
 *
 * The file is streamed: each tensor is generated and quantized a chunk of
 * rows at a time (at most CHUNK_BYTES of output plus one float row per
 * thread), so a 7B model needs tens of MiB of memory, not gigabytes. Rows
 * are generated in parallel; values depend only on (seed, tensor name, row),
 * so the file is identical for every thread count (synth_random.c).
 */
#include "cli.h"
#include "model_args.h"
#include "progress.h"
#include "synth_model.h"

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CHUNK_BYTES ((size_t)32 << 20)

static void usage(FILE *f) {
    fprintf(f,
            "usage: nib synth -o OUT.gguf [--preset NAME] [--type TYPE] [options]\n"
            "  Write a model of a real shape with deterministic random weights (llama.cpp loads it).\n"
            "  -o, --output FILE     the GGUF to write (written to a temporary file, renamed when complete)\n"
            "  --preset NAME         %s\n"
            "                        (default: tiny; dims below override the preset's)\n"
            "  --arch A              llama | qwen2 | qwen3 | qwen3moe\n"
            "  --n-embd N --n-layer N --n-head N --n-head-kv N --n-ff N --n-vocab N --n-ctx N\n"
            "  --head-dim N          (default n_embd / n_head; qwen3 may differ)\n"
            "  --n-expert N --n-expert-used N   MoE (llama: Mixtral-style, experts of width --n-ff)\n"
            "  --n-ff-exp N          qwen3moe expert width (default n_ff / n_expert_used)\n"
            "  --rope-base X --rms-eps X\n"
            "  --tied                no output.weight (the output reuses token_embd)\n"
            "  --type T              %s (default F16)\n"
            "  --seed S              (default 42)   --std X  weight std (default 0.02)\n"
            "  --std-blocks N        scale each group of N values of a row by its own factor, log-uniform\n"
            "  --block-std X         std of the matrices inside the transformer blocks (default: --std); a\n"
            "                        small value keeps the residual stream near the embeddings, so two models\n"
            "                        of one seed with different depths predict alike (speculative-decoding pairs)\n"
            "                        in [1/4, 4) (default: off), so quantizers see realistic scale variation\n"
            "  --vocab-from GGUF     copy every tokenizer.* key (and n_vocab) from another GGUF\n"
            "  -t, --threads N       (default: all cores; the file does not depend on it)\n"
            "  --progress            progress on stderr even when it is not a terminal\n"
            "  --dry-run             print the tensor list with types and sizes; write nothing\n"
            "\n"
            "Types: norms, biases and the MoE router stay F32. A plain type puts every matrix in that type\n"
            "(llama-quantize --pure); Q3_K_M / Q4_K_M / Q5_K_M choose per tensor as llama-quantize does\n"
            "(output and tied token_embd Q6_K; attn_v and ffn_down Q6_K in use_more_bits layers (Q3_K_M:\n"
            "attn_v Q5_K in layers 0-1 else Q4_K, ffn_down Q5_K in the first n_layer/16 else Q4_K, attn_output\n"
            "Q4_K); 8 experts: attn_k/attn_v Q8_0, attn_output Q5_K (Q3_K_M, Q4_K_M)). A row length the type's\n"
            "block does not divide falls back as llama.cpp: Q2_K/Q3_K->Q4_0, Q4_K->Q5_0, Q5_K->Q5_1,\n"
            "Q6_K->Q8_0, else F16. general.file_type is llama.cpp's LLAMA_FTYPE (pure K types: the _S id).\n"
            "\n"
            "Values: normal(0, std) from splitmix64 streams keyed by (seed ^ FNV-1a(tensor name), row), polar\n"
            "method in float; norms 1 + std*z, biases std*z. Identical on every machine and thread count, and a\n"
            "tensor's values do not depend on the other tensors or the type. Exact definition: tools/synth_random.c.\n"
            "Default vocab: <unk> <s> </s>, 256 byte tokens <0x00>.., filler tokens with scores (SentencePiece).\n"
            "Memory: tensors are generated, quantized and written 32 MiB at a time, whatever the model size.\n",
            synth_preset_names(), synth_type_names());
}

/* ------------------------------------------------------------- arguments */

struct dim_opt {
    const char *flag;
    size_t      offset; /* into struct synth_shape */
    int64_t     lo, hi;
};

static const struct dim_opt dim_opts[] = {
    { "--n-embd", offsetof(struct synth_shape, n_embd), 1, 1 << 17 },
    { "--n-layer", offsetof(struct synth_shape, n_layer), 1, 512 },
    { "--n-head", offsetof(struct synth_shape, n_head), 1, 1024 },
    { "--n-head-kv", offsetof(struct synth_shape, n_head_kv), 1, 1024 },
    { "--n-ff", offsetof(struct synth_shape, n_ff), 1, 1 << 20 },
    { "--n-vocab", offsetof(struct synth_shape, n_vocab), 1, 1 << 22 },
    { "--n-ctx", offsetof(struct synth_shape, n_ctx), 1, 1 << 24 },
    { "--head-dim", offsetof(struct synth_shape, head_dim), 1, 1024 },
    { "--n-expert", offsetof(struct synth_shape, n_expert), 0, 256 },
    { "--n-expert-used", offsetof(struct synth_shape, n_expert_used), 0, 256 },
    { "--n-ff-exp", offsetof(struct synth_shape, n_ff_exp), 1, 1 << 20 },
};

#define N_DIMS      (sizeof(dim_opts) / sizeof(dim_opts[0]))
#define DIM_N_VOCAB 5 /* dim_opts index of --n-vocab */

struct synth_args {
    const char         *out, *preset, *arch, *type, *vocab_from;
    int64_t             dims[N_DIMS]; /* -1: not given */
    double              rope_base, rms_eps; /* 0: not given */
    struct synth_values values;
    int32_t             n_threads;
    bool                tied, progress, dry_run;
};

static bool parse_i64(const char *s, int64_t lo, int64_t hi, int64_t *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || errno || v < lo || v > hi) return false;
    *out = v;
    return true;
}

static bool parse_f64(const char *s, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || *end || errno || !(v >= lo && v <= hi)) return false;
    *out = v;
    return true;
}

/* Options with a value; returns 0 when `o` is not one, -1 (message printed) on a bad value. */
static int parse_valued(struct synth_args *a, const char *o, const char *v) {
    for (size_t d = 0; d < N_DIMS; d++) {
        if (strcmp(o, dim_opts[d].flag)) continue;
        if (parse_i64(v, dim_opts[d].lo, dim_opts[d].hi, &a->dims[d])) return 1;
        return cli_fail("%s: '%s' is not a number in %" PRId64 "..%" PRId64, o, v, dim_opts[d].lo, dim_opts[d].hi), -1;
    }
    bool ok = true;
    if (!strcmp(o, "-o") || !strcmp(o, "--output")) a->out = v;
    else if (!strcmp(o, "--preset")) a->preset = v;
    else if (!strcmp(o, "--arch")) a->arch = v;
    else if (!strcmp(o, "--type")) a->type = v;
    else if (!strcmp(o, "--vocab-from")) a->vocab_from = v;
    else if (!strcmp(o, "--std")) ok = parse_f64(v, 1e-30, 1e3, &a->values.std);
    else if (!strcmp(o, "--std-blocks")) ok = parse_i64(v, 1, 1 << 30, &a->values.std_blocks);
    else if (!strcmp(o, "--block-std")) ok = parse_f64(v, 1e-30, 1e3, &a->values.block_std);
    else if (!strcmp(o, "--rope-base")) ok = parse_f64(v, 1e-30, 1e30, &a->rope_base);
    else if (!strcmp(o, "--rms-eps")) ok = parse_f64(v, 1e-30, 1, &a->rms_eps);
    else if (!strcmp(o, "-t") || !strcmp(o, "--threads")) ok = parse_i32(v, 1, 1024, &a->n_threads);
    else if (!strcmp(o, "--seed")) {
        char *end;
        errno = 0;
        a->values.seed = strtoull(v, &end, 0);
        ok = *v >= '0' && *v <= '9' && !*end && !errno;
    } else return 0;
    if (!ok) return cli_fail("%s: invalid value '%s' (see nib synth --help)", o, v), -1;
    return 1;
}

/* Returns 0 to go on, 1 on error (printed), 2 after --help. */
static int parse_args(struct synth_args *a, int argc, char **argv) {
    memset(a, 0, sizeof(*a));
    for (size_t d = 0; d < N_DIMS; d++) a->dims[d] = -1;
    a->values = (struct synth_values){ .seed = 42, .std = 0.02, .std_blocks = 0 };
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
            usage(stdout);
            return 2;
        }
        if (!strcmp(o, "--tied")) a->tied = true;
        else if (!strcmp(o, "--progress")) a->progress = true;
        else if (!strcmp(o, "--dry-run")) a->dry_run = true;
        else {
            int r = i + 1 < argc ? parse_valued(a, o, argv[i + 1]) : 0;
            if (r < 0) return 1;
            if (r == 0) return cli_fail("synth: unknown option or missing value: '%s' (see nib synth --help)", o);
            i++;
        }
    }
    if (!a->out && !a->dry_run) return cli_fail("synth: no output file given (-o OUT.gguf)");
    return 0;
}

/* The shape: preset (default tiny) with the given dims on top; n_vocab from --vocab-from. */
static int make_shape(const struct synth_args *a, const struct nib_gguf *vocab, struct synth_shape *s) {
    if (synth_preset_get(a->preset ? a->preset : "tiny", s))
        return cli_fail("synth: unknown preset '%s' (%s)", a->preset, synth_preset_names());
    bool custom = a->arch || a->tied || a->rope_base > 0 || a->rms_eps > 0;
    for (size_t d = 0; d < N_DIMS; d++) {
        if (a->dims[d] < 0) continue;
        *(int64_t *)((char *)s + dim_opts[d].offset) = a->dims[d];
        custom = true;
    }
    if (custom) snprintf(s->name, sizeof s->name, "%.14s%scustom", a->preset ? a->preset : "", a->preset ? "-" : "");
    if (a->arch) snprintf(s->arch, sizeof s->arch, "%s", a->arch);
    if (a->rope_base > 0) s->rope_base = a->rope_base;
    if (a->rms_eps > 0) s->rms_eps = a->rms_eps;
    s->tied |= a->tied;
    struct nib_error err = { 0 };
    if (vocab) {
        int64_t n;
        if (synth_vocab_size(vocab, a->vocab_from, &n, &err)) return cli_fail_err(&err);
        if (s->n_vocab != n && a->dims[DIM_N_VOCAB] >= 0)
            return cli_fail("synth: --n-vocab %" PRId64 " conflicts with the %" PRId64 " tokens of %s", s->n_vocab, n,
                            a->vocab_from);
        s->n_vocab = n;
    } else if (s->n_vocab < SYNTH_MIN_VOCAB) {
        return cli_fail("synth: n_vocab %" PRId64 " is too small for the default vocab (at least %d; or use --vocab-from)",
                        s->n_vocab, SYNTH_MIN_VOCAB);
    }
    if (synth_shape_check(s, &err)) return cli_fail("synth: %s", err.msg);
    return 0;
}

/* ------------------------------------------------------------- dry run */

static uint64_t tensor_bytes(const struct synth_tensor *t) {
    return (uint64_t)nib_type_row_bytes(t->type, t->ne[0]) * (uint64_t)(t->ne[1] * t->ne[2]);
}

static void print_shape(FILE *f, const struct synth_shape *s, const struct synth_type *t) {
    fprintf(f, "synth-%s: %s, n_embd %" PRId64 ", %" PRId64 " layers, %" PRId64 "/%" PRId64 " heads of %" PRId64
               ", n_ff %" PRId64 ", vocab %" PRId64 ", ctx %" PRId64,
            s->name, s->arch, s->n_embd, s->n_layer, s->n_head, s->n_head_kv, s->head_dim, s->n_ff, s->n_vocab, s->n_ctx);
    if (s->n_expert)
        fprintf(f, ", %" PRId64 " experts (%" PRId64 " used) of %" PRId64, s->n_expert, s->n_expert_used,
                s->n_ff_exp ? s->n_ff_exp : s->n_ff);
    fprintf(f, "%s; type %s (file_type %u)\n", s->tied ? ", tied" : "", t->name, t->ftype);
}

static void print_tensors(const struct synth_tensor *ts, int64_t n) {
    uint64_t params = 0, bytes = 0;
    for (int64_t i = 0; i < n; i++) {
        const struct synth_tensor *t = &ts[i];
        char shape[96];
        cli_fmt_dims(shape, t->n_dims, t->ne);
        printf("  %-32s %-5s %-22s %12" PRIu64 "\n", t->name, nib_type_name(t->type), shape, tensor_bytes(t));
        params += (uint64_t)(t->ne[0] * t->ne[1] * t->ne[2]);
        bytes += tensor_bytes(t);
    }
    char b[32];
    printf("total: %" PRId64 " tensors, %" PRIu64 " parameters, %s of tensor data\n", n, params, cli_fmt_bytes(b, (double)bytes));
}

/* ----------------------------------------------------------------- write */

struct job {
    struct nib_gguf_writer    *w;
    const struct synth_values *values;
    uint8_t                   *buf; /* one chunk of output rows */
    size_t                     cap;
    int32_t                    n_threads;
    struct progress            progress;
};

/* Generates and quantizes rows [r0, r0 + nr) of t into j->buf, rows in parallel. */
static bool fill_chunk(const struct job *j, const struct synth_tensor *t, uint64_t key, int64_t r0, int64_t nr,
                       size_t row_bytes) {
    int64_t ne0 = t->ne[0];
    int failed = 0;
    struct synth_values v = *j->values; /* --block-std: the matrices inside the transformer blocks */
    if (v.block_std > 0 && t->kind == SYNTH_MATRIX && !strncmp(t->name, "blk.", 4)) v.std = v.block_std;
#pragma omp parallel num_threads(j->n_threads) if (nr > 1) reduction(|| : failed)
    {
        float *row = malloc(sizeof(float) * (size_t)ne0);
        failed = row == NULL;
#pragma omp for schedule(dynamic, 1)
        for (int64_t i = 0; i < nr; i++) {
            if (!row) continue;
            synth_fill_row(&v, key, t->kind, r0 + i, row, ne0);
            if (nib_quantize((int)t->type, row, j->buf + (size_t)i * row_bytes, ne0, NULL)) failed = 1;
        }
        free(row);
    }
    return !failed;
}

static int write_tensor(struct job *j, const struct synth_tensor *t, int64_t idx, int64_t n_tensors) {
    size_t row_bytes = nib_type_row_bytes((int)t->type, t->ne[0]);
    int64_t rows = t->ne[1] * t->ne[2];
    if (row_bytes == 0 || row_bytes > j->cap) return cli_fail("synth: tensor '%s': bad row size", t->name);
    int64_t per_chunk = (int64_t)(j->cap / row_bytes);
    uint64_t key = synth_stream_key(j->values->seed, t->name);
    struct nib_error err = { 0 };
    for (int64_t r0 = 0; r0 < rows; r0 += per_chunk) {
        int64_t nr = rows - r0 < per_chunk ? rows - r0 : per_chunk;
        if (!fill_chunk(j, t, key, r0, nr, row_bytes))
            return cli_fail("synth: tensor '%s': out of memory or cannot quantize to %s", t->name, nib_type_name(t->type));
        if (nib_gguf_writer_write_data(j->w, j->buf, (size_t)nr * row_bytes, &err)) return cli_fail_err(&err);
        j->progress.bytes += (uint64_t)nr * row_bytes;
        progress_tensor(&j->progress, idx, n_tensors, t->name, r0 + nr == rows);
    }
    return 0;
}

static int write_header(struct nib_gguf_writer *w, const struct synth_args *a, const struct synth_shape *s,
                        const struct synth_type *t, const struct nib_gguf *vocab, const struct synth_tensor *ts, int64_t n) {
    char desc[160];
    snprintf(desc, sizeof desc, "synthetic random weights (nib synth): seed=%" PRIu64 " std=%g std-blocks=%" PRId64 " block-std=%g",
             a->values.seed, a->values.std, a->values.std_blocks, a->values.block_std > 0 ? a->values.block_std : a->values.std);
    struct nib_error err = { 0 };
    if (synth_write_hparams(w, s, t, desc, &err) ||
        (vocab ? synth_vocab_copy(w, vocab, &err) : synth_vocab_write_default(w, s->n_vocab, &err)))
        return cli_fail_err(&err);
    for (int64_t i = 0; i < n; i++)
        if (nib_gguf_writer_add_tensor(w, ts[i].name, ts[i].type, ts[i].n_dims, ts[i].ne, &err)) return cli_fail_err(&err);
    if (nib_gguf_writer_write_header(w, &err)) return cli_fail_err(&err);
    return 0;
}

static int write_model(const struct synth_args *a, const struct synth_shape *s, const struct synth_type *t,
                       const struct nib_gguf *vocab, const struct synth_tensor *ts, int64_t n) {
    struct job j = { .values = &a->values, .n_threads = a->n_threads };
    if (j.n_threads <= 0) {
        long nc = sysconf(_SC_NPROCESSORS_ONLN);
        j.n_threads = nc > 0 && nc < 1024 ? (int32_t)nc : 1;
    }
    for (int64_t i = 0; i < n; i++) {
        size_t rb = nib_type_row_bytes((int)ts[i].type, ts[i].ne[0]);
        if (rb > CHUNK_BYTES) j.cap = rb > j.cap ? rb : j.cap;
    }
    j.cap = j.cap > CHUNK_BYTES ? j.cap : CHUNK_BYTES;
    struct nib_error err = { 0 };
    if (nib_gguf_writer_open(a->out, 0, &j.w, &err)) return cli_fail_err(&err);
    int rc = write_header(j.w, a, s, t, vocab, ts, n);
    if (!rc && !(j.buf = malloc(j.cap))) rc = cli_fail("synth: out of memory for a %zu-byte chunk", j.cap);
    progress_start(&j.progress, a->progress);
    for (int64_t i = 0; !rc && i < n; i++) rc = write_tensor(&j, &ts[i], i, n);
    if (!rc && nib_gguf_writer_close(j.w, &err)) rc = cli_fail_err(&err);
    progress_end(&j.progress);
    if (!rc && j.progress.on) {
        double sec = progress_seconds(&j.progress), mib = (double)j.progress.bytes / (1 << 20);
        fprintf(stderr, "nib synth: wrote %s: %" PRId64 " tensors, %.1f MiB in %.2f s (%.1f MiB/s, %d threads)\n", a->out, n,
                mib, sec, sec > 0 ? mib / sec : 0.0, j.n_threads);
    }
    free(j.buf);
    nib_gguf_writer_free(j.w);
    return rc;
}

int nib_cmd_synth(int argc, char **argv) {
    struct synth_args a;
    int rc = parse_args(&a, argc, argv);
    if (rc) return rc == 2 ? 0 : rc;
    const struct synth_type *t = synth_type_find(a.type ? a.type : "F16");
    if (!t) return cli_fail("synth: unknown --type '%s' (%s)", a.type, synth_type_names());
    struct nib_gguf *vocab = NULL;
    struct nib_error err = { 0 };
    if (a.vocab_from && nib_gguf_open(a.vocab_from, NULL, &vocab, &err)) return cli_fail_err(&err);
    struct synth_shape s;
    struct synth_tensor *ts = NULL;
    int64_t n = 0;
    rc = make_shape(&a, vocab, &s);
    if (!rc && synth_tensors_build(&s, t, &ts, &n, &err)) rc = cli_fail_err(&err);
    if (!rc && a.dry_run) {
        print_shape(stdout, &s, t);
        print_tensors(ts, n);
    } else if (!rc) {
        rc = write_model(&a, &s, t, vocab, ts, n);
    }
    free(ts);
    nib_gguf_free(vocab);
    return rc;
}
