// The forward pass against llama.cpp on every model with golden outputs
// (../shared/golden/{stories260K,synth,trained}, MoE models included):
//  - prompt logits: the whole prompt in one batch, the golden top-10 ids at
//    every position compared with nib's logits for those ids;
//  - greedy: one-token decodes, tokens compared with llama.cpp's;
//  - at 1 and 2 threads, KV blocks of 16 and 32 tokens; and with a Q8_0 KV
//    cache at a looser bound (see check_model).
// With the AVX2 kernels (what this machine and CI select), nib reproduces
// the float order of llama.cpp's AVX2 build that made the golden files
// (kernels/cpu/README.md), so the check is strict: logits within 1e-6*S
// (S = the largest |logit| in the file; in practice they are bit-equal) and
// every greedy token identical.
// Other variants (ref, neon) sum in other orders; they get llama.cpp's own
// noise floor from golden/README.md (F32 max(5e-4, 2e-4*S), F16 max(2e-3,
// 1e-3*S), BF16 max(5e-3, 2e-3*S), quantized max(5e-2, 1e-2*S)), and greedy
// stops being compared at the first step where llama.cpp's own top-2 gap is
// within twice that (a near-tie that rounding may legitimately flip). So do
// the amx variant's prompt batches where its bf16 GEMM and attention take
// them (ForcedBf16.Golden in ctest).
// Measured worst cases are printed per file.
#include <gtest/gtest.h>

#include "dispatch.h"
#include "nib.h"
#include "test_util.h"

#include <cjson/cJSON.h>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

struct Golden {
    std::vector<int32_t> prompt;
    std::vector<std::vector<std::pair<int32_t, float>>> prompt_top; /* per position */
    std::vector<int32_t> greedy;
    std::vector<std::vector<std::pair<int32_t, float>>> steps;       /* per generated token */
};

std::vector<std::pair<int32_t, float>> read_top(const cJSON *arr) {
    std::vector<std::pair<int32_t, float>> v;
    const cJSON *e = nullptr;
    cJSON_ArrayForEach(e, arr) v.push_back({ (int32_t)cJSON_GetObjectItem(e, "id")->valuedouble,
                                             (float)cJSON_GetObjectItem(e, "logit")->valuedouble });
    return v;
}

std::vector<Golden> read_golden(const cJSON *root, float *max_abs) {
    std::vector<Golden> out;
    const cJSON *c = nullptr;
    *max_abs = 0;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(root, "cases")) {
        Golden g;
        const cJSON *e = nullptr;
        cJSON_ArrayForEach(e, cJSON_GetObjectItem(c, "prompt_tokens")) g.prompt.push_back((int32_t)e->valuedouble);
        cJSON_ArrayForEach(e, cJSON_GetObjectItem(c, "prompt_logits")) g.prompt_top.push_back(read_top(e));
        const cJSON *gr = cJSON_GetObjectItem(c, "greedy");
        cJSON_ArrayForEach(e, cJSON_GetObjectItem(gr, "tokens")) g.greedy.push_back((int32_t)e->valuedouble);
        cJSON_ArrayForEach(e, cJSON_GetObjectItem(gr, "steps")) g.steps.push_back(read_top(e));
        for (const auto &pos : g.prompt_top)
            for (const auto &p : pos) *max_abs = std::max(*max_abs, std::fabs(p.second));
        out.push_back(g);
    }
    return out;
}

/* Whether the model has a Q8_0 matrix whose rows come in eights (what the
 * x86 variants multiply with their Q8_0 prompt GEMM, kernels/cpu/README.md). */
bool has_q8_0_gemm_weights(const nib_model *m) {
    const nib_gguf *g = nib_model_gguf(m);
    for (int64_t i = 0; i < nib_gguf_n_tensors(g); i++) {
        const nib_gguf_tensor *t = nib_gguf_get_tensor(g, i);
        if (t->type == NIB_TYPE_Q8_0 && t->n_dims >= 2 && t->ne[1] % 8 == 0 && std::strstr(t->name, "token_embd") == nullptr)
            return true;
    }
    return false;
}

/* Whether prompts of `longest` tokens take the amx variant's bf16 prompt
 * GEMM (kernels/cpu/gemm_bf16_amx.h) on some matrix of the model, or its
 * bf16 attention tile (attention_amx.c, every model whose head dim is a
 * multiple of 32): not llama.cpp's bits, so its models get the bound of
 * their type. The default thresholds (attention 96 rows, matmuls 24-96 by
 * weight type: dispatch.c) are above the golden prompts (up to 55 tokens)
 * but for Q2_K and Q3_K; ctest's ForcedBf16.Golden lowers them all to 2
 * (NIB_BF16_MIN_TOKENS). */
