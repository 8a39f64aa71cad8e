// The CUDA kernels (kernels/cuda, built with -DNIB_CUDA=ON) against the CPU
// reference, on the device (the whole GPU forward pass: test_cuda_forward.cc).
// Without a device every test skips, saying so; the device layer's "no
// device" answers are checked everywhere. Not compiled at all in a build
// without CUDA.
#ifdef NIB_CUDA
#include <gtest/gtest.h>

#include "cuda_backend.h"
#include "nib.h"
#include "formats/fp16.h"
#include "kernels/cpu/ops_ref.h"
#include "test_cuda_util.h"
#include "test_util.h"

#include <algorithm>

#include <cmath>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace {

const int kTypes[] = { NIB_TYPE_F32,  NIB_TYPE_F16,  NIB_TYPE_BF16, NIB_TYPE_Q4_0, NIB_TYPE_Q4_1,
                       NIB_TYPE_Q5_0, NIB_TYPE_Q5_1, NIB_TYPE_Q8_0, NIB_TYPE_Q2_K, NIB_TYPE_Q3_K,
                       NIB_TYPE_Q4_K, NIB_TYPE_Q5_K, NIB_TYPE_Q6_K };


std::vector<float> randoms(size_t n, unsigned seed, float scale = 1.0f) {
    std::mt19937 g(seed);
    std::normal_distribution<float> d(0.0f, scale);
    std::vector<float> v(n);
    for (auto &x : v) x = d(g);
    return v;
}

/* A device buffer that frees itself. */
struct Dev {
    void  *p = nullptr;
    size_t n = 0; /* bytes */
    explicit Dev(size_t n_) : n(n_) {
        nib_error err = {};
        p = nib_cuda_malloc(n, &err);
        EXPECT_NE(p, nullptr) << err.msg;
    }
    ~Dev() { nib_cuda_free(p); }
    float *f() const { return static_cast<float *>(p); }
};

void up(void *dst, const void *src, size_t n) {
    nib_error err = {};
    ASSERT_EQ(nib_cuda_upload(dst, src, n, &err), NIB_OK) << err.msg;
}
void down(void *dst, const void *src, size_t n) {
    nib_error err = {};
    ASSERT_EQ(nib_cuda_sync(&err), NIB_OK) << err.msg;
    ASSERT_EQ(nib_cuda_download(dst, src, n, &err), NIB_OK) << err.msg;
}

/* rows x cols of `type` made from random floats; also the CPU's dequantized values. */
std::vector<uint8_t> weights(int type, int64_t rows, int64_t cols, unsigned seed, std::vector<float> *deq) {
    std::vector<float> f = randoms((size_t)(rows * cols), seed, 0.05f);
    const size_t rb = nib_type_row_bytes(type, cols);
    std::vector<uint8_t> w(rb * (size_t)rows);
    deq->resize((size_t)(rows * cols));
    for (int64_t r = 0; r < rows; r++) {
        EXPECT_EQ(nib_quantize(type, f.data() + r * cols, w.data() + r * rb, cols, nullptr), NIB_OK);
        EXPECT_EQ(nib_dequantize(type, w.data() + r * rb, deq->data() + r * cols, cols, nullptr), NIB_OK);
    }
    return w;
}

/* The types whose matvec quantizes x to int8 (dp4a), as the CPU's Q8 partner types do. */
bool dp4a_type(int type) {
    return type == NIB_TYPE_Q4_0 || type == NIB_TYPE_Q8_0 || type == NIB_TYPE_Q4_K || type == NIB_TYPE_Q6_K;
}

/* GGUF rows w into dev (nib_cuda_weight_bytes) in the GPU layout. */
void up_weights(int type, int64_t rows, int64_t cols, const std::vector<uint8_t> &w, void *dev) {
    nib_error err = {};
    ASSERT_EQ(nib_cuda_weight_bytes(type, rows, cols), w.size());
    ASSERT_EQ(nib_cuda_weight_upload(type, rows, cols, w.data(), dev, &err), NIB_OK) << err.msg;
}

/* n random matrices of `type` (heights[p] x cols, seeds seed + p) in the GPU layout on the device. */
std::vector<std::unique_ptr<Dev>> matrices_on_device(int type, const int64_t *heights, int n, int64_t cols, unsigned seed) {
    std::vector<std::unique_ptr<Dev>> dw;
    for (int p = 0; p < n; p++) {
        std::vector<float> deq;
        std::vector<uint8_t> w = weights(type, heights[p], cols, seed + p, &deq);
        dw.emplace_back(new Dev(w.size()));
        up_weights(type, heights[p], cols, w, dw.back()->p);
    }
    return dw;
}

/* x as the dp4a kernels see it: 32-element blocks, d = amax / 127, q = rint(x / d), value q * d. */
std::vector<float> x_as_int8(const std::vector<float> &x) {
    std::vector<float> v(x.size());
    for (size_t b = 0; b < x.size(); b += 32) { /* (a last partial block only for widths the dp4a kernels never see) */
        const size_t e = std::min(b + 32, x.size());
        float amax = 0;
        for (size_t i = b; i < e; i++) amax = std::max(amax, std::fabs(x[i]));
        const float d = amax / 127.0f;
        for (size_t i = b; i < e; i++) v[i] = amax == 0.0f ? 0.0f : (float)(int)std::nearbyint(x[i] / d) * d;
    }
    return v;
}

/* The GPU layout of GGUF rows (the spec in cuda_backend.h): Q4_0, Q8_0, Q6_K
 * split into all quant parts then all fp16 d; other types unchanged. */
std::vector<uint8_t> gpu_layout(int type, const std::vector<uint8_t> &w) {
    int raw = 0, qb = 0, q_off = 0, d_off = 0;
    if (type == NIB_TYPE_Q4_0) raw = 18, qb = 16, q_off = 2, d_off = 0;
    if (type == NIB_TYPE_Q8_0) raw = 34, qb = 32, q_off = 2, d_off = 0;
    if (type == NIB_TYPE_Q6_K) raw = 210, qb = 208, q_off = 0, d_off = 208;
    if (!raw) return w;
    const size_t n = w.size() / raw;
    std::vector<uint8_t> o(w.size());
    for (size_t i = 0; i < n; i++) {
        memcpy(&o[i * qb], &w[i * raw + q_off], qb);
        memcpy(&o[n * qb + 2 * i], &w[i * raw + d_off], 2);
    }
    return o;
}

