/*
 * cuda_matvec_q.cu — the decode matvec kernels that run at the memory limit
 * (see cuda_backend.h): Q4_0, Q8_0, Q4_K and Q6_K through int8 dp4a against
 * x quantized in shared memory, F32/F16/BF16 with fp32 FMAs.
 *
 * Work split: a CTA of 512 threads (16 warps) takes tiles of 32 rows, each
 * warp two rows at once; the grid is at most one CTA per SM and strides over
 * the tiles (x is quantized once per CTA). A row is a run of 16-byte "units"
 * (one GPU-layout load each): lane l of a warp takes units l, l + 32, ...,
 * U of them per row (2U per warp step) loaded before any is used, so every
 * lane keeps 2U independent 16-byte loads in flight; neighbouring lanes read
 * neighbouring 16-byte pieces (a warp load is 512 contiguous bytes). The
 * first loads are issued before x is quantized, so HBM is busy meanwhile.
 *
 * x (quantized like ggml's Q8_1: 32-element int8 blocks, scale d and s = d *
 * sum of the quants, the CPU's rounding) lives in shared memory as float2
 * (d, s) per block and the int8 quants, in 16-element groups (16 bytes)
 * placed so that the groups a unit needs sit at slot c and 8 + c of their
 * 256-element span, c the unit's position among 8 neighbouring units: each
 * 8-lane phase of a 16-byte shared load reads 128 contiguous bytes (no bank
 * conflicts). Units:
 *  - Q4_0: one block (16 B quants, d from the scale array): low nibbles
 *    against x group 2b, high against 2b + 1; dw (dx sumi - 8 s);
 *  - Q8_0: half a block (16 quants), x in plain order;
 *  - Q4_K (GGUF blocks, 144 B = 9 x 16): unit c of a super-block is qs bytes
 *    16c..16c+15 (sub-blocks 2g, 2g+1 for g = c/2, 16 elements each); the 8
 *    lanes of a super-block also load its 16-byte header (d, dmin, scales:
 *    one transaction); the min term dmin m (d_x sum q_x) is taken from the x
 *    blocks' s by the lanes with even c;
 *  - Q6_K (GPU layout: 208 B ql qh scales, d apart): unit c is ql bytes
 *    16c.. (quarters a, a + 2 of half c/4, a = (c/2)&1, 16 positions), with
 *    the 16 qh bytes of those positions and 8 scale bytes of the half; q - 32
 *    through sum(v x) - 32 sum(x).
 */
#include "cuda_rope.cuh"

/* 512 threads, one CTA per SM: on an H100 (7B Q4_0 decode) 256 threads with
 * one or two CTAs per SM, or 128 with two or four, were 14-33% slower */
#define MV_THREADS 512
#define MV_WARPS   (MV_THREADS / 32)
#define MV_RPW     2                    /* rows per warp, loaded together */
#define MV_TILE    (MV_WARPS * MV_RPW)  /* rows per CTA step */

__device__ __forceinline__ uint4 ldg16(const uint8_t *p) { return __ldg(reinterpret_cast<const uint4 *>(p)); }
__device__ __forceinline__ int4 lds16(const uint8_t *p) { return *reinterpret_cast<const int4 *>(p); }
__device__ __forceinline__ uint32_t ldg_u16(const uint8_t *base, int64_t i) {
    return __ldg(reinterpret_cast<const unsigned short *>(base) + i);
}

/* Shared-memory slot (16 bytes) of x group G (elements 16G..16G+15) for the
 * unit shape S: S = 1 plain order; else each span of 16 groups is cut into
 * runs of S groups, the first S/2 of a run going to slots 0..7 and the last
 * S/2 to slots 8..15 (Q4_0: S = 2, Q4_K: 4, Q6_K: 8). */
template <int S> __device__ __forceinline__ int xslot(int G) {
    if constexpr (S == 1) {
        return G;
    } else {
        const int g = G & 15, k = g % S;
        return (G & ~15) + (k >= S / 2 ? 8 : 0) + (g / S) * (S / 2) + k % (S / 2);
    }
}

