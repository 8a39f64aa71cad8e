#include "convert_fixtures.h"

#include "nib.h"
#include "test_util.h"

#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

std::vector<uint8_t> st_build(const std::vector<StEntry> &entries, const std::string &extra_json) {
    std::string h = "{";
    size_t off = 0;
    for (const StEntry &e : entries) {
        if (h.size() > 1) h += ",";
        h += "\"" + e.name + "\":{\"dtype\":\"" + e.dtype + "\",\"shape\":[";
        for (size_t i = 0; i < e.shape.size(); i++) h += (i ? "," : "") + std::to_string(e.shape[i]);
        h += "],\"data_offsets\":[" + std::to_string(off) + "," + std::to_string(off + e.bytes.size()) + "]}";
        off += e.bytes.size();
    }
    if (!extra_json.empty()) h += (h.size() > 1 ? "," : "") + extra_json;
    h += "}";
    while (h.size() % 8) h += " ";
    std::string head(8, '\0');
    uint64_t n = h.size();
    for (int i = 0; i < 8; i++) head[(size_t)i] = (char)(uint8_t)(n >> (8 * i));
    head += h;
    std::vector<uint8_t> out(head.begin(), head.end());
    for (const StEntry &e : entries) out.insert(out.end(), e.bytes.begin(), e.bytes.end());
    return out;
}

std::vector<uint8_t> st_encode(const std::string &dtype, const std::vector<float> &v) {
    int type = dtype == "F16" ? NIB_TYPE_F16 : dtype == "BF16" ? NIB_TYPE_BF16 : NIB_TYPE_F32;
    std::vector<uint8_t> out(nib_type_row_bytes(type, (int64_t)v.size()));
    if (type == NIB_TYPE_F32) memcpy(out.data(), v.data(), out.size());
    else EXPECT_EQ(nib_quantize(type, v.data(), out.data(), (int64_t)v.size(), nullptr), NIB_OK);
    return out;
}

void write_bytes(const std::string &path, const std::vector<uint8_t> &bytes) {
    FILE *f = std::fopen(path.c_str(), "wb");
    ASSERT_NE(f, nullptr) << path;
    if (!bytes.empty()) {
        ASSERT_EQ(std::fwrite(bytes.data(), 1, bytes.size(), f), bytes.size());
    }
    std::fclose(f);
}

void write_text(const std::string &path, const std::string &text) {
    write_bytes(path, std::vector<uint8_t>(text.begin(), text.end()));
}

void remove_tree(const std::string &path) {
    DIR *d = opendir(path.c_str());
    if (!d) {
        std::remove(path.c_str());
        return;
    }
    while (dirent *de = readdir(d)) {
        std::string n = de->d_name;
        if (n == "." || n == "..") continue;
        remove_tree(path + "/" + n);
    }
    closedir(d);
    rmdir(path.c_str());
}

void fresh_dir(const std::string &path) {
    remove_tree(path);
    ASSERT_EQ(mkdir(path.c_str(), 0755), 0) << path;
}

std::vector<std::string> list_dir(const std::string &path) {
    std::vector<std::string> v;
    DIR *d = opendir(path.c_str());
    while (d) {
        dirent *de = readdir(d);
        if (!de) break;
        std::string n = de->d_name;
        if (n != "." && n != "..") v.push_back(n);
    }
    if (d) closedir(d);
    return v;
}

