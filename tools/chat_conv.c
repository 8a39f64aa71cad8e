/*
 * chat_conv.c — the conversation of `nib chat` (see chat_conv.h).
 */
#include "chat_conv.h"

#include "cli.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

static char *dup_n(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

void chat_conv_clear(struct chat_conv *c) {
    for (size_t i = 0; i < c->n; i++) {
        free(c->msgs[i].role);
        free(c->msgs[i].content);
    }
    c->n = 0;
}

void chat_conv_free(struct chat_conv *c) {
    chat_conv_clear(c);
    free(c->msgs);
    free(c->system);
    memset(c, 0, sizeof(*c));
}

bool chat_conv_set_system(struct chat_conv *c, const char *text) {
    char *s = text && text[0] ? dup_n(text, strlen(text)) : NULL;
    if (text && text[0] && !s) return false;
    free(c->system);
    c->system = s;
    return true;
}

bool chat_conv_add(struct chat_conv *c, const char *role, const char *content, size_t len) {
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 16;
        struct chat_msg *m = realloc(c->msgs, sizeof(*m) * cap);
        if (!m) return false;
        c->msgs = m;
        c->cap = cap;
    }
    struct chat_msg m = { dup_n(role, strlen(role)), dup_n(content, len) };
    if (!m.role || !m.content) {
        free(m.role);
        free(m.content);
        return false;
    }
    c->msgs[c->n++] = m;
    return true;
}

void chat_conv_pop(struct chat_conv *c) {
    if (!c->n) return;
    c->n--;
    free(c->msgs[c->n].role);
    free(c->msgs[c->n].content);
}

size_t chat_conv_drop_oldest(struct chat_conv *c) {
    size_t k = 0;
    if (c->n == 0) return 0;
    k = 1; /* the first turn, then everything up to the next user turn */
    while (k < c->n && strcmp(c->msgs[k].role, "user") != 0) k++;
    for (size_t i = 0; i < k; i++) {
        free(c->msgs[i].role);
        free(c->msgs[i].content);
    }
    memmove(c->msgs, c->msgs + k, sizeof(*c->msgs) * (c->n - k));
    c->n -= k;
    return k;
}

bool chat_conv_messages(const struct chat_conv *c, struct nib_chat_message **out, size_t *n) {
    *n = c->n + (c->system ? 1 : 0);
    *out = malloc(sizeof(**out) * (*n ? *n : 1));
    if (!*out) return false;
    size_t k = 0;
    if (c->system) (*out)[k++] = (struct nib_chat_message){ "system", c->system };
    for (size_t i = 0; i < c->n; i++) (*out)[k++] = (struct nib_chat_message){ c->msgs[i].role, c->msgs[i].content };
    return true;
}

int chat_conv_save(const struct chat_conv *c, const char *path) {
    cJSON *root = cJSON_CreateObject(), *arr = cJSON_CreateArray();
    if (c->system) cJSON_AddStringToObject(root, "system", c->system);
    for (size_t i = 0; i < c->n; i++) {
        cJSON *m = cJSON_CreateObject();
        cJSON_AddStringToObject(m, "role", c->msgs[i].role);
        cJSON_AddStringToObject(m, "content", c->msgs[i].content);
        cJSON_AddItemToArray(arr, m);
    }
    cJSON_AddItemToObject(root, "messages", arr);
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text) return cli_fail("out of memory writing the conversation");
    FILE *f = fopen(path, "w");
    int rc = 0;
    if (!f) rc = cli_fail("cannot write '%s'", path);
    else {
        if (fputs(text, f) < 0 || fputc('\n', f) < 0) rc = cli_fail("writing '%s' failed", path);
        if (fclose(f) != 0 && !rc) rc = cli_fail("writing '%s' failed", path);
    }
    free(text);
    return rc;
}

static int parse_messages(struct chat_conv *c, const cJSON *arr, const char *what) {
    const cJSON *m = NULL;
    size_t i = 0;
    cJSON_ArrayForEach(m, arr) {
        const cJSON *role = cJSON_GetObjectItem(m, "role"), *content = cJSON_GetObjectItem(m, "content");
        if (!cJSON_IsString(role) || !cJSON_IsString(content))
            return cli_fail("%s: message %zu needs string \"role\" and \"content\"", what, i);
        if (!strcmp(role->valuestring, "system") && c->n == 0) {
            if (!chat_conv_set_system(c, content->valuestring)) return cli_fail("out of memory");
        } else if (!chat_conv_add(c, role->valuestring, content->valuestring, strlen(content->valuestring))) {
            return cli_fail("out of memory");
        }
        i++;
    }
    return 0;
}

int chat_conv_parse(struct chat_conv *c, const char *json, const char *what) {
    cJSON *root = cJSON_Parse(json);
    if (!root) return cli_fail("%s: not valid JSON (near \"%.20s\")", what, cJSON_GetErrorPtr() ? cJSON_GetErrorPtr() : "");
    struct chat_conv fresh = { 0 };
    int rc = 0;
    const cJSON *arr = cJSON_IsArray(root) ? root : cJSON_GetObjectItem(root, "messages");
    const cJSON *sys = cJSON_IsObject(root) ? cJSON_GetObjectItem(root, "system") : NULL;
    if (!cJSON_IsArray(arr)) rc = cli_fail("%s: expected {\"messages\": [...]} or a list of messages", what);
    else if (sys && !cJSON_IsString(sys)) rc = cli_fail("%s: \"system\" must be a string", what);
    else if (sys && !chat_conv_set_system(&fresh, sys->valuestring)) rc = cli_fail("out of memory");
    if (!rc) rc = parse_messages(&fresh, arr, what);
    cJSON_Delete(root);
    if (rc) {
        chat_conv_free(&fresh);
        return rc;
    }
    chat_conv_free(c);
    *c = fresh;
    return 0;
}

int chat_conv_load(struct chat_conv *c, const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return cli_fail("cannot read '%s'", path);
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap = cap ? 2 * cap : 8192;
            if (cap > ((size_t)64 << 20)) {
                free(buf);
                fclose(f);
                return cli_fail("'%s' is larger than 64 MiB", path);
            }
            char *b = realloc(buf, cap);
            if (!b) {
                free(buf);
                fclose(f);
                return cli_fail("out of memory");
            }
            buf = b;
        }
        size_t r = fread(buf + n, 1, 4096, f);
        n += r;
        if (r < 4096) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return cli_fail("reading '%s' failed", path);
    }
    buf[n] = '\0';
    int rc = chat_conv_parse(c, buf, path);
    free(buf);
    return rc;
}
