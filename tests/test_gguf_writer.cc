// GGUF writer: call order, argument checks, alignment, and the temporary
// file that only a successful close renames onto the target.
#include <gtest/gtest.h>

#include "nib.h"
#include "test_util.h"

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>

namespace {
std::string tmp_path(const char *name) { return nib_test_temp_path(name); }
bool exists(const std::string &p) { return std::filesystem::exists(p); }
size_t count_tmp_siblings(const std::string &p) {
    size_t n = 0;
    auto dir = std::filesystem::path(p).parent_path();
    auto stem = std::filesystem::path(p).filename().string() + ".tmp.";
    for (const auto &e : std::filesystem::directory_iterator(dir))
        if (e.path().filename().string().rfind(stem, 0) == 0) n++;
    return n;
}
} // namespace

TEST(GgufWriter, AlignmentAndValuesRoundTrip) {
    std::string path = tmp_path("nib_w1.gguf");
    nib_gguf_writer *w = nullptr;
    nib_error err = {};
    ASSERT_EQ(nib_gguf_writer_open(path.c_str(), 64, &w, &err), NIB_OK) << err.msg;
    ASSERT_EQ(nib_gguf_writer_set_str(w, "general.name", "t", &err), NIB_OK);
    ASSERT_EQ(nib_gguf_writer_set_f32(w, "x.eps", 0.25f, &err), NIB_OK);
    const char *s[] = { "a", "bc", "" };
    nib_gguf_value elems[3];
    for (int i = 0; i < 3; i++) {
        elems[i].type = NIB_GGUF_STRING;
        elems[i].v.str.ptr = s[i];
        elems[i].v.str.len = std::strlen(s[i]);
    }
    nib_gguf_value arr = {};
    arr.type = NIB_GGUF_ARRAY;
    arr.v.arr.type = NIB_GGUF_STRING;
    arr.v.arr.n = 3;
    arr.v.arr.data = elems;
    ASSERT_EQ(nib_gguf_writer_set_kv(w, "x.strs", &arr, &err), NIB_OK) << err.msg;
    EXPECT_EQ(nib_gguf_writer_set_u32(w, "x.eps", 1, &err), NIB_E_ARG);
    EXPECT_EQ(nib_gguf_writer_set_u32(w, "general.alignment", 32, &err), NIB_E_ARG);
    int64_t ne[2] = { 32, 3 };
    ASSERT_EQ(nib_gguf_writer_add_tensor(w, "q", NIB_TYPE_Q8_0, 2, ne, &err), NIB_OK) << err.msg;
    int64_t ne1[1] = { 5 };
    ASSERT_EQ(nib_gguf_writer_add_tensor(w, "f", NIB_TYPE_F32, 1, ne1, &err), NIB_OK) << err.msg;
    int64_t bad[1] = { 33 };
    EXPECT_EQ(nib_gguf_writer_add_tensor(w, "b", NIB_TYPE_Q8_0, 1, bad, &err), NIB_E_ARG);
    EXPECT_EQ(nib_gguf_writer_add_tensor(w, "q", NIB_TYPE_F32, 1, ne1, &err), NIB_E_ARG);
    EXPECT_EQ(nib_gguf_writer_write_data(w, "x", 1, &err), NIB_E_STATE);
    ASSERT_EQ(nib_gguf_writer_write_header(w, &err), NIB_OK) << err.msg;
    EXPECT_EQ(nib_gguf_writer_set_u32(w, "late", 1, &err), NIB_E_STATE);
    std::vector<uint8_t> q(34 * 3, 0), f(20, 0);
    ASSERT_EQ(nib_gguf_writer_write_data(w, q.data(), q.size(), &err), NIB_OK);
    ASSERT_EQ(nib_gguf_writer_write_data(w, f.data(), 8, &err), NIB_OK);
    EXPECT_EQ(nib_gguf_writer_close(w, &err), NIB_E_STATE); // 12 bytes of "f" missing
    EXPECT_NE(std::string(err.msg).find("tensor 'f': only 8 of 20 bytes written"), std::string::npos) << err.msg;
    ASSERT_EQ(nib_gguf_writer_write_data(w, f.data(), 12, &err), NIB_OK);
    EXPECT_EQ(nib_gguf_writer_write_data(w, f.data(), 1, &err), NIB_E_ARG);
    ASSERT_EQ(nib_gguf_writer_close(w, &err), NIB_OK) << err.msg;
    nib_gguf_writer_free(w);

    nib_gguf *g = nullptr;
    ASSERT_EQ(nib_gguf_open(path.c_str(), nullptr, &g, &err), NIB_OK) << err.msg;
    EXPECT_EQ(nib_gguf_alignment(g), 64u);
    EXPECT_EQ(nib_gguf_data_offset(g) % 64, 0u);
    EXPECT_EQ(nib_gguf_get_tensor(g, 1)->offset, 128u);
    const nib_gguf_value *v = nib_gguf_get(g, "x.strs");
    ASSERT_NE(v, nullptr);
    EXPECT_STREQ(nib_gguf_array_get_value(v, 1)->v.str.ptr, "bc");
    EXPECT_EQ(nib_gguf_array_get_value(v, 2)->v.str.len, 0u);
    nib_gguf_free(g);
    std::remove(path.c_str());
}

TEST(GgufWriter, FreeWithoutCloseLeavesNoFile) {
    std::string path = tmp_path("nib_w2.gguf");
    std::remove(path.c_str());
    nib_gguf_writer *w = nullptr;
    nib_error err = {};
    ASSERT_EQ(nib_gguf_writer_open(path.c_str(), 32, &w, &err), NIB_OK);
    ASSERT_EQ(nib_gguf_writer_write_header(w, &err), NIB_OK);
    EXPECT_EQ(count_tmp_siblings(path), 1u);
    nib_gguf_writer_free(w);
    EXPECT_FALSE(exists(path));
    EXPECT_EQ(count_tmp_siblings(path), 0u);
}

TEST(GgufWriter, BadArguments) {
    nib_gguf_writer *w = nullptr;
    nib_error err = {};
    EXPECT_EQ(nib_gguf_writer_open(tmp_path("x.gguf").c_str(), 48, &w, &err), NIB_E_ARG);
    EXPECT_EQ(nib_gguf_writer_open("/nonexistent-dir/x.gguf", 32, &w, &err), NIB_E_IO);
    EXPECT_NE(std::string(err.msg).find("cannot create temporary file"), std::string::npos);
    nib_gguf_writer_free(nullptr);
}
