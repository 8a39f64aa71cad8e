/*
 * gen_common.c — what nib generate and nib batch share (see gen_common.h).
 */
#include "gen_common.h"

#include "cli.h"
#include "model_args.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

int gen_parse_sampling(struct nib_sampler_params *p, int32_t *n_predict, const char *o, const char *v, bool *used) {
    *used = true;
    bool ok = true;
    if (!strcmp(o, "--temp")) ok = parse_f32(v, 0, 100, &p->temperature);
    else if (!strcmp(o, "--top-k")) ok = parse_i32(v, 0, 1 << 30, &p->top_k);
    else if (!strcmp(o, "--top-p")) ok = parse_f32(v, 0, 1, &p->top_p) && p->top_p > 0;
    else if (!strcmp(o, "--min-p")) ok = parse_f32(v, 0, 1, &p->min_p);
    else if (!strcmp(o, "--typical-p")) ok = parse_f32(v, 0, 1, &p->typical_p) && p->typical_p > 0;
    else if (!strcmp(o, "--repeat-penalty")) ok = parse_f32(v, 0, 100, &p->repeat_penalty) && p->repeat_penalty > 0;
    else if (!strcmp(o, "--repeat-last-n")) ok = parse_i32(v, -1, 1 << 24, &p->penalty_last_n);
    else if (!strcmp(o, "--frequency-penalty")) ok = parse_f32(v, -100, 100, &p->frequency_penalty);
    else if (!strcmp(o, "--presence-penalty")) ok = parse_f32(v, -100, 100, &p->presence_penalty);
    else if (!strcmp(o, "--seed")) {
        char *end;
        unsigned long long s = strtoull(v, &end, 10);
        ok = *v && !*end;
        p->seed = s;
    } else if (!strcmp(o, "-n") || !strcmp(o, "--n-predict")) ok = parse_i32(v, -1, 1 << 24, n_predict);
    else *used = false;
    if (*used && !ok) return cli_fail("%s: bad value '%s'", o, v);
    return 0;
}

const char *const GEN_SPEC_HELP =
    "  -md, --model-draft F  speculative decoding with draft model F (same vocabulary); greedy output\n"
    "                      is identical to decoding without it, sampled output follows the same distribution\n"
    "  --draft-max K       draft at most K tokens per step (default 16; K adapts below it)\n"
    "  --draft-min K       draft at least K (default 0)\n"
    "  --draft-p-min P     stop drafting when the draft's top probability is below P (default 0.75)\n"
    "  --lookup N          speculation without a draft: propose what followed the last match of the\n"
    "                      last N tokens in the prompt and the text so far\n";

int gen_parse_spec(struct gen_spec_args *a, const char *o, const char *v, bool *used) {
    *used = true;
    bool ok = true;
    if (!strcmp(o, "-md") || !strcmp(o, "--model-draft")) a->draft = v;
    else if (!strcmp(o, "--draft-max")) ok = parse_i32(v, 1, 256, &a->p.draft_max);
    else if (!strcmp(o, "--draft-min")) ok = parse_i32(v, 0, 256, &a->p.draft_min);
    else if (!strcmp(o, "--draft-p-min")) ok = parse_f32(v, 0.0f, 1.0f, &a->p.p_min);
    else if (!strcmp(o, "--lookup")) ok = parse_i32(v, 1, 64, &a->p.lookup), a->lookup = true;
    else *used = false;
    if (*used && !ok) return cli_fail("%s: bad value '%s' (see --help)", o, v);
    return 0;
}

int gen_check_spec(const struct gen_spec_args *a) {
    if (a->draft && a->lookup) return cli_fail("give a draft model (-md) or --lookup, not both");
    if (a->p.draft_min > a->p.draft_max) return cli_fail("--draft-min %d is above --draft-max %d", a->p.draft_min, a->p.draft_max);
    return 0;
}

int gen_open_draft(const char *path, const struct nib_model *target, const struct nib_context *ctx, int32_t kv_block,
                   struct nib_model **draft_model, struct nib_context **draft_ctx) {
    struct nib_error err = { 0 };
    if (nib_model_load(path, NULL, draft_model, &err)) return cli_fail_err(&err);
    if (nib_spec_check_vocab(nib_model_vocab(target), nib_model_vocab(*draft_model), &err)) return cli_fail_err(&err);
    struct nib_context_params cp = nib_context_default_params();
    cp.n_ctx = nib_context_n_ctx(ctx);
    cp.n_threads = nib_context_n_threads(ctx);
    cp.n_batch = nib_context_n_batch(ctx);
    cp.kv_block = kv_block;
    if (nib_context_new(*draft_model, &cp, draft_ctx, &err)) return cli_fail_err(&err);
    return 0;
}