double rel_err(const std::vector<float> &got, const std::vector<double> &want) {
    double num = 0, den = 0;
    for (size_t i = 0; i < want.size(); i++) {
        num += (got[i] - want[i]) * (got[i] - want[i]);
        den += want[i] * want[i];
    }
    return std::sqrt(num / (den > 0 ? den : 1));
}

}  // namespace

TEST(Cuda, NoDeviceAnswersAreClear) {
    const int n = nib_cuda_device_count();
    EXPECT_GE(n, 0);
    nib_cuda_device d;
    nib_error err = {};
    EXPECT_EQ(nib_cuda_device_get(n, &d, &err), NIB_E_ARG);
    EXPECT_NE(std::string(err.msg).find("does not exist"), std::string::npos) << err.msg;
    EXPECT_FALSE(nib_cuda_supports_type(NIB_TYPE_IQ2_XXS));
    EXPECT_TRUE(nib_cuda_supports_type(NIB_TYPE_Q4_K));
    if (n == 0) {
        err = {};
        EXPECT_EQ(nib_cuda_malloc(1024, &err), nullptr);
        EXPECT_NE(err.status, NIB_OK);
        EXPECT_NE(err.msg[0], '\0');
    }
}

TEST(Cuda, DeviceFactsAndCopyBandwidth) {
    NEED_DEVICE();
    nib_cuda_device d;
    nib_error err = {};
    ASSERT_EQ(nib_cuda_device_get(0, &d, &err), NIB_OK) << err.msg;
    double gbps = 0;
    ASSERT_EQ(nib_cuda_copy_bandwidth((size_t)256 << 20, &gbps, &err), NIB_OK) << err.msg;
    printf("  %s: compute %d.%d, %d SMs, %.1f GiB (%.1f free), copy %.0f GB/s\n", d.name, d.major, d.minor, d.sm_count,
           d.total_mem / 1073741824.0, d.free_mem / 1073741824.0, gbps);
    EXPECT_GT(gbps, 50.0);
    err = {};
    EXPECT_EQ(nib_cuda_malloc((size_t)1 << 50, &err), nullptr);
    EXPECT_EQ(err.status, NIB_E_NOMEM);
    EXPECT_NE(std::string(err.msg).find("out of device memory"), std::string::npos) << err.msg;
    EXPECT_NE(std::string(err.msg).find("-ngl"), std::string::npos) << err.msg;
}

TEST(Cuda, DequantizeEqualsTheCpuReferenceBitForBit) {
    NEED_DEVICE();
    for (int type : kTypes) {
        SCOPED_TRACE(nib_type_name(type));
        std::vector<float> deq;
        std::vector<uint8_t> w = weights(type, 3, 512, 1000 + type, &deq);
        Dev dw(w.size()), dy(deq.size() * 4);
        up(dw.p, w.data(), w.size());
        nib_error err = {};
        ASSERT_EQ(nib_cuda_dequantize(type, dw.p, dy.f(), (int64_t)deq.size(), &err), NIB_OK) << err.msg;
        std::vector<float> got(deq.size());
        down(got.data(), dy.p, got.size() * 4);
        EXPECT_EQ(memcmp(got.data(), deq.data(), got.size() * 4), 0);
    }
}

TEST(Cuda, MatvecMatchesTheCpuReference) {
    NEED_DEVICE();
    struct Case { int type; int64_t rows, cols; };
    std::vector<Case> cases;
    for (int type : kTypes) cases.push_back({ type, 67, 1024 });
    /* the fast kernels: tiles of 32 rows (partial, odd), one row, K-quant widths, more tiles than SMs
     * (the grid strides), and 65536 columns (x needs 80 KiB of shared memory: the opt-in size) */
    const int fast[] = { NIB_TYPE_Q4_0, NIB_TYPE_Q8_0, NIB_TYPE_Q4_K, NIB_TYPE_Q6_K, NIB_TYPE_F16, NIB_TYPE_F32, NIB_TYPE_BF16 };
    for (int type : fast)
        for (Case c : { Case{ 0, 1, 256 }, Case{ 0, 33, 512 }, Case{ 0, 45, 11008 }, Case{ 0, 100, 4096 },
                        Case{ 0, 4500, 256 }, Case{ 0, 3, 65536 } })
            cases.push_back({ type, c.rows, c.cols });
    for (int type : { NIB_TYPE_Q4_0, NIB_TYPE_Q8_0, NIB_TYPE_F16 }) /* widths of whole 32-blocks only */
        for (Case c : { Case{ 0, 70, 96 }, Case{ 0, 31, 32 }, Case{ 0, 5, 4000 } }) cases.push_back({ type, c.rows, c.cols });
    for (int type : { NIB_TYPE_F32, NIB_TYPE_F16, NIB_TYPE_BF16 }) cases.push_back({ type, 7, 100 }); /* generic kernel */
    const float kGuard = 12345.0f;
    for (const Case &k : cases) {
        const int type = k.type;
        const int64_t rows = k.rows, cols = k.cols;
        SCOPED_TRACE(std::string(nib_type_name(type)) + " " + std::to_string(rows) + " x " + std::to_string(cols));
        std::vector<float> x = randoms(cols, 7 + (unsigned)cols), deq;
        std::vector<uint8_t> w = weights(type, rows, cols, 2000 + type, &deq);
        const std::vector<float> x8 = x_as_int8(x);
        std::vector<double> want(rows), want8(rows), mag(rows), block_amax((cols + 31) / 32);
        for (int64_t c = 0; c < cols; c++) block_amax[c / 32] = std::max(block_amax[c / 32], (double)std::fabs(x[c]));
        for (int64_t r = 0; r < rows; r++)
            for (int64_t c = 0; c < cols; c++) {
                want[r] += (double)deq[r * cols + c] * x[c];
                want8[r] += (double)deq[r * cols + c] * x8[c];
                mag[r] += std::fabs((double)deq[r * cols + c]) * block_amax[c / 32];
            }
        Dev dw(w.size()), dx(cols * 4), dy((rows + 8) * 4), scratch(nib_cuda_matvec_scratch_bytes(cols));
        up_weights(type, rows, cols, w, dw.p);
        up(dx.p, x.data(), cols * 4);
        std::vector<float> got(rows + 8, kGuard);
        up(dy.p, got.data(), got.size() * 4);
        nib_error err = {};
        ASSERT_EQ(nib_cuda_matvec(type, dw.p, rows, cols, dx.f(), dy.f(), scratch.p, &err), NIB_OK) << err.msg;
        down(got.data(), dy.p, got.size() * 4);
        for (int i = 0; i < 8; i++) EXPECT_EQ(got[rows + i], kGuard) << "guard " << i << " overwritten";
        got.resize(rows);
        if (dp4a_type(type)) {
            /* x rounded to int8 as the kernel does: only fp32 rounding left. Against the exact product: the
             * int8 rounding moves each x by at most half a step (its block's amax / 254), so a row is within
             * sum |w| amax / 254 (a single row may cancel: not a bound relative to the result) */
            EXPECT_LT(rel_err(got, want8), 1e-5);
            for (int64_t r = 0; r < rows; r++) EXPECT_LE(std::fabs(got[r] - want[r]), mag[r] / 254 * 1.001 + 1e-6) << "row " << r;
        } else {
            EXPECT_LT(rel_err(got, want), 1e-5);
        }
    }
}

