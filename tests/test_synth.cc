// `nib synth` end to end (the built binary through popen): determinism, the
// value definition pinned against an independent implementation, every type
// loading and decoding in nib, metadata and tensor layouts per architecture,
// llama.cpp's per-tensor mix choices, --vocab-from, stream independence, and
// one-line errors.
#include <gtest/gtest.h>

#include "nib.h"
#include "cli_runner.h"
#include "test_util.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <set>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace {


/* Small enough to write in milliseconds, rows of 256 so every K type applies. */
const std::string kSmall = "--n-embd 256 --n-layer 1 --n-head 4 --n-head-kv 2 --n-ff 256 --n-vocab 300 --n-ctx 128";

struct Synth {
    std::string path;
    explicit Synth(const std::string &name) : path(nib_test_temp_path("synth_" + name + ".gguf")) {}
    ~Synth() { std::remove(path.c_str()); }
    CliRun run(const std::string &args) const { return run_nib("synth -o '" + path + "' " + args); }
};

struct Gguf {
    nib_gguf *g = nullptr;
    explicit Gguf(const std::string &path) {
        nib_error err = {};
        EXPECT_EQ(nib_gguf_open(path.c_str(), nullptr, &g, &err), NIB_OK) << err.msg;
    }
    ~Gguf() { nib_gguf_free(g); }
    const nib_gguf_tensor *tensor(const char *name) const {
        int64_t i = g ? nib_gguf_find_tensor(g, name) : -1;
        return i < 0 ? nullptr : nib_gguf_get_tensor(g, i);
    }
    std::string type(const char *name) const {
        const nib_gguf_tensor *t = tensor(name);
        return t ? nib_type_name(t->type) : "(missing)";
    }
    std::vector<int64_t> shape(const char *name) const {
        const nib_gguf_tensor *t = tensor(name);
        if (!t) return {};
        return std::vector<int64_t>(t->ne, t->ne + t->n_dims);
    }
    std::vector<uint8_t> bytes(const char *name) const {
        const nib_gguf_tensor *t = tensor(name);
        if (!t) return {};
        const uint8_t *p = static_cast<const uint8_t *>(t->data);
        return std::vector<uint8_t>(p, p + t->n_bytes);
    }
    std::vector<float> floats(const char *name) const {
        std::vector<uint8_t> b = bytes(name);
        std::vector<float> f(b.size() / 4);
        if (!b.empty()) memcpy(f.data(), b.data(), b.size());
        return f;
    }
    int64_t u64(const char *key) const {
        uint64_t v = 0;
        return nib_gguf_get_u64(g, key, &v, nullptr) == NIB_OK ? (int64_t)v : -1;
    }
    double f64(const char *key) const {
        double v = NAN;
        nib_gguf_get_f64(g, key, &v, nullptr);
        return v;
    }
    std::string str(const char *key) const {
        const char *s = nullptr;
        return nib_gguf_get_str(g, key, &s, nullptr) == NIB_OK ? s : "(missing)";
    }
};

std::string file_sha(const std::string &path) {
    std::vector<uint8_t> b = nib_test_read_file(path);
    return nib_test_sha256_hex(b.data(), b.size());
}

uint32_t float_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

/* Loads the model, decodes a 4-token prompt then 3 single tokens; all logits finite. */
void expect_decodes(const std::string &path, const std::string &what) {
    nib_error err = {};
    nib_model *m = nullptr;
    ASSERT_EQ(nib_model_load(path.c_str(), nullptr, &m, &err), NIB_OK) << what << ": " << err.msg;
    nib_context_params cp = nib_context_default_params();
    cp.n_ctx = 32;
    cp.n_threads = 2;
    nib_context *c = nullptr;
    ASSERT_EQ(nib_context_new(m, &cp, &c, &err), NIB_OK) << what << ": " << err.msg;
    int32_t n_vocab = nib_model_n_vocab(m);
    std::vector<int32_t> prompt = { 1, 260, 300 % n_vocab, 13 };
    nib_batch b = { (int32_t)prompt.size(), prompt.data(), nullptr, nullptr, nullptr, 0 };
    for (int step = 0; step < 4; step++) {
        ASSERT_EQ(nib_decode(c, &b, &err), NIB_OK) << what << " step " << step << ": " << err.msg;
        const float *lg = nib_context_logits(c, b.n - 1);
        ASSERT_NE(lg, nullptr) << what;
        int32_t best = 0;
        for (int32_t i = 0; i < n_vocab; i++) {
            ASSERT_TRUE(std::isfinite(lg[i])) << what << " logit " << i;
            if (lg[i] > lg[best]) best = i;
        }
        prompt = { best };
        b = { 1, prompt.data(), nullptr, nullptr, nullptr, 0 };
    }
    nib_context_free(c);
    nib_model_free(m);
}