__host__ __device__ inline size_t xds_bytes(int64_t nb) { return (size_t)((nb * 8 + 15) / 16 * 16); }
static inline size_t xq_smem_bytes(int64_t cols) { return xds_bytes(cols / 32) + (size_t)((cols + 255) / 256 * 256); }

/* x [nb * 32] (times scale * nw[i] when nw is given: an RMSNorm) -> xds [nb]
 * (d, s), xq (int8, slots by xslot<S>): 8 lanes per block, 4 elements each
 * (the CPU's d = amax / 127, q = rint(v / d)). */
template <int S> __device__ void quantize_x_smem(const float *x, int nb, uint8_t *xq, float2 *xds, const float *nw, float scale) {
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, sub = lane % 8;
    for (int b0 = warp * 4; b0 < nb; b0 += MV_WARPS * 4) { /* warp-uniform trip count: shuffles stay full */
        const int b = b0 + lane / 8;
        float v[4] = { 0.0f, 0.0f, 0.0f, 0.0f };
        if (b < nb)
            for (int k = 0; k < 4; k++) {
                const int64_t i = (int64_t)b * 32 + sub * 4 + k;
                v[k] = nw ? x[i] * scale * __ldg(nw + i) : x[i];
            }
        float amax = fmaxf(fmaxf(fabsf(v[0]), fabsf(v[1])), fmaxf(fabsf(v[2]), fabsf(v[3])));
        for (int o = 4; o > 0; o >>= 1) amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, o));
        const float d = amax / 127.0f;
        int q[4], sum = 0;
        for (int k = 0; k < 4; k++) {
            q[k] = amax == 0.0f ? 0 : __float2int_rn(v[k] / d);
            sum += q[k];
        }
        for (int o = 4; o > 0; o >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, o);
        if (b < nb) {
            const uint32_t packed = (uint32_t)(q[0] & 0xFF) | ((uint32_t)(q[1] & 0xFF) << 8) | ((uint32_t)(q[2] & 0xFF) << 16) |
                                    ((uint32_t)(q[3] & 0xFF) << 24);
            *reinterpret_cast<uint32_t *>(xq + xslot<S>(2 * b + sub / 4) * 16 + (sub % 4) * 4) = packed;
            if (sub == 0) xds[b] = make_float2(d, d * (float)sum);
        }
    }
}

#define LO4(v) ((int)((v) & 0x0F0F0F0Fu))
#define HI4(v) ((int)(((v) >> 4) & 0x0F0F0F0Fu))

struct MvQ4_0 {
    static constexpr int S = 2, U = 4;
    struct Unit { uint4 q; uint32_t d; };
    static __device__ int units(int cols) { return cols / 32; }
    static __device__ void load(Unit &o, const uint8_t *w, int64_t rows, int cols, int64_t r, int u) {
        const int64_t nb = cols / 32, bi = r * nb + u;
        o.q = ldg16(w + bi * 16);
        o.d = ldg_u16(w + rows * nb * 16, bi);
    }
    static __device__ float dot(const Unit &o, const uint8_t *xq, const float2 *xds, const float *, int u) {
        const int4 lo = lds16(xq + xslot<S>(2 * u) * 16), hi = lds16(xq + xslot<S>(2 * u + 1) * 16);
        int s = 0;
        s = __dp4a(LO4(o.q.x), lo.x, s), s = __dp4a(HI4(o.q.x), hi.x, s);
        s = __dp4a(LO4(o.q.y), lo.y, s), s = __dp4a(HI4(o.q.y), hi.y, s);
        s = __dp4a(LO4(o.q.z), lo.z, s), s = __dp4a(HI4(o.q.z), hi.z, s);
        s = __dp4a(LO4(o.q.w), lo.w, s), s = __dp4a(HI4(o.q.w), hi.w, s);
        const float2 ds = xds[u];
        return nib_dev_h2f((uint16_t)o.d) * (ds.x * (float)s - 8.0f * ds.y); /* sum (q - 8) qx dx dw */
    }
};