TEST(Cuda, MatmulMatchesTheCpuReference) {
    NEED_DEVICE();
    const int64_t rows = 96, cols = 512, n_tok = 7;
    std::vector<float> x = randoms(n_tok * cols, 9);
    Dev dx(x.size() * 4), dy(n_tok * rows * 4);
    up(dx.p, x.data(), x.size() * 4);
    for (int type : kTypes) {
        SCOPED_TRACE(nib_type_name(type));
        std::vector<float> deq;
        std::vector<uint8_t> w = weights(type, rows, cols, 3000 + type, &deq);
        std::vector<double> want(n_tok * rows);
        for (int64_t t = 0; t < n_tok; t++)
            for (int64_t r = 0; r < rows; r++)
                for (int64_t c = 0; c < cols; c++) want[t * rows + r] += (double)deq[r * cols + c] * x[t * cols + c];
        Dev dw(w.size()), scratch(nib_cuda_matmul_scratch_bytes(type, rows, cols, n_tok) + 1);
        up_weights(type, rows, cols, w, dw.p);
        nib_error err = {};
        ASSERT_EQ(nib_cuda_matmul(type, dw.p, rows, cols, dx.f(), n_tok, dy.f(), scratch.p, &err), NIB_OK) << err.msg;
        std::vector<float> got(n_tok * rows);
        down(got.data(), dy.p, got.size() * 4);
        EXPECT_LT(rel_err(got, want), type == NIB_TYPE_F32 ? 1e-5 : 2e-3); /* F16 operands */
    }
}

TEST(Cuda, RmsnormAndSwigluMatchTheCpuReference) {
    NEED_DEVICE();
    const int64_t rows = 3, n = 2048;
    std::vector<float> x = randoms(rows * n, 11), w = randoms(n, 12), g = randoms(n, 13), u = randoms(n, 14);
    Dev dx(x.size() * 4), dw(n * 4), dy(x.size() * 4), dg(n * 4), du(n * 4), ds(n * 4);
    up(dx.p, x.data(), x.size() * 4);
    up(dw.p, w.data(), n * 4);
    up(dg.p, g.data(), n * 4);
    up(du.p, u.data(), n * 4);
    nib_error err = {};
    ASSERT_EQ(nib_cuda_rmsnorm(dx.f(), dw.f(), dy.f(), rows, n, 1e-5f, &err), NIB_OK) << err.msg;
    ASSERT_EQ(nib_cuda_swiglu(dg.f(), du.f(), ds.f(), n, &err), NIB_OK) << err.msg;
    std::vector<float> y(x.size()), s(n);
    down(y.data(), dy.p, y.size() * 4);
    down(s.data(), ds.p, n * 4);
    std::vector<double> want(x.size()), want_s(n);
    for (int64_t r = 0; r < rows; r++) {
        double ss = 0;
        for (int64_t i = 0; i < n; i++) ss += (double)x[r * n + i] * x[r * n + i];
        const double sc = 1.0 / std::sqrt(ss / n + 1e-5);
        for (int64_t i = 0; i < n; i++) want[r * n + i] = x[r * n + i] * sc * w[i];
    }
    for (int64_t i = 0; i < n; i++) want_s[i] = g[i] / (1.0 + std::exp(-(double)g[i])) * u[i];
    EXPECT_LT(rel_err(y, want), 1e-5);
    EXPECT_LT(rel_err(s, want_s), 1e-5);
}

TEST(Cuda, BadShapesAreErrorsNotCrashes) {
    nib_error err = {};
    EXPECT_EQ(nib_cuda_matvec(NIB_TYPE_Q4_K, nullptr, 4, 100, nullptr, nullptr, nullptr, &err), NIB_E_ARG);
    EXPECT_NE(std::string(err.msg).find("whole Q4_K blocks"), std::string::npos) << err.msg;
    EXPECT_EQ(nib_cuda_dequantize(NIB_TYPE_IQ2_XXS, nullptr, nullptr, 256, &err), NIB_E_UNSUPPORTED);
    EXPECT_EQ(nib_cuda_matmul(NIB_TYPE_Q8_0, nullptr, 4, 33, nullptr, 1, nullptr, nullptr, &err), NIB_E_ARG);
    EXPECT_EQ(nib_cuda_weight_bytes(NIB_TYPE_Q4_K, 4, 100), 0u);
    EXPECT_EQ(nib_cuda_weight_bytes(NIB_TYPE_IQ2_XXS, 4, 256), 0u);
    EXPECT_EQ(nib_cuda_weight_bytes(NIB_TYPE_Q6_K, 3, 512), 3u * 2 * 210);
    EXPECT_EQ(nib_cuda_weight_bytes(NIB_TYPE_Q4_0, 5, 96), 5u * 3 * 18);
    err = {};
    EXPECT_EQ(nib_cuda_weight_upload(NIB_TYPE_Q8_0, 4, 33, nullptr, nullptr, &err), NIB_E_ARG);
    EXPECT_NE(std::string(err.msg).find("whole Q8_0 blocks"), std::string::npos) << err.msg;
    EXPECT_EQ(nib_cuda_weight_upload(NIB_TYPE_IQ2_XXS, 4, 256, nullptr, nullptr, &err), NIB_E_UNSUPPORTED);
    EXPECT_EQ(nib_cuda_weight_upload(NIB_TYPE_Q4_0, 0, 32, nullptr, nullptr, &err), NIB_E_ARG);
}
/* Plain, and YaRN (qwen2/3-style: scale 1/4 of a 32k original context, betas 32 and 1; and with
 * ext_factor 0.5, attn_factor 0.9, rope base 1e6), at positions past the original context too. */
