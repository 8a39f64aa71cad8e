// Malformed vocabulary metadata: each case writes a small vocabulary-only
// GGUF with one defect and expects nib_vocab_load to refuse it with a
// message naming the key, index or value.
#include <gtest/gtest.h>

#include "nib.h"
#include "test_util.h"

#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

namespace {

struct StrArray {
    std::vector<std::string> s;
    std::vector<nib_gguf_value> v;
    nib_gguf_value arr{};
    const nib_gguf_value *get() {
        v.clear();
        for (const auto &x : s) {
            nib_gguf_value e{};
            e.type = NIB_GGUF_STRING;
            e.v.str.ptr = x.c_str();
            e.v.str.len = x.size();
            v.push_back(e);
        }
        arr.type = NIB_GGUF_ARRAY;
        arr.v.arr.type = NIB_GGUF_STRING;
        arr.v.arr.n = v.size();
        arr.v.arr.data = v.data();
        return &arr;
    }
};

template <typename T> nib_gguf_value num_array(enum nib_gguf_type t, const std::vector<T> &x) {
    nib_gguf_value a{};
    a.type = NIB_GGUF_ARRAY;
    a.v.arr.type = t;
    a.v.arr.n = x.size();
    a.v.arr.data = x.data();
    return a;
}

/* A small valid BPE vocabulary; `edit` may change anything before writing. */
struct VocabSpec {
    std::string model = "gpt2", pre = "gpt-2";
    StrArray tokens, merges;
    std::vector<float> scores;
    std::vector<int32_t> types;
    bool with_scores = false, with_types = true;
    std::vector<std::pair<std::string, uint32_t>> ids;
    VocabSpec() {
        tokens.s = { "a", "b", "c", "ab", "abc", "\xc4\xa0", "<|endoftext|>" };
        types = { 1, 1, 1, 1, 1, 1, 3 };
        merges.s = { "a b", "ab c" };
        ids = { { "tokenizer.ggml.eos_token_id", 6 } };
    }
};

std::string load_error(VocabSpec &spec) {
    std::string path = nib_test_temp_path("nib_badvocab.gguf");
    nib_gguf_writer *w = nullptr;
    nib_error err = {};
    EXPECT_EQ(nib_gguf_writer_open(path.c_str(), 32, &w, &err), NIB_OK);
    nib_gguf_writer_set_str(w, "general.architecture", "llama", &err);
    nib_gguf_writer_set_str(w, "tokenizer.ggml.model", spec.model.c_str(), &err);
    if (!spec.pre.empty()) nib_gguf_writer_set_str(w, "tokenizer.ggml.pre", spec.pre.c_str(), &err);
    nib_gguf_writer_set_kv(w, "tokenizer.ggml.tokens", spec.tokens.get(), &err);
    if (!spec.merges.s.empty()) nib_gguf_writer_set_kv(w, "tokenizer.ggml.merges", spec.merges.get(), &err);
    nib_gguf_value sc = num_array(NIB_GGUF_FLOAT32, spec.scores), ty = num_array(NIB_GGUF_INT32, spec.types);
    if (spec.with_scores) nib_gguf_writer_set_kv(w, "tokenizer.ggml.scores", &sc, &err);
    if (spec.with_types) nib_gguf_writer_set_kv(w, "tokenizer.ggml.token_type", &ty, &err);
    for (const auto &kv : spec.ids) nib_gguf_writer_set_u32(w, kv.first.c_str(), kv.second, &err);
    EXPECT_EQ(nib_gguf_writer_write_header(w, &err), NIB_OK) << err.msg;
    EXPECT_EQ(nib_gguf_writer_close(w, &err), NIB_OK) << err.msg;
    nib_gguf_writer_free(w);
    nib_gguf *g = nullptr;
    nib_vocab *v = nullptr;
    EXPECT_EQ(nib_gguf_open(path.c_str(), nullptr, &g, &err), NIB_OK) << err.msg;
    int rc = nib_vocab_load(g, &v, &err);
    nib_vocab_free(v);
    nib_gguf_free(g);
    std::remove(path.c_str());
    return rc == NIB_OK ? "" : err.msg;
}

void expect_refused(const std::function<void(VocabSpec &)> &edit, const std::string &needle) {
    VocabSpec spec;
    edit(spec);
    std::string msg = load_error(spec);
    EXPECT_NE(msg, "") << "expected an error containing: " << needle;
    EXPECT_NE(msg.find(needle), std::string::npos) << "message: " << msg << "\nexpected: " << needle;
}

} // namespace

