/*
 * inspect_experts.c — the MoE section of `nib inspect`: expert count and
 * experts used per token (metadata), the bytes and parameters of one expert
 * (all layers' slices of the stacked ffn_*_exps tensors), and the parameters
 * and bytes one token uses (everything outside the experts plus
 * n_expert_used experts per layer). Works on the GGUF alone, like the rest
 * of inspect.
 */
#include "cli.h"
#include "inspect_json.h"

#include <cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

struct expert_facts {
    uint64_t n_expert, n_used;
    int64_t  n_tensors;                       /* stacked expert tensors */
    uint64_t expert_params, expert_bytes;     /* all experts, all layers */
    uint64_t total_params, total_bytes;       /* the whole file */
};

static bool is_expert_tensor(const struct nib_gguf_tensor *t) {
    return strstr(t->name, "_exps.") != NULL && t->ne[2] > 1;
}

/* False when the file has no experts. */
static bool expert_facts(const struct nib_gguf *g, struct expert_facts *f) {
    memset(f, 0, sizeof(*f));
    const char *arch = NULL;
    if (nib_gguf_get_str(g, "general.architecture", &arch, NULL) != NIB_OK) return false;
    char key[160];
    snprintf(key, sizeof key, "%s.expert_count", arch);
    if (nib_gguf_get_u64(g, key, &f->n_expert, NULL) != NIB_OK || f->n_expert == 0) return false;
    snprintf(key, sizeof key, "%s.expert_used_count", arch);
    nib_gguf_get_u64(g, key, &f->n_used, NULL);
    for (int64_t i = 0; i < nib_gguf_n_tensors(g); i++) {
        const struct nib_gguf_tensor *t = nib_gguf_get_tensor(g, i);
        f->total_params += (uint64_t)t->n_elements;
        f->total_bytes += t->n_bytes;
        if (!is_expert_tensor(t)) continue;
        f->n_tensors++;
        f->expert_params += (uint64_t)t->n_elements;
        f->expert_bytes += t->n_bytes;
    }
    return true;
}

static uint64_t active(uint64_t total, uint64_t experts, uint64_t n_expert, uint64_t n_used) {
    return total - experts + experts / n_expert * n_used;
}

void inspect_experts_text(const struct nib_gguf *g) {
    struct expert_facts f;
    if (!expert_facts(g, &f)) return;
    char b1[32], b2[32];
    printf("\nexperts (mixture of experts)\n");
    printf("  %-40s %" PRIu64 "\n", "experts per layer", f.n_expert);
    printf("  %-40s %" PRIu64 "\n", "experts used per token", f.n_used);
    printf("  %-40s %" PRId64 "\n", "stacked expert tensors", f.n_tensors);
    printf("  %-40s %s, %.3f M params (all layers)\n", "one expert", cli_fmt_bytes(b1, (double)f.expert_bytes / (double)f.n_expert),
           (double)f.expert_params / (double)f.n_expert / 1e6);
    printf("  %-40s %.3f M of %.3f M, %s of %s\n", "active per token", (double)active(f.total_params, f.expert_params, f.n_expert, f.n_used) / 1e6,
           (double)f.total_params / 1e6, cli_fmt_bytes(b1, (double)active(f.total_bytes, f.expert_bytes, f.n_expert, f.n_used)),
           cli_fmt_bytes(b2, (double)f.total_bytes));
}

cJSON *inspect_experts_json(const struct nib_gguf *g) {
    struct expert_facts f;
    if (!expert_facts(g, &f)) return NULL;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "expert_count", (double)f.n_expert);
    cJSON_AddNumberToObject(o, "expert_used_count", (double)f.n_used);
    cJSON_AddNumberToObject(o, "expert_tensors", (double)f.n_tensors);
    cJSON_AddNumberToObject(o, "bytes_per_expert", (double)(f.expert_bytes / f.n_expert));
    cJSON_AddNumberToObject(o, "params_per_expert", (double)(f.expert_params / f.n_expert));
    cJSON_AddNumberToObject(o, "active_params", (double)active(f.total_params, f.expert_params, f.n_expert, f.n_used));
    cJSON_AddNumberToObject(o, "active_bytes", (double)active(f.total_bytes, f.expert_bytes, f.n_expert, f.n_used));
    return o;
}
