/*
 * vocab_access.c — read-only queries on a loaded vocabulary.
 */
#include "vocab.h"

static bool valid(const struct nib_vocab *v, int32_t id) { return v && id >= 0 && id < v->n_tokens; }

enum nib_vocab_kind nib_vocab_kind(const struct nib_vocab *v) { return v->kind; }
int32_t nib_vocab_n_tokens(const struct nib_vocab *v) { return v->n_tokens; }
int64_t nib_vocab_n_merges(const struct nib_vocab *v) { return v->n_merges; }
const char *nib_vocab_pre_name(const struct nib_vocab *v) { return v->pre_name; }
bool nib_vocab_add_bos(const struct nib_vocab *v) { return v->add_bos; }
bool nib_vocab_add_eos(const struct nib_vocab *v) { return v->add_eos; }
int32_t nib_vocab_n_eog(const struct nib_vocab *v) { return v->n_eog; }

int32_t nib_vocab_special(const struct nib_vocab *v, enum nib_special which) {
    return (unsigned)which < NIB_SPECIAL_COUNT ? v->special[which] : -1;
}

bool nib_vocab_is_eog(const struct nib_vocab *v, int32_t id) {
    if (!valid(v, id)) return false;
    for (int32_t i = 0; i < v->n_eog; i++)
        if (v->eog[i] == id) return true;
    return false;
}

int32_t nib_vocab_eog(const struct nib_vocab *v, int32_t i) { return i >= 0 && i < v->n_eog ? v->eog[i] : -1; }

const char *nib_vocab_token_text(const struct nib_vocab *v, int32_t id, size_t *len) {
    if (!valid(v, id)) return NULL;
    if (len) *len = v->tokens[id].len;
    return v->tokens[id].text;
}

uint32_t nib_vocab_token_attr(const struct nib_vocab *v, int32_t id) { return valid(v, id) ? v->tokens[id].attr : 0; }
float nib_vocab_token_score(const struct nib_vocab *v, int32_t id) { return valid(v, id) ? v->tokens[id].score : 0.0f; }
