/*
 * convert_vocab_hf.c — the vocabulary of a Hugging Face directory, by the
 * rules of convert_hf_to_gguf.py (_set_vocab_sentencepiece, LlamaHfVocab,
 * get_vocab_base) and gguf-py's SpecialVocab, without running HF code:
 *
 *  - tokenizer.model: pieces as SentencePiece gives them, padded to
 *    config's vocab_size with [PADi] (score -10000, UNUSED); then
 *    added_tokens.json and tokenizer_config's added_tokens_decoder
 *    (score -1000; CONTROL when special or looking special, else
 *    USER_DEFINED with U+2581 turned back into spaces);
 *  - SentencePiece-style tokenizer.json (BPE with byte fallback and a
 *    Sequence decoder): model "llama"; <0xXX> tokens BYTE, special ids
 *    CONTROL. llama.cpp writes -1000 for every score here, which makes its
 *    SentencePiece tokenizer merge leftmost-first instead of by merge rank;
 *    nib writes -rank for the token each merge creates instead, so that
 *    greedy merging by score is BPE by rank and prompts tokenize as in HF;
 *  - byte-level BPE (model "gpt2"): vocab plus added tokens, holes
 *    [PADi] UNUSED, merges (pairs joined by a space, inner spaces as
 *    U+0120), and tokenizer.ggml.pre detected from the pre_tokenizer
 *    (cv_detect_pre) instead of llama.cpp's hash of a tokenization.
 */
#include "convert.h"

#include <cjson/cJSON.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char RE_LLAMA3[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char RE_QWEN2[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

static bool is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int load_json(const char *dir, const char *name, cJSON **out, struct nib_error *err) {
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    *out = NULL;
    if (!is_file(path)) return NIB_OK;
    char *buf;
    size_t len;
    int rc = cv_slurp(path, &buf, &len, err);
    if (rc) return rc;
    *out = cJSON_ParseWithLength(buf, len);
    free(buf);
    if (!*out) return cli_set_error(err, NIB_E_FORMAT, "%s is not valid JSON", path);
    return NIB_OK;
}

static const cJSON *item(const cJSON *o, const char *k) { return o ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL; }
static const char *str_of(const cJSON *o, const char *k) {
    const cJSON *j = item(o, k);
    return cJSON_IsString(j) ? j->valuestring : NULL;
}

const char *cv_detect_pre(const void *root) {
    const cJSON *pt = item(root, "pre_tokenizer");
    const char *type = str_of(pt, "type");
    if (!type) return NULL;
    if (!strcmp(type, "ByteLevel")) {
        const cJSON *ur = item(pt, "use_regex");
        return !ur || cJSON_IsTrue(ur) ? "gpt-2" : NULL;
    }
    const cJSON *seq = item(pt, "pretokenizers");
    if (strcmp(type, "Sequence") || cJSON_GetArraySize(seq) != 2) return NULL;
    const cJSON *split = cJSON_GetArrayItem(seq, 0), *bl = cJSON_GetArrayItem(seq, 1);
    const char *st = str_of(split, "type"), *bt = str_of(bl, "type");
    const char *re = str_of(item(split, "pattern"), "Regex");
    if (!st || !bt || !re || strcmp(st, "Split") || strcmp(bt, "ByteLevel") || cJSON_IsTrue(item(bl, "use_regex")))
        return NULL;
    if (!strcmp(re, RE_LLAMA3)) return "llama-bpe";
    if (!strcmp(re, RE_QWEN2)) return "qwen2";
    return NULL;
}

/* ------------------------------------------------------------ token hash */

struct tok_map {
    int64_t *slot; /* id or -1 */
    int64_t  cap;
    char   **text;
};

static uint64_t fnv(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
    return h;
}

