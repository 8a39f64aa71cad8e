/*
 * cmd_tokenize.c — `nib tokenize` and `nib detokenize`: text <-> token ids
 * with a model's vocabulary (vocabulary-only GGUF files work too).
 */
#include "cli.h"
#include "model_args.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct vocab_handle {
    struct nib_gguf  *g;
    struct nib_vocab *v;
};

static int open_vocab(const char *path, struct vocab_handle *h) {
    struct nib_error err = { 0 };
    if (nib_gguf_open(path, NULL, &h->g, &err) != NIB_OK) return cli_fail_err(&err);
    if (nib_vocab_load(h->g, &h->v, &err) != NIB_OK) {
        nib_gguf_free(h->g);
        return cli_fail("%s: %s", path, err.msg);
    }
    return 0;
}

static void close_vocab(struct vocab_handle *h) {
    nib_vocab_free(h->v);
    nib_gguf_free(h->g);
}

/* A token's piece as printable UTF-8 (raw bytes of partial characters become U+FFFD). */
static char *piece_utf8(const struct nib_vocab *v, int32_t id) {
    int64_t n = nib_token_to_piece(v, id, NIB_DETOKENIZE_RENDER_SPECIAL, NULL, 0);
    char *raw = malloc((size_t)n + 1), *out = malloc(3 * ((size_t)n + 4) + 16);
    if (!raw || !out) {
        free(raw);
        free(out);
        return NULL;
    }
    nib_token_to_piece(v, id, NIB_DETOKENIZE_RENDER_SPECIAL, raw, n);
    struct nib_utf8_stream s = { { 0 }, 0 };
    size_t o = nib_utf8_stream_push(&s, raw, (size_t)n, out);
    o += nib_utf8_stream_finish(&s, out + o);
    out[o] = '\0';
    free(raw);
    return out;
}

/* Prints the ids of one text as a JSON array (or id/piece objects). */
static int print_tokens(const struct nib_vocab *v, const char *text, size_t len, uint32_t flags, bool pieces) {
    int64_t cap = (int64_t)len + 3;
    int32_t *ids = malloc(sizeof(*ids) * (size_t)cap);
    if (!ids) return cli_fail("out of memory");
    struct nib_error err = { 0 };
    int64_t n = nib_tokenize(v, text, len, flags, ids, cap, &err);
    if (n < 0) {
        free(ids);
        return cli_fail_err(&err);
    }
    cJSON *arr = cJSON_CreateArray();
    for (int64_t i = 0; i < n; i++) {
        if (!pieces) {
            cJSON_AddItemToArray(arr, cJSON_CreateNumber(ids[i]));
            continue;
        }
        cJSON *o = cJSON_CreateObject();
        char *p = piece_utf8(v, ids[i]);
        cJSON_AddNumberToObject(o, "id", ids[i]);
        cJSON_AddStringToObject(o, "piece", p ? p : "");
        free(p);
        cJSON_AddItemToArray(arr, o);
    }
    free(ids);
    char *s = cJSON_PrintUnformatted(arr);
    cJSON_Delete(arr);
    if (!s) return cli_fail("out of memory");
    puts(s);
    free(s);
    return 0;
}

