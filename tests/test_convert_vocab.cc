// `nib convert`'s vocabularies: llama2's tokenizer.model gives llama.cpp's
// ggml-vocab-llama-spm, llama3's tokenizer.json its ggml-vocab-llama-bpe
// (and llama.cpp's tokenizer vectors pass on it), Mistral's tokenizer.json
// loads and round-trips; a SentencePiece-style tokenizer.json tokenizes by
// merge rank; broken tokenizer.model bytes are refused cleanly.
#include "convert_fixtures.h"
#include "convert_test_util.h"

#include <cstring>
#include <string>
#include <vector>

/* ---------------------------------------------------------- vocabularies */

namespace {

void expect_same_array(const Gguf &a, const Gguf &b, const char *key) {
    EXPECT_EQ(value_text(nib_gguf_get(a.g, key)), value_text(nib_gguf_get(b.g, key))) << key;
}

std::string vocab_only(const std::string &dir, const std::string &name) {
    std::string out = tmp(name);
    std::remove(out.c_str());
    CliRun r = convert(q(dir) + " --vocab-only -o " + q(out));
    EXPECT_EQ(r.status, 0) << r.err;
    return out;
}

} // namespace

TEST(Convert, VocabSentencePieceLlama2) {
    if (!nib_test_have_shared()) GTEST_SKIP() << "no ../shared";
    std::string out = vocab_only(shared("models/tokenizers/llama2"), "v_spm.gguf");
    Gguf a(out), b(shared("models/vocab/ggml-vocab-llama-spm.gguf"));
    EXPECT_EQ(nib_gguf_n_tensors(a.g), 0);
    EXPECT_EQ(a.str("tokenizer.ggml.model"), "llama");
    EXPECT_EQ(a.str("tokenizer.ggml.pre"), b.str("tokenizer.ggml.pre"));
    for (const char *k : { "tokenizer.ggml.tokens", "tokenizer.ggml.scores", "tokenizer.ggml.token_type" }) expect_same_array(a, b, k);
    std::remove(out.c_str());
}

TEST(Convert, VocabBpeLlama3) {
    if (!nib_test_have_shared()) GTEST_SKIP() << "no ../shared";
    std::string out = vocab_only(shared("models/tokenizers/llama3"), "v_bpe.gguf");
    {
        Gguf a(out), b(shared("models/vocab/ggml-vocab-llama-bpe.gguf"));
        EXPECT_EQ(a.str("tokenizer.ggml.model"), "gpt2");
        EXPECT_EQ(a.str("tokenizer.ggml.pre"), "llama-bpe");
        for (const char *k : { "tokenizer.ggml.tokens", "tokenizer.ggml.token_type", "tokenizer.ggml.merges",
                               "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id" })
            expect_same_array(a, b, k);
        EXPECT_NE(a.str("tokenizer.chat_template").find("start_header_id"), std::string::npos);
    }
    /* llama.cpp's tokenizer test vectors for this vocab, through the converted file */
    VocabFile vf(out);
    ASSERT_TRUE(vf.v) << vf.error;
    auto cases = read_vocab_vectors(shared("models/vocab/ggml-vocab-llama-bpe.gguf"));
    ASSERT_GT(cases.size(), 10u);
    for (const auto &c : cases) EXPECT_EQ(ids_str(tokenize(vf.v, c.text, 0)), ids_str(c.ids)) << c.text;
    std::remove(out.c_str());
}

TEST(Convert, VocabMistralTokenizerJson) {
    if (!nib_test_have_shared()) GTEST_SKIP() << "no ../shared";
    std::string out = vocab_only(shared("models/tokenizers/mistral"), "v_mistral.gguf");
    VocabFile vf(out);
    ASSERT_TRUE(vf.v) << vf.error;
    EXPECT_EQ(nib_vocab_n_tokens(vf.v), 32000);
    EXPECT_EQ(nib_vocab_special(vf.v, NIB_SPECIAL_BOS), 1);
    EXPECT_EQ(nib_vocab_special(vf.v, NIB_SPECIAL_EOS), 2);
    EXPECT_TRUE(nib_vocab_add_bos(vf.v));
    Gguf g(out);
    EXPECT_EQ(g.str("tokenizer.ggml.model"), "llama");
    /* byte tokens typed BYTE, specials CONTROL (LlamaHfVocab) */
    const nib_gguf_value *types = nib_gguf_get(g.g, "tokenizer.ggml.token_type");
    int64_t t0 = 0, t3 = 0, t500 = 0;
    nib_gguf_array_get_i64(types, 0, &t0);
    nib_gguf_array_get_i64(types, 3, &t3);
    nib_gguf_array_get_i64(types, 500, &t500);
    EXPECT_EQ(t0, 3);
    EXPECT_EQ(t3, 6);
    EXPECT_EQ(t500, 1);
    for (const char *s : { "Hello world", "The quick brown fox jumps over the lazy dog.", "naïve café 🦙 12345" }) {
        std::vector<int32_t> ids = tokenize(vf.v, s, 0);
        EXPECT_LT(ids.size(), strlen(s)) << s; /* merges happened */
        EXPECT_EQ(detokenize(vf.v, ids, 0), s);
    }
    std::remove(out.c_str());
}

