#include "arch.h"

#include <stddef.h>
#include <string.h>

static const struct nib_arch archs[] = {
    /* name        rope           qkv_bias      qk_norm       out_bias      ffn_bias      rope_freqs    experts       expert_ff */
    { "llama",    NIB_ROPE_NORM, NIB_OPTIONAL, NIB_ABSENT,   NIB_OPTIONAL, NIB_OPTIONAL, NIB_OPTIONAL, NIB_OPTIONAL, false },
    { "qwen2",    NIB_ROPE_NEOX, NIB_OPTIONAL, NIB_ABSENT,   NIB_OPTIONAL, NIB_OPTIONAL, NIB_ABSENT,   NIB_ABSENT,   false },
    { "qwen3",    NIB_ROPE_NEOX, NIB_OPTIONAL, NIB_REQUIRED, NIB_OPTIONAL, NIB_OPTIONAL, NIB_ABSENT,   NIB_ABSENT,   false },
    { "qwen3moe", NIB_ROPE_NEOX, NIB_ABSENT,   NIB_REQUIRED, NIB_ABSENT,   NIB_ABSENT,   NIB_ABSENT,   NIB_REQUIRED, true },
};

const struct nib_arch *nib_arch_find(const char *name) {
    for (size_t i = 0; i < sizeof(archs) / sizeof(archs[0]); i++)
        if (strcmp(archs[i].name, name) == 0) return &archs[i];
    return NULL;
}

const char *nib_arch_list(void) { return "llama, qwen2, qwen3, qwen3moe"; }
