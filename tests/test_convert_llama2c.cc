// `nib convert` of llama2.c checkpoints (the built binary): stories260K.bin +
// tok512.bin gives the published stories260K-f32.gguf byte for byte (with
// its context length), tensors identical with the default one; versions 1
// and 2 of llama2.c's export (written here from the legacy file) give the
// same tensors (v2: its int8 groups times their scales); --outtype; the
// tokenizer tokenizes as the published file's; bad inputs leave no file.
#include <gtest/gtest.h>

#include "nib.h"
#include "cli_runner.h"
#include "test_util.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <sys/stat.h>
#include <vector>

namespace {

std::string shared(const std::string &p) { return nib_test_shared_dir() + "/models/stories260K/" + p; }

struct Temp {
    std::string path;
    explicit Temp(const std::string &name) : path(nib_test_temp_path("convert_" + name)) { std::remove(path.c_str()); }
    ~Temp() { std::remove(path.c_str()); }
};

bool exists(const std::string &p) {
    struct stat st;
    return stat(p.c_str(), &st) == 0;
}

void write_file(const std::string &path, const std::vector<uint8_t> &b) {
    FILE *f = fopen(path.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    fwrite(b.data(), 1, b.size(), f);
    fclose(f);
}

struct File {
    nib_gguf *g = nullptr;
    explicit File(const std::string &path) {
        nib_error err = {};
        EXPECT_EQ(nib_gguf_open(path.c_str(), nullptr, &g, &err), NIB_OK) << path << ": " << err.msg;
    }
    ~File() { nib_gguf_free(g); }
    std::vector<float> floats(const char *name) const {
        const nib_gguf_tensor *t = nib_gguf_get_tensor(g, nib_gguf_find_tensor(g, name));
        std::vector<float> v((size_t)t->n_elements);
        nib_dequantize(t->type, t->data, v.data(), t->n_elements, nullptr);
        return v;
    }
};

/* Every tensor of a equals b's (names, types, shapes, bytes). */
void expect_same_tensors(const std::string &a, const std::string &b) {
    File fa(a), fb(b);
    ASSERT_EQ(nib_gguf_n_tensors(fa.g), nib_gguf_n_tensors(fb.g));
    for (int64_t i = 0; i < nib_gguf_n_tensors(fb.g); i++) {
        const nib_gguf_tensor *tb = nib_gguf_get_tensor(fb.g, i), *ta = nib_gguf_get_tensor(fa.g, i);
        EXPECT_STREQ(ta->name, tb->name);
        EXPECT_EQ(ta->type, tb->type) << tb->name;
        EXPECT_EQ(0, memcmp(ta->ne, tb->ne, sizeof ta->ne)) << tb->name;
        EXPECT_TRUE(ta->n_bytes == tb->n_bytes && !memcmp(ta->data, tb->data, tb->n_bytes)) << tb->name;
    }
}

/* The legacy checkpoint's arrays, to write the other versions from. */
struct Legacy {
    int32_t h[7];
    std::vector<float> embd, att, wq, wk, wv, wo, ffn, w1, w2, w3, fin;
    explicit Legacy(const std::vector<uint8_t> &b) {
        memcpy(h, b.data(), sizeof h);
        const size_t d = h[0], ff = h[1], L = h[2], kvd = d * h[4] / h[3], V = (size_t)std::abs(h[5]);
        const float *p = reinterpret_cast<const float *>(b.data() + 28);
        auto take = [&](std::vector<float> &v, size_t n) { v.assign(p, p + n); p += n; };
        take(embd, V * d), take(att, L * d), take(wq, L * d * d), take(wk, L * d * kvd), take(wv, L * d * kvd), take(wo, L * d * d);
        take(ffn, L * d), take(w1, L * d * ff), take(w2, L * ff * d), take(w3, L * d * ff), take(fin, d);
    }
    std::vector<uint8_t> header(int version, int32_t gs) const {
        std::vector<uint8_t> b(256, 0);
        const uint32_t magic = 0x616b3432;
        memcpy(b.data(), &magic, 4);
        memcpy(b.data() + 4, &version, 4);
        int32_t hh[7];
        memcpy(hh, h, sizeof hh);
        hh[5] = std::abs(hh[5]);
        memcpy(b.data() + 8, hh, sizeof hh);
        b[36] = 1; /* shared classifier */
        if (version == 2) memcpy(b.data() + 37, &gs, 4);
        return b;
    }
};

void put(std::vector<uint8_t> &b, const std::vector<float> &v) {
    const uint8_t *p = reinterpret_cast<const uint8_t *>(v.data());
    b.insert(b.end(), p, p + v.size() * 4);
}

/* llama2.c's quantize_q80 per group: q = round(w / (max|w| / 127)); writes
 * the int8s then the scales, and replaces v by what they mean. */
void put_q8(std::vector<uint8_t> &b, std::vector<float> &v, size_t gs) {
    std::vector<int8_t> q(v.size());
    std::vector<float> s(v.size() / gs);
    for (size_t g = 0; g < s.size(); g++) {
        float amax = 0;
        for (size_t i = 0; i < gs; i++) amax = std::max(amax, std::fabs(v[g * gs + i]));
        s[g] = amax / 127.0f;
        for (size_t i = 0; i < gs; i++) {
            q[g * gs + i] = (int8_t)std::lround(s[g] > 0 ? v[g * gs + i] / s[g] : 0);
            v[g * gs + i] = (float)q[g * gs + i] * s[g];
        }
    }
    b.insert(b.end(), reinterpret_cast<uint8_t *>(q.data()), reinterpret_cast<uint8_t *>(q.data()) + q.size());
    put(b, s);
}

}  // namespace

TEST(ConvertLlama2c, Llama2cGivesThePublishedGgufByteForByte) {
    if (!nib_test_have_shared()) GTEST_SKIP() << "no shared models";
    Temp out("stories.gguf"), plain("stories_ctx.gguf");
    CliRun r = run_nib("convert '" + shared("stories260K.bin") + "' --tokenizer '" + shared("tok512.bin") + "' --ctx 2048 -o '" +
                       out.path + "' --verify");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.err.find("verified"), std::string::npos) << r.err;
    EXPECT_EQ(nib_test_read_file(out.path), nib_test_read_file(shared("stories260K-f32.gguf")));
    /* default context: the checkpoint's seq_len (512); the rest the same */
    r = run_nib("convert '" + shared("stories260K.bin") + "' --tokenizer '" + shared("tok512.bin") + "' -o '" + plain.path + "'");
    ASSERT_EQ(r.status, 0) << r.err;
    expect_same_tensors(plain.path, shared("stories260K-f32.gguf"));
    File f(plain.path);
    uint64_t ctx = 0;
    EXPECT_EQ(nib_gguf_get_u64(f.g, "llama.context_length", &ctx, nullptr), NIB_OK);
    EXPECT_EQ(ctx, 512u);
    /* and it tokenizes and generates as the published file */
    for (const char *p : { "Once upon a time, there was a girl named Lily.", "  The  dog\nran!  ", "\xc3\xa9t\xc3\xa9 42" }) {
        CliRun a = run_nib(std::string("tokenize -m '") + plain.path + "' -p '" + p + "'");
        CliRun b = run_nib(std::string("tokenize -m '") + shared("stories260K-f32.gguf") + "' -p '" + p + "'");
        EXPECT_EQ(a.status, 0) << a.err;
        EXPECT_EQ(a.out, b.out) << p;
    }
}

