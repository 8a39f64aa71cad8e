// The CUDA kernels (kernels/cuda, built with -DNIB_CUDA=ON) against the CPU
// reference, on the device. Without a device every test skips, saying so;
// the device layer's "no device" answers are checked everywhere. Not
// compiled at all in a build without CUDA.
#ifdef NIB_CUDA
#include <gtest/gtest.h>

#include "cuda_backend.h"
#include "nib.h"

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
#endif
