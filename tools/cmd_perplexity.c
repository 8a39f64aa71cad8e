/*
 * cmd_perplexity.c — `nib perplexity`: perplexity of a model over a text
 * file, chunked and scored exactly as llama.cpp's llama-perplexity does,
 * and (with --kl-divergence) the KL divergence of a model from a base
 * model's saved log-probabilities.
 *
 * Rule (llama.cpp's perplexity()): the whole text is tokenized once (BOS as
 * the vocab says); n_chunk = n_tokens / n_ctx (capped by --chunks); each
 * chunk of n_ctx tokens is decoded from an empty cache in batches of -b
 * tokens, its first token replaced by BOS when the vocab adds BOS; positions
 * n_ctx/2 .. n_ctx-2 are scored against the token that follows. Only those
 * rows ask for logits, and each batch's rows are consumed right after it,
 * so no n_ctx x n_vocab buffer is kept. Row arithmetic: ppl_math.h; base
 * file: ppl_logits_file.h; reports: ppl_report.h.
 */
#include "cli.h"
#include "model_args.h"
#include "ppl_logits_file.h"
#include "ppl_math.h"
#include "ppl_report.h"
#include "ppl_text.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct ppl_args {
    struct model_args m;
    const char       *text;     /* -f */
    int32_t           n_batch;  /* -b */
    int32_t           n_chunks; /* --chunks; -1: all */
    const char       *base;     /* --kl-divergence-base */
    bool              kld;      /* --kl-divergence */
    bool              json;
};

static void usage(FILE *f) {
    fputs("usage: nib perplexity -m MODEL -f TEXT [-c 512] [-b 512] [-t N] [--chunks N] [--json]\n"
          "                      [--kl-divergence-base FILE [--kl-divergence]]\n"
          "  Perplexity over a UTF-8 text file (plain or gzip), chunked and scored as llama.cpp's\n"
          "  llama-perplexity: chunks of -c tokens, each starting with BOS, the second half of each scored.\n"
          "  -f TEXT                    the text (one trailing newline is dropped, as llama.cpp does)\n"
          "  -c N                       tokens per chunk (default 512, or the model's context if shorter)\n"
          "  -b N                       tokens per decode call (default 512, llama.cpp's micro-batch); when it holds\n"
          "                             several chunks, they are decoded together as separate sequences\n"
          "  --chunks N                 score at most N chunks (default: all)\n"
          "  --kl-divergence-base FILE  save the scored rows' log-probabilities to FILE (llama.cpp's format);\n"
          "                             with --kl-divergence, read them and compare this model with them\n"
          "                             (the text and -c come from FILE; -f, if given, must match it)\n"
          "  --json                     print one JSON object instead of the text report\n"
          "  -t N, --kv-type T, --kv-block N, --no-mmap   as for nib generate\n",
          f);
}

static int parse_args(struct ppl_args *a, int argc, char **argv) {
    a->n_batch = 512;
    a->n_chunks = -1;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "-p") || !strcmp(o, "--prompt") || !strcmp(o, "--tokens"))
            return cli_fail("perplexity: %s is not an option here; give the text with -f FILE", o);
        int r = model_args_parse(&a->m, argc, argv, &i);
        if (r < 0) return 1;
        if (r) continue;
        bool has = i + 1 < argc;
        if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
            usage(stdout);
            return -1;
        } else if (!strcmp(o, "--json")) a->json = true;
        else if (!strcmp(o, "--kl-divergence")) a->kld = true;
        else if (has && (!strcmp(o, "-f") || !strcmp(o, "--file"))) a->text = argv[++i];
        else if (has && (!strcmp(o, "--kl-divergence-base") || !strcmp(o, "--save-all-logits"))) a->base = argv[++i];
        else if (has && (!strcmp(o, "-b") || !strcmp(o, "--batch-size"))) {
            if (!parse_i32(argv[++i], 1, 1 << 24, &a->n_batch)) return cli_fail("%s: '%s' is not a batch size (1..16777216)", o, argv[i]);
        } else if (has && !strcmp(o, "--chunks")) {
            if (!parse_i32(argv[++i], -1, INT32_MAX, &a->n_chunks) || a->n_chunks == 0)
                return cli_fail("--chunks: '%s' is not a chunk count (-1 for all, or 1 or more)", argv[i]);
        } else {
            return cli_fail("perplexity: unknown option or missing value: '%s' (see nib perplexity --help)", o);
        }
    }
    if (a->kld && !a->base) return cli_fail("--kl-divergence needs --kl-divergence-base FILE (the base model's saved log-probabilities)");
    if (!a->kld && !a->text) return cli_fail("perplexity: give the text with -f FILE");
    return 0;
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* One run over the chunks: the context, the mode's files and the sums. */
struct ppl_run {
    struct nib_context  *ctx;
    int32_t              n_vocab, n_ctx, n_batch, n_chunk, n_seq, bos; /* n_seq: chunks per decode call */
    const int32_t       *tokens;   /* [n_chunk * n_ctx] */
    struct ppl_base_file out, in;  /* writing a base / reading one (f NULL: not) */
    uint16_t            *row, *row2; /* packed rows: the base's, the current one */
    struct ppl_report    rep;
    char                 msg[NIB_ERROR_MSG_SIZE + 64];
};

