// `nib convert` end to end (the built binary):
//  - tinystories656K (HF, F32) -> GGUF: prompt tokens, logits and greedy tokens
//    against golden/tinystories656K/hf.json (an independent float64 HF
//    implementation);
//  - f16 / bf16 / q8_0 outputs load and generate, and every converted tensor
//    equals nib_quantize of the F32 conversion (q8_0 rows of 172 -> F16);
//  - stories260K.bin + tok512.bin -> byte-identical tensors and identical
//    metadata to llama.cpp's stories260K-f32.gguf, same tokenization;
//  - tokenizer-only conversions against llama.cpp's vocab files (llama-spm:
//    tokens/scores/types; llama-bpe: tokens/types/merges/pre and llama.cpp's
//    tokenizer test vectors), Mistral's tokenizer.json;
//  - synthetic HF directories of the six architectures (sharded, F16/BF16
//    sources, qwen2 biases, qwen3 q/k norms, Mixtral and Qwen3-MoE experts)
//    load and decode in nib; the q/k permutation undone gives the HF rows;
//  - bad inputs: one-line errors, nonzero exit, no output or temporary file.
#include <gtest/gtest.h>

#include "nib.h"
#include "cli_runner.h"
#include "convert_fixtures.h"
#include "convert_test_util.h"
#include "test_util.h"
#include "tokenizer_util.h"

#include <cjson/cJSON.h>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <cstdlib>
#include <sys/stat.h>
#include <sys/wait.h>
#include <vector>


/* ------------------------------------------------------------- golden */

/* hf.json is float64 throughout; nib computes in float32 with an F16 KV cache
 * and, as ggml without flash attention, F16 operands in attention (Q and the
 * softmax probabilities rounded to F16). That moves these logits (largest
 * |logit| S about 17) by a few 1e-3: measured 5.5e-3 at most (3e-4 x S),
 * while a float64 model with those same F16 roundings is within 6.4e-4 of
 * nib. The bound is golden/README.md's for float types, max(5e-3, 1e-3 x S);
 * the measured maximum is printed. Prompt and greedy tokens must be identical. */
double g_tol = 5e-3;

TEST(Convert, TinyStoriesMatchesHfGolden) {
    if (!nib_test_have_shared()) GTEST_SKIP() << "no ../shared";
    std::string out = tmp("ts_f32.gguf");
    std::remove(out.c_str());
    CliRun r = convert(q(shared("models/tinystories656K")) + " -o " + q(out) + " --verify");
    ASSERT_EQ(r.status, 0) << r.err;
    std::vector<uint8_t> raw = nib_test_read_file(shared("golden/tinystories656K/hf.json"));
    raw.push_back(0);
    cJSON *root = cJSON_Parse((const char *)raw.data());
    ASSERT_NE(root, nullptr);
    double S = 0;
    {
        const cJSON *c, *e, *p;
        cJSON_ArrayForEach(c, cJSON_GetObjectItem(root, "cases")) cJSON_ArrayForEach(e, cJSON_GetObjectItem(c, "prompt_logits"))
            cJSON_ArrayForEach(p, e) S = std::max(S, std::fabs(cJSON_GetObjectItem(p, "logit")->valuedouble));
    }
    g_tol = std::max(5e-3, 1e-3 * S);
    nib_model *m = nullptr;
    nib_error err = {};
    ASSERT_EQ(nib_model_load(out.c_str(), nullptr, &m, &err), NIB_OK) << err.msg;
    double max_err = 0;
    int n_greedy = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(root, "cases")) {
        std::vector<int32_t> want_prompt, greedy;
        const cJSON *e;
        cJSON_ArrayForEach(e, cJSON_GetObjectItem(c, "prompt_tokens")) want_prompt.push_back(e->valueint);
        cJSON_ArrayForEach(e, cJSON_GetObjectItem(cJSON_GetObjectItem(c, "greedy"), "tokens")) greedy.push_back(e->valueint);
        const cJSON *text = cJSON_GetObjectItem(c, "prompt");
        ASSERT_TRUE(cJSON_IsString(text));
        EXPECT_EQ(ids_str(tok(nib_model_vocab(m), text->valuestring)), ids_str(want_prompt)) << text->valuestring;
        nib_context_params cp = nib_context_default_params();
        cp.n_ctx = (int32_t)(want_prompt.size() + greedy.size() + 8);
        cp.n_threads = 2;
        nib_context *ctx = nullptr;
        ASSERT_EQ(nib_context_new(m, &cp, &ctx, &err), NIB_OK) << err.msg;
        std::vector<int8_t> all(want_prompt.size(), 1);
        nib_batch b = { (int32_t)want_prompt.size(), want_prompt.data(), nullptr, nullptr, all.data(), 0 };
        ASSERT_EQ(nib_decode(ctx, &b, &err), NIB_OK) << err.msg;
        int pos = 0;
        cJSON_ArrayForEach(e, cJSON_GetObjectItem(c, "prompt_logits")) {
            const float *lg = nib_context_logits(ctx, pos++);
            const cJSON *p;
            cJSON_ArrayForEach(p, e) {
                double d = std::fabs(lg[cJSON_GetObjectItem(p, "id")->valueint] - cJSON_GetObjectItem(p, "logit")->valuedouble);
                max_err = std::max(max_err, d);
                EXPECT_LE(d, g_tol) << "position " << pos - 1;
            }
        }
        const float *lg = nib_context_logits(ctx, (int32_t)want_prompt.size() - 1);
        std::vector<std::vector<std::pair<int, double>>> steps;
        cJSON_ArrayForEach(e, cJSON_GetObjectItem(cJSON_GetObjectItem(c, "greedy"), "steps")) {
            std::vector<std::pair<int, double>> s;
            const cJSON *p;
            cJSON_ArrayForEach(p, e) s.push_back({ cJSON_GetObjectItem(p, "id")->valueint, cJSON_GetObjectItem(p, "logit")->valuedouble });
            steps.push_back(s);
        }
        for (size_t j = 0; j < greedy.size(); j++) {
            int32_t best = 0;
            for (int32_t t = 1; t < nib_model_n_vocab(m); t++)
                if (lg[t] > lg[best]) best = t;
            ASSERT_EQ(best, greedy[j]) << "greedy step " << j;
            for (const auto &p : steps[j]) {
                double d = std::fabs(lg[p.first] - p.second);
                max_err = std::max(max_err, d);
                EXPECT_LE(d, g_tol) << "greedy step " << j;
            }
            n_greedy++;
            nib_batch one = { 1, &greedy[j], nullptr, nullptr, nullptr, 0 };
            ASSERT_EQ(nib_decode(ctx, &one, &err), NIB_OK) << err.msg;
            lg = nib_context_logits(ctx, 0);
        }
        nib_context_free(ctx);
    }
    std::printf("tinystories656K converted: max |dlogit| vs hf.json %.3e (bound %.3e), %d greedy tokens identical\n", max_err, g_tol,
                n_greedy);
    nib_model_free(m);
    cJSON_Delete(root);
    std::remove(out.c_str());
}