std::vector<int32_t> tokenize(const nib_vocab *v, const std::string &text) {
    std::vector<int32_t> ids(text.size() + 3);
    int64_t n = nib_tokenize(v, text.data(), text.size(), NIB_TOKENIZE_ADD_SPECIAL, ids.data(), (int64_t)ids.size(), nullptr);
    EXPECT_GE(n, 0);
    ids.resize(n > 0 ? (size_t)n : 0);
    return ids;
}

} // namespace

TEST(Synth, SameSeedSameBytesOtherSeedDiffers) {
    Synth a("seed_a"), b("seed_b"), c("seed_c"), d("seed_d");
    ASSERT_EQ(a.run(kSmall + " --type Q4_K_M --seed 5").status, 0);
    CliRun r = b.run(kSmall + " --type Q4_K_M --seed 5 -t 1"); /* thread count must not matter */
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(file_sha(a.path), file_sha(b.path));
    ASSERT_EQ(c.run(kSmall + " --type Q4_K_M --seed 6").status, 0);
    EXPECT_NE(file_sha(a.path), file_sha(c.path));
    ASSERT_EQ(d.run(kSmall + " --type Q4_K_M --seed 5 --std-blocks 32").status, 0);
    EXPECT_NE(file_sha(a.path), file_sha(d.path));
    EXPECT_TRUE(r.out.empty()); /* quiet on stdout; progress only on a terminal or with --progress */
}

/* Values computed by an independent (Python, float32-exact) implementation of
 * the definition in tools/synth_random.c. */
TEST(Synth, ValuesFollowTheDocumentedDefinition) {
    Synth plain("def_plain"), blocks("def_blocks"), seed7("def_seed7");
    ASSERT_EQ(plain.run("--type F32 --n-layer 1").status, 0);
    ASSERT_EQ(blocks.run("--type F32 --n-layer 1 --std-blocks 3").status, 0);
    ASSERT_EQ(seed7.run("--type F32 --n-layer 1 --seed 7").status, 0);
    const uint32_t row0[8] = { 0x3ca20610, 0x3c42c84d, 0xb7fc9485, 0xbc4d098e, 0xbc09e2ab, 0xbc6512dd, 0x3c8f736a, 0xbc61569b };
    const uint32_t row3_blocks3[8] = { 0xbdc4b0ba, 0x3cb31aaf, 0x3cb433b5, 0x3be04f28,
                                       0xbc16e975, 0xba318274, 0x3b05b1fe, 0x3baa3c82 };
    const uint32_t norm_seed7[5] = { 0x3f80c32b, 0x3f8057d3, 0x3f7ca5bd, 0x3f7e8f65, 0x3f7a21f1 };
    std::vector<float> q = Gguf(plain.path).floats("blk.0.attn_q.weight");
    std::vector<float> qb = Gguf(blocks.path).floats("blk.0.attn_q.weight");
    std::vector<float> nrm = Gguf(seed7.path).floats("output_norm.weight");
    ASSERT_EQ(q.size(), 256u * 256u);
    ASSERT_EQ(qb.size(), 256u * 256u);
    ASSERT_EQ(nrm.size(), 256u);
    for (int j = 0; j < 8; j++) {
        EXPECT_EQ(float_bits(q[j]), row0[j]) << j;
        EXPECT_EQ(float_bits(qb[3 * 256 + j]), row3_blocks3[j]) << j;
        if (j < 5) {
            EXPECT_EQ(float_bits(nrm[j]), norm_seed7[j]) << j;
        }
    }
    /* normal(0, 0.02): sample moments of the 65536 values */
    double s1 = 0, s2 = 0;
    for (float x : q) {
        s1 += x;
        s2 += (double)x * x;
    }
    double mean = s1 / (double)q.size(), sd = std::sqrt(s2 / (double)q.size() - mean * mean);
    EXPECT_NEAR(mean, 0.0, 0.0005);
    EXPECT_NEAR(sd, 0.02, 0.0005);
}

