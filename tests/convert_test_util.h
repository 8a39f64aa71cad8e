/*
 * convert_test_util.h — helpers shared by the `nib convert` suites
 * (test_convert.cc, test_convert_vocab.cc): paths, running the command, a
 * GGUF file that closes itself, a metadata value as comparable text.
 */
#ifndef NIB_TEST_CONVERT_TEST_UTIL_H
#define NIB_TEST_CONVERT_TEST_UTIL_H

#include <gtest/gtest.h>

#include "nib.h"
#include "cli_runner.h"
#include "test_util.h"
#include "tokenizer_util.h"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <sys/stat.h>
#include <vector>

inline std::string shared(const std::string &p) { return nib_test_shared_dir() + "/" + p; }
inline std::string tmp(const std::string &n) { return nib_test_temp_path("conv_" + n); }
inline bool exists(const std::string &p) {
    struct stat st;
    return stat(p.c_str(), &st) == 0;
}
inline std::string q(const std::string &s) { return "'" + s + "'"; }

struct Gguf {
    nib_gguf *g = nullptr;
    explicit Gguf(const std::string &path) {
        nib_error err = {};
        EXPECT_EQ(nib_gguf_open(path.c_str(), nullptr, &g, &err), NIB_OK) << path << ": " << err.msg;
    }
    ~Gguf() { nib_gguf_free(g); }
    const nib_gguf_tensor *tensor(const std::string &name) const {
        int64_t i = g ? nib_gguf_find_tensor(g, name.c_str()) : -1;
        return i < 0 ? nullptr : nib_gguf_get_tensor(g, i);
    }
    std::vector<uint8_t> bytes(const std::string &name) const {
        const nib_gguf_tensor *t = tensor(name);
        if (!t) return {};
        const uint8_t *p = static_cast<const uint8_t *>(t->data);
        return std::vector<uint8_t>(p, p + t->n_bytes);
    }
    std::string str(const char *key) const {
        const char *s = nullptr;
        return g && nib_gguf_get_str(g, key, &s, nullptr) == NIB_OK ? s : "(missing)";
    }
};

/* Every metadata key of a as text, compared with b's. */
inline std::string value_text(const nib_gguf_value *v) {
    if (!v) return "(absent)";
    char *buf = nullptr;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    /* the CLI's printer is not in the library; hash the raw value instead */
    switch (v->type) {
    case NIB_GGUF_STRING: fwrite(v->v.str.ptr, 1, v->v.str.len, f); break;
    case NIB_GGUF_ARRAY: {
        fprintf(f, "arr %d n=%llu:", (int)v->v.arr.type, (unsigned long long)v->v.arr.n);
        for (uint64_t i = 0; i < v->v.arr.n; i++) {
            const nib_gguf_value *e = nib_gguf_array_get_value(v, i);
            if (e && e->type == NIB_GGUF_STRING) fwrite(e->v.str.ptr, 1, e->v.str.len, f), fputc(0, f);
            else {
                double d = 0;
                nib_gguf_array_get_f64(v, i, &d);
                fprintf(f, "%.9g,", d);
            }
        }
        break;
    }
    default: {
        fprintf(f, "type %d: %llx", (int)v->type, (unsigned long long)v->v.u64);
    }
    }
    fclose(f);
    std::string s(buf, len);
    free(buf);
    return s;
}

inline CliRun convert(const std::string &args) { return run_nib("convert " + args); }

inline std::vector<int32_t> tok(const nib_vocab *v, const std::string &text) { return tokenize(v, text, NIB_TOKENIZE_ADD_SPECIAL); }


#endif
