/*
 * cuda_attention_tiles.cu — prefill attention in tiles (see cuda_backend.h):
 * the rows of a batch that all belong to one sequence share each K/V row
 * they read, FlashAttention-style, instead of every (row, head) walking the
 * keys on its own.
 *
 * A block of FA_WARPS warps takes FA_QT consecutive rows of one head; the
 * keys go through shared memory in chunks of KC (64, or 32 for head dims
 * over 128): K and V rows of the chunk loaded once for the tile, then each
 * warp takes its FA_QT / FA_WARPS rows one after the other:
 *  - scores: lane l scores keys l and l + 32 of the chunk (the whole dot
 *    product, q broadcast from shared memory; K rows padded by one word so
 *    the lanes' rows sit in different banks); keys at or past the row's own
 *    count (causality) score -inf;
 *  - online softmax over the chunk: the chunk max and sum by warp shuffles,
 *    the row's running max m and sum l rescaled;
 *  - P.V: lane l holds the output dim pairs l, l + 32, ...; each key's
 *    probability is broadcast from its lane.
 * Rows past n_tok and chunks past a row's count are skipped; rows of a tile
 * with different counts (the causal staircase) are masked key by key. No
 * score row is stored. fp32 arithmetic, F16 K/V.
 */
#include "cuda_common.cuh"

#define FA_QT    16 /* rows per block */
#define FA_WARPS 4
#define FA_MAX_DIM 256

__device__ __forceinline__ float fa_warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}
__device__ __forceinline__ float fa_warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

/* KC keys per chunk (32 or 64), PL = dim pairs per lane (pairs <= 32 PL). */
template <int KC, int PL>
__global__ void attention_tiles_kernel(const float *q, const __half2 *k, const __half2 *v, const int32_t *slots, const int32_t *off,
                                       const int32_t *n_kv_of, int n_tok, int n_head, int group, int pairs, int row2, float scale,
                                       float *out) {
    extern __shared__ __align__(16) uint8_t fa_smem[];
    nib_dev_pdl_trigger();
    nib_dev_pdl_wait();
    const int h = blockIdx.x, t0 = blockIdx.y * FA_QT, hk = h / group, hd = 2 * pairs, pitch = pairs + 1;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int nq = min(FA_QT, n_tok - t0);
    float2 *qs = reinterpret_cast<float2 *>(fa_smem);          /* [FA_QT][pairs] */
    __half2 *ks = reinterpret_cast<__half2 *>(qs + FA_QT * pairs); /* [KC][pitch] */
    __half2 *vs = ks + KC * pitch;                                 /* [KC][pairs] */
    for (int i = threadIdx.x; i < FA_QT * pairs; i += blockDim.x) {
        const int r = i / pairs, p = i % pairs;
        const float *qr = q + ((size_t)(t0 + r) * n_head + h) * hd;
        qs[i] = r < nq ? make_float2(qr[2 * p] * scale, qr[2 * p + 1] * scale) : make_float2(0.0f, 0.0f);
    }
    int32_t max_kv = 0;
    for (int r = 0; r < nq; r++) max_kv = max(max_kv, n_kv_of[t0 + r]);
    const int32_t *sl = slots + off[t0]; /* every row of the tile is of this sequence (the caller checked) */
    constexpr int RW = FA_QT / FA_WARPS;  /* rows per warp */
    float m[RW], l[RW];
    float2 acc[RW][PL];
    int32_t nkv[RW];
#pragma unroll
    for (int i = 0; i < RW; i++) {
        const int r = warp * RW + i;
        nkv[i] = r < nq ? n_kv_of[t0 + r] : 0;
        m[i] = -INFINITY;
        l[i] = 0.0f;
#pragma unroll
        for (int j = 0; j < PL; j++) acc[i][j] = make_float2(0.0f, 0.0f);
    }
    for (int32_t c0 = 0; c0 < max_kv; c0 += KC) {
        __syncthreads(); /* the chunk before is used up (and qs is written, the first time) */
        for (int i = threadIdx.x; i < KC * pairs; i += blockDim.x) {
            const int j = i / pairs, p = i % pairs;
            const bool in = c0 + j < max_kv;
            const size_t base = in ? (size_t)sl[c0 + j] * row2 + (size_t)hk * pairs + p : 0;
            ks[j * pitch + p] = in ? k[base] : __floats2half2_rn(0.0f, 0.0f);
            vs[j * pairs + p] = in ? v[base] : __floats2half2_rn(0.0f, 0.0f);
        }
        __syncthreads();
#pragma unroll
        for (int i = 0; i < RW; i++) {
            if (c0 >= nkv[i]) continue; /* warp-uniform: the row's keys are all in earlier chunks */
            const float2 *qr = qs + (warp * RW + i) * pairs;
            float s0 = 0.0f, s1 = 0.0f;
            for (int p = 0; p < pairs; p++) {
                const float2 qv = qr[p];
                const float2 k0 = __half22float2(ks[lane * pitch + p]);
                s0 = fmaf(qv.x, k0.x, fmaf(qv.y, k0.y, s0));
                if (KC == 64) {
                    const float2 k1 = __half22float2(ks[(lane + 32) * pitch + p]);
                    s1 = fmaf(qv.x, k1.x, fmaf(qv.y, k1.y, s1));
                }
            }
            if (c0 + lane >= nkv[i]) s0 = -INFINITY;
            if (KC != 64 || c0 + lane + 32 >= nkv[i]) s1 = -INFINITY;
            const float mn = fmaxf(m[i], fa_warp_max(fmaxf(s0, s1))); /* finite: key c0 < nkv scores */
            const float corr = expf(m[i] - mn), p0 = expf(s0 - mn), p1 = expf(s1 - mn);
            l[i] = l[i] * corr + fa_warp_sum(p0 + p1);
#pragma unroll
            for (int j = 0; j < PL; j++) acc[i][j].x *= corr, acc[i][j].y *= corr;
            for (int j = 0; j < 32; j++) {
                const float pa = __shfl_sync(0xffffffffu, p0, j);
                const float pb = KC == 64 ? __shfl_sync(0xffffffffu, p1, j) : 0.0f;
#pragma unroll
                for (int jj = 0; jj < PL; jj++) {
                    const int p = lane + 32 * jj;
                    if (p < pairs) {
                        const float2 va = __half22float2(vs[j * pairs + p]);
                        acc[i][jj].x = fmaf(pa, va.x, acc[i][jj].x);
                        acc[i][jj].y = fmaf(pa, va.y, acc[i][jj].y);
                        if (KC == 64) {
                            const float2 vb = __half22float2(vs[(j + 32) * pairs + p]);
                            acc[i][jj].x = fmaf(pb, vb.x, acc[i][jj].x);
                            acc[i][jj].y = fmaf(pb, vb.y, acc[i][jj].y);
                        }
                    }
                }
            }
            m[i] = mn;
        }
    }
#pragma unroll
    for (int i = 0; i < RW; i++) {
        const int r = warp * RW + i;
        if (r >= nq) continue;
        float *o = out + ((size_t)(t0 + r) * n_head + h) * hd;
#pragma unroll
        for (int jj = 0; jj < PL; jj++) {
            const int p = lane + 32 * jj;
            if (p < pairs) {
                o[2 * p] = acc[i][jj].x / l[i];
                o[2 * p + 1] = acc[i][jj].y / l[i];
            }
        }
    }
}

