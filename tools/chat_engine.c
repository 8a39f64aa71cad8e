/*
 * chat_engine.c — rendering, KV reuse and reply generation for `nib chat`
 * (see chat_engine.h).
 */
#include "chat_engine.h"

#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REPLY_ROOM 16 /* tokens a turn must leave free for the reply to start */

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int chat_engine_template(struct chat_engine *e, const char *override) {
    if (override) {
        const char *b = nib_chat_template_builtin(override);
        if (b) {
            e->tmpl = b;
            snprintf(e->tmpl_desc, sizeof e->tmpl_desc, "built-in %s", override);
            return 0;
        }
        FILE *f = fopen(override, "rb");
        if (!f)
            return cli_fail("--chat-template '%s' is neither a built-in template (%s) nor a readable file", override,
                            nib_chat_template_names());
        size_t cap = 1 << 16, n = 0;
        char *buf = malloc(cap + 1);
        while (buf) {
            n += fread(buf + n, 1, cap - n, f);
            if (n < cap || cap >= (1u << 24)) break;
            char *b2 = realloc(buf, 2 * cap + 1);
            if (!b2) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = b2;
            cap *= 2;
        }
        int bad = ferror(f);
        fclose(f);
        if (!buf) return cli_fail("out of memory reading '%s'", override);
        if (bad) {
            free(buf);
            return cli_fail("reading '%s' failed", override);
        }
        buf[n] = '\0';
        e->tmpl = e->tmpl_owned = buf;
        snprintf(e->tmpl_desc, sizeof e->tmpl_desc, "%s", override);
        return 0;
    }
    const char *src = NULL;
    if (nib_gguf_get_str(nib_model_gguf(e->l.model), "tokenizer.chat_template", &src, NULL) == NIB_OK && src && src[0]) {
        e->tmpl = src;
        snprintf(e->tmpl_desc, sizeof e->tmpl_desc, "the model's tokenizer.chat_template");
        return 0;
    }
    e->tmpl = nib_chat_template_builtin("chatml");
    snprintf(e->tmpl_desc, sizeof e->tmpl_desc, "built-in chatml");
    fprintf(stderr, "nib: the model has no chat template (tokenizer.chat_template); using ChatML\n");
    return 0;
}

int chat_engine_sampler(struct chat_engine *e) {
    struct nib_error err = { 0 };
    nib_sampler_free(e->sampler);
    e->sampler = NULL;
    if (nib_sampler_init(&e->sp, nib_model_n_vocab(e->l.model), &e->sampler, &err)) return cli_fail_err(&err);
    if (!e->spec_args.draft && !e->spec_args.lookup) return 0;
    if (!e->spec) /* the first time: draft model, context and speculation state */
        return gen_spec_setup(&e->spec_args, &e->sp, e->l.model, e->l.ctx, &e->draft_model, &e->draft_ctx, &e->draft_sampler,
                              &e->spec);
    /* after /set: the same state (and cache), new sampling for target and draft */
    if (nib_spec_set_sampling(e->spec, e->sp.temperature <= 0, e->sp.seed, &err)) return cli_fail_err(&err);
    if (!e->draft_model) return 0;
    nib_sampler_free(e->draft_sampler);
    e->draft_sampler = NULL;
    struct nib_sampler_params dp = e->sp;
    dp.seed = e->sp.seed ^ 0x5eedd4af7ull; /* as gen_spec_setup */
    if (nib_sampler_init(&dp, nib_model_n_vocab(e->draft_model), &e->draft_sampler, &err)) return cli_fail_err(&err);
    return 0;
}

void chat_engine_free(struct chat_engine *e) {
    nib_spec_free(e->spec);
    nib_sampler_free(e->draft_sampler);
    nib_context_free(e->draft_ctx);
    nib_model_free(e->draft_model);
    nib_sampler_free(e->sampler);
    free(e->tmpl_owned);
    free(e->cache.v);
    loaded_free(&e->l);
    memset(e, 0, sizeof(*e));
}

void chat_engine_reset(struct chat_engine *e) {
    struct nib_error err = { 0 };
    nib_context_seq_truncate(e->l.ctx, 0, 0, &err);
    e->cache.n = 0;
}

