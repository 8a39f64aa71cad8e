/*
 * cmd_chat.c — `nib chat`: a conversation with a model through its chat
 * template. On a terminal: line editing and history (libedit; history in
 * $XDG_STATE_HOME/nib/chat_history), multi-line input (a trailing '\', or a
 * paste), replies streamed as generated, Ctrl-C stops the reply (not the
 * program), Ctrl-D or /exit quits, and the /commands of /help. Otherwise
 * (standard input not a terminal) one user message per input line, each
 * reply on stdout followed by a newline, a line of turn statistics on
 * stderr; with --json the whole input is one JSON conversation and one
 * reply comes back as JSON.
 */
#include "chat_engine.h"
#include "cli.h"
#include "gen_common.h"

#include <cjson/cJSON.h>
#include <editline/readline.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static volatile sig_atomic_t g_interrupt;

static void on_sigint(int sig) {
    (void)sig;
    g_interrupt = 1;
}

struct chat_args {
    struct model_args m;
    const char       *system, *system_file, *tmpl;
    bool              json;
};

static void usage(FILE *f) {
    fputs("usage: nib chat [-m MODEL] [-sys TEXT | --system-file F] [--chat-template NAME|FILE] [options]\n"
          "  -m MODEL                 GGUF model (default: models/tiny-chat-q8_0.gguf)\n"
          "  -sys, --system TEXT      system prompt; --system-file F reads it from a file\n"
          "  --chat-template NAME|FILE  override the model's template (built-in: ",
          f);
    fputs(nib_chat_template_names(), f);
    fputs(")\n"
          "  --context-overflow stop|trim  when a turn does not fit: stop and say so (default), or drop\n"
          "                           the oldest exchanges (the system prompt stays) and say so\n"
          "  -c N                     context size in tokens (default: the model's, at most 4096)\n"
          "  -t N                     threads; --kv-block N, --kv-type f16|q8_0, --no-mmap as in nib generate\n"
          "  -n N                     reply limit in tokens (default -1: until end of turn or a full context)\n"
          "  --temp T --top-k K --top-p P --min-p P --typical-p P --repeat-penalty R --repeat-last-n N\n"
          "  --frequency-penalty F --presence-penalty F --seed S    sampling, as nib generate\n"
          "  -md F, --lookup N        speculative decoding (as nib generate: --draft-max --draft-min --draft-p-min)\n"
          "  --json                   (not a terminal) read one JSON conversation from stdin\n"
          "                           ({\"system\":...,\"messages\":[{\"role\",\"content\"}...]}), print the reply as JSON\n"
          "On a terminal: /help lists the commands; Ctrl-C stops a reply, Ctrl-D or /exit quits.\n"
          "Otherwise each input line is a user message (or a /command); replies go to stdout.\n",
          f);
}

static const char *const HELP =
    "  /help               this list\n"
    "  /exit               quit (also Ctrl-D)\n"
    "  /reset              forget the conversation (the system prompt stays)\n"
    "  /system TEXT        set the system prompt (empty: none); the conversation continues\n"
    "  /set KEY VALUE      sampling: temp, top-k, top-p, min-p, typical-p, repeat-penalty, repeat-last-n,\n"
    "                      frequency-penalty, presence-penalty, seed, n (reply limit)\n"
    "  /save FILE          write the conversation as JSON; /load FILE reads one back\n"
    "  /trim               drop the oldest exchange (when the context is full)\n"
    "  /stats              tokens in the context, KV blocks, the last reply's speed\n"
    "  a line ending in \\ continues on the next line; pasted lines arrive as one message\n";

static int parse_args(struct chat_args *a, struct chat_engine *e, int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "-p") || !strcmp(o, "--prompt") || !strcmp(o, "--tokens"))
            return cli_fail("chat: %s is for nib generate; chat reads messages from the terminal or stdin", o);
        int r = model_args_parse(&a->m, argc, argv, &i);
        if (r < 0) return 1;
        if (r) continue;
        if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
            usage(stdout);
            return -1;
        }
        if (!strcmp(o, "--json")) {
            a->json = true;
            continue;
        }
        if (i + 1 >= argc) return cli_fail("chat: unknown option or missing value: '%s' (see nib chat --help)", o);
        const char *v = argv[i + 1];
        if (!strcmp(o, "-sys") || !strcmp(o, "--system")) a->system = v;
        else if (!strcmp(o, "--system-file")) a->system_file = v;
        else if (!strcmp(o, "--chat-template")) a->tmpl = v;
        else if (!strcmp(o, "--context-overflow")) {
            if (strcmp(v, "stop") && strcmp(v, "trim")) return cli_fail("--context-overflow: '%s' is not stop or trim", v);
            e->trim = !strcmp(v, "trim");
        } else {
            bool used = false;
            if (gen_parse_sampling(&e->sp, &e->n_predict, o, v, &used)) return 1;
            if (!used && gen_parse_spec(&e->spec_args, o, v, &used)) return 1;
            if (!used) return cli_fail("chat: unknown option: '%s' (see nib chat --help)", o);
        }
        i++;
    }
    if (a->system && a->system_file) return cli_fail("chat: give -sys TEXT or --system-file F, not both");
    return gen_check_spec(&e->spec_args);
}

