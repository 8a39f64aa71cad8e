// The paged KV cache's bookkeeping (engine/kv_blocks.c) and storage
// (engine/kv_cache.c): block pool invariants under long random sequences of
// append / truncate / fork / free checked against a plain model of what each
// sequence holds; copy-on-write isolation and block sharing through the
// public API on a real model.
#include <gtest/gtest.h>

#include "dispatch.h"
#include "kv_cache.h"
#include "nib.h"
#include "test_util.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

namespace {

/* The pool's internal consistency: refcounts equal table references, the
 * free stack holds exactly the blocks nobody references, tables match lengths. */
void check_pool(const nib_kv_blocks &b) {
    std::vector<int32_t> refs((size_t)b.n_blocks, 0);
    for (int s = 0; s < NIB_KV_MAX_SEQ; s++) {
        const nib_kv_table &t = b.seq[s];
        ASSERT_EQ(t.n, (t.len + b.block_size - 1) / b.block_size) << "seq " << s;
        for (int32_t i = 0; i < t.n; i++) refs[(size_t)t.blocks[i]]++;
    }
    std::vector<bool> in_free((size_t)b.n_blocks, false);
    for (int32_t i = 0; i < b.n_stack; i++) {
        ASSERT_FALSE(in_free[(size_t)b.free_stack[i]]) << "block twice on the free stack";
        in_free[(size_t)b.free_stack[i]] = true;
    }
    int32_t cached_free = 0;
    for (int32_t k = b.lru_head; k >= 0; k = b.lru_next[k]) { /* released but still cached */
        ASSERT_FALSE(in_free[(size_t)k]) << "block both free and cached";
        ASSERT_NE(b.parent[k], -2) << "an uncached block on the LRU list";
        in_free[(size_t)k] = true;
        cached_free++;
    }
    ASSERT_EQ(b.n_free, b.n_stack + cached_free);
    for (int32_t k = 0; k < b.n_blocks; k++) {
        ASSERT_EQ(refs[(size_t)k], b.ref[k]) << "block " << k;
        ASSERT_EQ(in_free[(size_t)k], b.ref[k] == 0) << "block " << k;
    }
}

} // namespace