bool tok_list_push(struct tok_list *l, int32_t t) {
    if (l->n == l->cap) {
        int32_t cap = l->cap ? 2 * l->cap : 256;
        int32_t *v = realloc(l->v, sizeof(int32_t) * (size_t)cap);
        if (!v) return false;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = t;
    return true;
}

/* The conversation rendered (generation prompt added) and tokenized. */
static int render_tokens(struct chat_engine *e, const struct chat_conv *conv, int32_t **out, int32_t *n_out) {
    struct nib_chat_message *msgs = NULL;
    size_t n = 0;
    if (!chat_conv_messages(conv, &msgs, &n)) return cli_fail("out of memory");
    char *text = NULL;
    struct nib_error err = { 0 };
    int rc = gen_render_chat(e->tmpl, e->vocab, msgs, n, &text, &err);
    free(msgs);
    if (rc) return cli_fail("chat template (%s): %s", e->tmpl_desc, err.msg);
    const char *body = text;
    const size_t len = strlen(body);
    int32_t *ids = malloc(sizeof(int32_t) * (len + 3));
    int64_t k = ids ? nib_tokenize(e->vocab, body, len, NIB_TOKENIZE_ADD_SPECIAL | NIB_TOKENIZE_PARSE_SPECIAL, ids,
                                   (int64_t)len + 3, &err)
                    : -1;
    free(text);
    if (!ids) return cli_fail("out of memory");
    if (k < 0) {
        free(ids);
        return cli_fail_err(&err);
    }
    *out = ids;
    *n_out = (int32_t)k;
    return 0;
}

/* Renders and fits the conversation into the context (dropping the oldest
 * exchanges with --context-overflow trim). */
static int fit(struct chat_engine *e, struct chat_conv *conv, int32_t **toks, int32_t *n) {
    const int32_t n_ctx = nib_context_n_ctx(e->l.ctx);
    for (;;) {
        if (render_tokens(e, conv, toks, n)) return 1;
        if (*n + REPLY_ROOM <= n_ctx) return 0;
        free(*toks);
        *toks = NULL;
        if (!e->trim || conv->n <= 1) {
            fprintf(stderr,
                    "nib: the conversation no longer fits the context: this turn needs %d tokens (+%d for the reply), "
                    "the context holds %d%s. Use /reset to start over, /trim to drop the oldest exchange (the system "
                    "prompt stays), or run with --context-overflow trim or a larger -c.\n",
                    *n, REPLY_ROOM, n_ctx, e->trim ? " even with only the last message left" : "");
            return 2;
        }
        size_t dropped = chat_conv_drop_oldest(conv);
        fprintf(stderr, "nib: context full: dropped the oldest %zu message%s to fit (--context-overflow trim)\n", dropped,
                dropped == 1 ? "" : "s");
    }
}

/* Brings sequence 0 to toks[0..n): keeps the common prefix, decodes the
 * rest; *last = the batch index of the last token (its logits start the reply). */
static int sync_cache(struct chat_engine *e, const int32_t *toks, int32_t n, int32_t *last) {
    struct nib_error err = { 0 };
    int32_t p = 0;
    while (p < n && p < e->cache.n && e->cache.v[p] == toks[p]) p++;
    if (p == n) p = n - 1; /* the last token again: its logits start the reply */
    if (nib_context_seq_truncate(e->l.ctx, 0, p, &err)) return cli_fail_err(&err);
    e->cache.n = p;
    e->reused = p;
    e->processed = n - p;
    const int32_t nb = nib_context_n_batch(e->l.ctx);
    for (int32_t off = p; off < n; off += nb) {
        const int32_t m = n - off < nb ? n - off : nb;
        struct nib_batch b = { m, toks + off, NULL, NULL, NULL, 0 };
        if (nib_decode(e->l.ctx, &b, &err)) return cli_fail_err(&err);
        *last = m - 1;
        for (int32_t i = 0; i < m; i++)
            if (!tok_list_push(&e->cache, toks[off + i])) return cli_fail("out of memory");
    }
    return 0;
}

/* A reply token: kept in r and its text streamed (complete UTF-8 only). */
static int take_token(struct chat_engine *e, struct nib_utf8_stream *u8, int32_t tok, struct tok_list *r, chat_emit_fn emit,
                      void *user) {
    if (!tok_list_push(r, tok)) return cli_fail("out of memory");
    char piece[512], out[2048];
    int64_t np = nib_token_to_piece(e->vocab, tok, 0, piece, sizeof piece);
    if (np > 0) {
        size_t k = nib_utf8_stream_push(u8, piece, (size_t)(np < (int64_t)sizeof piece ? np : (int64_t)sizeof piece), out);
        if (k) emit(user, out, k);
    }
    return 0;
}

/* The end of the reply's text: an incomplete character becomes U+FFFD. */
static void finish_text(struct nib_utf8_stream *u8, chat_emit_fn emit, void *user) {
    char out[64];
    size_t k = nib_utf8_stream_finish(u8, out);
    if (k) emit(user, out, k);
}

static int generate(struct chat_engine *e, int32_t last, struct tok_list *r, chat_emit_fn emit, void *user,
                    volatile sig_atomic_t *stop_flag) {
    struct nib_error err = { 0 };
    struct nib_utf8_stream u8 = { 0 };
    const int32_t n_ctx = nib_context_n_ctx(e->l.ctx);
    const float *logits = nib_context_logits(e->l.ctx, last);
    e->stop = "length";
    for (;;) {
        if (stop_flag && *stop_flag) {
            e->stop = "interrupted";
            break;
        }
        if (e->n_predict >= 0 && r->n >= e->n_predict) break;
        if (e->cache.n >= n_ctx) {
            e->stop = "context";
            break;
        }
        int32_t tok = nib_sampler_sample(e->sampler, logits, &err);
        if (tok < 0) return cli_fail_err(&err);
        nib_sampler_accept(e->sampler, tok);
        if (nib_vocab_is_eog(e->vocab, tok)) {
            e->stop = "eog";
            break;
        }
        if (take_token(e, &u8, tok, r, emit, user)) return 1;
        struct nib_batch b = { 1, &tok, NULL, NULL, NULL, 0 };
        if (nib_decode(e->l.ctx, &b, &err)) return cli_fail_err(&err);
        if (!tok_list_push(&e->cache, tok)) return cli_fail("out of memory");
        logits = nib_context_logits(e->l.ctx, 0);
    }
    finish_text(&u8, emit, user);
    return 0;
}

/* The reply through speculative decoding: nib_spec keeps the common prefix
 * itself and emits several tokens per target pass. */
static int generate_spec(struct chat_engine *e, const int32_t *toks, int32_t n, struct tok_list *r, chat_emit_fn emit,
                         void *user, volatile sig_atomic_t *stop_flag) {
    struct nib_error err = { 0 };
    if (nib_spec_prompt(e->spec, toks, n, &err)) return cli_fail_err(&err);
    e->reused = nib_spec_reused(e->spec);
    e->processed = n - e->reused;
    struct nib_utf8_stream u8 = { 0 };
    e->stop = "length";
    for (bool done = false; !done;) {
        if (stop_flag && *stop_flag) {
            e->stop = "interrupted";
            break;
        }
        int32_t buf[257], cap = 257;
        if (e->n_predict >= 0 && e->n_predict - r->n < cap) cap = e->n_predict - r->n;
        if (cap <= 0) break;
        const int32_t got = nib_spec_next(e->spec, e->sampler, e->draft_sampler, buf, cap, &err);
        if (got < 0) return cli_fail_err(&err);
        if (got == 0) {
            e->stop = "context";
            break;
        }
        for (int32_t i = 0; i < got && !done; i++) {
            if (nib_vocab_is_eog(e->vocab, buf[i])) {
                e->stop = "eog";
                done = true;
                break;
            }
            if (take_token(e, &u8, buf[i], r, emit, user)) return 1;
        }
    }
    finish_text(&u8, emit, user);
    e->cache.n = 0; /* the target's KV is nib_spec's to track */
    return 0;
}

int chat_engine_turn(struct chat_engine *e, struct chat_conv *conv, chat_emit_fn emit, void *user,
                     volatile sig_atomic_t *stop_flag) {
    int32_t *toks = NULL, n = 0;
    int rc = fit(e, conv, &toks, &n);
    if (rc) return rc;
    struct tok_list r = { 0 };
    double t0 = now_s();
    if (e->spec) {
        rc = generate_spec(e, toks, n, &r, emit, user, stop_flag);
        free(toks);
    } else {
        int32_t last = 0;
        rc = sync_cache(e, toks, n, &last);
        free(toks);
        t0 = now_s();
        if (!rc) rc = generate(e, last, &r, emit, user, stop_flag);
    }
    e->reply_s = now_s() - t0;
    e->reply_tokens = r.n;
    if (!rc) {
        int64_t len = nib_detokenize(e->vocab, r.v, r.n, 0, NULL, 0, NULL);
        char *text = malloc((size_t)(len > 0 ? len : 0) + 1);
        if (!text) rc = cli_fail("out of memory");
        else {
            struct nib_error err = { 0 };
            nib_detokenize(e->vocab, r.v, r.n, 0, text, len + 1, &err);
            text[len > 0 ? len : 0] = '\0';
            if (!chat_conv_add(conv, "assistant", text, strlen(text))) rc = cli_fail("out of memory");
            free(text);
        }
    }
    free(r.v);
    return rc;
}
