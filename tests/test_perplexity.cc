// `nib perplexity` end to end: its PPL against llama.cpp's (from the
// committed fixture tests/data/perplexity/expected.json, made from llama.cpp's
// own logits by make_reference.py), the text output, .gz input, the
// KL-divergence base file and comparison, and bad input giving one clear
// error and exit 1.
#include <gtest/gtest.h>

#include "cli_runner.h"
#include "test_util.h"

#include <cjson/cJSON.h>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <zlib.h>

namespace {

const std::string data_dir = std::string(NIB_SOURCE_DIR) + "/tests/data/perplexity";
const std::string story = data_dir + "/story.txt";
const std::string repo_q8 = std::string(NIB_SOURCE_DIR) + "/models/stories260K-q8_0.gguf";
const std::string repo_chat = std::string(NIB_SOURCE_DIR) + "/models/tiny-chat-q8_0.gguf";

std::string shared_model(const std::string &rel) { return nib_test_shared_dir() + "/" + rel; }
std::string stories(const std::string &q) { return shared_model("models/stories260K/stories260K-" + q + ".gguf"); }

struct Json {
    cJSON *j;
    explicit Json(const std::string &s) : j(cJSON_Parse(s.c_str())) {}
    ~Json() { cJSON_Delete(j); }
    double num(const char *k) const {
        const cJSON *v = cJSON_GetObjectItem(j, k);
        return v ? v->valuedouble : NAN;
    }
};

void write_file(const std::string &path, const std::string &bytes) {
    std::ofstream(path, std::ios::binary).write(bytes.data(), (std::streamsize)bytes.size());
}

std::string read_text(const std::string &path) {
    std::vector<uint8_t> b = nib_test_read_file(path);
    return std::string(b.begin(), b.end());
}

CliRun ppl(const std::string &model, const std::string &args) {
    return run_nib("perplexity -t 2 -m '" + model + "' " + args);
}

// Exit 1 with one "nib: error: ..." line containing `what`, nothing on stdout.
void expect_error(const CliRun &r, const std::string &what) {
    EXPECT_EQ(r.status, 1) << r.err;
    EXPECT_EQ(r.err.rfind("nib: error: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(what), std::string::npos) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
}

} // namespace

// nib's PPL equals the PPL computed from llama.cpp's logits (same text, same
// chunking) within 0.1%, chunk by chunk; the counts are the same exactly.
TEST(Perplexity, MatchesLlamaCpp) {
    if (!nib_test_have_shared()) GTEST_SKIP() << "../shared not available";
    Json ref(read_text(data_dir + "/expected.json"));
    ASSERT_TRUE(cJSON_IsArray(ref.j));
    ASSERT_GE(cJSON_GetArraySize(ref.j), 2);
    const cJSON *e;
    cJSON_ArrayForEach(e, ref.j) {
        const std::string model = cJSON_GetObjectItem(e, "model")->valuestring;
        const int n_ctx = cJSON_GetObjectItem(e, "n_ctx")->valueint;
        CliRun r = ppl(shared_model(model), "-f '" + data_dir + "/" + cJSON_GetObjectItem(e, "text")->valuestring +
                                                "' -c " + std::to_string(n_ctx) + " --json");
        ASSERT_EQ(r.status, 0) << model << ": " << r.err;
        Json got(r.out);
        ASSERT_NE(got.j, nullptr) << r.out;
        const double want = cJSON_GetObjectItem(e, "ppl")->valuedouble, have = got.num("ppl");
        EXPECT_NEAR(have / want, 1.0, 1e-3) << model << ": nib " << have << ", llama.cpp " << want;
        EXPECT_NEAR(got.num("ppl_stderr") / cJSON_GetObjectItem(e, "ppl_stderr")->valuedouble, 1.0, 1e-2) << model;
        EXPECT_EQ(got.num("n_chunks"), cJSON_GetObjectItem(e, "n_chunks")->valuedouble) << model;
        EXPECT_EQ(got.num("n_tokens_scored"), cJSON_GetObjectItem(e, "n_tokens_scored")->valuedouble) << model;
        EXPECT_EQ(got.num("n_ctx"), n_ctx);
        const cJSON *run = cJSON_GetObjectItem(e, "running"), *chunks = cJSON_GetObjectItem(got.j, "chunks");
        ASSERT_EQ(cJSON_GetArraySize(chunks), cJSON_GetArraySize(run));
        for (int i = 0; i < cJSON_GetArraySize(run); i++) {
            double w = cJSON_GetArrayItem(run, i)->valuedouble;
            double h = cJSON_GetObjectItem(cJSON_GetArrayItem(chunks, i), "running_ppl")->valuedouble;
            EXPECT_NEAR(h / w, 1.0, 3e-3) << model << " chunk " << i + 1; // 63 tokens: noisier than the total
        }
    }
}

// --chunks caps the chunk count; -b splits chunks into smaller decode calls
// without changing the result beyond rounding.
TEST(Perplexity, ChunksAndBatchSize) {
    CliRun all = ppl(repo_q8, "-f '" + story + "' -c 128 --json");
    ASSERT_EQ(all.status, 0) << all.err;
    Json a(all.out);
    CliRun three = ppl(repo_q8, "-f '" + story + "' -c 128 --chunks 3 --json");
    ASSERT_EQ(three.status, 0) << three.err;
    Json t(three.out);
    EXPECT_EQ(t.num("n_chunks"), 3);
    EXPECT_EQ(t.num("n_tokens_scored"), 3 * 63);
    const cJSON *c3 = cJSON_GetArrayItem(cJSON_GetObjectItem(a.j, "chunks"), 2);
    EXPECT_DOUBLE_EQ(t.num("ppl"), cJSON_GetObjectItem(c3, "running_ppl")->valuedouble);
    // -b below n_ctx: several calls per chunk; above: several chunks per call
    // (as sequences of their own, llama.cpp's n_seq), the last call shorter.
    for (const char *b : { "20", "512", "2048" }) {
        CliRun other = ppl(repo_q8, "-f '" + story + "' -c 128 -b " + b + " --json");
        ASSERT_EQ(other.status, 0) << other.err;
        Json o(other.out);
        EXPECT_NEAR(o.num("ppl") / a.num("ppl"), 1.0, 1e-4) << "-b " << b;
        EXPECT_EQ(o.num("n_chunks"), 17);
        EXPECT_EQ(cJSON_GetArraySize(cJSON_GetObjectItem(o.j, "chunks")), 17);
    }
    CliRun few = ppl(repo_q8, "-f '" + story + "' -c 128 -b 2048 --chunks 3 --json");
    ASSERT_EQ(few.status, 0) << few.err;
    EXPECT_NEAR(Json(few.out).num("ppl") / t.num("ppl"), 1.0, 1e-4);
}

// The text report: the running estimate and llama.cpp's final line, with the
// numbers --json gives.
TEST(Perplexity, TextOutput) {
    CliRun r = ppl(repo_q8, "-f '" + story + "' -c 128");
    ASSERT_EQ(r.status, 0) << r.err;
    CliRun j = ppl(repo_q8, "-f '" + story + "' -c 128 --json");
    ASSERT_EQ(j.status, 0) << j.err;
    Json js(j.out);
    char first[64], final_line[128];
    snprintf(first, sizeof first, "[1]%.4f,[2]",
             cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(js.j, "chunks"), 0), "running_ppl")->valuedouble);
    snprintf(final_line, sizeof final_line, "\nFinal estimate: PPL = %.4f +/- %.5f\n", js.num("ppl"), js.num("ppl_stderr"));
    EXPECT_EQ(r.out.rfind(first, 0), 0u) << r.out;
    EXPECT_NE(r.out.find("[17]"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(final_line), std::string::npos) << r.out << "\nwant: " << final_line;
}

// A gzip-compressed copy gives exactly the same output; so does a copy with no trailing newline.
TEST(Perplexity, GzipInputSameAsPlain) {
    const std::string text = read_text(story);
    ASSERT_EQ(text.back(), '\n');
    const std::string gz = nib_test_temp_path("ppl_story.txt.gz");
    gzFile f = gzopen(gz.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    ASSERT_EQ(gzwrite(f, text.data(), (unsigned)text.size()), (int)text.size());
    ASSERT_EQ(gzclose(f), Z_OK);
    const std::string bare = nib_test_temp_path("ppl_story_bare.txt");
    write_file(bare, text.substr(0, text.size() - 1));
    CliRun plain = ppl(repo_q8, "-f '" + story + "' -c 128 --json");
    CliRun zipped = ppl(repo_q8, "-f '" + gz + "' -c 128 --json");
    CliRun no_nl = ppl(repo_q8, "-f '" + bare + "' -c 128 --json");
    ASSERT_EQ(plain.status, 0) << plain.err;
    ASSERT_EQ(zipped.status, 0) << zipped.err;
    EXPECT_EQ(zipped.out, plain.out);
    EXPECT_EQ(no_nl.out, plain.out);
    // A truncated gzip stream is an error, not a shorter text.
    std::string bytes = read_text(gz);
    write_file(gz, bytes.substr(0, bytes.size() / 2));
    expect_error(ppl(repo_q8, "-f '" + gz + "' -c 128"), "gzip stream ends early");
    std::remove(gz.c_str());
    std::remove(bare.c_str());
}

// Base file from the f32 model in llama.cpp's layout; the f32 model against
// itself: KLD 0 and the same top token everywhere; quantized models: KLD > 0,
// q4_0 further than q8_0; the PPL each reports is its plain perplexity.
TEST(Perplexity, KlDivergence) {
    if (!nib_test_have_shared()) GTEST_SKIP() << "../shared not available";
    const std::string base = nib_test_temp_path("ppl_base.kld");
    CliRun b = ppl(stories("f32"), "-f '" + story + "' -c 128 --kl-divergence-base '" + base + "' --json");
    ASSERT_EQ(b.status, 0) << b.err;
    Json bj(b.out);
    std::vector<uint8_t> file = nib_test_read_file(base);
    const size_t n_chunk = 17, n_ctx = 128, n_vocab = 512, rows = n_ctx - 1 - n_ctx / 2, nv = 2 * ((n_vocab + 1) / 2) + 4;
    ASSERT_EQ(file.size(), 8 + 12 + n_chunk * n_ctx * 4 + n_chunk * rows * nv * 2);
    EXPECT_EQ(std::string(file.begin(), file.begin() + 8), "_logits_");
    int32_t hdr[4];
    memcpy(hdr, file.data() + 8, sizeof hdr);
    EXPECT_EQ(hdr[0], (int)n_ctx);
    EXPECT_EQ(hdr[1], (int)n_vocab);
    EXPECT_EQ(hdr[2], (int)n_chunk);
    EXPECT_EQ(hdr[3], 1); // the text's first token: BOS

    double kld[3];
    const char *quants[3] = { "f32", "q8_0", "q4_0" };
    for (int i = 0; i < 3; i++) {
        CliRun k = ppl(stories(quants[i]), "--kl-divergence-base '" + base + "' --kl-divergence --json");
        ASSERT_EQ(k.status, 0) << quants[i] << ": " << k.err;
        Json kj(k.out);
        kld[i] = kj.num("kld_mean");
        CliRun p = ppl(stories(quants[i]), "-f '" + story + "' -c 128 --json");
        ASSERT_EQ(p.status, 0) << p.err;
        Json pj(p.out);
        EXPECT_NEAR(kj.num("ppl") / pj.num("ppl"), 1.0, 1e-6) << quants[i];
        EXPECT_EQ(kj.num("n_tokens_scored"), 17 * 63);
        if (i == 0) {
            EXPECT_EQ(kj.num("kld_mean"), 0.0);
            EXPECT_EQ(kj.num("kld_max"), 0.0);
            EXPECT_EQ(kj.num("same_top_p"), 1.0);
            EXPECT_NEAR(kj.num("ppl_base") / bj.num("ppl"), 1.0, 1e-4); // the packed rows' resolution
        } else {
            EXPECT_GT(kj.num("kld_mean"), 0.0) << quants[i];
            EXPECT_LT(kj.num("same_top_p"), 1.0) << quants[i];
            EXPECT_GT(kj.num("same_top_p"), 0.5) << quants[i];
        }
    }
    EXPECT_GT(kld[2], kld[1]);

    // The text report: llama.cpp's table and statistics; PPL(Q) as the plain run prints it.
    CliRun t = ppl(stories("q8_0"), "-f '" + story + "' --kl-divergence-base '" + base + "' --kl-divergence");
    ASSERT_EQ(t.status, 0) << t.err;
    CliRun p = ppl(stories("q8_0"), "-f '" + story + "' -c 128");
    size_t at = p.out.find("PPL = ");
    ASSERT_NE(at, std::string::npos);
    const std::string ppl4 = p.out.substr(at + 6, p.out.find(' ', at + 6) - at - 6);
    for (const char *s : { "KL Divergence", "Same top p", "Mean PPL(Q)/PPL(base)", "Mean    KLD:", "99.0%   KLD:", "RMS Δp"})
        EXPECT_NE(t.out.find(s), std::string::npos) << s << "\n" << t.out;
    at = t.out.find("Mean PPL(Q)                   : ");
    ASSERT_NE(at, std::string::npos);
    EXPECT_NEAR(std::stod(t.out.substr(at + 32, 12)), std::stod(ppl4), 0.6e-4) << t.out;
    std::remove(base.c_str());
}

// A base file that does not fit: another vocabulary, another text, another
// -c, a truncated or foreign file: one clear error each.
TEST(Perplexity, KlDivergenceMismatches) {
    const std::string base = nib_test_temp_path("ppl_base_m.kld");
    ASSERT_EQ(ppl(repo_q8, "-f '" + story + "' -c 64 --chunks 2 --kl-divergence-base '" + base + "'").status, 0);
    expect_error(ppl(repo_chat, "--kl-divergence-base '" + base + "' --kl-divergence"), "vocabulary of 512 tokens, but this model has 514");
    const std::string other = nib_test_temp_path("ppl_other.txt");
    write_file(other, "Tom had a red ball. " + read_text(story));
    expect_error(ppl(repo_q8, "-f '" + other + "' --kl-divergence-base '" + base + "' --kl-divergence"), "differ at token 1");
    expect_error(ppl(repo_q8, "-c 128 --kl-divergence-base '" + base + "' --kl-divergence"), "-c 128 differs");
    std::string bytes = read_text(base);
    const std::string cut = nib_test_temp_path("ppl_cut.kld");
    write_file(cut, bytes.substr(0, bytes.size() - 3));
    expect_error(ppl(repo_q8, "--kl-divergence-base '" + cut + "' --kl-divergence"), "implies");
    expect_error(ppl(repo_q8, "--kl-divergence-base '" + story + "' --kl-divergence"), "not a KL-divergence base file");
    expect_error(ppl(repo_q8, "--kl-divergence"), "needs --kl-divergence-base");
    expect_error(ppl(repo_q8, "--kl-divergence-base /nonexistent/x.kld --kl-divergence"), "cannot open");
    // the same text and model pass
    CliRun ok = ppl(repo_q8, "-f '" + story + "' --kl-divergence-base '" + base + "' --kl-divergence --json");
    EXPECT_EQ(ok.status, 0) << ok.err;
    EXPECT_EQ(Json(ok.out).num("kld_mean"), 0.0);
    for (const std::string &p : { base, other, cut }) std::remove(p.c_str());
}

// Bad input: a clear error and exit 1, never a crash.
TEST(Perplexity, BadInput) {
    const std::string shortf = nib_test_temp_path("ppl_short.txt");
    write_file(shortf, "Once upon a time, there was a little girl named Lily.");
    expect_error(ppl(repo_q8, "-f '" + shortf + "' -c 128"), "you need at least 256 tokens to evaluate perplexity with a context of 128");
    expect_error(ppl(repo_q8, "-f /nonexistent/text.txt"), "/nonexistent/text.txt: cannot open");
    expect_error(ppl(repo_q8, "-f '" + story + "' -c 4096"), "larger than the model's context");
    expect_error(ppl(repo_q8, "-f '" + story + "' -c abc"), "'abc' is not a context size");
    expect_error(ppl(repo_q8, "-f '" + story + "' -c 2"), "at least 3 tokens");
    expect_error(ppl(repo_q8, "-f '" + story + "' -b 0"), "'0' is not a batch size");
    expect_error(ppl(repo_q8, "-f '" + story + "' --chunks 0"), "--chunks");
    expect_error(ppl(repo_q8, "-f '" + story + "' --chunks x"), "--chunks");
    expect_error(ppl(repo_q8, ""), "give the text with -f FILE");
    expect_error(ppl(repo_q8, "-p hello"), "-p is not an option here");
    expect_error(ppl(repo_q8, "-f '" + story + "' --bogus"), "unknown option");
    expect_error(ppl("/nonexistent/m.gguf", "-f '" + story + "'"), "cannot open");
    const std::string bad = nib_test_temp_path("ppl_bad_utf8.txt");
    write_file(bad, "Once upon a time\xff there was");
    expect_error(ppl(repo_q8, "-f '" + bad + "'"), "not valid UTF-8: byte 0xff at offset 16");
    write_file(bad, "abc\xed\xa0\x80");  // a surrogate
    expect_error(ppl(repo_q8, "-f '" + bad + "'"), "offset 3");
    write_file(bad, "abc\xe2\x82");      // cut short
    expect_error(ppl(repo_q8, "-f '" + bad + "'"), "offset 3");
    CliRun h = run_nib("perplexity --help");
    EXPECT_EQ(h.status, 0);
    EXPECT_NE(h.out.find("--kl-divergence-base"), std::string::npos);
    std::remove(shortf.c_str());
    std::remove(bad.c_str());
}

// A base file written by llama.cpp's llama-perplexity: nib reads it and
// reports llama.cpp's numbers (same PPL(base) from the file; KLD, top-1 and
// PPL(Q) within the models' rounding); the file nib writes for the same run
// has llama.cpp's header and tokens byte for byte, and the same size.
TEST(Perplexity, ReadsLlamaCppBaseFile) {
    if (!nib_test_have_shared()) GTEST_SKIP() << "../shared not available";
    Json ref(read_text(data_dir + "/llama-kld.json"));
    ASSERT_NE(ref.j, nullptr);
    const std::string base = data_dir + "/" + cJSON_GetObjectItem(ref.j, "base")->valuestring;
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(ref.j, "compare")) {
        const std::string model = cJSON_GetObjectItem(e, "model")->valuestring;
        CliRun r = ppl(shared_model(model), "--kl-divergence-base '" + base + "' --kl-divergence --json");
        ASSERT_EQ(r.status, 0) << model << ": " << r.err;
        Json got(r.out);
        EXPECT_NEAR(got.num("ppl_base"), ref.num("ppl_base"), 1e-6) << model;
        EXPECT_NEAR(got.num("ppl") / cJSON_GetObjectItem(e, "ppl")->valuedouble, 1.0, 2e-3) << model;
        const double kld = cJSON_GetObjectItem(e, "kld_mean")->valuedouble;
        EXPECT_NEAR(got.num("kld_mean"), kld, 5e-6 + 0.02 * kld) << model;
        EXPECT_NEAR(got.num("same_top_p"), cJSON_GetObjectItem(e, "same_top_p")->valuedouble, 2.5 / 126) << model;
        EXPECT_EQ(got.num("n_tokens_scored"), 126);
    }
    const std::string mine = nib_test_temp_path("ppl_mine.kld");
    CliRun w = ppl(shared_model(cJSON_GetObjectItem(ref.j, "base_model")->valuestring),
                   "-f '" + story + "' -c 128 --chunks 2 --kl-divergence-base '" + mine + "'");
    ASSERT_EQ(w.status, 0) << w.err;
    std::vector<uint8_t> a = nib_test_read_file(base), b = nib_test_read_file(mine);
    ASSERT_EQ(a.size(), b.size());
    const size_t head = 8 + 12 + 2 * 128 * 4;
    EXPECT_TRUE(std::equal(a.begin(), a.begin() + head, b.begin()));
    std::remove(mine.c_str());
}

// Handcrafted base files, one per failure class of the reader: each is
// refused with a message naming the problem, before anything is allocated
// from its header.
TEST(Perplexity, CorruptBaseFiles) {
    auto header = [](int32_t n_ctx, int32_t n_vocab, int32_t n_chunk) {
        std::string s = "_logits_";
        for (int32_t v : { n_ctx, n_vocab, n_chunk }) s.append((const char *)&v, 4);
        return s;
    };
    const std::string f = nib_test_temp_path("ppl_corrupt.kld");
    auto expect_refused = [&](const std::string &bytes, const std::string &what) {
        write_file(f, bytes);
        expect_error(ppl(repo_q8, "--kl-divergence-base '" + f + "' --kl-divergence"), what);
    };
    expect_refused("", "not a KL-divergence base file");
    expect_refused("_logits_\x01", "not a KL-divergence base file");
    expect_refused(header(-8, 512, 1), "bad header: n_ctx -8");
    expect_refused(header(64, 0, 1), "bad header");
    expect_refused(header(64, 512, -1), "bad header");
    expect_refused(header(64, 1 << 30, 1), "bad header");
    expect_refused(header(INT32_MAX, 512, INT32_MAX), "implies");
    expect_refused(header(8, 512, 1), "size 20 bytes, but its header (n_ctx 8, n_vocab 512, n_chunk 1) implies");
    // the right size, but a token id outside the vocabulary
    std::string bytes = header(8, 512, 1);
    for (int i = 0; i < 8; i++) {
        int32_t t = i == 5 ? 600 : 1;
        bytes.append((const char *)&t, 4);
    }
    bytes.append(3 * (2 * ((512 + 1) / 2) + 4) * 2, '\0');
    expect_refused(bytes, "token 5 is 600, outside the vocabulary of 512");
    std::remove(f.c_str());
}