static void emit_stdout(void *user, const char *text, size_t n) {
    (void)user;
    fwrite(text, 1, n, stdout);
    fflush(stdout);
}

static void emit_nothing(void *user, const char *text, size_t n) {
    (void)user;
    (void)text;
    (void)n;
}

static char *read_all(FILE *f, size_t limit) {
    size_t n = 0, cap = 8192;
    char *buf = malloc(cap);
    while (buf) {
        if (n + 4097 > cap) {
            if (cap >= limit) {
                free(buf);
                return NULL;
            }
            char *b = realloc(buf, 2 * cap);
            if (!b) {
                free(buf);
                return NULL;
            }
            buf = b;
            cap *= 2;
        }
        size_t r = fread(buf + n, 1, 4096, f);
        n += r;
        if (r < 4096) break;
    }
    if (buf) buf[n] = '\0';
    return buf;
}

static void print_stats(const struct chat_engine *e) {
    int32_t used = 0, total = 0, bs = 0;
    nib_context_kv_blocks(e->l.ctx, &used, &total, &bs);
    if (e->spec) gen_print_spec_stats(e->spec);
    fprintf(stderr, "nib: %d tokens in the context of %d; KV blocks %d used of %d (%d tokens each); last turn: %d cached "
                    "tokens reused, %d processed, reply %d tokens in %.2f s (%.1f t/s), stop: %s\n",
            nib_context_seq_len(e->l.ctx, 0), nib_context_n_ctx(e->l.ctx), used, total, bs, e->reused, e->processed, e->reply_tokens, e->reply_s,
            e->reply_tokens / (e->reply_s > 0 ? e->reply_s : 1e-9), e->stop ? e->stop : "-");
}

/* A /command; returns 1 to quit, 0 otherwise (errors are printed). */
static int command(struct chat_engine *e, struct chat_conv *conv, char *line) {
    char *arg = line + strcspn(line, " \t");
    if (*arg) *arg++ = '\0';
    arg += strspn(arg, " \t");
    if (!strcmp(line, "/exit") || !strcmp(line, "/quit")) return 1;
    if (!strcmp(line, "/help")) fputs(HELP, stderr);
    else if (!strcmp(line, "/reset")) {
        chat_conv_clear(conv);
        chat_engine_reset(e);
        nib_sampler_reset(e->sampler);
        fprintf(stderr, "nib: conversation cleared%s\n", conv->system ? " (the system prompt stays)" : "");
    } else if (!strcmp(line, "/system")) {
        if (!chat_conv_set_system(conv, arg)) cli_fail("out of memory");
        else fprintf(stderr, "nib: system prompt %s\n", conv->system ? "set" : "removed");
    } else if (!strcmp(line, "/set")) {
        char *val = arg + strcspn(arg, " \t");
        if (*val) *val++ = '\0';
        val += strspn(val, " \t");
        char opt[64];
        snprintf(opt, sizeof opt, "%s%s", strcmp(arg, "n") ? "--" : "-", arg);
        bool used = false;
        if (!*arg || !*val) fprintf(stderr, "nib: usage: /set KEY VALUE (see /help)\n");
        else if (!gen_parse_sampling(&e->sp, &e->n_predict, opt, val, &used) && !used)
            fprintf(stderr, "nib: /set: unknown setting '%s' (see /help)\n", arg);
        else if (used && !chat_engine_sampler(e)) fprintf(stderr, "nib: %s = %s\n", arg, val);
    } else if (!strcmp(line, "/save")) {
        if (!*arg) fprintf(stderr, "nib: usage: /save FILE\n");
        else if (!chat_conv_save(conv, arg)) fprintf(stderr, "nib: saved %zu messages to %s\n", conv->n, arg);
    } else if (!strcmp(line, "/load")) {
        if (!*arg) fprintf(stderr, "nib: usage: /load FILE\n");
        else if (!chat_conv_load(conv, arg)) fprintf(stderr, "nib: loaded %zu messages from %s\n", conv->n, arg);
    } else if (!strcmp(line, "/trim")) {
        size_t k = chat_conv_drop_oldest(conv);
        fprintf(stderr, k ? "nib: dropped the oldest %zu messages\n" : "nib: nothing to drop\n", k);
    } else if (!strcmp(line, "/stats")) {
        print_stats(e);
    } else {
        fprintf(stderr, "nib: unknown command '%s' (see /help)\n", line);
    }
    return 0;
}

