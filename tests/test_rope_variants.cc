// RoPE variants against llama.cpp: stories260K-f32 with linear scaling,
// YaRN, Llama 3 frequency factors (rope_freqs.weight) and another base.
// The variants are rebuilt here with nib's writer exactly as
// scripts/gen-rope-golden.sh built them for llama.cpp, whose logits are in
// tests/data/rope/. Tolerance: the F32 one of test_forward_golden.cc.
#include <gtest/gtest.h>

#include "nib.h"
#include "test_util.h"

#include <cjson/cJSON.h>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace {

struct Kv {
    std::string key;
    nib_gguf_value v;
};

nib_gguf_value str_v(const char *s) {
    nib_gguf_value v{};
    v.type = NIB_GGUF_STRING;
    v.v.str.ptr = s;
    v.v.str.len = std::strlen(s);
    return v;
}
nib_gguf_value f32_v(double x) {
    nib_gguf_value v{};
    v.type = NIB_GGUF_FLOAT32;
    v.v.f64 = x;
    return v;
}
nib_gguf_value u32_v(uint64_t x) {
    nib_gguf_value v{};
    v.type = NIB_GGUF_UINT32;
    v.v.u64 = x;
    return v;
}

/* Copies src to dst with keys replaced/added and an optional F32 vector tensor. */
void write_variant(const std::string &src, const std::string &dst, const std::vector<Kv> &edits, const char *tname,
                   const std::vector<float> &tvals) {
    nib_gguf *g = nullptr;
    nib_gguf_writer *w = nullptr;
    nib_error err = {};
    ASSERT_EQ(nib_gguf_open(src.c_str(), nullptr, &g, &err), NIB_OK) << err.msg;
    ASSERT_EQ(nib_gguf_writer_open(dst.c_str(), (uint32_t)nib_gguf_alignment(g), &w, &err), NIB_OK) << err.msg;
    for (int64_t i = 0; i < nib_gguf_n_kv(g); i++) {
        const char *k = nib_gguf_kv_key(g, i);
        bool replaced = !std::strcmp(k, "general.alignment");
        for (const auto &e : edits) replaced |= e.key == k;
        if (!replaced) {
            ASSERT_EQ(nib_gguf_writer_set_kv(w, k, nib_gguf_kv_value(g, i), &err), NIB_OK) << err.msg;
        }
    }
    for (const auto &e : edits) ASSERT_EQ(nib_gguf_writer_set_kv(w, e.key.c_str(), &e.v, &err), NIB_OK) << err.msg;
    for (int64_t i = 0; i < nib_gguf_n_tensors(g); i++) {
        const nib_gguf_tensor *t = nib_gguf_get_tensor(g, i);
        ASSERT_EQ(nib_gguf_writer_add_tensor(w, t->name, t->type, t->n_dims, t->ne, &err), NIB_OK);
    }
    int64_t tn = (int64_t)tvals.size();
    if (tname) {
        ASSERT_EQ(nib_gguf_writer_add_tensor(w, tname, NIB_TYPE_F32, 1, &tn, &err), NIB_OK);
    }
    ASSERT_EQ(nib_gguf_writer_write_header(w, &err), NIB_OK);
    for (int64_t i = 0; i < nib_gguf_n_tensors(g); i++) {
        const nib_gguf_tensor *t = nib_gguf_get_tensor(g, i);
        ASSERT_EQ(nib_gguf_writer_write_data(w, t->data, t->n_bytes, &err), NIB_OK);
    }
    if (tname) {
        ASSERT_EQ(nib_gguf_writer_write_data(w, tvals.data(), tvals.size() * sizeof(float), &err), NIB_OK);
    }
    ASSERT_EQ(nib_gguf_writer_close(w, &err), NIB_OK) << err.msg;
    nib_gguf_writer_free(w);
    nib_gguf_free(g);
}

