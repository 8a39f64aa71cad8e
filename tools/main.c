/*
 * main.c — the `nib` binary: dispatches to subcommands.
 */
#include "cli.h"

#include <string.h>

struct subcommand {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
};

static const struct subcommand commands[] = {
    { "chat", nib_cmd_chat, "chat with a model through its chat template (terminal or stdin)" },
    { "serve", nib_cmd_serve, "OpenAI-compatible HTTP server with continuous batching and streaming" },
    { "generate", nib_cmd_generate, "generate text from a prompt (default: the model in models/)" },
    { "batch", nib_cmd_batch, "many prompts decoded together as parallel sequences, JSON lines out" },
    { "bench", nib_cmd_bench, "tokens/s of prompt processing and generation, llama-bench style" },
    { "logits", nib_cmd_logits, "top-k logits of a prompt evaluated in one batch, as JSON" },
    { "perplexity", nib_cmd_perplexity, "perplexity over a text file, and KL divergence from a base model (llama.cpp's rules)" },
    { "inspect", nib_cmd_inspect, "show a GGUF file's metadata, architecture, tensors and totals" },
    { "tokenize", nib_cmd_tokenize, "text -> token ids with a model's vocabulary" },
    { "detokenize", nib_cmd_detokenize, "token ids -> text" },
    { "convert", nib_cmd_convert, "Hugging Face safetensors or a llama2.c checkpoint -> GGUF (f32, f16, bf16, q8_0)" },
    { "quantize", nib_cmd_quantize, "convert a model's weights to Q4_K_M, Q8_0, ... as llama-quantize does" },
    { "synth", nib_cmd_synth, "write a GGUF of a real model shape with random weights (benchmarks)" },
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f) {
    fputs("usage: nib <command> [options]\n\ncommands:\n", f);
    for (size_t i = 0; i < N_COMMANDS; i++) fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].help);
    fputs("\n`nib <command> --help` describes a command's options.\n", f);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        puts("nib 0.1.0");
        return 0;
    }
    if (nib_cpu_backend_note()) fprintf(stderr, "nib: note: %s\n", nib_cpu_backend_note());
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    return cli_fail("unknown command '%s' (see nib --help)", argv[1]);
}