struct MvQ8_0 {
    static constexpr int S = 1, U = 4;
    struct Unit { uint4 q; uint32_t d; };
    static __device__ int units(int cols) { return cols / 16; }
    static __device__ void load(Unit &o, const uint8_t *w, int64_t rows, int cols, int64_t r, int u) {
        const int64_t nb = cols / 32;
        o.q = ldg16(w + (r * nb * 2 + u) * 16);
        o.d = ldg_u16(w + rows * nb * 32, r * nb + u / 2);
    }
    static __device__ float dot(const Unit &o, const uint8_t *xq, const float2 *xds, const float *, int u) {
        const int4 x = lds16(xq + u * 16);
        int s = 0;
        s = __dp4a((int)o.q.x, x.x, s), s = __dp4a((int)o.q.y, x.y, s);
        s = __dp4a((int)o.q.z, x.z, s), s = __dp4a((int)o.q.w, x.w, s);
        return nib_dev_h2f((uint16_t)o.d) * xds[u / 2].x * (float)s;
    }
};

/* Q4_K scale and min of sub-block j from the header words (scales bytes 0..11 in h.y, h.z, h.w). */
__device__ __forceinline__ void q4k_scale_min(const uint4 &h, int j, int *sc, int *m) {
    const int sh = 8 * (j & 3);
    const int b1 = (h.y >> sh) & 0xFF, b2 = (h.z >> sh) & 0xFF, b3 = (h.w >> sh) & 0xFF;
    if (j < 4) {
        *sc = b1 & 63;
        *m = b2 & 63;
    } else {
        *sc = (b3 & 0xF) | ((b1 >> 6) << 4);
        *m = (b3 >> 4) | ((b2 >> 6) << 4);
    }
}

struct MvQ4_K {
    static constexpr int S = 4, U = 4;
    struct Unit { uint4 q, h; };
    static __device__ int units(int cols) { return cols / 32; }
    static __device__ void load(Unit &o, const uint8_t *w, int64_t, int cols, int64_t r, int u) {
        const uint8_t *blk = w + (r * (cols / 256) + u / 8) * 144;
        o.q = ldg16(blk + 16 + 16 * (u % 8));
        o.h = ldg16(blk);
    }
    static __device__ float dot(const Unit &o, const uint8_t *xq, const float2 *xds, const float *, int u) {
        const int sb = u / 8, c = u % 8, g = c / 2;
        const int4 lo = lds16(xq + (16 * sb + c) * 16), hi = lds16(xq + (16 * sb + 8 + c) * 16);
        int sl = 0, sh = 0;
        sl = __dp4a(LO4(o.q.x), lo.x, sl), sh = __dp4a(HI4(o.q.x), hi.x, sh);
        sl = __dp4a(LO4(o.q.y), lo.y, sl), sh = __dp4a(HI4(o.q.y), hi.y, sh);
        sl = __dp4a(LO4(o.q.z), lo.z, sl), sh = __dp4a(HI4(o.q.z), hi.z, sh);
        sl = __dp4a(LO4(o.q.w), lo.w, sl), sh = __dp4a(HI4(o.q.w), hi.w, sh);
        int sc0, m0, sc1, m1;
        q4k_scale_min(o.h, 2 * g, &sc0, &m0);
        q4k_scale_min(o.h, 2 * g + 1, &sc1, &m1);
        const float4 ds = *reinterpret_cast<const float4 *>(xds + 8 * sb + 2 * g); /* d, s of x blocks 2g, 2g + 1 */
        float r = nib_dev_h2f((uint16_t)(o.h.x & 0xFFFF)) * ((float)sc0 * ds.x * (float)sl + (float)sc1 * ds.z * (float)sh);
        if ((c & 1) == 0) r -= nib_dev_h2f((uint16_t)(o.h.x >> 16)) * ((float)m0 * ds.y + (float)m1 * ds.w);
        return r;
    }
};