TEST(Synth, EveryTypeLoadsAndDecodes) {
    struct Case { const char *type; uint32_t ftype; const char *attn_q, *attn_v, *output; };
    const Case cases[] = {
        { "F32", 0, "F32", "F32", "F32" },       { "F16", 1, "F16", "F16", "F16" },
        { "BF16", 32, "BF16", "BF16", "BF16" },  { "Q8_0", 7, "Q8_0", "Q8_0", "Q8_0" },
        { "Q4_0", 2, "Q4_0", "Q4_0", "Q4_0" },   { "Q4_1", 3, "Q4_1", "Q4_1", "Q4_1" },
        { "Q5_0", 8, "Q5_0", "Q5_0", "Q5_0" },   { "Q5_1", 9, "Q5_1", "Q5_1", "Q5_1" },
        { "Q2_K", 10, "Q2_K", "Q2_K", "Q2_K" },  { "Q3_K", 11, "Q3_K", "Q3_K", "Q3_K" },
        { "Q4_K", 14, "Q4_K", "Q4_K", "Q4_K" },  { "Q5_K", 16, "Q5_K", "Q5_K", "Q5_K" },
        { "Q6_K", 18, "Q6_K", "Q6_K", "Q6_K" },  { "Q3_K_M", 12, "Q3_K", "Q5_K", "Q6_K" },
        { "q4_k_m", 15, "Q4_K", "Q6_K", "Q6_K" }, { "Q5_K_M", 17, "Q5_K", "Q6_K", "Q6_K" },
    };
    for (const Case &c : cases) {
        Synth s(std::string("type_") + c.type);
        CliRun r = s.run(kSmall + " --type " + c.type);
        ASSERT_EQ(r.status, 0) << c.type << ": " << r.err;
        {
            Gguf g(s.path);
            EXPECT_EQ(g.u64("general.file_type"), c.ftype) << c.type;
            EXPECT_EQ(g.type("blk.0.attn_q.weight"), c.attn_q) << c.type;
            EXPECT_EQ(g.type("blk.0.attn_v.weight"), c.attn_v) << c.type;
            EXPECT_EQ(g.type("output.weight"), c.output) << c.type;
            EXPECT_EQ(g.type("blk.0.attn_norm.weight"), "F32") << c.type;
        }
        expect_decodes(s.path, c.type);
    }
}

TEST(Synth, RowsTheBlockDoesNotDivideFallBackAsLlamaCpp) {
    Synth k("fallback_k"), l("fallback_legacy");
    /* rows of 96 (embd) and 80 (ffn): K types -> their 32-block fallback; 80 fits no block -> F16 */
    std::string shape = "--n-embd 96 --n-layer 1 --n-head 3 --n-head-kv 1 --n-ff 80 --n-vocab 300";
    ASSERT_EQ(k.run(shape + " --type Q4_K_M").status, 0);
    ASSERT_EQ(l.run(shape + " --type Q4_0").status, 0);
    {
        Gguf g(k.path);
        EXPECT_EQ(g.type("blk.0.attn_q.weight"), "Q5_0");  /* Q4_K -> Q5_0 */
        EXPECT_EQ(g.type("blk.0.attn_v.weight"), "Q8_0");  /* Q6_K -> Q8_0 */
        EXPECT_EQ(g.type("output.weight"), "Q8_0");        /* 96 % 256: output -> Q8_0 */
        EXPECT_EQ(g.type("blk.0.ffn_down.weight"), "F16"); /* 80 % 32 */
        Gguf h(l.path);
        EXPECT_EQ(h.type("blk.0.ffn_up.weight"), "Q4_0");
        EXPECT_EQ(h.type("blk.0.ffn_down.weight"), "F16");
    }
    expect_decodes(k.path, "fallback Q4_K_M");
    expect_decodes(l.path, "fallback Q4_0");
}

