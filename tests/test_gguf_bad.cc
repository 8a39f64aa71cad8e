// One handcrafted bad file per validation class of the GGUF reader: each is
// made from the good file of gguf_builder.h by corrupting one field, and must
// fail with NIB_E_FORMAT (or NIB_E_UNSUPPORTED) and a message naming the problem.
#include <gtest/gtest.h>

#include "gguf_builder.h"
#include "nib.h"

#include <functional>

namespace {

struct Outcome {
    int status;
    std::string msg;
};

Outcome open_bytes(const std::vector<uint8_t> &b) {
    nib_gguf *g = nullptr;
    nib_error err = {};
    int rc = nib_gguf_open_memory(b.data(), b.size(), nullptr, &g, &err);
    nib_gguf_free(g);
    return { rc, rc ? err.msg : "" };
}

void expect_error(const GgufBuilder &gb, int status, const std::string &needle) {
    Outcome o = open_bytes(gb.b);
    EXPECT_EQ(o.status, status) << o.msg;
    EXPECT_NE(o.msg.find(needle), std::string::npos) << "message: " << o.msg << "\nexpected to contain: " << needle;
}

} // namespace

TEST(GgufBad, GoodFileOpens) {
    GgufBuilder gb = gguf_good_file();
    nib_gguf *g = nullptr;
    nib_error err = {};
    ASSERT_EQ(nib_gguf_open_memory(gb.b.data(), gb.b.size(), nullptr, &g, &err), NIB_OK) << err.msg;
    EXPECT_EQ(nib_gguf_n_kv(g), 6);
    EXPECT_EQ(nib_gguf_n_tensors(g), 3);
    EXPECT_EQ(nib_gguf_get_tensor(g, 1)->type, NIB_TYPE_Q8_0);
    EXPECT_EQ(nib_gguf_get_tensor(g, 2)->offset, 160u);
    const nib_gguf_value *nested = nib_gguf_get(g, "test.nested");
    ASSERT_NE(nested, nullptr);
    const nib_gguf_value *inner = nib_gguf_array_get_value(nested, 1);
    ASSERT_NE(inner, nullptr);
    int64_t x = 0;
    EXPECT_EQ(nib_gguf_array_get_i64(inner, 1, &x), NIB_OK);
    EXPECT_EQ(x, 11);
    nib_gguf_free(g);
}

TEST(GgufBad, TruncatedHeader) {
    GgufBuilder gb = gguf_good_file();
    gb.b.resize(20);
    expect_error(gb, NIB_E_FORMAT, "truncated file: 20 bytes");
}

TEST(GgufBad, TruncatedInsideMetadata) {
    GgufBuilder gb = gguf_good_file();
    gb.b.resize(gb.at["nested_n"] + 4);
    expect_error(gb, NIB_E_FORMAT, "truncated file: key 'test.nested' needs 8 bytes");
}

TEST(GgufBad, TruncatedInsideTensorInfo) {
    GgufBuilder gb = gguf_good_file();
    gb.b.resize(gb.at["tensor1_ne0"] + 4);
    expect_error(gb, NIB_E_FORMAT, "truncated file: tensor 'q.weight' needs 16 bytes");
}

TEST(GgufBad, EmptyFile) { expect_error(GgufBuilder{}, NIB_E_FORMAT, "truncated file: 0 bytes"); }

TEST(GgufBad, BadMagic) {
    GgufBuilder gb = gguf_good_file();
    gb.b[0] = 'G'; gb.b[1] = 'G'; gb.b[2] = 'M'; gb.b[3] = 'L';
    expect_error(gb, NIB_E_FORMAT, "bad magic 47 47 4d 4c");
}

TEST(GgufBad, UnsupportedVersion) {
    GgufBuilder gb = gguf_good_file();
    gb.put<uint32_t>("n_tensors", 0); // keep the rest; the version check comes first
    uint32_t v = 7;
    std::memcpy(&gb.b[4], &v, 4);
    expect_error(gb, NIB_E_UNSUPPORTED, "unsupported GGUF version 7");
    v = 1;
    std::memcpy(&gb.b[4], &v, 4);
    expect_error(gb, NIB_E_UNSUPPORTED, "version 1 is not supported");
    v = 0x03000000;
    std::memcpy(&gb.b[4], &v, 4);
    expect_error(gb, NIB_E_UNSUPPORTED, "big-endian");
}

