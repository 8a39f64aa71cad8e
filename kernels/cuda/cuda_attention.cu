/*
 * cuda_attention.cu — attention of a batch's query tokens over their
 * sequences' KV rows in the paged pool (see cuda_backend.h).
 *
 * One block of ATT_WARPS warps per (head, token, split). Each warp walks
 * every ATT_WARPS-th key of the split's range with an online softmax (running
 * max m, sum l, and the weighted V sum in registers: lane i holds the dim
 * pairs i, i + 32, ...), so no score row is ever stored; the warps' states
 * are merged in shared memory. With one split the block writes the token's
 * output; with several (decode over long contexts, FlashDecoding-style) it
 * writes its (m, l, sum), and the head's last split to finish (a counter per
 * head in the scratch) combines them. A warp reads its keys' slots 32 at a
 * time and loads each key's K and V while it uses the key before. The key
 * counts and slot-array offsets are read on the device, and the grid only
 * depends on (heads, tokens, splits), so a captured graph replays it as the
 * context grows.
 */
#include "cuda_common.cuh"

#include <cstdlib>
#include <cstring>

#define ATT_WARPS     4
#define ATT_MAX_PAIRS 4 /* dim pairs per lane: head_dim <= 256 */
#define ATT_MAX_DIM   256
#define ATT_MAX_SPLIT 64
/* nib_cuda_attention_splits: a split per ATT_SPLIT_KEYS keys of the context, at most ATT_SPLITS_CAP
 * (7B Q4_0 decode after 4096 tokens on an H100: 17 splits 264 t/s, 32 splits 315) */
#define ATT_SPLIT_KEYS 128
#define ATT_SPLITS_CAP 32

__device__ __forceinline__ float att_warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

/* The K and V pairs of key slot `slot` a lane holds (pairs lane + 32 i). */
__device__ __forceinline__ void att_load_kv(const __half2 *k, const __half2 *v, int32_t slot, int row2, int off, int pairs,
                                            __half2 *kr, __half2 *vr) {
    const size_t base = (size_t)slot * row2 + off;
    const int lane = threadIdx.x % 32;
#pragma unroll
    for (int i = 0; i < ATT_MAX_PAIRS; i++) {
        const int p = lane + 32 * i;
        if (p < pairs) kr[i] = k[base + p], vr[i] = v[base + p];
    }
}

/* Head h of token t from its n_split partials p (m, l, o[hd] each; read
 * through L2: other blocks wrote them) into out. */
__device__ void att_combine_head(const float *p, int n_split, int hd, float *out) {
    float M = -INFINITY;
    for (int c = 0; c < n_split; c++) M = fmaxf(M, __ldcg(p + (size_t)c * (2 + hd)));
    float L = 0.0f;
    for (int c = 0; c < n_split; c++) {
        const float mc = __ldcg(p + (size_t)c * (2 + hd));
        if (mc != -INFINITY) L += __ldcg(p + (size_t)c * (2 + hd) + 1) * expf(mc - M);
    }
    for (int d = threadIdx.x; d < hd; d += blockDim.x) {
        float acc = 0.0f;
        for (int c = 0; c < n_split; c++) {
            const float *pc = p + (size_t)c * (2 + hd);
            const float mc = __ldcg(pc);
            if (mc != -INFINITY) acc += __ldcg(pc + 2 + d) * expf(mc - M);
        }
        out[d] = acc / L;
    }
}

/* partial[(t * n_head + h) * n_split + c]: m, l, then o[head_dim]
 * (unnormalized); after all of them, a counter per (t, h) (zero between
 * launches): with fold, the split that finishes last combines its head. */