void compare(const std::string &model, const std::string &golden) {
    std::vector<uint8_t> raw = nib_test_read_file(golden);
    raw.push_back(0);
    cJSON *root = cJSON_Parse((const char *)raw.data());
    ASSERT_NE(root, nullptr) << golden;
    std::vector<int32_t> prompt;
    const cJSON *e = nullptr;
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(root, "prompt_tokens")) prompt.push_back((int32_t)e->valuedouble);
    nib_model *m = nullptr;
    nib_context *c = nullptr;
    nib_error err = {};
    ASSERT_EQ(nib_model_load(model.c_str(), nullptr, &m, &err), NIB_OK) << err.msg;
    nib_context_params cp = nib_context_default_params();
    cp.n_ctx = 64;
    ASSERT_EQ(nib_context_new(m, &cp, &c, &err), NIB_OK) << err.msg;
    std::vector<int8_t> want(prompt.size(), 1);
    nib_batch b = { (int32_t)prompt.size(), prompt.data(), nullptr, nullptr, want.data() };
    ASSERT_EQ(nib_decode(c, &b, &err), NIB_OK) << err.msg;
    double worst = 0, S = 0;
    const cJSON *pos = nullptr;
    cJSON_ArrayForEach(pos, cJSON_GetObjectItem(root, "positions")) {
        const cJSON *t = nullptr;
        cJSON_ArrayForEach(t, cJSON_GetObjectItem(pos, "top")) S = std::max(S, std::fabs(cJSON_GetObjectItem(t, "logit")->valuedouble));
    }
    const double tol = std::max(5e-4, 2e-4 * S);
    cJSON_ArrayForEach(pos, cJSON_GetObjectItem(root, "positions")) {
        const float *lg = nib_context_logits(c, (int32_t)cJSON_GetObjectItem(pos, "pos")->valuedouble);
        ASSERT_NE(lg, nullptr);
        const cJSON *t = nullptr;
        cJSON_ArrayForEach(t, cJSON_GetObjectItem(pos, "top")) {
            double d = std::fabs(lg[(int)cJSON_GetObjectItem(t, "id")->valuedouble] - cJSON_GetObjectItem(t, "logit")->valuedouble);
            worst = std::max(worst, d);
            EXPECT_LE(d, tol) << golden;
        }
    }
    std::printf("%-28s max |dlogit| %.2e (tolerance %.1e)\n", golden.substr(golden.rfind('/') + 1).c_str(), worst, tol);
    nib_context_free(c);
    nib_model_free(m);
    cJSON_Delete(root);
}

} // namespace

TEST(RopeVariants, MatchLlamaCpp) {
    if (!nib_test_have_shared()) GTEST_SKIP() << "no ../shared";
    const std::string src = nib_test_shared_dir() + "/models/stories260K/stories260K-f32.gguf";
    const std::string data = std::string(NIB_SOURCE_DIR) + "/tests/data/rope/";
    const std::string tmp = ::testing::TempDir() + "nib_rope_variant.gguf";
    struct Variant {
        const char *name;
        std::vector<Kv> edits;
        const char *tensor;
        std::vector<float> vals;
    } variants[] = {
        { "linear", { { "llama.rope.scaling.type", str_v("linear") }, { "llama.rope.scaling.factor", f32_v(2) } }, nullptr, {} },
        { "yarn",
          { { "llama.rope.scaling.type", str_v("yarn") }, { "llama.rope.scaling.factor", f32_v(4) },
            { "llama.rope.scaling.original_context_length", u32_v(512) } },
          nullptr, {} },
        { "freqs", {}, "rope_freqs.weight", { 1, 2, 4, 8 } },
        { "base", { { "llama.rope.freq_base", f32_v(5000) } }, nullptr, {} },
    };
    for (const auto &v : variants) {
        SCOPED_TRACE(v.name);
        write_variant(src, tmp, v.edits, v.tensor, v.vals);
        compare(tmp, data + v.name + ".json");
    }
    std::remove(tmp.c_str());
}