TEST(Synth, MetadataAndTensorsMatchTheShape) {
    Synth q3("meta_qwen3"), q2("meta_qwen2");
    CliRun r = q3.run("--arch qwen3 --n-embd 256 --n-layer 2 --n-head 4 --n-head-kv 2 --head-dim 96 --n-ff 512 "
                      "--n-vocab 300 --n-ctx 512 --rope-base 1000000 --rms-eps 1e-6 --type Q8_0 --tied");
    ASSERT_EQ(r.status, 0) << r.err;
    {
        Gguf g(q3.path);
        EXPECT_EQ(g.str("general.architecture"), "qwen3");
        EXPECT_EQ(g.str("general.name"), "synth-custom");
        EXPECT_EQ(g.u64("general.file_type"), 7);
        EXPECT_EQ(g.u64("qwen3.context_length"), 512);
        EXPECT_EQ(g.u64("qwen3.embedding_length"), 256);
        EXPECT_EQ(g.u64("qwen3.block_count"), 2);
        EXPECT_EQ(g.u64("qwen3.feed_forward_length"), 512);
        EXPECT_EQ(g.u64("qwen3.attention.head_count"), 4);
        EXPECT_EQ(g.u64("qwen3.attention.head_count_kv"), 2);
        EXPECT_EQ(g.u64("qwen3.attention.key_length"), 96);
        EXPECT_EQ(g.u64("qwen3.attention.value_length"), 96);
        EXPECT_EQ(g.u64("qwen3.rope.dimension_count"), 96);
        EXPECT_EQ(g.f64("qwen3.rope.freq_base"), 1e6);
        EXPECT_FLOAT_EQ((float)g.f64("qwen3.attention.layer_norm_rms_epsilon"), 1e-6f);
        EXPECT_EQ(g.shape("token_embd.weight"), (std::vector<int64_t>{ 256, 300 }));
        EXPECT_EQ(g.shape("blk.1.attn_q.weight"), (std::vector<int64_t>{ 256, 384 }));
        EXPECT_EQ(g.shape("blk.1.attn_k.weight"), (std::vector<int64_t>{ 256, 192 }));
        EXPECT_EQ(g.shape("blk.1.attn_output.weight"), (std::vector<int64_t>{ 384, 256 }));
        EXPECT_EQ(g.shape("blk.1.attn_q_norm.weight"), (std::vector<int64_t>{ 96 }));
        EXPECT_EQ(g.shape("blk.1.ffn_down.weight"), (std::vector<int64_t>{ 512, 256 }));
        EXPECT_EQ(g.tensor("output.weight"), nullptr); /* --tied */
        EXPECT_EQ(nib_gguf_n_tensors(g.g), 1 + 2 * 11 + 1);
    }
    expect_decodes(q3.path, "qwen3 head_dim 96");
    ASSERT_EQ(q2.run(kSmall + " --arch qwen2 --type Q4_0").status, 0);
    {
        Gguf g(q2.path);
        EXPECT_EQ(g.shape("blk.0.attn_q.bias"), (std::vector<int64_t>{ 256 }));
        EXPECT_EQ(g.shape("blk.0.attn_v.bias"), (std::vector<int64_t>{ 128 }));
        EXPECT_EQ(g.u64("qwen2.attention.key_length"), -1); /* head_dim = n_embd / n_head: not written */
    }
    expect_decodes(q2.path, "qwen2");
}

