/*
 * cmd_convert.c — `nib convert`: a Hugging Face directory or a llama2.c
 * checkpoint to GGUF (convert.h: the Hugging Face pieces; convert_l2c.h: the
 * llama2.c conversion, legacy / v1 / v2 checkpoints). This file holds the
 * argument handling and the safety checks on the output: it must not exist
 * (unless --force), must not be one of the inputs, and is written to a
 * temporary file renamed only when complete.
 */
#include "cli.h"
#include "convert.h"
#include "convert_l2c.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void usage(FILE *f) {
    fputs("usage: nib convert SRC -o OUT.gguf [options]\n"
          "  SRC: a Hugging Face model directory (config.json, *.safetensors, tokenizer files) of\n"
          "       Llama, Mistral, Mixtral, Qwen2, Qwen3 or Qwen3-MoE; or a llama2.c checkpoint (.bin)\n"
          "  -o, --output FILE   the GGUF to write (temporary file renamed when complete)\n"
          "  --outtype T         f32 | f16 | bf16 | q8_0 (default: the type of the source's matrices;\n"
          "                      norms, biases and the MoE router stay F32; q8_0 rows not a multiple of 32 -> F16)\n"
          "  --tokenizer FILE    llama2.c tokenizer.bin (required for a llama2.c checkpoint)\n"
          "  --ctx N             llama2.c: context_length to record (default: the checkpoint's seq_len)\n"
          "  --pre NAME          tokenizer.ggml.pre for a BPE tokenizer nib does not recognise\n"
          "  --vocab-only        write only the metadata and vocabulary (SRC may hold only tokenizer files)\n"
          "  --verify            re-open the written file and check every tensor's CRC32\n"
          "  --force             overwrite OUT if it exists\n"
          "  --dry-run           print the tensors that would be written; write nothing\n"
          "  --progress          progress on stderr even when it is not a terminal\n",
          f);
}

struct args {
    const char       *src, *out;
    struct cv_options o;
    bool              verify, force, dry_run, progress;
};

static int parse_outtype(const char *s, enum cv_outtype *out) {
    static const char *const names[] = { "auto", "f32", "f16", "bf16", "q8_0" };
    for (int i = 0; i < 5; i++)
        if (!strcasecmp(s, names[i])) {
            *out = (enum cv_outtype)i;
            return 0;
        }
    return -1;
}

/* 0 ok, 1 error (printed), 2 help. */
static int parse_args(int argc, char **argv, struct args *a) {
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(o, "-h") || !strcmp(o, "--help")) return usage(stdout), 2;
        if (!strcmp(o, "--verify")) a->verify = true;
        else if (!strcmp(o, "--force")) a->force = true;
        else if (!strcmp(o, "--dry-run")) a->dry_run = true;
        else if (!strcmp(o, "--progress")) a->progress = true;
        else if (!strcmp(o, "--vocab-only")) a->o.vocab_only = true;
        else if (o[0] == '-' && o[1]) {
            if (!v) return cli_fail("%s needs a value (see nib convert --help)", o);
            i++;
            if (!strcmp(o, "-o") || !strcmp(o, "--output")) a->out = v;
            else if (!strcmp(o, "--tokenizer")) a->o.tokenizer = v;
            else if (!strcmp(o, "--pre")) a->o.pre = v;
            else if (!strcmp(o, "--outtype")) {
                if (parse_outtype(v, &a->o.outtype)) return cli_fail("--outtype: '%s' is not f32, f16, bf16 or q8_0", v);
            } else if (!strcmp(o, "--ctx")) {
                char *end;
                long long n = strtoll(v, &end, 10);
                if (*end || n < 1 || n > (1ll << 24)) return cli_fail("--ctx: '%s' is not a positive number", v);
                a->o.n_ctx = n;
            } else return cli_fail("unknown option '%s' (see nib convert --help)", o);
        } else if (!a->src) a->src = o;
        else return cli_fail("unexpected argument '%s' (one SRC only)", o);
    }
    if (!a->src) return usage(stderr), 1;
    if (!a->out && !a->dry_run) return cli_fail("no output file (-o OUT.gguf)");
    return 0;
}

