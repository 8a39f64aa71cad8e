/*
 * matmul.c — nib_op_matmul (ops_ref.h): the path each weight matrix takes
 * through the variant's kernels (dispatch.h), and how the threads split it.
 */
#include "ops_ref.h"

#include "dispatch.h"
#include "fp16.h"
#ifdef NIB_HAVE_AMX
#include "gemm_bf16_amx.h"
#endif
#include "quant_blocks.h"
#include "repack.h"

#include <omp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Token rows per pass over a packed matrix: their activations stay in L2
 * while every weight group (8 rows, a few KiB) streams through once. */
#define PACKED_TOKEN_CHUNK 64
#define GEMM8_TOKEN_CHUNK 256 /* see matmul_gemm8 */

/* For the Q8_0 activation rows [t0, t1): mul * each block's quant sum and its
 * scale as a float, [t - t0][block] (sums: int16 scratch of the same size). */
static void q8_0_block_terms(const struct nib_cpu_kernels *k, const void *xq, size_t xq_row_bytes, int64_t nb, int64_t t0,
                             int64_t t1, int32_t mul, int16_t *sums, int32_t *base, float *dyf) {
    k->block_sums_q8_0((const char *)xq + (size_t)t0 * xq_row_bytes, xq_row_bytes, nb, t1 - t0, sums);
    for (int64_t t = t0; t < t1; t++) {
        const struct nib_block_q8_0 *a = (const struct nib_block_q8_0 *)((const char *)xq + (size_t)t * xq_row_bytes);
        for (int64_t b = 0; b < nb; b++) {
            base[(t - t0) * nb + b] = mul * (int32_t)sums[(t - t0) * nb + b];
            dyf[(t - t0) * nb + b] = nib_fp16_to_fp32(a[b].d);
        }
    }
}

/* For the Q8_K activation rows [t0, t1): per super-block b, sub-blocks 2p
 * and 2p + 1's sums (16-bit, bsums 4p + 0..1 and 4p + 2..3) as one int32,
 * the low half 2p's, at [t - t0][8 b + p] (the Q4_K kernels' ycorr: n/32 a
 * row, as Q4_0's). Every group of a matrix reads the same pairs. */
static void q8_K_bsum_pairs(const void *xq, size_t xq_row_bytes, int64_t n_in, int64_t t0, int64_t t1, int32_t *pairs) {
    const int64_t nbk = n_in / NIB_QK_K, stride = n_in / 32;
    for (int64_t t = t0; t < t1; t++) {
        const struct nib_block_q8_K *a = (const struct nib_block_q8_K *)((const char *)xq + (size_t)t * xq_row_bytes);
        for (int64_t b = 0; b < nbk; b++)
            for (int p = 0; p < 4; p++) {
                const int16_t *bs = a[b].bsums + 4 * p;
                pairs[(t - t0) * stride + 8 * b + p] =
                    (int32_t)((uint32_t)(uint16_t)(bs[0] + bs[1]) | (uint32_t)(uint16_t)(bs[2] + bs[3]) << 16);
            }
    }
}

/* Whether a packed copy of this matrix pairs its 8-row groups (packed16's layout). */
static bool paired(const struct nib_cpu_kernels *k, int w_type, int64_t n_out) {
    return k->packed16[w_type] && n_out % 16 == 0;
}

bool nib_op_packed_paired(int w_type, int64_t n_out) { return paired(nib_cpu_kernels(), w_type, n_out); }

/* Whether a packed copy of this matrix is in 16-row units (repack.h). */
static bool in_units(const struct nib_cpu_kernels *k, int w_type, int64_t n_out) {
    return k->gemv16[w_type] && n_out % 16 == 0;
}

bool nib_op_packs(int w_type, int64_t n_out) {
    const struct nib_cpu_kernels *k = nib_cpu_kernels();
    return k->packed8[w_type] || in_units(k, w_type, n_out);
}

/* One activation row over the 16-row units of a packed copy: each thread's
 * share (schedule(static)'s) cut into up to NIB_DECODE_STREAMS runs that it
 * reads side by side (dispatch.h's nib_decode_streams_fn). */