static int score_row(struct ppl_run *r, const float *logits, int32_t next) {
    struct ppl_report *p = &r->rep;
    if (r->in.f) {
        if (ppl_base_read_row(&r->in, r->row, r->msg, sizeof r->msg)) return 1;
        ppl_kld_row(logits, r->n_vocab, r->row, next, r->row2, &p->kld, &p->kld_values[p->kld.count], &p->p_diff_values[p->kld.count]);
        return 0;
    }
    double v;
    if (r->out.f) {
        v = ppl_nll_pack(logits, r->n_vocab, next, r->row);
        if (ppl_base_write_row(&r->out, r->row, r->msg, sizeof r->msg)) return 1;
    } else {
        v = ppl_nll(logits, r->n_vocab, next);
    }
    p->nll += v;
    p->nll2 += v * v;
    p->count++;
    return 0;
}

/* Per-call buffers: n_batch entries each. */
struct ppl_batch_buf {
    int32_t *tok, *pos, *seq;
    int8_t  *want;
};

/* Progress on a terminal: a bar, chunk i/N, tokens/s and the time left. */
static void progress(int32_t done, int32_t total, int32_t n_ctx, double elapsed) {
    char bar[31];
    int filled = (int)(30.0 * done / total);
    for (int i = 0; i < 30; i++) bar[i] = i < filled ? '#' : '.';
    bar[30] = '\0';
    double tps = elapsed > 0 ? (double)done * n_ctx / elapsed : 0, eta = done ? elapsed / done * (total - done) : 0;
    fprintf(stderr, "\rperplexity: [%s] chunk %d/%d, %.0f tokens/s, ETA %dm%02ds ", bar, done, total, tps, (int)eta / 60,
            (int)eta % 60);
    if (done == total) fputc('\n', stderr);
    fflush(stderr);
}

/*
 * Decodes chunks c0 .. c0+n_seq-1 from an empty cache, chunk c0+s as
 * sequence s (several chunks share one call when -b holds them, as
 * llama.cpp's n_seq = n_batch / n_ctx), and scores their rows in order; a
 * chunk is reported once its last scored row is in.
 */
