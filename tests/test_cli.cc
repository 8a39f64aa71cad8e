// The `nib` binary end to end: `nib inspect` on the shipped default model
// (text and --json), and bad input giving one clear error line and exit 1.
#include <gtest/gtest.h>

#include "gguf_builder.h"
#include "cli_runner.h"
#include "test_util.h"

#include <cjson/cJSON.h>
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sys/wait.h>

namespace {

const std::string default_model = std::string(NIB_SOURCE_DIR) + "/models/stories260K-q8_0.gguf";

/* `nib bench ARGS -o json`'s results, an array of n; nullptr (the failure
 * reported) when it exits non-zero, prints no JSON or another count. */
cJSON *bench_results(const std::string &args, int n) {
    CliRun r = run_nib("bench " + args + " -o json");
    EXPECT_EQ(r.status, 0) << r.err;
    cJSON *j = r.status == 0 ? cJSON_Parse(r.out.c_str()) : nullptr;
    EXPECT_NE(j, nullptr) << r.out;
    if (j && cJSON_GetArraySize(j) != n) {
        ADD_FAILURE() << cJSON_GetArraySize(j) << " results, not " << n << ": " << r.out;
        cJSON_Delete(j);
        j = nullptr;
    }
    return j;
}

} // namespace

TEST(Cli, InspectDefaultModelText) {
    CliRun r = run_nib("inspect '" + default_model + "'");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("GGUF v3"), std::string::npos);
    EXPECT_NE(r.out.find("architecture: llama"), std::string::npos);
    EXPECT_NE(r.out.find("[512 × str] \"<unk>\", \"<s>\""), std::string::npos);
    EXPECT_NE(r.out.find("blk.4.ffn_up.weight"), std::string::npos);
    EXPECT_NE(r.out.find("total: 292800 parameters"), std::string::npos) << r.out;
}

TEST(Cli, InspectDefaultModelJson) {
    CliRun r = run_nib("inspect --json '" + default_model + "'");
    ASSERT_EQ(r.status, 0) << r.err;
    cJSON *j = cJSON_Parse(r.out.c_str());
    ASSERT_NE(j, nullptr);
    EXPECT_STREQ(cJSON_GetObjectItem(j, "architecture")->valuestring, "llama");
    EXPECT_EQ(cJSON_GetArraySize(cJSON_GetObjectItem(j, "tensors")), 48);
    const cJSON *toks = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "metadata"), "tokenizer.ggml.tokens"), "value");
    EXPECT_EQ(cJSON_GetObjectItem(toks, "length")->valuedouble, 512);
    EXPECT_EQ(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "totals"), "parameters")->valuedouble, 292800);
    cJSON_Delete(j);
}

TEST(Cli, BadInputGivesOneLineAndExitOne) {
    GgufBuilder gb = gguf_good_file();
    gb.put<uint64_t>("tensor1_offset", 68);
    std::string bad = nib_test_temp_path("nib_cli_bad.gguf");
    std::ofstream(bad, std::ios::binary).write((const char *)gb.b.data(), (std::streamsize)gb.b.size());
    CliRun r = run_nib("inspect '" + bad + "'");
    EXPECT_EQ(r.status, 1);
    EXPECT_EQ(r.err, "nib: error: " + bad + ": tensor 'q.weight': data offset 68 is not the expected 64 "
                     "(previous tensors' sizes aligned to 32)\n");
    EXPECT_TRUE(r.out.empty());
    r = run_nib("inspect /nonexistent.gguf");
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.err.find("cannot open"), std::string::npos);
    r = run_nib("inspect");
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.err.find("no model file given"), std::string::npos);
    r = run_nib("inspect --bogus x.gguf");
    EXPECT_EQ(r.status, 1);
    r = run_nib("frobnicate");
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.err.find("unknown command 'frobnicate'"), std::string::npos);
    std::remove(bad.c_str());
}

TEST(Cli, TokenizeAndDetokenize) {
    CliRun r = run_nib("tokenize -m '" + default_model + "' -p 'Once upon a time'");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, "[1,403,407,261,378]\n");
    r = run_nib("tokenize -m '" + default_model + "' -p 'Once upon a time' --no-bos --pieces");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, "[{\"id\":403,\"piece\":\" Once\"},{\"id\":407,\"piece\":\" upon\"},{\"id\":261,\"piece\":\" a\"},"
                     "{\"id\":378,\"piece\":\" time\"}]\n");
    std::string batch = nib_test_temp_path("nib_batch.jsonl");
    std::ofstream(batch) << "\"Once upon a time\"\n\"<s>\"\n";
    r = run_nib("tokenize -m '" + default_model + "' --batch '" + batch + "' --no-special");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, "[1,403,407,261,378]\n[1,410,504,419,505]\n"); /* llama.cpp gives the same */
    r = run_nib("detokenize -m '" + default_model + "' --tokens 1,403,407,261,378 --remove-special");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, " Once upon a time\n");
    r = run_nib("detokenize -m '" + default_model + "' --tokens 403,407,261,378");
    EXPECT_EQ(r.out, "Once upon a time\n");
    std::remove(batch.c_str());
}

