/*
 * gguf_value.h — deep copy of metadata values (internal; used by the writer
 * and by tools that rewrite files).
 */
#ifndef NIB_GGUF_VALUE_H
#define NIB_GGUF_VALUE_H

#include "nib.h"
#include "arena.h"

/* Deep-copies src into arena memory. Array elements of string/array type must
 * all carry the array's element type (else NIB_E_ARG). */
int nib_gguf_value_copy(struct nib_arena *arena, struct nib_gguf_value *dst, const struct nib_gguf_value *src,
                        uint32_t depth);

#endif