static void decode_streams(nib_decode_streams_fn kern, const void *packed, size_t unit_bytes, int64_t n_in, int64_t n_units,
                           const void *xq, float *y, const int32_t *aux, const float *dyf, int nt) {
#pragma omp parallel num_threads(nt)
    {
        const int me = omp_get_thread_num(), nth = omp_get_num_threads();
        const int64_t lo = n_units * me / nth, hi = n_units * (me + 1) / nth;
        const int64_t run = (hi - lo + NIB_DECODE_STREAMS - 1) / NIB_DECODE_STREAMS; /* units a stream */
        for (int64_t i = 0; i < run; i++) {
            const void *units[NIB_DECODE_STREAMS];
            float *ys[NIB_DECODE_STREAMS];
            int k = 0;
            for (int64_t u = lo + i; u < hi; u += run, k++) {
                units[k] = (const char *)packed + (size_t)u * unit_bytes;
                ys[k] = y + 16 * u;
            }
            kern(n_in, k, units, xq, ys, aux, dyf);
        }
    }
}

/* gemv16 over the 16-row units of a packed copy (repack.h), each token row
 * alone (vec_dot's bits). Returns false (nothing done) when Q8_0's or
 * Q5_0's activation dword sums cannot be had. */
static bool matmul_gemv16(const struct nib_cpu_kernels *k, int w_type, const void *packed, int64_t n_in, int64_t n_out,
                          const void *xq, size_t xq_row_bytes, int64_t n_tok, float *y, int nt) {
    const int64_t nb = n_in / NIB_QK8_0, units = n_out / 16;
    const size_t unit_bytes = nib_repack_size(w_type, n_in, 16);
    /* Q8_0's and Q5_0's kernels (weights stored unsigned: q + 128, q + 16)
     * start from -offset * each activation dword's sum */
    const int32_t offset = w_type == NIB_TYPE_Q8_0 ? 128 : w_type == NIB_TYPE_Q5_0 ? 16 : 0;
    int32_t small[4096], *ybase = !offset || nb * 8 * n_tok <= 4096 ? small : malloc(sizeof(int32_t) * (size_t)(nb * 8 * n_tok));
    if (!ybase) return false;
    for (int64_t t = 0; offset && t < n_tok; t++) {
        const struct nib_block_q8_0 *a = (const struct nib_block_q8_0 *)((const char *)xq + (size_t)t * xq_row_bytes);
        for (int64_t i = 0; i < nb * 8; i++) {
            const int8_t *q = a[i / 8].qs + 4 * (i % 8);
            ybase[t * nb * 8 + i] = -offset * (q[0] + q[1] + q[2] + q[3]);
        }
    }
    if (n_tok == 1 && k->decode_streams[w_type]) {
        decode_streams(k->decode_streams[w_type], packed, unit_bytes, n_in, units, xq, y, offset ? ybase : NULL, NULL, nt);
    } else {
#pragma omp parallel for schedule(static) num_threads(nt)
        for (int64_t u = 0; u < units; u++)
            k->gemv16[w_type](n_in, y + 16 * u, (size_t)n_out, (const char *)packed + (size_t)u * unit_bytes, xq, xq_row_bytes,
                              ybase, (int)n_tok);
    }
    if (ybase != small) free(ybase);
    return true;
}