static int map_build(struct tok_map *m, char **text, int64_t n, struct nib_error *err) {
    m->cap = 1;
    while (m->cap < 2 * n + 2) m->cap <<= 1;
    m->slot = malloc(sizeof(*m->slot) * (size_t)m->cap);
    m->text = text;
    if (!m->slot) return cli_set_error(err, NIB_E_NOMEM, "out of memory");
    for (int64_t i = 0; i < m->cap; i++) m->slot[i] = -1;
    for (int64_t i = 0; i < n; i++) {
        if (!text[i]) continue;
        uint64_t h = fnv(text[i], strlen(text[i])) & (uint64_t)(m->cap - 1);
        while (m->slot[h] >= 0) h = (h + 1) & (uint64_t)(m->cap - 1);
        m->slot[h] = i;
    }
    return NIB_OK;
}

static int64_t map_find(const struct tok_map *m, const char *s, size_t n) {
    uint64_t h = fnv(s, n) & (uint64_t)(m->cap - 1);
    for (; m->slot[h] >= 0; h = (h + 1) & (uint64_t)(m->cap - 1)) {
        const char *t = m->text[m->slot[h]];
        if (strlen(t) == n && !memcmp(t, s, n)) return m->slot[h];
    }
    return -1;
}

/* ---------------------------------------------------------------- merges */

/* One merge as "a b", from "a b" or ["a", "b"] (spaces inside parts -> U+0120). */
static char *merge_text(const cJSON *m) {
    if (cJSON_IsString(m)) return strdup(m->valuestring);
    if (!cJSON_IsArray(m) || cJSON_GetArraySize(m) != 2) return NULL;
    const cJSON *a = cJSON_GetArrayItem(m, 0), *b = cJSON_GetArrayItem(m, 1);
    if (!cJSON_IsString(a) || !cJSON_IsString(b)) return NULL;
    size_t n = strlen(a->valuestring) + strlen(b->valuestring);
    char *out = malloc(2 * n + 2), *q = out;
    if (!out) return NULL;
    for (const cJSON *part = a;; part = b) {
        for (const char *s = part->valuestring; *s; s++) {
            if (*s == ' ') {
                memcpy(q, "\xc4\xa0", 2);
                q += 2;
            } else *q++ = *s;
        }
        if (part == b) break;
        *q++ = ' ';
    }
    *q = 0;
    return out;
}

static int read_merges(const cJSON *tj, struct cv_vocab *v, struct nib_error *err) {
    const cJSON *ms = item(item(tj, "model"), "merges");
    int n = cJSON_GetArraySize(ms);
    if (!cJSON_IsArray(ms) || n == 0) return NIB_OK;
    v->merges = calloc((size_t)n, sizeof(*v->merges));
    if (!v->merges) return cli_set_error(err, NIB_E_NOMEM, "out of memory");
    const cJSON *m;
    cJSON_ArrayForEach(m, ms) {
        char *t = merge_text(m);
        if (!t) return cli_set_error(err, NIB_E_FORMAT, "tokenizer.json: merge %lld is not \"a b\" or [\"a\", \"b\"]", (long long)v->n_merges);
        v->merges[v->n_merges++] = t;
    }
    return NIB_OK;
}

/* Score -rank for the token that merge `rank` creates (first merge wins). */
static int rank_scores(struct cv_vocab *v, struct nib_error *err) {
    struct tok_map m;
    int rc = map_build(&m, v->text, v->n, err);
    if (rc) return rc;
    bool *done = calloc((size_t)v->n, 1);
    if (!done) rc = cli_set_error(err, NIB_E_NOMEM, "out of memory");
    for (int64_t r = 0; !rc && r < v->n_merges; r++) {
        const char *s = v->merges[r], *sp = strchr(s, ' ');
        if (!sp) continue;
        size_t la = (size_t)(sp - s), lb = strlen(sp + 1);
        char *cat = malloc(la + lb + 1);
        if (!cat) {
            rc = cli_set_error(err, NIB_E_NOMEM, "out of memory");
            break;
        }
        memcpy(cat, s, la);
        memcpy(cat + la, sp + 1, lb);
        int64_t id = map_find(&m, cat, la + lb);
        free(cat);
        if (id >= 0 && !done[id]) {
            done[id] = true;
            v->scores[id] = -(float)r;
        }
    }
    for (int64_t i = 0; !rc && i < v->n; i++)
        if (!done[i]) v->scores[i] = -1000.0f - (float)v->n_merges;
    free(done);
    free(m.slot);
    return rc;
}

