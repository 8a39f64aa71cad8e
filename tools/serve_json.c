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

char *serve_json_response(const struct serve_resp_meta *m, const char *text, const char *finish, int32_t n_prompt,
                          int32_t n_gen) {
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
    cJSON_AddNullToObject(c, "logprobs");
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
                     const char *finish) {
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
    cJSON_AddNullToObject(c, "logprobs");
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