TEST(Cuda, RopeMatchesTheCpuReference) {
    NEED_DEVICE();
    const int n_tok = 4, n_head = 4, hd = 128;
    const int32_t pos[n_tok] = { 0, 17, 4000, 70000 };
    for (int c = 0; c < 6; c++) {
        const int neox = c % 2, yarn = c / 2;
        SCOPED_TRACE(std::string(neox ? "neox" : "normal") + (yarn ? " yarn " + std::to_string(yarn) : ""));
        std::vector<float> x = randoms((size_t)n_tok * n_head * hd, 21 + c), want = x;
        nib_rope_params cp = {};
        cp.n_rot = hd, cp.neox = neox, cp.freq_base = 10000.0f, cp.freq_scale = 1.0f, cp.attn_factor = 1.0f;
        if (yarn) {
            cp.freq_base = yarn == 1 ? 10000.0f : 1e6f, cp.freq_scale = 0.25f, cp.ext_factor = yarn == 1 ? 1.0f : 0.5f;
            cp.attn_factor = yarn == 1 ? 1.0f : 0.9f, cp.beta_fast = 32.0f, cp.beta_slow = 1.0f, cp.n_ctx_orig = 32768;
        }
        for (int t = 0; t < n_tok; t++) nib_op_rope(want.data() + (size_t)t * n_head * hd, n_head, hd, pos[t], &cp);
        Dev dx(x.size() * 4), dp(sizeof pos);
        up(dx.p, x.data(), x.size() * 4);
        up(dp.p, pos, sizeof pos);
        nib_cuda_rope_params gp = { hd, neox, cp.freq_base, cp.freq_scale, cp.attn_factor, nullptr,
                                    cp.ext_factor, cp.beta_fast, cp.beta_slow, cp.n_ctx_orig };
        nib_error err = {};
        ASSERT_EQ(nib_cuda_rope(dx.f(), n_tok, n_head, hd, static_cast<const int32_t *>(dp.p), &gp, &err), NIB_OK) << err.msg;
        std::vector<float> got(x.size());
        down(got.data(), dx.p, got.size() * 4);
        std::vector<double> w(want.begin(), want.end());
        EXPECT_LT(rel_err(got, w), 1e-5); /* cos/sin: CUDA's against libm's */
    }
}

/* The fused launches the layer loop uses give the same bits as the separate
 * ones: rope of q and k + the K/V store (partial rotation, NEOX and normal),
 * and the residual add + RMSNorm. */
TEST(Cuda, FusedRopeStoreAndAddNormEqualTheSeparateKernels) {
    NEED_DEVICE();
    const int n_tok = 3, n_head = 4, n_head_kv = 2, hd = 64, row = n_head_kv * hd, n_slots = 16;
    const int32_t pos[n_tok] = { 0, 17, 4000 }, slots[n_tok] = { 5, 0, 11 };
    for (int neox = 0; neox <= 1; neox++)
        for (int n_rot : { hd, hd / 2 }) {
            SCOPED_TRACE(std::to_string(neox) + " " + std::to_string(n_rot));
            std::vector<float> q = randoms((size_t)n_tok * n_head * hd, 41), k = randoms((size_t)n_tok * row, 42),
                               v = randoms((size_t)n_tok * row, 43);
            Dev dq(q.size() * 4), dk(k.size() * 4), dv(v.size() * 4), dq2(q.size() * 4), dk2(k.size() * 4), dp(sizeof pos),
                ds(sizeof slots), kp((size_t)n_slots * row * 2), vp((size_t)n_slots * row * 2), kp2((size_t)n_slots * row * 2),
                vp2((size_t)n_slots * row * 2);
            up(dq.p, q.data(), q.size() * 4), up(dq2.p, q.data(), q.size() * 4);
            up(dk.p, k.data(), k.size() * 4), up(dk2.p, k.data(), k.size() * 4);
            up(dv.p, v.data(), v.size() * 4);
            up(dp.p, pos, sizeof pos), up(ds.p, slots, sizeof slots);
            std::vector<uint16_t> zero((size_t)n_slots * row, 0);
            for (const Dev *d : { &kp, &vp, &kp2, &vp2 }) up(d->p, zero.data(), zero.size() * 2);
            const nib_cuda_rope_params rp = { n_rot, neox, 10000.0f, 1.0f, 1.0f, nullptr, 0.0f, 0.0f, 0.0f, 0 };
            const int32_t *pp = static_cast<const int32_t *>(dp.p), *sp = static_cast<const int32_t *>(ds.p);
            nib_error err = {};
            ASSERT_EQ(nib_cuda_rope(dq.f(), n_tok, n_head, hd, pp, &rp, &err), NIB_OK) << err.msg;
            ASSERT_EQ(nib_cuda_rope(dk.f(), n_tok, n_head_kv, hd, pp, &rp, &err), NIB_OK) << err.msg;
            ASSERT_EQ(nib_cuda_kv_store(dk.f(), kp.p, sp, n_tok, row, &err), NIB_OK) << err.msg;
            ASSERT_EQ(nib_cuda_kv_store(dv.f(), vp.p, sp, n_tok, row, &err), NIB_OK) << err.msg;
            ASSERT_EQ(nib_cuda_rope_store(dq2.f(), dk2.f(), dv.f(), kp2.p, vp2.p, sp, n_tok, n_head, n_head_kv, hd, pp, &rp, &err),
                      NIB_OK)
                << err.msg;
            std::vector<float> a(q.size()), b(q.size());
            down(a.data(), dq.p, a.size() * 4), down(b.data(), dq2.p, b.size() * 4);
            EXPECT_EQ(a, b);
            std::vector<uint16_t> ha(zero.size()), hb(zero.size());
            for (auto pr : { std::make_pair(&kp, &kp2), std::make_pair(&vp, &vp2) }) {
                down(ha.data(), pr.first->p, ha.size() * 2), down(hb.data(), pr.second->p, hb.size() * 2);
                EXPECT_EQ(ha, hb);
            }
        }
    const int64_t rows = 3, n = 4096;
    std::vector<float> x = randoms(rows * n, 51), y = randoms(rows * n, 52), w = randoms(n, 53);
    Dev dx(x.size() * 4), dx2(x.size() * 4), dy(y.size() * 4), dw(w.size() * 4), dn(x.size() * 4), dn2(x.size() * 4);
    up(dx.p, x.data(), x.size() * 4), up(dx2.p, x.data(), x.size() * 4), up(dy.p, y.data(), y.size() * 4);
    up(dw.p, w.data(), w.size() * 4);
    nib_error err = {};
    ASSERT_EQ(nib_cuda_add(dx.f(), dy.f(), rows * n, &err), NIB_OK) << err.msg;
    ASSERT_EQ(nib_cuda_rmsnorm(dx.f(), dw.f(), dn.f(), rows, n, 1e-5f, &err), NIB_OK) << err.msg;
    ASSERT_EQ(nib_cuda_add_rmsnorm(dx2.f(), dy.f(), dw.f(), dn2.f(), rows, n, 1e-5f, &err), NIB_OK) << err.msg;
    std::vector<float> a(x.size()), b(x.size());
    down(a.data(), dx.p, a.size() * 4), down(b.data(), dx2.p, b.size() * 4);
    EXPECT_EQ(a, b);
    down(a.data(), dn.p, a.size() * 4), down(b.data(), dn2.p, b.size() * 4);
    EXPECT_EQ(a, b);
    /* in place, as the layer loop calls it (the added rows are the output) */
    up(dx2.p, x.data(), x.size() * 4);
    ASSERT_EQ(nib_cuda_add_rmsnorm(dx2.f(), dy.f(), dw.f(), dy.f(), rows, n, 1e-5f, &err), NIB_OK) << err.msg;
    down(b.data(), dy.p, b.size() * 4);
    EXPECT_EQ(a, b);
}