/* ---------------------------------------------------------- special vocab */

static bool looks_special(const char *t) {
    size_t n = strlen(t);
    if (!strcmp(t, "<pad>") || !strcmp(t, "<mask>") || !strcmp(t, "<2mass>") || !strcmp(t, "[@BOS@]")) return true;
    if (n >= 4 && !strncmp(t, "<|", 2) && !strcmp(t + n - 2, "|>")) return true;
    if (n >= 8 && !strncmp(t, "<\xef\xbd\x9c", 4) && !strcmp(t + n - 4, "\xef\xbd\x9c>")) return true;
    return n >= 8 && !strncmp(t, "<unused", 7) && t[n - 1] == '>';
}

static const char *tc_token(const cJSON *tc, const char *typ) {
    char key[32];
    snprintf(key, sizeof(key), "%s_token", typ);
    const cJSON *e = item(tc, key);
    if (cJSON_IsString(e)) return e->valuestring;
    return cJSON_IsObject(e) ? str_of(e, "content") : NULL;
}

static void set_special(struct cv_vocab *v, int typ, double id, int64_t n_vocab) {
    if (id < 0 || id != (double)(int64_t)id || v->special[typ] >= 0) return;
    if (n_vocab < 0 || id < (double)n_vocab) v->special[typ] = (int64_t)id;
}

static const char *const typ_names[CV_N_SPECIAL] = { "bos", "eos", "unk", "sep", "pad", "cls", "mask", "eot", "eom" };

/* TemplateProcessing<single>: whether BOS / EOS are added (crude, as SpecialVocab). */
static void template_processing(const cJSON *pp, const cJSON *tc, struct cv_vocab *v) {
    const cJSON *procs = item(pp, "processors");
    const cJSON *list = cJSON_IsArray(procs) ? procs : NULL;
    int n = list ? cJSON_GetArraySize(list) : 1;
    for (int i = 0; i < n; i++) {
        const cJSON *p = list ? cJSON_GetArrayItem(list, i) : pp;
        const char *type = str_of(p, "type");
        if (type && !strcmp(type, "RobertaProcessing")) {
            v->add[CV_BOS] = v->add[CV_EOS] = v->add[CV_SEP] = 1;
            continue;
        }
        if (!type || strcmp(type, "TemplateProcessing")) continue;
        const cJSON *single = item(p, "single");
        int ns = cJSON_GetArraySize(single);
        if (ns <= 1) continue;
        const char *bos = tc_token(tc, "bos"), *cls = tc_token(tc, "cls"), *eos = tc_token(tc, "eos");
        const char *first = str_of(item(cJSON_GetArrayItem(single, 0), "SpecialToken"), "id");
        const char *last = str_of(item(cJSON_GetArrayItem(single, ns - 1), "SpecialToken"), "id");
        /* SpecialVocab fills a missing bos/cls (eos) with the template's token, so only a
         * first token differing from both a set bos and a set cls means "not added". */
        if (first) v->add[CV_BOS] = !tc || !bos || !cls || !strcmp(first, bos) || !strcmp(first, cls);
        if (last) v->add[CV_EOS] = 1;
        (void)eos;
    }
}

static int64_t added_token_id(const cJSON *tj, const char *content) {
    const cJSON *a;
    cJSON_ArrayForEach(a, item(tj, "added_tokens")) {
        const char *c = str_of(a, "content");
        const cJSON *id = item(a, "id");
        if (c && cJSON_IsNumber(id) && !strcmp(c, content)) return (int64_t)id->valuedouble;
    }
    return -1;
}

