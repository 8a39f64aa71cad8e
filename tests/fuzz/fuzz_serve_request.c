/*
 * fuzz_serve_request.c — libFuzzer target for nib serve's request parser
 * (tools/serve_request.c): any bytes as a /v1/chat/completions,
 * /v1/completions, /tokenize or /detokenize body (the first byte picks
 * which). Checks: no crash, no leak; an accepted request is well formed
 * (a 400 names a message; parsed ids are in range; stop strings non-empty).
 */
#include "serve_request.h"

#include <stdlib.h>
#include <string.h>

#define N_VOCAB 514

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
    if (size < 1) return 0;
    const int which = data[0] & 3;
    const char *body = (const char *)data + 1;
    const size_t n = size - 1;
    struct serve_error e = { 0 };
    if (which < 2) {
        struct serve_params p;
        if (serve_request_parse(body, n, which == 0 ? SERVE_CHAT : SERVE_COMPLETION, N_VOCAB, &p, &e)) {
            if (e.status != 400 && e.status != 500) abort();
            if (!e.msg[0]) abort();
            return 0;
        }
        for (int32_t i = 0; i < p.n_prompt_ids; i++)
            if (p.prompt_ids[i] < 0 || p.prompt_ids[i] >= N_VOCAB) abort();
        for (int i = 0; i < p.n_stops; i++)
            if (!p.stops[i][0]) abort();
        if (which == 0 && (p.n_msgs == 0 || !p.msgs[0].role || !p.msgs[0].content)) abort();
        if (which == 1 && !p.prompt && p.n_prompt_ids == 0) abort();
        serve_params_free(&p);
    } else if (which == 2) {
        char *content = NULL;
        bool add = false;
        if (!serve_parse_tokenize(body, n, &content, &add, &e)) free(content);
    } else {
        int32_t *ids = NULL, k = 0;
        if (!serve_parse_detokenize(body, n, N_VOCAB, &ids, &k, &e)) {
            for (int32_t i = 0; i < k; i++)
                if (ids[i] < 0 || ids[i] >= N_VOCAB) abort();
            free(ids);
        }
    }
    return 0;
}