__global__ void attention_split(const float *q, const __half2 *k, const __half2 *v, const int32_t *slots, const int32_t *off,
                                const int32_t *n_kv_of, int n_head, int group, int pairs, int row2, float scale, int n_split,
                                bool fold, float *partial, float *out) {
    __shared__ float sm_m[ATT_WARPS], sm_l[ATT_WARPS];
    __shared__ float2 sm_o[ATT_WARPS][ATT_MAX_DIM / 2];
    __shared__ bool last;
    nib_dev_pdl_trigger();
    nib_dev_pdl_wait();
    const int h = blockIdx.x, t = blockIdx.y, c = blockIdx.z;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int hk = h / group, hd = 2 * pairs;
    const int32_t n_kv = n_kv_of[t];
    const int32_t chunk = (n_kv + n_split - 1) / n_split;
    const int32_t j0 = c * chunk, j1 = min(n_kv, j0 + chunk);
    const int32_t *sl = slots + off[t];
    const float *qh = q + ((size_t)t * n_head + h) * hd;
    float2 qr[ATT_MAX_PAIRS], acc[ATT_MAX_PAIRS];
#pragma unroll
    for (int i = 0; i < ATT_MAX_PAIRS; i++) {
        const int p = lane + 32 * i;
        qr[i] = p < pairs ? make_float2(qh[2 * p] * scale, qh[2 * p + 1] * scale) : make_float2(0.0f, 0.0f);
        acc[i] = make_float2(0.0f, 0.0f);
    }
    float m = -INFINITY, l = 0.0f;
    /* the warp's keys j0 + warp, + ATT_WARPS, ...: their slots read 32 at a time (a lane each), and
     * each key's K and V loaded while the one before is used */
    const int32_t nj = j1 - j0 > warp ? (j1 - j0 - warp + ATT_WARPS - 1) / ATT_WARPS : 0;
    for (int32_t i0 = 0; i0 < nj; i0 += 32) {
        const int cnt = min(32, nj - i0);
        const int32_t my_slot = lane < cnt ? sl[j0 + warp + (i0 + lane) * ATT_WARPS] : 0;
        __half2 kn[ATT_MAX_PAIRS], vn[ATT_MAX_PAIRS];
        att_load_kv(k, v, __shfl_sync(0xffffffffu, my_slot, 0), row2, hk * pairs, pairs, kn, vn);
        for (int i = 0; i < cnt; i++) {
            __half2 kc[ATT_MAX_PAIRS], vc[ATT_MAX_PAIRS];
#pragma unroll
            for (int e = 0; e < ATT_MAX_PAIRS; e++) kc[e] = kn[e], vc[e] = vn[e];
            const int32_t next = __shfl_sync(0xffffffffu, my_slot, (i + 1) & 31);
            if (i + 1 < cnt) att_load_kv(k, v, next, row2, hk * pairs, pairs, kn, vn);
            float s = 0.0f;
#pragma unroll
            for (int e = 0; e < ATT_MAX_PAIRS; e++) {
                if (lane + 32 * e < pairs) {
                    const float2 kf = __half22float2(kc[e]);
                    s = fmaf(qr[e].x, kf.x, fmaf(qr[e].y, kf.y, s));
                }
            }
            s = att_warp_sum(s);
            const float mn = fmaxf(m, s), corr = expf(m - mn), pj = expf(s - mn);
            l = l * corr + pj;
#pragma unroll
            for (int e = 0; e < ATT_MAX_PAIRS; e++) {
                if (lane + 32 * e < pairs) {
                    const float2 vf = __half22float2(vc[e]);
                    acc[e].x = fmaf(pj, vf.x, acc[e].x * corr);
                    acc[e].y = fmaf(pj, vf.y, acc[e].y * corr);
                }
            }
            m = mn;
        }
    }
    if (lane == 0) sm_m[warp] = m, sm_l[warp] = l;
#pragma unroll
    for (int i = 0; i < ATT_MAX_PAIRS; i++)
        if (lane + 32 * i < pairs) sm_o[warp][lane + 32 * i] = acc[i];
    __syncthreads();
    float M = sm_m[0];
    for (int w = 1; w < ATT_WARPS; w++) M = fmaxf(M, sm_m[w]);
    float f[ATT_WARPS], L = 0.0f;
    for (int w = 0; w < ATT_WARPS; w++) {
        f[w] = sm_m[w] == -INFINITY ? 0.0f : expf(sm_m[w] - M); /* a warp with no keys adds nothing */
        L += sm_l[w] * f[w];
    }
    float *o = out + ((size_t)t * n_head + h) * hd;
    if (n_split == 1) {
        for (int p = threadIdx.x; p < pairs; p += blockDim.x) {
            float x = 0.0f, y = 0.0f;
            for (int w = 0; w < ATT_WARPS; w++) x += sm_o[w][p].x * f[w], y += sm_o[w][p].y * f[w];
            o[2 * p] = x / L;
            o[2 * p + 1] = y / L;
        }
        return;
    }
    float *ph = partial + ((size_t)t * n_head + h) * n_split * (2 + hd);
    float *pa = ph + (size_t)c * (2 + hd);
    if (threadIdx.x == 0) pa[0] = M, pa[1] = L; /* M = -inf: an empty split */
    for (int p = threadIdx.x; p < pairs; p += blockDim.x) {
        float x = 0.0f, y = 0.0f;
        for (int w = 0; w < ATT_WARPS; w++) x += sm_o[w][p].x * f[w], y += sm_o[w][p].y * f[w];
        pa[2 + 2 * p] = x;
        pa[3 + 2 * p] = y;
    }
    if (!fold) return;
    /* the last of the head's splits to get here combines them (its writes, and the others', are
     * visible device-wide before the count says so) and sets the count back to zero */
    unsigned *count = reinterpret_cast<unsigned *>(partial + (size_t)gridDim.y * n_head * n_split * (2 + hd)) +
                      (size_t)t * n_head + h;
    __threadfence();
    __syncthreads();
    if (threadIdx.x == 0) last = atomicAdd(count, 1u) == (unsigned)n_split - 1;
    __syncthreads();
    if (!last) return;
    __threadfence();
    att_combine_head(ph, n_split, hd, o);
    if (threadIdx.x == 0) *count = 0;
}