TEST(GgufBad, VersionTwoAccepted) {
    GgufBuilder gb = gguf_good_file();
    uint32_t v = 2;
    std::memcpy(&gb.b[4], &v, 4);
    EXPECT_EQ(open_bytes(gb.b).status, NIB_OK);
}

TEST(GgufBad, AbsurdTensorCount) {
    GgufBuilder gb = gguf_good_file();
    gb.put<uint64_t>("n_tensors", 1ull << 40);
    expect_error(gb, NIB_E_FORMAT, "tensor count 1099511627776 is absurd");
}

TEST(GgufBad, AbsurdKvCount) {
    GgufBuilder gb = gguf_good_file();
    gb.put<uint64_t>("n_kv", ~0ull);
    expect_error(gb, NIB_E_FORMAT, "metadata key count 18446744073709551615 is absurd");
}

TEST(GgufBad, StringLengthPastEnd) {
    GgufBuilder gb = gguf_good_file();
    gb.put<uint64_t>("arch_len", 1ull << 33);
    expect_error(gb, NIB_E_FORMAT, "key 'general.architecture': string length 8589934592");
    gb = gguf_good_file();
    gb.put<uint64_t>("key0_len", gb.b.size());
    expect_error(gb, NIB_E_FORMAT, "metadata key #0: string length");
}

TEST(GgufBad, ArrayLengthPastEnd) {
    GgufBuilder gb = gguf_good_file();
    gb.put<uint64_t>("arr_n", 1ull << 60);
    expect_error(gb, NIB_E_FORMAT, "key 'tokenizer.ggml.tokens': array of 1152921504606846976 str elements");
}

TEST(GgufBad, TooManyDims) {
    GgufBuilder gb = gguf_good_file();
    gb.put<uint32_t>("tensor0_ndims", 5);
    expect_error(gb, NIB_E_FORMAT, "tensor 'tok.weight': n_dims = 5");
    gb.put<uint32_t>("tensor0_ndims", 0);
    expect_error(gb, NIB_E_FORMAT, "tensor 'tok.weight': n_dims = 0");
}

TEST(GgufBad, ZeroOrNegativeDimension) {
    GgufBuilder gb = gguf_good_file();
    gb.put<int64_t>("tensor0_ne1", 0);
    expect_error(gb, NIB_E_FORMAT, "tensor 'tok.weight': dimension 1 is 0");
    gb.put<int64_t>("tensor0_ne1", -4);
    expect_error(gb, NIB_E_FORMAT, "dimension 1 is -4");
}

TEST(GgufBad, OverflowingDimensions) {
    GgufBuilder gb = gguf_good_file();
    gb.put<int64_t>("tensor0_ne0", 1ll << 40);
    gb.put<int64_t>("tensor0_ne1", 1ll << 40);
    expect_error(gb, NIB_E_FORMAT, "tensor 'tok.weight': element count overflows");
}

TEST(GgufBad, HugeByteSize) {
    GgufBuilder gb = gguf_good_file();
    gb.put<int64_t>("tensor0_ne0", 1ll << 40);
    gb.put<int64_t>("tensor0_ne1", 1ll << 22); // 2^62 elements x 4 bytes overflows u64
    expect_error(gb, NIB_E_FORMAT, "tensor 'tok.weight': byte size overflows");
}

TEST(GgufBad, UnknownTypeId) {
    GgufBuilder gb = gguf_good_file();
    gb.put<uint32_t>("tensor1_type", 99);
    expect_error(gb, NIB_E_FORMAT, "tensor 'q.weight': unknown type id 99");
    gb.put<uint32_t>("tensor1_type", 4); // Q4_2, removed from ggml
    expect_error(gb, NIB_E_FORMAT, "tensor 'q.weight': unknown type id 4");
}

TEST(GgufBad, RowNotMultipleOfBlock) {
    GgufBuilder gb = gguf_good_file();
    gb.put<int64_t>("tensor1_ne0", 48);
    expect_error(gb, NIB_E_FORMAT, "tensor 'q.weight': row length 48 is not a multiple of Q8_0 block size 32");
}

TEST(GgufBad, OffsetNotRunningSum) {
    GgufBuilder gb = gguf_good_file();
    gb.put<uint64_t>("tensor1_offset", 68);
    expect_error(gb, NIB_E_FORMAT, "tensor 'q.weight': data offset 68 is not the expected 64");
    gb = gguf_good_file();
    gb.put<uint64_t>("tensor0_offset", 32);
    expect_error(gb, NIB_E_FORMAT, "tensor 'tok.weight': data offset 32 is not the expected 0");
}

