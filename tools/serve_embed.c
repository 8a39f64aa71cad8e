/*
 * serve_embed.c — POST /v1/embeddings: "input" is a string, a list of
 * strings, a list of token ids or a list of such lists; each input is
 * tokenized (BOS as the model adds it), run by the engine asking for hidden
 * states (row-exact, so the result does not depend on other requests), and
 * answered as the mean of its tokens' final hidden states, L2-normalized, in
 * OpenAI's shape ({"object": "list", "data": [{"object": "embedding",
 * "index", "embedding"}], "model", "usage"}). encoding_format "float" (a
 * JSON array) or "base64" (the float32 values' little-endian bytes, base64:
 * what the openai SDKs ask for when the caller names no format).
 */
#include "serve_http.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_INPUTS 256

static int bad(struct serve_error *e, const char *msg) { return serve_error_set(e, 400, "invalid_request_error", "input", "%s", msg); }

/* One input (string or token list) as a queued-ready embedding task. */
static int make_task(struct serve_app *app, const cJSON *in, struct serve_task **out, struct serve_error *e) {
    struct serve_task *t = serve_task_new();
    if (!t) return serve_error_set(e, 500, "server_error", NULL, "out of memory");
    *out = t;
    t->embed = true;
    if (cJSON_IsString(in)) {
        const size_t len = strlen(in->valuestring);
        t->prompt = malloc(sizeof(int32_t) * (len + 3));
        if (!t->prompt) return serve_error_set(e, 500, "server_error", NULL, "out of memory");
        struct nib_error err = { 0 };
        const int64_t n = nib_tokenize(app->vocab, in->valuestring, len, NIB_TOKENIZE_ADD_SPECIAL | NIB_TOKENIZE_PARSE_SPECIAL,
                                       t->prompt, (int64_t)len + 3, &err);
        if (n < 0) return serve_error_set(e, 400, "invalid_request_error", "input", "%s", err.msg);
        t->n_prompt = (int32_t)n;
    } else {
        const int n = cJSON_GetArraySize(in);
        t->prompt = malloc(sizeof(int32_t) * (size_t)(n > 0 ? n : 1));
        if (!t->prompt) return serve_error_set(e, 500, "server_error", NULL, "out of memory");
        const cJSON *x = NULL;
        cJSON_ArrayForEach(x, in) {
            if (!cJSON_IsNumber(x) || x->valuedouble != (double)(int32_t)x->valuedouble || x->valuedouble < 0 ||
                x->valuedouble >= nib_model_n_vocab(app->model))
                return bad(e, "token ids must be integers in the vocabulary's range");
            t->prompt[t->n_prompt++] = (int32_t)x->valuedouble;
        }
    }
    if (t->n_prompt == 0) return bad(e, "an input is empty");
    if (t->n_prompt > app->n_ctx_seq)
        return serve_error_set(e, 400, "invalid_request_error", "input", "an input of %d tokens is longer than the context (%d)",
                               t->n_prompt, app->n_ctx_seq);
    return 0;
}

/* The inputs of the request: one value, or the items of a list. */
static int inputs(const cJSON *root, const cJSON **items, int *n, bool *base64, struct serve_error *e) {
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(root, "input");
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(root, "encoding_format");
    *base64 = cJSON_IsString(fmt) && !strcmp(fmt->valuestring, "base64");
    if (fmt && !cJSON_IsNull(fmt) && !*base64 && (!cJSON_IsString(fmt) || strcmp(fmt->valuestring, "float") != 0))
        return serve_error_set(e, 400, "invalid_request_error", "encoding_format", "encoding_format must be \"float\" or \"base64\"");
    *n = 0;
    if (cJSON_IsString(in)) {
        items[(*n)++] = in;
        return 0;
    }
    if (!cJSON_IsArray(in) || cJSON_GetArraySize(in) == 0) return bad(e, "\"input\" must be a string, a list of strings or token lists");
    if (cJSON_IsNumber(cJSON_GetArrayItem(in, 0))) { /* one token list */
        items[(*n)++] = in;
        return 0;
    }
    const cJSON *x = NULL;
    cJSON_ArrayForEach(x, in) {
        if (!cJSON_IsString(x) && !cJSON_IsArray(x)) return bad(e, "\"input\" items must be strings or token lists");
        if (*n == MAX_INPUTS) return bad(e, "at most 256 inputs per request");
        items[(*n)++] = x;
    }
    return 0;
}