/* One user message: the reply streamed, then a newline. 0 ok, 1 error, 2 overflow. */
static int user_turn(struct chat_engine *e, struct chat_conv *conv, const char *text) {
    if (!chat_conv_add(conv, "user", text, strlen(text))) return cli_fail("out of memory");
    g_interrupt = 0;
    int rc = chat_engine_turn(e, conv, emit_stdout, NULL, &g_interrupt);
    if (rc == 2 || (rc == 1 && conv->n && !strcmp(conv->msgs[conv->n - 1].role, "user"))) chat_conv_pop(conv);
    if (rc) return rc;
    fputc('\n', stdout);
    fflush(stdout);
    if (!strcmp(e->stop, "interrupted")) fprintf(stderr, "nib: reply stopped (Ctrl-C)\n");
    else if (!strcmp(e->stop, "context"))
        fprintf(stderr, "nib: the context is full (%d tokens): the reply stopped there; /reset or /trim to go on\n",
                nib_context_n_ctx(e->l.ctx));
    return 0;
}

/* ------------------------------------------------------------ terminal */

static bool input_pending(void) {
    struct pollfd p = { STDIN_FILENO, POLLIN, 0 };
    return poll(&p, 1, 0) > 0 && (p.revents & POLLIN);
}

static void history_path(char *buf, size_t cap) {
    const char *state = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
    buf[0] = '\0';
    if (state && state[0]) snprintf(buf, cap, "%s/nib", state);
    else if (home && home[0]) snprintf(buf, cap, "%s/.local/state/nib", home);
    else return;
    for (char *p = buf + 1; *p; p++) /* mkdir -p */
        if (*p == '/') {
            *p = '\0';
            mkdir(buf, 0700);
            *p = '/';
        }
    mkdir(buf, 0700);
    strncat(buf, "/chat_history", cap - strlen(buf) - 1);
}

/* One message from the terminal: continuation lines after a trailing '\'
 * and lines already waiting (a paste) join with newlines. NULL at EOF. */
static char *read_message(bool *cancelled) {
    char *msg = NULL;
    size_t n = 0;
    const char *prompt = "> ";
    *cancelled = false;
    for (;;) {
        g_interrupt = 0;
        char *line = readline(prompt);
        if (!line) {
            if (g_interrupt) { /* Ctrl-C at the prompt: drop the line, ask again */
                *cancelled = true;
                fputc('\n', stdout);
            }
            if (msg && !*cancelled) return msg;
            free(msg);
            return NULL;
        }
        size_t len = strlen(line);
        bool more = len && line[len - 1] == '\\';
        if (more) line[--len] = '\0';
        char *m = realloc(msg, n + len + 2);
        if (!m) {
            free(line);
            free(msg);
            return NULL;
        }
        msg = m;
        if (n) msg[n++] = '\n';
        memcpy(msg + n, line, len + 1);
        n += len;
        free(line);
        if (!more && !input_pending()) return msg;
        prompt = "... ";
    }
}

static int interactive(struct chat_engine *e, struct chat_conv *conv) {
    char hist[4096];
    history_path(hist, sizeof hist);
    using_history();
    if (hist[0]) read_history(hist);
    fprintf(stderr, "nib chat: %s model, %.1f M params; template: %s; context %d tokens.\n"
                    "/help for commands; Ctrl-C stops a reply, Ctrl-D or /exit quits.\n",
            nib_model_arch(e->l.model), (double)nib_model_n_params(e->l.model) / 1e6, e->tmpl_desc, nib_context_n_ctx(e->l.ctx));
    int rc = 0;
    for (;;) {
        bool cancelled = false;
        char *msg = read_message(&cancelled);
        if (!msg) {
            if (cancelled) continue;
            fputc('\n', stdout);
            break;
        }
        if (!msg[strspn(msg, " \t\n")]) {
            free(msg);
            continue;
        }
        add_history(msg);
        int quit = 0;
        if (msg[0] == '/') quit = command(e, conv, msg);
        else if (user_turn(e, conv, msg) == 1) rc = 1;
        free(msg);
        if (quit) break;
    }
    if (hist[0]) write_history(hist);
    return rc;
}

