/*
 * cmd_inspect.c — `nib inspect MODEL [--json]`: metadata, architecture
 * hyperparameters, tokenizer, experts (MoE), tensor table and totals of a
 * GGUF file.
 */
#include "cli.h"
#include "inspect_json.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TYPES NIB_TYPE_COUNT

struct type_total {
    int64_t  n_tensors;
    int64_t  n_params;
    uint64_t n_bytes;
};

static void usage(FILE *f) {
    fputs("usage: nib inspect MODEL.gguf [--json] [--items N] [--checksum]\n"
          "  Print a GGUF file's metadata, architecture, tensors and totals.\n"
          "  --json     machine-readable output on stdout\n"
          "  --checksum instead: CRC32 (zlib) of every tensor's bytes and of the tensor data section\n"
          "  --items N  array items shown per metadata key (default 8)\n",
          f);
}

/* The architecture name, or NULL. */
static const char *arch_of(const struct nib_gguf *g) {
    const char *arch = NULL;
    return nib_gguf_get_str(g, "general.architecture", &arch, NULL) == NIB_OK ? arch : NULL;
}

static bool has_prefix(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }

static void print_metadata(const struct nib_gguf *g, const char *arch, int items) {
    size_t alen = arch ? strlen(arch) : 0;
    printf("\nmetadata (%" PRId64 " keys)\n", nib_gguf_n_kv(g));
    for (int64_t i = 0; i < nib_gguf_n_kv(g); i++) {
        const char *k = nib_gguf_kv_key(g, i);
        if (arch && has_prefix(k, arch) && k[alen] == '.') continue;
        const struct nib_gguf_value *v = nib_gguf_kv_value(g, i);
        printf("  %-40s %-4s ", k, nib_gguf_type_name(v->type));
        cli_print_value(stdout, v, items);
        putchar('\n');
    }
    if (!arch) return;
    printf("\narchitecture: %s\n", arch);
    for (int64_t i = 0; i < nib_gguf_n_kv(g); i++) {
        const char *k = nib_gguf_kv_key(g, i);
        if (!has_prefix(k, arch) || k[alen] != '.') continue;
        printf("  %-40s ", k + alen + 1);
        cli_print_value(stdout, nib_gguf_kv_value(g, i), items);
        putchar('\n');
    }
    char key[160];
    uint64_t n_embd = 0, n_head = 0, n_head_kv = 0;
    snprintf(key, sizeof(key), "%s.embedding_length", arch);
    nib_gguf_get_u64(g, key, &n_embd, NULL);
    snprintf(key, sizeof(key), "%s.attention.head_count", arch);
    nib_gguf_get_u64(g, key, &n_head, NULL);
    snprintf(key, sizeof(key), "%s.attention.head_count_kv", arch);
    if (nib_gguf_get_u64(g, key, &n_head_kv, NULL) != NIB_OK) n_head_kv = n_head;
    uint64_t key_len = 0;
    snprintf(key, sizeof(key), "%s.attention.key_length", arch);
    if (nib_gguf_get_u64(g, key, &key_len, NULL) == NIB_OK && key_len && n_head && n_head_kv)
        printf("  %-40s %" PRIu64 " (attention.key_length), GQA group %" PRIu64 "\n", "(derived) head_dim", key_len,
               n_head / n_head_kv);
    else if (n_embd && n_head && n_head_kv)
        printf("  %-40s %" PRIu64 " (embedding / heads), GQA group %" PRIu64 "\n", "(derived) head_dim",
               n_embd / n_head, n_head / n_head_kv);
}

static void print_tensors(const struct nib_gguf *g, struct type_total totals[MAX_TYPES]) {
    printf("\ntensors (%" PRId64 ")\n", nib_gguf_n_tensors(g));
    printf("  %-36s %-7s %-24s %12s %12s\n", "name", "type", "shape", "bytes", "offset");
    for (int64_t i = 0; i < nib_gguf_n_tensors(g); i++) {
        const struct nib_gguf_tensor *t = nib_gguf_get_tensor(g, i);
        char shape[96];
        printf("  %-36s %-7s %-24s %12" PRIu64 " %12" PRIu64 "\n", t->name, nib_type_name(t->type),
               cli_fmt_shape(shape, t), t->n_bytes, t->offset);
        totals[t->type].n_tensors++;
        totals[t->type].n_params += t->n_elements;
        totals[t->type].n_bytes += t->n_bytes;
    }
}

static void print_totals(const struct type_total totals[MAX_TYPES]) {
    int64_t params = 0;
    uint64_t bytes = 0;
    char b1[32];
    printf("\nby type\n  %-7s %8s %14s %12s %8s\n", "type", "tensors", "params", "bytes", "bpw");
    for (int t = 0; t < MAX_TYPES; t++) {
        if (!totals[t].n_tensors) continue;
        printf("  %-7s %8" PRId64 " %14" PRId64 " %12s %8.3f\n", nib_type_name(t), totals[t].n_tensors,
               totals[t].n_params, cli_fmt_bytes(b1, (double)totals[t].n_bytes),
               8.0 * (double)totals[t].n_bytes / (double)totals[t].n_params);
        params += totals[t].n_params;
        bytes += totals[t].n_bytes;
    }
    printf("\ntotal: %" PRId64 " parameters (%.3f M), %s of tensor data, %.3f bits per weight\n", params,
           (double)params / 1e6, cli_fmt_bytes(b1, (double)bytes), params ? 8.0 * (double)bytes / (double)params : 0.0);
}

static int inspect_text(const char *path, const struct nib_gguf *g, int items) {
    char b1[32];
    printf("file: %s\n", path);
    printf("  GGUF v%u, %s (%" PRIu64 " bytes), alignment %" PRIu64 ", tensor data at offset %" PRIu64 "\n",
           nib_gguf_version(g), cli_fmt_bytes(b1, (double)nib_gguf_file_size(g)), nib_gguf_file_size(g),
           nib_gguf_alignment(g), nib_gguf_data_offset(g));
    print_metadata(g, arch_of(g), items);
    inspect_tokenizer_text(g);
    inspect_experts_text(g);
    struct type_total totals[MAX_TYPES];
    memset(totals, 0, sizeof(totals));
    print_tensors(g, totals);
    print_totals(totals);
    return ferror(stdout) ? cli_fail("writing to stdout failed") : 0;
}

int nib_cmd_inspect(int argc, char **argv) {
    const char *path = NULL;
    bool json = false, checksum = false;
    int items = 8;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) json = true;
        else if (!strcmp(argv[i], "--checksum")) checksum = true;
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--items")) {
            char *end = NULL;
            long n = i + 1 < argc ? strtol(argv[++i], &end, 10) : -1;
            if (!end || *end || n < 0 || n > 1000000) return cli_fail("--items needs a number from 0 to 1000000");
            items = (int)n;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_fail("inspect: unknown option '%s' (see nib inspect --help)", argv[i]);
        } else if (path) {
            return cli_fail("inspect: more than one model given ('%s' and '%s')", path, argv[i]);
        } else {
            path = argv[i];
        }
    }
    if (!path) {
        return cli_fail("inspect: no model file given (usage: nib inspect MODEL.gguf [--json])");
    }
    struct nib_gguf *g = NULL;
    struct nib_error err = { 0 };
    if (nib_gguf_open(path, NULL, &g, &err) != NIB_OK) return cli_fail_err(&err);
    int rc = checksum ? inspect_checksum(path, g, json) : json ? inspect_json(path, g, items) : inspect_text(path, g, items);
    nib_gguf_free(g);
    return rc;
}