namespace {

/* GPT-2's bytes_to_unicode: printable bytes map to themselves, the rest to U+0100.. in order. */
std::string byte_char(int b) {
    static int map[256];
    static bool init = false;
    if (!init) {
        int n = 0;
        for (int i = 0; i < 256; i++) {
            bool keep = (i >= 33 && i <= 126) || (i >= 161 && i <= 172) || (i >= 174);
            map[i] = keep ? i : 256 + n++;
        }
        init = true;
    }
    int cp = map[b];
    std::string s;
    if (cp < 0x80) s += (char)cp;
    else {
        s += (char)(0xC0 | (cp >> 6));
        s += (char)(0x80 | (cp & 0x3F));
    }
    return s;
}

std::string json_escape(const std::string &s) {
    std::string o;
    for (unsigned char c : s) {
        if (c == '"' || c == '\\') o += '\\', o += (char)c;
        else if (c < 0x20) {
            char b[8];
            snprintf(b, sizeof b, "\\u%04x", c);
            o += b;
        } else o += (char)c;
    }
    return o;
}

/* 256 byte tokens, "Ġt", "he", then <|endoftext|> (258) and <|im_end|> (259). */
void write_bpe_tokenizer(const std::string &dir) {
    std::string v = "{";
    for (int b = 0; b < 256; b++) v += (b ? "," : "") + std::string("\"") + json_escape(byte_char(b)) + "\":" + std::to_string(b);
    v += ",\"\xc4\xa0t\":256,\"he\":257}";
    std::string tj = "{\"version\":\"1.0\",\"added_tokens\":["
                     "{\"id\":258,\"content\":\"<|endoftext|>\",\"special\":true,\"normalized\":false},"
                     "{\"id\":259,\"content\":\"<|im_end|>\",\"special\":true,\"normalized\":false}],"
                     "\"normalizer\":null,"
                     "\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Split\",\"pattern\":{\"Regex\":"
                     "\"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?\\\\p{L}+|\\\\p{N}| ?[^\\\\s\\\\p{L}\\\\p{N}]+[\\\\r\\\\n]*|"
                     "\\\\s*[\\\\r\\\\n]+|\\\\s+(?!\\\\S)|\\\\s+\"},\"behavior\":\"Isolated\",\"invert\":false},"
                     "{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"trim_offsets\":false,\"use_regex\":false}]},"
                     "\"post_processor\":null,\"decoder\":{\"type\":\"ByteLevel\"},"
                     "\"model\":{\"type\":\"BPE\",\"byte_fallback\":false,\"vocab\":" + v +
                     ",\"merges\":[\"\xc4\xa0 t\",\"h e\"]}}";
    write_text(dir + "/tokenizer.json", tj);
    write_text(dir + "/tokenizer_config.json",
               "{\"eos_token\":\"<|im_end|>\",\"pad_token\":\"<|endoftext|>\",\"bos_token\":null,"
               "\"chat_template\":\"{% for m in messages %}<|im_start|>{{ m.role }}\\n{{ m.content }}<|im_end|>\\n{% endfor %}\"}");
}

void copy_file(const std::string &from, const std::string &to) { write_bytes(to, nib_test_read_file(from)); }

struct Builder {
    const HfSpec &s;
    NibRng rng{ 1234 };
    HfTensors t;
    explicit Builder(const HfSpec &spec) : s(spec) {}
    void add(const std::string &name, std::vector<int64_t> shape, bool norm = false) {
        int64_t n = 1;
        for (int64_t d : shape) n *= d;
        std::vector<float> v((size_t)n);
        for (float &x : v) x = norm ? 1.0f + 0.1f * rng.uniform() : 0.1f * rng.uniform();
        t[name] = { shape, v };
    }
};

bool is_qwen(const std::string &a) { return a.rfind("Qwen", 0) == 0; }

std::string config_json(const HfSpec &s, int64_t vocab) {
    std::string c = "{\"architectures\":[\"" + s.arch + "\"],\"hidden_size\":" + std::to_string(s.hidden) +
                    ",\"intermediate_size\":" + std::to_string(s.ff) + ",\"num_hidden_layers\":" + std::to_string(s.n_layer) +
                    ",\"num_attention_heads\":" + std::to_string(s.n_head) +
                    ",\"num_key_value_heads\":" + std::to_string(s.n_kv) + ",\"vocab_size\":" + std::to_string(vocab) +
                    ",\"max_position_embeddings\":256,\"rms_norm_eps\":1e-6,\"rope_theta\":10000.0,"
                    "\"tie_word_embeddings\":" + std::string(s.tied ? "true" : "false");
    if (s.head_dim) c += ",\"head_dim\":" + std::to_string(s.head_dim);
    if (s.n_expert && s.arch == "MixtralForCausalLM")
        c += ",\"num_local_experts\":" + std::to_string(s.n_expert) + ",\"num_experts_per_tok\":" + std::to_string(s.n_expert_used);
    if (s.n_expert && s.arch == "Qwen3MoeForCausalLM")
        c += ",\"num_experts\":" + std::to_string(s.n_expert) + ",\"num_experts_per_tok\":" + std::to_string(s.n_expert_used) +
             ",\"moe_intermediate_size\":" + std::to_string(s.moe_ff) + ",\"norm_topk_prob\":true";
    return c + "}";
}

void layer_tensors(Builder &b, const HfSpec &s, int64_t i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    const int64_t hd = s.head_dim ? s.head_dim : s.hidden / s.n_head, q = s.n_head * hd, kv = s.n_kv * hd;
    b.add(p + "input_layernorm.weight", { s.hidden }, true);
    b.add(p + "post_attention_layernorm.weight", { s.hidden }, true);
    b.add(p + "self_attn.q_proj.weight", { q, s.hidden });
    b.add(p + "self_attn.k_proj.weight", { kv, s.hidden });
    b.add(p + "self_attn.v_proj.weight", { kv, s.hidden });
    b.add(p + "self_attn.o_proj.weight", { s.hidden, q });
    if (s.arch == "Qwen2ForCausalLM") {
        b.add(p + "self_attn.q_proj.bias", { q });
        b.add(p + "self_attn.k_proj.bias", { kv });
        b.add(p + "self_attn.v_proj.bias", { kv });
    }
    if (s.arch.rfind("Qwen3", 0) == 0) {
        b.add(p + "self_attn.q_norm.weight", { hd }, true);
        b.add(p + "self_attn.k_norm.weight", { hd }, true);
    }
    if (s.arch == "MixtralForCausalLM") {
        b.add(p + "block_sparse_moe.gate.weight", { s.n_expert, s.hidden });
        for (int64_t e = 0; e < s.n_expert; e++) {
            std::string x = p + "block_sparse_moe.experts." + std::to_string(e) + ".";
            b.add(x + "w1.weight", { s.ff, s.hidden });
            b.add(x + "w2.weight", { s.hidden, s.ff });
            b.add(x + "w3.weight", { s.ff, s.hidden });
        }
    } else if (s.arch == "Qwen3MoeForCausalLM") {
        b.add(p + "mlp.gate.weight", { s.n_expert, s.hidden });
        for (int64_t e = 0; e < s.n_expert; e++) {
            std::string x = p + "mlp.experts." + std::to_string(e) + ".";
            b.add(x + "gate_proj.weight", { s.moe_ff, s.hidden });
            b.add(x + "up_proj.weight", { s.moe_ff, s.hidden });
            b.add(x + "down_proj.weight", { s.hidden, s.moe_ff });
        }
    } else {
        b.add(p + "mlp.gate_proj.weight", { s.ff, s.hidden });
        b.add(p + "mlp.up_proj.weight", { s.ff, s.hidden });
        b.add(p + "mlp.down_proj.weight", { s.hidden, s.ff });
    }
}

} // namespace

