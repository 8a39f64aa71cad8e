// Pre-tokenizers against llama.cpp. For every tests/data/tokenizer/pre-NAME.json
// the llama-bpe vocabulary with `tokenizer.ggml.pre` set to NAME (a copy made
// here with nib's own GGUF writer) must tokenize every string of strings.jsonl
// exactly as llama.cpp did, with and without special-token parsing (no BOS),
// and add BOS/EOS as llama.cpp does for that name;
// vocab-NAME.json does the same for the real vocabularies in
// ../shared/models/vocab (BOS as the file says + special parsed, and neither).
// The expected ids come from scripts/gen-tokenizer-golden.sh; no node needed.
#include <gtest/gtest.h>

extern "C" {
#include "pretokenizer.h" /* nib_pre_spec_list: the names nib accepts */
}
#include "test_util.h"
#include "tokenizer_util.h"

#include <cjson/cJSON.h>

#include <filesystem>
#include <memory>
#include <set>
#include <sstream>
#include <unistd.h>

namespace {

const std::string kDataDir = std::string(NIB_SOURCE_DIR) + "/tests/data/tokenizer";

using IdLists = std::vector<std::vector<int32_t>>;
using JsonPtr = std::unique_ptr<cJSON, decltype(&cJSON_Delete)>;

JsonPtr parse_json(const std::string &text) { return JsonPtr(cJSON_Parse(text.c_str()), cJSON_Delete); }

JsonPtr read_json(const std::string &path) {
    std::vector<uint8_t> raw = nib_test_read_file(path);
    return parse_json(std::string(raw.begin(), raw.end()));
}

/* One JSON string per line (cJSON strings end at a NUL: strings.jsonl has none). */
std::vector<std::string> read_strings() {
    std::vector<uint8_t> raw = nib_test_read_file(kDataDir + "/strings.jsonl");
    std::istringstream lines(std::string(raw.begin(), raw.end()));
    std::vector<std::string> out;
    std::string line;
    while (std::getline(lines, line)) {
        if (line.empty()) continue;
        JsonPtr j = parse_json(line);
        if (!cJSON_IsString(j.get())) return {}; /* the caller sees the short list */
        out.push_back(j->valuestring);
    }
    return out;
}

std::vector<int32_t> ids_of(const cJSON *arr) {
    std::vector<int32_t> ids;
    const cJSON *t = nullptr;
    cJSON_ArrayForEach(t, arr) ids.push_back((int32_t)t->valuedouble);
    return ids;
}

IdLists lists_of(const cJSON *arr) {
    IdLists out;
    const cJSON *row = nullptr;
    cJSON_ArrayForEach(row, arr) out.push_back(ids_of(row));
    return out;
}

struct PreExpected {
    std::string source;                /* the file the ids came from (after same_as) */
    std::string hello;                 /* tokenized with BOS/EOS as the name makes llama.cpp add them */
    std::vector<int32_t> hello_ids;
    IdLists special, no_special;       /* no BOS; special-token text parsed or not */
};

/* pre-NAME.json: add_special for one text, no_special in full, special as the
 * entries that differ; {"same_as": OTHER} reuses OTHER's ids. */
bool load_pre_expected(const std::string &name, PreExpected *out, int depth = 0) {
    JsonPtr j = read_json(kDataDir + "/pre-" + name + ".json");
    if (!j || depth > 2) return false;
    const cJSON *same = cJSON_GetObjectItem(j.get(), "same_as");
    if (cJSON_IsString(same)) return load_pre_expected(same->valuestring, out, depth + 1);
    out->source = name;
    const cJSON *add = cJSON_GetObjectItem(j.get(), "add_special");
    const cJSON *text = cJSON_GetObjectItem(add, "text");
    if (!cJSON_IsString(text)) return false;
    out->hello = text->valuestring;
    out->hello_ids = ids_of(cJSON_GetObjectItem(add, "ids"));
    out->no_special = lists_of(cJSON_GetObjectItem(j.get(), "no_special"));
    out->special = out->no_special;
    const cJSON *d = nullptr;
    cJSON_ArrayForEach(d, cJSON_GetObjectItem(j.get(), "special_diff")) {
        size_t i = std::stoul(d->string);
        if (i >= out->special.size()) return false;
        out->special[i] = ids_of(d);
    }
    return true;
}

/* Copies the vocabulary-only file at base with tokenizer.ggml.pre = name. */
std::string write_variant(const nib_gguf *base, const std::string &name, const std::string &path) {
    nib_error err = {};
    nib_gguf_writer *w = nullptr;
    if (nib_gguf_writer_open(path.c_str(), (uint32_t)nib_gguf_alignment(base), &w, &err) != NIB_OK) return err.msg;
    int rc = NIB_OK;
    for (int64_t i = 0; rc == NIB_OK && i < nib_gguf_n_kv(base); i++) {
        const char *key = nib_gguf_kv_key(base, i);
        if (std::string(key) == "tokenizer.ggml.pre") continue;
        rc = nib_gguf_writer_set_kv(w, key, nib_gguf_kv_value(base, i), &err);
    }
    if (rc == NIB_OK) rc = nib_gguf_writer_set_str(w, "tokenizer.ggml.pre", name.c_str(), &err);
    if (rc == NIB_OK) rc = nib_gguf_writer_write_header(w, &err);
    if (rc == NIB_OK) rc = nib_gguf_writer_close(w, &err);
    nib_gguf_writer_free(w);
    return rc == NIB_OK ? "" : err.msg;
}

std::string json_quote(const std::string &s) {
    JsonPtr j(cJSON_CreateString(s.c_str()), cJSON_Delete);
    char *p = cJSON_PrintUnformatted(j.get());
    std::string out = p ? p : "?";
    cJSON_free(p);
    return out;
}

/* Tokenizes every string with flags; reports the first few that differ from want. */
void compare_all(const nib_vocab *v, const std::vector<std::string> &strings, const IdLists &want, uint32_t flags,
                const std::string &label) {
    EXPECT_EQ(want.size(), strings.size()) << label << ": golden file and strings.jsonl disagree on the count";
    int n_bad = 0;
    for (size_t i = 0; i < strings.size() && i < want.size(); i++) {
        std::vector<int32_t> got = tokenize(v, strings[i], flags);
        if (got == want[i]) continue;
        if (++n_bad <= 5)
            ADD_FAILURE() << label << " string " << i << " " << json_quote(strings[i]) << "\n  llama.cpp: ["
                          << ids_str(want[i]) << "]\n  nib:       [" << ids_str(got) << "]";
    }
    if (n_bad > 5) ADD_FAILURE() << label << ": " << n_bad << " strings differ in all";
}

std::vector<std::string> golden_names(const std::string &prefix) {
    std::vector<std::string> names;
    for (const auto &path : nib_test_list_files(kDataDir, ".json")) {
        std::string base = std::filesystem::path(path).filename().string();
        if (base.rfind(prefix, 0) == 0) names.push_back(base.substr(prefix.size(), base.size() - prefix.size() - 5));
    }
    return names;
}

/* A temp file path, removed however the test ends. */
struct TempPath {
    std::string path = (std::filesystem::temp_directory_path() /
                        ("nib-pretypes-" + std::to_string(getpid()) + ".gguf")).string();
    ~TempPath() { std::filesystem::remove(path); }
};

} // namespace

