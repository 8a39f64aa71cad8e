/*
 * test_util.h — helpers shared by the GoogleTest suites: paths to ../shared,
 * sha256 (OpenSSL), deterministic pseudo-random data, file slurping.
 */
#ifndef NIB_TEST_UTIL_H
#define NIB_TEST_UTIL_H

#include <cstdint>
#include <string>
#include <vector>

/* Root of the shared fixtures: $NIB_SHARED_DIR, else the CMake-configured
 * default (<repo>/../shared). */
std::string nib_test_shared_dir();
bool        nib_test_have_shared();
std::string nib_test_sha256_hex(const void *data, size_t n);
/* A temporary file path unique to this process (ctest runs tests in parallel processes). */
std::string nib_test_temp_path(const std::string &name);
std::vector<uint8_t> nib_test_read_file(const std::string &path);
/* All regular files under dir (recursive) whose name ends with suffix, sorted. */
std::vector<std::string> nib_test_list_files(const std::string &dir, const std::string &suffix);

/* splitmix64: deterministic across platforms. */
struct NibRng {
    uint64_t s;
    explicit NibRng(uint64_t seed) : s(seed) {}
    uint64_t next() {
        uint64_t z = (s += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    }
    /* uniform in [-1, 1) with 24 bits of mantissa */
    float uniform() { return (float)((int64_t)(next() >> 40) - (1 << 23)) / (float)(1 << 23); }
};

#endif