TEST(ConvertLlama2c, VersionedExportsGiveTheSameTensors) {
    if (!nib_test_have_shared()) GTEST_SKIP() << "no shared models";
    Legacy lg(nib_test_read_file(shared("stories260K.bin")));
    Temp ref("ref.gguf"), v1("v1.bin"), v1o("v1.gguf"), v2("v2.bin"), v2o("v2.gguf");
    const std::string tok = " --tokenizer '" + shared("tok512.bin") + "'";
    ASSERT_EQ(run_nib("convert '" + shared("stories260K.bin") + "'" + tok + " -o '" + ref.path + "'").status, 0);
    /* version 1: float32, norms first */
    std::vector<uint8_t> b = lg.header(1, 0);
    for (const auto *v : { &lg.att, &lg.ffn, &lg.fin, &lg.embd, &lg.wq, &lg.wk, &lg.wv, &lg.wo, &lg.w1, &lg.w2, &lg.w3 }) put(b, *v);
    write_file(v1.path, b);
    CliRun r = run_nib("convert '" + v1.path + "'" + tok + " -o '" + v1o.path + "'");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.err.find("v1 checkpoint"), std::string::npos) << r.err;
    expect_same_tensors(v1o.path, ref.path);
    /* version 2: int8 groups of 4 (every matrix size is a multiple) and their scales */
    Legacy q = lg;
    const size_t gs = 4, L = (size_t)lg.h[2];
    b = q.header(2, (int32_t)gs);
    for (const auto *v : { &q.att, &q.ffn, &q.fin }) put(b, *v);
    put_q8(b, q.embd, gs);
    for (auto *v : { &q.wq, &q.wk, &q.wv, &q.wo, &q.w1, &q.w2, &q.w3 }) {
        const size_t per = v->size() / L;
        for (size_t l = 0; l < L; l++) {
            std::vector<float> part(v->begin() + l * per, v->begin() + (l + 1) * per);
            put_q8(b, part, gs);
            std::copy(part.begin(), part.end(), v->begin() + l * per);
        }
    }
    write_file(v2.path, b);
    r = run_nib("convert '" + v2.path + "'" + tok + " -o '" + v2o.path + "'");
    ASSERT_EQ(r.status, 0) << r.err;
    File f(v2o.path);
    EXPECT_EQ(f.floats("token_embd.weight"), q.embd);
    EXPECT_EQ(f.floats("output.weight"), q.embd);
    const size_t d = lg.h[0], ff = lg.h[1];
    std::vector<float> w2_1(q.w2.begin() + ff * d, q.w2.begin() + 2 * ff * d);
    EXPECT_EQ(f.floats("blk.1.ffn_down.weight"), w2_1);
    EXPECT_EQ(f.floats("blk.4.attn_norm.weight"), std::vector<float>(lg.att.begin() + 4 * d, lg.att.begin() + 5 * d));
}

