/*
 * inspect_tokenizer.c — the tokenizer section of `nib inspect`: kind,
 * pre-tokenizer, sizes, special tokens and the end-of-generation set, as nib
 * will use them (or the reason the vocabulary cannot be used).
 */
#include "cli.h"

#include <cjson/cJSON.h>

static const char *const role_names[NIB_SPECIAL_COUNT] = {
    "BOS", "EOS", "EOT", "EOM", "UNK", "SEP", "PAD", "MASK", "NL",
    "FIM_PRE", "FIM_SUF", "FIM_MID", "FIM_PAD", "FIM_REP", "FIM_SEP",
};

/* Token text for display (control characters escaped, truncated). */
static void print_token(FILE *f, const struct nib_vocab *v, int32_t id) {
    size_t len = 0;
    const char *t = nib_vocab_token_text(v, id, &len);
    struct nib_gguf_value s = { .type = NIB_GGUF_STRING, .v.str = { t ? t : "", t ? len : 0 } };
    fprintf(f, "%d ", id);
    cli_print_value(f, &s, 0);
}

void inspect_tokenizer_text(const struct nib_gguf *g) {
    struct nib_vocab *v = NULL;
    struct nib_error err = { 0 };
    if (!nib_gguf_get(g, "tokenizer.ggml.model")) return;
    printf("\ntokenizer\n");
    if (nib_vocab_load(g, &v, &err) != NIB_OK) {
        printf("  not usable: %s\n", err.msg);
        return;
    }
    if (nib_vocab_kind(v) == NIB_VOCAB_SPM)
        printf("  SentencePiece, %d tokens", nib_vocab_n_tokens(v));
    else
        printf("  byte-level BPE, pre-tokenizer '%s', %d tokens, %lld merges", nib_vocab_pre_name(v), nib_vocab_n_tokens(v),
               (long long)nib_vocab_n_merges(v));
    printf("; adds BOS: %s, EOS: %s\n", nib_vocab_add_bos(v) ? "yes" : "no", nib_vocab_add_eos(v) ? "yes" : "no");
    for (int r = 0; r < NIB_SPECIAL_COUNT; r++) {
        int32_t id = nib_vocab_special(v, (enum nib_special)r);
        if (id < 0) continue;
        printf("  %-8s ", role_names[r]);
        print_token(stdout, v, id);
        putchar('\n');
    }
    printf("  %-8s", "EOG");
    for (int32_t i = 0; i < nib_vocab_n_eog(v); i++) {
        fputs(i ? ", " : " ", stdout);
        print_token(stdout, v, nib_vocab_eog(v, i));
    }
    putchar('\n');
    nib_vocab_free(v);
}

cJSON *inspect_tokenizer_json(const struct nib_gguf *g) {
    struct nib_vocab *v = NULL;
    struct nib_error err = { 0 };
    if (!nib_gguf_get(g, "tokenizer.ggml.model")) return NULL;
    cJSON *o = cJSON_CreateObject();
    if (nib_vocab_load(g, &v, &err) != NIB_OK) {
        cJSON_AddStringToObject(o, "error", err.msg);
        return o;
    }
    cJSON_AddStringToObject(o, "kind", nib_vocab_kind(v) == NIB_VOCAB_SPM ? "spm" : "bpe");
    cJSON_AddStringToObject(o, "pre", nib_vocab_pre_name(v));
    cJSON_AddNumberToObject(o, "tokens", nib_vocab_n_tokens(v));
    cJSON_AddNumberToObject(o, "merges", (double)nib_vocab_n_merges(v));
    cJSON_AddBoolToObject(o, "add_bos", nib_vocab_add_bos(v));
    cJSON_AddBoolToObject(o, "add_eos", nib_vocab_add_eos(v));
    cJSON *sp = cJSON_AddObjectToObject(o, "special");
    for (int r = 0; r < NIB_SPECIAL_COUNT; r++) {
        int32_t id = nib_vocab_special(v, (enum nib_special)r);
        if (id >= 0) cJSON_AddNumberToObject(sp, role_names[r], id);
    }
    cJSON *eog = cJSON_AddArrayToObject(o, "eog");
    for (int32_t i = 0; i < nib_vocab_n_eog(v); i++) cJSON_AddItemToArray(eog, cJSON_CreateNumber(nib_vocab_eog(v, i)));
    nib_vocab_free(v);
    return o;
}