/* Returns false (nothing done) only when the Q4_0 scratch cannot be had. */
static bool matmul_packed(const struct nib_cpu_kernels *k, int w_type, const void *packed, int64_t n_in, int64_t n_out,
                          const void *xq, size_t xq_row_bytes, int64_t n_tok, float *y, int64_t n_gemm, int nt) {
    nib_packed8_fn kern = k->packed8[w_type];
    nib_packed16_fn kern16 = paired(k, w_type, n_out) ? k->packed16[w_type] : NULL;
    const int tile = kern16 ? k->packed16_tokens[w_type] : k->packed8_tokens[w_type];
    if (w_type == NIB_TYPE_Q4_0) n_gemm = 0; /* its GEMV and GEMM orders agree: tiles need not stop at n_gemm */
    const size_t group_bytes = nib_repack_size(w_type, n_in, 8);
    const int64_t nb = n_in / 32, chunk = n_tok < PACKED_TOKEN_CHUNK ? n_tok : PACKED_TOKEN_CHUNK;
    /* Q4_0: the activations' block terms; on the stack for decode-sized batches */
    int16_t sums_small[1024], *sums = NULL;
    int32_t ycorr_small[1024], *ycorr = NULL;
    float dyf_small[1024], *dyf = NULL;
    const bool small = nb * chunk <= 1024;
    if (w_type == NIB_TYPE_Q4_0) {
        sums = small ? sums_small : malloc(sizeof(int16_t) * (size_t)(nb * chunk));
        ycorr = small ? ycorr_small : malloc(sizeof(int32_t) * (size_t)(nb * chunk));
        dyf = small ? dyf_small : malloc(sizeof(float) * (size_t)(nb * chunk));
        if (!sums || !ycorr || !dyf) {
            if (!small) free(sums), free(ycorr), free(dyf);
            return false;
        }
    } else if (w_type == NIB_TYPE_Q4_K) { /* its bsum pairs (q8_K_bsum_pairs) */
        ycorr = small ? ycorr_small : malloc(sizeof(int32_t) * (size_t)(nb * chunk));
        if (!ycorr) return false;
    }
    /* calls of more than one 16-row tile: each thread's unpacked pair (dispatch.h) */
    const size_t scratch_bytes = kern16 && chunk > 16 ? (NIB_UNPACK_SCRATCH(n_in) + 63) & ~(size_t)63 : 0;
    char *scratch = scratch_bytes ? aligned_alloc(64, scratch_bytes * (size_t)nt) : NULL; /* NULL: the kernels' ring */
    for (int64_t t0 = 0; t0 < n_tok; t0 += PACKED_TOKEN_CHUNK) {
        const int64_t t1 = t0 + PACKED_TOKEN_CHUNK < n_tok ? t0 + PACKED_TOKEN_CHUNK : n_tok;
        if (sums) q8_0_block_terms(k, xq, xq_row_bytes, nb, t0, t1, -8, sums, ycorr, dyf);
        else if (ycorr) q8_K_bsum_pairs(xq, xq_row_bytes, n_in, t0, t1, ycorr);
        if (n_tok == 1 && kern16 && k->decode_streams[w_type] && sums) {
            decode_streams(k->decode_streams[w_type], packed, 2 * group_bytes, n_in, n_out / 16, xq, y, ycorr, dyf, nt);
            break;
        }
        /* paired layout: units of two groups for packed16, else one */
        const int64_t per = kern16 ? 2 : 1;
#pragma omp parallel for schedule(static) num_threads(nt)
        for (int64_t u = 0; u < n_out / 8 / per; u++) {
            const int64_t g = u * per;
            const char *grp = (const char *)packed + (size_t)g * group_bytes;
            for (int64_t t = t0; t < t1;) { /* tiles of up to `tile` rows, none straddling n_gemm */
                const int64_t end = t < n_gemm && n_gemm < t1 ? n_gemm : t1;
                const int ntt = end - t < tile ? (int)(end - t) : tile;
                const char *xt = (const char *)xq + (size_t)t * xq_row_bytes;
                const int32_t *yc = ycorr ? ycorr + (t - t0) * nb : NULL;
                const float *df = sums ? dyf + (t - t0) * nb : NULL;
                if (kern16)
                    kern16(n_in, grp, xt, xq_row_bytes, ntt, y + t * n_out + 8 * g, (size_t)n_out, t < n_gemm, yc, df,
                           scratch ? scratch + scratch_bytes * (size_t)omp_get_thread_num() : NULL);
                else
                    kern(n_in, grp, xt, xq_row_bytes, ntt, y + t * n_out + 8 * g, (size_t)n_out, t < n_gemm, yc, df);
                t += ntt;
            }
        }
    }
    if (!small) free(sums), free(ycorr), free(dyf);
    free(scratch);
    return true;
}

/* Q8_0 through gemm8 (gemm16 where the variant has it and n_out % 16 == 0:
 * the same bits): groups of 8 (16) weight rows against tiles of up to 8
 * token rows, GEMM8_TOKEN_CHUNK token rows per pass (each pass transposes
 * every group once: 256 rows amortize that and still sit in L2). Returns false (nothing
 * done) only when the scratch cannot be had. */
