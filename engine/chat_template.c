/*
 * chat_template.c — nib_chat_template_apply (include/nib.h): the variables
 * Hugging Face's apply_chat_template hands a template, rendered by the
 * Jinja interpreter (jinja.h).
 *
 * The template sees what transformers' render_jinja_template passes:
 * messages (a list of {"role", "content"} dicts, content None when the
 * caller passes NULL), add_generation_prompt, bos_token and eos_token
 * (NULL: ""), tools=None and documents=None, plus the globals
 * raise_exception and strftime_now. Everything the render allocates lives
 * in one arena freed before returning; only *out is handed to the caller.
 */
#include "error.h"
#include "jinja.h"
#include "nib.h"

#include <stdlib.h>
#include <string.h>

static struct jv cstr(const char *s) { return s ? jv_str(s, strlen(s)) : jv_str("", 0); }

static int set_key(struct jctx *c, struct jdict *d, const char *key, struct jv v) {
    return jdict_set(c, d, jv_str(key, strlen(key)), v);
}

static int build_globals(struct jctx *c, const struct nib_chat_message *msgs, size_t n, bool add_generation_prompt,
                         const char *bos_token, const char *eos_token, struct jdict **out) {
    struct jdict *g = jdict_new(c, 8);
    struct jlist *list = jlist_new(c, n);
    if (!g || !list) return c->err->status;
    for (size_t i = 0; i < n; i++) {
        struct jdict *m = jdict_new(c, 2);
        if (!m) return c->err->status;
        int rc = set_key(c, m, "role", cstr(msgs[i].role));
        if (!rc) rc = set_key(c, m, "content", msgs[i].content ? cstr(msgs[i].content) : jv_none());
        if (rc) return rc;
        list->v[list->n++] = jv_dict(m, false);
    }
    int rc = set_key(c, g, "messages", jv_list(list, false));
    if (!rc) rc = set_key(c, g, "tools", jv_none());
    if (!rc) rc = set_key(c, g, "documents", jv_none());
    if (!rc) rc = set_key(c, g, "add_generation_prompt", jv_bool(add_generation_prompt));
    if (!rc) rc = set_key(c, g, "bos_token", cstr(bos_token));
    if (!rc) rc = set_key(c, g, "eos_token", cstr(eos_token));
    *out = g;
    return rc;
}

int nib_chat_template_apply(const char *source, const struct nib_chat_message *msgs, size_t n,
                            bool add_generation_prompt, const char *bos_token, const char *eos_token, char **out,
                            struct nib_error *err) {
    if (out) *out = NULL;
    if (!source || !out || (n && !msgs))
        return nib_error_set(err, NIB_E_ARG, "nib_chat_template_apply: NULL %s",
                             !source ? "template" : !out ? "output pointer" : "messages");
    for (size_t i = 0; i < n; i++)
        if (!msgs[i].role) return nib_error_set(err, NIB_E_ARG, "chat message %zu has no role", i);
    struct nib_error local = {0};
    struct jctx c = {0};
    c.err = &local;
    struct jdict *globals = NULL;
    struct jstr text = {0};
    int rc = build_globals(&c, msgs, n, add_generation_prompt, bos_token, eos_token, &globals);
    if (!rc) rc = jinja_render(&c, source, strlen(source), globals, &text);
    if (!rc) {
        *out = malloc(text.n + 1);
        if (!*out) {
            rc = nib_error_set(&local, NIB_E_NOMEM, "chat template: out of memory for %zu bytes of output", text.n);
        } else {
            if (text.n) memcpy(*out, text.p, text.n);
            (*out)[text.n] = '\0';
        }
    }
    jctx_free(&c);
    if (rc) return nib_error_set(err, rc, "%s", local.msg);
    return 0;
}
