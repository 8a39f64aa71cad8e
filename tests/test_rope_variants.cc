// RoPE variants against llama.cpp: stories260K-f32 with linear scaling,
// YaRN, Llama 3 frequency factors (rope_freqs.weight) and another base.
// The variants are rebuilt here with nib's writer exactly as
// scripts/gen-rope-golden.sh built them for llama.cpp, whose logits are in
// tests/data/rope/. Tolerance: the F32 one of test_forward_golden.cc.
#include <gtest/gtest.h>

#include "nib.h"
#include "gguf_variant.h"
#include "test_util.h"

#include <cjson/cJSON.h>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

namespace {

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
    nib_batch b = { (int32_t)prompt.size(), prompt.data(), nullptr, nullptr, want.data(), 0 };
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
    const std::string tmp = nib_test_temp_path("nib_rope_variant.gguf");
    TensorEdit freqs;
    freqs.name = "rope_freqs.weight";
    freqs.add_f32 = { 1, 2, 4, 8 };
    struct Variant {
        const char *name;
        std::vector<GgufEdit> kv;
        std::vector<TensorEdit> tensors;
    } variants[] = {
        { "linear", { { "llama.rope.scaling.type", gv_str("linear") }, { "llama.rope.scaling.factor", gv_f32(2) } }, {} },
        { "yarn",
          { { "llama.rope.scaling.type", gv_str("yarn") }, { "llama.rope.scaling.factor", gv_f32(4) },
            { "llama.rope.scaling.original_context_length", gv_u32(512) } },
          {} },
        { "freqs", {}, { freqs } },
        { "base", { { "llama.rope.freq_base", gv_f32(5000) } }, {} },
    };
    for (const auto &v : variants) {
        SCOPED_TRACE(v.name);
        ASSERT_EQ(write_gguf_variant(src, tmp, v.kv, v.tensors), "");
        compare(tmp, data + v.name + ".json");
    }
    std::remove(tmp.c_str());
}