static bool matmul_gemm8(const struct nib_cpu_kernels *k, int w_type, const void *w, size_t w_row_bytes, const void *packed,
                         int64_t n_in, int64_t n_out, const void *xq, size_t xq_row_bytes, int64_t n_tok, float *y, int nt) {
    const int64_t nb = n_in / 32, chunk = n_tok < GEMM8_TOKEN_CHUNK ? n_tok : GEMM8_TOKEN_CHUNK;
    int16_t *sums = malloc(sizeof(int16_t) * (size_t)(nb * chunk));
    int32_t *ybase = malloc(sizeof(int32_t) * (size_t)(nb * chunk));
    float *dyf = malloc(sizeof(float) * (size_t)(nb * chunk));
    const bool sixteen = k->gemm16[w_type] && n_out % 16 == 0; /* same bits, half the instructions (packed: always) */
    const nib_gemm8_fn kern = sixteen ? k->gemm16[w_type] : k->gemm8[w_type];
    const int64_t rows = sixteen ? 16 : 8;
    const size_t unit_bytes = packed ? nib_repack_size(w_type, n_in, 16) : 0;
    const size_t scratch_bytes = ((sixteen ? NIB_GEMM16_SCRATCH(n_in) : NIB_GEMM8_SCRATCH(n_in)) + 63) & ~(size_t)63;
    char *scratch = aligned_alloc(64, scratch_bytes * (size_t)nt);
    const bool ok = sums && ybase && dyf && scratch;
    for (int64_t t0 = 0; ok && t0 < n_tok; t0 += GEMM8_TOKEN_CHUNK) {
        const int64_t t1 = t0 + GEMM8_TOKEN_CHUNK < n_tok ? t0 + GEMM8_TOKEN_CHUNK : n_tok;
#pragma omp parallel num_threads(nt)
        {
            char *mine = scratch + scratch_bytes * (size_t)omp_get_thread_num();
#pragma omp for schedule(static)
            for (int64_t t = t0; t < t1; t++) {
                const size_t o = (size_t)((t - t0) * nb);
                q8_0_block_terms(k, xq, xq_row_bytes, nb, t, t + 1, -128, sums + o, ybase + o, dyf + o);
            }
#pragma omp for schedule(dynamic, 2) /* a thread the host slows does less */
            for (int64_t g = 0; g < n_out / rows; g++) {
                const char *wg = packed ? (const char *)packed + (size_t)g * unit_bytes
                                        : (const char *)w + (size_t)(rows * g) * w_row_bytes;
                kern(n_in, wg, packed ? 0 : w_row_bytes, (const char *)xq + (size_t)t0 * xq_row_bytes, xq_row_bytes,
                     (int)(t1 - t0), ybase, dyf, y + t0 * n_out + rows * g, (size_t)n_out, mine);
            }
        }
    }
    free(scratch);
    free(sums);
    free(ybase);
    free(dyf);
    return ok;
}

/* unit_gemm over the 16-row units of a packed copy, GEMM8_TOKEN_CHUNK token
 * rows a pass (their activations stay in L2 while the units stream), their
 * Q8_0/Q8_1 block scales (Q8_1: and sums) converted once a pass. Returns false
 * (nothing done) only when that scratch cannot be had. */
static bool matmul_unit_gemm(const struct nib_cpu_kernels *k, int w_type, const void *packed, int64_t n_in, int64_t n_out,
                             const void *xq, size_t xq_row_bytes, int64_t n_tok, float *y, int nt) {
    const size_t unit_bytes = nib_repack_size(w_type, n_in, 16);
    const int64_t nb = n_in / 32, chunk = n_tok < GEMM8_TOKEN_CHUNK ? n_tok : GEMM8_TOKEN_CHUNK;
    const int act = nib_type_traits(w_type)->vec_dot_type;
    const bool q8_1 = act == NIB_TYPE_Q8_1, scales = act != NIB_TYPE_Q8_K; /* Q8_K's d is a float already */
    float *dyf = scales ? malloc(sizeof(float) * (size_t)(nb * chunk)) : NULL;
    float *syf = q8_1 ? malloc(sizeof(float) * (size_t)(nb * chunk)) : NULL;
    /* calls of more than one 16-row tile: each thread's unpacked unit (dispatch.h) */
    const size_t scratch_bytes = chunk > 16 ? (NIB_UNPACK_SCRATCH(n_in) + 63) & ~(size_t)63 : 0;
    char *scratch = scratch_bytes ? aligned_alloc(64, scratch_bytes * (size_t)nt) : NULL; /* NULL: the kernels' ring */
    const bool ok = (dyf || !scales) && (syf || !q8_1);
    for (int64_t t0 = 0; ok && t0 < n_tok; t0 += GEMM8_TOKEN_CHUNK) {
        const int64_t t1 = t0 + GEMM8_TOKEN_CHUNK < n_tok ? t0 + GEMM8_TOKEN_CHUNK : n_tok;
#pragma omp parallel num_threads(nt)
        {
            if (scales) /* the same branch on every thread */
#pragma omp for schedule(static)
            for (int64_t t = t0; t < t1; t++) {
                const char *row = (const char *)xq + (size_t)t * xq_row_bytes;
                float *d = dyf + (t - t0) * nb, *s = q8_1 ? syf + (t - t0) * nb : NULL;
                for (int64_t b = 0; b < nb; b++) {
                    if (q8_1) {
                        d[b] = nib_fp16_to_fp32(((const struct nib_block_q8_1 *)row)[b].d);
                        s[b] = nib_fp16_to_fp32(((const struct nib_block_q8_1 *)row)[b].s);
                    } else {
                        d[b] = nib_fp16_to_fp32(((const struct nib_block_q8_0 *)row)[b].d);
                    }
                }
            }
            char *mine = scratch ? scratch + scratch_bytes * (size_t)omp_get_thread_num() : NULL;
#pragma omp for schedule(dynamic, 2) /* a thread the host slows does less */
            for (int64_t u = 0; u < n_out / 16; u++)
                k->unit_gemm[w_type](n_in, (const char *)packed + (size_t)u * unit_bytes,
                                     (const char *)xq + (size_t)t0 * xq_row_bytes, xq_row_bytes, (int)(t1 - t0), dyf, syf,
                                     y + t0 * n_out + 16 * u, (size_t)n_out, mine);
        }
    }
    free(scratch);
    free(dyf);
    free(syf);
    return ok;
}