static int eval_chunks(struct ppl_run *r, int32_t c0, int32_t n_seq, struct ppl_batch_buf *b, FILE *out) {
    const int32_t n_ctx = r->n_ctx, first = n_ctx / 2, total = n_seq * n_ctx;
    struct nib_error err = { 0 };
    for (int32_t s = 0; s < n_seq; s++)
        if (nib_context_seq_truncate(r->ctx, s, 0, &err)) return snprintf(r->msg, sizeof r->msg, "%s", err.msg), 1;
    for (int32_t off = 0; off < total; off += r->n_batch) {
        const int32_t m = total - off < r->n_batch ? total - off : r->n_batch;
        for (int32_t k = 0; k < m; k++) {
            const int32_t s = (off + k) / n_ctx, p = (off + k) % n_ctx;
            b->tok[k] = p == 0 && r->bos >= 0 ? r->bos : r->tokens[(size_t)(c0 + s) * n_ctx + p];
            b->pos[k] = p, b->seq[k] = s;
            b->want[k] = p >= first && p <= n_ctx - 2;
        }
        /* llama.cpp's integer kernels: the KL divergence of a Q8_0 model from its base is
         * about what bf16 rounding would add (kernels/cpu/gemm_bf16_amx.h) */
        struct nib_batch nb = { m, b->tok, b->pos, b->seq, b->want, NIB_BATCH_INT_GEMM };
        if (nib_decode(r->ctx, &nb, &err)) return snprintf(r->msg, sizeof r->msg, "chunk %d: %s", c0 + 1, err.msg), 1;
        for (int32_t k = 0; k < m; k++) {
            if (!b->want[k]) continue;
            const int32_t c = c0 + b->seq[k], p = b->pos[k];
            const float *lg = nib_context_logits(r->ctx, k);
            if (!lg) return snprintf(r->msg, sizeof r->msg, "chunk %d: no logits for position %d", c + 1, p), 1;
            if (score_row(r, lg, r->tokens[(size_t)c * n_ctx + p + 1])) return 1;
            if (p == n_ctx - 2) ppl_report_chunk(&r->rep, c, out);
        }
    }
    return 0;
}

static int run_chunks(struct ppl_run *r, bool json) {
    struct ppl_batch_buf b = { malloc(sizeof(int32_t) * (size_t)r->n_batch), malloc(sizeof(int32_t) * (size_t)r->n_batch),
                               malloc(sizeof(int32_t) * (size_t)r->n_batch), malloc((size_t)r->n_batch) };
    int rc = !b.tok || !b.pos || !b.seq || !b.want ? (snprintf(r->msg, sizeof r->msg, "out of memory"), 1) : 0;
    const bool tty = isatty(2);
    const double t0 = now_s();
    fprintf(stderr, "perplexity: %d chunks of %d tokens, batch %d (%d chunk%s per call), %d threads%s\n", r->n_chunk, r->n_ctx,
            r->n_batch, r->n_seq, r->n_seq > 1 ? "s" : "", nib_context_n_threads(r->ctx),
            r->in.f ? ", KL divergence against the base file" : "");
    if (r->in.f && !json) ppl_report_kld_header(stdout);
    for (int32_t c = 0; c < r->n_chunk && !rc; c += r->n_seq) {
        const int32_t n = r->n_chunk - c < r->n_seq ? r->n_chunk - c : r->n_seq;
        rc = eval_chunks(r, c, n, &b, json ? NULL : stdout);
        if (rc) break;
        const double t = now_s() - t0;
        if (tty) progress(c + n, r->n_chunk, r->n_ctx, t);
        else if (c == 0)
            fprintf(stderr, "perplexity: %.2f seconds per pass - ETA %.2f minutes\n", t, t * r->n_chunk / n / 60.0);
    }
    free(b.tok);
    free(b.pos);
    free(b.seq);
    free(b.want);
    return rc;
}

/* Whole text -> tokens (BOS as the vocab says; special-token text stays text, as llama.cpp). */
static int tokenize_text(const struct nib_vocab *v, const char *path, int32_t **out, int32_t *n_out) {
    char *text, msg[512];
    size_t len;
    if (ppl_text_read(path, &text, &len, msg, sizeof msg)) return cli_fail("%s", msg);
    if (len > (size_t)INT32_MAX - 3) {
        free(text);
        return cli_fail("%s: too long (%zu bytes)", path, len);
    }
    int32_t *ids = malloc(sizeof(int32_t) * (len + 3));
    struct nib_error err = { 0 };
    int64_t n = ids ? nib_tokenize(v, text, len, NIB_TOKENIZE_ADD_SPECIAL, ids, (int64_t)len + 3, &err) : -1;
    free(text);
    if (n < 0 || n > INT32_MAX) {
        free(ids);
        return ids ? cli_fail_err(&err) : cli_fail("out of memory");
    }
    *out = ids;
    *n_out = (int32_t)n;
    return 0;
}

