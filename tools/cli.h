/*
 * cli.h — shared pieces of the `nib` command-line tool: subcommand entry
 * points and small helpers for printing errors and metadata.
 *
 * Tools include only the public nib.h (plus cJSON for --json output).
 */
#ifndef NIB_CLI_H
#define NIB_CLI_H

#include "nib.h"

#include <stdio.h>

/* Subcommands: argc/argv start at the subcommand name. Return the exit code. */
int nib_cmd_inspect(int argc, char **argv);
int nib_cmd_tokenize(int argc, char **argv);
int nib_cmd_detokenize(int argc, char **argv);
int nib_cmd_logits(int argc, char **argv);
int nib_cmd_generate(int argc, char **argv);
int nib_cmd_batch(int argc, char **argv);
int nib_cmd_synth(int argc, char **argv);
int nib_cmd_bench(int argc, char **argv);
int nib_cmd_chat(int argc, char **argv);
int nib_cmd_serve(int argc, char **argv);
int nib_cmd_quantize(int argc, char **argv);
int nib_cmd_perplexity(int argc, char **argv);
int nib_cmd_convert(int argc, char **argv);

/* "nib: error: <msg>" on stderr; returns 1 (the exit code for errors). */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int cli_fail_err(const struct nib_error *err);

/* For tool modules that report like the library: snprintf into err (when
 * non-NULL), set its status, return status. */
int cli_set_error(struct nib_error *err, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* One metadata value as text; long arrays are summarised as
 * "[N × type] first, items, ..." with at most max_items shown. */
void cli_print_value(FILE *f, const struct nib_gguf_value *v, int max_items);

/* Human-readable byte count ("1.23 MiB"). buf gets at most 32 bytes. */
const char *cli_fmt_bytes(char buf[32], double bytes);
/* nib_context_params.gpu_progress for the CLI: "nib: uploading weights to
 * the GPU: N/M MiB" on stderr when it is a terminal, and the last line. */
void cli_gpu_progress(uint64_t done, uint64_t total, void *user);

/* Shape as "[64, 512]" in ggml order (ne[0] first). */
const char *cli_fmt_shape(char buf[96], const struct nib_gguf_tensor *t);
const char *cli_fmt_dims(char buf[96], uint32_t n_dims, const int64_t *ne);

#endif