/* nib_cuda_matvec_qkv (q/k/v with the RoPE and the K/V store folded in)
 * gives the bits of nib_cuda_matvec_multi then nib_cuda_rope_store: every
 * fast type, with and without the folded norm and biases, full and partial
 * rotation, YaRN; NEOX pairs are refused (the caller runs the steps). */
TEST(Cuda, QkvMatvecFoldsRopeAndStore) {
    NEED_DEVICE();
    const int n_head = 4, n_head_kv = 2, hd = 64, n_slots = 16;
    const int64_t cols = 512, qw = n_head * hd, kvw = n_head_kv * hd, h[3] = { qw, kvw, kvw };
    const int32_t pos = 4000, slot = 11;
    std::vector<float> x = randoms(cols, 91), nw = randoms(cols, 92), bq = randoms(qw, 93), bk = randoms(kvw, 94);
    Dev dx(cols * 4), dnw(cols * 4), dbq(qw * 4), dbk(kvw * 4), dp(4), ds(4);
    up(dx.p, x.data(), cols * 4), up(dnw.p, nw.data(), cols * 4), up(dbq.p, bq.data(), qw * 4), up(dbk.p, bk.data(), kvw * 4);
    up(dp.p, &pos, 4), up(ds.p, &slot, 4);
    const int32_t *pp = static_cast<const int32_t *>(dp.p), *sp = static_cast<const int32_t *>(ds.p);
    const std::vector<uint16_t> zero((size_t)n_slots * kvw, 0);
    for (int type : { NIB_TYPE_Q4_0, NIB_TYPE_Q8_0, NIB_TYPE_Q4_K, NIB_TYPE_Q6_K, NIB_TYPE_F16 }) {
        const std::vector<std::unique_ptr<Dev>> dw = matrices_on_device(type, h, 3, cols, 5000 + 10 * type);
        for (int c = 0; c < 6; c++) {
            const bool norm = c % 2 && type != NIB_TYPE_F16, bias = c % 2;
            const int n_rot = c < 2 ? hd : c < 4 ? hd / 2 : hd;
            SCOPED_TRACE(std::string(nib_type_name(type)) + " case " + std::to_string(c));
            nib_cuda_rope_params rp = { n_rot, 0, 10000.0f, 1.0f, 1.0f, nullptr, 0.0f, 0.0f, 0.0f, 0 };
            if (c >= 4) rp.freq_scale = 0.25f, rp.ext_factor = 1.0f, rp.beta_fast = 32.0f, rp.beta_slow = 1.0f, rp.n_ctx_orig = 4096;
            Dev yq(qw * 4), yk(kvw * 4), yv(kvw * 4), yq2(qw * 4), yk2(kvw * 4), yv2(kvw * 4), kp(zero.size() * 2), vp(zero.size() * 2),
                kp2(zero.size() * 2), vp2(zero.size() * 2);
            for (const Dev *d : { &kp, &vp, &kp2, &vp2 }) up(d->p, zero.data(), zero.size() * 2);
            const float *bq_ = bias ? dbq.f() : nullptr, *bk_ = bias ? dbk.f() : nullptr;
            const nib_cuda_mv_part fold[3] = { { dw[0]->p, qw, yq.f(), bq_ }, { dw[1]->p, kvw, yk.f(), bk_ }, { dw[2]->p, kvw, yv.f(), nullptr } };
            const nib_cuda_mv_part apart[3] = { { dw[0]->p, qw, yq2.f(), bq_ }, { dw[1]->p, kvw, yk2.f(), bk_ },
                                                { dw[2]->p, kvw, yv2.f(), nullptr } };
            const nib_cuda_mv_kv kv = { pp, sp, kp.p, vp.p, hd, &rp };
            nib_error err = {};
            const float *n_w = norm ? dnw.f() : nullptr;
            ASSERT_EQ(nib_cuda_matvec_qkv(type, cols, dx.f(), n_w, 1e-5f, fold, &kv, &err), NIB_OK) << err.msg;
            ASSERT_EQ(nib_cuda_matvec_multi(type, cols, dx.f(), n_w, 1e-5f, apart, 3, NIB_CUDA_MV_STORE, &err), NIB_OK) << err.msg;
            ASSERT_EQ(nib_cuda_rope_store(yq2.f(), yk2.f(), yv2.f(), kp2.p, vp2.p, sp, 1, n_head, n_head_kv, hd, pp, &rp, &err), NIB_OK)
                << err.msg;
            for (auto pr : { std::make_pair(&yq, &yq2), std::make_pair(&yk, &yk2), std::make_pair(&yv, &yv2) }) {
                std::vector<float> a(pr.first->n / 4), b(a.size());
                down(a.data(), pr.first->p, a.size() * 4), down(b.data(), pr.second->p, b.size() * 4);
                EXPECT_EQ(a, b);
            }
            std::vector<uint16_t> ha(zero.size()), hb(zero.size());
            for (auto pr : { std::make_pair(&kp, &kp2), std::make_pair(&vp, &vp2) }) {
                down(ha.data(), pr.first->p, ha.size() * 2), down(hb.data(), pr.second->p, hb.size() * 2);
                EXPECT_EQ(ha, hb);
            }
            rp.neox = 1;
            EXPECT_EQ(nib_cuda_matvec_qkv(type, cols, dx.f(), n_w, 1e-5f, fold, &kv, &err), NIB_E_UNSUPPORTED);
        }
    }
}

/* nib_cuda_matvec_multi (the decode steps folded together) against the same
 * steps apart: RMSNorm, one matvec per part, bias, then store, add into y, or
 * SwiGLU. Parts of different heights (q, k, v with GQA); rows past a tile
 * boundary. The folded norm sums in another order, which may move an int8
 * rounding of x: within 1e-3. */
