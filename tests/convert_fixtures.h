/*
 * convert_fixtures.h — inputs for the `nib convert` tests: safetensors
 * files built byte by byte, and tiny Hugging Face model directories
 * (config.json, tokenizer, one or several safetensors shards) of each
 * architecture nib converts, with deterministic random weights.
 */
#ifndef NIB_TEST_CONVERT_FIXTURES_H
#define NIB_TEST_CONVERT_FIXTURES_H

#include <cstdint>
#include <map>
#include <string>
#include <vector>

struct StEntry {
    std::string name, dtype;          /* dtype as safetensors spells it */
    std::vector<int64_t> shape;
    std::vector<uint8_t> bytes;
};

/* A whole .safetensors file: header JSON (entries in the given order, then
 * extra_json pasted verbatim before the closing brace when non-empty). */
std::vector<uint8_t> st_build(const std::vector<StEntry> &entries, const std::string &extra_json = "");
/* Floats as F32, F16 or BF16 bytes (F16/BF16 rounded as ggml does). */
std::vector<uint8_t> st_encode(const std::string &dtype, const std::vector<float> &v);
void write_bytes(const std::string &path, const std::vector<uint8_t> &bytes);
void write_text(const std::string &path, const std::string &text);
/* mkdir -p of a fresh directory (removed first); rm -rf. */
void fresh_dir(const std::string &path);
void remove_tree(const std::string &path);
/* Names of the entries of a directory (no . and ..). */
std::vector<std::string> list_dir(const std::string &path);

struct HfSpec {
    std::string arch = "LlamaForCausalLM";
    int64_t hidden = 64, n_layer = 2, n_head = 4, n_kv = 2, ff = 96, head_dim = 0;
    int64_t n_expert = 0, n_expert_used = 0, moe_ff = 64;
    int shards = 1;              /* > 1: model-0000i-of-0000n.safetensors + index */
    std::string dtype = "F32";   /* of the matrices (norms stay F32) */
    bool tied = false;           /* no lm_head.weight */
};

/* The model's source tensors (HF names, row-major floats), as written. */
using HfTensors = std::map<std::string, std::pair<std::vector<int64_t>, std::vector<float>>>;

/* Writes a model directory; the tokenizer is a byte-level BPE tokenizer.json
 * (260 tokens) for Qwen, tinystories656K's for Llama-family models. */
HfTensors make_hf_dir(const std::string &dir, const HfSpec &s);

#endif