TEST(GgufBad, DataPastEndOfFile) {
    GgufBuilder gb = gguf_good_file();
    gb.b.resize(gb.b.size() - 1);
    expect_error(gb, NIB_E_FORMAT, "tensor 'norm.weight': data [");
    expect_error(gb, NIB_E_FORMAT, "runs past the end of the file");
}

TEST(GgufBad, DataSectionPastEnd) {
    GgufBuilder gb = gguf_good_file();
    gb.b.resize(gb.at["data"] - 3);
    expect_error(gb, NIB_E_FORMAT, "truncated file: tensor data would start at offset");
}

TEST(GgufBad, DuplicateTensorName) {
    expect_error(gguf_good_file(32, "tok.weight"), NIB_E_FORMAT, "duplicate tensor name 'tok.weight'");
}

TEST(GgufBad, DuplicateKey) {
    GgufBuilder d;
    d.raw("GGUF", 4); d.u32(3); d.u64(0); d.u64(2);
    d.str("general.name"); d.u32(8); d.str("a");
    d.str("general.name"); d.u32(8); d.str("b");
    expect_error(d, NIB_E_FORMAT, "duplicate metadata key 'general.name'");
}

TEST(GgufBad, AlignmentNotPowerOfTwo) {
    GgufBuilder gb = gguf_good_file();
    gb.put<uint32_t>("align_val", 48);
    expect_error(gb, NIB_E_FORMAT, "key 'general.alignment' = 48 is not a power of two");
    gb.put<uint32_t>("align_val", 0);
    expect_error(gb, NIB_E_FORMAT, "= 0 is not a power of two");
}

TEST(GgufBad, AlignmentWrongType) {
    GgufBuilder gb = gguf_good_file();
    gb.put<uint32_t>("align_type", 5); // i32 instead of u32
    expect_error(gb, NIB_E_FORMAT, "key 'general.alignment' has type i32, expected u32");
}

TEST(GgufBad, UnknownValueType) {
    GgufBuilder gb = gguf_good_file();
    gb.put<uint32_t>("align_type", 13);
    expect_error(gb, NIB_E_FORMAT, "key 'general.alignment': unknown value type 13");
}

TEST(GgufBad, BoolNotZeroOrOne) {
    GgufBuilder gb = gguf_good_file();
    gb.b[gb.at["bool_val"]] = 2;
    expect_error(gb, NIB_E_FORMAT, "key 'test.flag': bool value 2");
}

TEST(GgufBad, ArraysNestedTooDeep) {
    GgufBuilder d;
    d.raw("GGUF", 4); d.u32(3); d.u64(0); d.u64(1);
    d.str("deep"); d.u32(9);
    for (int i = 0; i < 40; i++) { d.u32(9); d.u64(1); }
    d.u32(4); d.u64(0);
    expect_error(d, NIB_E_FORMAT, "key 'deep': arrays nested deeper than 8");
}

TEST(GgufBad, EmptyKeyOrName) {
    GgufBuilder d;
    d.raw("GGUF", 4); d.u32(3); d.u64(0); d.u64(1);
    d.str(""); d.u32(4); d.u32(1);
    expect_error(d, NIB_E_FORMAT, "metadata key #0: key is empty");
}

TEST(GgufBad, ParamsCapTensorCount) {
    GgufBuilder gb = gguf_good_file();
    nib_gguf_params p = nib_gguf_default_params();
    p.max_tensors = 2;
    nib_gguf *g = nullptr;
    nib_error err = {};
    EXPECT_EQ(nib_gguf_open_memory(gb.b.data(), gb.b.size(), &p, &g, &err), NIB_E_FORMAT);
    EXPECT_NE(std::string(err.msg).find("(limit 2)"), std::string::npos) << err.msg;
    EXPECT_EQ(g, nullptr);
}

TEST(GgufBad, OpenPathErrors) {
    nib_gguf *g = nullptr;
    nib_error err = {};
    EXPECT_EQ(nib_gguf_open("/nonexistent/model.gguf", nullptr, &g, &err), NIB_E_IO);
    EXPECT_NE(std::string(err.msg).find("/nonexistent/model.gguf: cannot open"), std::string::npos) << err.msg;
    EXPECT_EQ(nib_gguf_open(".", nullptr, &g, &err), NIB_E_IO);
    EXPECT_NE(std::string(err.msg).find("is a directory"), std::string::npos) << err.msg;
}