/* rows16_gemm over the matrix's 16-row groups, NIB_ROWS16_GEMM_TOKENS token
 * rows a pass (each pass unpacks every group's blocks once). */
static void matmul_rows16(const struct nib_cpu_kernels *k, int w_type, const void *w, size_t w_row_bytes, int64_t n_in,
                          int64_t n_out, const void *xq, size_t xq_row_bytes, int64_t n_tok, float *y, int nt) {
    for (int64_t t0 = 0; t0 < n_tok; t0 += NIB_ROWS16_GEMM_TOKENS) {
        const int64_t t1 = t0 + NIB_ROWS16_GEMM_TOKENS < n_tok ? t0 + NIB_ROWS16_GEMM_TOKENS : n_tok;
#pragma omp parallel for schedule(dynamic, 2) num_threads(nt) /* a thread the host slows does less */
        for (int64_t g = 0; g < n_out / 16; g++)
            k->rows16_gemm[w_type](n_in, (const char *)w + (size_t)(16 * g) * w_row_bytes, w_row_bytes,
                                   (const char *)xq + (size_t)t0 * xq_row_bytes, xq_row_bytes, (int)(t1 - t0),
                                   y + t0 * n_out + 16 * g, (size_t)n_out);
    }
}

#ifdef NIB_HAVE_AMX
/* gemm_bf16_amx.h's protocol: the activation tiles, then panels of 32 rows
 * split over the threads, each dequantized into the thread's buffer.
 * Returns false (nothing done) when the scratch cannot be had. */
static bool matmul_bf16(int w_type, const void *w, size_t w_row_bytes, const void *packed, int64_t n_in, int64_t n_out,
                        const void *xq, size_t xq_row_bytes, int64_t n_tok, float *y, int nt) {
    const int act_type = nib_type_traits(w_type)->vec_dot_type;
    const int64_t n_panels = n_out / 32, per = (n_panels + nt - 1) / nt;
    const size_t scratch_bytes = (NIB_BF16_SCRATCH_BYTES(0, per) + 63) & ~(size_t)63;
    void *acts = aligned_alloc(64, nib_bf16_acts_bytes(n_in, n_tok));
    char *scratch = aligned_alloc(64, scratch_bytes * (size_t)nt);
    const bool ok = acts && scratch;
    if (ok) {
#pragma omp parallel num_threads(nt)
        {
#pragma omp for schedule(static)
            for (int64_t tile = 0; tile < (n_tok + 15) / 16; tile++)
                nib_bf16_acts_amx(act_type, xq, xq_row_bytes, n_in, n_tok, tile, acts);
            const int me = omp_get_thread_num();
            const int64_t p0 = me * per < n_panels ? me * per : n_panels, p1 = p0 + per < n_panels ? p0 + per : n_panels;
            if (p0 < p1)
                nib_bf16_matmul_amx(w_type, w, w_row_bytes, packed, n_in, p0, p1, acts, n_tok, y, (size_t)n_out,
                                    scratch + scratch_bytes * (size_t)me);
        }
    }
    free(acts);
    free(scratch);
    return ok;
}
#endif

