// Tokenizer behaviour beyond the reference vectors: special-token flags, the
// end-of-generation sets, detokenize(tokenize(s)) == s, the streaming UTF-8
// decoder, and word-by-word SentencePiece against whole-text merging.
#include <gtest/gtest.h>

#include "test_util.h"
#include "tokenizer_util.h"
#include "vocab.h"

#include <cstring>

namespace {

std::string vocab_path(const char *name) { return nib_test_shared_dir() + "/models/vocab/ggml-vocab-" + name + ".gguf"; }

std::vector<int32_t> eog_set(const nib_vocab *v) {
    std::vector<int32_t> ids;
    for (int32_t i = 0; i < nib_vocab_n_eog(v); i++) ids.push_back(nib_vocab_eog(v, i));
    return ids;
}

/* Patterns llama.cpp's detokenizer rewrites when clean_spaces is on. */
bool cleaned_by_detokenizer(const std::string &s) {
    for (const char *p : { " ?", " !", " .", " ,", " ' ", " 's", " 'm", " 're", " 've" })
        if (s.find(p) != std::string::npos) return true;
    return false;
}

std::string stream_decode(const std::string &bytes, const std::vector<size_t> &cuts) {
    nib_utf8_stream st = {};
    std::string out;
    std::vector<char> buf(3 * (bytes.size() + 4) + 16);
    size_t prev = 0;
    std::vector<size_t> c = cuts;
    c.push_back(bytes.size());
    for (size_t cut : c) {
        size_t n = nib_utf8_stream_push(&st, bytes.data() + prev, cut - prev, buf.data());
        out.append(buf.data(), n);
        prev = cut;
    }
    size_t n = nib_utf8_stream_finish(&st, buf.data());
    out.append(buf.data(), n);
    return out;
}

bool valid_utf8(const std::string &s) {
    nib_utf8_stream st = {};
    std::vector<char> buf(3 * (s.size() + 4) + 16);
    size_t n = nib_utf8_stream_push(&st, s.data(), s.size(), buf.data());
    n += nib_utf8_stream_finish(&st, buf.data() + n);
    return std::string(buf.data(), n) == s;
}

} // namespace

TEST(TokenizerBehavior, SpecialTokenFlags) {
    if (!nib_test_have_shared()) GTEST_SKIP() << "no ../shared";
    VocabFile l3(vocab_path("llama-bpe"));
    ASSERT_EQ(l3.error, "");
    const std::string text = "<|begin_of_text|>Hi<|eot_id|>";
    auto parsed = tokenize(l3.v, text, NIB_TOKENIZE_PARSE_SPECIAL);
    EXPECT_EQ(ids_str(parsed), "128000 13347 128009");
    auto plain = tokenize(l3.v, text, 0);
    EXPECT_GT(plain.size(), 5u); /* the markers spelled out as ordinary text */
    auto with_bos = tokenize(l3.v, "Hi", NIB_TOKENIZE_ADD_SPECIAL);
    EXPECT_EQ(ids_str(with_bos), "128000 13347");
    EXPECT_EQ(detokenize(l3.v, parsed, 0), "Hi");
    EXPECT_EQ(detokenize(l3.v, parsed, NIB_DETOKENIZE_RENDER_SPECIAL), text);
}

TEST(TokenizerBehavior, EndOfGenerationSets) {
    if (!nib_test_have_shared()) GTEST_SKIP() << "no ../shared";
    struct Want {
        const char *path;
        std::vector<int32_t> eog;
    } wants[] = {
        { "/models/vocab/ggml-vocab-llama-bpe.gguf", { 128001, 128009 } },       /* <|end_of_text|> <|eot_id|> */
        { "/models/vocab/ggml-vocab-qwen2.gguf", { 128247, 151643, 151645 } },   /* </s> <|endoftext|> <|im_end|> */
        { "/models/vocab/ggml-vocab-phi-3.gguf", { 2, 32000, 32007 } },          /* </s> <|endoftext|> <|end|> */
        { "/models/vocab/ggml-vocab-gpt-2.gguf", { 50256 } },
        { "/models/trained/tiny-chat-q8_0.gguf", { 2, 513 } },                   /* </s> <|im_end|> */
    };
    for (const auto &w : wants) {
        VocabFile vf(nib_test_shared_dir() + w.path);
        ASSERT_EQ(vf.error, "") << w.path;
        EXPECT_EQ(ids_str(eog_set(vf.v)), ids_str(w.eog)) << w.path;
        for (int32_t id : w.eog) EXPECT_TRUE(nib_vocab_is_eog(vf.v, id));
        EXPECT_FALSE(nib_vocab_is_eog(vf.v, nib_vocab_special(vf.v, NIB_SPECIAL_NL)));
    }
}