HfTensors make_hf_dir(const std::string &dir, const HfSpec &s) {
    fresh_dir(dir);
    int64_t vocab;
    if (is_qwen(s.arch)) {
        write_bpe_tokenizer(dir);
        vocab = 260;
    } else {
        const std::string src = nib_test_shared_dir() + "/models/tinystories656K/";
        for (const char *f : { "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json" })
            copy_file(src + f, dir + "/" + f);
        vocab = 2048;
    }
    write_text(dir + "/config.json", config_json(s, vocab));
    Builder b(s);
    b.add("model.embed_tokens.weight", { vocab, s.hidden });
    b.add("model.norm.weight", { s.hidden }, true);
    if (!s.tied) b.add("lm_head.weight", { vocab, s.hidden });
    for (int64_t i = 0; i < s.n_layer; i++) layer_tensors(b, s, i);
    /* shards: tensors dealt round-robin in name order */
    std::vector<std::vector<StEntry>> parts((size_t)s.shards);
    std::string weight_map;
    int k = 0;
    for (const auto &kv : b.t) {
        bool is_matrix = kv.second.first.size() >= 2;
        std::string dt = is_matrix ? s.dtype : "F32";
        int part = k++ % s.shards;
        parts[(size_t)part].push_back({ kv.first, dt, kv.second.first, st_encode(dt, kv.second.second) });
        char name[64];
        snprintf(name, sizeof name, "model-%05d-of-%05d.safetensors", part + 1, s.shards);
        weight_map += (weight_map.empty() ? "\"" : ",\"") + kv.first + "\":\"" + name + "\"";
    }
    if (s.shards == 1) write_bytes(dir + "/model.safetensors", st_build(parts[0], "\"__metadata__\":{\"format\":\"pt\"}"));
    else {
        for (int i = 0; i < s.shards; i++) {
            char name[64];
            snprintf(name, sizeof name, "model-%05d-of-%05d.safetensors", i + 1, s.shards);
            write_bytes(dir + "/" + name, st_build(parts[(size_t)i]));
        }
        write_text(dir + "/model.safetensors.index.json", "{\"metadata\":{},\"weight_map\":{" + weight_map + "}}");
    }
    /* the matrices as the file holds them (after F16/BF16 rounding) */
    for (auto &kv : b.t) {
        if (kv.second.first.size() < 2 || s.dtype == "F32") continue;
        std::vector<uint8_t> enc = st_encode(s.dtype, kv.second.second);
        int type = s.dtype == "F16" ? NIB_TYPE_F16 : NIB_TYPE_BF16;
        nib_dequantize(type, enc.data(), kv.second.second.data(), (int64_t)kv.second.second.size(), nullptr);
    }
    return b.t;
}