TEST(Synth, MoeLayoutsAndMixesFollowLlamaCpp) {
    Synth qm("moe_qwen3moe"), mx("moe_mixtral");
    CliRun r = qm.run("--arch qwen3moe --n-embd 256 --n-layer 2 --n-head 4 --n-head-kv 2 --n-ff 512 --n-expert 4 "
                      "--n-expert-used 2 --n-ff-exp 128 --n-vocab 300 --type Q4_K_M");
    ASSERT_EQ(r.status, 0) << r.err;
    {
        Gguf g(qm.path);
        EXPECT_EQ(g.u64("qwen3moe.expert_count"), 4);
        EXPECT_EQ(g.u64("qwen3moe.expert_used_count"), 2);
        EXPECT_EQ(g.u64("qwen3moe.expert_feed_forward_length"), 128);
        EXPECT_EQ(g.shape("blk.0.ffn_gate_inp.weight"), (std::vector<int64_t>{ 256, 4 }));
        EXPECT_EQ(g.type("blk.0.ffn_gate_inp.weight"), "F32");
        EXPECT_EQ(g.shape("blk.0.ffn_gate_exps.weight"), (std::vector<int64_t>{ 256, 128, 4 }));
        EXPECT_EQ(g.shape("blk.0.ffn_down_exps.weight"), (std::vector<int64_t>{ 128, 256, 4 }));
        /* as llama-quantize gives the shared qwen3moe-q4km: Q4_K/Q6_K rows of 128 fall back */
        EXPECT_EQ(g.type("blk.0.ffn_down_exps.weight"), "Q5_0");
        EXPECT_EQ(g.type("blk.1.ffn_down_exps.weight"), "Q8_0");
        EXPECT_EQ(g.type("blk.0.ffn_up_exps.weight"), "Q4_K");
        EXPECT_EQ(g.type("blk.1.attn_v.weight"), "Q6_K");
    }
    r = mx.run("--n-embd 256 --n-layer 2 --n-head 4 --n-head-kv 2 --n-ff 256 --n-expert 8 --n-expert-used 2 "
               "--n-vocab 300 --type Q4_K_M");
    ASSERT_EQ(r.status, 0) << r.err;
    Gguf g(mx.path);
    EXPECT_EQ(g.u64("llama.expert_count"), 8);
    EXPECT_EQ(g.shape("blk.1.ffn_up_exps.weight"), (std::vector<int64_t>{ 256, 256, 8 }));
    EXPECT_EQ(g.type("blk.0.attn_k.weight"), "Q8_0"); /* 8 experts: llama.cpp's Mixtral rules */
    EXPECT_EQ(g.type("blk.0.attn_v.weight"), "Q8_0");
    EXPECT_EQ(g.type("blk.0.attn_output.weight"), "Q5_K");
    EXPECT_EQ(g.type("blk.0.attn_q.weight"), "Q4_K");
}

TEST(Synth, PresetsHaveThePublishedShapes) {
    struct Case { const char *preset, *first_line, *total; };
    const Case cases[] = {
        { "llama-7b", "llama, n_embd 4096, 32 layers, 32/32 heads of 128, n_ff 11008, vocab 32000, ctx 4096",
          "total: 291 tensors, 6738415616 parameters" },
        { "llama3-8b", "llama, n_embd 4096, 32 layers, 32/8 heads of 128, n_ff 14336, vocab 128256, ctx 8192",
          "total: 291 tensors, 8030261248 parameters" },
        { "tinyllama-1.1b", "llama, n_embd 2048, 22 layers, 32/4 heads of 64, n_ff 5632, vocab 32000, ctx 2048",
          "total: 201 tensors, 1100048384 parameters" },
        { "mixtral-mini", "8 experts (2 used) of 1792", "total: 43 tensors" },
        { "qwen3moe-mini", "qwen3moe, n_embd 512, 4 layers, 8/2 heads of 128", "total: 51 tensors" },
        { "tiny", "llama, n_embd 256, 2 layers, 4/2 heads of 64, n_ff 512, vocab 512", "total: 21 tensors, 1443072 parameters" },
    };
    for (const Case &c : cases) {
        CliRun r = run_nib(std::string("synth --dry-run --type Q4_K_M --preset ") + c.preset);
        ASSERT_EQ(r.status, 0) << c.preset << ": " << r.err;
        EXPECT_NE(r.out.find(c.first_line), std::string::npos) << r.out;
        EXPECT_NE(r.out.find(c.total), std::string::npos) << r.out;
    }
    CliRun r = run_nib("synth --dry-run --preset llama3-8b --type Q4_K_M");
    EXPECT_NE(r.out.find("token_embd.weight                Q4_K  [4096, 128256]"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("output.weight                    Q6_K  [4096, 128256]"), std::string::npos) << r.out;
}

TEST(Synth, VocabFromCopiesTheTokenizer) {
    if (!nib_test_have_shared()) GTEST_SKIP() << "no shared models";
    const std::string dir = nib_test_shared_dir() + "/models/vocab/";
    const std::string text = "Hello world! Synthetic models, 1234 \xc3\xbc" "n\xc3\xaf" "c\xc3\xb6" "de\n\ttabs  and   spaces";
    const char *vocabs[][2] = { { "ggml-vocab-llama-spm.gguf", "llama" }, { "ggml-vocab-qwen2.gguf", "qwen2" } };
    for (const auto &v : vocabs) {
        const std::string src = dir + v[0];
        Synth s(std::string("vocab_") + v[1]);
        CliRun r = s.run("--arch " + std::string(v[1]) +
                         " --n-embd 64 --n-layer 1 --n-head 2 --n-head-kv 1 --n-ff 64 --tied --type Q8_0 --vocab-from '" + src + "'");
        ASSERT_EQ(r.status, 0) << v[0] << ": " << r.err;
        Gguf from(src), out(s.path);
        int64_t n_copied = 0;
        for (int64_t i = 0; i < nib_gguf_n_kv(from.g); i++) {
            const char *key = nib_gguf_kv_key(from.g, i);
            if (strncmp(key, "tokenizer.", 10) != 0) continue;
            n_copied++;
            const nib_gguf_value *a = nib_gguf_kv_value(from.g, i), *b = nib_gguf_get(out.g, key);
            ASSERT_NE(b, nullptr) << key;
            EXPECT_EQ(a->type, b->type) << key;
            if (a->type == NIB_GGUF_ARRAY) {
                EXPECT_EQ(a->v.arr.n, b->v.arr.n) << key;
            }
        }
        EXPECT_GT(n_copied, 4);
        nib_vocab *ref = nullptr;
        nib_model *m = nullptr;
        nib_error err = {};
        ASSERT_EQ(nib_vocab_load(from.g, &ref, &err), NIB_OK) << err.msg;
        ASSERT_EQ(nib_model_load(s.path.c_str(), nullptr, &m, &err), NIB_OK) << err.msg;
        EXPECT_EQ(nib_model_n_vocab(m), nib_vocab_n_tokens(ref));
        EXPECT_EQ(out.shape("token_embd.weight"), (std::vector<int64_t>{ 64, nib_vocab_n_tokens(ref) }));
        std::vector<int32_t> want = tokenize(ref, text);
        EXPECT_GT(want.size(), 8u);
        EXPECT_EQ(tokenize(nib_model_vocab(m), text), want) << v[0];
        nib_model_free(m);
        nib_vocab_free(ref);
    }
    Synth bad("vocab_conflict");
    CliRun r = bad.run("--n-vocab 1000 --vocab-from '" + dir + "ggml-vocab-llama-spm.gguf'");
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.err.find("conflicts with the 32000 tokens"), std::string::npos) << r.err;
}