bool bf16_applies(const nib_model *m, size_t longest) {
    const struct nib_cpu_kernels *k = nib_cpu_kernels();
    if (!k->bf16_gemm) return false;
    if (k->attention_tile_bf16 && longest >= (size_t)k->bf16_min_tokens) return true;
    const nib_gguf *g = nib_model_gguf(m);
    for (int64_t i = 0; i < nib_gguf_n_tensors(g); i++) {
        const nib_gguf_tensor *t = nib_gguf_get_tensor(g, i);
        if (t->n_dims >= 2 && t->ne[1] % 32 == 0 && k->bf16_gemm(t->type, true) && longest >= (size_t)k->bf16_min_rows[t->type] &&
            std::strstr(t->name, "token_embd") == nullptr)
            return true;
    }
    return false;
}

/* Whether prompts of `longest` tokens take the variant's unit_gemm (Q4_1,
 * Q5_0, Q5_1, Q5_K, Q6_K matrices of 16k rows: kernels/cpu/units_gemm_amx.c,
 * packed_amx.c, units_gemm_avx2.c) or rows16_gemm (Q2_K, Q3_K:
 * kquants_gemm_avx2.c), whose block order is not llama.cpp's. */
bool unit_gemm_applies(const nib_model *m, size_t longest) {
    const struct nib_cpu_kernels *k = nib_cpu_kernels();
    const nib_gguf *g = nib_model_gguf(m);
    for (int64_t i = 0; i < nib_gguf_n_tensors(g); i++) {
        const nib_gguf_tensor *t = nib_gguf_get_tensor(g, i);
        if (t->n_dims < 2 || t->ne[1] % 16 != 0 || std::strstr(t->name, "token_embd") != nullptr) continue;
        if (k->unit_gemm[t->type] && longest >= (size_t)k->unit_gemm_min_tokens[t->type]) return true;
        if (k->rows16_gemm[t->type] && longest >= (size_t)k->rows16_gemm_min_tokens[t->type]) return true;
    }
    return false;
}

/* The x86 variants reproduce llama.cpp's AVX2 build bit for bit, except
 * their Q8_0 prompt GEMM (one integer sum per block, not tinyBLAS's lanes)
 * and the unit_gemm / rows16_gemm prompt batches: those models get the quantized-weights
 * bound. */
bool strict(const nib_model *m, size_t longest) {
    const char *b = nib_cpu_backend();
    return (std::strcmp(b, "avx2") == 0 || std::strcmp(b, "avx512") == 0 || std::strcmp(b, "amx") == 0) &&
           !has_q8_0_gemm_weights(m) && !unit_gemm_applies(m, longest);
}

float tolerance(const std::string &path, float S, bool exact) {
    if (exact) return 1e-6f * S;
    if (path.find("-f32") != std::string::npos) return std::max(5e-4f, 2e-4f * S);
    if (path.find("-f16") != std::string::npos) return std::max(2e-3f, 1e-3f * S);
    if (path.find("-bf16") != std::string::npos) return std::max(5e-3f, 2e-3f * S);
    return std::max(5e-2f, 1e-2f * S);
}

struct Stats {
    double max_err = 0;
    int positions = 0, greedy_tokens = 0, greedy_cut = 0;
};

/* kv_type Q8_0: the quantized cache is nib's own arithmetic (llama.cpp needs
 * flash attention for it), so every type gets the quantized-weights bound
 * max(5e-2, 1e-2*S) and greedy may stop at a near-tie; files whose head dim
 * is not a multiple of 32 are skipped (the cache refuses them).
 * MoE models in an approximate mode (Q8_0 cache, or the ref/neon orders):
 * when two router probabilities are closer than the rounding difference, the
 * top-k choice flips and the logits jump by far more than any rounding bound
 * (measured up to 0.78 on tiny-qwen3moe-q8_0 with a Q8_0 cache). There the
 * logit errors are reported, not bounded, and what is asserted is the top-1
 * token wherever llama.cpp's top-2 gap exceeds 2*tol, and greedy up to the
 * first near-tie. The exact AVX2 path has no such exception. */