TEST(KvBlocks, RandomOperationsKeepInvariantsAndContents) {
    for (int32_t block : { 1, 4, 16 }) {
        nib_kv_cache kv;
        nib_error err = {};
        const int32_t n_tokens = 48 * block;
        ASSERT_EQ(nib_kv_init(&kv, n_tokens, block, 1, 1, 2, NIB_TYPE_F16, &err), NIB_OK) << err.msg;
        std::vector<std::vector<uint16_t>> want(NIB_MAX_SEQ); /* the model: what each sequence holds */
        std::vector<std::vector<int32_t>> toks(NIB_MAX_SEQ);  /* and the tokens behind it */
        std::vector<int32_t> slot_token((size_t)48 * (size_t)block * 2, -1);
        int reused = 0;
        NibRng rng(0xb10c + (uint64_t)block);
        uint16_t next_value = 1;
        const int n_seq = 6;
        for (int step = 0; step < 4000; step++) {
            const int32_t s = (int32_t)(rng.next() % n_seq), op = (int32_t)(rng.next() % 10);
            if (op < 5) { /* append 1..3 blocks' worth, writing fresh values into the new slots */
                const int32_t n = 1 + (int32_t)(rng.next() % (uint64_t)(3 * block));
                const int32_t before_free = kv.blocks.n_free, need = nib_kv_needed(&kv, s, n);
                const int32_t len0 = kv.seqs[s].len, tail0 = len0 - len0 % block;
                std::vector<int32_t> old_slots(kv.seqs[s].slots + tail0, kv.seqs[s].slots + len0);
                const int rc = nib_kv_append(&kv, s, n);
                if (rc == NIB_OK) /* copy-on-write moved the partial block's rows: the shadow follows */
                    for (int32_t q = tail0; q < len0; q++)
                        slot_token[(size_t)kv.seqs[s].slots[q]] = slot_token[(size_t)old_slots[(size_t)(q - tail0)]];
                if (rc == NIB_KV_FULL) {
                    ASSERT_GT(need, before_free);
                    ASSERT_EQ(kv.blocks.n_free, before_free) << "a failed append changed the pool";
                    ASSERT_EQ(kv.seqs[s].len, (int32_t)want[(size_t)s].size());
                } else {
                    ASSERT_EQ(rc, NIB_OK);
                    ASSERT_EQ(before_free - kv.blocks.n_free, need);
                    for (int32_t i = 0; i < n; i++) {
                        const int32_t pos = (int32_t)want[(size_t)s].size(), slot = kv.seqs[s].slots[pos];
                        const int32_t t = (int32_t)(rng.next() % 3); /* a small alphabet: prefixes repeat */
                        ((uint16_t *)nib_kv_k(&kv, 0, 0, slot))[0] = next_value;
                        slot_token[(size_t)slot] = t;
                        nib_kv_blocks_set_tokens(&kv.blocks, s, pos, &t, 1);
                        want[(size_t)s].push_back(next_value++);
                        toks[(size_t)s].push_back(t);
                    }
                }
            } else if (op < 7) { /* truncate */
                const int32_t n = want[(size_t)s].empty() ? 0 : (int32_t)(rng.next() % (want[(size_t)s].size() + 1));
                nib_kv_truncate(&kv, s, n);
                want[(size_t)s].resize((size_t)n);
            } else if (op < 9) { /* fork another sequence into s */
                const int32_t src = (int32_t)(rng.next() % n_seq);
                nib_kv_fork(&kv, s, src);
                want[(size_t)s] = want[(size_t)src];
            } else if (rng.next() % 2) { /* free */
                nib_kv_truncate(&kv, s, 0);
                want[(size_t)s].clear();
                toks[(size_t)s].clear();
            } else { /* a new sequence reusing what the cache holds of another's tokens */
                const int32_t src = (int32_t)(rng.next() % n_seq);
                std::vector<int32_t> p = toks[(size_t)src];
                p.push_back(1);
                nib_kv_truncate(&kv, s, 0);
                const int32_t got = nib_kv_reuse_prefix(&kv, s, p.data(), (int32_t)p.size());
                ASSERT_EQ(got % block, 0);
                ASSERT_LT(got, (int32_t)p.size());
                want[(size_t)s].clear();
                toks[(size_t)s].assign(p.begin(), p.begin() + got);
                for (int32_t q = 0; q < got; q++) { /* exact hit: the same tokens; adopt the cached values */
                    ASSERT_EQ(slot_token[(size_t)kv.seqs[s].slots[q]], p[(size_t)q]) << "cache hit with other tokens";
                    want[(size_t)s].push_back(((uint16_t *)nib_kv_k(&kv, 0, 0, kv.seqs[s].slots[q]))[0]);
                }
                reused += got > 0;
            }
            check_pool(kv.blocks);
            for (int q = 0; q < n_seq; q++) { /* every sequence still reads exactly what it wrote */
                ASSERT_EQ(kv.seqs[q].len, (int32_t)want[(size_t)q].size());
                for (int32_t p = 0; p < kv.seqs[q].len; p++) {
                    ASSERT_EQ(kv.seqs[q].slots[p], nib_kv_blocks_slot(&kv.blocks, q, p));
                    ASSERT_EQ(((uint16_t *)nib_kv_k(&kv, 0, 0, kv.seqs[q].slots[p]))[0], want[(size_t)q][(size_t)p])
                        << "block " << block << " step " << step << " seq " << q << " pos " << p;
                }
            }
        }
        for (int q = 0; q < NIB_MAX_SEQ; q++) nib_kv_truncate(&kv, q, 0);
        EXPECT_EQ(kv.blocks.n_free, kv.blocks.n_blocks) << "blocks leaked";
        EXPECT_GT(reused, 10) << "the prefix cache was never hit";
        nib_kv_free(&kv);
    }
}

namespace {

const std::string model_path = std::string(NIB_SOURCE_DIR) + "/models/stories260K-q8_0.gguf";

struct Ctx {
    nib_model *m = nullptr;
    nib_context *c = nullptr;
    nib_error err = {};
    Ctx(int32_t n_ctx, int32_t block) {
        EXPECT_EQ(nib_model_load(model_path.c_str(), nullptr, &m, &err), NIB_OK) << err.msg;
        nib_context_params p = nib_context_default_params();
        p.n_ctx = n_ctx;
        p.n_batch = 1024;
        p.n_threads = 2;
        p.kv_block = block;
        EXPECT_EQ(nib_context_new(m, &p, &c, &err), NIB_OK) << err.msg;
    }
    ~Ctx() {
        nib_context_free(c);
        nib_model_free(m);
    }
    std::vector<float> decode(const std::vector<int32_t> &toks, int32_t seq) {
        std::vector<int32_t> seqs(toks.size(), seq);
        nib_batch b = { (int32_t)toks.size(), toks.data(), nullptr, seqs.data(), nullptr, 0 };
        EXPECT_EQ(nib_decode(c, &b, &err), NIB_OK) << err.msg;
        const float *l = nib_context_logits(c, (int32_t)toks.size() - 1);
        return std::vector<float>(l, l + nib_model_n_vocab(m));
    }
    int32_t used() const {
        int32_t u = 0;
        nib_context_kv_blocks(c, &u, nullptr, nullptr);
        return u;
    }
};

std::vector<int32_t> prompt(int n, int salt) {
    std::vector<int32_t> t = { 1 };
    for (int i = 1; i < n; i++) t.push_back(3 + (i * 37 + salt * 11) % 500);
    return t;
}

} // namespace

