/*
 * ppl_text.h — the text `nib perplexity` scores: a UTF-8 file, plain or
 * gzip-compressed (zlib reads both; a `.gz` name is not required), read
 * whole into memory.
 *
 * As llama.cpp's -f does, one trailing '\n' is dropped. Invalid UTF-8 is
 * rejected (the message names the byte offset in the decompressed text):
 * scoring bytes that are not text would give a number nobody can compare.
 * Library-style: returns a status and a message, never prints.
 */
#ifndef NIB_PPL_TEXT_H
#define NIB_PPL_TEXT_H

#include <stddef.h>

#define PPL_TEXT_MAX_BYTES ((size_t)1 << 32) /* 4 GiB of text at most */

/* Reads path into *out (malloc'd, NUL-terminated; caller frees) and its
 * length into *len. 0 on success; otherwise nonzero with msg filled. */
int ppl_text_read(const char *path, char **out, size_t *len, char *msg, size_t msg_cap);

/* Offset of the first byte that does not begin or continue a well-formed
 * UTF-8 sequence (overlong forms, surrogates and code points past U+10FFFF
 * are ill-formed), or len when all of s[0..len) is valid. */
size_t ppl_utf8_invalid_offset(const char *s, size_t len);

#endif
