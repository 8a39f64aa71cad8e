/*
 * test_imatrix.cc — tools/imatrix.c: importance-matrix files in both of
 * llama.cpp's formats (GGUF and legacy .dat), written here byte by byte or
 * with nib_gguf_writer, read back to the weights llama-quantize would compute
 * (quantize.cpp load_imatrix arithmetic), and one malformed file per failure.
 */
#include "nib.h"

#include "test_util.h"
#include "tools/imatrix.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

namespace {

/* ------------------------------------------------------ legacy files */

struct LegacyEntry {
    std::string name;
    int32_t ncall;
    std::vector<float> values;
};

void put_i32(std::vector<uint8_t> &b, int32_t v) {
    const uint8_t *p = reinterpret_cast<const uint8_t *>(&v);
    b.insert(b.end(), p, p + 4);
}

std::vector<uint8_t> legacy_bytes(const std::vector<LegacyEntry> &es, bool trailer, const std::string &dataset = "") {
    std::vector<uint8_t> b;
    put_i32(b, (int32_t)es.size());
    for (const LegacyEntry &e : es) {
        put_i32(b, (int32_t)e.name.size());
        b.insert(b.end(), e.name.begin(), e.name.end());
        put_i32(b, e.ncall);
        put_i32(b, (int32_t)e.values.size());
        const uint8_t *p = reinterpret_cast<const uint8_t *>(e.values.data());
        b.insert(b.end(), p, p + 4 * e.values.size());
    }
    if (trailer) {
        put_i32(b, 42);
        put_i32(b, (int32_t)dataset.size());
        b.insert(b.end(), dataset.begin(), dataset.end());
    }
    return b;
}

std::string write_bytes(const std::string &name, const std::vector<uint8_t> &b) {
    const std::string path = nib_test_temp_path(name);
    FILE *f = std::fopen(path.c_str(), "wb");
    EXPECT_NE(f, nullptr);
    if (f) {
        if (!b.empty()) {
            EXPECT_EQ(std::fwrite(b.data(), 1, b.size(), f), b.size());
        }
        std::fclose(f);
    }
    return path;
}

/* Loads a file; on failure returns the status and leaves the message in err. */
int load(const std::string &path, imatrix **im, nib_error *err) {
    *im = nullptr;
    const int rc = imatrix_load(path.c_str(), im, err);
    if (rc != NIB_OK) {
        EXPECT_EQ(*im, nullptr);
    }
    return rc;
}

std::vector<LegacyEntry> sample_legacy() {
    return {
        {"blk.0.attn_q.weight", 5, {1.5f, 2.25f, 0.1f, 7.0f}},
        {"blk.0.ffn_down.weight", 0, {0.5f, 3.0f}},
        {"a.weight", 3, {10.0f, 0.0f, 1e-30f}},
    };
}

TEST(Imatrix, LegacyValuesAreDividedByNcall) {
    const auto es = sample_legacy();
    const std::string path = write_bytes("imx_legacy.dat", legacy_bytes(es, true, "wiki.train.raw"));
    imatrix *im;
    nib_error err{};
    ASSERT_EQ(load(path, &im, &err), NIB_OK) << err.msg;
    EXPECT_TRUE(im->is_legacy);
    EXPECT_EQ(im->chunk_count, 42u);
    ASSERT_EQ(im->n_datasets, 1);
    EXPECT_STREQ(im->datasets[0], "wiki.train.raw");
    ASSERT_EQ(im->n_entries, 3);
    EXPECT_STREQ(im->entries[0].name, "a.weight"); /* sorted */
    for (const LegacyEntry &e : es) {
        const imatrix_entry *got = imatrix_find(im, e.name.c_str());
        ASSERT_NE(got, nullptr) << e.name;
        ASSERT_EQ(got->n_values, (int64_t)e.values.size());
        for (size_t i = 0; i < e.values.size(); i++) {
            /* quantize.cpp: e[i] = sums[i] / ncall (int64 -> float), raw when ncall is 0 */
            const float want = e.ncall > 0 ? e.values[i] / (float)(int64_t)e.ncall : e.values[i];
            EXPECT_EQ(std::memcmp(&got->values[i], &want, 4), 0) << e.name << "[" << i << "]";
        }
    }
    EXPECT_EQ(imatrix_find(im, "missing"), nullptr);
    const float *w = nullptr;
    EXPECT_EQ(imatrix_lookup(im, "blk.0.attn_q.weight", 4, 1, 0, &w, &err), NIB_OK) << err.msg;
    EXPECT_EQ(w, imatrix_find(im, "blk.0.attn_q.weight")->values);
    EXPECT_EQ(imatrix_lookup(im, "blk.0.attn_q.weight", 2, 2, 1, &w, &err), NIB_OK) << err.msg;
    EXPECT_EQ(w, imatrix_find(im, "blk.0.attn_q.weight")->values + 2);
    EXPECT_EQ(imatrix_lookup(im, "blk.0.attn_q.weight", 8, 1, 0, &w, &err), NIB_E_FORMAT);
    EXPECT_NE(std::string(err.msg).find("blk.0.attn_q.weight"), std::string::npos) << err.msg;
    EXPECT_EQ(imatrix_lookup(im, "nope", 4, 1, 0, &w, &err), NIB_E_NOT_FOUND);
    EXPECT_EQ(imatrix_lookup(im, "a.weight", 3, 1, 1, &w, &err), NIB_E_ARG);
    imatrix_free(im);
    imatrix_free(nullptr);
    std::remove(path.c_str());
}

TEST(Imatrix, LegacyTrailerIsOptional) {
    const auto es = sample_legacy();
    std::vector<uint8_t> b = legacy_bytes(es, false);
    imatrix *im;
    nib_error err{};
    const std::string p0 = write_bytes("imx_legacy0.dat", b);
    ASSERT_EQ(load(p0, &im, &err), NIB_OK) << err.msg;
    EXPECT_EQ(im->chunk_count, 0u);
    EXPECT_EQ(im->n_datasets, 0);
    imatrix_free(im);
    put_i32(b, 7); /* chunk count only */
    const std::string p1 = write_bytes("imx_legacy1.dat", b);
    ASSERT_EQ(load(p1, &im, &err), NIB_OK) << err.msg;
    EXPECT_EQ(im->chunk_count, 7u);
    imatrix_free(im);
    put_i32(b, 0); /* empty dataset name */
    const std::string p2 = write_bytes("imx_legacy2.dat", b);
    ASSERT_EQ(load(p2, &im, &err), NIB_OK) << err.msg;
    EXPECT_EQ(im->n_datasets, 0);
    imatrix_free(im);
    for (const auto &p : {p0, p1, p2}) std::remove(p.c_str());
}

/* Every truncation of a valid file fails cleanly, except the three lengths
 * where the optional trailer legitimately ends. */
TEST(Imatrix, LegacyTruncatedAnywhereFails) {
    const std::vector<uint8_t> full = legacy_bytes(sample_legacy(), true, "data");
    const size_t body = legacy_bytes(sample_legacy(), false).size();
    for (size_t n = 0; n < full.size(); n++) {
        const std::string path = write_bytes("imx_trunc.dat", std::vector<uint8_t>(full.begin(), full.begin() + n));
        imatrix *im;
        nib_error err{};
        const int rc = load(path, &im, &err);
        if (n == body || n == body + 4) {
            EXPECT_EQ(rc, NIB_OK) << n << ": " << err.msg;
        } else {
            EXPECT_EQ(rc, NIB_E_FORMAT) << "length " << n;
            EXPECT_NE(err.msg[0], '\0');
        }
        imatrix_free(im);
        std::remove(path.c_str());
    }
}

struct BadLegacy {
    const char *what;
    std::vector<uint8_t> bytes;
    const char *msg; /* expected in the error message */
};

TEST(Imatrix, LegacyMalformed) {
    std::vector<BadLegacy> cases;
    auto with = [](std::vector<LegacyEntry> es, bool trailer = true) { return legacy_bytes(es, trailer, "d"); };
    cases.push_back({"no entries", with({}), "entries out of range"});
    {
        std::vector<uint8_t> b;
        put_i32(b, -1);
        cases.push_back({"negative entry count", b, "entries out of range"});
        b.clear();
        put_i32(b, 1000000);
        put_i32(b, 0);
        cases.push_back({"more entries than bytes", b, "entries out of range"});
    }
    cases.push_back({"empty name", with({{"", 1, {1.0f}}}), "name length 0"});
    cases.push_back({"no values", with({{"x", 1, {}}}), "0 values"});
    cases.push_back({"negative ncall", with({{"x", -2, {1.0f}}}), "negative call count"});
    cases.push_back({"NaN", with({{"x", 1, {1.0f, std::nanf("")}}}), "value 1 is nan"});
    cases.push_back({"inf", with({{"x", 1, {INFINITY}}}), "value 0 is inf"});
    cases.push_back({"duplicate", with({{"x", 1, {1.0f}}, {"x", 1, {2.0f}}}), "appears twice"});
    {
        std::vector<uint8_t> b = with({{"x", 1, {1.0f}}});
        b.push_back(0);
        cases.push_back({"trailing garbage", b, "dataset name of 1 bytes, 2 bytes left"});
        std::vector<uint8_t> c = with({{"x", 1, {1.0f}}}, false);
        c.push_back(0);
        c.push_back(0);
        cases.push_back({"stray bytes", c, "chunk count"});
        std::vector<uint8_t> d = with({{"x", 1, {1.0f}}}, false);
        put_i32(d, -5);
        cases.push_back({"negative chunk count", d, "chunk count"});
    }
    {
        std::vector<uint8_t> b = with({{"ab", 1, {1.0f}}});
        b[4] = 0x7f; /* name length 127 */
        cases.push_back({"name past end", b, "name length 127 out of range"});
        std::vector<uint8_t> c = with({{"ab", 1, {1.0f}}});
        c[4] = 0xff, c[5] = 0xff, c[6] = 0xff, c[7] = 0xff; /* -1 */
        cases.push_back({"negative name length", c, "name length -1"});
        std::vector<uint8_t> d = with({{"ab", 1, {1.0f}}});
        d[14] = 0xff, d[15] = 0xff, d[16] = 0xff, d[17] = 0x7f; /* nval INT32_MAX */
        cases.push_back({"huge nval", d, "2147483647 values out of range"});
        std::vector<uint8_t> e = with({{"ab", 1, {1.0f}}});
        e[9] = 0; /* NUL in the name */
        cases.push_back({"NUL in name", e, "NUL byte"});
    }
    cases.push_back({"empty file", {}, "too short"});
    for (const BadLegacy &c : cases) {
        const std::string path = write_bytes("imx_bad.dat", c.bytes);
        imatrix *im;
        nib_error err{};
        EXPECT_EQ(load(path, &im, &err), NIB_E_FORMAT) << c.what;
        EXPECT_NE(std::string(err.msg).find(c.msg), std::string::npos) << c.what << ": " << err.msg;
        std::remove(path.c_str());
    }
    imatrix *im;
    nib_error err{};
    EXPECT_EQ(load("/nonexistent/dir/x.dat", &im, &err), NIB_E_IO);
    EXPECT_EQ(imatrix_load(nullptr, &im, &err), NIB_E_ARG);
}

/* -------------------------------------------------------- GGUF files */

struct GgufTensor {
    std::string name;
    nib_type type;
    std::vector<int64_t> ne;
    std::vector<float> data; /* F32 values (converted for F16) */
};

struct GgufOpts {
    bool datasets = true, chunk_count = true, chunk_size = true, datasets_u32 = false;
};

std::string write_gguf(const std::string &name, const std::vector<GgufTensor> &ts, const GgufOpts &o = {}) {
    const std::string path = nib_test_temp_path(name);
    nib_gguf_writer *w = nullptr;
    nib_error err{};
    EXPECT_EQ(nib_gguf_writer_open(path.c_str(), 32, &w, &err), NIB_OK) << err.msg;
    EXPECT_EQ(nib_gguf_writer_set_str(w, "general.type", "imatrix", &err), NIB_OK);
    if (o.datasets) {
        if (o.datasets_u32) {
            EXPECT_EQ(nib_gguf_writer_set_u32(w, "imatrix.datasets", 3, &err), NIB_OK);
        } else {
            const char *s[] = {"wiki.train.raw", "code.txt"};
            nib_gguf_value elems[2];
            for (int i = 0; i < 2; i++) {
                elems[i].type = NIB_GGUF_STRING;
                elems[i].v.str.ptr = s[i];
                elems[i].v.str.len = std::strlen(s[i]);
            }
            nib_gguf_value arr = {};
            arr.type = NIB_GGUF_ARRAY;
            arr.v.arr.type = NIB_GGUF_STRING;
            arr.v.arr.n = 2;
            arr.v.arr.data = elems;
            EXPECT_EQ(nib_gguf_writer_set_kv(w, "imatrix.datasets", &arr, &err), NIB_OK) << err.msg;
        }
    }
    if (o.chunk_count) {
        EXPECT_EQ(nib_gguf_writer_set_u32(w, "imatrix.chunk_count", 100, &err), NIB_OK);
    }
    if (o.chunk_size) {
        EXPECT_EQ(nib_gguf_writer_set_u32(w, "imatrix.chunk_size", 512, &err), NIB_OK);
    }
    for (const GgufTensor &t : ts) {
        EXPECT_EQ(nib_gguf_writer_add_tensor(w, t.name.c_str(), t.type, (uint32_t)t.ne.size(), t.ne.data(), &err), NIB_OK)
            << t.name << ": " << err.msg;
    }
    EXPECT_EQ(nib_gguf_writer_write_header(w, &err), NIB_OK) << err.msg;
    for (const GgufTensor &t : ts) {
        std::vector<uint8_t> bytes(nib_type_row_bytes(t.type, (int64_t)t.data.size()));
        EXPECT_EQ(nib_quantize(t.type, t.data.data(), bytes.data(), (int64_t)t.data.size(), &err), NIB_OK) << err.msg;
        EXPECT_EQ(nib_gguf_writer_write_data(w, bytes.data(), bytes.size(), &err), NIB_OK) << err.msg;
    }
    EXPECT_EQ(nib_gguf_writer_close(w, &err), NIB_OK) << err.msg;
    nib_gguf_writer_free(w);
    return path;
}

/* A 2-expert entry (one expert unused: count 0), a plain one with a
 * fractional count (lround), and an unrelated tensor that is ignored. */
std::vector<GgufTensor> sample_gguf() {
    return {
        {"blk.0.ffn_up_exps.weight.in_sum2", NIB_TYPE_F32, {4, 2}, {1, 2, 3, 4, 5, 6, 7, 8}},
        {"blk.0.ffn_up_exps.weight.counts", NIB_TYPE_F32, {1, 2}, {3, 0}},
        {"output.weight.counts", NIB_TYPE_F32, {1, 1}, {2.5f}},
        {"output.weight.in_sum2", NIB_TYPE_F32, {3, 1}, {0.7f, 1e-3f, 11.0f}},
        {"something.else", NIB_TYPE_F32, {2}, {1, 2}},
    };
}

TEST(Imatrix, GgufSumsOverCountsPerExpert) {
    const std::string path = write_gguf("imx.gguf", sample_gguf());
    imatrix *im;
    nib_error err{};
    ASSERT_EQ(load(path, &im, &err), NIB_OK) << err.msg;
    EXPECT_FALSE(im->is_legacy);
    EXPECT_EQ(im->chunk_count, 100u);
    EXPECT_EQ(im->chunk_size, 512u);
    ASSERT_EQ(im->n_datasets, 2);
    EXPECT_STREQ(im->datasets[1], "code.txt");
    ASSERT_EQ(im->n_entries, 2);
    const imatrix_entry *e = imatrix_find(im, "blk.0.ffn_up_exps.weight");
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->n_experts, 2);
    ASSERT_EQ(e->n_values, 8);
    for (int i = 0; i < 4; i++) {
        const float want = (float)(i + 1) / 3.0f;
        EXPECT_EQ(std::memcmp(&e->values[i], &want, 4), 0) << i;
        EXPECT_EQ(e->values[4 + i], 1.0f) << "unused expert gets ones";
    }
    const imatrix_entry *o = imatrix_find(im, "output.weight");
    ASSERT_NE(o, nullptr);
    EXPECT_EQ(o->n_experts, 1);
    const float sums[3] = {0.7f, 1e-3f, 11.0f};
    for (int i = 0; i < 3; i++) {
        const float want = sums[i] / 3.0f; /* lround(2.5) = 3 */
        EXPECT_EQ(std::memcmp(&o->values[i], &want, 4), 0) << i;
    }
    const float *w = nullptr;
    EXPECT_EQ(imatrix_lookup(im, "blk.0.ffn_up_exps.weight", 4, 2, 1, &w, &err), NIB_OK) << err.msg;
    EXPECT_EQ(w, e->values + 4);
    EXPECT_EQ(imatrix_lookup(im, "blk.0.ffn_up_exps.weight", 8, 1, 0, &w, &err), NIB_OK); /* same size: accepted, as llama */
    EXPECT_EQ(imatrix_lookup(im, "blk.0.ffn_up_exps.weight", 4, 1, 0, &w, &err), NIB_E_FORMAT);
    EXPECT_EQ(imatrix_find(im, "something.else"), nullptr);
    imatrix_free(im);
    std::remove(path.c_str());
}

