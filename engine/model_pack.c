/*
 * model_pack.c — packed copies of the weight matrices for the CPU kernels
 * (see model.h and kernels/cpu/repack.h).
 */
#include "model.h"

#include "ops_ref.h"
#include "repack.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Every matmul weight of the model (experts one by one), in a fixed order;
 * returns the count, or -1 out of memory. *out is malloc'd. */
static int list_weights(struct nib_model *m, struct nib_weight ***out) {
    const int per_layer = 8 + 3 * m->hp.n_expert;
    struct nib_weight **ws = malloc(sizeof(*ws) * ((size_t)per_layer * (size_t)m->hp.n_layer + 1));
    if (!ws) return -1;
    int n = 0;
    for (int l = 0; l < m->hp.n_layer; l++) {
        struct nib_layer *L = &m->layers[l];
        struct nib_weight *dense[] = { &L->wq, &L->wk, &L->wv, &L->wo, &L->ffn_gate, &L->ffn_up, &L->ffn_down, &L->ffn_gate_inp };
        for (size_t i = 0; i < sizeof(dense) / sizeof(dense[0]); i++) ws[n++] = dense[i];
        for (int e = 0; L->gate_exps && e < m->hp.n_expert; e++) { /* llama.cpp repacks expert tensors too */
            ws[n++] = &L->gate_exps[e];
            ws[n++] = &L->up_exps[e];
            ws[n++] = &L->down_exps[e];
        }
    }
    if (!m->output.is_embedding) ws[n++] = &m->output;
    *out = ws;
    return n;
}

/* Drops the mapped pages wholly inside [p, p + n): they are never read again. */
static void release_pages(const void *p, size_t n) {
    const uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t a = ((uintptr_t)p + page - 1) & ~(page - 1), b = ((uintptr_t)p + n) & ~(page - 1);
    if (b > a) madvise((void *)a, b - a, MADV_DONTNEED);
}

/* Bytes of w's copy in the packed buffer: its packed layout (nib_op_packs:
 * Q4_0 and Q4_K, and Q8_0, Q5_K, Q6_K where the variant has gemv16), or its rows as
 * stored (64-byte multiples, so every copy starts aligned) for Q8_0 and,
 * with copy_all, every type; 0 for none. Q8_0 is copied by default because
 * huge pages make its decode measurably faster (synthetic TinyLlama, tg32,
 * alternating runs, 2026-11-26, Intel Xeon: 11.1 -> 13.3-13.9 t/s at 1
 * thread, 20-21 -> 26-28 at 2; an AMD EPYC the day before: 18.3-19.5 ->
 * 22.5-24.6 at 1), as llama.cpp copies it into its repacked layout; the
 * K-quants other than Q4_K gained 2-4% (Q4_K_M), within the noise, and stay
 * mapped. The tied output matrix is the embeddings' (read by get_rows too)
 * and stays mapped. */
static size_t copy_bytes(const struct nib_weight *w, bool copy_all) {
    if (!w->data) return 0;
    if (nib_op_packs(w->type, w->ne1)) return (nib_repack_size(w->type, w->ne0, w->ne1) + 63) / 64 * 64;
    if (!(copy_all || w->type == NIB_TYPE_Q8_0) || w->is_embedding) return 0;
    return (w->row_bytes * (size_t)w->ne1 + 63) / 64 * 64;
}

void nib_model_pack(struct nib_model *m, bool copy_all) {
    struct nib_weight **ws = NULL;
    const int n = list_weights(m, &ws);
    if (n < 0) return;
    size_t total = 0;
    for (int i = 0; i < n; i++) total += copy_bytes(ws[i], copy_all);
    if (total == 0 || posix_memalign(&m->packed, 2u << 20, total) != 0) {
        m->packed = NULL;
        free(ws);
        return;
    }
    /* Transparent huge pages where the system gives them on request: decode
     * streams every weight once per token, and with 4 KiB pages it pays a
     * TLB miss per page and the hardware prefetcher stops at each page's end.
     * Measured (TinyLlama Q4_0, tg32, 1 thread): 50 t/s with, 40 without. */
    madvise(m->packed, total, MADV_HUGEPAGE);
    m->packed_bytes = total;
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        struct nib_weight *w = ws[i];
        const size_t sz = copy_bytes(w, copy_all);
        if (!sz) continue;
        char *dst = (char *)m->packed + off;
        const size_t stored = w->row_bytes * (size_t)w->ne1;
        if (nib_op_packs(w->type, w->ne1)) {
            const int64_t groups = w->ne1 / 8;
            const int pair = nib_op_packed_paired(w->type, w->ne1);
#pragma omp parallel for schedule(static)
            for (int64_t g = 0; g < groups; g++) nib_repack_groups(w->type, w->data, w->row_bytes, w->ne0, g, g + 1, pair, dst);
            release_pages(w->data, stored);
            w->packed = dst;
        } else {
            memcpy(dst, w->data, stored);
            release_pages(w->data, stored);
            w->data = dst;
        }
        off += sz;
    }
    free(ws);
}