TEST(Cuda, FusedMatvecEqualsTheStepsApart) {
    NEED_DEVICE();
    const int64_t cols = 512;
    const int64_t heights[4] = { 96, 33, 33, 96 }; /* q, k, v; the fourth: SwiGLU's up */
    std::vector<float> x = randoms(cols, 61), nw = randoms(cols, 62), b = randoms(96, 63);
    Dev dx(cols * 4), dnw(cols * 4), db(96 * 4), dxn(cols * 4), dtmp(96 * 4);
    up(dx.p, x.data(), cols * 4), up(dnw.p, nw.data(), cols * 4), up(db.p, b.data(), 96 * 4);
    for (int type : { NIB_TYPE_Q4_0, NIB_TYPE_Q8_0, NIB_TYPE_Q4_K, NIB_TYPE_Q6_K, NIB_TYPE_F16 }) {
        SCOPED_TRACE(nib_type_name(type));
        const std::vector<std::unique_ptr<Dev>> dw = matrices_on_device(type, heights, 4, cols, 4000 + 10 * type);
        for (int mode : { NIB_CUDA_MV_STORE, NIB_CUDA_MV_ADD, NIB_CUDA_MV_SWIGLU })
            for (bool norm : { false, true }) {
                SCOPED_TRACE(std::to_string(mode) + (norm ? " norm" : ""));
                const int n = mode == NIB_CUDA_MV_SWIGLU ? 2 : 3;
                const bool sw = mode == NIB_CUDA_MV_SWIGLU;
                const int64_t h[3] = { heights[0], sw ? heights[3] : heights[1], heights[2] };
                const Dev *wp[3] = { dw[0].get(), sw ? dw[3].get() : dw[1].get(), dw[2].get() };
                std::vector<std::vector<float>> y0(n);
                std::vector<std::unique_ptr<Dev>> dy, dref;
                nib_cuda_mv_part parts[3];
                for (int p = 0; p < n; p++) {
                    y0[p] = randoms(h[p], 70 + p);
                    dy.emplace_back(new Dev(h[p] * 4)), dref.emplace_back(new Dev(h[p] * 4));
                    up(dy.back()->p, y0[p].data(), h[p] * 4), up(dref.back()->p, y0[p].data(), h[p] * 4);
                    parts[p] = { wp[p]->p, h[p], dy[p]->f(), p == 0 ? db.f() : nullptr };
                }
                nib_error err = {};
                const int rc = nib_cuda_matvec_multi(type, cols, dx.f(), norm ? dnw.f() : nullptr, 1e-5f, parts, n, mode, &err);
                if (norm && type == NIB_TYPE_F16) { /* float weights take no folded norm: the caller does it apart */
                    EXPECT_EQ(rc, NIB_E_UNSUPPORTED);
                    continue;
                }
                ASSERT_EQ(rc, NIB_OK) << err.msg;
                /* the steps apart */
                const float *in = dx.f();
                if (norm) {
                    ASSERT_EQ(nib_cuda_rmsnorm(dx.f(), dnw.f(), dxn.f(), 1, cols, 1e-5f, &err), NIB_OK) << err.msg;
                    in = dxn.f();
                }
                for (int p = 0; p < n; p++) {
                    float *y = mode == NIB_CUDA_MV_STORE || (mode == NIB_CUDA_MV_SWIGLU && p == 0) ? dref[p]->f() : dtmp.f();
                    ASSERT_EQ(nib_cuda_matvec(type, wp[p]->p, h[p], cols, in, y, nullptr, &err), NIB_OK) << err.msg;
                    if (p == 0) {
                        ASSERT_EQ(nib_cuda_add_bias(y, db.f(), 1, h[p], &err), NIB_OK) << err.msg;
                    }
                    if (mode == NIB_CUDA_MV_ADD) {
                        ASSERT_EQ(nib_cuda_add(dref[p]->f(), dtmp.f(), h[p], &err), NIB_OK) << err.msg;
                    }
                    if (sw && p == 1) {
                        ASSERT_EQ(nib_cuda_swiglu(dref[0]->f(), dtmp.f(), dref[0]->f(), h[0], &err), NIB_OK) << err.msg;
                    }
                }
                for (int p = 0; p < (mode == NIB_CUDA_MV_SWIGLU ? 1 : n); p++) {
                    std::vector<float> got(h[p]), ref(h[p]);
                    down(got.data(), dy[p]->p, h[p] * 4), down(ref.data(), dref[p]->p, h[p] * 4);
                    EXPECT_LT(rel_err(got, std::vector<double>(ref.begin(), ref.end())), 1e-3) << "part " << p;
                }
            }
    }
    nib_error err = {};
    nib_cuda_mv_part one[1] = { { nullptr, 4, nullptr, nullptr } };
    EXPECT_EQ(nib_cuda_matvec_multi(NIB_TYPE_Q4_0, 32, nullptr, nullptr, 0, one, 1, NIB_CUDA_MV_SWIGLU, &err), NIB_E_ARG);
    EXPECT_EQ(nib_cuda_matvec_multi(NIB_TYPE_Q4_0, 32, nullptr, nullptr, 0, one, 0, NIB_CUDA_MV_STORE, &err), NIB_E_ARG);
    EXPECT_EQ(nib_cuda_matvec_multi(NIB_TYPE_Q5_0, 32, nullptr, nullptr, 0, one, 1, NIB_CUDA_MV_STORE, &err), NIB_E_UNSUPPORTED);
}

