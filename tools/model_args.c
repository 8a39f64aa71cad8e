#include "model_args.h"

#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_MODEL "stories260K-q8_0.gguf"

bool parse_i32(const char *s, int32_t lo, int32_t hi, int32_t *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || errno || v < lo || v > hi) return false;
    *out = (int32_t)v;
    return true;
}

bool parse_f32(const char *s, float lo, float hi, float *out) {
    char *end;
    errno = 0;
    float v = strtof(s, &end);
    if (!*s || *end || errno || !isfinite(v) || v < lo || v > hi) return false;
    *out = v;
    return true;
}

int64_t parse_token_list(const char *s, int32_t **out) {
    size_t cap = 16, n = 0;
    int32_t *ids = malloc(cap * sizeof(*ids));
    for (const char *p = s; ids && *p;) {
        while (*p == ' ' || *p == ',' || *p == '[' || *p == ']') p++;
        if (!*p) break;
        char *end;
        errno = 0;
        long long x = strtoll(p, &end, 10);
        if (end == p || errno || x < 0 || x > INT32_MAX) {
            free(ids);
            cli_fail("'%s' is not a list of token ids (at '%.20s')", s, p);
            return -1;
        }
        if (n == cap) {
            int32_t *q = realloc(ids, (cap *= 2) * sizeof(*ids));
            if (!q) free(ids);
            ids = q;
            if (!ids) break;
        }
        ids[n++] = (int32_t)x;
        p = end;
    }
    if (!ids) {
        cli_fail("out of memory");
        return -1;
    }
    *out = ids;
    return (int64_t)n;
}

int model_args_load_model(const struct model_args *a, const char *path, struct nib_model **out) {
    struct nib_model_params mp = nib_model_default_params();
    mp.no_mmap = a->no_mmap;
    struct nib_error err = { 0 };
    if (nib_model_load(path, &mp, out, &err) != NIB_OK) return cli_fail_err(&err);
    return 0;
}

int model_args_parse(struct model_args *a, int argc, char **argv, int *i) {
    const char *o = argv[*i];
    bool has = *i + 1 < argc;
    const char *v = has ? argv[*i + 1] : NULL;
    if (!strcmp(o, "--no-special")) {
        a->no_special = true;
        return 1;
    }
    if (!strcmp(o, "--no-mmap")) {
        a->no_mmap = true;
        return 1;
    }
    bool known = !strcmp(o, "-m") || !strcmp(o, "--model") || !strcmp(o, "-p") || !strcmp(o, "--prompt") ||
                 !strcmp(o, "--tokens") || !strcmp(o, "-c") || !strcmp(o, "--ctx-size") || !strcmp(o, "-t") ||
                 !strcmp(o, "--threads") || !strcmp(o, "--kv-block") || !strcmp(o, "--kv-type") || !strcmp(o, "-ngl") ||
                 !strcmp(o, "--n-gpu-layers");
    if (!known) return 0;
    if (!has) {
        cli_fail("option %s needs a value", o);
        return -1;
    }
    (*i)++;
    if (o[1] == 'm' || !strcmp(o, "--model")) a->model = v;
    else if (o[1] == 'p' || !strcmp(o, "--prompt")) a->prompt = v;
    else if (!strcmp(o, "--tokens")) a->tokens = v;
    else if (!strcmp(o, "--kv-type")) {
        enum nib_type t;
        if (nib_type_from_name(v, &t) != NIB_OK || (t != NIB_TYPE_F16 && t != NIB_TYPE_Q8_0))
            return cli_fail("%s: '%s' is not a KV cache type (f16 or q8_0)", o, v), -1;
        a->kv_type = t;
    } else if (!strcmp(o, "-ngl") || !strcmp(o, "--n-gpu-layers")) {
        if (!parse_i32(v, 0, 1 << 20, &a->n_gpu_layers)) return cli_fail("%s: '%s' is not a layer count", o, v), -1;
    } else if (!strcmp(o, "--kv-block")) {
        if (!parse_i32(v, 1, 4096, &a->kv_block)) return cli_fail("%s: '%s' is not a block size (1..4096 tokens)", o, v), -1;
    } else if (o[1] == 'c' || !strcmp(o, "--ctx-size")) {
        if (!parse_i32(v, 1, 1 << 24, &a->n_ctx)) return cli_fail("%s: '%s' is not a context size (1..16777216)", o, v), -1;
    } else if (!parse_i32(v, 1, 1024, &a->n_threads)) {
        return cli_fail("%s: '%s' is not a thread count (1..1024)", o, v), -1;
    }
    return 1;
}

