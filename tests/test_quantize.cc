// `nib quantize` end to end (the built binary): every quantized file of the
// shared fixtures that llama-quantize made from an F32 file there is
// reproduced tensor for tensor (same names, types, shapes, bytes); the same on
// models nib synth makes of shapes the fixtures lack (8 experts, a deep
// 80-layer GQA model, rows no K block divides) against the per-tensor types
// llama.cpp's rules give (types checked here, bytes against llama.cpp's own
// quantizer in scripts/quantize-vs-llama.sh); the thread count changes
// nothing; the safety rules (no overwriting the input or an existing file,
// no half file, requantizing only when asked) and --verify.
#include <gtest/gtest.h>

#include "nib.h"
#include "cli_runner.h"
#include "test_util.h"

#include <cjson/cJSON.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>
#include <zlib.h>

namespace {

struct File {
    nib_gguf *g = nullptr;
    explicit File(const std::string &path) {
        nib_error err = {};
        EXPECT_EQ(nib_gguf_open(path.c_str(), nullptr, &g, &err), NIB_OK) << path << ": " << err.msg;
    }
    ~File() { nib_gguf_free(g); }
    int64_t u64(const char *key) const {
        uint64_t v = 0;
        return g && nib_gguf_get_u64(g, key, &v, nullptr) == NIB_OK ? (int64_t)v : -1;
    }
    std::map<std::string, const nib_gguf_tensor *> tensors() const {
        std::map<std::string, const nib_gguf_tensor *> m;
        for (int64_t i = 0; g && i < nib_gguf_n_tensors(g); i++) m[nib_gguf_get_tensor(g, i)->name] = nib_gguf_get_tensor(g, i);
        return m;
    }
    std::string type_of(const std::string &name) const {
        auto m = tensors();
        auto it = m.find(name);
        return it == m.end() ? "(missing)" : nib_type_name(it->second->type);
    }
};

struct Temp {
    std::string path;
    explicit Temp(const std::string &name) : path(nib_test_temp_path("quantize_" + name)) { std::remove(path.c_str()); }
    ~Temp() { std::remove(path.c_str()); }
};

bool exists(const std::string &p) {
    struct stat st;
    return stat(p.c_str(), &st) == 0;
}

// general.file_type (llama.h LLAMA_FTYPE_*) -> the TYPE argument.
const char *ftype_name(int64_t ft) {
    static const std::map<int64_t, const char *> names = {
        { 0, "F32" },     { 1, "F16" },     { 32, "BF16" },   { 7, "Q8_0" },    { 2, "Q4_0" },    { 3, "Q4_1" },
        { 8, "Q5_0" },    { 9, "Q5_1" },    { 10, "Q2_K" },   { 11, "Q3_K_S" }, { 12, "Q3_K_M" }, { 13, "Q3_K_L" },
        { 14, "Q4_K_S" }, { 15, "Q4_K_M" }, { 16, "Q5_K_S" }, { 17, "Q5_K_M" }, { 18, "Q6_K" },
    };
    auto it = names.find(ft);
    return it == names.end() ? nullptr : it->second;
}

// "" when both files hold the same tensor names with, per tensor, the same
// type, shape and bytes; else what differs first.
std::string tensor_difference(const std::string &mine, const std::string &ref) {
    File a(mine), b(ref);
    auto ta = a.tensors(), tb = b.tensors();
    if (ta.size() != tb.size()) return std::to_string(ta.size()) + " tensors vs " + std::to_string(tb.size());
    for (const auto &[name, t] : tb) {
        auto it = ta.find(name);
        if (it == ta.end()) return "tensor " + name + " missing";
        const nib_gguf_tensor *m = it->second;
        if (m->type != t->type)
            return name + ": type " + nib_type_name(m->type) + ", llama.cpp's " + nib_type_name(t->type);
        if (memcmp(m->ne, t->ne, sizeof m->ne)) return name + ": shape differs";
        if (m->n_bytes != t->n_bytes || memcmp(m->data, t->data, t->n_bytes) != 0)
            return name + " (" + nib_type_name(t->type) + "): bytes differ";
    }
    return "";
}

// The files a quantized fixture may have been made from: its folder's F32
// and F16 files of the same model.
std::vector<std::string> sources_of(const std::string &dir, const std::string &file) {
    std::string base = file.substr(0, file.rfind('-'));
    std::vector<std::string> v;
    for (const char *t : { "-f32.gguf", "-f16.gguf" })
        if (dir + "/" + file != dir + "/" + base + t && exists(dir + "/" + base + t)) v.push_back(dir + "/" + base + t);
    return v;
}

}  // namespace

