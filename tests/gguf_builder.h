/*
 * gguf_builder.h — builds small valid GGUF files byte by byte in tests, and
 * remembers where each field lives so a test can corrupt exactly one of them.
 */
#ifndef NIB_TEST_GGUF_BUILDER_H
#define NIB_TEST_GGUF_BUILDER_H

#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <vector>

struct GgufBuilder {
    std::vector<uint8_t> b;
    std::map<std::string, size_t> at; /* field name -> byte offset */

    void raw(const void *p, size_t n) { b.insert(b.end(), (const uint8_t *)p, (const uint8_t *)p + n); }
    void u32(uint32_t x) { raw(&x, 4); }
    void u64(uint64_t x) { raw(&x, 8); }
    void i64(int64_t x) { raw(&x, 8); }
    void str(const std::string &s) { u64(s.size()); raw(s.data(), s.size()); }
    void mark(const std::string &name) { at[name] = b.size(); }

    template <typename T> void put(const std::string &field, T v) { std::memcpy(&b[at.at(field)], &v, sizeof(T)); }
    void pad(size_t align) { while (b.size() % align) b.push_back(0); }
};

/*
 * The reference good file: GGUF v3, 6 metadata keys (string, u32 alignment,
 * bool, f32, array of strings, nested array of i32 arrays), and three tensors:
 *   "tok.weight"  F32  [8, 2]   64 bytes
 *   "q.weight"    Q8_0 [32, 2]  68 bytes
 *   "norm.weight" F32  [8]      32 bytes
 * Field marks: n_tensors, n_kv, key0_len, arch_len, align_val, bool_val,
 * arr_n, nested_n, tensorI_name_len / _ndims / _ne0 / _ne1 / _type / _offset
 * (I = 0..2), data. `third_name` renames the third tensor (duplicate-name tests).
 */
inline GgufBuilder gguf_good_file(uint32_t alignment = 32, const char *third_name = "norm.weight") {
    GgufBuilder g;
    g.raw("GGUF", 4);
    g.u32(3);
    g.mark("n_tensors"); g.u64(3);
    g.mark("n_kv"); g.u64(6);
    g.mark("key0_len"); g.str("general.architecture"); g.u32(8); g.mark("arch_len"); g.str("llama");
    g.str("general.alignment"); g.mark("align_type"); g.u32(4); g.mark("align_val"); g.u32(alignment);
    g.str("test.flag"); g.u32(7); g.mark("bool_val"); g.b.push_back(1);
    g.str("test.eps"); g.u32(6); float eps = 1e-5f; g.raw(&eps, 4);
    g.str("tokenizer.ggml.tokens"); g.u32(9); g.u32(8); g.mark("arr_n"); g.u64(3);
    g.str("<unk>"); g.str("<s>"); g.str("</s>");
    g.str("test.nested"); g.u32(9); g.mark("nested_type"); g.u32(9); g.mark("nested_n"); g.u64(2);
    for (int k = 0; k < 2; k++) { g.u32(5); g.u64(2); g.u32(k); g.u32(k + 10); }
    struct T { const char *name; uint32_t type; int64_t ne0, ne1; uint32_t nd; uint64_t bytes; };
    const T ts[3] = { { "tok.weight", 0, 8, 2, 2, 64 }, { "q.weight", 8, 32, 2, 2, 68 }, { third_name, 0, 8, 1, 1, 32 } };
    uint64_t off = 0;
    for (int i = 0; i < 3; i++) {
        std::string p = "tensor" + std::to_string(i);
        g.mark(p + "_name_len"); g.str(ts[i].name);
        g.mark(p + "_ndims"); g.u32(ts[i].nd);
        g.mark(p + "_ne0"); g.i64(ts[i].ne0);
        if (ts[i].nd > 1) { g.mark(p + "_ne1"); g.i64(ts[i].ne1); }
        g.mark(p + "_type"); g.u32(ts[i].type);
        g.mark(p + "_offset"); g.u64(off);
        off += (ts[i].bytes + alignment - 1) / alignment * alignment;
    }
    g.pad(alignment);
    g.mark("data");
    for (uint64_t i = 0; i < off; i++) g.b.push_back((uint8_t)(i * 7));
    /* Q8_0 scales: small finite fp16 values (0x3c00 = 1.0) */
    size_t q = g.at["data"] + (64 + alignment - 1) / alignment * alignment;
    g.b[q] = 0x00; g.b[q + 1] = 0x3c; g.b[q + 34] = 0x00; g.b[q + 35] = 0x3c;
    return g;
}

#endif