TEST(TokenizerBad, TheBaseSpecLoads) {
    VocabSpec spec;
    EXPECT_EQ(load_error(spec), "");
}

TEST(TokenizerBad, ScoresLengthDiffers) {
    expect_refused([](VocabSpec &s) { s.with_scores = true; s.scores = { 0, 0, 0 }; },
                   "'tokenizer.ggml.scores' has 3 entries but there are 7 tokens");
}

TEST(TokenizerBad, TokenTypeLengthDiffers) {
    expect_refused([](VocabSpec &s) { s.types.pop_back(); }, "'tokenizer.ggml.token_type' has 6 entries but there are 7 tokens");
}

TEST(TokenizerBad, TokenTypeOutOfRange) {
    expect_refused([](VocabSpec &s) { s.types[2] = 9; }, "'tokenizer.ggml.token_type'[2] = 9 is not a token type");
}

TEST(TokenizerBad, MergeNamesUnknownToken) {
    expect_refused([](VocabSpec &s) { s.merges.s.push_back("ab zz"); }, "merge 2 'ab zz' names 'zz', which is not a token");
    expect_refused([](VocabSpec &s) { s.merges.s.push_back("q c"); }, "merge 2 'q c' names 'q', which is not a token");
}

TEST(TokenizerBad, MergeWithoutSpace) {
    expect_refused([](VocabSpec &s) { s.merges.s[0] = "ab"; }, "merge 0 'ab' is not two tokens separated by a space");
}

TEST(TokenizerBad, MergesMissing) {
    expect_refused([](VocabSpec &s) { s.merges.s.clear(); }, "'tokenizer.ggml.merges' is missing");
}

TEST(TokenizerBad, SpecialIdOutOfRange) {
    expect_refused([](VocabSpec &s) { s.ids.push_back({ "tokenizer.ggml.bos_token_id", 7 }); },
                   "'tokenizer.ggml.bos_token_id' = 7 is out of range (vocabulary has 7 tokens)");
}

TEST(TokenizerBad, NoneSentinelIsAccepted) {
    VocabSpec spec;
    spec.ids.push_back({ "tokenizer.ggml.padding_token_id", UINT32_MAX });
    EXPECT_EQ(load_error(spec), "");
}

TEST(TokenizerBad, InvalidUtf8Token) {
    expect_refused([](VocabSpec &s) { s.tokens.s[2] = "c\xff"; }, "token 2 is not valid UTF-8 (byte 0xff at offset 1)");
    expect_refused([](VocabSpec &s) { s.tokens.s[2] = "\xed\xa0\x80"; }, "token 2 is not valid UTF-8");
}

TEST(TokenizerBad, DuplicateTokenText) {
    expect_refused([](VocabSpec &s) { s.tokens.s[4] = "ab"; }, "tokens 3 and 4 have the same text 'ab'");
}

TEST(TokenizerBad, UnknownPreTokenizer) {
    expect_refused([](VocabSpec &s) { s.pre = "frobnicator"; }, "unknown pre-tokenizer 'frobnicator' (tokenizer.ggml.pre)");
}

TEST(TokenizerBad, UnsupportedModels) {
    expect_refused([](VocabSpec &s) { s.model = "bert"; }, "tokenizer model 'bert' is not supported");
    expect_refused([](VocabSpec &s) { s.model = "no_vocab"; }, "the file has no vocabulary");
}

TEST(TokenizerBad, TokensMissingOrEmpty) {
    expect_refused([](VocabSpec &s) { s.tokens.s.clear(); s.types.clear(); s.merges.s.clear(); s.ids.clear(); },
                   "'tokenizer.ggml.tokens' has 0 tokens");
}