TEST(Quantize, ReproducesLlamaCppFilesTensorForTensor) {
    // Every quantized (or F16/BF16) fixture of stories260K/ and synth/ was made
    // by llama-quantize from its folder's F32 or F16 file of the same model,
    // with default options or --pure (the synth Q4_0 files: output.weight in
    // Q4_0). nib must reproduce every tensor exactly from one of those.
    if (!nib_test_have_shared()) GTEST_SKIP() << "no shared models";
    int compared = 0, from_f32_default = 0;
    for (const char *sub : { "stories260K", "synth", "trained" }) {
        std::string dir = nib_test_shared_dir() + "/models/" + sub;
        for (const std::string &path : nib_test_list_files(dir, ".gguf")) {
            std::string file = path.substr(path.rfind('/') + 1);
            if (file.find("-f32.gguf") != std::string::npos) continue;
            const char *type = ftype_name(File(path).u64("general.file_type"));
            ASSERT_NE(type, nullptr) << path << ": file type not one nib writes";
            std::string first_difference, made_from;
            for (const std::string &src : sources_of(dir, file)) {
                for (const char *opt : { "", "--pure " }) {
                    Temp out(file);
                    CliRun r = run_nib(std::string("quantize ") + opt + "'" + src + "' '" + out.path + "' " + type);
                    ASSERT_EQ(r.status, 0) << file << ": " << r.err;
                    std::string d = tensor_difference(out.path, path);
                    if (d.empty()) {
                        made_from = src.substr(src.rfind('/') + 1) + " " + opt;
                        from_f32_default += src.find("-f32.gguf") != std::string::npos && !*opt;
                        EXPECT_EQ(File(out.path).u64("general.quantization_version"), 2);
                        break;
                    }
                    if (first_difference.empty()) first_difference = src + " " + opt + ": " + d;
                }
                if (!made_from.empty()) break;
            }
            std::string base = file.substr(0, file.rfind('-'));
            if (!exists(dir + "/" + base + "-f32.gguf")) {
                // No F32 file of this model (synth/llamamoe-*): its fixtures
                // came from the generator's floats; only those made from the
                // F16 file can be reproduced, and this is not an assertion.
                printf("  %-26s %-7s %s\n", file.c_str(), type,
                       made_from.empty() ? "(no F32 file here; not made from the F16 one)"
                                         : ("reproduced from " + made_from).c_str());
                continue;
            }
            EXPECT_FALSE(made_from.empty()) << file << " (" << type << ") not reproduced; first try: " << first_difference;
            printf("  %-26s %-7s reproduced from %s\n", file.c_str(), type, made_from.c_str());
            compared++;
        }
    }
    EXPECT_GE(compared, 25);
    EXPECT_GE(from_f32_default, 15);
}

TEST(Quantize, StoriesFilesAreIdenticalWholeFiles) {
    // llama-quantize made them from stories260K-f32.gguf with default options:
    // nib writes the same metadata in the same order, so the files are equal.
    if (!nib_test_have_shared()) GTEST_SKIP() << "no shared models";
    std::string dir = nib_test_shared_dir() + "/models/stories260K/";
    for (const char *t : { "q4_0", "q4_1", "q5_0", "q5_1", "q8_0", "f16", "bf16" }) {
        Temp out(std::string("whole_") + t);
        CliRun r = run_nib("quantize '" + dir + "stories260K-f32.gguf' '" + out.path + "' " + t);
        ASSERT_EQ(r.status, 0) << r.err;
        EXPECT_EQ(nib_test_read_file(out.path), nib_test_read_file(dir + "stories260K-" + t + ".gguf")) << t;
    }
}

TEST(Quantize, ThreadCountChangesNothingAndVerifyPasses) {
    if (!nib_test_have_shared()) GTEST_SKIP() << "no shared models";
    std::string src = nib_test_shared_dir() + "/models/synth/qwen3moe-f32.gguf";
    Temp one("t1.gguf"), two("t2.gguf");
    CliRun a = run_nib("quantize -t 1 '" + src + "' '" + one.path + "' Q4_K_M");
    CliRun b = run_nib("quantize --verify '" + src + "' '" + two.path + "' Q4_K_M 2");
    ASSERT_EQ(a.status, 0) << a.err;
    ASSERT_EQ(b.status, 0) << b.err;
    EXPECT_NE(b.err.find("verified"), std::string::npos) << b.err;
    EXPECT_EQ(nib_test_read_file(one.path), nib_test_read_file(two.path));
}

