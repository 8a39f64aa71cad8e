// Model loading refuses what it cannot run, with one message naming the
// problem: unsupported architecture, missing / mis-shaped / non-computable
// tensors, inconsistent hyperparameters. Variants of the default model are
// written in code.
#include <gtest/gtest.h>

#include <cstring>

#include "gguf_variant.h"
#include "test_util.h"

#include <cstdio>
#include <string>

namespace {

const std::string base_model = std::string(NIB_SOURCE_DIR) + "/models/stories260K-q8_0.gguf";

std::string load_error(const std::vector<GgufEdit> &kv, const std::vector<TensorEdit> &t = {}) {
    std::string path = nib_test_temp_path("nib_model_variant.gguf");
    std::string w = write_gguf_variant(base_model, path, kv, t);
    if (!w.empty()) return "writer: " + w;
    nib_model *m = nullptr;
    nib_error err = {};
    int rc = nib_model_load(path.c_str(), nullptr, &m, &err);
    nib_model_free(m);
    std::remove(path.c_str());
    return rc == NIB_OK ? "" : err.msg;
}

TensorEdit drop(const char *name) {
    TensorEdit e;
    e.name = name;
    e.drop = true;
    return e;
}

TensorEdit reshape(const char *name, std::vector<int64_t> ne, int type = -1) {
    TensorEdit e;
    e.name = name;
    e.shape = ne;
    e.type = type;
    return e;
}

void expect(const std::string &msg, const std::string &needle) {
    EXPECT_NE(msg.find(needle), std::string::npos) << "message: " << msg << "\nexpected: " << needle;
}

} // namespace

TEST(ModelLoad, UnmodifiedVariantLoads) { EXPECT_EQ(load_error({}), ""); }

TEST(ModelLoad, UnsupportedArchitecture) {
    expect(load_error({ { "general.architecture", gv_str("mamba") } }),
           "architecture 'mamba' is not supported (nib supports llama, qwen2, qwen3, qwen3moe)");
}

TEST(ModelLoad, MissingTensor) {
    expect(load_error({}, { drop("blk.3.ffn_up.weight") }), "tensor 'blk.3.ffn_up.weight' is missing");
    expect(load_error({}, { drop("output_norm.weight") }), "tensor 'output_norm.weight' is missing");
}

TEST(ModelLoad, MisShapedTensor) {
    expect(load_error({}, { reshape("blk.0.attn_q.weight", { 64, 32 }) }),
           "tensor 'blk.0.attn_q.weight' has shape [64, 32, 1, 1], expected [64, 64]");
    expect(load_error({}, { reshape("blk.2.attn_norm.weight", { 32 }) }), "tensor 'blk.2.attn_norm.weight' has shape [32");
}

TEST(ModelLoad, TypeNibCannotCompute) {
    expect(load_error({}, { reshape("blk.1.attn_k.weight", { 64, 32 }, NIB_TYPE_IQ4_NL) }),
           "tensor 'blk.1.attn_k.weight' has type IQ4_NL, which nib cannot compute with yet");
}

TEST(ModelLoad, InconsistentHyperparameters) {
    expect(load_error({ { "llama.attention.head_count_kv", gv_u32(3) } }), "8 attention heads are not a multiple of 3 KV heads");
    expect(load_error({ { "llama.embedding_length", gv_u32(0) } }), "a size is zero");
    expect(load_error({ { "llama.rope.dimension_count", gv_u32(9) } }), "rotary dims are not supported");
    expect(load_error({ { "llama.rope.scaling.type", gv_str("longrope") }, { "llama.rope.scaling.factor", gv_f32(2) } }),
           "rope scaling type 'longrope' is not supported");
    expect(load_error({ { "llama.attention.layer_norm_rms_epsilon", gv_str("tiny") } }), "layer_norm_rms_epsilon");
}

/* nib_model_params.no_mmap: every matmul weight is copied into memory, and
 * the logits are the mapped model's, bit for bit (the kernels read the same
 * bytes), for a prompt batch and a one-token step, across the weight types
 * that stay mapped by default (Q8_0, K-quants, floats) and MoE experts. */
TEST(ModelLoad, NoMmapGivesTheSameLogits) {
    const std::string dir = nib_test_shared_dir() + "/models/synth/";
    for (const char *name : { "llama-q8_0.gguf", "llama-q4km.gguf", "llama-f16.gguf", "qwen3moe-q4km.gguf" }) {
        std::vector<float> logits[2];
        for (int copy = 0; copy < 2; copy++) {
            struct nib_model_params mp = nib_model_default_params();
            mp.no_mmap = copy == 1;
            struct nib_model *m = nullptr;
            struct nib_error err = {};
            ASSERT_EQ(nib_model_load((dir + name).c_str(), &mp, &m, &err), NIB_OK) << name << ": " << err.msg;
            struct nib_context_params cp = nib_context_default_params();
            cp.n_ctx = 64;
            cp.n_threads = 2;
            struct nib_context *c = nullptr;
            ASSERT_EQ(nib_context_new(m, &cp, &c, &err), NIB_OK) << err.msg;
            const int32_t n_vocab = nib_model_n_vocab(m);
            int32_t toks[6] = { 1, 5, 9, 13, 17, 21 };
            for (auto &t : toks) t %= n_vocab;
            struct nib_batch b = { 5, toks, nullptr, nullptr, nullptr, 0 };
            ASSERT_EQ(nib_decode(c, &b, &err), NIB_OK) << err.msg;
            const float *l = nib_context_logits(c, 4); /* the batch's last token asks for logits */
            ASSERT_NE(l, nullptr);
            logits[copy].assign(l, l + n_vocab);
            struct nib_batch one = { 1, toks + 5, nullptr, nullptr, nullptr, 0 };
            ASSERT_EQ(nib_decode(c, &one, &err), NIB_OK) << err.msg;
            l = nib_context_logits(c, 0);
            ASSERT_NE(l, nullptr);
            logits[copy].insert(logits[copy].end(), l, l + n_vocab);
            nib_context_free(c);
            nib_model_free(m);
        }
        ASSERT_EQ(logits[0].size(), logits[1].size());
        EXPECT_EQ(memcmp(logits[0].data(), logits[1].data(), logits[0].size() * sizeof(float)), 0) << name;
    }
}