/* ------------------------------------------------------------- scripted */

static int scripted(struct chat_engine *e, struct chat_conv *conv) {
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int rc = 0, turn = 0;
    while ((len = getline(&line, &cap, stdin)) >= 0) {
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
        if (!line[strspn(line, " \t")]) continue;
        if (line[0] == '/') {
            if (command(e, conv, line)) break;
            continue;
        }
        int r = user_turn(e, conv, line);
        if (r) {
            rc = 1;
            continue;
        }
        fprintf(stderr, "nib: turn %d: %d cached tokens reused, %d new processed, reply %d tokens (%.1f t/s), stop: %s\n", ++turn,
                e->reused, e->processed, e->reply_tokens, e->reply_tokens / (e->reply_s > 0 ? e->reply_s : 1e-9), e->stop);
    }
    free(line);
    return rc;
}

static int json_turn(struct chat_engine *e, struct chat_conv *conv) {
    char *in = read_all(stdin, (size_t)64 << 20);
    if (!in) return cli_fail("chat --json: cannot read stdin (larger than 64 MiB?)");
    char *cli_system = conv->system; /* -sys applies unless the conversation brings its own */
    conv->system = NULL;
    int rc = chat_conv_parse(conv, in, "chat --json input");
    free(in);
    if (!rc && !conv->system) {
        conv->system = cli_system;
        cli_system = NULL;
    }
    free(cli_system);
    if (rc) return rc;
    if (!conv->n || strcmp(conv->msgs[conv->n - 1].role, "user") != 0)
        return cli_fail("chat --json: the conversation must end with a user message");
    g_interrupt = 0;
    rc = chat_engine_turn(e, conv, emit_nothing, NULL, &g_interrupt);
    if (rc) return 1;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "reply", conv->msgs[conv->n - 1].content);
    cJSON_AddStringToObject(o, "stop", e->stop);
    cJSON_AddNumberToObject(o, "prompt_tokens", e->reused + e->processed);
    cJSON_AddNumberToObject(o, "reply_tokens", e->reply_tokens);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!s) return cli_fail("out of memory");
    puts(s);
    free(s);
    return 0;
}

int nib_cmd_chat(int argc, char **argv) {
    struct chat_engine e = { .sp = nib_sampler_default_params(), .n_predict = -1, .spec_args.p = nib_spec_default_params() };
    struct chat_args a = { .m.default_name = "tiny-chat-q8_0.gguf" };
    int rc = parse_args(&a, &e, argc, argv);
    if (rc) return rc < 0 ? 0 : rc;
    struct chat_conv conv = { 0 };
    if (a.system_file) {
        FILE *f = fopen(a.system_file, "rb");
        char *text = f ? read_all(f, (size_t)16 << 20) : NULL;
        if (f) fclose(f);
        if (!text) return cli_fail("cannot read the system prompt file '%s'", a.system_file);
        size_t n = strlen(text);
        while (n && (text[n - 1] == '\n' || text[n - 1] == '\r')) text[--n] = '\0';
        bool ok = chat_conv_set_system(&conv, text);
        free(text);
        if (!ok) return cli_fail("out of memory");
    } else if (a.system && !chat_conv_set_system(&conv, a.system)) {
        return cli_fail("out of memory");
    }
    rc = model_args_open(&a.m, 4096, &e.l);
    if (!rc) {
        e.vocab = nib_model_vocab(e.l.model);
        rc = chat_engine_template(&e, a.tmpl);
    }
    if (!rc) rc = chat_engine_sampler(&e);
    if (!rc) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_sigint; /* no SA_RESTART: a blocked read returns */
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
        if (a.json) rc = json_turn(&e, &conv);
        else if (isatty(STDIN_FILENO)) rc = interactive(&e, &conv);
        else rc = scripted(&e, &conv);
    }
    chat_conv_free(&conv);
    chat_engine_free(&e);
    return rc;
}