TEST(Convert, SentencePieceModelBadBytes) {
    if (!nib_test_have_shared()) GTEST_SKIP() << "no ../shared";
    std::vector<uint8_t> good = nib_test_read_file(shared("models/tokenizers/llama2/tokenizer.model"));
    std::string dir = tmp("spm_bad"), out = tmp("spm_bad.gguf");
    fresh_dir(dir);
    write_bytes(dir + "/tokenizer.model", std::vector<uint8_t>(good.begin(), good.begin() + 1001));
    CliRun r = convert(q(dir) + " --vocab-only -o " + q(out));
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.err.find("tokenizer.model"), std::string::npos) << r.err;
    EXPECT_FALSE(exists(out));
    write_text(dir + "/tokenizer.model", "this is not protobuf");
    r = convert(q(dir) + " --vocab-only -o " + q(out));
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.err.find("SentencePiece"), std::string::npos) << r.err;
    NibRng rng(3);
    for (int it = 0; it < 40; it++) {
        std::vector<uint8_t> b(good.begin(), good.begin() + 4000);
        for (int k = 0; k < 4; k++) b[rng.next() % b.size()] ^= (uint8_t)(1u << (rng.next() % 8));
        write_bytes(dir + "/tokenizer.model", b);
        r = convert(q(dir) + " --vocab-only --force -o " + q(out));
        ASSERT_TRUE(r.status == 0 || r.status == 1) << r.status << " " << r.err;
    }
    std::remove(out.c_str());
    remove_tree(dir);
}

/* tinystories656K's tokenizer.json is SentencePiece-style BPE without a
 * tokenizer.model. llama.cpp's LlamaHfVocab gives every token score -1000,
 * so a SentencePiece tokenizer would merge leftmost-first; nib writes -rank
 * of the merge that creates each token instead. The expected ids come from
 * a direct BPE-by-merge-rank implementation (prepend U+2581, spaces to
 * U+2581, lowest-rank pair first, byte fallback) run on tokenizer.json. */
TEST(Convert, SentencePieceStyleBpeTokenizesByMergeRank) {
    if (!nib_test_have_shared()) GTEST_SKIP() << "no ../shared";
    std::string out = tmp("ts_vocab.gguf");
    std::remove(out.c_str());
    ASSERT_EQ(convert(q(shared("models/tinystories656K")) + " --vocab-only -o " + q(out)).status, 0);
    VocabFile vf(out);
    ASSERT_TRUE(vf.v) << vf.error;
    const std::vector<std::pair<std::string, std::vector<int32_t>>> cases = {
        { "Once upon a time", { 80, 147, 201, 282, 57 } },
        { "The little dog ran fast.", { 80, 247, 229, 401, 650, 698, 10 } },
        { "She said, \"Hello!\" and smiled.", { 80, 892, 204, 1288, 67, 4, 5, 100, 1069, 10 } },
        { "abcabcabc xyz", { 639, 295, 54, 295, 54, 55, 80, 76, 77, 78 } },
        { "Lily and Tom played in the park every day", { 80, 669, 388, 351, 238, 834, 833 } },
        { "1234567 99", { 80, 12, 13, 14, 15, 16, 17, 18, 80, 20, 20 } },
        { "unbelievable happiness", { 80, 148, 164, 158, 745, 1822, 181, 96, 233, 71 } },
        { "a  b   c", { 104, 80, 1927, 80, 80, 55 } },
    };
    for (const auto &c : cases) EXPECT_EQ(ids_str(tokenize(vf.v, c.first, 0)), ids_str(c.second)) << c.first;
    std::remove(out.c_str());
}

/* rope_scaling: llama3 -> a generated rope_freqs.weight (1 for short
 * wavelengths, factor for long ones); yarn -> the scaling keys. */
