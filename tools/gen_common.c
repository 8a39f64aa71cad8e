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