TEST(KvBlocks, ForkSharesBlocksAndCopyOnWriteIsolates) {
    for (int32_t block : { 16, 32 }) {
        Ctx a(1024, block), alone(1024, block);
        const std::vector<int32_t> p = prompt(200, 1), tail0 = { 403, 407, 261 }, tail1 = { 300, 301, 302, 303 };
        a.decode(p, 0);
        const int32_t prompt_blocks = (200 + block - 1) / block;
        EXPECT_EQ(a.used(), prompt_blocks);
        for (int s = 1; s <= 8; s++) ASSERT_EQ(nib_context_seq_fork(a.c, s, 0, &a.err), NIB_OK) << a.err.msg;
        EXPECT_EQ(a.used(), prompt_blocks) << "forks must not copy";
        /* each fork writes its own tail: the shared partly-filled last block is copied once per writer */
        for (int s = 1; s <= 8; s++) a.decode(tail1, s);
        const int32_t tail_blocks = (200 % block + 4 + block - 1) / block;
        EXPECT_EQ(a.used(), prompt_blocks + 8 * tail_blocks);
        /* the parent, written after its children, reads as if it were alone */
        std::vector<float> got = a.decode(tail0, 0);
        alone.decode(p, 0);
        std::vector<float> want = alone.decode(tail0, 0);
        EXPECT_EQ(got, want) << "block " << block;
        /* and a child reads as if it had been decoded alone */
        std::vector<float> child = a.decode({ 261 }, 3), ref;
        Ctx solo(1024, block);
        solo.decode(p, 0);
        solo.decode(tail1, 0);
        ref = solo.decode({ 261 }, 0);
        EXPECT_EQ(child, ref) << "block " << block;
        for (int s = 0; s <= 8; s++) ASSERT_EQ(nib_context_seq_truncate(a.c, s, 0, &a.err), NIB_OK);
        EXPECT_EQ(a.used(), 0) << "blocks leaked";
    }
}

TEST(KvBlocks, PrefixCacheHitIsExactAndSkipsTheWork) {
    Ctx a(4096, 16);
    const std::vector<int32_t> p = prompt(1000, 7);
    const std::vector<float> first = a.decode(p, 0);
    ASSERT_EQ(nib_context_seq_truncate(a.c, 0, 0, &a.err), NIB_OK); /* released: its blocks stay cached */
    EXPECT_EQ(a.used(), 0);
    const int32_t got = nib_context_seq_reuse_prefix(a.c, 1, p.data(), (int32_t)p.size(), &a.err);
    EXPECT_EQ(got, 992); /* 62 full blocks; the last 8 tokens are computed */
    EXPECT_EQ(a.used(), 62);
    const std::vector<float> again = a.decode(std::vector<int32_t>(p.begin() + got, p.end()), 1);
    /* recomputation with the same split: the last 8 tokens in a batch of their own (a row's
     * bits may depend on its batch's size: on AMX-BF16 CPUs batches of 96+ rows take the
     * bf16 prompt GEMM), so what is compared is the cached K/V against recomputed K/V */
    Ctx b(4096, 16);
    b.decode(std::vector<int32_t>(p.begin(), p.begin() + got), 0);
    const std::vector<float> recomputed = b.decode(std::vector<int32_t>(p.begin() + got, p.end()), 0);
    EXPECT_EQ(recomputed, again) << "a cache hit must give the logits of recomputation";
    if (!nib_cpu_kernels()->bf16_gemm) {
        EXPECT_EQ(first, again) << "and of the whole prompt in one go";
    }
    /* another prompt sharing the first 500 tokens reuses 31 blocks */
    std::vector<int32_t> q(p.begin(), p.begin() + 500);
    for (int i = 0; i < 40; i++) q.push_back(7 + i);
    EXPECT_EQ(nib_context_seq_reuse_prefix(a.c, 2, q.data(), (int32_t)q.size(), &a.err), 496);
    EXPECT_EQ(nib_context_seq_reuse_prefix(a.c, 2, q.data(), (int32_t)q.size(), &a.err), -1) << "sequence 2 is not empty";
    EXPECT_NE(std::string(a.err.msg).find("not empty"), std::string::npos);
}