/* The vector's float32 values as little-endian bytes, base64 (RFC 4648, padded). */
static cJSON *base64_floats(const float *v, int32_t d) {
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const size_t n_bytes = (size_t)d * 4;
    char *s = malloc((n_bytes + 2) / 3 * 4 + 1), *o = s;
    if (!s) return NULL;
    uint32_t acc = 0;
    int have = 0;
    for (size_t i = 0; i < n_bytes; i++) {
        uint32_t bits;
        memcpy(&bits, &v[i / 4], 4);
        acc = acc << 8 | ((bits >> (8 * (i % 4))) & 0xff);
        if (++have == 3) {
            for (int k = 18; k >= 0; k -= 6) *o++ = abc[(acc >> k) & 63];
            acc = 0, have = 0;
        }
    }
    if (have) {
        acc <<= 8 * (3 - have);
        for (int k = 18; k >= 18 - 6 * have; k -= 6) *o++ = abc[(acc >> k) & 63];
        for (int k = have; k < 3; k++) *o++ = '=';
    }
    *o = '\0';
    cJSON *str = cJSON_CreateString(s);
    free(s);
    return str;
}

static char *response(struct serve_app *app, struct serve_task **ts, int n, bool base64) {
    const int32_t d = nib_model_n_embd(app->model);
    cJSON *r = cJSON_CreateObject(), *data = cJSON_CreateArray();
    int64_t tokens = 0;
    cJSON_AddStringToObject(r, "object", "list");
    for (int i = 0; i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "object", "embedding");
        cJSON_AddNumberToObject(o, "index", i);
        cJSON_AddItemToObject(o, "embedding", base64 ? base64_floats(ts[i]->embedding, d) : cJSON_CreateFloatArray(ts[i]->embedding, d));
        cJSON_AddItemToArray(data, o);
        tokens += ts[i]->n_prompt;
    }
    cJSON_AddItemToObject(r, "data", data);
    cJSON_AddStringToObject(r, "model", app->model_name);
    cJSON *u = cJSON_AddObjectToObject(r, "usage");
    cJSON_AddNumberToObject(u, "prompt_tokens", (double)tokens);
    cJSON_AddNumberToObject(u, "total_tokens", (double)tokens);
    char *s = cJSON_PrintUnformatted(r);
    cJSON_Delete(r);
    return s;
}

enum MHD_Result serve_handle_embeddings(struct serve_conn *c) {
    struct serve_app *app = c->app;
    struct serve_error e = { 0 };
    cJSON *root = cJSON_ParseWithLength(c->body.p ? c->body.p : "", c->body.n);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        serve_error_set(&e, 400, "invalid_request_error", NULL, "the body is not a JSON object");
        return serve_reply_error(c, &e);
    }
    const cJSON *items[MAX_INPUTS];
    struct serve_task *ts[MAX_INPUTS] = { 0 };
    bool base64 = false;
    int n = 0, made = 0, rc = inputs(root, items, &n, &base64, &e);
    for (; !rc && made < n; made++) rc = make_task(app, items[made], &ts[made], &e);
    cJSON_Delete(root);
    for (int i = 0; !rc && i < n; i++) {
        const int sub = serve_engine_submit(app->engine, ts[i]);
        if (sub != SERVE_SUBMIT_OK) {
            for (int j = 0; j < i; j++) serve_engine_cancel(app->engine, ts[j]);
            rc = serve_error_set(&e, 503, "server_error", NULL, "%s",
                                 sub == SERVE_SUBMIT_FULL ? "the server is busy: the request queue is full, try again later"
                                                          : "the server is shutting down");
        }
    }
    enum MHD_Result q = MHD_NO;
    if (rc) {
        q = serve_reply_error(c, &e);
    } else {
        bool gone = false;
        const struct serve_error *failed = NULL;
        for (int i = 0; i < n && !gone; i++) {
            gone = !serve_wait_task(c, ts[i]);
            if (!gone && ts[i]->err.status && !failed) failed = &ts[i]->err;
        }
        if (gone) {
            for (int i = 0; i < n; i++) serve_engine_cancel(app->engine, ts[i]);
            serve_metrics_count(&app->metrics, c->ep, 499);
        } else {
            q = failed ? serve_reply_error(c, failed) : serve_reply(c, 200, "application/json", response(app, ts, n, base64));
        }
    }
    for (int i = 0; i < made; i++) serve_task_unref(ts[i]);
    return q;
}
