/*
 * serve_request.c — request JSON parsing and validation for nib serve (see
 * serve_request.h).
 */
#include "serve_request.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int serve_error_set(struct serve_error *e, int status, const char *type, const char *param, const char *fmt, ...) {
    e->status = status;
    e->type = type;
    e->code = NULL;
    snprintf(e->param, sizeof e->param, "%s", param ? param : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return 1;
}

#define BAD(param, ...) serve_error_set(e, 400, "invalid_request_error", param, __VA_ARGS__)

bool serve_utf8_valid(const char *str, size_t n) {
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        const unsigned c = s[i];
        size_t len;
        unsigned cp, min;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) len = 2, cp = c & 0x1F, min = 0x80;
        else if ((c & 0xF0) == 0xE0) len = 3, cp = c & 0x0F, min = 0x800;
        else if ((c & 0xF8) == 0xF0) len = 4, cp = c & 0x07, min = 0x10000;
        else return false;
        if (n - i < len) return false;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        i += len;
    }
    return true;
}

/* The body as a JSON object, or 400. */
static cJSON *parse_object(const char *body, size_t n, struct serve_error *e) {
    if (!serve_utf8_valid(body, n)) return BAD(NULL, "the request body is not valid UTF-8"), NULL;
    cJSON *js = cJSON_ParseWithLength(body, n);
    if (!js) return BAD(NULL, "the request body is not valid JSON"), NULL;
    if (!cJSON_IsObject(js)) {
        cJSON_Delete(js);
        return BAD(NULL, "the request body must be a JSON object"), NULL;
    }
    return js;
}

/* A field, NULL when absent or null. */
static const cJSON *field(const cJSON *obj, const char *name) {
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(obj, name);
    return f && !cJSON_IsNull(f) ? f : NULL;
}

static int get_bool(const cJSON *obj, const char *name, bool *out, struct serve_error *e) {
    const cJSON *f = field(obj, name);
    if (!f) return 0;
    if (!cJSON_IsBool(f)) return BAD(name, "'%s' must be a boolean", name);
    *out = cJSON_IsTrue(f);
    return 0;
}

static int get_num(const cJSON *obj, const char *name, double lo, double hi, float *out, struct serve_error *e) {
    const cJSON *f = field(obj, name);
    if (!f) return 0;
    if (!cJSON_IsNumber(f)) return BAD(name, "'%s' must be a number", name);
    if (!isfinite(f->valuedouble) || f->valuedouble < lo || f->valuedouble > hi)
        return BAD(name, "'%s' must be between %g and %g (got %g)", name, lo, hi, f->valuedouble);
    *out = (float)f->valuedouble;
    return 0;
}

/* An integer in [lo, hi]; *given says whether it was there. */
static int get_int(const cJSON *obj, const char *name, double lo, double hi, double *out, bool *given, struct serve_error *e) {
    const cJSON *f = field(obj, name);
    if (given) *given = f != NULL;
    if (!f) return 0;
    if (!cJSON_IsNumber(f) || f->valuedouble != floor(f->valuedouble)) return BAD(name, "'%s' must be an integer", name);
    if (f->valuedouble < lo || f->valuedouble > hi)
        return BAD(name, "'%s' must be between %.0f and %.0f (got %.0f)", name, lo, hi, f->valuedouble);
    *out = f->valuedouble;
    return 0;
}

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

/* content: a string, or a list of {"type": "text", "text": ...} parts joined. */
static int message_content(const cJSON *c, int i, char **out, struct serve_error *e) {
    char param[64];
    snprintf(param, sizeof param, "messages[%d].content", i);
    if (!c) return (*out = dup_str("")) ? 0 : serve_error_set(e, 500, "server_error", NULL, "out of memory");
    if (cJSON_IsString(c)) return (*out = dup_str(c->valuestring)) ? 0 : serve_error_set(e, 500, "server_error", NULL, "out of memory");
    if (!cJSON_IsArray(c)) return BAD(param, "'%s' must be a string or a list of text parts", param);
    size_t len = 0;
    const cJSON *part;
    cJSON_ArrayForEach(part, c) {
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(part, "type"), *text = cJSON_GetObjectItemCaseSensitive(part, "text");
        if (!cJSON_IsString(type) || strcmp(type->valuestring, "text") || !cJSON_IsString(text))
            return BAD(param, "'%s': only {\"type\": \"text\", \"text\": ...} parts are supported", param);
        len += strlen(text->valuestring);
    }
    char *s = malloc(len + 1);
    if (!s) return serve_error_set(e, 500, "server_error", NULL, "out of memory");
    s[0] = '\0';
    size_t at = 0;
    cJSON_ArrayForEach(part, c) {
        const char *t = cJSON_GetObjectItemCaseSensitive(part, "text")->valuestring;
        memcpy(s + at, t, strlen(t) + 1);
        at += strlen(t);
    }
    *out = s;
    return 0;
}