TEST(TokenizerPretypes, EveryPreNameMatchesLlamaCpp) {
    if (!nib_test_have_shared()) GTEST_SKIP() << "no ../shared";
    std::vector<std::string> strings = read_strings();
    ASSERT_GE(strings.size(), 100u);
    std::vector<std::string> names = golden_names("pre-");
    ASSERT_GE(names.size(), 40u);
    VocabFile base(nib_test_shared_dir() + "/models/vocab/ggml-vocab-llama-bpe.gguf");
    ASSERT_EQ(base.error, "");
    TempPath tmp;
    size_t n_compared = 0;
    std::set<std::string> sources;
    for (const auto &name : names) {
        SCOPED_TRACE("pre-tokenizer '" + name + "'");
        PreExpected want;
        ASSERT_TRUE(load_pre_expected(name, &want)) << "bad golden file pre-" << name << ".json";
        ASSERT_EQ(write_variant(base.g, name, tmp.path), "");
        VocabFile vf(tmp.path);
        ASSERT_EQ(vf.error, "");
        EXPECT_STREQ(nib_vocab_pre_name(vf.v), name.c_str());
        EXPECT_EQ(ids_str(tokenize(vf.v, want.hello, NIB_TOKENIZE_ADD_SPECIAL | NIB_TOKENIZE_PARSE_SPECIAL)),
                  ids_str(want.hello_ids))
            << "BOS/EOS added for " << json_quote(want.hello);
        compare_all(vf.v, strings, want.special, NIB_TOKENIZE_PARSE_SPECIAL, name + " (special)");
        compare_all(vf.v, strings, want.no_special, 0, name + " (no special)");
        n_compared += 2 * strings.size();
        sources.insert(want.source);
    }
    std::printf("pre-tokenizers: %zu names (%zu distinct outputs) x %zu strings x 2 settings = %zu compared\n",
                names.size(), sources.size(), strings.size(), n_compared);
}

TEST(TokenizerPretypes, RealVocabsMatchLlamaCpp) {
    if (!nib_test_have_shared()) GTEST_SKIP() << "no ../shared";
    std::vector<std::string> strings = read_strings();
    std::vector<std::string> names = golden_names("vocab-");
    ASSERT_GE(names.size(), 5u);
    size_t n_compared = 0;
    for (const auto &name : names) {
        SCOPED_TRACE("vocab '" + name + "'");
        JsonPtr j = read_json(kDataDir + "/vocab-" + name + ".json");
        ASSERT_TRUE(j) << "bad golden file vocab-" << name << ".json";
        VocabFile vf(nib_test_shared_dir() + "/models/vocab/ggml-vocab-" + name + ".gguf");
        ASSERT_EQ(vf.error, "");
        compare_all(vf.v, strings, lists_of(cJSON_GetObjectItem(j.get(), "default")),
                    NIB_TOKENIZE_ADD_SPECIAL | NIB_TOKENIZE_PARSE_SPECIAL, name + " (default)");
        compare_all(vf.v, strings, lists_of(cJSON_GetObjectItem(j.get(), "no_bos_no_special")), 0,
                    name + " (no BOS, no special)");
        n_compared += 2 * strings.size();
    }
    std::printf("vocabularies: %zu x %zu strings x 2 settings = %zu compared\n", names.size(), strings.size(),
                n_compared);
}

// Every name nib accepts must have been checked against llama.cpp.
TEST(TokenizerPretypes, EveryKnownNameHasGoldenIds) {
    char buf[8192];
    nib_pre_spec_list(buf, sizeof(buf));
    std::vector<std::string> golden = golden_names("pre-");
    std::set<std::string> have(golden.begin(), golden.end());
    std::istringstream list(buf);
    std::string name;
    int n = 0;
    while (std::getline(list, name, ',')) {
        if (!name.empty() && name[0] == ' ') name.erase(0, 1);
        EXPECT_TRUE(have.count(name)) << "pre-tokenizer '" << name << "' has no tests/data/tokenizer/pre-" << name
                                      << ".json (run scripts/gen-tokenizer-golden.sh)";
        n++;
    }
    EXPECT_GT(n, 40);
}