TEST(Synth, DefaultVocabTokenizesAsTheSharedSynthModels) {
    if (!nib_test_have_shared()) GTEST_SKIP() << "no shared models";
    Synth s("vocab_default");
    ASSERT_EQ(s.run("--type Q8_0 --n-layer 1").status, 0);
    nib_model *a = nullptr, *b = nullptr;
    nib_error err = {};
    ASSERT_EQ(nib_model_load(s.path.c_str(), nullptr, &a, &err), NIB_OK) << err.msg;
    std::string shared = nib_test_shared_dir() + "/models/synth/llama-f32.gguf";
    ASSERT_EQ(nib_model_load(shared.c_str(), nullptr, &b, &err), NIB_OK) << err.msg;
    const std::string text = "bababa, hello world! <s> 12\n\xe2\x82\xac";
    EXPECT_EQ(tokenize(nib_model_vocab(a), text), tokenize(nib_model_vocab(b), text));
    for (int32_t id = 0; id < 512; id++)
        EXPECT_STREQ(nib_vocab_token_text(nib_model_vocab(a), id, nullptr), nib_vocab_token_text(nib_model_vocab(b), id, nullptr));
    nib_model_free(a);
    nib_model_free(b);
}

TEST(Synth, EachTensorHasItsOwnStream) {
    Synth k("ind_q4k"), km("ind_q4km"), f("ind_f32"), q8("ind_q8"), two("ind_2layer"), sb("ind_blocks");
    ASSERT_EQ(k.run(kSmall + " --type Q4_K").status, 0);
    ASSERT_EQ(km.run(kSmall + " --type Q4_K_M").status, 0);
    ASSERT_EQ(f.run(kSmall + " --type F32").status, 0);
    ASSERT_EQ(q8.run(kSmall + " --type Q8_0").status, 0);
    ASSERT_EQ(two.run(kSmall + " --type F32 --n-layer 2").status, 0);
    ASSERT_EQ(sb.run(kSmall + " --type F32 --std-blocks 32").status, 0);
    Gguf gk(k.path), gkm(km.path), gf(f.path), gq8(q8.path), g2(two.path), gsb(sb.path);
    /* other tensors' types differ (output Q4_K vs Q6_K): attn_q is still byte-identical */
    EXPECT_NE(gk.type("output.weight"), gkm.type("output.weight"));
    EXPECT_EQ(gk.bytes("blk.0.attn_q.weight"), gkm.bytes("blk.0.attn_q.weight"));
    /* the values do not depend on the type: Q8_0 bytes = quantize(F32 values) */
    std::vector<float> up = gf.floats("blk.0.ffn_up.weight");
    std::vector<uint8_t> q(nib_type_row_bytes(NIB_TYPE_Q8_0, (int64_t)up.size()));
    ASSERT_EQ(nib_quantize(NIB_TYPE_Q8_0, up.data(), q.data(), (int64_t)up.size(), nullptr), NIB_OK);
    EXPECT_EQ(q, gq8.bytes("blk.0.ffn_up.weight"));
    /* nor on the other tensors in the file */
    for (const char *name : { "token_embd.weight", "blk.0.ffn_down.weight", "output.weight", "blk.0.ffn_norm.weight" })
        EXPECT_EQ(gf.bytes(name), g2.bytes(name)) << name;
    /* --std-blocks 32 only rescales: one factor in [1/4, 4) per group of 32 values of a row */
    std::vector<float> x = gf.floats("blk.0.attn_q.weight"), y = gsb.floats("blk.0.attn_q.weight");
    ASSERT_EQ(x.size(), y.size());
    std::set<float> factors;
    for (size_t g0 = 0; g0 < x.size(); g0 += 32) {
        double f0 = (double)y[g0] / x[g0];
        EXPECT_GE(f0, 0.2499);
        EXPECT_LT(f0, 4.0001);
        for (size_t j = g0; j < g0 + 32; j++) ASSERT_NEAR((double)y[j] / x[j], f0, 1e-5 * f0) << j;
        factors.insert((float)f0);
    }
    EXPECT_GT(factors.size(), x.size() / 32 - 4);
}