TEST(Cli, TokenizeErrors) {
    CliRun r = run_nib("tokenize -p hi");
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.err.find("no model given"), std::string::npos);
    r = run_nib("detokenize -m '" + default_model + "' --tokens 1,99999");
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.err.find("token 99999 at position 1 is out of range (vocabulary has 512 tokens)"), std::string::npos) << r.err;
    r = run_nib("detokenize -m '" + default_model + "' --tokens 1,x");
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.err.find("is not a list of token ids"), std::string::npos) << r.err;
    std::string batch = nib_test_temp_path("nib_batch_bad.jsonl");
    std::ofstream(batch) << "\"ok\"\nnot json\n";
    r = run_nib("tokenize -m '" + default_model + "' --batch '" + batch + "'");
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.err.find(":2: not a JSON string"), std::string::npos) << r.err;
    std::remove(batch.c_str());
}

TEST(Cli, GenerateGreedyMatchesGolden) {
    if (!nib_test_have_shared()) GTEST_SKIP() << "no ../shared";
    std::vector<uint8_t> raw = nib_test_read_file(nib_test_shared_dir() + "/golden/stories260K/stories260K-q8_0.gguf.json");
    raw.push_back(0);
    cJSON *g = cJSON_Parse((const char *)raw.data());
    ASSERT_NE(g, nullptr);
    const cJSON *c = cJSON_GetArrayItem(cJSON_GetObjectItem(g, "cases"), 0);
    std::string prompt = cJSON_GetObjectItem(c, "prompt")->valuestring;
    const cJSON *greedy = cJSON_GetObjectItem(c, "greedy");
    CliRun r = run_nib("generate -m '" + default_model + "' -p '" + prompt + "' -n 64 --temp 0 --json");
    ASSERT_EQ(r.status, 0) << r.err;
    cJSON *j = cJSON_Parse(r.out.c_str());
    ASSERT_NE(j, nullptr) << r.out;
    char *want = cJSON_PrintUnformatted(cJSON_GetObjectItem(greedy, "tokens"));
    char *got = cJSON_PrintUnformatted(cJSON_GetObjectItem(j, "tokens"));
    EXPECT_STREQ(got, want);
    EXPECT_STREQ(cJSON_GetObjectItem(j, "text")->valuestring, cJSON_GetObjectItem(greedy, "text")->valuestring);
    EXPECT_STREQ(cJSON_GetObjectItem(j, "stop")->valuestring, cJSON_GetObjectItem(greedy, "stop")->valuestring);
    free(want);
    free(got);
    cJSON_Delete(j);
    cJSON_Delete(g);
}

TEST(Cli, GenerateStreamsAndStops) {
    /* default model, fixed seed: same text twice; a stop string ends it early */
    CliRun a = run_nib("generate -p 'Once upon a time' -n 40 --seed 7");
    CliRun b = run_nib("generate -p 'Once upon a time' -n 40 --seed 7 -t 1");
    ASSERT_EQ(a.status, 0) << a.err;
    EXPECT_EQ(a.out, b.out);
    EXPECT_NE(a.err.find("KV cache"), std::string::npos) << a.err;
    EXPECT_NE(a.err.find("t/s"), std::string::npos) << a.err;
    CliRun s = run_nib("generate -p 'Once upon a time' -n 40 --seed 7 --stop ' the'");
    ASSERT_EQ(s.status, 0) << s.err;
    EXPECT_EQ(s.out.find(" the"), std::string::npos) << s.out;
    EXPECT_EQ(a.out.compare(0, s.out.size() - 1, s.out, 0, s.out.size() - 1), 0) << a.out << "\n---\n" << s.out;
    EXPECT_NE(s.err.find("stop: stop"), std::string::npos) << s.err;
}