struct MvQ6_K {
    static constexpr int S = 8, U = 2;
    struct Unit { uint4 ql, qh; uint2 sc; uint32_t d; };
    static __device__ int units(int cols) { return cols / 32; }
    static __device__ void load(Unit &o, const uint8_t *w, int64_t rows, int cols, int64_t r, int u) {
        const int64_t nsb = cols / 256, bi = r * nsb + u / 8;
        const int c = u % 8, half = c / 4;
        const uint8_t *blk = w + bi * 208;
        o.ql = ldg16(blk + 16 * c);
        o.qh = ldg16(blk + 128 + 16 * (2 * half + (c & 1)));
        o.sc = __ldg(reinterpret_cast<const uint2 *>(blk + 192 + 8 * half));
        o.d = ldg_u16(w + rows * nsb * 208, bi);
    }
    static __device__ float dot(const Unit &o, const uint8_t *xq, const float2 *xds, const float *, int u) {
        const int sb = u / 8, c = u % 8, half = c / 4, a = (c >> 1) & 1;
        const int4 lo = lds16(xq + (16 * sb + c) * 16), hi = lds16(xq + (16 * sb + 8 + c) * 16);
        const int sa = 2 * a, sb4 = 2 * a + 4;
        int sl = 0, sh = 0, zl = 0, zh = 0;
#define Q6_STEP(qlw, qhw, xl, xh)                                                               \
        sl = __dp4a(LO4(qlw) | (int)((((qhw) >> sa) & 0x03030303u) << 4), xl, sl);           \
        sh = __dp4a(HI4(qlw) | (int)((((qhw) >> sb4) & 0x03030303u) << 4), xh, sh);          \
        zl = __dp4a(0x20202020, xl, zl);                                                       \
        zh = __dp4a(0x20202020, xh, zh);
        Q6_STEP(o.ql.x, o.qh.x, lo.x, hi.x)
        Q6_STEP(o.ql.y, o.qh.y, lo.y, hi.y)
        Q6_STEP(o.ql.z, o.qh.z, lo.z, hi.z)
        Q6_STEP(o.ql.w, o.qh.w, lo.w, hi.w)
#undef Q6_STEP
        const int sc0 = (int8_t)(o.sc.x >> (8 * (c & 3))), sc1 = (int8_t)(o.sc.y >> (8 * (c & 3)));
        const int b0 = 8 * sb + 4 * half + a; /* x blocks of quarters a and a + 2 */
        return nib_dev_h2f((uint16_t)o.d) *
               ((float)sc0 * xds[b0].x * (float)(sl - zl) + (float)sc1 * xds[b0 + 2].x * (float)(sh - zh));
    }
};

/* Float weights: a unit is 16 bytes of row, x read as float from global (L1). */
template <int T> struct MvFloat {
    static constexpr int S = 0, U = 4, E = T == NIB_TYPE_F32 ? 4 : 8; /* elements per unit */
    struct Unit { uint4 q; };
    static __device__ int units(int cols) { return cols / E; }
    static __device__ void load(Unit &o, const uint8_t *w, int64_t, int cols, int64_t r, int u) {
        o.q = ldg16(w + (r * (cols / E) + u) * 16);
    }
    static __device__ float dot(const Unit &o, const uint8_t *, const float2 *, const float *x, int u) {
        const float4 *xv = reinterpret_cast<const float4 *>(x) + (int64_t)u * (E / 4);
        const float4 a = __ldg(xv);
        if constexpr (T == NIB_TYPE_F32) {
            return __uint_as_float(o.q.x) * a.x + __uint_as_float(o.q.y) * a.y + __uint_as_float(o.q.z) * a.z +
                   __uint_as_float(o.q.w) * a.w;
        } else {
            const float4 b = __ldg(xv + 1);
            float2 p0, p1, p2, p3;
            if constexpr (T == NIB_TYPE_F16) {
                p0 = __half22float2(*reinterpret_cast<const __half2 *>(&o.q.x));
                p1 = __half22float2(*reinterpret_cast<const __half2 *>(&o.q.y));
                p2 = __half22float2(*reinterpret_cast<const __half2 *>(&o.q.z));
                p3 = __half22float2(*reinterpret_cast<const __half2 *>(&o.q.w));
            } else {
                p0 = make_float2(__uint_as_float(o.q.x << 16), __uint_as_float(o.q.x & 0xFFFF0000u));
                p1 = make_float2(__uint_as_float(o.q.y << 16), __uint_as_float(o.q.y & 0xFFFF0000u));
                p2 = make_float2(__uint_as_float(o.q.z << 16), __uint_as_float(o.q.z & 0xFFFF0000u));
                p3 = make_float2(__uint_as_float(o.q.w << 16), __uint_as_float(o.q.w & 0xFFFF0000u));
            }
            return p0.x * a.x + p0.y * a.y + p1.x * a.z + p1.y * a.w + p2.x * b.x + p2.y * b.y + p3.x * b.z + p3.y * b.w;
        }
    }
};

