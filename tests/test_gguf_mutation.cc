// Mutation smoke test: random byte flips and truncations of real models must
// either open cleanly or fail with a message — never crash, hang or read out
// of bounds (this suite also runs under ASan/UBSan). Whatever opens is walked
// completely: every value, and the first row of every tensor dequantized.
#include <gtest/gtest.h>

#include "nib.h"
#include "test_util.h"

#include <cstring>

namespace {

void walk_value(const nib_gguf_value *v, uint64_t *sink) {
    if (v->type == NIB_GGUF_STRING) {
        for (uint64_t i = 0; i < v->v.str.len; i++) *sink += (uint8_t)v->v.str.ptr[i];
        return;
    }
    if (v->type != NIB_GGUF_ARRAY) return;
    for (uint64_t i = 0; i < v->v.arr.n; i++) {
        const nib_gguf_value *e = nib_gguf_array_get_value(v, i);
        double d;
        if (e) walk_value(e, sink);
        else if (nib_gguf_array_get_f64(v, i, &d) == NIB_OK) *sink += (uint64_t)(d != 0);
    }
}

void walk(const nib_gguf *g, std::vector<float> &row, uint64_t *sink) {
    for (int64_t i = 0; i < nib_gguf_n_kv(g); i++) walk_value(nib_gguf_kv_value(g, i), sink);
    for (int64_t i = 0; i < nib_gguf_n_tensors(g); i++) {
        const nib_gguf_tensor *t = nib_gguf_get_tensor(g, i);
        if (!nib_type_is_supported(t->type) || t->ne[0] > (1 << 16)) continue;
        row.resize((size_t)t->ne[0]);
        nib_error err = {};
        if (nib_dequantize(t->type, t->data, row.data(), t->ne[0], &err) == NIB_OK) *sink += row[0] != 0;
    }
}

} // namespace

TEST(GgufMutation, RandomFlipsAndTruncationsNeverCrash) {
    if (!nib_test_have_shared()) GTEST_SKIP() << "no ../shared/models";
    const char *models[] = { "stories260K/stories260K-q8_0.gguf", "synth/llama-q4km.gguf", "synth/qwen3moe-q4_0.gguf",
                             "trained/tiny-chat-q8_0.gguf" };
    NibRng rng(12345);
    std::vector<float> row;
    uint64_t sink = 0;
    int n_ok = 0, n_err = 0;
    for (const char *m : models) {
        std::vector<uint8_t> orig = nib_test_read_file(nib_test_shared_dir() + "/models/" + m);
        ASSERT_GT(orig.size(), 1000u) << m;
        nib_gguf *g0 = nullptr;
        ASSERT_EQ(nib_gguf_open_memory(orig.data(), orig.size(), nullptr, &g0, nullptr), NIB_OK);
        size_t header = (size_t)nib_gguf_data_offset(g0);
        nib_gguf_free(g0);
        for (int c = 0; c < 1000; c++) {
            std::vector<uint8_t> b = orig;
            int kind = (int)(rng.next() % 4);
            if (kind == 3) {
                b.resize((size_t)(rng.next() % b.size()));
            } else {
                int flips = 1 + (int)(rng.next() % 8);
                for (int k = 0; k < flips; k++) {
                    size_t at = (size_t)(rng.next() % (kind == 0 ? 64 : header)); // bias toward counts/lengths
                    b[at] = kind == 2 ? (uint8_t)rng.next() : (uint8_t)(b[at] ^ (1u << (rng.next() % 8)));
                }
            }
            nib_gguf *g = nullptr;
            nib_error err = {};
            int rc = nib_gguf_open_memory(b.data(), b.size(), nullptr, &g, &err);
            if (rc == NIB_OK) {
                walk(g, row, &sink);
                n_ok++;
            } else {
                EXPECT_LT(rc, 0);
                EXPECT_GT(std::strlen(err.msg), 10u);
                EXPECT_EQ(g, nullptr);
                n_err++;
            }
            nib_gguf_free(g);
        }
    }
    EXPECT_GT(n_err, 1000);
    std::printf("mutations: %d opened, %d rejected (checksum %llu)\n", n_ok, n_err, (unsigned long long)sink);
}