TEST(Cli, GenerateAndLogitsErrors) {
    if (!nib_test_have_shared()) GTEST_SKIP() << "no ../shared";
    const std::string vocab = nib_test_shared_dir() + "/models/vocab/";
    struct Case {
        std::string args, needle;
    } cases[] = {
        { "generate -m '" + vocab + "ggml-vocab-gpt-2.gguf' -p hi", "architecture 'gpt2' is not supported" },
        { "generate -m '" + vocab + "ggml-vocab-llama-spm.gguf' -p hi", "tensor 'token_embd.weight' is missing" },
        { "generate -p 'Once upon a time there was' -c 4", "does not fit in the context of 4 tokens" },
        { "generate -p 'Once' -n 100 -c 20", "does not fit in the context of 20 tokens" },
        { "generate -m /nonexistent.gguf -p hi", "cannot open" },
        { "generate -p hi --temp abc", "--temp: bad value 'abc'" },
        { "generate -p hi -t 0", "is not a thread count" },
        { "generate -p hi --top-p 0", "--top-p: bad value '0'" },
        { "generate -p hi --bogus", "unknown option" },
        { "logits --tokens 1,99999", "token 99999 at index 1 is out of range" },
        { "logits -p hi -k 0", "is not a count" },
        { "logits", "give a prompt" },
    };
    for (const auto &c : cases) {
        CliRun r = run_nib(c.args);
        EXPECT_EQ(r.status, 1) << c.args;
        EXPECT_NE(r.err.find(c.needle), std::string::npos) << c.args << " -> " << r.err;
        EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << c.args << " -> " << r.err;
    }
}

TEST(Cli, LogitsMatchesGoldenShape) {
    CliRun r = run_nib("logits -p 'Once upon a time' -k 3 --all --json");
    ASSERT_EQ(r.status, 0) << r.err;
    cJSON *j = cJSON_Parse(r.out.c_str());
    ASSERT_NE(j, nullptr);
    EXPECT_EQ(cJSON_GetArraySize(cJSON_GetObjectItem(j, "prompt_tokens")), 5);
    const cJSON *pos = cJSON_GetObjectItem(j, "positions");
    ASSERT_EQ(cJSON_GetArraySize(pos), 5);
    const cJSON *last = cJSON_GetArrayItem(pos, 4);
    EXPECT_EQ(cJSON_GetObjectItem(last, "pos")->valuedouble, 4);
    EXPECT_EQ(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(last, "top"), 0), "id")->valuedouble, 432);
    cJSON_Delete(j);
}

TEST(Cli, BenchJsonHasLlamaBenchFields) {
    cJSON *j = bench_results("-p 8 -n 4 -r 2 -t 1", 2);
    ASSERT_NE(j, nullptr);
    const cJSON *pp = cJSON_GetArrayItem(j, 0), *tg = cJSON_GetArrayItem(j, 1);
    EXPECT_STREQ(cJSON_GetObjectItem(pp, "test")->valuestring, "pp8");
    EXPECT_STREQ(cJSON_GetObjectItem(tg, "test")->valuestring, "tg4");
    for (const char *f : { "build_commit", "compiler", "model_filename", "model_size", "model_n_params", "n_threads", "n_prompt",
                           "n_gen", "avg_ns", "stddev_ns", "avg_ts", "stddev_ts", "samples_ts" })
        EXPECT_NE(cJSON_GetObjectItem(pp, f), nullptr) << f;
    EXPECT_GT(cJSON_GetObjectItem(tg, "avg_ts")->valuedouble, 0);
    EXPECT_GT(cJSON_GetObjectItem(tg, "decode_gbps")->valuedouble, 0);
    EXPECT_EQ(cJSON_GetArraySize(cJSON_GetObjectItem(tg, "samples_ts")), 2);
    cJSON_Delete(j);
    CliRun r = run_nib("bench -t 0");
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.err.find("bad value for -t"), std::string::npos) << r.err;
}

/* -d D: every test also after D tokens already in the KV cache, named as
 * llama-bench names it, with n_depth in the JSON; with --parallel the
 * sequences all start from the same D tokens. */
TEST(Cli, BenchDepth) {
    cJSON *j = bench_results("-p 8 -n 4 -d 0,40 --parallel 1,3 -r 1 -t 1", 6);
    ASSERT_NE(j, nullptr);
    const char *names[] = { "pp8", "tg4", "tg4 x3", "pp8 @ d40", "tg4 @ d40", "tg4 x3 @ d40" };
    for (int i = 0; i < 6; i++) {
        const cJSON *t = cJSON_GetArrayItem(j, i);
        EXPECT_STREQ(cJSON_GetObjectItem(t, "test")->valuestring, names[i]);
        EXPECT_EQ(cJSON_GetObjectItem(t, "n_depth")->valueint, i < 3 ? 0 : 40);
        EXPECT_GT(cJSON_GetObjectItem(t, "avg_ts")->valuedouble, 0);
    }
    cJSON_Delete(j);
    CliRun r = run_nib("bench -d -5");
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.err.find("bad value for -d"), std::string::npos) << r.err;
}

/* -c N: the tests run in a window of at least N tokens (n_ctx in the JSON);
 * a test that needs more gets more; 0 or a negative window is named. */