namespace {

/* Random q (n_tok rows) and F16 K/V pools of n_slots rows for an attention
 * test, the double-precision softmax every row should give (row t over the
 * n_kv[t] slots from slots[off[t]]), and all of it on the device. */
struct AttnCase {
    int                   n_tok, n_head, n_head_kv, hd;
    float                 scale;
    std::vector<double>   want;
    std::unique_ptr<Dev>  dq, dk, dv, ds, doff, dn, dout;
    AttnCase(int n_head_, int n_head_kv_, int hd_, int n_slots, const std::vector<int32_t> &slots, const std::vector<int32_t> &off,
             const std::vector<int32_t> &n_kv, unsigned seed)
        : n_tok((int)n_kv.size()), n_head(n_head_), n_head_kv(n_head_kv_), hd(hd_), scale(1.0f / std::sqrt((float)hd_)) {
        const int row = n_head_kv * hd;
        std::vector<float> q = randoms((size_t)n_tok * n_head * hd, seed), kf = randoms((size_t)n_slots * row, seed + 1),
                           vf = randoms((size_t)n_slots * row, seed + 2);
        std::vector<uint16_t> kh(kf.size()), vh(vf.size());
        for (size_t i = 0; i < kf.size(); i++) kh[i] = nib_fp32_to_fp16(kf[i]), vh[i] = nib_fp32_to_fp16(vf[i]);
        want.assign((size_t)n_tok * n_head * hd, 0.0);
        for (int32_t t = 0; t < n_tok; t++)
            for (int h = 0; h < n_head; h++) {
                const int hk = h / (n_head / n_head_kv);
                const float *qh = &q[((size_t)t * n_head + h) * hd];
                const int32_t *sl = &slots[off[t]];
                std::vector<double> sc(n_kv[t]);
                double mx = -1e300, l = 0;
                for (int32_t j = 0; j < n_kv[t]; j++) {
                    double a = 0;
                    for (int d = 0; d < hd; d++) a += (double)qh[d] * nib_fp16_to_fp32(kh[(size_t)sl[j] * row + hk * hd + d]);
                    sc[j] = a * scale;
                    mx = std::max(mx, sc[j]);
                }
                for (int32_t j = 0; j < n_kv[t]; j++) l += (sc[j] = std::exp(sc[j] - mx));
                for (int d = 0; d < hd; d++) {
                    double a = 0;
                    for (int32_t j = 0; j < n_kv[t]; j++) a += sc[j] * nib_fp16_to_fp32(vh[(size_t)sl[j] * row + hk * hd + d]);
                    want[((size_t)t * n_head + h) * hd + d] = a / l;
                }
            }
        dq.reset(new Dev(q.size() * 4)), dk.reset(new Dev(kh.size() * 2)), dv.reset(new Dev(vh.size() * 2));
        ds.reset(new Dev(slots.size() * 4)), doff.reset(new Dev(off.size() * 4)), dn.reset(new Dev(n_kv.size() * 4));
        dout.reset(new Dev(want.size() * 4));
        up(dq->p, q.data(), q.size() * 4), up(dk->p, kh.data(), kh.size() * 2), up(dv->p, vh.data(), vh.size() * 2);
        up(ds->p, slots.data(), slots.size() * 4), up(doff->p, off.data(), off.size() * 4), up(dn->p, n_kv.data(), n_kv.size() * 4);
    }
    const int32_t *slots() const { return static_cast<const int32_t *>(ds->p); }
    const int32_t *offs() const { return static_cast<const int32_t *>(doff->p); }
    const int32_t *n_kv() const { return static_cast<const int32_t *>(dn->p); }
    /* the relative error of what the device wrote */
    double error() const {
        std::vector<float> got(want.size());
        down(got.data(), dout->p, got.size() * 4);
        return rel_err(got, want);
    }
};

}  // namespace

/* Three query tokens at once (1, 255 and 700 keys, scattered slots, each
 * its own slot array), head dims 48, 64 and 128, one split and several
 * (empty splits included), against a double-precision softmax. */
TEST(Cuda, AttentionOverPagedSlotsMatchesAReference) {
    NEED_DEVICE();
    const int n_head = 8, n_head_kv = 2, n_slots = 1024;
    const std::vector<int32_t> n_kv = { 1, 255, 700 };
    const int32_t n_tok = (int32_t)n_kv.size();
    std::vector<int32_t> slots, off;
    for (int32_t t = 0; t < n_tok; t++) {
        off.push_back((int32_t)slots.size());
        for (int32_t j = 0; j < n_kv[t]; j++) slots.push_back((int32_t)((j * 37 + 11 + 101 * t) % n_slots)); /* distinct */
    }
    for (int hd : { 48, 64, 128 }) {
        SCOPED_TRACE(hd);
        AttnCase a(n_head, n_head_kv, hd, n_slots, slots, off, n_kv, 31);
        for (int n_split : { 1, nib_cuda_attention_splits(700, 8), 7, 64 }) {
            SCOPED_TRACE(n_split);
            const size_t sb = nib_cuda_attention_scratch_bytes(n_head, hd, n_tok, n_split);
            Dev scratch(sb);
            nib_error err = {};
            if (sb) {
                ASSERT_EQ(nib_cuda_zero(scratch.p, sb, &err), NIB_OK) << err.msg;
            }
            for (int run = 0; run < 2; run++) { /* the second: the per-head counters were left at zero */
                ASSERT_EQ(nib_cuda_zero(a.dout->p, a.want.size() * sizeof(float), &err), NIB_OK) << err.msg;
                ASSERT_EQ(nib_cuda_attention(a.dq->f(), a.dk->p, a.dv->p, a.slots(), a.offs(), a.n_kv(), n_tok, n_split, n_head, n_head_kv,
                                             hd, a.scale, a.dout->f(), scratch.p, &err),
                          NIB_OK)
                    << err.msg;
                EXPECT_LT(a.error(), 1e-5) << "run " << run;
            }
        }
    }
    nib_error err = {};
    EXPECT_EQ(nib_cuda_attention(nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, 1, 2, 8, 2, 64, 1.0f, nullptr, nullptr, &err),
              NIB_E_ARG); /* several splits need scratch */
    EXPECT_EQ(nib_cuda_attention(nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, 1, 1, 8, 3, 64, 1.0f, nullptr, nullptr, &err),
              NIB_E_ARG); /* 8 heads over 3 kv heads */
}

/* The tiled prefill kernel: 45 rows of one sequence at positions 655..699
 * (the causal staircase inside each tile of 16, a last partial tile) over
 * scattered slots, head dims 48, 64, 128 and 256 (the 32-key chunks), against
 * a double-precision softmax; and the same rows through nib_cuda_attention. */
TEST(Cuda, AttentionTilesMatchAReference) {
    NEED_DEVICE();
    const int n_head = 8, n_head_kv = 2, n_slots = 1024, n_tok = 45, first = 655;
    std::vector<int32_t> slots(700), off(n_tok, 0), n_kv(n_tok);
    for (int32_t j = 0; j < 700; j++) slots[j] = (int32_t)((j * 37 + 11) % n_slots);
    for (int32_t t = 0; t < n_tok; t++) n_kv[t] = first + t + 1;
    for (int hd : { 48, 64, 128, 256 }) {
        SCOPED_TRACE(hd);
        AttnCase a(n_head, n_head_kv, hd, n_slots, slots, off, n_kv, 81);
        nib_error err = {};
        ASSERT_EQ(nib_cuda_attention_tiles(a.dq->f(), a.dk->p, a.dv->p, a.slots(), a.offs(), a.n_kv(), n_tok, n_head, n_head_kv, hd,
                                           a.scale, a.dout->f(), &err),
                  NIB_OK)
            << err.msg;
        EXPECT_LT(a.error(), 1e-5);
        ASSERT_EQ(nib_cuda_attention(a.dq->f(), a.dk->p, a.dv->p, a.slots(), a.offs(), a.n_kv(), n_tok, 1, n_head, n_head_kv, hd,
                                     a.scale, a.dout->f(), nullptr, &err),
                  NIB_OK)
            << err.msg;
        EXPECT_LT(a.error(), 1e-5);
    }
    nib_error err = {};
    EXPECT_EQ(nib_cuda_attention_tiles(nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, 4, 8, 3, 64, 1.0f, nullptr, &err), NIB_E_ARG);
}