TEST(KvBlocks, ManySequencesFillTheSlots) {
    /* 32 sequences of random lengths (200..499) in 16-token blocks: exactly
     * ceil(len / 16) blocks each (waste < one block per sequence), so >= 96%
     * of the slots in use hold tokens */
    Ctx a(32 * 512, 16);
    NibRng rng(0x5107);
    int64_t tokens = 0, blocks = 0;
    for (int s = 0; s < 32; s++) {
        const int n = 200 + (int)(rng.next() % 300);
        const std::vector<int32_t> p = prompt(n, s);
        for (size_t i = 0; i < p.size(); i += 256)
            a.decode(std::vector<int32_t>(p.begin() + (long)i, p.begin() + (long)std::min(p.size(), i + 256)), s);
        tokens += n;
        blocks += (n + 15) / 16;
    }
    EXPECT_EQ(a.used(), blocks);
    const double fill = (double)tokens / (double)(a.used() * 16);
    EXPECT_GE(fill, 0.96 - 1e-9) << tokens << " tokens in " << a.used() << " blocks";
    std::printf("[          ] 32 sequences, %lld tokens, %d blocks of 16: %.1f%% of the slots in use\n", (long long)tokens, a.used(),
                100.0 * fill);
}

/* Batched equals alone: 6 sequences of different prompts and lengths,
 * prefilled in one batch and then decoded greedily together (one row per
 * sequence per call), against each decoded alone. Greedy tokens identical;
 * logits within the golden test's tolerances (F32: 2e-4 * S; quantized:
 * max(5e-2, 1e-2 * S)), not bit-equal: a row's float order depends on its
 * batch (llama.cpp's own rules, which nib follows: attention and float
 * matmuls of a batch of >= 2 rows take tinyBLAS's order, a lone row
 * vec_dot's; the repacked Q4_K GEMM takes rows 4 at a time, the rest the
 * GEMV). On quantized models an ulp there can flip an activation's 8-bit
 * rounding, hence their looser bound. Where the prefill batch takes the
 * amx variant's bf16 prompt GEMM (96+ rows: Q4_K and Q6_K here, values
 * rounded to bf16), a sequence's greedy tokens may part from its lone run
 * at a near-tie (the lone run's top-2 gap within twice the bound, as the
 * golden tests allow for non-exact kernels); the comparison of that
 * sequence stops there. */
