/*
 * cmd_logits.c — `nib logits`: evaluate a prompt in one batch and print the
 * top-k logits at the last (or, with --all, every) position as JSON, in the
 * shape of llamaref's `logits`; --dump-logits FILE writes all logits as
 * float32 (positions x vocabulary).
 */
#include "cli.h"
#include "model_args.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f) {
    fputs("usage: nib logits [-m MODEL] (-p TEXT | --tokens IDS) [-k K] [--all] [--json] [--dump-logits FILE]\n"
          "                  [-c N] [-t N] [--no-special] [--no-mmap]\n"
          "  Evaluate the prompt in one batch; print the top K logits (default 10) at the last position,\n"
          "  or at every position with --all. Output is JSON.\n",
          f);
}

/* Indices of the k largest values (ties: lower id first). */
static void top_k(const float *x, int32_t n, int32_t k, int32_t *ids) {
    for (int32_t j = 0; j < k; j++) ids[j] = -1;
    for (int32_t i = 0; i < n; i++) {
        int32_t j = k;
        while (j > 0 && (ids[j - 1] < 0 || x[i] > x[ids[j - 1]])) j--;
        if (j >= k) continue;
        memmove(ids + j + 1, ids + j, sizeof(*ids) * (size_t)(k - j - 1));
        ids[j] = i;
    }
}

static cJSON *position_json(const float *logits, int32_t n_vocab, int32_t pos, int32_t k) {
    int32_t ids[256];
    top_k(logits, n_vocab, k, ids);
    cJSON *o = cJSON_CreateObject(), *top = cJSON_CreateArray();
    cJSON_AddNumberToObject(o, "pos", pos);
    for (int32_t j = 0; j < k; j++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "id", ids[j]);
        cJSON_AddNumberToObject(e, "logit", logits[ids[j]]);
        cJSON_AddItemToArray(top, e);
    }
    cJSON_AddItemToObject(o, "top", top);
    return o;
}

/* The prompt in batches of n_batch (512 by default, llama.cpp's n_ubatch, so
 * long prompts split where llama.cpp splits them), every wanted row's logits
 * read right after its batch. */
static int run(struct loaded *l, int32_t k, bool all, const char *dump) {
    int32_t n = l->n_prompt, n_vocab = nib_model_n_vocab(l->model), nb = nib_context_n_batch(l->ctx);
    int8_t *want = calloc((size_t)n, 1);
    if (!want) return cli_fail("out of memory");
    for (int32_t i = 0; i < n; i++) want[i] = all || dump || i == n - 1;
    FILE *df = dump ? fopen(dump, "wb") : NULL;
    if (dump && !df) {
        free(want);
        return cli_fail("%s: cannot write: %s", dump, strerror(errno));
    }
    cJSON *root = cJSON_CreateObject(), *pt = cJSON_CreateArray(), *positions = cJSON_CreateArray();
    for (int32_t i = 0; i < n; i++) cJSON_AddItemToArray(pt, cJSON_CreateNumber(l->prompt[i]));
    cJSON_AddItemToObject(root, "prompt_tokens", pt);
    int rc = 0;
    for (int32_t off = 0; off < n && !rc; off += nb) {
        const int32_t m = n - off < nb ? n - off : nb;
        struct nib_batch b = { m, l->prompt + off, NULL, NULL, want + off, 0 };
        struct nib_error err = { 0 };
        if (nib_decode(l->ctx, &b, &err)) {
            rc = cli_fail_err(&err);
            break;
        }
        for (int32_t i = 0; i < m; i++) {
            const float *lg = nib_context_logits(l->ctx, i);
            if (!lg) continue;
            if (df) fwrite(lg, sizeof(float), (size_t)n_vocab, df);
            if (all || off + i == n - 1) cJSON_AddItemToArray(positions, position_json(lg, n_vocab, off + i, k));
        }
    }
    free(want);
    cJSON_AddItemToObject(root, "positions", positions);
    if (df && fclose(df) != 0 && !rc) rc = cli_fail("%s: write failed", dump);
    if (!rc) {
        char *s = cJSON_PrintUnformatted(root);
        if (s) puts(s);
        else rc = cli_fail("out of memory");
        free(s);
    }
    cJSON_Delete(root);
    return rc;
}

int nib_cmd_logits(int argc, char **argv) {
    struct model_args a = { 0 };
    int32_t k = 10;
    bool all = false;
    const char *dump = NULL;
    for (int i = 1; i < argc; i++) {
        int r = model_args_parse(&a, argc, argv, &i);
        if (r < 0) return 1;
        if (r) continue;
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--all")) all = true;
        else if (!strcmp(argv[i], "--json")) continue; /* JSON is the only output */
        else if (!strcmp(argv[i], "-k") && i + 1 < argc) {
            if (!parse_i32(argv[++i], 1, 256, &k)) return cli_fail("-k: '%s' is not a count (1..256)", argv[i]);
        } else if (!strcmp(argv[i], "--dump-logits") && i + 1 < argc) dump = argv[++i];
        else {
            return cli_fail("logits: unknown option or missing value: '%s' (see nib logits --help)", argv[i]);
        }
    }
    if (!a.prompt && !a.tokens) return cli_fail("logits: give a prompt (-p TEXT or --tokens IDS)");
    struct loaded l;
    int rc = model_args_load(&a, 0, &l);
    if (!rc) {
        if (k > nib_model_n_vocab(l.model)) k = nib_model_n_vocab(l.model);
        rc = run(&l, k, all, dump);
    }
    loaded_free(&l);
    return rc;
}
