// The strict safetensors reader (tools/safetensors.c) through `nib convert
// --dry-run`: one handcrafted bad file per failure class, each refused with a
// one-line message naming the problem, plus random mutations of a valid file,
// which must end in success or a clean error (never a crash).
#include <gtest/gtest.h>

#include "cli_runner.h"
#include "convert_fixtures.h"
#include "test_util.h"

#include <string>
#include <vector>

namespace {

std::string q(const std::string &s) { return "'" + s + "'"; }

std::vector<uint8_t> raw_file(const std::string &header, size_t data_bytes, uint64_t claimed_len = UINT64_MAX) {
    uint64_t n = claimed_len == UINT64_MAX ? header.size() : claimed_len;
    std::vector<uint8_t> out;
    for (int i = 0; i < 8; i++) out.push_back((uint8_t)(n >> (8 * i)));
    out.insert(out.end(), header.begin(), header.end());
    out.resize(out.size() + data_bytes, 0);
    return out;
}

struct BadCase {
    const char *label;
    std::vector<uint8_t> bytes;
    const char *needle;
};

std::vector<BadCase> bad_cases() {
    const std::string t = "\"model.norm.weight\":{\"dtype\":";
    return {
        { "empty", {}, "too short" },
        { "short", { 1, 2, 3 }, "too short" },
        { "header past EOF", raw_file("{}", 0, 1000), "runs past the end" },
        { "huge header length", raw_file("{}", 0, UINT64_MAX - 3), "runs past the end" },
        { "bad JSON", raw_file("{\"a\":", 0), "not valid JSON" },
        { "not an object", raw_file("[1,2,3]", 0), "not a JSON object" },
        { "trailing bytes", raw_file("{} x", 0), "after the JSON" },
        { "NUL in header", raw_file(std::string("{}\0", 3), 0), "NUL" },
        { "unknown dtype", raw_file("{" + t + "\"Q7\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8), "unknown dtype 'Q7'" },
        { "unsupported dtype", raw_file("{" + t + "\"F64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8), "dtype F64 is not supported" },
        { "int dtype", raw_file("{" + t + "\"I32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8), "dtype I32 is not supported" },
        { "offsets past data", raw_file("{" + t + "\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8), "out of range" },
        { "offsets reversed", raw_file("{" + t + "\"F32\",\"shape\":[0],\"data_offsets\":[8,0]}}", 8), "out of range" },
        { "size mismatch", raw_file("{" + t + "\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8), "needs 12" },
        { "negative offset", raw_file("{" + t + "\"F32\",\"shape\":[2],\"data_offsets\":[-8,0]}}", 8), "non-negative integers" },
        { "fractional offset", raw_file("{" + t + "\"F32\",\"shape\":[2],\"data_offsets\":[0.5,8]}}", 8), "non-negative integers" },
        { "negative dim", raw_file("{" + t + "\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8), "not a valid dimension" },
        { "too many dims", raw_file("{" + t + "\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4), "dims" },
        { "missing fields", raw_file("{" + t + "\"F32\"}}", 0), "needs \"dtype\"" },
        { "overlap", raw_file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                              "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12), "overlap" },
        { "duplicate name", raw_file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                                     "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8), "appears twice" },
        { "bad metadata", raw_file("{\"__metadata__\":{\"format\":1}}", 0), "__metadata__" },
        { "metadata not object", raw_file("{\"__metadata__\":[]}", 0), "__metadata__ is not an object" },
    };
}

} // namespace

TEST(ConvertSafetensors, BadFilesAreRefusedByName) {
    if (!nib_test_have_shared()) GTEST_SKIP() << "no ../shared";
    std::string dir = nib_test_temp_path("st_bad");
    make_hf_dir(dir, HfSpec());
    for (const BadCase &c : bad_cases()) {
        SCOPED_TRACE(c.label);
        write_bytes(dir + "/model.safetensors", c.bytes);
        CliRun r = run_nib("convert " + q(dir) + " --dry-run");
        EXPECT_EQ(r.status, 1) << r.err;
        EXPECT_NE(r.err.find(c.needle), std::string::npos) << "expected '" << c.needle << "' in: " << r.err;
        EXPECT_NE(r.err.find("model.safetensors"), std::string::npos) << "the message names the file: " << r.err;
    }
    remove_tree(dir);
}

TEST(ConvertSafetensors, ValidFileWithMetadataAndAlias) {
    if (!nib_test_have_shared()) GTEST_SKIP() << "no ../shared";
    std::string dir = nib_test_temp_path("st_ok");
    HfSpec s;
    s.tied = true;
    make_hf_dir(dir, s);
    CliRun r = run_nib("convert " + q(dir) + " --dry-run");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("token_embd.weight"), std::string::npos);
    EXPECT_NE(r.out.find("blk.1.attn_q.weight"), std::string::npos);
    EXPECT_NE(r.out.find("permuted"), std::string::npos);
    EXPECT_EQ(("\n" + r.out).find("\noutput.weight"), std::string::npos) << "tied: no output.weight";
    /* An unknown tensor name is an error naming it, as in llama.cpp. */
    write_bytes(dir + "/model.safetensors",
                st_build({ { "model.vision_tower.weight", "F32", { 2 }, std::vector<uint8_t>(8) } }));
    r = run_nib("convert " + q(dir) + " --dry-run");
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.err.find("model.vision_tower.weight"), std::string::npos) << r.err;
    remove_tree(dir);
}

/* Random byte flips, truncations and header-length edits of a valid file:
 * every run must exit 0 or 1 with a message, never die on a signal. */
TEST(ConvertSafetensors, MutationsNeverCrash) {
    if (!nib_test_have_shared()) GTEST_SKIP() << "no ../shared";
    std::string dir = nib_test_temp_path("st_fuzz");
    HfSpec s;
    s.n_layer = 1;
    make_hf_dir(dir, s);
    std::vector<uint8_t> good = nib_test_read_file(dir + "/model.safetensors");
    uint64_t hlen = 0;
    for (int i = 0; i < 8; i++) hlen |= (uint64_t)good[(size_t)i] << (8 * i);
    NibRng rng(7);
    int ok = 0, refused = 0;
    for (int it = 0; it < 150; it++) {
        std::vector<uint8_t> b = good;
        int kind = (int)(rng.next() % 4);
        if (kind == 0) { /* flip bytes inside the header */
            for (int k = 0; k < 3; k++) b[8 + rng.next() % hlen] ^= (uint8_t)(1u << (rng.next() % 8));
        } else if (kind == 1) { /* truncate anywhere */
            b.resize((size_t)(rng.next() % b.size()));
        } else if (kind == 2) { /* header length off by a little or a lot */
            uint64_t n = hlen + (uint64_t)((int64_t)(rng.next() % 64) - 32);
            if (rng.next() % 4 == 0) n = rng.next();
            for (int i = 0; i < 8; i++) b[(size_t)i] = (uint8_t)(n >> (8 * i));
        } else { /* replace a digit in the header with another character */
            for (size_t i = 8 + rng.next() % hlen; i < 8 + hlen; i++)
                if (b[i] >= '0' && b[i] <= '9') {
                    b[i] = (uint8_t)"0123456789-.e\"x"[rng.next() % 15];
                    break;
                }
        }
        write_bytes(dir + "/model.safetensors", b);
        CliRun r = run_nib("convert " + q(dir) + " --dry-run");
        ASSERT_TRUE(r.status == 0 || r.status == 1) << "iteration " << it << " kind " << kind << ": status " << r.status << " " << r.err;
        if (r.status == 1) {
            EXPECT_NE(r.err.find("nib: error:"), std::string::npos) << r.err;
            refused++;
        } else ok++;
    }
    std::printf("safetensors mutations: %d refused cleanly, %d still valid\n", refused, ok);
    EXPECT_GT(refused, 50);
    remove_tree(dir);
}