// Shapes the fixtures lack, checked against llama-quant.cpp's rules by hand
// through --dry-run's plan (the bytes of such files: scripts/quantize-vs-llama.sh):
// Mixtral's 8 experts (attn_k/attn_v Q8_0, attn_output Q5_K), a deep GQA
// model (use_more_bits layers and the 70B attn_v bump), K mixes the fixtures
// do not have, and rows no 256-block divides.
TEST(Quantize, MixRulesOnShapesTheFixturesLack) {
    Temp src("mix_src.gguf"), out("mix_out.gguf"); /* out: never written (--dry-run) */
    auto synth = [&](const std::string &args) {
        std::remove(src.path.c_str());
        CliRun r = run_nib("synth -o '" + src.path + "' --type F32 " + args);
        ASSERT_EQ(r.status, 0) << r.err;
    };
    /* the plan (--dry-run): name -> new type, without spending the time to quantize */
    struct Plan {
        std::string text;
        std::string type_of(const std::string &name) const {
            size_t at = text.find(name + " ");
            if (at == std::string::npos || (at > 0 && text[at - 1] != '\n')) return "(missing)";
            size_t arrow = text.find("-> ", at);
            size_t end = text.find(' ', arrow + 3);
            return text.substr(arrow + 3, end - arrow - 3);
        }
    };
    Plan plan;
    auto quantize = [&](const std::string &type, const std::string &extra = "") {
        CliRun r = run_nib("quantize --dry-run " + extra + " '" + src.path + "' '" + out.path + "' " + type);
        EXPECT_EQ(r.status, 0) << r.err;
        plan.text = r.out;
    };

    synth("--n-embd 256 --n-layer 2 --n-head 4 --n-head-kv 1 --n-ff 256 --n-vocab 300 --n-expert 8 --n-expert-used 2");
    quantize("Q4_K_M");
    {
        const Plan &f = plan;
        EXPECT_EQ(f.type_of("blk.0.attn_k.weight"), "Q8_0");
        EXPECT_EQ(f.type_of("blk.1.attn_v.weight"), "Q8_0");
        EXPECT_EQ(f.type_of("blk.0.attn_output.weight"), "Q5_K");
        EXPECT_EQ(f.type_of("blk.0.attn_q.weight"), "Q4_K");
        EXPECT_EQ(f.type_of("blk.0.ffn_down_exps.weight"), "Q4_K");  // use_more_bits(0, 2) is false
        EXPECT_EQ(f.type_of("blk.1.ffn_down_exps.weight"), "Q6_K");  // 1 >= 7*2/8
        EXPECT_EQ(f.type_of("blk.0.ffn_gate_inp.weight"), "F32");
        EXPECT_EQ(f.type_of("output.weight"), "Q6_K");
    }
    quantize("Q5_K_M");
    EXPECT_EQ(plan.type_of("blk.0.attn_output.weight"), "Q5_K");

    // 80 layers, GQA: llama.cpp's LLM_TYPE_70B; narrow so it stays small.
    synth("--n-embd 256 --n-layer 80 --n-head 8 --n-head-kv 1 --n-ff 256 --n-vocab 300");
    quantize("Q4_K_M");
    {
        const Plan &f = plan;
        // attn_v: use_more_bits(i, 80) -> Q6_K (i < 10, i >= 70, (i-10)%3 == 2), else Q4_K bumped to Q5_K (70B)
        for (int i : { 0, 9, 12, 70, 79 }) EXPECT_EQ(f.type_of("blk." + std::to_string(i) + ".attn_v.weight"), "Q6_K") << i;
        for (int i : { 10, 11, 13, 68 }) EXPECT_EQ(f.type_of("blk." + std::to_string(i) + ".attn_v.weight"), "Q5_K") << i;
        for (int i : { 0, 12, 79 }) EXPECT_EQ(f.type_of("blk." + std::to_string(i) + ".ffn_down.weight"), "Q6_K") << i;
        for (int i : { 10, 13 }) EXPECT_EQ(f.type_of("blk." + std::to_string(i) + ".ffn_down.weight"), "Q4_K") << i;
    }
    quantize("Q3_K_M");
    {
        const Plan &f = plan;
        EXPECT_EQ(f.type_of("blk.0.attn_v.weight"), "Q5_K");   // i_attention_wv < 2
        EXPECT_EQ(f.type_of("blk.2.attn_v.weight"), "Q5_K");   // Q4_K, 70B bump
        EXPECT_EQ(f.type_of("blk.4.ffn_down.weight"), "Q5_K"); // layer < 80/16
        EXPECT_EQ(f.type_of("blk.5.ffn_down.weight"), "Q4_K");
        EXPECT_EQ(f.type_of("blk.5.attn_output.weight"), "Q4_K");
        EXPECT_EQ(f.type_of("blk.5.attn_q.weight"), "Q3_K");
    }
    quantize("Q4_K_S");
    {
        const Plan &f = plan;
        EXPECT_EQ(f.type_of("blk.3.attn_v.weight"), "Q5_K");
        EXPECT_EQ(f.type_of("blk.4.attn_v.weight"), "Q5_K");   // Q4_K, 70B bump
        EXPECT_EQ(f.type_of("blk.9.ffn_down.weight"), "Q5_K"); // layer < 80/8
        EXPECT_EQ(f.type_of("blk.10.ffn_down.weight"), "Q4_K");
    }
    quantize("Q2_K");
    {
        const Plan &f = plan;
        EXPECT_EQ(f.type_of("blk.3.attn_v.weight"), "Q5_K");   // n_gqa 8 >= 4: Q4_K, 70B bump
        EXPECT_EQ(f.type_of("blk.3.ffn_down.weight"), "Q3_K");
        EXPECT_EQ(f.type_of("blk.3.attn_output.weight"), "Q3_K");
        EXPECT_EQ(f.type_of("blk.3.ffn_up.weight"), "Q2_K");
    }
    quantize("Q4_K_M", "--pure");
    {
        const Plan &f = plan;
        EXPECT_EQ(f.type_of("blk.0.attn_v.weight"), "Q4_K");
        EXPECT_EQ(f.type_of("output.weight"), "Q4_K");
    }

    // Rows of 96 (n_embd) and 160 (n_ff): no 256 block fits; tied output.
    synth("--n-embd 96 --n-layer 2 --n-head 4 --n-head-kv 2 --n-ff 160 --n-vocab 300 --tied");
    quantize("Q3_K_L");
    {
        const Plan &f = plan;
        EXPECT_EQ(f.type_of("token_embd.weight"), "Q8_0");       // tied: the output's rule, 96 % 256 -> Q8_0
        EXPECT_EQ(f.type_of("blk.0.attn_q.weight"), "Q4_0");     // Q3_K -> Q4_0
        EXPECT_EQ(f.type_of("blk.0.attn_v.weight"), "Q5_1");     // Q5_K -> Q5_1
        EXPECT_EQ(f.type_of("blk.0.ffn_down.weight"), "Q5_1");   // Q5_K, 160 -> Q5_1
        EXPECT_EQ(f.type_of("blk.0.attn_norm.weight"), "F32");
    }
    quantize("Q6_K", "--output-tensor-type F16 --token-embedding-type Q8_0");
    EXPECT_EQ(plan.type_of("token_embd.weight"), "Q8_0");
}