TEST(Convert, TinyStoriesOuttypes) {
    if (!nib_test_have_shared()) GTEST_SKIP() << "no ../shared";
    std::string f32 = tmp("ts_ref.gguf");
    std::remove(f32.c_str());
    ASSERT_EQ(convert(q(shared("models/tinystories656K")) + " -o " + q(f32)).status, 0);
    Gguf ref(f32);
    for (const char *t : { "f16", "bf16", "q8_0" }) {
        SCOPED_TRACE(t);
        std::string out = tmp(std::string("ts_") + t + ".gguf");
        std::remove(out.c_str());
        CliRun r = convert(q(shared("models/tinystories656K")) + " -o " + q(out) + " --outtype " + t + " --verify");
        ASSERT_EQ(r.status, 0) << r.err;
        {
            Gguf g(out);
            ASSERT_EQ(nib_gguf_n_tensors(g.g), nib_gguf_n_tensors(ref.g));
            int n_quant = 0;
            for (int64_t i = 0; i < nib_gguf_n_tensors(g.g); i++) {
                const nib_gguf_tensor *ct = nib_gguf_get_tensor(g.g, i);
                const nib_gguf_tensor *rt = ref.tensor(ct->name);
                ASSERT_NE(rt, nullptr) << ct->name;
                ASSERT_EQ(rt->type, NIB_TYPE_F32);
                if (ct->n_dims == 1) {
                    EXPECT_EQ(ct->type, NIB_TYPE_F32) << ct->name;
                    continue;
                }
                std::vector<uint8_t> want(ct->n_bytes);
                ASSERT_EQ(nib_quantize(ct->type, (const float *)rt->data, want.data(), rt->n_elements, nullptr), NIB_OK);
                EXPECT_EQ(memcmp(want.data(), ct->data, want.size()), 0) << ct->name;
                EXPECT_STREQ(nib_type_name(ct->type), std::string(t) == "q8_0" ? "Q8_0" : std::string(t) == "f16" ? "F16" : "BF16");
                n_quant++;
            }
            EXPECT_GT(n_quant, 10);
        }
        CliRun gen = run_nib("generate -m " + q(out) + " -p 'Once upon a time' -n 8 --temp 0 --json -t 2");
        ASSERT_EQ(gen.status, 0) << gen.err;
        EXPECT_NE(gen.out.find("\"tokens\":["), std::string::npos) << gen.out;
        std::remove(out.c_str());
    }
    std::remove(f32.c_str());
}

