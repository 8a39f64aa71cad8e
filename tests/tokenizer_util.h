/*
 * tokenizer_util.h — loading vocabularies and reading llama.cpp's tokenizer
 * test vectors (inputs separated by "\n__ggml_vocab_test__\n", one line of
 * expected ids per input) in the tokenizer tests.
 */
#ifndef NIB_TEST_TOKENIZER_UTIL_H
#define NIB_TEST_TOKENIZER_UTIL_H

#include "nib.h"

#include <memory>
#include <string>
#include <vector>

struct VocabFile {
    nib_gguf  *g = nullptr;
    nib_vocab *v = nullptr;
    std::string error;
    explicit VocabFile(const std::string &path);
    ~VocabFile();
    VocabFile(const VocabFile &) = delete;
    VocabFile &operator=(const VocabFile &) = delete;
};

std::vector<int32_t> tokenize(const nib_vocab *v, const std::string &text, uint32_t flags);
std::string detokenize(const nib_vocab *v, const std::vector<int32_t> &ids, uint32_t flags);

struct TokenizerCase {
    std::string text;
    std::vector<int32_t> ids;
};
std::vector<TokenizerCase> read_vocab_vectors(const std::string &gguf_path);

std::string ids_str(const std::vector<int32_t> &ids);

#endif
