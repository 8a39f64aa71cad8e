// The CUDA kernels (kernels/cuda, built with -DNIB_CUDA=ON) against the CPU
// reference, on the device. Without a device every test skips, saying so;
// the device layer's "no device" answers are checked everywhere. Not
// compiled at all in a build without CUDA.
#ifdef NIB_CUDA
#include <gtest/gtest.h>

#include "cuda_backend.h"
#include "nib.h"
#include "formats/fp16.h"
#include "kernels/cpu/ops_ref.h"
#include "test_util.h"

#include <algorithm>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace {

const int kTypes[] = { NIB_TYPE_F32,  NIB_TYPE_F16,  NIB_TYPE_BF16, NIB_TYPE_Q4_0, NIB_TYPE_Q4_1,
                       NIB_TYPE_Q5_0, NIB_TYPE_Q5_1, NIB_TYPE_Q8_0, NIB_TYPE_Q2_K, NIB_TYPE_Q3_K,
                       NIB_TYPE_Q4_K, NIB_TYPE_Q5_K, NIB_TYPE_Q6_K };

#define NEED_DEVICE()                                                                                      \
    do {                                                                                                   \
        if (nib_cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device: the kernels compiled but cannot run here"; \
        nib_error e_ = {};                                                                                 \
        ASSERT_EQ(nib_cuda_use_device(0, &e_), NIB_OK) << e_.msg;                                          \
    } while (0)

std::vector<float> randoms(size_t n, unsigned seed, float scale = 1.0f) {
    std::mt19937 g(seed);
    std::normal_distribution<float> d(0.0f, scale);
    std::vector<float> v(n);
    for (auto &x : v) x = d(g);
    return v;
}

/* A device buffer that frees itself. */
struct Dev {
    void *p = nullptr;
    explicit Dev(size_t n) {
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
    const int64_t rows = 67, cols = 1024;
    std::vector<float> x = randoms(cols, 7);
    Dev dx(cols * 4), dy(rows * 4), scratch(nib_cuda_matvec_scratch_bytes(cols));
    up(dx.p, x.data(), cols * 4);
    for (int type : kTypes) {
        SCOPED_TRACE(nib_type_name(type));
        std::vector<float> deq;
        std::vector<uint8_t> w = weights(type, rows, cols, 2000 + type, &deq);
        std::vector<double> want(rows);
        for (int64_t r = 0; r < rows; r++)
            for (int64_t c = 0; c < cols; c++) want[r] += (double)deq[r * cols + c] * x[c];
        Dev dw(w.size());
        up(dw.p, w.data(), w.size());
        nib_error err = {};
        ASSERT_EQ(nib_cuda_matvec(type, dw.p, rows, cols, dx.f(), dy.f(), scratch.p, &err), NIB_OK) << err.msg;
        std::vector<float> got(rows);
        down(got.data(), dy.p, rows * 4);
        /* dp4a types quantize x to int8 (as the CPU's Q8 partner types do): ~1e-2; float paths ~1e-6 */
        const double bound = type == NIB_TYPE_Q4_0 || type == NIB_TYPE_Q8_0 ? 1e-2 : 1e-5;
        EXPECT_LT(rel_err(got, want), bound);
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
        up(dw.p, w.data(), w.size());
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
}
TEST(Cuda, RopeMatchesTheCpuReference) {
    NEED_DEVICE();
    const int n_tok = 3, n_head = 4, hd = 128;
    const int32_t pos[n_tok] = { 0, 17, 4000 };
    for (int neox = 0; neox <= 1; neox++) {
        SCOPED_TRACE(neox ? "neox" : "normal");
        std::vector<float> x = randoms((size_t)n_tok * n_head * hd, 21 + neox), want = x;
        nib_rope_params cp = {};
        cp.n_rot = hd, cp.neox = neox, cp.freq_base = 10000.0f, cp.freq_scale = 1.0f, cp.attn_factor = 1.0f;
        for (int t = 0; t < n_tok; t++) nib_op_rope(want.data() + (size_t)t * n_head * hd, n_head, hd, pos[t], &cp);
        Dev dx(x.size() * 4), dp(sizeof pos);
        up(dx.p, x.data(), x.size() * 4);
        up(dp.p, pos, sizeof pos);
        nib_cuda_rope_params gp = { hd, neox, 10000.0f, 1.0f, 1.0f, nullptr };
        nib_error err = {};
        ASSERT_EQ(nib_cuda_rope(dx.f(), n_tok, n_head, hd, static_cast<const int32_t *>(dp.p), &gp, &err), NIB_OK) << err.msg;
        std::vector<float> got(x.size());
        down(got.data(), dx.p, got.size() * 4);
        std::vector<double> w(want.begin(), want.end());
        EXPECT_LT(rel_err(got, w), 1e-5); /* cos/sin: CUDA's against libm's */
    }
}

TEST(Cuda, DecodeAttentionOverPagedSlotsMatchesAReference) {
    NEED_DEVICE();
    const int n_head = 8, n_head_kv = 2, hd = 64, row = n_head_kv * hd;
    for (int32_t n_kv : { 1, 255, 700 }) {
        SCOPED_TRACE(n_kv);
        const int n_slots = 1024;
        std::vector<int32_t> slots(n_kv);
        for (int32_t t = 0; t < n_kv; t++) slots[t] = (int32_t)((t * 37 + 11) % n_slots); /* scattered, distinct */
        std::vector<float> q = randoms((size_t)n_head * hd, 31), kf = randoms((size_t)n_slots * row, 32),
                           vf = randoms((size_t)n_slots * row, 33);
        std::vector<uint16_t> kh(kf.size()), vh(vf.size());
        for (size_t i = 0; i < kf.size(); i++) kh[i] = nib_fp32_to_fp16(kf[i]), vh[i] = nib_fp32_to_fp16(vf[i]);
        const float scale = 1.0f / std::sqrt((float)hd);
        std::vector<double> want((size_t)n_head * hd);
        for (int h = 0; h < n_head; h++) {
            const int hk = h / (n_head / n_head_kv);
            std::vector<double> s(n_kv);
            double mx = -1e300, l = 0;
            for (int32_t t = 0; t < n_kv; t++) {
                double a = 0;
                for (int d = 0; d < hd; d++) a += (double)q[h * hd + d] * nib_fp16_to_fp32(kh[(size_t)slots[t] * row + hk * hd + d]);
                s[t] = a * scale;
                mx = std::max(mx, s[t]);
            }
            for (int32_t t = 0; t < n_kv; t++) l += (s[t] = std::exp(s[t] - mx));
            for (int d = 0; d < hd; d++) {
                double a = 0;
                for (int32_t t = 0; t < n_kv; t++) a += s[t] * nib_fp16_to_fp32(vh[(size_t)slots[t] * row + hk * hd + d]);
                want[h * hd + d] = a / l;
            }
        }
        Dev dq(q.size() * 4), dk(kh.size() * 2), dv(vh.size() * 2), ds(slots.size() * 4), dout(want.size() * 4),
            scratch(nib_cuda_attention_scratch_bytes(n_head, hd, n_kv));
        up(dq.p, q.data(), q.size() * 4);
        up(dk.p, kh.data(), kh.size() * 2);
        up(dv.p, vh.data(), vh.size() * 2);
        up(ds.p, slots.data(), slots.size() * 4);
        nib_error err = {};
        ASSERT_EQ(nib_cuda_attention_decode(dq.f(), dk.p, dv.p, static_cast<const int32_t *>(ds.p), n_kv, n_head, n_head_kv, hd,
                                            scale, dout.f(), scratch.p, &err),
                  NIB_OK)
            << err.msg;
        std::vector<float> got(want.size());
        down(got.data(), dout.p, got.size() * 4);
        EXPECT_LT(rel_err(got, want), 1e-5);
    }
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
namespace {

struct Ctx {
    nib_context *c = nullptr;
    Ctx(const nib_model *m, int ngl, nib_error *err) {
        nib_context_params p = nib_context_default_params();
        p.n_ctx = 256;
        p.n_batch = 64;
        p.n_gpu_layers = ngl;
        nib_context_new(m, &p, &c, err);
    }
    ~Ctx() { nib_context_free(c); }
};

/* Logits of every prompt position (one batch), then `gen` greedy steps. */
void run(nib_context *c, const std::vector<int32_t> &prompt, int gen, int32_t n_vocab, std::vector<std::vector<float>> *rows,
         std::vector<int32_t> *greedy) {
    std::vector<int8_t> want(prompt.size(), 1);
    nib_batch b = { (int32_t)prompt.size(), prompt.data(), nullptr, nullptr, want.data(), 0 };
    nib_error err = {};
    ASSERT_EQ(nib_decode(c, &b, &err), NIB_OK) << err.msg;
    for (size_t i = 0; i < prompt.size(); i++) {
        const float *l = nib_context_logits(c, (int32_t)i);
        rows->emplace_back(l, l + n_vocab);
    }
    int32_t tok = (int32_t)(std::max_element(rows->back().begin(), rows->back().end()) - rows->back().begin());
    for (int s = 0; s < gen; s++) {
        greedy->push_back(tok);
        nib_batch one = { 1, &tok, nullptr, nullptr, nullptr, 0 };
        ASSERT_EQ(nib_decode(c, &one, &err), NIB_OK) << err.msg;
        const float *l = nib_context_logits(c, 0);
        rows->emplace_back(l, l + n_vocab);
        tok = (int32_t)(std::max_element(l, l + n_vocab) - l);
    }
}

}  // namespace

TEST(Cuda, GpuLayersWithoutADeviceAreAClearError) {
    if (nib_cuda_device_count() > 0) GTEST_SKIP() << "a device is present";
    if (!nib_test_have_shared()) GTEST_SKIP() << "no shared models";
    nib_model *m = nullptr;
    nib_error err = {};
    ASSERT_EQ(nib_model_load((nib_test_shared_dir() + "/models/stories260K/stories260K-q8_0.gguf").c_str(), nullptr, &m, &err),
              NIB_OK);
    Ctx c(m, 99, &err);
    EXPECT_EQ(c.c, nullptr);
    EXPECT_NE(std::string(err.msg).find("no CUDA device"), std::string::npos) << err.msg;
    nib_model_free(m);
}

/* Every dense golden-fixture model: the GPU (all layers, and one layer) against
 * the CPU on a prompt's logits and a greedy continuation. Bound: quantized
 * weights meet F16 (prefill GEMM) or int8 (decode matvec) activations on the
 * GPU and Q8 ones on the CPU, so 2e-2 of the largest |logit|; greedy tokens
 * equal until the CPU's top-2 gap falls below twice that. */
TEST(Cuda, GpuForwardMatchesTheCpuOnEveryDenseFixture) {
    NEED_DEVICE();
    if (!nib_test_have_shared()) GTEST_SKIP() << "no shared models";
    std::vector<std::string> files;
    for (const char *sub : { "stories260K", "synth", "trained" })
        for (const std::string &p : nib_test_list_files(nib_test_shared_dir() + "/models/" + sub, ".gguf"))
            if (p.find("moe") == std::string::npos) files.push_back(p);
    ASSERT_GE(files.size(), 20u);
    for (const std::string &path : files) {
        SCOPED_TRACE(path);
        nib_model *m = nullptr;
        nib_error err = {};
        ASSERT_EQ(nib_model_load(path.c_str(), nullptr, &m, &err), NIB_OK) << err.msg;
        const nib_vocab *v = nib_model_vocab(m);
        int32_t ids[64];
        const int64_t n = nib_tokenize(v, "Once upon a time there was a little", 35, NIB_TOKENIZE_ADD_SPECIAL, ids, 64, &err);
        ASSERT_GT(n, 1) << err.msg;
        std::vector<int32_t> prompt(ids, ids + n);
        const int32_t nv = nib_model_n_vocab(m);
        std::vector<std::vector<float>> cpu_rows, gpu_rows, part_rows;
        std::vector<int32_t> cpu_greedy, gpu_greedy, part_greedy;
        {
            Ctx c(m, 0, &err);
            ASSERT_NE(c.c, nullptr) << err.msg;
            run(c.c, prompt, 16, nv, &cpu_rows, &cpu_greedy);
        }
        {
            Ctx c(m, 99, &err);
            ASSERT_NE(c.c, nullptr) << err.msg;
            run(c.c, prompt, 16, nv, &gpu_rows, &gpu_greedy);
        }
        {
            Ctx c(m, 1, &err);
            ASSERT_NE(c.c, nullptr) << err.msg;
            run(c.c, prompt, 16, nv, &part_rows, &part_greedy);
        }
        for (const auto *other : { &gpu_rows, &part_rows }) {
            double s = 0, worst = 0;
            for (size_t r = 0; r < cpu_rows.size(); r++)
                for (int32_t i = 0; i < nv; i++) {
                    s = std::max(s, (double)std::fabs(cpu_rows[r][i]));
                    worst = std::max(worst, (double)std::fabs(cpu_rows[r][i] - (*other)[r][i]));
                }
            EXPECT_LT(worst, 2e-2 * s) << (other == &gpu_rows ? "all layers" : "one layer") << ": largest |logit| " << s;
            const double tol = 2 * 2e-2 * s;
            const auto &g = other == &gpu_rows ? gpu_greedy : part_greedy;
            for (size_t k = 0; k < cpu_greedy.size(); k++) {
                std::vector<float> row = cpu_rows[prompt.size() - 1 + k];
                std::nth_element(row.begin(), row.begin() + 1, row.end(), std::greater<float>());
                if (row[0] - row[1] < tol) break; /* a near-tie: the rest may differ */
                ASSERT_EQ(g[k], cpu_greedy[k]) << "greedy step " << k;
            }
        }
        nib_model_free(m);
    }
}
#endif