/* ------------------------------------------------------------ llama2.c */

TEST(Convert, Llama2cMatchesLlamaCpp) {
    if (!nib_test_have_shared()) GTEST_SKIP() << "no ../shared";
    std::string m = shared("models/stories260K/"), out = tmp("l2c.gguf");
    std::remove(out.c_str());
    CliRun r = convert(q(m + "stories260K.bin") + " --tokenizer " + q(m + "tok512.bin") + " --ctx 2048 -o " + q(out) + " --verify");
    ASSERT_EQ(r.status, 0) << r.err;
    Gguf a(out), b(m + "stories260K-f32.gguf");
    ASSERT_EQ(nib_gguf_n_tensors(a.g), nib_gguf_n_tensors(b.g));
    for (int64_t i = 0; i < nib_gguf_n_tensors(b.g); i++) {
        const nib_gguf_tensor *x = nib_gguf_get_tensor(a.g, i), *y = nib_gguf_get_tensor(b.g, i);
        ASSERT_STREQ(x->name, y->name);
        EXPECT_EQ(x->type, y->type) << x->name;
        EXPECT_EQ(x->n_dims, y->n_dims) << x->name;
        for (int d = 0; d < 4; d++) EXPECT_EQ(x->ne[d], y->ne[d]) << x->name;
        ASSERT_EQ(x->n_bytes, y->n_bytes) << x->name;
        EXPECT_EQ(memcmp(x->data, y->data, x->n_bytes), 0) << x->name;
    }
    ASSERT_EQ(nib_gguf_n_kv(a.g), nib_gguf_n_kv(b.g));
    for (int64_t i = 0; i < nib_gguf_n_kv(b.g); i++) {
        const char *key = nib_gguf_kv_key(b.g, i);
        EXPECT_EQ(value_text(nib_gguf_get(a.g, key)), value_text(nib_gguf_kv_value(b.g, i))) << key;
    }
    VocabFile va(out), vb(m + "stories260K-f32.gguf");
    ASSERT_TRUE(va.v && vb.v) << va.error << vb.error;
    for (const char *s : { "Once upon a time, there was a little girl.", "  Hello\n\nworld!  ", "ünïcödé 123 <s> x", "" })
        EXPECT_EQ(ids_str(tok(va.v, s)), ids_str(tok(vb.v, s))) << s;
    std::remove(out.c_str());
}

TEST(Convert, Llama2cQ8_0KeepsOddRowsF16) {
    if (!nib_test_have_shared()) GTEST_SKIP() << "no ../shared";
    std::string m = shared("models/stories260K/"), out = tmp("l2c_q8.gguf");
    std::remove(out.c_str());
    CliRun r = convert(q(m + "stories260K.bin") + " --tokenizer " + q(m + "tok512.bin") + " --outtype q8_0 -o " + q(out));
    ASSERT_EQ(r.status, 0) << r.err;
    Gguf g(out);
    const nib_gguf_tensor *down = g.tensor("blk.0.ffn_down.weight"), *gate = g.tensor("blk.0.ffn_gate.weight");
    ASSERT_TRUE(down && gate);
    EXPECT_EQ(down->type, NIB_TYPE_F16); /* rows of 172 */
    EXPECT_EQ(gate->type, NIB_TYPE_Q8_0);
    EXPECT_EQ(g.tensor("blk.0.attn_norm.weight")->type, NIB_TYPE_F32);
    CliRun gen = run_nib("generate -m " + q(out) + " -p 'Once upon' -n 8 --temp 0 --json -t 2");
    EXPECT_EQ(gen.status, 0) << gen.err;
    std::remove(out.c_str());
}


/* ------------------------------------------------- synthetic HF models */