static void normalizer_flags(const cJSON *n, struct cv_vocab *v) {
    const char *t = str_of(n, "type");
    if (!t) return;
    if (!strcmp(t, "Lowercase")) v->norm_lowercase = 1;
    else if (!strcmp(t, "StripAccents")) v->norm_strip_accents = 1;
    else if (!strcmp(t, "BertNormalizer")) {
        if (cJSON_IsBool(item(n, "lowercase"))) v->norm_lowercase = cJSON_IsTrue(item(n, "lowercase"));
        if (cJSON_IsBool(item(n, "strip_accents"))) v->norm_strip_accents = cJSON_IsTrue(item(n, "strip_accents"));
    } else if (!strcmp(t, "Sequence")) {
        const cJSON *e;
        cJSON_ArrayForEach(e, item(n, "normalizers")) normalizer_flags(e, v);
    }
}

static int chat_template(const char *dir, const cJSON *tc, struct cv_vocab *v, struct nib_error *err) {
    const cJSON *ct = item(tc, "chat_template");
    const char *s = cJSON_IsString(ct) ? ct->valuestring : NULL;
    if (cJSON_IsArray(ct)) {
        const cJSON *e;
        cJSON_ArrayForEach(e, ct) if (str_of(e, "name") && !strcmp(str_of(e, "name"), "default")) s = str_of(e, "template");
    }
    if (s) return (v->chat_template = strdup(s)) ? NIB_OK : cli_set_error(err, NIB_E_NOMEM, "out of memory");
    char path[4096];
    snprintf(path, sizeof(path), "%s/chat_template.jinja", dir);
    size_t len;
    if (is_file(path)) return cv_slurp(path, &v->chat_template, &len, err);
    cJSON *cj = NULL;
    int rc = load_json(dir, "chat_template.json", &cj, err);
    if (!rc && cJSON_IsString(item(cj, "chat_template")) && !(v->chat_template = strdup(str_of(cj, "chat_template"))))
        rc = cli_set_error(err, NIB_E_NOMEM, "out of memory");
    cJSON_Delete(cj);
    return rc;
}

/* gguf-py SpecialVocab: tokenizer.json + tokenizer_config.json, then config.json ids. */
static int special_vocab(const char *dir, const cJSON *tj, const cJSON *tc, const cJSON *cfg, int64_t n_vocab,
                         struct cv_vocab *v, struct nib_error *err) {
    if (tj) {
        normalizer_flags(item(tj, "normalizer"), v);
        if (item(tj, "post_processor")) template_processing(item(tj, "post_processor"), tc, v);
    }
    if (tc) {
        int rc = chat_template(dir, tc, v, err);
        if (rc) return rc;
        for (int t = 0; t < 7; t++) {
            char key[32];
            snprintf(key, sizeof(key), "add_%s_token", typ_names[t]);
            if (cJSON_IsBool(item(tc, key))) v->add[t] = cJSON_IsTrue(item(tc, key));
            const char *content = tc_token(tc, typ_names[t]);
            if (content && tj) {
                int64_t id = added_token_id(tj, content);
                if (id >= 0) set_special(v, t, (double)id, n_vocab);
            }
        }
    }
    const cJSON *text_cfg = item(cfg, "text_config");
    for (int t = 0; cfg && t < 7; t++) {
        char key[32];
        snprintf(key, sizeof(key), "%s_token_id", typ_names[t]);
        const cJSON *id = item(cfg, key);
        if (!id) id = item(text_cfg, key);
        if (cJSON_IsNumber(id)) set_special(v, t, id->valuedouble, n_vocab);
    }
    return NIB_OK;
}

/* ---------------------------------------------------------- vocab bodies */