void check_model(const std::string &golden_path, int n_threads, int kv_block, Stats *st, int kv_type = 0) {
    std::vector<uint8_t> raw = nib_test_read_file(golden_path);
    raw.push_back(0);
    cJSON *root = cJSON_Parse((const char *)raw.data());
    ASSERT_NE(root, nullptr);
    std::string model = nib_test_shared_dir() + "/models/" + cJSON_GetObjectItem(root, "model")->valuestring;
    float S;
    std::vector<Golden> cases = read_golden(root, &S);
    cJSON_Delete(root);
    const bool q8_kv = kv_type == NIB_TYPE_Q8_0;
    nib_model *m = nullptr;
    nib_error err = {};
    ASSERT_EQ(nib_model_load(model.c_str(), nullptr, &m, &err), NIB_OK) << err.msg;
    size_t longest = 0;
    for (const Golden &g : cases) longest = std::max(longest, g.prompt.size());
    const bool exact = strict(m, longest) && !bf16_applies(m, longest);
    const float tol = q8_kv ? std::max(5e-2f, 1e-2f * S) : tolerance(model, S, exact);
    const bool moe_approx = (q8_kv || !exact) && model.find("moe") != std::string::npos;
    for (const Golden &g : cases) {
        nib_context_params cp = nib_context_default_params();
        cp.n_ctx = (int32_t)(g.prompt.size() + g.greedy.size() + 8);
        cp.n_threads = n_threads;
        cp.kv_block = kv_block;
        cp.kv_type = kv_type;
        nib_context *c = nullptr;
        if (q8_kv && nib_context_new(m, &cp, &c, &err) != NIB_OK) {
            EXPECT_NE(std::string(err.msg).find("multiples of 32"), std::string::npos) << err.msg;
            break; /* head dims not a multiple of 32 */
        }
        if (!c) {
            ASSERT_EQ(nib_context_new(m, &cp, &c, &err), NIB_OK) << err.msg;
        }
        std::vector<int8_t> want(g.prompt.size(), 1);
        nib_batch b = { (int32_t)g.prompt.size(), g.prompt.data(), nullptr, nullptr, want.data(), 0 };
        ASSERT_EQ(nib_decode(c, &b, &err), NIB_OK) << err.msg;
        for (size_t i = 0; i < g.prompt_top.size(); i++) {
            const float *lg = nib_context_logits(c, (int32_t)i);
            ASSERT_NE(lg, nullptr);
            const auto &top = g.prompt_top[i];
            for (const auto &p : top) {
                double e = std::fabs(lg[p.first] - p.second);
                st->max_err = std::max(st->max_err, e);
                if (!moe_approx) {
                    EXPECT_LE(e, tol) << model << " position " << i << " id " << p.first;
                }
            }
            if (moe_approx && top.size() >= 2 && top[0].second - top[1].second > 2 * tol) {
                int32_t best = top[0].first;
                for (const auto &p : top)
                    if (lg[p.first] > lg[best]) best = p.first;
                EXPECT_EQ(best, top[0].first) << model << " position " << i << ": top-1 differs (top-2 gap "
                                              << top[0].second - top[1].second << ")";
            }
            st->positions++;
        }
        /* greedy continuation, one token per decode */
        const float *lg = nib_context_logits(c, (int32_t)g.prompt.size() - 1);
        for (size_t j = 0; j < g.greedy.size(); j++) {
            int32_t best = 0;
            for (int32_t t = 1; t < nib_model_n_vocab(m); t++)
                if (lg[t] > lg[best]) best = t;
            const auto &top = g.steps[j];
            bool near_tie = (q8_kv || !exact) && top.size() >= 2 && top[0].second - top[1].second <= 2 * tol;
            if (best != g.greedy[j]) {
                EXPECT_TRUE(near_tie) << model << ": greedy token " << j << " is " << best << ", llama.cpp " << g.greedy[j]
                                      << " (top-2 gap " << top[0].second - top[1].second << ")";
                st->greedy_cut++;
                break; /* after a legitimate flip the continuations are different texts */
            }
            st->greedy_tokens++;
            if (j + 1 == g.greedy.size()) break;
            nib_batch one = { 1, &g.greedy[j], nullptr, nullptr, nullptr, 0 };
            ASSERT_EQ(nib_decode(c, &one, &err), NIB_OK) << err.msg;
            lg = nib_context_logits(c, 0);
        }
        nib_context_free(c);
    }
    nib_model_free(m);
}

void run_dir(const char *dir) {
    if (!nib_test_have_shared()) GTEST_SKIP() << "no ../shared";
    if (std::getenv("NIB_BF16_MIN_TOKENS") && !nib_cpu_kernels()->bf16_gemm)
        GTEST_SKIP() << "NIB_BF16_MIN_TOKENS set, but this CPU has no AMX-BF16 prompt GEMM to run";
    for (const auto &f : nib_test_list_files(nib_test_shared_dir() + "/golden/" + dir, ".gguf.json")) {
        Stats st;
        SCOPED_TRACE(f);
        /* results must not depend on the thread count or the KV block size */
        check_model(f, 1, 16, &st);
        check_model(f, 2, 16, &st);
        check_model(f, 2, 32, &st);
        Stats q8;
        check_model(f, 2, 16, &q8, NIB_TYPE_Q8_0);
        if (q8.positions)
            std::printf("%-40s q8_0 KV: max |dlogit| %.2e  greedy %d tokens%s\n", f.substr(f.rfind('/') + 1).c_str(), q8.max_err,
                        q8.greedy_tokens, q8.greedy_cut ? " (stopped at a near-tie)" : "");
        std::printf("%-40s max |dlogit| %.2e  positions %d  greedy %d tokens%s\n", f.substr(f.rfind('/') + 1).c_str(), st.max_err,
                    st.positions, st.greedy_tokens, st.greedy_cut ? " (stopped at a near-tie)" : "");
    }
}

} // namespace

TEST(ForwardGolden, Stories260K) { run_dir("stories260K"); }
TEST(ForwardGolden, Synthetic) { run_dir("synth"); }
TEST(ForwardGolden, Trained) { run_dir("trained"); }