TEST(Imatrix, GgufMalformed) {
    struct Bad {
        const char *what;
        std::vector<GgufTensor> ts;
        GgufOpts o;
        const char *msg;
    };
    const GgufTensor s4{"x.in_sum2", NIB_TYPE_F32, {4, 1}, {1, 2, 3, 4}};
    const GgufTensor c1{"x.counts", NIB_TYPE_F32, {1, 1}, {2}};
    GgufOpts no_ds, no_cc, no_cs, ds_u32;
    no_ds.datasets = false;
    no_cc.chunk_count = false;
    no_cs.chunk_size = false;
    ds_u32.datasets_u32 = true;
    const std::vector<Bad> cases = {
        {"sums without counts", {s4}, {}, "has .in_sum2 but no .counts"},
        {"counts without sums", {c1}, {}, "has .counts but no .in_sum2"},
        {"no entries", {{"a.weight", NIB_TYPE_F32, {2}, {1, 2}}}, {}, "no <name>.in_sum2"},
        {"no tensors", {}, {}, "no <name>.in_sum2"},
        {"F16 sums", {{"x.in_sum2", NIB_TYPE_F16, {4, 1}, {1, 2, 3, 4}}, c1}, {}, "in_sum2 is F16"},
        {"experts do not divide", {{"x.in_sum2", NIB_TYPE_F32, {5}, {1, 2, 3, 4, 5}}, {"x.counts", NIB_TYPE_F32, {2}, {1, 1}}},
         {}, "5 sums do not split into 2 experts"},
        {"NaN sum", {{"x.in_sum2", NIB_TYPE_F32, {2}, {1, std::nanf("")}}, c1}, {}, "sum 1 of expert 0 is nan"},
        {"negative count", {s4, {"x.counts", NIB_TYPE_F32, {1}, {-1}}}, {}, "count -1 of expert 0"},
        {"inf count", {s4, {"x.counts", NIB_TYPE_F32, {1}, {INFINITY}}}, {}, "count inf of expert 0"},
        {"huge count", {s4, {"x.counts", NIB_TYPE_F32, {1}, {1e30f}}}, {}, "is not a count"},
        {"no datasets key", {s4, c1}, no_ds, "missing key imatrix.datasets"},
        {"no chunk_count", {s4, c1}, no_cc, "imatrix.chunk_count missing"},
        {"no chunk_size", {s4, c1}, no_cs, "imatrix.chunk_size missing"},
    };
    for (const Bad &c : cases) {
        const std::string path = write_gguf("imx_bad.gguf", c.ts, c.o);
        imatrix *im;
        nib_error err{};
        EXPECT_EQ(load(path, &im, &err), NIB_E_FORMAT) << c.what;
        EXPECT_NE(std::string(err.msg).find(c.msg), std::string::npos) << c.what << ": " << err.msg;
        std::remove(path.c_str());
    }
    /* datasets of another type are ignored, as llama.cpp does */
    const std::string path = write_gguf("imx_ds.gguf", {s4, c1}, ds_u32);
    imatrix *im;
    nib_error err{};
    ASSERT_EQ(load(path, &im, &err), NIB_OK) << err.msg;
    EXPECT_EQ(im->n_datasets, 0);
    imatrix_free(im);
    /* a damaged GGUF is reported as such, not read as legacy */
    std::vector<uint8_t> b = nib_test_read_file(path);
    b.resize(b.size() / 2);
    const std::string cut = write_bytes("imx_cut.gguf", b);
    EXPECT_LT(load(cut, &im, &err), 0);
    EXPECT_EQ(std::string(err.msg).find("imatrix '"), std::string::npos) << "the GGUF reader's message: " << err.msg;
    std::remove(path.c_str());
    std::remove(cut.c_str());
}

}  // namespace