template <class K> struct MvBuf { typename K::Unit u[MV_RPW][K::U]; };

template <class K>
__device__ __forceinline__ void load_units(MvBuf<K> &buf, const uint8_t *const *w, const int64_t *rows, int cols, const int64_t *r,
                                           int u0, int n_units) {
    const int lane = threadIdx.x % 32;
#pragma unroll
    for (int j = 0; j < MV_RPW; j++) {
#pragma unroll
        for (int i = 0; i < K::U; i++) {
            const int u = u0 + 32 * i + lane;
            if (u < n_units) K::load(buf.u[j][i], w[j], rows[j], cols, r[j], u);
        }
    }
}

__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

/* The matrices of one launch (nib_cuda_matvec_multi): rows of part p are
 * rows cum[p] .. cum[p + 1] of one virtual matrix (for SwiGLU: a pair index
 * r means row r of part 0 and row r of part 1). */
struct MvParts {
    const uint8_t *w[NIB_CUDA_MV_MAX_PARTS];
    int64_t        rows[NIB_CUDA_MV_MAX_PARTS];
    float         *y[NIB_CUDA_MV_MAX_PARTS];
    const float   *b[NIB_CUDA_MV_MAX_PARTS];
    int            n;
    int64_t        total; /* rows (STORE, ADD) or pairs (SWIGLU) */
};

/* The part holding virtual row R (R < total): its weights, height, output
 * and bias, and R's row within it. The parts are chosen among by constant
 * indices only: an index into the parameter struct held in a register makes
 * nvcc copy the whole struct to local memory in every thread at the kernel's
 * start (a 112-byte stack frame and its loads before the first weight load). */
struct MvRow {
    const uint8_t *w;
    int64_t        rows, r;
    float         *y;
    const float   *b;
    int            p;
};

__device__ __forceinline__ MvRow mv_row_of_part(const MvParts &P, int p, int64_t r) {
    MvRow o = { P.w[0], P.rows[0], r, P.y[0], P.b[0], 0 };
#pragma unroll
    for (int q = 1; q < NIB_CUDA_MV_MAX_PARTS; q++)
        if (p == q) o = { P.w[q], P.rows[q], r, P.y[q], P.b[q], q };
    return o;
}

__device__ __forceinline__ MvRow mv_row(const MvParts &P, int64_t R) {
    int p = 0;
#pragma unroll
    for (int q = 0; q + 1 < NIB_CUDA_MV_MAX_PARTS; q++)
        if (p == q && q + 1 < P.n && R >= P.rows[q]) R -= P.rows[q], p = q + 1;
    return mv_row_of_part(P, p, R);
}

/* nib_cuda_matvec_qkv's fold: q, k, v are parts 0, 1, 2; a warp's two rows
 * are one pair of one head. */
struct MvKv {
    const int32_t *pos, *slot;
    __half        *kpool, *vpool;
    int            hd;
    int64_t        kv_row; /* a pool row: k's (and v's) height */
    RopeK          rk;
};

__device__ __forceinline__ float block_sum_sq(const float *x, int n, float *red) {
    float ss = 0.0f;
    for (int i = threadIdx.x; i < n; i += blockDim.x) ss += x[i] * x[i];
    for (int o = 16; o > 0; o >>= 1) ss += __shfl_xor_sync(0xffffffffu, ss, o);
    if (threadIdx.x % 32 == 0) red[threadIdx.x / 32] = ss;
    __syncthreads();
    float t = 0.0f;
    for (int w = 0; w < MV_WARPS; w++) t += red[w];
    return t;
}