namespace {

/* HF rows of a q/k matrix from the GGUF rows: the inverse of
 * w.reshape(n_head, 2, rows/n_head/2, cols).swapaxes(1, 2), written as
 * reshape(n_head, rows/n_head/2, 2, cols).swapaxes(1, 2). */
std::vector<float> unpermute(const std::vector<float> &g, int64_t rows, int64_t cols, int64_t n_head) {
    std::vector<float> hf(g.size());
    int64_t half = rows / n_head / 2;
    for (int64_t h = 0; h < n_head; h++)
        for (int64_t i = 0; i < half; i++)
            for (int64_t j = 0; j < 2; j++) {
                /* GGUF index (h, i, j) came from HF index (h, j, i) */
                const float *src = &g[(size_t)(((h * half + i) * 2 + j) * cols)];
                float *dst = &hf[(size_t)(((h * 2 + j) * half + i) * cols)];
                memcpy(dst, src, sizeof(float) * (size_t)cols);
            }
    return hf;
}

std::vector<float> as_floats(const Gguf &g, const std::string &name) {
    const nib_gguf_tensor *t = g.tensor(name);
    if (!t) return {};
    std::vector<float> f((size_t)t->n_elements);
    EXPECT_EQ(nib_dequantize(t->type, t->data, f.data(), t->n_elements, nullptr), NIB_OK);
    return f;
}

int64_t n_merges(const Gguf &g) {
    const nib_gguf_value *v = nib_gguf_get(g.g, "tokenizer.ggml.merges");
    return v && v->type == NIB_GGUF_ARRAY ? (int64_t)v->v.arr.n : -1;
}

/* Loads the model and decodes a short prompt; logits must be finite. */
void expect_runs(const std::string &path) {
    nib_model *m = nullptr;
    nib_error err = {};
    ASSERT_EQ(nib_model_load(path.c_str(), nullptr, &m, &err), NIB_OK) << err.msg;
    nib_context_params cp = nib_context_default_params();
    cp.n_ctx = 32;
    cp.n_threads = 2;
    nib_context *c = nullptr;
    ASSERT_EQ(nib_context_new(m, &cp, &c, &err), NIB_OK) << err.msg;
    std::vector<int32_t> ids = { 1, 5, 7, 9, 11 };
    nib_batch b = { (int32_t)ids.size(), ids.data(), nullptr, nullptr, nullptr, 0 };
    ASSERT_EQ(nib_decode(c, &b, &err), NIB_OK) << err.msg;
    const float *lg = nib_context_logits(c, (int32_t)ids.size() - 1);
    ASSERT_NE(lg, nullptr);
    for (int32_t t = 0; t < nib_model_n_vocab(m); t++) ASSERT_TRUE(std::isfinite(lg[t])) << t;
    nib_context_free(c);
    nib_model_free(m);
}

struct SynthCase {
    const char *label;
    HfSpec spec;
    const char *gguf_arch;
};

std::vector<SynthCase> synth_cases() {
    std::vector<SynthCase> v;
    HfSpec s;
    v.push_back({ "llama", s, "llama" });
    s.shards = 3, s.dtype = "BF16";
    v.push_back({ "llama_sharded_bf16", s, "llama" });
    s = HfSpec();
    s.arch = "MistralForCausalLM", s.dtype = "F16", s.tied = true;
    v.push_back({ "mistral_f16_tied", s, "llama" });
    s = HfSpec();
    s.arch = "MixtralForCausalLM", s.n_expert = 4, s.n_expert_used = 2, s.ff = 64;
    v.push_back({ "mixtral", s, "llama" });
    s = HfSpec();
    s.arch = "Qwen2ForCausalLM", s.shards = 2;
    v.push_back({ "qwen2_sharded_bias", s, "qwen2" });
    s = HfSpec();
    s.arch = "Qwen3ForCausalLM", s.head_dim = 32, s.dtype = "BF16";
    v.push_back({ "qwen3_headdim32", s, "qwen3" });
    s = HfSpec();
    s.arch = "Qwen3MoeForCausalLM", s.n_expert = 4, s.n_expert_used = 2, s.moe_ff = 32;
    v.push_back({ "qwen3moe", s, "qwen3moe" });
    return v;
}

} // namespace