__global__ void attention_combine(const float *partial, int n_head, int n_split, int hd, float *out) {
    nib_dev_pdl_trigger();
    nib_dev_pdl_wait();
    const int h = blockIdx.x, t = blockIdx.y;
    att_combine_head(partial + ((size_t)t * n_head + h) * n_split * (2 + hd), n_split, hd, out + ((size_t)t * n_head + h) * hd);
}

extern "C" int nib_cuda_attention_splits(int32_t n_kv, int n_head) {
    int s = (n_kv + ATT_SPLIT_KEYS - 1) / ATT_SPLIT_KEYS, sms = 0, dev = 0;
    /* and enough blocks of one token's heads for two per SM: one split per head (32 blocks of 4 warps
     * on an H100's 132 SMs) left decode's attention at 8% of a 7B step at short contexts */
    if (n_head > 0 && cudaGetDevice(&dev) == cudaSuccess &&
        cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev) == cudaSuccess && sms > 0)
        s = s > (2 * sms + n_head - 1) / n_head ? s : (2 * sms + n_head - 1) / n_head;
    else
        cudaGetLastError();
    return s < 1 ? 1 : s > ATT_SPLITS_CAP ? ATT_SPLITS_CAP : s;
}

extern "C" size_t nib_cuda_attention_scratch_bytes(int n_head, int head_dim, int32_t n_tok, int n_split) {
    if (n_split <= 1) return 0;
    return (size_t)n_tok * (size_t)n_head * ((size_t)n_split * (size_t)(2 + head_dim) * sizeof(float) + sizeof(unsigned));
}

extern "C" int nib_cuda_attention(const float *q, const void *k, const void *v, const int32_t *slots, const int32_t *off,
                                  const int32_t *n_kv, int32_t n_tok, int n_split, int n_head, int n_head_kv, int head_dim,
                                  float scale, float *out, void *scratch, struct nib_error *err) {
    if (n_tok <= 0 || n_tok > 65535 || n_head <= 0 || n_head_kv <= 0 || n_head % n_head_kv || head_dim <= 0 || head_dim % 2 ||
        head_dim > ATT_MAX_DIM || n_split < 1 || n_split > ATT_MAX_SPLIT || (n_split > 1 && !scratch))
        return nib_cuda_fail(err, NIB_E_ARG, "CUDA attention: %d tokens, %d heads / %d kv heads of %d, %d splits (head dim even, "
                             "at most %d; splits 1..%d)", n_tok, n_head, n_head_kv, head_dim, n_split, ATT_MAX_DIM, ATT_MAX_SPLIT);
    float *partial = static_cast<float *>(scratch);
    static int fold = -1; /* NIB_CUDA_ATT_FOLD=0: the splits combined by a second kernel (an A/B knob) */
    if (fold < 0) {
        const char *e = getenv("NIB_CUDA_ATT_FOLD");
        fold = !(e && !strcmp(e, "0"));
    }
    int rc = nib_cuda_launch_pdl("attention", err, attention_split, dim3((unsigned)n_head, (unsigned)n_tok, (unsigned)n_split),
                                 dim3(ATT_WARPS * 32), 0, q, static_cast<const __half2 *>(k), static_cast<const __half2 *>(v), slots,
                                 off, n_kv, n_head, n_head / n_head_kv, head_dim / 2, n_head_kv * head_dim / 2, scale, n_split,
                                 fold != 0, partial, out);
    if (rc || n_split == 1 || fold) return rc;
    return nib_cuda_launch_pdl("attention combine", err, attention_combine, dim3((unsigned)n_head, (unsigned)n_tok), dim3(128), 0,
                               (const float *)partial, n_head, n_split, head_dim, out);
}