TEST(KvBlocks, BatchedEqualsAlone) {
    if (!nib_test_have_shared()) GTEST_SKIP() << "no ../shared";
    for (const char *name : { "synth/llama-f32.gguf", "synth/qwen3-f32.gguf", "synth/llama-q4km.gguf", "synth/qwen3-q4_0.gguf" }) {
        const bool f32 = std::string(name).find("f32") != std::string::npos;
        const std::string path = nib_test_shared_dir() + "/models/" + name;
        nib_model *m = nullptr;
        nib_error err = {};
        ASSERT_EQ(nib_model_load(path.c_str(), nullptr, &m, &err), NIB_OK) << err.msg;
        const int32_t nv = nib_model_n_vocab(m), n_seq = 6, steps = 12;
        auto ctx = [&](nib_context **c) {
            nib_context_params p = nib_context_default_params();
            p.n_ctx = 2048;
            p.n_batch = 512;
            p.n_threads = 2;
            ASSERT_EQ(nib_context_new(m, &p, c, &err), NIB_OK) << err.msg;
        };
        std::vector<std::vector<int32_t>> prompts;
        for (int s = 0; s < n_seq; s++) {
            std::vector<int32_t> t = { 1 };
            for (int i = 0; i < 5 + 9 * s; i++) t.push_back(3 + (i * 31 + s * 97) % (nv - 3));
            prompts.push_back(t);
        }
        auto argmax = [&](const float *l) { return (int32_t)(std::max_element(l, l + nv) - l); };
        /* alone */
        std::vector<std::vector<int32_t>> alone_toks(n_seq);
        std::vector<std::vector<std::vector<float>>> alone_logits(n_seq);
        for (int s = 0; s < n_seq; s++) {
            nib_context *c = nullptr;
            ctx(&c);
            nib_batch b = { (int32_t)prompts[s].size(), prompts[s].data(), nullptr, nullptr, nullptr, 0 };
            ASSERT_EQ(nib_decode(c, &b, &err), NIB_OK) << err.msg;
            const float *l = nib_context_logits(c, b.n - 1);
            for (int k = 0; k < steps; k++) {
                alone_logits[s].emplace_back(l, l + nv);
                int32_t t = argmax(l);
                alone_toks[s].push_back(t);
                nib_batch one = { 1, &t, nullptr, nullptr, nullptr, 0 };
                ASSERT_EQ(nib_decode(c, &one, &err), NIB_OK) << err.msg;
                l = nib_context_logits(c, 0);
            }
            nib_context_free(c);
        }
        /* together */
        nib_context *c = nullptr;
        ctx(&c);
        std::vector<int32_t> tok, seq;
        std::vector<int8_t> want;
        for (int s = 0; s < n_seq; s++)
            for (size_t i = 0; i < prompts[s].size(); i++) {
                tok.push_back(prompts[s][i]);
                seq.push_back(s);
                want.push_back(i + 1 == prompts[s].size());
            }
        nib_batch b = { (int32_t)tok.size(), tok.data(), nullptr, seq.data(), want.data(), 0 };
        ASSERT_EQ(nib_decode(c, &b, &err), NIB_OK) << err.msg;
        std::vector<int32_t> row(n_seq);
        for (int32_t i = 0; i < b.n; i++)
            if (want[(size_t)i]) row[(size_t)seq[(size_t)i]] = i;
        double worst = 0, S = 0; /* worst |dlogit|, largest |logit| */
        for (const auto &seq_logits : alone_logits)
            for (const auto &l : seq_logits)
                for (float v : l) S = std::max(S, (double)std::fabs(v));
        const double tol = f32 ? 2e-4 * S : std::max(5e-2, 1e-2 * S);
        int bf16_from = nib_cpu_kernels()->bf16_min_tokens; /* the smallest batch any bf16 tile takes */
        for (int t = 0; t < NIB_TYPE_COUNT; t++) bf16_from = std::min(bf16_from, nib_cpu_kernels()->bf16_min_rows[t]);
        const bool bf16 = nib_cpu_kernels()->bf16_gemm && (int)tok.size() >= bf16_from;
        std::vector<bool> parted((size_t)n_seq, false);
        int n_parted = 0;
        for (int k = 0; k < steps; k++) {
            std::vector<int32_t> next(n_seq), sq(n_seq);
            for (int s = 0; s < n_seq; s++) {
                const float *l = nib_context_logits(c, row[(size_t)s]);
                ASSERT_NE(l, nullptr);
                next[(size_t)s] = argmax(l);
                sq[(size_t)s] = s;
                row[(size_t)s] = s;
                if (parted[(size_t)s]) continue;
                for (int32_t v = 0; v < nv; v++) worst = std::max(worst, (double)std::fabs(l[v] - alone_logits[s][k][(size_t)v]));
                std::vector<float> top = alone_logits[s][k];
                std::partial_sort(top.begin(), top.begin() + 2, top.end(), std::greater<float>());
                if (bf16 && next[(size_t)s] != alone_toks[s][k] && top[0] - top[1] <= 2 * tol) {
                    parted[(size_t)s] = true, n_parted++;
                    continue;
                }
                EXPECT_EQ(next[(size_t)s], alone_toks[s][k]) << name << " seq " << s << " step " << k;
            }
            nib_batch st = { n_seq, next.data(), nullptr, sq.data(), nullptr, 0 };
            std::vector<int8_t> all((size_t)n_seq, 1);
            st.logits = all.data();
            ASSERT_EQ(nib_decode(c, &st, &err), NIB_OK) << err.msg;
        }
        EXPECT_LT(worst, tol) << name;
        std::printf("[          ] %s: %d sequences together vs alone, worst |dlogit| %.2e (S %.2f, bound %.2e)%s\n", name, n_seq,
                    worst, S, tol, n_parted ? " (some parted at a near-tie)" : "");
        nib_context_free(c);
        nib_model_free(m);
    }
}
