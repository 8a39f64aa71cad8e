/*
 * inspect_json.h — `nib inspect --json`: the same facts as the text view as
 * one JSON object on stdout (cJSON). Arrays longer than `items` are given as
 * { "elem_type", "length", "first": [...] }.
 */
#ifndef NIB_INSPECT_JSON_H
#define NIB_INSPECT_JSON_H

#include "nib.h"

int inspect_json(const char *path, const struct nib_gguf *g, int items);

#endif