TEST(Convert, SyntheticArchitecturesConvertAndRun) {
    if (!nib_test_have_shared()) GTEST_SKIP() << "no ../shared";
    for (const SynthCase &c : synth_cases()) {
        SCOPED_TRACE(c.label);
        std::string dir = tmp(std::string("hf_") + c.label), out = tmp(std::string("hf_") + c.label + ".gguf");
        HfTensors src = make_hf_dir(dir, c.spec);
        std::remove(out.c_str());
        CliRun r = convert(q(dir) + " -o " + q(out) + " --outtype f32 --verify");
        ASSERT_EQ(r.status, 0) << r.err;
        {
            Gguf g(out);
            EXPECT_EQ(g.str("general.architecture"), c.gguf_arch);
            const HfSpec &s = c.spec;
            int64_t hd = s.head_dim ? s.head_dim : s.hidden / s.n_head;
            bool permuted = std::string(c.gguf_arch) == "llama";
            for (int64_t l = 0; l < s.n_layer; l++) {
                std::string b = "blk." + std::to_string(l) + ".", hb = "model.layers." + std::to_string(l) + ".self_attn.";
                /* q/k: GGUF rows un-permuted give back the HF rows exactly (F32 output) */
                for (const char *w : { "q", "k" }) {
                    const auto &hf = src.at(hb + w + "_proj.weight");
                    std::vector<float> gg = as_floats(g, b + "attn_" + w + ".weight");
                    int64_t heads = std::string(w) == "q" ? s.n_head : s.n_kv;
                    std::vector<float> back = permuted ? unpermute(gg, hf.first[0], hf.first[1], heads) : gg;
                    EXPECT_EQ(back, hf.second) << b << w;
                    if (permuted && l == 0) {
                        EXPECT_NE(gg, hf.second) << "not permuted at all";
                    }
                }
                if (s.arch == "Qwen2ForCausalLM") {
                    EXPECT_EQ(as_floats(g, b + "attn_q.bias"), src.at(hb + "q_proj.bias").second);
                    EXPECT_EQ(as_floats(g, b + "attn_v.bias"), src.at(hb + "v_proj.bias").second);
                }
                if (s.arch.rfind("Qwen3", 0) == 0) {
                    EXPECT_EQ(as_floats(g, b + "attn_k_norm.weight"), src.at(hb + "k_norm.weight").second);
                    EXPECT_EQ(g.tensor(b + "attn_q_norm.weight")->ne[0], hd);
                }
                if (s.n_expert) {
                    bool mix = s.arch == "MixtralForCausalLM";
                    const nib_gguf_tensor *gate = g.tensor(b + "ffn_gate_exps.weight"), *down = g.tensor(b + "ffn_down_exps.weight");
                    ASSERT_TRUE(gate && down && g.tensor(b + "ffn_up_exps.weight") && g.tensor(b + "ffn_gate_inp.weight"));
                    EXPECT_EQ(g.tensor(b + "ffn_gate_inp.weight")->type, NIB_TYPE_F32);
                    EXPECT_EQ(gate->ne[2], s.n_expert);
                    EXPECT_EQ(down->ne[0], mix ? s.ff : s.moe_ff);
                    std::vector<float> all = as_floats(g, b + "ffn_down_exps.weight"), want;
                    for (int64_t e = 0; e < s.n_expert; e++) {
                        std::string x = "model.layers." + std::to_string(l) + (mix ? ".block_sparse_moe.experts." : ".mlp.experts.") +
                                        std::to_string(e) + (mix ? ".w2.weight" : ".down_proj.weight");
                        const auto &v = src.at(x).second;
                        want.insert(want.end(), v.begin(), v.end());
                    }
                    EXPECT_EQ(all, want) << "experts stacked in order";
                }
            }
            EXPECT_EQ(g.tensor("output.weight") == nullptr, s.tied);
            if (s.arch.rfind("Qwen", 0) == 0) { /* byte-level BPE with Qwen2's regex */
                EXPECT_EQ(g.str("tokenizer.ggml.model"), "gpt2");
                EXPECT_EQ(g.str("tokenizer.ggml.pre"), "qwen2");
                EXPECT_NE(g.str("tokenizer.chat_template").find("im_start"), std::string::npos);
                uint64_t eos = 0;
                EXPECT_EQ(nib_gguf_get_u64(g.g, "tokenizer.ggml.eos_token_id", &eos, nullptr), NIB_OK);
                EXPECT_EQ(eos, 259u);
                EXPECT_EQ(n_merges(g), 2);
            }
        }
        expect_runs(out);
        /* and as Q8_0 */
        std::string q8 = tmp(std::string("hf_") + c.label + "_q8.gguf");
        std::remove(q8.c_str());
        r = convert(q(dir) + " -o " + q(q8) + " --outtype q8_0");
        ASSERT_EQ(r.status, 0) << r.err;
        expect_runs(q8);
        std::remove(q8.c_str());
        std::remove(out.c_str());
        remove_tree(dir);
    }
}

TEST(Convert, AutoOuttypeAndSamplingKeys) {
    if (!nib_test_have_shared()) GTEST_SKIP() << "no ../shared";
    HfSpec s;
    s.dtype = "BF16";
    std::string dir = tmp("hf_auto"), out = tmp("hf_auto.gguf");
    make_hf_dir(dir, s);
    write_text(dir + "/generation_config.json", "{\"temperature\":0.6,\"top_k\":20,\"repetition_penalty\":1.1,\"top_p\":null}");
    std::remove(out.c_str());
    ASSERT_EQ(convert(q(dir) + " -o " + q(out)).status, 0);
    {
        Gguf g(out);
        /* generation_config.json -> general.sampling.* as gguf-py's Metadata */
        double temp = 0, rep = 0;
        int64_t top_k = 0;
        EXPECT_EQ(nib_gguf_get_f64(g.g, "general.sampling.temp", &temp, nullptr), NIB_OK);
        EXPECT_EQ(nib_gguf_get_f64(g.g, "general.sampling.penalty_repeat", &rep, nullptr), NIB_OK);
        EXPECT_EQ(nib_gguf_get_i64(g.g, "general.sampling.top_k", &top_k, nullptr), NIB_OK);
        EXPECT_FLOAT_EQ((float)temp, 0.6f);
        EXPECT_FLOAT_EQ((float)rep, 1.1f);
        EXPECT_EQ(top_k, 20);
        EXPECT_EQ(nib_gguf_get(g.g, "general.sampling.top_p"), nullptr);
        EXPECT_EQ(g.tensor("blk.0.attn_q.weight")->type, NIB_TYPE_BF16);
        EXPECT_EQ(g.tensor("blk.0.attn_norm.weight")->type, NIB_TYPE_F32);
        uint64_t ft = 0;
        EXPECT_EQ(nib_gguf_get_u64(g.g, "general.file_type", &ft, nullptr), NIB_OK);
        EXPECT_EQ(ft, 32u);
    }
    std::remove(out.c_str());
    remove_tree(dir);
}