/* Each weight row (four at a time where dot4x4 exists) against 4 token rows
 * at a time; 16 weight rows (from L2) meet each 4-token tile (kept in L1) in
 * turn. Returns false (nothing done) only when the scale scratch cannot be had. */
static bool matmul_dot4(const struct nib_cpu_kernels *k, int w_type, const void *w, size_t w_row_bytes, int64_t n_in, int64_t n_out,
                        const void *xq, size_t xq_row_bytes, int64_t n_tok, float *y, int nt) {
    const int64_t nb = n_in / 32;
    nib_dot4_fn dot4 = k->dot4[w_type];
    nib_dot4x4_fn dot4x4 = k->dot4x4[w_type];
    const int tk = w_type == NIB_TYPE_Q8_0 ? 4 : k->dot4_tokens[w_type]; /* token rows per dot4 call */
    float *dy = NULL; /* partner Q8_0: its fp16 block scales as floats, [tile][block][4] */
    if (w_type == NIB_TYPE_Q8_0) {
        dy = malloc(sizeof(float) * 4 * (size_t)nb * (size_t)((n_tok + 3) / 4));
        if (!dy) return false;
        for (int64_t t = 0; t < n_tok; t++) {
            const struct nib_block_q8_0 *a = (const struct nib_block_q8_0 *)((const char *)xq + (size_t)t * xq_row_bytes);
            for (int64_t b = 0; b < nb; b++) dy[(t / 4) * 4 * nb + 4 * b + t % 4] = nib_fp16_to_fp32(a[b].d);
        }
    }
#pragma omp parallel for schedule(static) num_threads(nt)
    for (int64_t o0 = 0; o0 < n_out; o0 += 16) {
        const int64_t o1 = o0 + 16 < n_out ? o0 + 16 : n_out;
        for (int64_t t = 0; t < n_tok; t += tk) {
            const int m = n_tok - t < tk ? (int)(n_tok - t) : tk;
            int64_t o = o0;
            for (; dot4x4 && m == 4 && o + 4 <= o1; o += 4) {
                float r16[16];
                dot4x4(n_in, r16, (const char *)w + (size_t)o * w_row_bytes, w_row_bytes,
                       (const char *)xq + (size_t)t * xq_row_bytes, xq_row_bytes, dy ? dy + (t / 4) * 4 * nb : NULL);
                for (int r = 0; r < 4; r++)
                    for (int i = 0; i < m; i++) y[(t + i) * n_out + o + r] = r16[4 * r + i];
            }
            for (; k->dot4x2[w_type] && o + 2 <= o1; o += 2) {
                float r16[16];
                k->dot4x2[w_type](n_in, r16, (const char *)w + (size_t)o * w_row_bytes, w_row_bytes,
                                  (const char *)xq + (size_t)t * xq_row_bytes, xq_row_bytes, m);
                for (int r = 0; r < 2; r++)
                    for (int i = 0; i < m; i++) y[(t + i) * n_out + o + r] = r16[8 * r + i];
            }
            for (; o < o1; o++) {
                float r8[8];
                dot4(n_in, r8, (const char *)w + (size_t)o * w_row_bytes, (const char *)xq + (size_t)t * xq_row_bytes,
                     xq_row_bytes, m, dy ? dy + (t / 4) * 4 * nb : NULL);
                for (int i = 0; i < m; i++) y[(t + i) * n_out + o] = r8[i];
            }
        }
    }
    free(dy);
    return true;
}

/* The ways through nib_op_matmul, in the order it tries them. */
enum matmul_path {
    PATH_BF16, PATH_UNIT_GEMM, PATH_PACKED, PATH_GEMV16, PATH_ROWS8, PATH_GEMM8, PATH_ROWS16_GEMM, PATH_GEMM_TILE, PATH_DOT4,
    PATH_DOT8, PATH_DOT
};

/* The path a matrix takes (skip: 1 << a path whose scratch could not be had)
 * and, for PATH_DOT, its dot kernel. */