TEST(Synth, BadArgumentsGiveOneErrorLine) {
    Synth s("bad");
    const std::string o = " -o '" + s.path + "'";
    struct Case { std::string args, needle; };
    const Case cases[] = {
        { "synth --preset llama-13b" + o, "unknown preset 'llama-13b'" },
        { "synth --n-embd 256 --n-head 3 --n-head-kv 1" + o, "n_head 3 does not divide n_embd 256" },
        { "synth --n-head 4 --n-head-kv 3" + o, "n_head 4 is not a multiple of n_head_kv 3" },
        { "synth --type Q7_K" + o, "unknown --type 'Q7_K'" },
        { "synth -o /nonexistent-dir/x.gguf", "/nonexistent-dir/x.gguf" },
        { "synth --type Q4_0", "no output file given" },
        { "synth --arch qwen2 --n-expert 4 --n-expert-used 2" + o, "qwen2 has no experts" },
        { "synth --arch qwen3moe" + o, "qwen3moe needs --n-expert" },
        { "synth --n-expert 4 --n-expert-used 5" + o, "n_expert_used = 5 is out of range" },
        { "synth --arch mamba" + o, "unknown architecture 'mamba'" },
        { "synth --n-vocab 100" + o, "n_vocab 100 is too small" },
        { "synth --std -1" + o, "--std: invalid value '-1'" },
        { "synth --n-layer 0" + o, "--n-layer: '0' is not a number in 1..512" },
        { "synth --bogus" + o, "unknown option or missing value: '--bogus'" },
        { "synth --vocab-from /nonexistent.gguf" + o, "/nonexistent.gguf" },
    };
    for (const Case &c : cases) {
        CliRun r = run_nib(c.args);
        EXPECT_EQ(r.status, 1) << c.args;
        EXPECT_EQ(r.err.rfind("nib: error: ", 0), 0u) << c.args << ": " << r.err;
        EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << c.args << ": " << r.err;
        EXPECT_NE(r.err.find(c.needle), std::string::npos) << c.args << ": " << r.err;
        EXPECT_TRUE(r.out.empty()) << c.args;
        EXPECT_NE(access(s.path.c_str(), F_OK), 0) << c.args << " left a file";
    }
}