static char *read_all(FILE *f, size_t *len) {
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap) break;
        char *b2 = realloc(buf, cap *= 2);
        if (!b2) free(buf);
        buf = b2;
    }
    if (buf && ferror(f)) {
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

/* --batch: one JSON string per line, one array per line out. */
static int tokenize_batch(const struct nib_vocab *v, const char *path, uint32_t flags, bool pieces) {
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f) return cli_fail("%s: cannot open: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int rc = 0;
    for (long lineno = 1; !rc && (len = getline(&line, &cap, f)) >= 0; lineno++) {
        if (len == 0 || (len == 1 && line[0] == '\n')) continue;
        cJSON *j = cJSON_ParseWithLength(line, (size_t)len);
        if (!cJSON_IsString(j)) rc = cli_fail("%s:%ld: not a JSON string", path, lineno);
        else rc = print_tokens(v, j->valuestring, strlen(j->valuestring), flags, pieces);
        cJSON_Delete(j);
    }
    free(line);
    if (f != stdin) fclose(f);
    return rc;
}

static void tokenize_usage(FILE *f) {
    fputs("usage: nib tokenize -m MODEL (-p TEXT | -f FILE | --batch FILE.jsonl) [--no-bos] [--no-special] [--pieces]\n"
          "  Print the token ids of TEXT as a JSON array.\n"
          "  -f FILE        read the text from FILE ('-' for stdin)\n"
          "  --batch FILE   one JSON string per line; prints one array per line\n"
          "  --no-bos       do not add BOS/EOS as the vocabulary would\n"
          "  --no-special   treat special-token text (e.g. <s>) as plain text\n"
          "  --pieces       print [{\"id\":..,\"piece\":\"..\"}] instead of ids\n",
          f);
}

int nib_cmd_tokenize(int argc, char **argv) {
    const char *model = NULL, *prompt = NULL, *file = NULL, *batch = NULL;
    uint32_t flags = NIB_TOKENIZE_ADD_SPECIAL | NIB_TOKENIZE_PARSE_SPECIAL;
    bool pieces = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has_val = i + 1 < argc;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            tokenize_usage(stdout);
            return 0;
        } else if ((!strcmp(a, "-m") || !strcmp(a, "--model")) && has_val) model = argv[++i];
        else if ((!strcmp(a, "-p") || !strcmp(a, "--prompt")) && has_val) prompt = argv[++i];
        else if ((!strcmp(a, "-f") || !strcmp(a, "--file")) && has_val) file = argv[++i];
        else if (!strcmp(a, "--batch") && has_val) batch = argv[++i];
        else if (!strcmp(a, "--no-bos")) flags &= ~(uint32_t)NIB_TOKENIZE_ADD_SPECIAL;
        else if (!strcmp(a, "--no-special")) flags &= ~(uint32_t)NIB_TOKENIZE_PARSE_SPECIAL;
        else if (!strcmp(a, "--pieces")) pieces = true;
        else {
            return cli_fail("tokenize: unknown option or missing value: '%s' (see nib tokenize --help)", a);
        }
    }
    if (!model) return cli_fail("tokenize: no model given (-m MODEL)");
    if (!!prompt + !!file + !!batch != 1) return cli_fail("tokenize: give exactly one of -p TEXT, -f FILE, --batch FILE");
    struct vocab_handle h = { 0 };
    int rc = open_vocab(model, &h);
    if (rc) return rc;
    if (batch) {
        rc = tokenize_batch(h.v, batch, flags, pieces);
    } else if (file) {
        FILE *f = strcmp(file, "-") ? fopen(file, "rb") : stdin;
        size_t len = 0;
        char *text = f ? read_all(f, &len) : NULL;
        if (f && f != stdin) fclose(f);
        rc = text ? print_tokens(h.v, text, len, flags, pieces) : cli_fail("%s: cannot read: %s", file, strerror(errno));
        free(text);
    } else {
        rc = print_tokens(h.v, prompt, strlen(prompt), flags, pieces);
    }
    close_vocab(&h);
    return rc;
}

int nib_cmd_detokenize(int argc, char **argv) {
    const char *model = NULL, *tokens = NULL;
    uint32_t flags = NIB_DETOKENIZE_RENDER_SPECIAL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            puts("usage: nib detokenize -m MODEL --tokens 1,2,3 [--hide-special] [--remove-special]\n"
                 "  Print the text of a token sequence.");
            return 0;
        } else if ((!strcmp(a, "-m") || !strcmp(a, "--model")) && i + 1 < argc) model = argv[++i];
        else if (!strcmp(a, "--tokens") && i + 1 < argc) tokens = argv[++i];
        else if (!strcmp(a, "--hide-special")) flags &= ~(uint32_t)NIB_DETOKENIZE_RENDER_SPECIAL;
        else if (!strcmp(a, "--remove-special")) flags |= NIB_DETOKENIZE_REMOVE_SPECIAL;
        else return cli_fail("detokenize: unknown option or missing value: '%s'", a);
    }
    if (!model || !tokens) return cli_fail("detokenize: needs -m MODEL and --tokens IDS");
    int32_t *ids = NULL;
    int64_t n = parse_token_list(tokens, &ids);
    if (n < 0) return 1;
    struct vocab_handle h = { 0 };
    int rc = open_vocab(model, &h);
    if (!rc) {
        struct nib_error err = { 0 };
        int64_t len = nib_detokenize(h.v, ids, n, flags, NULL, 0, &err);
        char *text = len >= 0 ? malloc((size_t)len + 1) : NULL;
        if (len < 0) rc = cli_fail_err(&err);
        else if (!text) rc = cli_fail("out of memory");
        else {
            nib_detokenize(h.v, ids, n, flags, text, len + 1, &err);
            fwrite(text, 1, (size_t)len, stdout);
            putchar('\n');
        }
        free(text);
        close_vocab(&h);
    }
    free(ids);
    return rc;
}
