/*
 * chat_conv.h — a chat conversation for `nib chat`: an optional system
 * prompt and the turns (role, content), owned strings; dropping the oldest
 * turns when the context overflows; saved and loaded as JSON:
 *   {"system": "...", "messages": [{"role": "user", "content": "..."}, ...]}
 */
#ifndef NIB_CHAT_CONV_H
#define NIB_CHAT_CONV_H

#include "nib.h"

#include <stdbool.h>
#include <stddef.h>

struct chat_msg {
    char *role, *content;
};

struct chat_conv {
    char            *system; /* NULL: none */
    struct chat_msg *msgs;   /* turns after the system prompt */
    size_t           n, cap;
};

void chat_conv_free(struct chat_conv *c);
/* Drops every turn (the system prompt stays). */
void chat_conv_clear(struct chat_conv *c);
/* false out of memory */
bool chat_conv_set_system(struct chat_conv *c, const char *text);
bool chat_conv_add(struct chat_conv *c, const char *role, const char *content, size_t len);
/* Removes the last turn (no-op when empty). */
void chat_conv_pop(struct chat_conv *c);
/* Drops the oldest exchange (a user turn and the replies up to the next
 * user turn); returns the number of turns dropped (0: nothing to drop). */
size_t chat_conv_drop_oldest(struct chat_conv *c);

/* The messages as the template sees them: system first (if any). *out is
 * malloc'd (free it; the strings stay owned by c). */
bool chat_conv_messages(const struct chat_conv *c, struct nib_chat_message **out, size_t *n);

/* JSON save/load; 0, or 1 with an error printed. Loading replaces c. */
int chat_conv_save(const struct chat_conv *c, const char *path);
int chat_conv_load(struct chat_conv *c, const char *path);
/* Parses a conversation from JSON text (the save format, or a bare
 * [{"role", "content"}, ...] list whose "system" entries become the system
 * prompt); 0, or 1 with an error printed naming what is wrong. */
int chat_conv_parse(struct chat_conv *c, const char *json, const char *what);

#endif