template <class K, int MODE, bool KV>
__global__ void __launch_bounds__(MV_THREADS, 1)
matvec_fast(const MvParts P, const float *x, const float *nw, float eps, int cols, const MvKv kv) {
    extern __shared__ __align__(16) uint8_t smem[];
    __shared__ float red[MV_WARPS];
    const int nb = cols / 32, warp = threadIdx.x / 32, lane = threadIdx.x % 32, n_units = K::units(cols);
    float2 *xds = reinterpret_cast<float2 *>(smem);
    uint8_t *xq = smem + xds_bytes(nb);
    /* rows per CTA step: MV_TILE, or MV_WARPS pairs for SwiGLU (a warp's two rows are the pair) */
    constexpr int step = MODE == NIB_CUDA_MV_SWIGLU ? MV_WARPS : MV_TILE, per_warp = MODE == NIB_CUDA_MV_SWIGLU ? 1 : MV_RPW;
    const int64_t tiles = (P.total + step - 1) / step;
    MvBuf<K> buf;
    int64_t tile = blockIdx.x;
    bool loaded = false;
    const uint8_t *wj[MV_RPW];
    int64_t rowsj[MV_RPW], rj[MV_RPW];
    float *yj[MV_RPW];
    const float *bj[MV_RPW];
    int pj0 = 0; /* the part of the warp's first row (the fold's) */
    auto rows_of = [&](int64_t R0) { /* the warp's rows at virtual row (or pair) R0 */
#pragma unroll
        for (int j = 0; j < MV_RPW; j++) {
            MvRow o;
            if (MODE == NIB_CUDA_MV_SWIGLU) o = mv_row_of_part(P, j, R0);
            else o = mv_row(P, R0 + j < P.total ? R0 + j : P.total - 1); /* a missing last row repeats one (not stored) */
            wj[j] = o.w, rowsj[j] = o.rows, rj[j] = o.r, yj[j] = o.y, bj[j] = o.b;
            if (j == 0) pj0 = o.p;
        }
    };
    nib_dev_pdl_trigger();
    if (tile * step + warp * per_warp < P.total) { /* the first loads fly while x is quantized (and the kernel before ends) */
        rows_of(tile * step + warp * per_warp);
        load_units<K>(buf, wj, rowsj, cols, rj, 0, n_units);
        loaded = true;
    }
    nib_dev_pdl_wait();
    if constexpr (K::S != 0) {
        float scale = 1.0f;
        if (nw) scale = rsqrtf(block_sum_sq(x, cols, red) / (float)cols + eps);
        quantize_x_smem<K::S>(x, nb, xq, xds, nw, scale);
        __syncthreads();
    }
    for (; tile < tiles; tile += gridDim.x) {
        const int64_t R0 = tile * step + warp * per_warp;
        if (R0 >= P.total) break;
        if (!loaded) rows_of(R0);
        float acc[MV_RPW];
#pragma unroll
        for (int j = 0; j < MV_RPW; j++) acc[j] = 0.0f;
        for (int u0 = 0; u0 < n_units; u0 += 32 * K::U) {
            if (!loaded) load_units<K>(buf, wj, rowsj, cols, rj, u0, n_units);
            loaded = false;
#pragma unroll
            for (int i = 0; i < K::U; i++) {
                const int u = u0 + 32 * i + lane;
                if (u < n_units) {
#pragma unroll
                    for (int j = 0; j < MV_RPW; j++) acc[j] += K::dot(buf.u[j][i], xq, xds, x, u);
                }
            }
        }
        float v[MV_RPW];
#pragma unroll
        for (int j = 0; j < MV_RPW; j++) {
            v[j] = warp_sum(acc[j]);
            if (bj[j]) v[j] += bj[j][rj[j]];
        }
        if (KV && lane == 0) { /* rows rj[0], rj[0] + 1 of part pj0: a pair of a head */
            const int64_t r = rj[0];
            float2 y = make_float2(v[0], v[1]);
            const int hr = (int)(r % kv.hd);
            if (pj0 < 2 && hr < 2 * kv.rk.n_pairs) {
                float c, s;
                rope_cs(*kv.pos, hr / 2, kv.rk, &c, &s);
                y = rope_turn(y.x, y.y, c, s);
            }
            yj[0][r] = y.x, yj[0][r + 1] = y.y;
            if (pj0 > 0) {
                __half *dst = (pj0 == 1 ? kv.kpool : kv.vpool) + (int64_t)*kv.slot * kv.kv_row + r;
                dst[0] = __float2half_rn(y.x), dst[1] = __float2half_rn(y.y);
            }
        } else if (lane == 0) {
            if (MODE == NIB_CUDA_MV_SWIGLU) {
                yj[0][R0] = v[0] / (1.0f + expf(-v[0])) * v[1];
            } else {
#pragma unroll
                for (int j = 0; j < MV_RPW; j++)
                    if (R0 + j < P.total) {
                        if (MODE == NIB_CUDA_MV_ADD) yj[j][rj[j]] += v[j];
                        else yj[j][rj[j]] = v[j];
                    }
            }
        }
    }
}