static int check_n_ctx(const struct nib_model *model, int32_t n_ctx) {
    if (n_ctx > nib_model_n_ctx_train(model))
        return cli_fail("-c %d is larger than the model's context (%d tokens)", n_ctx, nib_model_n_ctx_train(model));
    return 0;
}

#define PPL_MAX_SEQ 32 /* chunks per decode call at most */

/* A context for n_seq chunks at once: -b / n_ctx of them (llama.cpp's
 * n_seq), each in its own sequence and its own whole KV blocks. */
static int make_context(const struct ppl_args *a, const struct nib_model *model, struct ppl_run *r) {
    r->n_seq = a->n_batch / r->n_ctx;
    r->n_seq = r->n_seq < 1 ? 1 : r->n_seq > PPL_MAX_SEQ ? PPL_MAX_SEQ : r->n_seq;
    if (r->n_seq > r->n_chunk) r->n_seq = r->n_chunk;
    r->n_batch = r->n_seq > 1 ? r->n_seq * r->n_ctx : a->n_batch < r->n_ctx ? a->n_batch : r->n_ctx;
    const int32_t blk = a->m.kv_block ? a->m.kv_block : 16, per_seq = (r->n_ctx + blk - 1) / blk * blk;
    struct nib_context_params cp = nib_context_default_params();
    cp.n_ctx = r->n_seq * per_seq;
    cp.n_batch = r->n_batch;
    cp.n_threads = a->m.n_threads;
    cp.kv_block = a->m.kv_block;
    cp.kv_type = a->m.kv_type;
    struct nib_error err = { 0 };
    if (nib_context_new(model, &cp, &r->ctx, &err)) return cli_fail_err(&err);
    int32_t total, bs;
    nib_context_kv_blocks(r->ctx, NULL, &total, &bs);
    if ((int64_t)total * bs < (int64_t)r->n_seq * ((r->n_ctx + bs - 1) / bs * bs))
        return cli_fail("the KV cache (%d blocks of %d tokens) cannot hold %d chunks of %d tokens; use a smaller -b", total, bs,
                        r->n_seq, r->n_ctx);
    r->row = malloc(sizeof(uint16_t) * PPL_PACKED_WORDS(r->n_vocab));
    r->row2 = malloc(sizeof(uint16_t) * PPL_PACKED_WORDS(r->n_vocab));
    return r->row && r->row2 ? 0 : cli_fail("out of memory");
}

/* Plain perplexity, optionally saving the base file. */
static int perplexity(const struct ppl_args *a, const struct nib_model *model, struct ppl_run *r, int32_t **tokens) {
    /* llama.cpp's default of 512, unless the model's context is shorter */
    r->n_ctx = a->m.n_ctx ? a->m.n_ctx : nib_model_n_ctx_train(model) < 512 ? nib_model_n_ctx_train(model) : 512;
    if (r->n_ctx < 3) return cli_fail("-c %d: a chunk needs at least 3 tokens to score one", r->n_ctx);
    if (check_n_ctx(model, r->n_ctx)) return 1;
    int32_t n_tokens;
    if (tokenize_text(nib_model_vocab(model), a->text, tokens, &n_tokens)) return 1;
    r->tokens = *tokens;
    if (n_tokens < 2 * r->n_ctx)
        return cli_fail("you need at least %d tokens to evaluate perplexity with a context of %d; %s tokenizes to only %d tokens",
                        2 * r->n_ctx, r->n_ctx, a->text, n_tokens);
    r->n_chunk = n_tokens / r->n_ctx;
    if (a->n_chunks > 0 && a->n_chunks < r->n_chunk) r->n_chunk = a->n_chunks;
    if (make_context(a, model, r)) return 1;
    if (a->base && ppl_base_create(&r->out, a->base, r->n_ctx, r->n_vocab, r->n_chunk, r->tokens, r->msg, sizeof r->msg))
        return cli_fail("%s", r->msg);
    if (ppl_report_init(&r->rep, r->n_chunk, r->n_ctx, false)) return cli_fail("out of memory");
    r->rep.n_tokens = n_tokens;
    if (run_chunks(r, a->json)) return cli_fail("%s", r->msg);
    if (r->out.f && ppl_base_close(&r->out, r->msg, sizeof r->msg)) return cli_fail("%s", r->msg);
    return 0;
}