static enum matmul_path choose_path(const struct nib_cpu_kernels *k, int w_type, const void *packed, int64_t n_in,
                                    int64_t n_out, int64_t n_tok, int flags, unsigned skip, nib_vec_dot_fn *dot) {
    const bool rowwise = flags & NIB_MATMUL_ROWWISE, batch = n_tok >= 2 && !rowwise;
    *dot = k->vec_dot[w_type];
    const bool bf16 = k->bf16_gemm && !rowwise && !(flags & NIB_MATMUL_INT_GEMM) && n_tok >= k->bf16_min_rows[w_type];
    if (!(skip & 1u << PATH_BF16) && bf16 && n_out % 32 == 0 && k->bf16_gemm(w_type, packed != NULL)) return PATH_BF16;
    /* x86: Q4_1/Q5_0/Q5_1/Q5_K/Q6_K batches over the units, in block order */
    if (!(skip & 1u << PATH_UNIT_GEMM) && packed && batch && k->unit_gemm[w_type] && n_tok >= k->unit_gemm_min_tokens[w_type] &&
        in_units(k, w_type, n_out))
        return PATH_UNIT_GEMM;
    if (!(skip & 1u << PATH_PACKED) && packed && k->packed8[w_type] && n_out % 8 == 0) return PATH_PACKED;
    /* a packed copy in 16-row units: one-row calls by gemv16, and batches too
     * where vec_dot is also llama.cpp's batch order (Q5_K, Q6_K; Q8_0's batches go
     * through gemm16, GEMM8 below) */
    if (!(skip & 1u << PATH_GEMV16) && packed && in_units(k, w_type, n_out) && (!batch || !k->gemm16[w_type]))
        return PATH_GEMV16;
    if (!(flags & NIB_MATMUL_NO_REPACK) && n_out % 8 == 0 && k->rows8[w_type]) return PATH_ROWS8;
    /* Q8_0 on AVX-512: every row of a batch in the GEMM order (a row's bits
     * then depend only on whether its batch has one row or more) */
    if (!(skip & 1u << PATH_GEMM8) && batch && k->gemm8[w_type] && n_out % 8 == 0) return PATH_GEMM8;
    /* x86: Q2_K/Q3_K batches from the rows, in block order */
    if (batch && k->rows16_gemm[w_type] && n_tok >= k->rows16_gemm_min_tokens[w_type] && n_out % 16 == 0) return PATH_ROWS16_GEMM;
    if (batch && k->gemm_dot[w_type] && n_in % 8 == 0 && n_out % 4 == 0) {
        *dot = k->gemm_dot[w_type]; /* tinyBLAS's order: tiles, then gemm_dot for the rows and tokens left over */
        return k->gemm_tile[w_type] && n_tok >= 4 ? PATH_GEMM_TILE : PATH_DOT;
    }
    if (!(skip & 1u << PATH_DOT4) && n_tok >= 2 && k->dot4[w_type]) return PATH_DOT4;
    if (k->dot8[w_type] && n_out % 8 == 0) return PATH_DOT8; /* vec_dot's bits, eight rows a call */
    return PATH_DOT;
}

/* F32/F16/BF16 batches of 4+ rows in tinyBLAS's order: gemm_tile's tiles
 * of gemm_tile_rows weight rows x 4 tokens, then dot (gemm_dot) for the
 * rows and tokens left over. */
static void gemm_tile_rows(const struct nib_cpu_kernels *k, int w_type, nib_vec_dot_fn dot, const void *w, size_t w_row_bytes,
                           int64_t n_in, int64_t n_out, const void *xq, size_t xq_row_bytes, int64_t n_tok, float *y, int nt) {
    const int rm = k->gemm_tile_rows;
    const int64_t n_rt = n_out - n_out % rm, n_tt = n_tok - n_tok % 4;
#pragma omp parallel for schedule(static) num_threads(nt)
    for (int64_t o = 0; o < n_out; o += rm) {
        for (int64_t t = 0; t < n_tok; t += 4) {
            if (o < n_rt && t < n_tt) {
                float r16[16];
                k->gemm_tile[w_type](n_in, r16, (const char *)w + (size_t)o * w_row_bytes, w_row_bytes,
                                     (const char *)xq + (size_t)t * xq_row_bytes, xq_row_bytes);
                for (int r = 0; r < rm; r++)
                    for (int i = 0; i < 4; i++) y[(t + i) * n_out + o + r] = r16[4 * r + i];
                continue;
            }
            for (int64_t r = o; r < o + rm && r < n_out; r++)
                for (int64_t i = t; i < t + 4 && i < n_tok; i++)
                    dot(n_in, &y[i * n_out + r], (const char *)w + (size_t)r * w_row_bytes,
                        (const char *)xq + (size_t)i * xq_row_bytes);
        }
    }
}