int gen_spec_setup(const struct gen_spec_args *a, const struct nib_sampler_params *sp, const struct nib_model *target,
                   struct nib_context *ctx, struct nib_model **draft_model, struct nib_context **draft_ctx,
                   struct nib_sampler **draft_sampler, struct nib_spec **spec) {
    struct nib_error err = { 0 };
    if (a->draft) {
        if (gen_open_draft(a->draft, target, ctx, 0, draft_model, draft_ctx)) return 1;
        struct nib_sampler_params dp = *sp;
        dp.seed = sp->seed ^ 0x5eedd4af7ull; /* the draft's own draws */
        if (nib_sampler_init(&dp, nib_model_n_vocab(*draft_model), draft_sampler, &err)) return cli_fail_err(&err);
    }
    struct nib_spec_params p = a->p;
    p.greedy = sp->temperature <= 0;
    p.seed = sp->seed;
    if (nib_spec_new(ctx, draft_ctx ? *draft_ctx : NULL, &p, spec, &err)) return cli_fail_err(&err);
    return 0;
}

void gen_print_spec_stats(const struct nib_spec *spec) {
    struct nib_spec_stats st;
    nib_spec_get_stats(spec, &st);
    fprintf(stderr, "nib: speculative: %lld target passes, %lld drafted, %lld accepted (%.1f%%; per judged token %.1f%%), "
                    "%.2f tokens per pass; drafting %.3f s, verifying %.3f s\n",
            (long long)st.steps, (long long)st.drafted, (long long)st.accepted,
            st.drafted ? 100.0 * (double)st.accepted / (double)st.drafted : 0.0,
            st.judged ? 100.0 * (double)st.accepted / (double)st.judged : 0.0,
            st.steps ? (double)(st.emitted - 1) / (double)st.steps : 0.0, st.t_draft, st.t_target);
}

int gen_render_chat(const char *tmpl, const struct nib_vocab *v, const struct nib_chat_message *msgs, size_t n, char **out,
                    struct nib_error *err) {
    const int32_t bos = nib_vocab_special(v, NIB_SPECIAL_BOS), eos = nib_vocab_special(v, NIB_SPECIAL_EOS);
    const char *bos_text = bos >= 0 ? nib_vocab_token_text(v, bos, NULL) : NULL;
    const char *eos_text = eos >= 0 ? nib_vocab_token_text(v, eos, NULL) : NULL;
    if (!bos_text) bos_text = "";
    if (!eos_text) eos_text = "";
    char *text = NULL;
    int rc = nib_chat_template_apply(tmpl, msgs, n, true, bos_text, eos_text, &text, err);
    if (rc) return rc;
    const size_t nb = strlen(bos_text);
    if (nib_vocab_add_bos(v) && nb && !strncmp(text, bos_text, nb)) memmove(text, text + nb, strlen(text + nb) + 1);
    *out = text;
    return NIB_OK;
}

int gen_print_json(const struct nib_vocab *v, const int32_t *prompt, int32_t n_prompt, const int32_t *tokens, int32_t n_tokens,
                   const char *stop) {
    cJSON *root = cJSON_CreateObject(), *pt = cJSON_CreateArray(), *tk = cJSON_CreateArray();
    for (int32_t i = 0; i < n_prompt; i++) cJSON_AddItemToArray(pt, cJSON_CreateNumber(prompt[i]));
    for (int32_t i = 0; i < n_tokens; i++) cJSON_AddItemToArray(tk, cJSON_CreateNumber(tokens[i]));
    cJSON_AddItemToObject(root, "prompt_tokens", pt);
    cJSON_AddItemToObject(root, "tokens", tk);
    int64_t n = nib_detokenize(v, tokens, n_tokens, 0, NULL, 0, NULL);
    char *text = malloc((size_t)(n > 0 ? n : 0) + 1), *clean = malloc(3 * ((size_t)(n > 0 ? n : 0) + 4) + 16);
    if (text && clean) {
        nib_detokenize(v, tokens, n_tokens, 0, text, n + 1, NULL);
        struct nib_utf8_stream st = { { 0 }, 0 };
        size_t o = nib_utf8_stream_push(&st, text, (size_t)n, clean);
        o += nib_utf8_stream_finish(&st, clean + o);
        clean[o] = '\0';
        cJSON_AddStringToObject(root, "text", clean);
    }
    free(text);
    free(clean);
    cJSON_AddStringToObject(root, "stop", stop);
    char *s = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (s) puts(s);
    free(s);
    return s ? 0 : cli_fail("out of memory");
}

