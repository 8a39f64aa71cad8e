// The GGUF reader and writer on every real model in ../shared/models:
// each opens, its tensors tile the data section, and read -> write -> read
// gives identical metadata and tensor bytes.
#include <gtest/gtest.h>

#include "nib.h"
#include "test_util.h"

#include <cstdio>
#include <cstring>
#include <unistd.h>

namespace {

std::vector<std::string> all_models() {
    return nib_test_list_files(nib_test_shared_dir() + "/models", ".gguf");
}

bool values_equal(const nib_gguf_value *a, const nib_gguf_value *b);

bool arrays_equal(const nib_gguf_value *a, const nib_gguf_value *b) {
    if (a->v.arr.type != b->v.arr.type || a->v.arr.n != b->v.arr.n) return false;
    for (uint64_t i = 0; i < a->v.arr.n; i++) {
        const nib_gguf_value *ea = nib_gguf_array_get_value(a, i), *eb = nib_gguf_array_get_value(b, i);
        if (ea || eb) {
            if (!ea || !eb || !values_equal(ea, eb)) return false;
            continue;
        }
        double x, y;
        int64_t p, q;
        if (nib_gguf_array_get_i64(a, i, &p) == NIB_OK) {
            if (nib_gguf_array_get_i64(b, i, &q) != NIB_OK || p != q) return false;
        } else if (nib_gguf_array_get_f64(a, i, &x) != NIB_OK || nib_gguf_array_get_f64(b, i, &y) != NIB_OK ||
                   std::memcmp(&x, &y, sizeof x) != 0) {
            return false;
        }
    }
    return true;
}

bool values_equal(const nib_gguf_value *a, const nib_gguf_value *b) {
    if (a->type != b->type) return false;
    switch (a->type) {
    case NIB_GGUF_STRING: return a->v.str.len == b->v.str.len && !std::memcmp(a->v.str.ptr, b->v.str.ptr, a->v.str.len);
    case NIB_GGUF_ARRAY: return arrays_equal(a, b);
    case NIB_GGUF_FLOAT32: case NIB_GGUF_FLOAT64: return !std::memcmp(&a->v.f64, &b->v.f64, sizeof(double));
    case NIB_GGUF_BOOL: return a->v.b == b->v.b;
    default: return a->v.u64 == b->v.u64;
    }
}

/* Writes g to path through the streaming writer, tensor data in odd-sized chunks. */
void write_copy(const nib_gguf *g, const std::string &path) {
    nib_gguf_writer *w = nullptr;
    nib_error err = {};
    ASSERT_EQ(nib_gguf_writer_open(path.c_str(), (uint32_t)nib_gguf_alignment(g), &w, &err), NIB_OK) << err.msg;
    for (int64_t i = 0; i < nib_gguf_n_kv(g); i++)
        ASSERT_EQ(nib_gguf_writer_set_kv(w, nib_gguf_kv_key(g, i), nib_gguf_kv_value(g, i), &err), NIB_OK) << err.msg;
    for (int64_t i = 0; i < nib_gguf_n_tensors(g); i++) {
        const nib_gguf_tensor *t = nib_gguf_get_tensor(g, i);
        ASSERT_EQ(nib_gguf_writer_add_tensor(w, t->name, t->type, t->n_dims, t->ne, &err), NIB_OK) << err.msg;
    }
    ASSERT_EQ(nib_gguf_writer_write_header(w, &err), NIB_OK) << err.msg;
    for (int64_t i = 0; i < nib_gguf_n_tensors(g); i++) {
        const nib_gguf_tensor *t = nib_gguf_get_tensor(g, i);
        const uint8_t *p = (const uint8_t *)t->data;
        for (uint64_t off = 0; off < t->n_bytes;) {
            size_t k = (size_t)std::min<uint64_t>(t->n_bytes - off, 1000 + (uint64_t)i * 77);
            ASSERT_EQ(nib_gguf_writer_write_data(w, p + off, k, &err), NIB_OK) << err.msg;
            off += k;
        }
    }
    ASSERT_EQ(nib_gguf_writer_close(w, &err), NIB_OK) << err.msg;
    nib_gguf_writer_free(w);
}

void expect_same(const nib_gguf *a, const nib_gguf *b) {
    ASSERT_EQ(nib_gguf_n_kv(a), nib_gguf_n_kv(b));
    for (int64_t i = 0; i < nib_gguf_n_kv(a); i++) {
        EXPECT_STREQ(nib_gguf_kv_key(a, i), nib_gguf_kv_key(b, i));
        EXPECT_TRUE(values_equal(nib_gguf_kv_value(a, i), nib_gguf_kv_value(b, i))) << nib_gguf_kv_key(a, i);
    }
    ASSERT_EQ(nib_gguf_n_tensors(a), nib_gguf_n_tensors(b));
    for (int64_t i = 0; i < nib_gguf_n_tensors(a); i++) {
        const nib_gguf_tensor *x = nib_gguf_get_tensor(a, i), *y = nib_gguf_get_tensor(b, i);
        EXPECT_STREQ(x->name, y->name);
        EXPECT_EQ(x->type, y->type);
        EXPECT_EQ(x->n_dims, y->n_dims);
        EXPECT_EQ(0, std::memcmp(x->ne, y->ne, sizeof x->ne));
        EXPECT_EQ(x->offset, y->offset);
        ASSERT_EQ(x->n_bytes, y->n_bytes);
        EXPECT_EQ(0, std::memcmp(x->data, y->data, x->n_bytes)) << x->name;
    }
}

} // namespace