static bool same_file(const struct stat *a, const char *path) {
    struct stat b;
    return stat(path, &b) == 0 && a->st_dev == b.st_dev && a->st_ino == b.st_ino;
}

/* The output must not be an input: SRC, --tokenizer, or a file in SRC (directory). */
static int check_output(const struct args *a) {
    struct stat os;
    if (stat(a->out, &os) != 0) return 0;
    bool is_input = same_file(&os, a->src) || (a->o.tokenizer && same_file(&os, a->o.tokenizer));
    DIR *d = opendir(a->src);
    struct dirent *de;
    while (d && !is_input && (de = readdir(d))) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", a->src, de->d_name);
        is_input = same_file(&os, path);
    }
    if (d) closedir(d);
    if (is_input) return cli_fail("output %s is one of the input files", a->out);
    if (!a->force) return cli_fail("output %s exists (use --force to overwrite)", a->out);
    if (S_ISDIR(os.st_mode)) return cli_fail("output %s is a directory", a->out);
    return 0;
}

static void progress(int64_t i, int64_t n, void *user) {
    (void)user;
    fprintf(stderr, "\rnib convert: tensor %lld/%lld", (long long)i, (long long)n);
    if (i == n) fputc('\n', stderr);
}

static void print_plan(const struct cv_plan *p) {
    for (int64_t i = 0; i < p->n_t; i++) {
        const struct cv_tensor *t = &p->t[i];
        printf("%-40s %-5s [", t->name, nib_type_name(t->type));
        for (uint32_t d = 0; d < t->n_dims; d++) printf("%s%lld", d ? ", " : "", (long long)t->ne[d]);
        printf("]%s\n", t->perm_heads ? " permuted" : "");
    }
    if (p->has_vocab)
        printf("vocab: %s, %lld tokens, %lld merges, pre '%s'\n", p->vocab.model, (long long)p->vocab.n,
               (long long)p->vocab.n_merges, p->vocab.pre);
}

int nib_cmd_convert(int argc, char **argv) {
    struct args a = { 0 };
    int prc = parse_args(argc, argv, &a);
    if (prc) return prc == 2 ? 0 : 1;
    if (a.out && check_output(&a)) return 1;
    struct stat st;
    if (stat(a.src, &st) != 0) return cli_fail("cannot open %s: %s", a.src, strerror(errno));
    if (!S_ISDIR(st.st_mode)) { /* a llama2.c checkpoint (convert_l2c.c) */
        if (!a.o.tokenizer) return cli_fail("a llama2.c checkpoint needs its tokenizer: --tokenizer tokenizer.bin");
        if (a.o.vocab_only) return cli_fail("--vocab-only is for Hugging Face directories");
        const enum nib_type types[] = { NIB_TYPE_F32, NIB_TYPE_F32, NIB_TYPE_F16, NIB_TYPE_BF16, NIB_TYPE_Q8_0 }; /* auto: F32 */
        const struct l2c_convert_opts lo = { a.o.tokenizer, (int32_t)a.o.n_ctx, types[a.o.outtype], a.verify, a.progress,
                                             a.dry_run };
        return l2c_convert(a.src, a.out, &lo);
    }
    struct cv_plan p;
    cv_plan_init(&p);
    struct nib_error err = { 0 };
    int rc = cv_plan_hf(a.src, &a.o, &p, &err);
    if (!rc && a.dry_run) print_plan(&p);
    else if (!rc) {
        bool show = a.progress || isatty(2);
        rc = cv_write(&p, a.out, show ? progress : NULL, NULL, &err);
        if (!rc && a.verify) {
            rc = cv_verify(&p, a.out, &err);
            if (rc) remove(a.out);
            else fprintf(stderr, "nib convert: verified %lld tensors of %s\n", (long long)p.n_t, a.out);
        }
    }
    cv_plan_free(&p);
    if (rc) return cli_fail_err(&err);
    return 0;
}