static int pad_text(struct cv_vocab *v, int64_t i, struct nib_error *err) {
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "[PAD%lld]", (long long)i);
    return cv_vocab_set_text(v, i, buf, (size_t)n, err);
}

/* An added token's text when it is USER_DEFINED: U+2581 -> ' '. */
static int set_user_text(struct cv_vocab *v, int64_t i, const char *s, struct nib_error *err) {
    size_t n = strlen(s);
    char *buf = malloc(n + 1), *q = buf;
    if (!buf) return cli_set_error(err, NIB_E_NOMEM, "out of memory");
    for (size_t k = 0; k < n;) {
        if (!strncmp(s + k, "\xe2\x96\x81", 3)) {
            *q++ = ' ';
            k += 3;
        } else *q++ = s[k++];
    }
    int rc = cv_vocab_set_text(v, i, buf, (size_t)(q - buf), err);
    free(buf);
    return rc;
}

static int spm_body(const char *dir, const cJSON *tc, int64_t n_hint, struct cv_vocab *v, struct nib_error *err) {
    char path[4096];
    snprintf(path, sizeof(path), "%s/tokenizer.model", dir);
    struct cv_vocab sp;
    cv_vocab_init(&sp);
    int rc = cv_spm_read(path, &sp, err);
    int64_t n = n_hint > 0 ? n_hint : sp.n;
    if (!rc) rc = cv_vocab_alloc(v, n, true, err);
    for (int64_t i = 0; !rc && i < n; i++) {
        if (i < sp.n) {
            rc = cv_vocab_set_text(v, i, sp.text[i], strlen(sp.text[i]), err);
            v->scores[i] = sp.scores[i];
            v->types[i] = sp.types[i];
        } else {
            rc = pad_text(v, i, err);
            v->scores[i] = -10000.0f;
            v->types[i] = CV_TOK_UNUSED;
        }
    }
    cv_vocab_free(&sp);
    cJSON *added = NULL;
    if (!rc) rc = load_json(dir, "added_tokens.json", &added, err);
    const cJSON *e;
    cJSON_ArrayForEach(e, added) {
        if (rc || !cJSON_IsNumber(e) || e->valuedouble < 0 || e->valuedouble >= (double)n) continue;
        int64_t id = (int64_t)e->valuedouble;
        rc = cv_vocab_set_text(v, id, e->string, strlen(e->string), err);
        v->scores[id] = -1000.0f;
        v->types[id] = CV_TOK_USER_DEFINED;
    }
    cJSON_Delete(added);
    cJSON_ArrayForEach(e, item(tc, "added_tokens_decoder")) {
        char *end;
        long long id = strtoll(e->string, &end, 10);
        const char *content = str_of(e, "content");
        if (rc || *end || id < 0 || id >= n || !content) continue;
        bool ctl = cJSON_IsTrue(item(e, "special")) || looks_special(content);
        v->types[id] = ctl ? CV_TOK_CONTROL : CV_TOK_USER_DEFINED;
        v->scores[id] = -1000.0f;
        rc = ctl ? cv_vocab_set_text(v, id, content, strlen(content), err) : set_user_text(v, id, content, err);
    }
    v->model = "llama";
    snprintf(v->pre, sizeof(v->pre), "default");
    return rc;
}

static bool is_byte_piece(const char *s) {
    return strlen(s) == 6 && !strncmp(s, "<0x", 3) && s[5] == '>' && strchr("0123456789ABCDEFabcdef", s[3]) &&
           strchr("0123456789ABCDEFabcdef", s[4]) && s[3] && s[4];
}

