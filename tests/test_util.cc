#include "test_util.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <unistd.h>

#include <gtest/gtest.h>

#ifndef NIB_SHARED_DIR_DEFAULT
#define NIB_SHARED_DIR_DEFAULT "../shared"
#endif

std::string nib_test_shared_dir() {
    const char *env = std::getenv("NIB_SHARED_DIR");
    return env && *env ? env : NIB_SHARED_DIR_DEFAULT;
}

bool nib_test_have_shared() {
    return std::filesystem::is_directory(nib_test_shared_dir() + "/models");
}

std::string nib_test_sha256_hex(const void *data, size_t n) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(data, n, md, &len, EVP_sha256(), nullptr);
    static const char hex[] = "0123456789abcdef";
    std::string s;
    for (unsigned i = 0; i < len; i++) {
        s += hex[md[i] >> 4];
        s += hex[md[i] & 15];
    }
    return s;
}

std::vector<uint8_t> nib_test_read_file(const std::string &path) {
    std::ifstream f(path, std::ios::binary);
    return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

std::vector<std::string> nib_test_list_files(const std::string &dir, const std::string &suffix) {
    std::vector<std::string> out;
    if (!std::filesystem::is_directory(dir)) return out;
    for (const auto &e : std::filesystem::recursive_directory_iterator(dir)) {
        const std::string p = e.path().string();
        if (e.is_regular_file() && p.size() >= suffix.size() &&
            p.compare(p.size() - suffix.size(), suffix.size(), suffix) == 0)
            out.push_back(p);
    }
    std::sort(out.begin(), out.end());
    return out;
}

std::string nib_test_temp_path(const std::string &name) {
    return ::testing::TempDir() + std::to_string(getpid()) + "." + name;
}
