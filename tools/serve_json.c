/*
 * serve_json.c — OpenAI response and error JSON for nib serve (see
 * serve_json.h).
 */
#include "serve_json.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

static cJSON *usage_json(int32_t n_prompt, int32_t n_gen) {
    cJSON *u = cJSON_CreateObject();
    cJSON_AddNumberToObject(u, "prompt_tokens", n_prompt);
    cJSON_AddNumberToObject(u, "completion_tokens", n_gen);
    cJSON_AddNumberToObject(u, "total_tokens", (double)n_prompt + n_gen);
    return u;
}

static cJSON *head(const struct serve_resp_meta *m, const char *object) {
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "id", m->id);
    cJSON_AddStringToObject(r, "object", object);
    cJSON_AddNumberToObject(r, "created", (double)m->created);
    cJSON_AddStringToObject(r, "model", m->model);
    cJSON_AddStringToObject(r, "system_fingerprint", "nib");
    return r;
}

/* cJSON strings end at NUL: text[0..n) as a C string (malloc'd). */
static char *cstr(const char *text, size_t n) {
    char *s = malloc(n + 1);
    if (!s) return NULL;
    if (n) memcpy(s, text, n);
    s[n] = '\0';
    return s;
}

static char *print(cJSON *r) {
    char *s = r ? cJSON_PrintUnformatted(r) : NULL;
    cJSON_Delete(r);
    return s;
}

/* A token's text as valid UTF-8 (partial characters become U+FFFD) and its raw bytes. */
static char *token_text(const struct nib_vocab *v, int32_t tok, char raw[256], int64_t *n_raw) {
    *n_raw = nib_token_to_piece(v, tok, 0, raw, 256);
    if (*n_raw < 0 || *n_raw > 256) *n_raw = 0;
    char *s = malloc(3 * (size_t)*n_raw + 16);
    if (!s) return NULL;
    struct nib_utf8_stream u = { { 0 }, 0 };
    size_t o = nib_utf8_stream_push(&u, raw, (size_t)*n_raw, s);
    o += nib_utf8_stream_finish(&u, s + o);
    s[o] = '\0';
    return s;
}

static cJSON *chat_lp_entry(const struct nib_vocab *v, int32_t tok, float lp) {
    char raw[256];
    int64_t n = 0;
    char *t = token_text(v, tok, raw, &n);
    cJSON *o = cJSON_CreateObject(), *bytes = cJSON_CreateArray();
    cJSON_AddStringToObject(o, "token", t ? t : "");
    cJSON_AddNumberToObject(o, "logprob", lp);
    for (int64_t i = 0; i < n; i++) cJSON_AddItemToArray(bytes, cJSON_CreateNumber((unsigned char)raw[i]));
    cJSON_AddItemToObject(o, "bytes", bytes);
    free(t);
    return o;
}

/* The "logprobs" object of a choice for lps[0..n); text_offset counts from *offset. */
static cJSON *logprobs_json(const struct serve_resp_meta *m, const struct serve_lp *lps, int32_t n, size_t *offset) {
    if (m->kind == SERVE_CHAT) {
        cJSON *o = cJSON_CreateObject(), *content = cJSON_AddArrayToObject(o, "content");
        for (int32_t i = 0; i < n; i++) {
            cJSON *e = chat_lp_entry(m->vocab, lps[i].tok, lps[i].lp), *top = cJSON_AddArrayToObject(e, "top_logprobs");
            for (int32_t j = 0; j < lps[i].n_top; j++) cJSON_AddItemToArray(top, chat_lp_entry(m->vocab, lps[i].top[j], lps[i].top_lp[j]));
            cJSON_AddItemToArray(content, e);
        }
        return o;
    }
    cJSON *o = cJSON_CreateObject(), *toks = cJSON_AddArrayToObject(o, "tokens"), *lp = cJSON_AddArrayToObject(o, "token_logprobs");
    cJSON *top = cJSON_AddArrayToObject(o, "top_logprobs"), *off = cJSON_AddArrayToObject(o, "text_offset");
    for (int32_t i = 0; i < n; i++) {
        char raw[256];
        int64_t nr = 0;
        char *t = token_text(m->vocab, lps[i].tok, raw, &nr);
        cJSON_AddItemToArray(toks, cJSON_CreateString(t ? t : ""));
        cJSON_AddItemToArray(lp, cJSON_CreateNumber(lps[i].lp));
        cJSON_AddItemToArray(off, cJSON_CreateNumber((double)*offset));
        *offset += (size_t)nr;
        free(t);
        cJSON *alts = cJSON_CreateObject();
        for (int32_t j = 0; j < lps[i].n_top; j++) {
            char *a = token_text(m->vocab, lps[i].top[j], raw, &nr);
            if (a && !cJSON_HasObjectItem(alts, a)) cJSON_AddNumberToObject(alts, a, lps[i].top_lp[j]);
            free(a);
        }
        cJSON_AddItemToArray(top, alts);
    }
    return o;
}