/* ------------------------------------------------------------ bad inputs */

namespace {

/* Runs a conversion that must fail: exit 1, the message names the problem,
 * no output file and no temporary file left in the output's directory. */
void expect_fails(const std::string &args, const std::string &out, const std::string &needle) {
    std::string out_dir = out.substr(0, out.rfind('/'));
    std::string base = out.substr(out.rfind('/') + 1);
    CliRun r = convert(args);
    EXPECT_EQ(r.status, 1) << args << "\n" << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << "expected '" << needle << "' in: " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    for (const std::string &n : list_dir(out_dir))
        EXPECT_EQ(n.find(base + ".tmp"), std::string::npos) << "temporary file left: " << n;
}

} // namespace

TEST(Convert, BadInputsFailCleanly) {
    if (!nib_test_have_shared()) GTEST_SKIP() << "no ../shared";
    std::string dir = tmp("bad_hf"), outdir = tmp("bad_out");
    fresh_dir(outdir);
    std::string out = outdir + "/x.gguf";
    make_hf_dir(dir, HfSpec());
    std::vector<uint8_t> good = nib_test_read_file(dir + "/model.safetensors");

    /* truncated safetensors */
    write_bytes(dir + "/model.safetensors", std::vector<uint8_t>(good.begin(), good.begin() + (long)good.size() / 2));
    expect_fails(q(dir) + " -o " + q(out), out, "out of range");
    EXPECT_FALSE(exists(out));
    write_bytes(dir + "/model.safetensors", good);

    /* unknown architecture */
    std::vector<uint8_t> cfg = nib_test_read_file(dir + "/config.json");
    write_text(dir + "/config.json", "{\"architectures\":[\"GPTNeoXForCausalLM\"],\"num_hidden_layers\":2}");
    expect_fails(q(dir) + " -o " + q(out), out, "GPTNeoXForCausalLM");
    write_bytes(dir + "/config.json", cfg);

    /* missing tokenizer */
    std::vector<uint8_t> tj = nib_test_read_file(dir + "/tokenizer.json");
    std::remove((dir + "/tokenizer.json").c_str());
    expect_fails(q(dir) + " -o " + q(out), out, "no tokenizer");
    EXPECT_FALSE(exists(out));
    write_bytes(dir + "/tokenizer.json", tj);

    /* unknown BPE pre-tokenizer */
    {
        HfSpec qs;
        qs.arch = "Qwen2ForCausalLM";
        std::string qd = tmp("bad_qwen");
        make_hf_dir(qd, qs);
        std::vector<uint8_t> t = nib_test_read_file(qd + "/tokenizer.json");
        std::string s(t.begin(), t.end());
        s.replace(s.find("(?i:"), 4, "(?x:");
        write_text(qd + "/tokenizer.json", s);
        expect_fails(q(qd) + " -o " + q(out), out, "--pre");
        CliRun r = convert(q(qd) + " -o " + q(out) + " --pre qwen2");
        EXPECT_EQ(r.status, 0) << r.err;
        std::remove(out.c_str());
        remove_tree(qd);
    }

    /* sharded: the index names a tensor its file lacks; a shard missing */
    {
        HfSpec ss;
        ss.shards = 2;
        std::string sd = tmp("bad_sharded");
        make_hf_dir(sd, ss);
        std::vector<uint8_t> idx = nib_test_read_file(sd + "/model.safetensors.index.json");
        std::string t(idx.begin(), idx.end());
        t.insert(t.find("\"weight_map\":{") + 14, "\"model.layers.9.mlp.up_proj.weight\":\"model-00001-of-00002.safetensors\",");
        write_text(sd + "/model.safetensors.index.json", t);
        expect_fails(q(sd) + " -o " + q(out), out, "model.layers.9.mlp.up_proj.weight' is not in model-00001-of-00002");
        write_bytes(sd + "/model.safetensors.index.json", idx);
        std::remove((sd + "/model-00002-of-00002.safetensors").c_str());
        expect_fails(q(sd) + " -o " + q(out), out, "model-00002-of-00002.safetensors");
        remove_tree(sd);
    }

    /* existing output, output = input, unwritable output directory */
    write_text(out, "precious");
    expect_fails(q(dir) + " -o " + q(out), out, "exists");
    EXPECT_EQ(nib_test_read_file(out).size(), 8u);
    std::remove(out.c_str());
    expect_fails(q(dir) + " -o " + q(dir + "/model.safetensors") + " --force", dir + "/model.safetensors", "one of the input files");
    EXPECT_EQ(nib_test_read_file(dir + "/model.safetensors"), good);
    std::string notdir = outdir + "/plainfile";
    write_text(notdir, "x");
    expect_fails(q(dir) + " -o " + q(notdir + "/x.gguf"), notdir + "/x.gguf", notdir);

    /* llama2.c: no --tokenizer, truncated checkpoint */
    std::string m = shared("models/stories260K/");
    expect_fails(q(m + "stories260K.bin") + " -o " + q(out), out, "--tokenizer");
    std::vector<uint8_t> bin = nib_test_read_file(m + "stories260K.bin");
    std::string cut = outdir + "/cut.bin";
    write_bytes(cut, std::vector<uint8_t>(bin.begin(), bin.end() - 100));
    expect_fails(q(cut) + " --tokenizer " + q(m + "tok512.bin") + " -o " + q(out), out, "truncated");
    EXPECT_FALSE(exists(out));
    remove_tree(dir);
    remove_tree(outdir);
}