/* Fills text from model.vocab and added_tokens; ids beyond n are refused. */
static int fill_vocab(const cJSON *tj, struct cv_vocab *v, bool with_added, struct nib_error *err) {
    const cJSON *e;
    int rc = NIB_OK;
    cJSON_ArrayForEach(e, item(item(tj, "model"), "vocab")) {
        double id = cJSON_IsNumber(e) ? e->valuedouble : -1;
        if (id < 0 || id >= (double)v->n || id != (double)(int64_t)id)
            return cli_set_error(err, NIB_E_FORMAT, "tokenizer.json: token '%s' has id %g outside the vocabulary of %lld",
                            e->string, id, (long long)v->n);
        if ((rc = cv_vocab_set_text(v, (int64_t)id, e->string, strlen(e->string), err))) return rc;
    }
    cJSON_ArrayForEach(e, item(tj, "added_tokens")) {
        const cJSON *idj = item(e, "id");
        const char *c = str_of(e, "content");
        if (!with_added || !cJSON_IsNumber(idj) || !c) continue;
        if (idj->valuedouble < 0 || idj->valuedouble >= (double)v->n)
            return cli_set_error(err, NIB_E_FORMAT, "tokenizer.json: added token '%s' has id %g outside the vocabulary of %lld", c,
                            idj->valuedouble, (long long)v->n);
        if ((rc = cv_vocab_set_text(v, (int64_t)idj->valuedouble, c, strlen(c), err))) return rc;
    }
    return NIB_OK;
}

static int64_t max_id(const cJSON *tj, bool with_added) {
    int64_t m = -1;
    const cJSON *e;
    cJSON_ArrayForEach(e, item(item(tj, "model"), "vocab")) if (cJSON_IsNumber(e) && e->valuedouble > m) m = (int64_t)e->valuedouble;
    cJSON_ArrayForEach(e, item(tj, "added_tokens")) {
        const cJSON *id = item(e, "id");
        if (with_added && cJSON_IsNumber(id) && id->valuedouble > m) m = (int64_t)id->valuedouble;
    }
    return m;
}

static bool added_is(const cJSON *tj, int64_t id, bool *special) {
    const cJSON *e;
    cJSON_ArrayForEach(e, item(tj, "added_tokens")) {
        const cJSON *j = item(e, "id");
        if (cJSON_IsNumber(j) && (int64_t)j->valuedouble == id) {
            *special = cJSON_IsTrue(item(e, "special"));
            return true;
        }
    }
    return false;
}

static int llama_hf_body(const cJSON *tj, const cJSON *tc, struct cv_vocab *v, struct nib_error *err) {
    int64_t n = max_id(tj, true) + 1, n_base = max_id(tj, false) + 1;
    int rc = cv_vocab_alloc(v, n, true, err);
    if (!rc) rc = fill_vocab(tj, v, true, err);
    for (int64_t i = 0; !rc && i < n; i++) {
        if (!v->text[i]) return cli_set_error(err, NIB_E_FORMAT, "tokenizer.json: no token has id %lld", (long long)i);
        bool special = false;
        bool added = added_is(tj, i, &special);
        for (int t = 0; !special && t < 7; t++) {
            const char *c = tc_token(tc, typ_names[t]);
            special = c && !strcmp(c, v->text[i]);
        }
        /* added tokens past the base vocabulary: USER_DEFINED unless special (LlamaHfVocab.added_tokens) */
        if (added && i >= n_base && !special) v->types[i] = CV_TOK_USER_DEFINED;
        else v->types[i] = is_byte_piece(v->text[i]) ? CV_TOK_BYTE : special ? CV_TOK_CONTROL : CV_TOK_NORMAL;
    }
    if (!rc) rc = read_merges(tj, v, err);
    if (!rc) rc = rank_scores(v, err);
    for (int64_t i = 0; v->merges && i < v->n_merges; i++) free(v->merges[i]);
    free(v->merges);
    v->merges = NULL;
    v->n_merges = 0;
    v->model = "llama";
    snprintf(v->pre, sizeof(v->pre), "default");
    return rc;
}