template <class K, int MODE, bool KV>
static int launch_mode(const MvParts &P, int64_t cols, const float *x, const float *nw, float eps, const MvKv &kv,
                       struct nib_error *err) {
    const size_t smem = K::S != 0 ? xq_smem_bytes(cols) : 0;
    /* beyond the default 48 KiB, ask for it (H100: 227 KiB, cols up to ~180k; T4: 64 KiB, ~52k); when the
     * device has not that much, the generic kernel does it */
    if (smem > 48 * 1024 &&
        cudaFuncSetAttribute(matvec_fast<K, MODE, KV>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem) != cudaSuccess) {
        cudaGetLastError();
        return NIB_E_UNSUPPORTED;
    }
    static int sms = 0; /* one device per process */
    if (sms <= 0) {
        int dev = 0;
        cudaGetDevice(&dev);
        if (cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess || sms <= 0) sms = 1;
    }
    const int step = MODE == NIB_CUDA_MV_SWIGLU ? MV_WARPS : MV_TILE;
    const int64_t tiles = (P.total + step - 1) / step;
    const unsigned grid = (unsigned)(tiles < sms ? tiles : sms);
    return nib_cuda_launch_pdl("matvec", err, matvec_fast<K, MODE, KV>, dim3(grid), dim3(MV_THREADS), smem, P, x, nw, eps, (int)cols,
                               kv);
}

template <class K>
static int launch(const MvParts &P, int64_t cols, const float *x, const float *nw, float eps, int mode, const MvKv *kv,
                  struct nib_error *err) {
    if (nw && K::S == 0) return NIB_E_UNSUPPORTED; /* float weights read x from global: no place for the normed copy */
    const MvKv none = {};
    if (kv) return launch_mode<K, NIB_CUDA_MV_STORE, true>(P, cols, x, nw, eps, *kv, err);
    switch (mode) {
    case NIB_CUDA_MV_STORE: return launch_mode<K, NIB_CUDA_MV_STORE, false>(P, cols, x, nw, eps, none, err);
    case NIB_CUDA_MV_ADD: return launch_mode<K, NIB_CUDA_MV_ADD, false>(P, cols, x, nw, eps, none, err);
    default: return launch_mode<K, NIB_CUDA_MV_SWIGLU, false>(P, cols, x, nw, eps, none, err);
    }
}

/* kv: nib_cuda_matvec_qkv's fold (mode NIB_CUDA_MV_STORE), or NULL */
static int fast_parts(int type, const MvParts &P, int64_t cols, const float *x, const float *nw, float eps, int mode,
                      const MvKv *kv, struct nib_error *err) {
    if (cols > INT32_MAX / 2) return NIB_E_UNSUPPORTED;
    for (int p = 0; p < P.n; p++)
        if ((uintptr_t)P.w[p] & 15) return NIB_E_UNSUPPORTED;
    const bool x16 = ((uintptr_t)x & 15) == 0;
    switch (type) {
    case NIB_TYPE_Q4_0: return launch<MvQ4_0>(P, cols, x, nw, eps, mode, kv, err);
    case NIB_TYPE_Q8_0: return launch<MvQ8_0>(P, cols, x, nw, eps, mode, kv, err);
    case NIB_TYPE_Q4_K: return launch<MvQ4_K>(P, cols, x, nw, eps, mode, kv, err);
    case NIB_TYPE_Q6_K: return launch<MvQ6_K>(P, cols, x, nw, eps, mode, kv, err);
    case NIB_TYPE_F32:
        if (cols % 4 || !x16) return NIB_E_UNSUPPORTED;
        return launch<MvFloat<NIB_TYPE_F32>>(P, cols, x, nw, eps, mode, kv, err);
    case NIB_TYPE_F16:
        if (cols % 8 || !x16) return NIB_E_UNSUPPORTED;
        return launch<MvFloat<NIB_TYPE_F16>>(P, cols, x, nw, eps, mode, kv, err);
    case NIB_TYPE_BF16:
        if (cols % 8 || !x16) return NIB_E_UNSUPPORTED;
        return launch<MvFloat<NIB_TYPE_BF16>>(P, cols, x, nw, eps, mode, kv, err);
    default: return NIB_E_UNSUPPORTED;
    }
}