char *serve_json_response(const struct serve_resp_meta *m, const char *text, const char *finish, int32_t n_prompt,
                          int32_t n_gen, const struct serve_lp *lps, int32_t n_lps) {
    const bool chat = m->kind == SERVE_CHAT;
    cJSON *r = head(m, chat ? "chat.completion" : "text_completion"), *choices = cJSON_AddArrayToObject(r, "choices");
    cJSON *c = cJSON_CreateObject();
    cJSON_AddNumberToObject(c, "index", 0);
    if (chat) {
        cJSON *msg = cJSON_AddObjectToObject(c, "message");
        cJSON_AddStringToObject(msg, "role", "assistant");
        cJSON_AddStringToObject(msg, "content", text);
    } else {
        cJSON_AddStringToObject(c, "text", text);
    }
    size_t offset = 0;
    if (lps) cJSON_AddItemToObject(c, "logprobs", logprobs_json(m, lps, n_lps, &offset));
    else cJSON_AddNullToObject(c, "logprobs");
    cJSON_AddStringToObject(c, "finish_reason", finish);
    cJSON_AddItemToArray(choices, c);
    cJSON_AddItemToObject(r, "usage", usage_json(n_prompt, n_gen));
    return print(r);
}

static bool append_data(struct serve_buf *out, cJSON *r) {
    char *s = print(r);
    const bool ok = s && serve_buf_appends(out, "data: ") && serve_buf_appends(out, s) && serve_buf_appends(out, "\n\n");
    free(s);
    return ok;
}

bool serve_sse_chunk(struct serve_buf *out, const struct serve_resp_meta *m, bool role, const char *text, size_t n,
                     const struct serve_lp *lps, int32_t n_lps, const char *finish) {
    const bool chat = m->kind == SERVE_CHAT;
    char *t = cstr(text ? text : "", text ? n : 0);
    if (!t) return false;
    cJSON *r = head(m, chat ? "chat.completion.chunk" : "text_completion"), *choices = cJSON_AddArrayToObject(r, "choices");
    cJSON *c = cJSON_CreateObject();
    cJSON_AddNumberToObject(c, "index", 0);
    if (chat) {
        cJSON *d = cJSON_AddObjectToObject(c, "delta");
        if (role) cJSON_AddStringToObject(d, "role", "assistant");
        if (role || text) cJSON_AddStringToObject(d, "content", t);
    } else {
        cJSON_AddStringToObject(c, "text", t);
    }
    free(t);
    size_t offset = 0; /* streamed completions: offsets within the chunk */
    if (lps && n_lps) cJSON_AddItemToObject(c, "logprobs", logprobs_json(m, lps, n_lps, &offset));
    else cJSON_AddNullToObject(c, "logprobs");
    if (finish) cJSON_AddStringToObject(c, "finish_reason", finish);
    else cJSON_AddNullToObject(c, "finish_reason");
    cJSON_AddItemToArray(choices, c);
    return append_data(out, r);
}

bool serve_sse_usage(struct serve_buf *out, const struct serve_resp_meta *m, int32_t n_prompt, int32_t n_gen) {
    cJSON *r = head(m, m->kind == SERVE_CHAT ? "chat.completion.chunk" : "text_completion");
    cJSON_AddArrayToObject(r, "choices");
    cJSON_AddItemToObject(r, "usage", usage_json(n_prompt, n_gen));
    return append_data(out, r);
}

char *serve_json_error(const struct serve_error *e) {
    cJSON *r = cJSON_CreateObject(), *o = cJSON_AddObjectToObject(r, "error");
    cJSON_AddStringToObject(o, "message", e->msg);
    cJSON_AddStringToObject(o, "type", e->type ? e->type : "invalid_request_error");
    if (e->param[0]) cJSON_AddStringToObject(o, "param", e->param);
    else cJSON_AddNullToObject(o, "param");
    if (e->code) cJSON_AddStringToObject(o, "code", e->code);
    else cJSON_AddNullToObject(o, "code");
    return print(r);
}
