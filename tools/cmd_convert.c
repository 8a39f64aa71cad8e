/*
 * cmd_convert.c — `nib convert SRC -o OUT.gguf`: a llama2.c checkpoint (legacy,
 * version 1 or 2; convert_llama2c.c) with its tokenizer.bin to a GGUF llama
 * model, as llama.cpp's convert-llama2c-to-ggml writes it: the same metadata
 * keys in the same order, the same tensor names and order, the vocabulary
 * with its scores and llama.cpp's token types. context_length is the
 * checkpoint's seq_len unless --ctx says otherwise (llama.cpp's tool takes it
 * from its own option, 128 by default).
 *
 * --outtype f32 (default) | f16 | bf16 | q8_0: matrices in that type (Q8_0
 * rows not a multiple of 32 fall back to F16), norms F32; general.file_type
 * is written for the non-F32 types. The output goes to a temporary file
 * renamed when complete; OUT may not be an input, nor exist without --force.
 * --verify re-reads OUT and checks every tensor's CRC32 against what was
 * written.
 *
 * Hugging Face directories are not converted yet: a clear error says so.
 */
#include "cli.h"
#include "convert_l2c.h"
#include "model_args.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

static void usage(FILE *f) {
    fputs("usage: nib convert SRC -o OUT.gguf [--tokenizer tokenizer.bin] [--outtype f32|f16|bf16|q8_0] [options]\n"
          "  SRC: a llama2.c checkpoint (.bin: legacy, version 1 or version 2) with its tokenizer.bin\n"
          "  (--tokenizer; default: tokenizer.bin beside SRC). Writes a GGUF llama model as llama.cpp's\n"
          "  convert-llama2c-to-ggml does.\n"
          "  -o, --output FILE   the GGUF to write (a temporary file, renamed when complete)\n"
          "  --outtype T         f32 (default), f16, bf16 or q8_0 for the matrices; norms stay f32\n"
          "  --ctx N             context_length to record (default: the checkpoint's seq_len)\n"
          "  --force             replace OUT if it exists\n"
          "  --verify            re-read OUT and check every tensor's CRC32\n"
          "  --progress          progress on stderr even when it is not a terminal\n",
          f);
}

struct conv_args {
    const char   *src, *out, *tokenizer;
    enum nib_type outtype;
    int32_t       ctx;
    bool          force, verify, progress;
};

static int parse_args(struct conv_args *a, int argc, char **argv) {
    memset(a, 0, sizeof *a);
    a->outtype = NIB_TYPE_F32;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        const bool has_v = i + 1 < argc;
        if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
            usage(stdout);
            return 2;
        }
        if (!strcmp(o, "--force")) a->force = true;
        else if (!strcmp(o, "--verify")) a->verify = true;
        else if (!strcmp(o, "--progress")) a->progress = true;
        else if (has_v && (!strcmp(o, "-o") || !strcmp(o, "--output"))) a->out = argv[++i];
        else if (has_v && !strcmp(o, "--tokenizer")) a->tokenizer = argv[++i];
        else if (has_v && !strcmp(o, "--ctx")) {
            if (!parse_i32(argv[++i], 1, 1 << 24, &a->ctx)) return cli_fail("convert: --ctx: '%s' is not a context length", argv[i]);
        } else if (has_v && !strcmp(o, "--outtype")) {
            const char *t = argv[++i];
            if (!strcasecmp(t, "f32")) a->outtype = NIB_TYPE_F32;
            else if (!strcasecmp(t, "f16")) a->outtype = NIB_TYPE_F16;
            else if (!strcasecmp(t, "bf16")) a->outtype = NIB_TYPE_BF16;
            else if (!strcasecmp(t, "q8_0")) a->outtype = NIB_TYPE_Q8_0;
            else return cli_fail("convert: --outtype '%s' is not one of f32, f16, bf16, q8_0", t);
        } else if (o[0] == '-' && o[1]) {
            return cli_fail("convert: unknown option or missing value: '%s' (see nib convert --help)", o);
        } else if (a->src) {
            return cli_fail("convert: more than one source given ('%s' and '%s')", a->src, o);
        } else {
            a->src = o;
        }
    }
    if (!a->src) return cli_fail("convert: no source given (see nib convert --help)");
    if (!a->out) return cli_fail("convert: no output given (-o OUT.gguf)");
    return 0;
}

static bool same_file(const char *a, const char *b) {
    struct stat sa, sb;
    return a && b && stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

static int check_paths(const struct conv_args *a) {
    struct stat st;
    if (same_file(a->out, a->src) || same_file(a->out, a->tokenizer))
        return cli_fail("convert: the output '%s' is an input file; refusing to overwrite it", a->out);
    if (stat(a->out, &st) == 0 && !a->force) return cli_fail("convert: the output '%s' exists (use --force to replace it)", a->out);
    return 0;
}

int nib_cmd_convert(int argc, char **argv) {
    struct conv_args a;
    int rc = parse_args(&a, argc, argv);
    if (rc) return rc == 2 ? 0 : rc;
    struct stat st;
    if (stat(a.src, &st)) return cli_fail("convert: cannot open '%s': %s", a.src, strerror(errno));
    if (S_ISDIR(st.st_mode))
        return cli_fail("convert: '%s' is a directory: Hugging Face checkpoints are not converted yet (llama2.c .bin files are)",
                        a.src);
    char tok[4096];
    if (!a.tokenizer) { /* tokenizer.bin beside the checkpoint */
        const char *slash = strrchr(a.src, '/');
        snprintf(tok, sizeof tok, "%.*stokenizer.bin", slash ? (int)(slash - a.src + 1) : 0, a.src);
        if (stat(tok, &st)) return cli_fail("convert: no tokenizer given and no '%s' beside the checkpoint (--tokenizer FILE)", tok);
        a.tokenizer = tok;
    }
    if ((rc = check_paths(&a))) return rc;
    const struct l2c_convert_opts o = { a.tokenizer, a.ctx, a.outtype, a.verify, a.progress, false };
    return l2c_convert(a.src, a.out, &o);
}