static int parse_messages(const cJSON *js, struct serve_params *p, struct serve_error *e) {
    const cJSON *m = field(js, "messages");
    if (!m) return BAD("messages", "'messages' is required");
    if (!cJSON_IsArray(m) || cJSON_GetArraySize(m) == 0) return BAD("messages", "'messages' must be a non-empty list");
    const int n = cJSON_GetArraySize(m);
    p->msgs = calloc((size_t)n, sizeof(*p->msgs));
    if (!p->msgs) return serve_error_set(e, 500, "server_error", NULL, "out of memory");
    int i = 0;
    const cJSON *msg;
    cJSON_ArrayForEach(msg, m) {
        char param[64];
        snprintf(param, sizeof param, "messages[%d]", i);
        if (!cJSON_IsObject(msg)) return BAD(param, "'%s' must be an object", param);
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(msg, "role");
        snprintf(param, sizeof param, "messages[%d].role", i);
        if (!cJSON_IsString(role) || !role->valuestring[0]) return BAD(param, "'%s' must be a non-empty string", param);
        p->n_msgs = (size_t)i + 1;
        p->msgs[i].role = dup_str(role->valuestring);
        if (!p->msgs[i].role) return serve_error_set(e, 500, "server_error", NULL, "out of memory");
        char *content = NULL;
        if (message_content(field(msg, "content"), i, &content, e)) return 1;
        p->msgs[i].content = content;
        i++;
    }
    return 0;
}

static int parse_prompt(const cJSON *js, int32_t n_vocab, struct serve_params *p, struct serve_error *e) {
    const cJSON *pr = field(js, "prompt");
    if (!pr) return BAD("prompt", "'prompt' is required");
    if (cJSON_IsArray(pr) && cJSON_GetArraySize(pr) == 1 && cJSON_IsString(cJSON_GetArrayItem(pr, 0)))
        pr = cJSON_GetArrayItem(pr, 0);
    if (cJSON_IsString(pr)) return (p->prompt = dup_str(pr->valuestring)) ? 0 : serve_error_set(e, 500, "server_error", NULL, "out of memory");
    if (!cJSON_IsArray(pr) || cJSON_GetArraySize(pr) == 0)
        return BAD("prompt", "'prompt' must be a string, or a non-empty list of token ids (one prompt per request)");
    const int n = cJSON_GetArraySize(pr);
    p->prompt_ids = malloc(sizeof(int32_t) * (size_t)n);
    if (!p->prompt_ids) return serve_error_set(e, 500, "server_error", NULL, "out of memory");
    const cJSON *t;
    cJSON_ArrayForEach(t, pr) {
        if (!cJSON_IsNumber(t) || t->valuedouble != floor(t->valuedouble) || t->valuedouble < 0 || t->valuedouble >= n_vocab)
            return BAD("prompt", "'prompt' must be a string or a list of token ids in 0..%d (item %d is not; one prompt per request)",
                       n_vocab - 1, p->n_prompt_ids);
        p->prompt_ids[p->n_prompt_ids++] = (int32_t)t->valuedouble;
    }
    return 0;
}

static int parse_stop(const cJSON *js, struct serve_params *p, struct serve_error *e) {
    const cJSON *s = field(js, "stop");
    if (!s) return 0;
    if (cJSON_IsString(s)) {
        if (!s->valuestring[0]) return 0;
        return (p->stops[p->n_stops++] = dup_str(s->valuestring)) ? 0 : serve_error_set(e, 500, "server_error", NULL, "out of memory");
    }
    if (!cJSON_IsArray(s)) return BAD("stop", "'stop' must be a string or a list of strings");
    if (cJSON_GetArraySize(s) > SERVE_MAX_STOPS) return BAD("stop", "'stop' has more than %d strings", SERVE_MAX_STOPS);
    const cJSON *x;
    cJSON_ArrayForEach(x, s) {
        if (!cJSON_IsString(x)) return BAD("stop", "'stop' must be a string or a list of strings");
        if (!x->valuestring[0]) continue;
        if (!(p->stops[p->n_stops++] = dup_str(x->valuestring))) return serve_error_set(e, 500, "server_error", NULL, "out of memory");
    }
    return 0;
}