void nib_op_matmul(int w_type, const void *w, size_t w_row_bytes, const void *packed, int64_t n_in, int64_t n_out,
                   const void *xq, size_t xq_row_bytes, int64_t n_tok, float *y, int flags, int n_threads) {
    /* the variant chosen at run time */
    nib_op_matmul_with(nib_cpu_kernels(), w_type, w, w_row_bytes, packed, n_in, n_out, xq, xq_row_bytes, n_tok, y, flags,
                       n_threads);
}

void nib_op_matmul_with(const struct nib_cpu_kernels *k, int w_type, const void *w, size_t w_row_bytes, const void *packed,
                        int64_t n_in, int64_t n_out, const void *xq, size_t xq_row_bytes, int64_t n_tok, float *y, int flags,
                        int n_threads) {
    const int nt = n_threads > 0 ? n_threads : 1;
    /* llama.cpp's repacked matmul: GEMM for 4 rows at a time, GEMV for the rest (MUL_MAT_ID: GEMV only) */
    const int64_t n_gemm = n_tok > 3 && !(flags & NIB_MATMUL_ROWWISE) ? n_tok - n_tok % 4 : 0;
    unsigned skip = 0; /* paths whose scratch could not be had: the next one, which needs none */
    for (;;) {
        nib_vec_dot_fn dot;
        const enum matmul_path path = choose_path(k, w_type, packed, n_in, n_out, n_tok, flags, skip, &dot);
        bool done = true;
        switch (path) {
#ifdef NIB_HAVE_AMX
        case PATH_BF16: done = matmul_bf16(w_type, w, w_row_bytes, packed, n_in, n_out, xq, xq_row_bytes, n_tok, y, nt); break;
#else
        case PATH_BF16: done = false; break;
#endif
        case PATH_UNIT_GEMM: done = matmul_unit_gemm(k, w_type, packed, n_in, n_out, xq, xq_row_bytes, n_tok, y, nt); break;
        case PATH_PACKED: done = matmul_packed(k, w_type, packed, n_in, n_out, xq, xq_row_bytes, n_tok, y, n_gemm, nt); break;
        case PATH_GEMV16: done = matmul_gemv16(k, w_type, packed, n_in, n_out, xq, xq_row_bytes, n_tok, y, nt); break;
        case PATH_GEMM8: {
            const void *pk = packed && in_units(k, w_type, n_out) ? packed : NULL;
            done = matmul_gemm8(k, w_type, w, w_row_bytes, pk, n_in, n_out, xq, xq_row_bytes, n_tok, y, nt);
            break;
        }
        case PATH_ROWS16_GEMM: matmul_rows16(k, w_type, w, w_row_bytes, n_in, n_out, xq, xq_row_bytes, n_tok, y, nt); break;
        case PATH_DOT4: done = matmul_dot4(k, w_type, w, w_row_bytes, n_in, n_out, xq, xq_row_bytes, n_tok, y, nt); break;
        case PATH_GEMM_TILE: gemm_tile_rows(k, w_type, dot, w, w_row_bytes, n_in, n_out, xq, xq_row_bytes, n_tok, y, nt); break;
        case PATH_ROWS8: /* eight rows a call: the repacked order (rows8) or the vec_dot's (dot8) */
        case PATH_DOT8:
#pragma omp parallel for schedule(static) num_threads(nt)
            for (int64_t o = 0; o < n_out; o += 8) {
                const char *wr = (const char *)w + (size_t)o * w_row_bytes;
                for (int64_t t = 0; t < n_tok; t++) {
                    float r8[8];
                    const char *xt = (const char *)xq + (size_t)t * xq_row_bytes;
                    if (path == PATH_ROWS8)
                        k->rows8[w_type](n_in, r8, wr, w_row_bytes, xt, t < n_gemm);
                    else
                        k->dot8[w_type](n_in, r8, wr, w_row_bytes, xt);
                    memcpy(&y[t * n_out + o], r8, sizeof r8);
                }
            }
            break;
        case PATH_DOT:
#pragma omp parallel for schedule(static) num_threads(nt)
            for (int64_t o = 0; o < n_out; o++) {
                const char *wr = (const char *)w + (size_t)o * w_row_bytes;
                for (int64_t t = 0; t < n_tok; t++) dot(n_in, &y[t * n_out + o], wr, (const char *)xq + (size_t)t * xq_row_bytes);
            }
            break;
        }
        if (done) return;
        skip |= 1u << path;
    }
}