/* A write error mid-file (here EFBIG from a file size limit, as a full disk
 * gives ENOSPC): the message names the failure and nothing is left behind. */
TEST(Convert, WriteErrorLeavesNoFile) {
    if (!nib_test_have_shared()) GTEST_SKIP() << "no ../shared";
    std::string dir = tmp("full_out"), out = dir + "/x.gguf", errf = tmp("full_err.txt");
    fresh_dir(dir);
    std::string cmd = "sh -c \"ulimit -f 500; trap '' XFSZ; exec '" + std::string(NIB_CLI_PATH) + "' convert " +
                      q(shared("models/tinystories656K")) + " -o " + q(out) + "\" 2>" + q(errf);
    int st = std::system(cmd.c_str());
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 1) << st;
    std::vector<uint8_t> e = nib_test_read_file(errf);
    std::string msg(e.begin(), e.end());
    EXPECT_NE(msg.find("write failed"), std::string::npos) << msg;
    EXPECT_TRUE(list_dir(dir).empty()) << "left: " << (list_dir(dir).empty() ? "" : list_dir(dir)[0]);
    std::remove(errf.c_str());
    remove_tree(dir);
}

/* llama2.c's versioned "ak42" v1 export of the same weights converts to the
 * same tensors as the legacy file. */
TEST(Convert, Llama2cVersion1) {
    if (!nib_test_have_shared()) GTEST_SKIP() << "no ../shared";
    std::string m = shared("models/stories260K/");
    std::vector<uint8_t> legacy = nib_test_read_file(m + "stories260K.bin");
    int32_t h[7];
    memcpy(h, legacy.data(), sizeof h);
    ASSERT_GT(h[5], 0) << "shared classifier expected";
    const size_t d = (size_t)h[0], hd = (size_t)h[1], L = (size_t)h[2], kv = d * (size_t)h[4] / (size_t)h[3], v = (size_t)h[5];
    /* legacy order and sizes (floats) */
    const size_t emb = v * d, att = L * d, wq = L * d * d, wk = L * kv * d, wo = L * d * d, w1 = L * hd * d, fin = d;
    const float *f = reinterpret_cast<const float *>(legacy.data() + 28);
    const float *p_emb = f, *p_att = p_emb + emb, *p_wq = p_att + att, *p_wk = p_wq + wq, *p_wv = p_wk + wk, *p_wo = p_wv + wk;
    const float *p_ffn = p_wo + wo, *p_w1 = p_ffn + att, *p_w2 = p_w1 + w1, *p_w3 = p_w2 + w1, *p_fin = p_w3 + w1;
    std::vector<uint8_t> v1(256, 0);
    uint32_t magic = 0x616b3432;
    int32_t version = 1;
    memcpy(&v1[0], &magic, 4);
    memcpy(&v1[4], &version, 4);
    memcpy(&v1[8], h, sizeof h);
    v1[36] = 1; /* shared classifier */
    auto put = [&](const float *p, size_t n) {
        const uint8_t *b = reinterpret_cast<const uint8_t *>(p);
        v1.insert(v1.end(), b, b + 4 * n);
    };
    put(p_att, att), put(p_ffn, att), put(p_fin, fin), put(p_emb, emb), put(p_wq, wq), put(p_wk, wk), put(p_wv, wk);
    put(p_wo, wo), put(p_w1, w1), put(p_w2, w1), put(p_w3, w1);
    std::string bin = tmp("v1.bin"), a = tmp("v1.gguf"), b = tmp("v0.gguf");
    write_bytes(bin, v1);
    std::remove(a.c_str());
    std::remove(b.c_str());
    CliRun r = convert(q(bin) + " --tokenizer " + q(m + "tok512.bin") + " -o " + q(a));
    ASSERT_EQ(r.status, 0) << r.err;
    ASSERT_EQ(convert(q(m + "stories260K.bin") + " --tokenizer " + q(m + "tok512.bin") + " -o " + q(b)).status, 0);
    Gguf ga(a), gb(b);
    ASSERT_EQ(nib_gguf_n_tensors(ga.g), nib_gguf_n_tensors(gb.g));
    for (int64_t i = 0; i < nib_gguf_n_tensors(gb.g); i++) {
        const nib_gguf_tensor *x = nib_gguf_get_tensor(ga.g, i), *y = nib_gguf_get_tensor(gb.g, i);
        ASSERT_STREQ(x->name, y->name);
        ASSERT_EQ(x->n_bytes, y->n_bytes);
        EXPECT_EQ(memcmp(x->data, y->data, x->n_bytes), 0) << x->name;
    }
    /* a v1 body labelled version 2 has no int8 group size: refused by name
     * (real version 2 files: test_convert_llama2c.cc) */
    version = 2;
    memcpy(&v1[4], &version, 4);
    write_bytes(bin, v1);
    r = convert(q(bin) + " --tokenizer " + q(m + "tok512.bin") + " -o " + q(a + "2"));
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.err.find("group size 0"), std::string::npos) << r.err;
    for (const std::string &s : { bin, a, b }) std::remove(s.c_str());
}