TEST(Cli, BenchContextWindow) {
    cJSON *j = bench_results("-p 0 -n 4 -d 0,600 -c 512 -r 1 -t 1", 2);
    ASSERT_NE(j, nullptr);
    EXPECT_EQ(cJSON_GetObjectItem(cJSON_GetArrayItem(j, 0), "n_ctx")->valueint, 512);
    EXPECT_GT(cJSON_GetObjectItem(cJSON_GetArrayItem(j, 1), "n_ctx")->valueint, 600);
    cJSON_Delete(j);
    CliRun r = run_nib("bench -p 0 -n 4 -c 512 -r 1 -t 1");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("Context window: at least 512 tokens"), std::string::npos) << r.out;
    for (const char *bad : { "bench -c 0", "bench -c -4", "bench -c x" }) {
        r = run_nib(bad);
        EXPECT_EQ(r.status, 1) << bad;
        EXPECT_NE(r.err.find("bad value for -c"), std::string::npos) << r.err;
    }
}

/* nib bench -ngl: 0 is the CPU (the JSON says so); a GPU run in a build
 * without CUDA (or on a machine without a device) is a clear error, not a
 * crash; a bad list is named. */
TEST(Cli, BenchGpuLayers) {
    cJSON *j = bench_results("-p 8 -n 0 -r 1 -t 1 -ngl 0", 1);
    ASSERT_NE(j, nullptr);
    const cJSON *t = cJSON_GetArrayItem(j, 0);
    EXPECT_EQ(cJSON_GetObjectItem(t, "n_gpu_layers")->valueint, 0);
    EXPECT_STREQ(cJSON_GetObjectItem(t, "backend")->valuestring, "cpu");
    cJSON_Delete(j);
    CliRun r = run_nib("bench -p 8 -n 0 -r 1 -t 1 -ngl 99");
#ifndef NIB_CUDA
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.err.find("without CUDA"), std::string::npos) << r.err;
#endif
    r = run_nib("bench -ngl x");
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.err.find("bad value for -ngl"), std::string::npos) << r.err;
}

/* nib batch: several prompts decoded together give each prompt the tokens
 * nib generate gives it alone (greedy), in input order; bad prompt files
 * give one line naming the line. */
TEST(Cli, BatchEqualsGenerateAlone) {
    const std::string dir = ::testing::TempDir(), file = dir + "/nib_batch_prompts.jsonl";
    const std::vector<std::string> prompts = { "Once upon a time", "The little dog", "Lily and Tom went to the park" };
    FILE *f = fopen(file.c_str(), "w");
    ASSERT_NE(f, nullptr);
    for (const std::string &p : prompts) fprintf(f, "\"%s\"\n", p.c_str());
    fprintf(f, "\n{\"tokens\": [1, 403, 407]}\n");
    fclose(f);
    CliRun r = run_nib("batch -m '" + default_model + "' --prompts '" + file + "' -n 24 --temp 0");
    ASSERT_EQ(r.status, 0) << r.err;
    std::vector<std::string> lines;
    for (size_t a = 0, b; a < r.out.size(); a = b + 1) {
        b = r.out.find('\n', a);
        if (b == std::string::npos) b = r.out.size();
        if (b > a) lines.push_back(r.out.substr(a, b - a));
    }
    ASSERT_EQ(lines.size(), 4u) << r.out;
    for (size_t i = 0; i < prompts.size(); i++) {
        CliRun g = run_nib("generate -m '" + default_model + "' -p '" + prompts[i] + "' -n 24 --temp 0 --json");
        ASSERT_EQ(g.status, 0) << g.err;
        EXPECT_EQ(lines[i] + "\n", g.out) << "prompt " << i;
    }
    CliRun g = run_nib("generate -m '" + default_model + "' --tokens 1,403,407 -n 24 --temp 0 --json");
    EXPECT_EQ(lines[3] + "\n", g.out);
    EXPECT_NE(r.err.find("4 prompts, 96 tokens generated"), std::string::npos) << r.err;

    f = fopen(file.c_str(), "w");
    fprintf(f, "\"fine\"\n{\"tokens\": [1, -4]}\n");
    fclose(f);
    r = run_nib("batch -m '" + default_model + "' --prompts '" + file + "' -n 4");
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.err.find("--prompts line 2: token 1 is not an id"), std::string::npos) << r.err;
    f = fopen(file.c_str(), "w");
    fprintf(f, "[1, 2\n");
    fclose(f);
    r = run_nib("batch -m '" + default_model + "' --prompts '" + file + "' -n 4");
    EXPECT_NE(r.err.find("--prompts line 1: not JSON"), std::string::npos) << r.err;
    r = run_nib("batch -m '" + default_model + "' --prompts /nonexistent/p.jsonl");
    EXPECT_NE(r.err.find("/nonexistent/p.jsonl"), std::string::npos) << r.err;
    remove(file.c_str());
}

#ifndef NIB_CUDA
TEST(Cli, GpuLayersInACpuBuildAreRefusedClearly) {
    CliRun r = run_nib("generate -ngl 4 -p hi -n 1");
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.err.find("built without CUDA"), std::string::npos) << r.err;
}
#endif
