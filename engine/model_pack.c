/*
 * model_pack.c — packed copies of the weight matrices for the CPU kernels
 * (see model.h and kernels/cpu/repack.h).
 */
#include "model.h"

#include "dispatch.h"
#include "repack.h"

#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define MAX_PACKED (7 * 4096) /* weights per layer (7) x layers: more are left row-wise */

/* Every matmul weight of the model, in a fixed order. */
static int list_weights(struct nib_model *m, struct nib_weight **out, int cap) {
    int n = 0;
    for (int l = 0; l < m->hp.n_layer; l++) {
        struct nib_layer *L = &m->layers[l];
        struct nib_weight *ws[] = { &L->wq, &L->wk, &L->wv, &L->wo, &L->ffn_gate, &L->ffn_up, &L->ffn_down };
        for (size_t i = 0; i < sizeof(ws) / sizeof(ws[0]) && n < cap; i++) out[n++] = ws[i];
    }
    if (!m->output.is_embedding && n < cap) out[n++] = &m->output;
    return n;
}

/* Drops the mapped pages wholly inside [p, p + n): they are never read again. */
static void release_pages(const void *p, size_t n) {
    const uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t a = ((uintptr_t)p + page - 1) & ~(page - 1), b = ((uintptr_t)p + n) & ~(page - 1);
    if (b > a) madvise((void *)a, b - a, MADV_DONTNEED);
}

void nib_model_pack(struct nib_model *m) {
    const struct nib_cpu_kernels *k = nib_cpu_kernels();
    struct nib_weight **ws = malloc(sizeof(*ws) * MAX_PACKED);
    if (!ws) return;
    const int n = list_weights(m, ws, MAX_PACKED);
    size_t total = 0;
    for (int i = 0; i < n; i++)
        if (ws[i]->data && k->packed8[ws[i]->type]) total += nib_repack_size(ws[i]->type, ws[i]->ne0, ws[i]->ne1);
    if (total == 0 || posix_memalign(&m->packed, 64, total) != 0) {
        m->packed = NULL;
        free(ws);
        return;
    }
    m->packed_bytes = total;
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        struct nib_weight *w = ws[i];
        const size_t sz = w->data && k->packed8[w->type] ? nib_repack_size(w->type, w->ne0, w->ne1) : 0;
        if (!sz) continue;
        char *dst = (char *)m->packed + off;
        const int64_t groups = w->ne1 / 8;
#pragma omp parallel for schedule(static)
        for (int64_t g = 0; g < groups; g++) nib_repack_groups(w->type, w->data, w->row_bytes, w->ne0, g, g + 1, dst);
        release_pages(w->data, w->row_bytes * (size_t)w->ne1);
        w->packed = dst;
        off += sz;
    }
    free(ws);
}