/* tokenizer.model: truncations and byte flips are refused (or still parse), never crash. */
TEST(Convert, RopeScaling) {
    if (!nib_test_have_shared()) GTEST_SKIP() << "no ../shared";
    std::string dir = tmp("hf_rope"), out = tmp("hf_rope.gguf");
    make_hf_dir(dir, HfSpec());
    std::vector<uint8_t> cfg = nib_test_read_file(dir + "/config.json");
    std::string base(cfg.begin(), cfg.end() - 1);
    write_text(dir + "/config.json", base + ",\"rope_scaling\":{\"rope_type\":\"llama3\",\"factor\":8.0,\"low_freq_factor\":1.0,"
                                            "\"high_freq_factor\":4.0,\"original_max_position_embeddings\":8192}}");
    std::remove(out.c_str());
    CliRun r = convert(q(dir) + " -o " + q(out));
    ASSERT_EQ(r.status, 0) << r.err;
    {
        Gguf g(out);
        const nib_gguf_tensor *t = g.tensor("rope_freqs.weight");
        ASSERT_NE(t, nullptr);
        EXPECT_EQ(t->type, NIB_TYPE_F32);
        EXPECT_EQ(t->ne[0], 8); /* head_dim 16 / 2 */
        EXPECT_EQ(nib_gguf_get_tensor(g.g, 0), t) << "generated tensors come first";
        const float *f = static_cast<const float *>(t->data);
        EXPECT_EQ(f[0], 1.0f);
        EXPECT_EQ(f[7], 8.0f);
    }
    write_text(dir + "/config.json", base + ",\"rope_scaling\":{\"type\":\"yarn\",\"factor\":4.0,"
                                            "\"original_max_position_embeddings\":64,\"beta_fast\":32}}");
    std::remove(out.c_str());
    r = convert(q(dir) + " -o " + q(out));
    ASSERT_EQ(r.status, 0) << r.err;
    {
        Gguf g(out);
        EXPECT_EQ(g.str("llama.rope.scaling.type"), "yarn");
        double f = 0, bf = 0;
        uint64_t orig = 0;
        EXPECT_EQ(nib_gguf_get_f64(g.g, "llama.rope.scaling.factor", &f, nullptr), NIB_OK);
        EXPECT_EQ(nib_gguf_get_f64(g.g, "llama.rope.scaling.yarn_beta_fast", &bf, nullptr), NIB_OK);
        EXPECT_EQ(nib_gguf_get_u64(g.g, "llama.rope.scaling.original_context_length", &orig, nullptr), NIB_OK);
        EXPECT_EQ(f, 4.0);
        EXPECT_EQ(bf, 32.0);
        EXPECT_EQ(orig, 64u);
    }
    write_text(dir + "/config.json", base + ",\"rope_scaling\":{\"type\":\"mystery\",\"factor\":2}}");
    std::remove(out.c_str());
    r = convert(q(dir) + " -o " + q(out));
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.err.find("mystery"), std::string::npos) << r.err;
    EXPECT_FALSE(exists(out));
    remove_tree(dir);
}