TEST(Cuda, EmbeddingRowsKvStoreAndAdd) {
    NEED_DEVICE();
    const int64_t cols = 512, rows = 40;
    const int32_t ids[3] = { 39, 0, 7 };
    for (int type : { NIB_TYPE_Q4_K, NIB_TYPE_Q8_0, NIB_TYPE_F16 }) {
        SCOPED_TRACE(nib_type_name(type));
        std::vector<float> deq;
        std::vector<uint8_t> w = weights(type, rows, cols, 4000 + type, &deq);
        Dev dw(w.size()), di(sizeof ids), dout(3 * cols * 4);
        up(dw.p, w.data(), w.size());
        up(di.p, ids, sizeof ids);
        nib_error err = {};
        ASSERT_EQ(nib_cuda_get_rows(type, dw.p, cols, static_cast<const int32_t *>(di.p), 3, dout.f(), &err), NIB_OK) << err.msg;
        std::vector<float> got(3 * cols);
        down(got.data(), dout.p, got.size() * 4);
        for (int r = 0; r < 3; r++) EXPECT_EQ(memcmp(got.data() + r * cols, deq.data() + ids[r] * cols, cols * 4), 0) << r;
    }
    const int row = 256, n_tok = 2;
    const int32_t slots[n_tok] = { 5, 2 };
    std::vector<float> x = randoms((size_t)n_tok * row, 41), y = randoms((size_t)n_tok * row, 42);
    Dev dx(x.size() * 4), dy(y.size() * 4), pool((size_t)8 * row * 2), dsl(sizeof slots);
    up(dx.p, x.data(), x.size() * 4);
    up(dy.p, y.data(), y.size() * 4);
    up(dsl.p, slots, sizeof slots);
    nib_error err = {};
    ASSERT_EQ(nib_cuda_kv_store(dx.f(), pool.p, static_cast<const int32_t *>(dsl.p), n_tok, row, &err), NIB_OK) << err.msg;
    ASSERT_EQ(nib_cuda_add(dy.f(), dx.f(), (int64_t)x.size(), &err), NIB_OK) << err.msg;
    std::vector<uint16_t> ph((size_t)8 * row);
    std::vector<float> sum(y.size());
    down(ph.data(), pool.p, ph.size() * 2);
    down(sum.data(), dy.p, sum.size() * 4);
    for (int t = 0; t < n_tok; t++)
        for (int i = 0; i < row; i++) ASSERT_EQ(ph[(size_t)slots[t] * row + i], nib_fp32_to_fp16(x[(size_t)t * row + i]));
    for (size_t i = 0; i < sum.size(); i++) ASSERT_EQ(sum[i], y[i] + x[i]);
}
TEST(Cuda, WeightUploadWritesTheGpuLayout) {
    NEED_DEVICE();
    struct Case { int type; int64_t rows, cols; };
    /* the split types over 8 MiB (the upload's chunk: two chunks, the last partial), and kept types */
    const Case cases[] = { { NIB_TYPE_Q4_0, 8000, 2048 }, { NIB_TYPE_Q8_0, 4100, 2048 }, { NIB_TYPE_Q6_K, 4100, 2560 },
                           { NIB_TYPE_Q4_K, 4100, 4096 }, { NIB_TYPE_Q4_0, 3, 96 },      { NIB_TYPE_Q6_K, 1, 256 },
                           { NIB_TYPE_Q4_K, 5, 512 },     { NIB_TYPE_F16, 3, 40 },       { NIB_TYPE_Q5_K, 2, 256 } };
    std::mt19937 g(5);
    for (const Case &k : cases) {
        SCOPED_TRACE(std::string(nib_type_name(k.type)) + " " + std::to_string(k.rows) + " x " + std::to_string(k.cols));
        std::vector<uint8_t> w(nib_type_row_bytes(k.type, k.cols) * (size_t)k.rows); /* any bytes: the layout only moves them */
        for (auto &b : w) b = (uint8_t)g();
        Dev dw(w.size());
        up_weights(k.type, k.rows, k.cols, w, dw.p);
        std::vector<uint8_t> got(w.size());
        down(got.data(), dw.p, got.size());
        EXPECT_TRUE(got == gpu_layout(k.type, w));
    }
}

TEST(Cuda, MatvecTakesUnalignedOperands) {
    NEED_DEVICE();
    /* W 2 bytes and x 4 bytes past 16-byte alignment: the generic kernel, reading the same layout */
    const int64_t rows = 37, cols = 512;
    std::vector<float> x = randoms(cols, 41);
    for (int type : { NIB_TYPE_Q4_0, NIB_TYPE_Q8_0, NIB_TYPE_Q6_K, NIB_TYPE_Q4_K, NIB_TYPE_F16 }) {
        SCOPED_TRACE(nib_type_name(type));
        std::vector<float> deq;
        std::vector<uint8_t> w = weights(type, rows, cols, 4000 + type, &deq);
        std::vector<double> want(rows);
        for (int64_t r = 0; r < rows; r++)
            for (int64_t c = 0; c < cols; c++) want[r] += (double)deq[r * cols + c] * x[c];
        Dev dw(w.size()), dw2(w.size() + 16), dx((cols + 4) * 4), dy(rows * 4);
        up_weights(type, rows, cols, w, dw.p);
        nib_error err = {};
        uint8_t *w2 = static_cast<uint8_t *>(dw2.p) + 2;
        ASSERT_EQ(nib_cuda_copy(w2, dw.p, w.size(), &err), NIB_OK) << err.msg;
        up(dx.f() + 1, x.data(), cols * 4);
        ASSERT_EQ(nib_cuda_matvec(type, w2, rows, cols, dx.f() + 1, dy.f(), nullptr, &err), NIB_OK) << err.msg;
        std::vector<float> got(rows);
        down(got.data(), dy.p, rows * 4);
        EXPECT_LT(rel_err(got, want), 1e-5); /* x stays float here */
    }
}
#endif
