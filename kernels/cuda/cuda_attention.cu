/*
 * cuda_attention.cu — decode attention of one query token over a sequence's
 * KV rows in the paged pool (see cuda_backend.h). Split-K, FlashDecoding
 * style: the keys are cut into chunks of ATT_CHUNK; a block per (head,
 * chunk) scores its keys, keeps its max, sum of exponentials and weighted
 * V sum; a second kernel combines the chunks of each head.
 */
#include "cuda_common.cuh"

#define ATT_CHUNK   256
#define ATT_THREADS 128
#define ATT_MAX_DIM 256

__device__ __forceinline__ float half_at(const __half *p) { return __half2float(*p); }

/* partial[h][c]: m (max score), l (sum of exp), then o[head_dim] */
__global__ void attention_chunks(const float *q, const __half *k, const __half *v, const int32_t *slots, int32_t n_kv,
                                 int n_head, int group, int head_dim, int row, float scale, float *partial) {
    __shared__ float sq[ATT_MAX_DIM];
    __shared__ float score[ATT_CHUNK];
    __shared__ float red[ATT_THREADS / 32];
    const int h = blockIdx.x, c = blockIdx.y, hk = h / group;
    const int32_t t0 = c * ATT_CHUNK, t1 = min(n_kv, t0 + ATT_CHUNK);
    for (int d = threadIdx.x; d < head_dim; d += blockDim.x) sq[d] = q[(size_t)h * head_dim + d];
    __syncthreads();
    float mx = -INFINITY;
    for (int32_t t = t0 + threadIdx.x; t < t1; t += blockDim.x) {
        const __half *kr = k + (size_t)slots[t] * row + (size_t)hk * head_dim;
        float s = 0.0f;
        for (int d = 0; d < head_dim; d++) s += sq[d] * half_at(kr + d);
        s *= scale;
        score[t - t0] = s;
        mx = fmaxf(mx, s);
    }
    for (int o = 16; o > 0; o >>= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o));
    if (threadIdx.x % 32 == 0) red[threadIdx.x / 32] = mx;
    __syncthreads();
    mx = red[0];
    for (int w = 1; w < ATT_THREADS / 32; w++) mx = fmaxf(mx, red[w]);
    __syncthreads();
    float l = 0.0f;
    for (int32_t t = t0 + threadIdx.x; t < t1; t += blockDim.x) {
        const float e = expf(score[t - t0] - mx);
        score[t - t0] = e;
        l += e;
    }
    for (int o = 16; o > 0; o >>= 1) l += __shfl_xor_sync(0xffffffffu, l, o);
    __syncthreads();
    if (threadIdx.x % 32 == 0) red[threadIdx.x / 32] = l;
    __syncthreads();
    l = 0.0f;
    for (int w = 0; w < ATT_THREADS / 32; w++) l += red[w];
    float *out = partial + ((size_t)h * gridDim.y + c) * (2 + head_dim);
    if (threadIdx.x == 0) out[0] = mx, out[1] = l;
    for (int d = threadIdx.x; d < head_dim; d += blockDim.x) {
        float acc = 0.0f;
        for (int32_t t = t0; t < t1; t++) acc += score[t - t0] * half_at(v + (size_t)slots[t] * row + (size_t)hk * head_dim + d);
        out[2 + d] = acc;
    }
}

__global__ void attention_combine(const float *partial, int n_chunks, int head_dim, float *out) {
    const int h = blockIdx.x;
    const float *p = partial + (size_t)h * n_chunks * (2 + head_dim);
    float mx = -INFINITY;
    for (int c = 0; c < n_chunks; c++) mx = fmaxf(mx, p[(size_t)c * (2 + head_dim)]);
    float l = 0.0f;
    for (int c = 0; c < n_chunks; c++) l += p[(size_t)c * (2 + head_dim) + 1] * expf(p[(size_t)c * (2 + head_dim)] - mx);
    for (int d = threadIdx.x; d < head_dim; d += blockDim.x) {
        float acc = 0.0f;
        for (int c = 0; c < n_chunks; c++) {
            const float *pc = p + (size_t)c * (2 + head_dim);
            acc += pc[2 + d] * expf(pc[0] - mx);
        }
        out[(size_t)h * head_dim + d] = acc / l;
    }
}

extern "C" size_t nib_cuda_attention_scratch_bytes(int n_head, int head_dim, int32_t n_kv) {
    const size_t chunks = (size_t)(n_kv + ATT_CHUNK - 1) / ATT_CHUNK;
    return (size_t)n_head * chunks * (size_t)(2 + head_dim) * sizeof(float);
}

extern "C" int nib_cuda_attention_decode(const float *q, const void *k, const void *v, const int32_t *slots, int32_t n_kv,
                                         int n_head, int n_head_kv, int head_dim, float scale, float *out, void *scratch,
                                         struct nib_error *err) {
    if (n_kv <= 0 || n_head <= 0 || n_head_kv <= 0 || n_head % n_head_kv || head_dim <= 0 || head_dim > ATT_MAX_DIM || !scratch)
        return nib_cuda_fail(err, NIB_E_ARG, "CUDA attention: %d keys, %d heads / %d kv heads of %d (at most %d)", n_kv, n_head,
                             n_head_kv, head_dim, ATT_MAX_DIM);
    const int chunks = (n_kv + ATT_CHUNK - 1) / ATT_CHUNK;
    float *partial = static_cast<float *>(scratch);
    attention_chunks<<<dim3((unsigned)n_head, (unsigned)chunks), ATT_THREADS>>>(
        q, static_cast<const __half *>(k), static_cast<const __half *>(v), slots, n_kv, n_head, n_head / n_head_kv, head_dim,
        n_head_kv * head_dim, scale, partial);
    int rc = nib_cuda_launched("attention", err);
    if (rc) return rc;
    attention_combine<<<(unsigned)n_head, 128>>>(partial, chunks, head_dim, out);
    return nib_cuda_launched("attention combine", err);
}