template <int KC, int PL>
static int launch_tiles(const float *q, const void *k, const void *v, const int32_t *slots, const int32_t *off, const int32_t *n_kv,
                        int32_t n_tok, int n_head, int n_head_kv, int head_dim, float scale, float *out, struct nib_error *err) {
    const int pairs = head_dim / 2;
    const size_t smem = sizeof(float2) * FA_QT * pairs + sizeof(__half2) * KC * (2 * pairs + 1);
    if (smem > 48 * 1024 &&
        cudaFuncSetAttribute(attention_tiles_kernel<KC, PL>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem) != cudaSuccess) {
        cudaGetLastError();
        return nib_cuda_fail(err, NIB_E_UNSUPPORTED, "CUDA attention tiles: %zu bytes of shared memory", smem);
    }
    return nib_cuda_launch_pdl("attention tiles", err, attention_tiles_kernel<KC, PL>,
                               dim3((unsigned)n_head, (unsigned)((n_tok + FA_QT - 1) / FA_QT)), dim3(FA_WARPS * 32), smem, q,
                               static_cast<const __half2 *>(k), static_cast<const __half2 *>(v), slots, off, n_kv, (int)n_tok,
                               n_head, n_head / n_head_kv, pairs, n_head_kv * pairs, scale, out);
}

extern "C" int nib_cuda_attention_tiles(const float *q, const void *k, const void *v, const int32_t *slots, const int32_t *off,
                                        const int32_t *n_kv, int32_t n_tok, int n_head, int n_head_kv, int head_dim, float scale,
                                        float *out, struct nib_error *err) {
    if (n_tok <= 0 || n_tok > 65535 * FA_QT || n_head <= 0 || n_head > 65535 || n_head_kv <= 0 || n_head % n_head_kv ||
        head_dim <= 0 || head_dim % 2 || head_dim > FA_MAX_DIM)
        return nib_cuda_fail(err, NIB_E_ARG, "CUDA attention tiles: %d tokens, %d heads / %d kv heads of %d (head dim even, at most %d)",
                             n_tok, n_head, n_head_kv, head_dim, FA_MAX_DIM);
    if (head_dim <= 64) return launch_tiles<64, 1>(q, k, v, slots, off, n_kv, n_tok, n_head, n_head_kv, head_dim, scale, out, err);
    if (head_dim <= 128) return launch_tiles<64, 2>(q, k, v, slots, off, n_kv, n_tok, n_head, n_head_kv, head_dim, scale, out, err);
    return launch_tiles<32, 4>(q, k, v, slots, off, n_kv, n_tok, n_head, n_head_kv, head_dim, scale, out, err);
}