TEST(ConvertLlama2c, OuttypesLoadAndQ8IsNibQuantize) {
    if (!nib_test_have_shared()) GTEST_SKIP() << "no shared models";
    const std::string src = "'" + shared("stories260K.bin") + "' --tokenizer '" + shared("tok512.bin") + "'";
    for (const char *t : { "f16", "bf16", "q8_0" }) {
        SCOPED_TRACE(t);
        Temp out(std::string("out_") + t + ".gguf");
        CliRun r = run_nib("convert " + src + " --outtype " + t + " -o '" + out.path + "' --verify");
        ASSERT_EQ(r.status, 0) << r.err;
        CliRun g = run_nib("generate -m '" + out.path + "' -p 'Once upon a time' -n 8 --temp 0");
        EXPECT_EQ(g.status, 0) << g.err;
        File f(out.path);
        const nib_gguf_tensor *down = nib_gguf_get_tensor(f.g, nib_gguf_find_tensor(f.g, "blk.0.ffn_down.weight"));
        const nib_gguf_tensor *norm = nib_gguf_get_tensor(f.g, nib_gguf_find_tensor(f.g, "blk.0.ffn_norm.weight"));
        EXPECT_STREQ(nib_type_name(norm->type), "F32");
        if (!strcmp(t, "q8_0")) {
            EXPECT_STREQ(nib_type_name(down->type), "F16"); /* rows of 172: no Q8_0 block divides them */
            File ref(shared("stories260K-f32.gguf"));
            const nib_gguf_tensor *e = nib_gguf_get_tensor(f.g, nib_gguf_find_tensor(f.g, "token_embd.weight"));
            const nib_gguf_tensor *re = nib_gguf_get_tensor(ref.g, nib_gguf_find_tensor(ref.g, "token_embd.weight"));
            std::vector<uint8_t> want(e->n_bytes);
            ASSERT_EQ(nib_quantize(NIB_TYPE_Q8_0, static_cast<const float *>(re->data), want.data(), re->n_elements, nullptr), NIB_OK);
            EXPECT_EQ(0, memcmp(want.data(), e->data, e->n_bytes));
        }
    }
}