TEST(GgufModels, EveryModelOpensAndTilesItsData) {
    if (!nib_test_have_shared()) GTEST_SKIP() << "no ../shared/models";
    auto models = all_models();
    ASSERT_GT(models.size(), 40u);
    for (const auto &path : models) {
        nib_gguf *g = nullptr;
        nib_error err = {};
        ASSERT_EQ(nib_gguf_open(path.c_str(), nullptr, &g, &err), NIB_OK) << err.msg;
        uint64_t expect = 0;
        for (int64_t i = 0; i < nib_gguf_n_tensors(g); i++) {
            const nib_gguf_tensor *t = nib_gguf_get_tensor(g, i);
            EXPECT_EQ(t->offset, expect) << path << " " << t->name;
            EXPECT_EQ(t->n_bytes, nib_type_row_bytes(t->type, t->ne[0]) * (uint64_t)(t->n_elements / t->ne[0]));
            EXPECT_EQ((const uint8_t *)t->data,
                      (const uint8_t *)nib_gguf_file_data(g) + nib_gguf_data_offset(g) + t->offset);
            uint64_t a = nib_gguf_alignment(g);
            expect = (t->offset + t->n_bytes + a - 1) / a * a;
        }
        nib_gguf_free(g);
    }
}

TEST(GgufModels, Stories260KFacts) {
    if (!nib_test_have_shared()) GTEST_SKIP() << "no ../shared/models";
    std::string path = nib_test_shared_dir() + "/models/stories260K/stories260K-q8_0.gguf";
    nib_gguf *g = nullptr;
    nib_error err = {};
    ASSERT_EQ(nib_gguf_open(path.c_str(), nullptr, &g, &err), NIB_OK) << err.msg;
    EXPECT_EQ(nib_gguf_version(g), 3u);
    const char *arch = nullptr;
    ASSERT_EQ(nib_gguf_get_str(g, "general.architecture", &arch, &err), NIB_OK);
    EXPECT_STREQ(arch, "llama");
    uint64_t n = 0;
    ASSERT_EQ(nib_gguf_get_u64(g, "llama.embedding_length", &n, &err), NIB_OK);
    EXPECT_EQ(n, 64u);
    double eps = 0;
    ASSERT_EQ(nib_gguf_get_f64(g, "llama.attention.layer_norm_rms_epsilon", &eps, &err), NIB_OK);
    EXPECT_FLOAT_EQ((float)eps, 1e-5f);
    EXPECT_EQ(nib_gguf_get_f64(g, "general.architecture", &eps, &err), NIB_E_TYPE);
    EXPECT_NE(std::string(err.msg).find("has type str, expected a float"), std::string::npos) << err.msg;
    EXPECT_EQ(nib_gguf_get_u64(g, "no.such.key", &n, &err), NIB_E_NOT_FOUND);
    const nib_gguf_value *toks = nib_gguf_get(g, "tokenizer.ggml.tokens");
    ASSERT_NE(toks, nullptr);
    ASSERT_EQ(toks->v.arr.n, 512u);
    EXPECT_STREQ(nib_gguf_array_get_value(toks, 1)->v.str.ptr, "<s>");
    EXPECT_EQ(nib_gguf_n_tensors(g), 48);
    int64_t ti = nib_gguf_find_tensor(g, "blk.0.ffn_down.weight");
    ASSERT_GE(ti, 0);
    EXPECT_EQ(nib_gguf_get_tensor(g, ti)->type, NIB_TYPE_F16);
    EXPECT_EQ(nib_gguf_get_tensor(g, ti)->ne[0], 172);
    nib_gguf_free(g);
}

TEST(GgufModels, WriterRoundTripEveryModel) {
    if (!nib_test_have_shared()) GTEST_SKIP() << "no ../shared/models";
    std::string out = nib_test_temp_path("nib_roundtrip.gguf");
    for (const auto &path : all_models()) {
        SCOPED_TRACE(path);
        nib_gguf *a = nullptr, *b = nullptr;
        nib_error err = {};
        ASSERT_EQ(nib_gguf_open(path.c_str(), nullptr, &a, &err), NIB_OK) << err.msg;
        write_copy(a, out);
        ASSERT_EQ(nib_gguf_open(out.c_str(), nullptr, &b, &err), NIB_OK) << err.msg;
        expect_same(a, b);
        nib_gguf_free(a);
        nib_gguf_free(b);
    }
    std::remove(out.c_str());
}