static int bpe_body(const cJSON *tj, int64_t n_hint, const char *pre, struct cv_vocab *v, struct nib_error *err) {
    const char *det = pre ? pre : cv_detect_pre(tj);
    if (!det)
        return cli_set_error(err, NIB_E_UNSUPPORTED,
                        "tokenizer.json: unknown BPE pre-tokenizer (not GPT-2, Llama 3 or Qwen2's regex); "
                        "name it with --pre NAME (llama.cpp's tokenizer.ggml.pre)");
    int64_t n = n_hint > 0 ? n_hint : max_id(tj, true) + 1;
    if (max_id(tj, true) >= n)
        return cli_set_error(err, NIB_E_FORMAT, "tokenizer.json: token id %lld is not below vocab_size %lld",
                        (long long)max_id(tj, true), (long long)n);
    int rc = cv_vocab_alloc(v, n, false, err);
    if (!rc) rc = fill_vocab(tj, v, true, err);
    for (int64_t i = 0; !rc && i < n; i++) {
        bool special = false;
        if (!v->text[i]) {
            rc = pad_text(v, i, err);
            v->types[i] = CV_TOK_UNUSED;
        } else if (added_is(tj, i, &special)) {
            if (special || looks_special(v->text[i])) v->types[i] = CV_TOK_CONTROL;
            else {
                char *t = strdup(v->text[i]);
                rc = t ? set_user_text(v, i, t, err) : cli_set_error(err, NIB_E_NOMEM, "out of memory");
                free(t);
                v->types[i] = CV_TOK_USER_DEFINED;
            }
        }
    }
    if (!rc) rc = read_merges(tj, v, err);
    v->model = "gpt2";
    snprintf(v->pre, sizeof(v->pre), "%s", det);
    return rc;
}

static bool is_llama_hf(const cJSON *tj) {
    const cJSON *m = item(tj, "model");
    const char *type = str_of(m, "type");
    bool bf = cJSON_IsTrue(item(m, "byte_fallback"));
    const char *dec = str_of(item(tj, "decoder"), "type");
    return type && !strcmp(type, "BPE") && bf && dec && !strcmp(dec, "Sequence");
}

int cv_hf_vocab_read(const char *dir, const char *family, int64_t n_hint, const char *pre, struct cv_vocab *v,
                     struct nib_error *err) {
    cJSON *tj = NULL, *tc = NULL, *cfg = NULL;
    int rc = load_json(dir, "tokenizer.json", &tj, err);
    if (!rc) rc = load_json(dir, "tokenizer_config.json", &tc, err);
    if (!rc) rc = load_json(dir, "config.json", &cfg, err);
    char path[4096];
    snprintf(path, sizeof(path), "%s/tokenizer.model", dir);
    bool spm = strcmp(family, "bpe") && is_file(path);
    bool llama_hf = !spm && !strcmp(family, "llama") && tj && is_llama_hf(tj);
    if (!rc && !spm && !tj)
        rc = cli_set_error(err, NIB_E_NOT_FOUND, "%s: no tokenizer (neither tokenizer.model nor tokenizer.json)", dir);
    if (!rc) {
        if (spm) rc = spm_body(dir, tc, n_hint, v, err);
        else if (llama_hf) rc = llama_hf_body(tj, tc, v, err);
        else rc = bpe_body(tj, n_hint, pre, v, err);
    }
    if (!rc && pre && v->model && !strcmp(v->model, "llama")) snprintf(v->pre, sizeof(v->pre), "%s", pre);
    if (!rc && !strcmp(family, "llama") && cJSON_IsBool(item(tc, "add_prefix_space")))
        v->add_space_prefix = cJSON_IsTrue(item(tc, "add_prefix_space"));
    if (!rc) rc = special_vocab(dir, tj, tc, cfg, v->model && !strcmp(v->model, "gpt2") ? -1 : v->n, v, err);
    cJSON_Delete(tj);
    cJSON_Delete(tc);
    cJSON_Delete(cfg);
    return rc;
}