/* KL divergence against a base file: its tokens and n_ctx; -f and -c, if given, must agree. */
static int kl_divergence(const struct ppl_args *a, const struct nib_model *model, struct ppl_run *r, int32_t **tokens) {
    if (ppl_base_open(&r->in, a->base, r->msg, sizeof r->msg)) return cli_fail("%s", r->msg);
    if (r->in.n_vocab != r->n_vocab)
        return cli_fail("%s: saved with a vocabulary of %d tokens, but this model has %d", a->base, r->in.n_vocab, r->n_vocab);
    r->n_ctx = r->in.n_ctx;
    if (a->m.n_ctx && a->m.n_ctx != r->n_ctx)
        return cli_fail("-c %d differs from the base file's context of %d tokens (leave -c out)", a->m.n_ctx, r->n_ctx);
    if (check_n_ctx(model, r->n_ctx)) return 1;
    r->tokens = r->in.tokens;
    r->n_chunk = r->in.n_chunk;
    if (a->text) {
        int32_t n_tokens;
        if (tokenize_text(nib_model_vocab(model), a->text, tokens, &n_tokens)) return 1;
        const int64_t n_base = (int64_t)r->n_chunk * r->n_ctx;
        if (n_tokens < n_base) return cli_fail("%s tokenizes to %d tokens, but the base file %s holds %lld", a->text, n_tokens, a->base, (long long)n_base);
        for (int64_t i = 0; i < n_base; i++)
            if ((*tokens)[i] != r->tokens[i])
                return cli_fail("%s and the base file %s differ at token %lld (%d vs %d): another text or tokenizer", a->text,
                                a->base, (long long)i, (*tokens)[i], r->tokens[i]);
    }
    if (a->n_chunks > 0 && a->n_chunks < r->n_chunk) r->n_chunk = a->n_chunks;
    if (make_context(a, model, r)) return 1;
    if (ppl_report_init(&r->rep, r->n_chunk, r->n_ctx, true)) return cli_fail("out of memory");
    r->rep.n_tokens = r->in.n_chunk * r->n_ctx;
    if (run_chunks(r, a->json)) return cli_fail("%s", r->msg);
    return 0;
}

int nib_cmd_perplexity(int argc, char **argv) {
    struct ppl_args a = { 0 };
    int rc = parse_args(&a, argc, argv);
    if (rc) return rc < 0 ? 0 : rc;
    char path[4096];
    const char *mp = a.m.model ? a.m.model : model_args_default_model(path, sizeof path);
    struct nib_model *model = NULL;
    if (model_args_load_model(&a.m, mp, &model)) return 1;
    const struct nib_vocab *v = nib_model_vocab(model);
    struct ppl_run r = { 0 };
    r.n_vocab = nib_model_n_vocab(model);
    r.bos = nib_vocab_add_bos(v) ? nib_vocab_special(v, NIB_SPECIAL_BOS) : -1;
    int32_t *tokens = NULL;
    if (nib_vocab_add_eos(v)) rc = cli_fail("%s: the vocabulary appends EOS to every text; perplexity (as llama.cpp's) needs a model that does not", mp);
    else rc = a.kld ? kl_divergence(&a, model, &r, &tokens) : perplexity(&a, model, &r, &tokens);
    if (!rc) rc = ppl_report_final(&r.rep, a.json, stdout);
    if (rc && r.out.f) ppl_base_discard(&r.out);
    ppl_base_close(&r.in, r.msg, sizeof r.msg);
    ppl_report_free(&r.rep);
    free(tokens);
    free(r.row);
    free(r.row2);
    nib_context_free(r.ctx);
    nib_model_free(model);
    return rc;
}
