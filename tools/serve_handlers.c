/*
 * serve_handlers.c — nib serve's small endpoints: GET /health, GET
 * /v1/models, POST /tokenize, POST /detokenize, GET /metrics.
 */
#include "serve_http.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

static char *print(cJSON *r) {
    char *s = r ? cJSON_PrintUnformatted(r) : NULL;
    cJSON_Delete(r);
    return s;
}

enum MHD_Result serve_handle_health(struct serve_conn *c) {
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "status", "ok");
    return serve_reply(c, 200, "application/json", print(r));
}

enum MHD_Result serve_handle_models(struct serve_conn *c) {
    cJSON *r = cJSON_CreateObject(), *data = cJSON_CreateArray(), *m = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "object", "list");
    cJSON_AddStringToObject(m, "id", c->app->model_name);
    cJSON_AddStringToObject(m, "object", "model");
    cJSON_AddNumberToObject(m, "created", (double)c->app->started);
    cJSON_AddStringToObject(m, "owned_by", "nib");
    cJSON *meta = cJSON_AddObjectToObject(m, "meta");
    cJSON_AddNumberToObject(meta, "n_ctx", c->app->n_ctx_seq);
    cJSON_AddNumberToObject(meta, "n_vocab", nib_model_n_vocab(c->app->model));
    cJSON_AddNumberToObject(meta, "n_params", (double)nib_model_n_params(c->app->model));
    cJSON_AddItemToArray(data, m);
    cJSON_AddItemToObject(r, "data", data);
    return serve_reply(c, 200, "application/json", print(r));
}

enum MHD_Result serve_handle_tokenize(struct serve_conn *c) {
    struct serve_error e = { 0 };
    char *text = NULL;
    bool add_special = false;
    if (serve_parse_tokenize(c->body.p ? c->body.p : "", c->body.n, &text, &add_special, &e)) return serve_reply_error(c, &e);
    const size_t len = strlen(text);
    int32_t *ids = malloc(sizeof(int32_t) * (len + 3));
    struct nib_error err = { 0 };
    const uint32_t flags = NIB_TOKENIZE_PARSE_SPECIAL | (add_special ? NIB_TOKENIZE_ADD_SPECIAL : 0);
    const int64_t n = ids ? nib_tokenize(c->app->vocab, text, len, flags, ids, (int64_t)len + 3, &err) : -1;
    free(text);
    if (n < 0) {
        free(ids);
        serve_error_set(&e, ids ? 400 : 500, ids ? "invalid_request_error" : "server_error", "content", "%s",
                        ids ? err.msg : "out of memory");
        return serve_reply_error(c, &e);
    }
    cJSON *r = cJSON_CreateObject(), *arr = cJSON_CreateArray();
    for (int64_t i = 0; i < n; i++) cJSON_AddItemToArray(arr, cJSON_CreateNumber(ids[i]));
    cJSON_AddItemToObject(r, "tokens", arr);
    free(ids);
    return serve_reply(c, 200, "application/json", print(r));
}

enum MHD_Result serve_handle_detokenize(struct serve_conn *c) {
    struct serve_error e = { 0 };
    int32_t *ids = NULL, n = 0;
    if (serve_parse_detokenize(c->body.p ? c->body.p : "", c->body.n, nib_model_n_vocab(c->app->model), &ids, &n, &e))
        return serve_reply_error(c, &e);
    const int64_t len = nib_detokenize(c->app->vocab, ids, n, 0, NULL, 0, NULL);
    char *text = len >= 0 ? malloc((size_t)len + 1) : NULL, *clean = text ? malloc(3 * ((size_t)len + 4) + 16) : NULL;
    cJSON *r = NULL;
    if (clean) {
        nib_detokenize(c->app->vocab, ids, n, 0, text, len + 1, NULL);
        struct nib_utf8_stream u = { { 0 }, 0 }; /* JSON needs valid UTF-8: partial characters become U+FFFD */
        size_t o = nib_utf8_stream_push(&u, text, (size_t)len, clean);
        o += nib_utf8_stream_finish(&u, clean + o);
        clean[o] = '\0';
        r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "content", clean);
    }
    free(ids);
    free(text);
    free(clean);
    return serve_reply(c, 200, "application/json", print(r));
}

enum MHD_Result serve_handle_metrics(struct serve_conn *c) {
    struct serve_engine_stats s;
    serve_engine_stats(c->app->engine, &s);
    return serve_reply(c, 200, "text/plain; version=0.0.4", serve_metrics_render(&c->app->metrics, &s));
}
