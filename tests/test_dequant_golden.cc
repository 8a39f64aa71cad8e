// Every tensor of every model listed in ../shared/golden/dequant dequantizes
// to exactly llama.cpp's values: sha256 of the float32 bytes (rows in file
// order) and the first 8 values. None is skipped.
#include <gtest/gtest.h>

#include "nib.h"
#include "test_util.h"

#include <cjson/cJSON.h>
#include <cstring>

namespace {

struct Counts {
    int files = 0, tensors = 0;
};

void check_model(const std::string &json_path, Counts *counts) {
    std::vector<uint8_t> text = nib_test_read_file(json_path);
    text.push_back(0);
    cJSON *root = cJSON_Parse((const char *)text.data());
    ASSERT_NE(root, nullptr) << json_path;
    const cJSON *model = cJSON_GetObjectItem(root, "model");
    const cJSON *tensors = cJSON_GetObjectItem(root, "tensors");
    ASSERT_TRUE(cJSON_IsString(model) && cJSON_IsObject(tensors)) << json_path;
    std::string path = nib_test_shared_dir() + "/models/" + model->valuestring;
    nib_gguf *g = nullptr;
    nib_error err = {};
    ASSERT_EQ(nib_gguf_open(path.c_str(), nullptr, &g, &err), NIB_OK) << err.msg;
    EXPECT_EQ(cJSON_GetArraySize(tensors), nib_gguf_n_tensors(g)) << path;
    std::vector<float> out;
    const cJSON *item = nullptr;
    cJSON_ArrayForEach(item, tensors) {
        SCOPED_TRACE(path + " " + item->string);
        int64_t ti = nib_gguf_find_tensor(g, item->string);
        ASSERT_GE(ti, 0);
        const nib_gguf_tensor *t = nib_gguf_get_tensor(g, ti);
        EXPECT_STREQ(nib_type_name(t->type), cJSON_GetObjectItem(item, "type")->valuestring);
        const cJSON *ne = cJSON_GetObjectItem(item, "ne");
        for (int d = 0; d < cJSON_GetArraySize(ne); d++) EXPECT_EQ(t->ne[d], (int64_t)cJSON_GetArrayItem(ne, d)->valuedouble);
        ASSERT_EQ((double)t->n_elements, cJSON_GetObjectItem(item, "n")->valuedouble);
        out.assign((size_t)t->n_elements, 0.0f);
        ASSERT_EQ(nib_dequantize(t->type, t->data, out.data(), t->n_elements, &err), NIB_OK) << err.msg;
        EXPECT_EQ(nib_test_sha256_hex(out.data(), out.size() * sizeof(float)),
                  cJSON_GetObjectItem(item, "sha256_f32")->valuestring);
        const cJSON *first = cJSON_GetObjectItem(item, "first8");
        for (int k = 0; k < cJSON_GetArraySize(first) && k < (int)out.size(); k++)
            EXPECT_EQ(out[(size_t)k], (float)cJSON_GetArrayItem(first, k)->valuedouble) << "element " << k;
        counts->tensors++;
    }
    counts->files++;
    nib_gguf_free(g);
    cJSON_Delete(root);
}

} // namespace

TEST(DequantGolden, EveryTensorOfEveryListedModelIsBitExact) {
    if (!nib_test_have_shared()) GTEST_SKIP() << "no ../shared";
    auto files = nib_test_list_files(nib_test_shared_dir() + "/golden/dequant", ".dequant.json");
    ASSERT_GE(files.size(), 49u);
    Counts counts;
    for (const auto &f : files) check_model(f, &counts);
    EXPECT_EQ(counts.files, (int)files.size());
    std::printf("dequant golden: %d tensors in %d files bit-exact\n", counts.tensors, counts.files);
}