static int parse_logit_bias(const cJSON *js, int32_t n_vocab, struct serve_params *p, struct serve_error *e) {
    const cJSON *lb = field(js, "logit_bias");
    if (!lb) return 0;
    if (!cJSON_IsObject(lb)) return BAD("logit_bias", "'logit_bias' must be an object mapping token ids to numbers");
    const int n = cJSON_GetArraySize(lb);
    p->bias = calloc((size_t)(n > 0 ? n : 1), sizeof(*p->bias));
    if (!p->bias) return serve_error_set(e, 500, "server_error", NULL, "out of memory");
    const cJSON *x;
    cJSON_ArrayForEach(x, lb) {
        char *end;
        const long id = strtol(x->string, &end, 10);
        if (!x->string[0] || *end || id < 0 || id >= n_vocab)
            return BAD("logit_bias", "'logit_bias': key '%.32s' is not a token id in 0..%d", x->string, n_vocab - 1);
        if (!cJSON_IsNumber(x) || !isfinite(x->valuedouble) || x->valuedouble < -100 || x->valuedouble > 100)
            return BAD("logit_bias", "'logit_bias': the bias of token %ld must be a number in -100..100", id);
        p->bias[p->sp.n_logit_bias].token = (int32_t)id;
        p->bias[p->sp.n_logit_bias++].bias = (float)x->valuedouble;
    }
    p->sp.logit_bias = p->bias;
    return 0;
}

/* Chat: "logprobs": bool, "top_logprobs": 0..20 (with logprobs). Completions:
 * "logprobs": 0..5 alternatives (null: none). */
static int parse_logprobs(const cJSON *js, struct serve_params *p, struct serve_error *e) {
    const cJSON *lp = field(js, "logprobs"), *tl = field(js, "top_logprobs");
    if (lp && cJSON_IsNull(lp)) lp = NULL;
    if (tl && cJSON_IsNull(tl)) tl = NULL;
    if (p->kind == SERVE_CHAT) {
        if (lp && !cJSON_IsBool(lp)) return BAD("logprobs", "'logprobs' must be true or false");
        p->logprobs = lp && cJSON_IsTrue(lp);
        if (tl) {
            if (!cJSON_IsNumber(tl) || tl->valuedouble != (int)tl->valuedouble || tl->valuedouble < 0 || tl->valuedouble > 20)
                return BAD("top_logprobs", "'top_logprobs' must be an integer in 0..20");
            if (!p->logprobs) return BAD("top_logprobs", "'top_logprobs' needs 'logprobs': true");
            p->top_logprobs = (int32_t)tl->valuedouble;
        }
        return 0;
    }
    if (tl) return BAD("top_logprobs", "'top_logprobs' is for chat completions (completions take 'logprobs': N)");
    if (!lp) return 0;
    if (!cJSON_IsNumber(lp) || lp->valuedouble != (int)lp->valuedouble || lp->valuedouble < 0 || lp->valuedouble > 5)
        return BAD("logprobs", "'logprobs' must be an integer in 0..5");
    p->logprobs = true;
    p->top_logprobs = (int32_t)lp->valuedouble;
    return 0;
}

/* Fields nib does not do yet: a clear 400 rather than a silently different answer. */
static int unsupported(const cJSON *js, enum serve_kind kind, struct serve_error *e) {
    if (kind == SERVE_COMPLETION) {
        const cJSON *echo = field(js, "echo"), *suffix = field(js, "suffix");
        if (echo && cJSON_IsTrue(echo)) return BAD("echo", "'echo' is not supported yet");
        if (suffix && !(cJSON_IsString(suffix) && !suffix->valuestring[0])) return BAD("suffix", "'suffix' is not supported");
    }
    const cJSON *tools = field(js, "tools");
    if (tools && !(cJSON_IsArray(tools) && cJSON_GetArraySize(tools) == 0)) return BAD("tools", "'tools' is not supported yet");
    const cJSON *rf = field(js, "response_format");
    if (rf) {
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(rf, "type");
        if (!cJSON_IsString(type) || strcmp(type->valuestring, "text"))
            return BAD("response_format", "'response_format': only {\"type\": \"text\"} is supported yet");
    }
    return 0;
}

static int parse_sampling(const cJSON *js, int32_t n_vocab, struct serve_params *p, struct serve_error *e) {
    struct nib_sampler_params *sp = &p->sp;
    double v = 0;
    bool given = false;
    if (get_num(js, "temperature", 0, 100, &sp->temperature, e) || get_num(js, "top_p", 0, 1, &sp->top_p, e) ||
        get_num(js, "min_p", 0, 1, &sp->min_p, e) || get_num(js, "presence_penalty", -2, 2, &sp->presence_penalty, e) ||
        get_num(js, "frequency_penalty", -2, 2, &sp->frequency_penalty, e))
        return 1;
    if (field(js, "top_p") && sp->top_p <= 0) return BAD("top_p", "'top_p' must be greater than 0");
    if (get_int(js, "top_k", 0, 1e9, &v, &given, e)) return 1;
    if (given) sp->top_k = (int32_t)v;
    if (get_int(js, "seed", -9.2e18, 1.8e19, &v, &p->seed_given, e)) return 1;
    if (p->seed_given) sp->seed = v < 0 ? (uint64_t)(int64_t)v : (uint64_t)v;
    return parse_logit_bias(js, n_vocab, p, e);
}