int nib_cuda_matvec_fast(int type, const void *w, int64_t rows, int64_t cols, const float *x, float *y, struct nib_error *err) {
    MvParts P = {};
    P.w[0] = static_cast<const uint8_t *>(w);
    P.rows[0] = rows;
    P.y[0] = y;
    P.n = 1;
    P.total = rows;
    return fast_parts(type, P, cols, x, NULL, 0.0f, NIB_CUDA_MV_STORE, NULL, err);
}

/* The launch's parts (checked), into P. */
static int mv_parts(int type, int64_t cols, const struct nib_cuda_mv_part *parts, int n_parts, int mode, MvParts *P,
                    struct nib_error *err) {
    if (n_parts < 1 || n_parts > NIB_CUDA_MV_MAX_PARTS || (mode == NIB_CUDA_MV_SWIGLU && n_parts != 2) ||
        (mode != NIB_CUDA_MV_STORE && mode != NIB_CUDA_MV_ADD && mode != NIB_CUDA_MV_SWIGLU))
        return nib_cuda_fail(err, NIB_E_ARG, "CUDA matvec: %d parts in mode %d", n_parts, mode);
    const nib_dev_type ti = nib_cuda_type_info(type);
    if (ti.block == 0 || cols <= 0 || cols % ti.block) return NIB_E_UNSUPPORTED;
    *P = MvParts{};
    P->n = n_parts;
    for (int p = 0; p < n_parts; p++) {
        if (parts[p].rows <= 0) return nib_cuda_fail(err, NIB_E_ARG, "CUDA matvec: part %d has %lld rows", p, (long long)parts[p].rows);
        P->w[p] = static_cast<const uint8_t *>(parts[p].w);
        P->rows[p] = parts[p].rows;
        P->y[p] = parts[p].y;
        P->b[p] = parts[p].bias;
        P->total += parts[p].rows;
    }
    if (mode == NIB_CUDA_MV_SWIGLU) {
        if (parts[0].rows != parts[1].rows) return nib_cuda_fail(err, NIB_E_ARG, "CUDA matvec: SwiGLU parts of different heights");
        P->total = parts[0].rows;
    }
    return NIB_OK;
}

extern "C" int nib_cuda_matvec_multi(int type, int64_t cols, const float *x, const float *norm_w, float eps,
                                     const struct nib_cuda_mv_part *parts, int n_parts, int mode, struct nib_error *err) {
    MvParts P;
    const int rc = mv_parts(type, cols, parts, n_parts, mode, &P, err);
    return rc ? rc : fast_parts(type, P, cols, x, norm_w, eps, mode, NULL, err);
}

extern "C" int nib_cuda_matvec_qkv(int type, int64_t cols, const float *x, const float *norm_w, float eps,
                                   const struct nib_cuda_mv_part *parts, const struct nib_cuda_mv_kv *kv, struct nib_error *err) {
    const int hd = kv->head_dim, n_rot = kv->rope->n_rot;
    if (kv->rope->neox || hd <= 0 || hd % 2 || n_rot <= 0 || n_rot % 2 || n_rot > hd || parts[0].rows % hd ||
        parts[1].rows % hd || parts[2].rows != parts[1].rows || MV_RPW != 2)
        return NIB_E_UNSUPPORTED;
    MvParts P;
    const int rc = mv_parts(type, cols, parts, 3, NIB_CUDA_MV_STORE, &P, err);
    if (rc) return rc;
    const MvKv k = { kv->pos, kv->slot, static_cast<__half *>(kv->kpool), static_cast<__half *>(kv->vpool), hd, parts[1].rows,
                     nib_cuda_rope_k(kv->rope) };
    return fast_parts(type, P, cols, x, norm_w, eps, NIB_CUDA_MV_STORE, &k, err);
}
