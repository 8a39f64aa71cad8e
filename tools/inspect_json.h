/*
 * inspect_json.h — `nib inspect --json`: the same facts as the text view as
 * one JSON object on stdout (cJSON). Arrays longer than `items` are given as
 * { "elem_type", "length", "first": [...] }.
 */
#ifndef NIB_INSPECT_JSON_H
#define NIB_INSPECT_JSON_H

#include "nib.h"

int inspect_json(const char *path, const struct nib_gguf *g, int items);

/* inspect_tokenizer.c: the tokenizer section (nothing when the file has no
 * tokenizer metadata; the load error when it cannot be used). */
void inspect_tokenizer_text(const struct nib_gguf *g);
struct cJSON *inspect_tokenizer_json(const struct nib_gguf *g);

/* inspect_experts.c: the MoE section (nothing / NULL for a dense model). */
void inspect_experts_text(const struct nib_gguf *g);
struct cJSON *inspect_experts_json(const struct nib_gguf *g);

/* inspect_checksum.c: `--checksum`, CRC32 per tensor and of the data section. */
int inspect_checksum(const char *path, const struct nib_gguf *g, bool json);

#endif