int serve_request_parse(const char *body, size_t n, enum serve_kind kind, int32_t n_vocab, struct serve_params *p,
                        struct serve_error *e) {
    memset(p, 0, sizeof(*p));
    p->kind = kind;
    p->max_tokens = -1;
    p->sp = nib_sampler_default_params();
    p->sp.penalty_last_n = -1; /* OpenAI's penalties count the whole completion */
    cJSON *js = parse_object(body, n, e);
    if (!js) return 1;
    int rc = 0;
    double v = 0;
    bool given = false;
    const cJSON *model = field(js, "model");
    if (model && !cJSON_IsString(model)) rc = BAD("model", "'model' must be a string");
    if (!rc) rc = get_bool(js, "stream", &p->stream, e);
    if (!rc && field(js, "stream_options")) {
        const cJSON *so = field(js, "stream_options");
        if (!cJSON_IsObject(so)) rc = BAD("stream_options", "'stream_options' must be an object");
        else if (get_bool(so, "include_usage", &p->include_usage, e)) rc = 1, snprintf(e->param, sizeof e->param, "stream_options.include_usage");
    }
    if (!rc) rc = get_int(js, "n", 1, 1, &v, NULL, e);
    if (!rc) rc = get_int(js, "max_tokens", 0, 1 << 30, &v, &given, e);
    if (!rc && given) p->max_tokens = (int32_t)v;
    if (!rc) rc = get_int(js, "max_completion_tokens", 0, 1 << 30, &v, &given, e);
    if (!rc && given) p->max_tokens = (int32_t)v;
    if (!rc) rc = parse_sampling(js, n_vocab, p, e);
    if (!rc) rc = parse_stop(js, p, e);
    if (!rc) rc = unsupported(js, kind, e);
    if (!rc) rc = parse_logprobs(js, p, e);
    if (!rc) rc = kind == SERVE_CHAT ? parse_messages(js, p, e) : parse_prompt(js, n_vocab, p, e);
    cJSON_Delete(js);
    if (rc) serve_params_free(p);
    return rc;
}

void serve_params_free(struct serve_params *p) {
    for (size_t i = 0; i < p->n_msgs; i++) {
        free((char *)p->msgs[i].role);
        free((char *)p->msgs[i].content);
    }
    free(p->msgs);
    for (int i = 0; i < p->n_stops; i++) free(p->stops[i]);
    free(p->bias);
    free(p->prompt);
    free(p->prompt_ids);
    memset(p, 0, sizeof(*p));
}

int serve_parse_tokenize(const char *body, size_t n, char **content, bool *add_special, struct serve_error *e) {
    *content = NULL;
    *add_special = false;
    cJSON *js = parse_object(body, n, e);
    if (!js) return 1;
    const cJSON *c = field(js, "content");
    int rc = !c ? BAD("content", "'content' is required") : !cJSON_IsString(c) ? BAD("content", "'content' must be a string") : 0;
    if (!rc) rc = get_bool(js, "add_special", add_special, e);
    if (!rc && !(*content = dup_str(c->valuestring))) rc = serve_error_set(e, 500, "server_error", NULL, "out of memory");
    cJSON_Delete(js);
    return rc;
}

int serve_parse_detokenize(const char *body, size_t n, int32_t n_vocab, int32_t **ids, int32_t *n_ids, struct serve_error *e) {
    *ids = NULL;
    *n_ids = 0;
    cJSON *js = parse_object(body, n, e);
    if (!js) return 1;
    const cJSON *t = field(js, "tokens");
    int rc = !t ? BAD("tokens", "'tokens' is required") : !cJSON_IsArray(t) ? BAD("tokens", "'tokens' must be a list of token ids") : 0;
    if (!rc) {
        const int m = cJSON_GetArraySize(t);
        *ids = malloc(sizeof(int32_t) * (size_t)(m > 0 ? m : 1));
        if (!*ids) rc = serve_error_set(e, 500, "server_error", NULL, "out of memory");
        const cJSON *x;
        cJSON_ArrayForEach(x, t) {
            if (rc) break;
            if (!cJSON_IsNumber(x) || x->valuedouble != floor(x->valuedouble) || x->valuedouble < 0 || x->valuedouble >= n_vocab)
                rc = BAD("tokens", "'tokens'[%d] is not a token id in 0..%d", *n_ids, n_vocab - 1);
            else (*ids)[(*n_ids)++] = (int32_t)x->valuedouble;
        }
    }
    cJSON_Delete(js);
    if (rc) {
        free(*ids);
        *ids = NULL;
    }
    return rc;
}