TEST(Quantize, QuantizedModelRuns) {
    Temp src("run_src.gguf"), out("run_out.gguf");
    ASSERT_EQ(run_nib("synth -o '" + src.path + "' --type F16 --preset tiny").status, 0);
    CliRun q = run_nib("quantize '" + src.path + "' '" + out.path + "' Q4_K_M");
    ASSERT_EQ(q.status, 0) << q.err;
    CliRun g = run_nib("generate -m '" + out.path + "' -p 'hello' -n 4 --temp 0");
    EXPECT_EQ(g.status, 0) << g.err;
}

TEST(Quantize, RefusesUnsafeOrBadRequests) {
    if (!nib_test_have_shared()) GTEST_SKIP() << "no shared models";
    std::string f32 = nib_test_shared_dir() + "/models/stories260K/stories260K-f32.gguf";
    std::string q8 = nib_test_shared_dir() + "/models/stories260K/stories260K-q8_0.gguf";
    Temp copy("input.gguf"), out("out.gguf");
    {
        std::vector<uint8_t> b = nib_test_read_file(f32);
        FILE *f = fopen(copy.path.c_str(), "wb");
        ASSERT_NE(f, nullptr);
        fwrite(b.data(), 1, b.size(), f);
        fclose(f);
    }
    std::vector<uint8_t> before = nib_test_read_file(copy.path);
    std::string dir = copy.path.substr(0, copy.path.rfind('/'));
    std::string same = dir + "/./" + copy.path.substr(copy.path.rfind('/') + 1);

    CliRun r = run_nib("quantize --force '" + copy.path + "' '" + same + "' Q4_0");
    EXPECT_NE(r.status, 0);
    EXPECT_NE(r.err.find("is the input file"), std::string::npos) << r.err;
    EXPECT_EQ(nib_test_read_file(copy.path), before);

    ASSERT_EQ(run_nib("quantize '" + f32 + "' '" + out.path + "' Q4_0").status, 0);
    r = run_nib("quantize '" + f32 + "' '" + out.path + "' Q8_0");
    EXPECT_NE(r.status, 0);
    EXPECT_NE(r.err.find("exists"), std::string::npos) << r.err;
    EXPECT_EQ(File(out.path).u64("general.file_type"), 2);  // untouched
    r = run_nib("quantize --force '" + f32 + "' '" + out.path + "' Q8_0");
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(File(out.path).u64("general.file_type"), 7);
    std::remove(out.path.c_str());

    r = run_nib("quantize '" + q8 + "' '" + out.path + "' Q4_0");
    EXPECT_NE(r.status, 0);
    EXPECT_NE(r.err.find("--allow-requantize"), std::string::npos) << r.err;
    EXPECT_FALSE(exists(out.path));
    r = run_nib("quantize --allow-requantize '" + q8 + "' '" + out.path + "' Q4_0");
    EXPECT_EQ(r.status, 0) << r.err;
    std::remove(out.path.c_str());

    r = run_nib("quantize '" + nib_test_shared_dir() + "/models/synth/llama-f32.gguf' '" + out.path + "' Q2_K_S");
    EXPECT_NE(r.status, 0);
    EXPECT_NE(r.err.find("needs importance data (--imatrix FILE)"), std::string::npos) << r.err;
    EXPECT_FALSE(exists(out.path));

    r = run_nib("quantize '" + f32 + "' '" + out.path + "' Q9_9");
    EXPECT_NE(r.status, 0);
    EXPECT_NE(r.err.find("unknown type 'Q9_9'"), std::string::npos) << r.err;
    r = run_nib("quantize '" + f32 + "' '" + out.path + "'");
    EXPECT_NE(r.status, 0);
    EXPECT_NE(r.err.find("expected IN.gguf OUT.gguf TYPE"), std::string::npos) << r.err;
    r = run_nib("quantize '" + dir + "/no-such.gguf' '" + out.path + "' Q4_0");
    EXPECT_NE(r.status, 0);
    EXPECT_NE(r.err.find("no-such.gguf"), std::string::npos) << r.err;
    r = run_nib("quantize '" + f32 + "' '/nonexistent-dir/x.gguf' Q4_0");
    EXPECT_NE(r.status, 0);
    EXPECT_NE(r.err.find("/nonexistent-dir/x.gguf"), std::string::npos) << r.err;
    EXPECT_FALSE(exists(out.path));

    // A truncated input: a clear error, nothing written.
    std::vector<uint8_t> b = nib_test_read_file(f32);
    FILE *f = fopen(copy.path.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    fwrite(b.data(), 1, b.size() / 2, f);
    fclose(f);
    r = run_nib("quantize '" + copy.path + "' '" + out.path + "' Q4_0");
    EXPECT_NE(r.status, 0);
    EXPECT_NE(r.err.find("error"), std::string::npos) << r.err;
    EXPECT_FALSE(exists(out.path));
}

TEST(Quantize, DryRunListsThePlanAndWritesNothing) {
    if (!nib_test_have_shared()) GTEST_SKIP() << "no shared models";
    Temp out("dry.gguf");
    CliRun r = run_nib("quantize --dry-run '" + nib_test_shared_dir() + "/models/stories260K/stories260K-f32.gguf' '" +
                       out.path + "' Q4_K_M");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("blk.0.ffn_down.weight"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("fallback"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("total: 48 tensors"), std::string::npos) << r.out;
    EXPECT_FALSE(exists(out.path));
}

TEST(Quantize, InspectChecksumIsZlibCrc32OfEachTensorAndTheDataSection) {
    if (!nib_test_have_shared()) GTEST_SKIP() << "no shared models";
    std::string path = nib_test_shared_dir() + "/models/synth/qwen3moe-q4km.gguf";
    CliRun r = run_nib("inspect --checksum '" + path + "'");
    ASSERT_EQ(r.status, 0) << r.err;
    File f(path);
    char line[160];
    for (int64_t i = 0; i < nib_gguf_n_tensors(f.g); i++) {
        const nib_gguf_tensor *t = nib_gguf_get_tensor(f.g, i);
        snprintf(line, sizeof line, "%08lx", (unsigned long)crc32_z(0, (const Bytef *)t->data, t->n_bytes));
        std::string want = std::string(line) + "  " + nib_type_name(t->type);
        size_t at = r.out.find(want);
        ASSERT_NE(at, std::string::npos) << t->name << ": " << want;
        EXPECT_EQ(r.out.substr(r.out.find('\n', at) - strlen(t->name), strlen(t->name)), t->name);
    }
    std::vector<uint8_t> bytes = nib_test_read_file(path);
    uint64_t off = nib_gguf_data_offset(f.g);
    snprintf(line, sizeof line, "data section: %08lx (%llu bytes from offset %llu)",
             (unsigned long)crc32_z(0, bytes.data() + off, bytes.size() - off), (unsigned long long)(bytes.size() - off),
             (unsigned long long)off);
    EXPECT_NE(r.out.find(line), std::string::npos) << r.out;

    CliRun j = run_nib("inspect --checksum --json '" + path + "'");
    ASSERT_EQ(j.status, 0) << j.err;
    EXPECT_NE(j.out.find(std::string("\"crc32\":\t\"") + std::string(line).substr(14, 8)), std::string::npos) << j.out;
}

namespace {

// The nib binary under `sh -c` with a prefix (ulimit, trap, timeout ...).
int run_shell(const std::string &prefix, const std::string &args, std::string *err) {
    std::string errfile = nib_test_temp_path("quantize_sh.err");
    std::string cmd = "sh -c \"" + prefix + " '" + NIB_CLI_PATH + "' " + args + "\" 2>'" + errfile + "' >/dev/null";
    int st = system(cmd.c_str());
    std::vector<uint8_t> e = nib_test_read_file(errfile);
    err->assign(e.begin(), e.end());
    std::remove(errfile.c_str());
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

// Files in the output's folder whose names start with the output's name.
int leftovers(const std::string &out) {
    std::string dir = out.substr(0, out.rfind('/')), base = out.substr(out.rfind('/') + 1);
    int n = 0;
    for (const std::string &p : nib_test_list_files(dir, ""))
        if (p.substr(p.rfind('/') + 1).rfind(base, 0) == 0) n++;
    return n;
}

}  // namespace

TEST(Quantize, DiskFullAndInterruptionLeaveNoFile) {
    Temp src("big_src.gguf"), out("big_out.gguf");
    // ~50 MB of F32 weights: big enough to outgrow the file size limit and to
    // still be running when the signal comes on most machines.
    ASSERT_EQ(run_nib("synth -o '" + src.path + "' --type F32 --n-embd 1024 --n-layer 3 --n-head 8 --n-ff 2816 "
                      "--n-vocab 2000").status, 0);
    std::string err;
    // A full disk: writes fail with EFBIG past 1 MiB (SIGXFSZ ignored).
    int st = run_shell("trap '' XFSZ; ulimit -f 1024;", "quantize '" + src.path + "' '" + out.path + "' Q8_0", &err);
    EXPECT_NE(st, 0);
    EXPECT_NE(err.find("write failed"), std::string::npos) << err;
    EXPECT_EQ(leftovers(out.path), 0) << "a partial or temporary file was left";

    // Ctrl-C while it runs: either it finished first (a complete file) or it
    // stopped with nothing left behind.
    st = run_shell("timeout --preserve-status -s INT 0.15", "quantize -t 1 '" + src.path + "' '" + out.path + "' Q4_K_M", &err);
    if (st == 0) {
        EXPECT_EQ(leftovers(out.path), 1);
        File f(out.path);
        EXPECT_EQ(f.u64("general.file_type"), 15);
    } else {
        EXPECT_EQ(st, 130) << err;  // 128 + SIGINT
        EXPECT_NE(err.find("interrupted"), std::string::npos) << err;
        EXPECT_EQ(leftovers(out.path), 0) << "a partial or temporary file was left";
    }
}

/* --imatrix: every tensor equal to what llama.cpp's quantizer made from the
 * same F32 file and importance matrix (tests/data/imatrix/expected.json: type
 * and CRC32 per tensor, dense and MoE, ten file types with Q2_K_S), and the
 * quantize.imatrix.* metadata llama-quantize writes. */
TEST(Quantize, ImatrixOutputEqualsLlamaCpps) {
    if (!nib_test_have_shared()) GTEST_SKIP() << "no shared models";
    const std::string dir = std::string(NIB_SOURCE_DIR) + "/tests/data/imatrix/";
    std::vector<uint8_t> raw = nib_test_read_file(dir + "expected.json");
    cJSON *root = cJSON_ParseWithLength(reinterpret_cast<const char *>(raw.data()), raw.size());
    ASSERT_NE(root, nullptr);
    const cJSON *models = cJSON_GetObjectItem(root, "models");
    int checked = 0;
    for (const cJSON *m = models ? models->child : nullptr; m; m = m->next) {
        const std::string src = nib_test_shared_dir() + "/models/synth/" + m->string + "-f32.gguf";
        for (const cJSON *t = m->child; t; t = t->next) {
            SCOPED_TRACE(std::string(m->string) + " " + t->string);
            Temp out(std::string("imx_") + m->string + t->string + ".gguf");
            CliRun r = run_nib("quantize --imatrix '" + dir + m->string + ".dat' '" + src + "' '" + out.path + "' " + t->string);
            ASSERT_EQ(r.status, 0) << r.err;
            File f(out.path);
            auto ts = f.tensors();
            ASSERT_EQ((int)ts.size(), cJSON_GetArraySize(t));
            for (const cJSON *e = t->child; e; e = e->next) {
                auto it = ts.find(e->string);
                ASSERT_NE(it, ts.end()) << e->string;
                char got[64];
                snprintf(got, sizeof got, "%s:%08lx", nib_type_name(it->second->type),
                         (unsigned long)crc32_z(0, (const Bytef *)it->second->data, it->second->n_bytes));
                EXPECT_STREQ(got, e->valuestring) << e->string;
            }
            EXPECT_GT(f.u64("quantize.imatrix.entries_count"), 0);
            EXPECT_EQ(f.u64("quantize.imatrix.chunks_count"), 10);
            const char *ds = nullptr;
            ASSERT_EQ(nib_gguf_get_str(f.g, "quantize.imatrix.dataset", &ds, nullptr), NIB_OK);
            EXPECT_STREQ(ds, "synthetic");
            checked++;
        }
    }
    cJSON_Delete(root);
    EXPECT_EQ(checked, 20);
}

TEST(Quantize, ImatrixErrorsAreClear) {
    if (!nib_test_have_shared()) GTEST_SKIP() << "no shared models";
    const std::string src = nib_test_shared_dir() + "/models/synth/llama-f32.gguf";
    const std::string dir = std::string(NIB_SOURCE_DIR) + "/tests/data/imatrix/";
    Temp out("imx_err.gguf"), bad("imx_bad.dat");
    CliRun r = run_nib("quantize --imatrix '" + dir + "missing.dat' '" + src + "' '" + out.path + "' Q4_K_M");
    EXPECT_NE(r.status, 0);
    EXPECT_NE(r.err.find("missing.dat"), std::string::npos) << r.err;
    /* another model's matrix (rows of 256 for stories260K's 64): refused, as llama-quantize */
    r = run_nib("quantize --imatrix '" + dir + "llama.dat' '" + nib_test_shared_dir() + "/models/stories260K/stories260K-f32.gguf' '" +
                out.path + "' Q4_0");
    EXPECT_NE(r.status, 0) << r.err;
    EXPECT_NE(r.err.find("has 256 weights, the tensor needs 64"), std::string::npos) << r.err;
    EXPECT_FALSE(exists(out.path));
    std::vector<uint8_t> b = nib_test_read_file(dir + "llama.dat");
    FILE *f = fopen(bad.path.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    fwrite(b.data(), 1, b.size() / 3, f);
    fclose(f);
    r = run_nib("quantize --imatrix '" + bad.path + "' '" + src + "' '" + out.path + "' Q4_K_M");
    EXPECT_NE(r.status, 0);
    EXPECT_NE(r.err.find("imatrix"), std::string::npos) << r.err;
    EXPECT_FALSE(exists(out.path));
}