/* models/<default> from the working directory, else next to the binary (build/../models). */
const char *model_args_find_model(const char *name, char *buf, size_t cap) {
    snprintf(buf, cap, "models/%s", name);
    if (access(buf, R_OK) == 0) return buf;
    ssize_t n = readlink("/proc/self/exe", buf, cap - 64 - strlen(name));
    if (n > 0) {
        buf[n] = '\0';
        char *slash = strrchr(buf, '/');
        if (slash) {
            sprintf(slash, "/../models/%s", name);
            if (access(buf, R_OK) == 0) return buf;
        }
    }
    snprintf(buf, cap, "models/%s", name);
    return buf;
}

const char *model_args_default_model(char *buf, size_t cap) { return model_args_find_model(DEFAULT_MODEL, buf, cap); }

static int tokenize_prompt(const struct model_args *a, struct loaded *l) {
    if (a->tokens) {
        int64_t n = parse_token_list(a->tokens, &l->prompt);
        if (n < 0) return 1;
        l->n_prompt = (int32_t)n;
        return 0;
    }
    const char *text = a->prompt ? a->prompt : "";
    size_t len = strlen(text);
    l->prompt = malloc(sizeof(int32_t) * (len + 3));
    if (!l->prompt) return cli_fail("out of memory");
    struct nib_error err = { 0 };
    uint32_t flags = NIB_TOKENIZE_ADD_SPECIAL | (a->no_special ? 0 : NIB_TOKENIZE_PARSE_SPECIAL);
    int64_t n = nib_tokenize(nib_model_vocab(l->model), text, len, flags, l->prompt, (int64_t)len + 3, &err);
    if (n < 0) return cli_fail_err(&err);
    l->n_prompt = (int32_t)n;
    return 0;
}

static int load_model(const struct model_args *a, struct loaded *out) {
    char buf[4096];
    const char *path = a->model ? a->model : a->default_name ? model_args_find_model(a->default_name, buf, sizeof buf)
                                                              : model_args_default_model(buf, sizeof buf);
    return model_args_load_model(a, path, &out->model);
}

static int make_context(const struct model_args *a, int32_t n_ctx, struct loaded *out) {
    struct nib_error err = { 0 };
    struct nib_context_params cp = nib_context_default_params();
    cp.n_ctx = n_ctx;
    cp.kv_block = a->kv_block;
    cp.kv_type = a->kv_type;
    cp.n_threads = a->n_threads;
    cp.n_batch = n_ctx < 512 ? n_ctx : 512; /* llama.cpp's n_ubatch: long prompts split where llama.cpp splits them */
    cp.n_gpu_layers = a->n_gpu_layers;
    cp.gpu_progress = cli_gpu_progress;
    if (cp.n_gpu_layers > 0) {
        const uint64_t b = nib_context_gpu_bytes(out->model, &cp);
        if (b) fprintf(stderr, "nib: %d layer%s on the GPU: %.1f MiB of device memory (weights, KV, buffers)\n",
                       cp.n_gpu_layers < nib_model_n_layer(out->model) ? cp.n_gpu_layers : nib_model_n_layer(out->model),
                       cp.n_gpu_layers == 1 ? "" : "s", (double)b / 1048576.0);
    }
    if (nib_context_new(out->model, &cp, &out->ctx, &err) != NIB_OK) return cli_fail_err(&err);
    return 0;
}

int model_args_load(const struct model_args *a, int32_t n_extra, struct loaded *out) {
    memset(out, 0, sizeof(*out));
    if (a->prompt && a->tokens) return cli_fail("give the prompt as -p TEXT or --tokens IDS, not both");
    if (load_model(a, out) || tokenize_prompt(a, out)) return 1;
    if (out->n_prompt == 0) return cli_fail("the prompt is empty (and the model adds no BOS token)");
    int32_t n_ctx = a->n_ctx ? a->n_ctx : nib_model_n_ctx_train(out->model);
    if ((int64_t)out->n_prompt + n_extra > n_ctx)
        return cli_fail("the prompt (%d tokens) plus %d to generate does not fit in the context of %d tokens (-c)", out->n_prompt,
                        n_extra, n_ctx);
    return make_context(a, n_ctx, out);
}

int model_args_open(const struct model_args *a, int32_t default_ctx, struct loaded *out) {
    memset(out, 0, sizeof(*out));
    if (load_model(a, out)) return 1;
    int32_t n_ctx = a->n_ctx ? a->n_ctx : nib_model_n_ctx_train(out->model);
    if (!a->n_ctx && default_ctx > 0 && n_ctx > default_ctx) n_ctx = default_ctx;
    return make_context(a, n_ctx, out);
}

void loaded_free(struct loaded *l) {
    nib_context_free(l->ctx);
    nib_model_free(l->model);
    free(l->prompt);
}
