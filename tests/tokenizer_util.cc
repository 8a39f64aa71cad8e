#include "tokenizer_util.h"

#include "test_util.h"

#include <sstream>

VocabFile::VocabFile(const std::string &path) {
    nib_error err = {};
    if (nib_gguf_open(path.c_str(), nullptr, &g, &err) != NIB_OK || nib_vocab_load(g, &v, &err) != NIB_OK) error = err.msg;
}

VocabFile::~VocabFile() {
    nib_vocab_free(v);
    nib_gguf_free(g);
}

std::vector<int32_t> tokenize(const nib_vocab *v, const std::string &text, uint32_t flags) {
    std::vector<int32_t> ids(text.size() + 3);
    nib_error err = {};
    int64_t n = nib_tokenize(v, text.data(), text.size(), flags, ids.data(), (int64_t)ids.size(), &err);
    if (n < 0) return { -1000 + (int32_t)n };
    ids.resize((size_t)n);
    return ids;
}

std::string detokenize(const nib_vocab *v, const std::vector<int32_t> &ids, uint32_t flags) {
    int64_t n = nib_detokenize(v, ids.data(), (int64_t)ids.size(), flags, nullptr, 0, nullptr);
    if (n < 0) return "<error>";
    std::string s((size_t)n + 1, '\0');
    nib_detokenize(v, ids.data(), (int64_t)ids.size(), flags, &s[0], (int64_t)s.size(), nullptr);
    s.resize((size_t)n);
    return s;
}

std::vector<TokenizerCase> read_vocab_vectors(const std::string &gguf_path) {
    std::vector<uint8_t> raw = nib_test_read_file(gguf_path + ".inp");
    std::string inp(raw.begin(), raw.end());
    raw = nib_test_read_file(gguf_path + ".out");
    std::string outs(raw.begin(), raw.end());
    const std::string sep = "\n__ggml_vocab_test__\n";
    std::vector<std::string> texts;
    for (size_t pos = 0; pos < inp.size();) {
        size_t next = inp.find(sep, pos);
        if (next == std::string::npos) {
            texts.push_back(inp.substr(pos));
            break;
        }
        texts.push_back(inp.substr(pos, next - pos));
        pos = next + sep.size();
    }
    std::vector<TokenizerCase> cases;
    std::istringstream lines(outs);
    std::string line;
    for (size_t i = 0; std::getline(lines, line); i++) {
        TokenizerCase c;
        c.text = i < texts.size() ? texts[i] : "";
        std::istringstream ls(line);
        int32_t id;
        while (ls >> id) c.ids.push_back(id);
        cases.push_back(c);
    }
    return cases;
}

std::string ids_str(const std::vector<int32_t> &ids) {
    std::string s;
    for (int32_t id : ids) s += (s.empty() ? "" : " ") + std::to_string(id);
    return s;
}