TEST(ConvertLlama2c, BadInputsGiveAClearErrorAndNoFile) {
    if (!nib_test_have_shared()) GTEST_SKIP() << "no shared models";
    std::vector<uint8_t> bin = nib_test_read_file(shared("stories260K.bin"));
    Temp out("bad_out.gguf"), src("bad.bin"), tok("bad_tok.bin");
    const std::string tk = " --tokenizer '" + shared("tok512.bin") + "'";
    auto expect_fail = [&](const std::string &args, const std::string &needle) {
        CliRun r = run_nib("convert " + args);
        EXPECT_EQ(r.status, 1) << args;
        EXPECT_NE(r.err.find(needle), std::string::npos) << args << "\n" << r.err;
        EXPECT_FALSE(exists(out.path)) << args;
    };
    write_file(src.path, std::vector<uint8_t>(bin.begin(), bin.begin() + (long)bin.size() / 2));
    expect_fail("'" + src.path + "'" + tk + " -o '" + out.path + "'", "truncated");
    std::vector<uint8_t> more = bin;
    more.push_back(0);
    write_file(src.path, more);
    expect_fail("'" + src.path + "'" + tk + " -o '" + out.path + "'", "1 bytes more than its header says");
    std::vector<uint8_t> hdr = bin;
    const int32_t zero = 0;
    memcpy(hdr.data() + 12, &zero, 4); /* n_heads 0 */
    write_file(src.path, hdr);
    expect_fail("'" + src.path + "'" + tk + " -o '" + out.path + "'", "is not a model");
    write_file(src.path, std::vector<uint8_t>(10, 1));
    expect_fail("'" + src.path + "'" + tk + " -o '" + out.path + "'", "too short");
    std::vector<uint8_t> tb = nib_test_read_file(shared("tok512.bin"));
    write_file(tok.path, std::vector<uint8_t>(tb.begin(), tb.begin() + 300));
    expect_fail("'" + shared("stories260K.bin") + "' --tokenizer '" + tok.path + "' -o '" + out.path + "'", "ends at token");
    expect_fail("'" + shared("stories260K.bin") + "' -o '" + out.path + "'", "tokenizer.bin");
    expect_fail("'" + shared("nope.bin") + "'" + tk + " -o '" + out.path + "'", "nope.bin");
    expect_fail("'" + shared("stories260K.bin") + "'" + tk + " -o '" + shared("tok512.bin") + "'", "input file");
    expect_fail("'" + shared("stories260K.bin") + "'" + tk + " -o '/nonexistent-dir/x.gguf'", "/nonexistent-dir/x.gguf");
    expect_fail("'" + shared("stories260K.bin") + "'" + tk + " --outtype q4_0 -o '" + out.path + "'", "--outtype");
    /* an existing output is kept unless --force */
    write_file(out.path, { 'x' });
    CliRun r = run_nib("convert '" + shared("stories260K.bin") + "'" + tk + " -o '" + out.path + "'");
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.err.find("exists"), std::string::npos) << r.err;
    EXPECT_EQ(nib_test_read_file(out.path), std::vector<uint8_t>({ 'x' }));
    r = run_nib("convert '" + shared("stories260K.bin") + "'" + tk + " -o '" + out.path + "' --force");
    EXPECT_EQ(r.status, 0) << r.err;
}