TEST(TokenizerBehavior, DetokenizeInvertsTokenize) {
    if (!nib_test_have_shared()) GTEST_SKIP() << "no ../shared";
    int n_checked = 0;
    for (const char *name : { "llama-spm", "llama-bpe", "qwen2", "gpt-2", "phi-3" }) {
        VocabFile vf(vocab_path(name));
        ASSERT_EQ(vf.error, "");
        for (const auto &c : read_vocab_vectors(vocab_path(name))) {
            if (vf.v->clean_spaces && cleaned_by_detokenizer(c.text)) continue;
            auto ids = tokenize(vf.v, c.text, 0);
            EXPECT_EQ(detokenize(vf.v, ids, 0), c.text) << name << ": '" << c.text << "'";
            /* llama.cpp keeps SentencePiece's leading space when it removes a BOS */
            auto with_bos = tokenize(vf.v, c.text, NIB_TOKENIZE_ADD_SPECIAL);
            std::string want = (vf.v->add_space_prefix && !c.text.empty() ? " " : "") + c.text;
            EXPECT_EQ(detokenize(vf.v, with_bos, NIB_DETOKENIZE_REMOVE_SPECIAL), want) << name << ": '" << c.text << "'";
            n_checked++;
        }
    }
    EXPECT_GT(n_checked, 150);
}

TEST(TokenizerBehavior, TokenToPieceAndBadIds) {
    if (!nib_test_have_shared()) GTEST_SKIP() << "no ../shared";
    VocabFile spm(vocab_path("llama-spm"));
    ASSERT_EQ(spm.error, "");
    char buf[16];
    int64_t n = nib_token_to_piece(spm.v, 1, 0, buf, sizeof buf); /* <s>: control, hidden */
    EXPECT_EQ(n, 0);
    n = nib_token_to_piece(spm.v, 1, NIB_DETOKENIZE_RENDER_SPECIAL, buf, sizeof buf);
    EXPECT_EQ(std::string(buf, (size_t)n), "<s>");
    n = nib_token_to_piece(spm.v, 13, 0, buf, sizeof buf); /* <0x0A> */
    EXPECT_EQ(std::string(buf, (size_t)n), "\n");
    EXPECT_LT(nib_token_to_piece(spm.v, 32000, 0, buf, sizeof buf), 0);
    EXPECT_LT(nib_token_to_piece(spm.v, -1, 0, buf, sizeof buf), 0);
    int32_t bad[2] = { 5, 99999 };
    nib_error err = {};
    EXPECT_EQ(nib_detokenize(spm.v, bad, 2, 0, nullptr, 0, &err), NIB_E_ARG);
    EXPECT_NE(std::string(err.msg).find("token 99999 at position 1 is out of range"), std::string::npos) << err.msg;
}

TEST(TokenizerBehavior, StreamingDecoderIsSplitInvariant) {
    NibRng rng(7);
    const std::string samples[] = {
        "plain ascii", "h\xc3\xa9llo w\xc3\xb6rld \xe4\xbd\xa0\xe5\xa5\xbd \xf0\x9f\x98\x80!",
        "bad \xff\xfe bytes", "cut \xe4\xbd", "\xc0\xaf overlong \xed\xa0\x80 surrogate \xf4\x90\x80\x80 too big",
        "\xe2\x82", "\xf0\x9f\x98", "x\x80y\xbfz",
    };
    for (const auto &s : samples) {
        std::string whole = stream_decode(s, {});
        EXPECT_TRUE(valid_utf8(whole)) << s;
        if (valid_utf8(s)) {
            EXPECT_EQ(whole, s);
        }
        for (size_t cut = 0; cut <= s.size(); cut++) EXPECT_EQ(stream_decode(s, { cut }), whole) << s << " cut " << cut;
        std::vector<size_t> every;
        for (size_t i = 1; i < s.size(); i++) every.push_back(i);
        EXPECT_EQ(stream_decode(s, every), whole) << s;
    }
    for (int t = 0; t < 2000; t++) { /* random bytes, random cuts */
        std::string s;
        size_t len = rng.next() % 24;
        for (size_t i = 0; i < len; i++) s += (char)(rng.next() % 4 ? 0x80 + rng.next() % 0x80 : rng.next() % 0x80);
        std::vector<size_t> cuts;
        for (size_t i = 1; i < s.size(); i++)
            if (rng.next() % 3 == 0) cuts.push_back(i);
        std::string whole = stream_decode(s, {});
        EXPECT_TRUE(valid_utf8(whole));
        EXPECT_EQ(stream_decode(s, cuts), whole);
    }
}

TEST(TokenizerBehavior, WordByWordSentencePieceEqualsWholeText) {
    if (!nib_test_have_shared()) GTEST_SKIP() << "no ../shared";
    VocabFile vf(vocab_path("llama-spm"));
    ASSERT_EQ(vf.error, "");
    ASSERT_TRUE(vf.v->spm_split_safe);
    std::string text;
    for (const auto &c : read_vocab_vectors(vocab_path("llama-spm"))) text += c.text + "  \n ";
    std::vector<uint8_t> more = nib_test_read_file(std::string(NIB_SOURCE_DIR) + "/README.md");
    text.append(more.begin(), more.end());
    auto split = tokenize(vf.v, text, NIB_TOKENIZE_ADD_SPECIAL);
    vf.v->spm_split_safe = false; /* the reference path: one merge queue over the whole text */
    auto whole = tokenize(vf.v, text, NIB_TOKENIZE_ADD_SPECIAL);
    vf.v->spm_split_safe = true;
    EXPECT_EQ(ids_str(split), ids_str(whole));
    EXPECT_GT(split.size(), 1000u);
}
