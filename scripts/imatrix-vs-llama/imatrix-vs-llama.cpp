// imatrix-vs-llama — checks nib's importance-matrix path against llama.cpp's
// own (the prebuilt libllama / libllama-common of ../shared/ref).
// A developer tool: never built by CMake, never used by the tests.
//   imatrix-vs-llama make MODEL.gguf OUT (gguf|legacy) SEED
//       random imatrix for every matrix of MODEL (per-expert counts with
//       zeros and .5 ties for lround), in either file format
//   imatrix-vs-llama loaders FILE...
//       common_imatrix_load + quantize.cpp's load_imatrix normalization versus
//       tools/imatrix.c: every entry's weights bit for bit
//   imatrix-vs-llama quantize MODEL_F32.gguf IMATRIX FTYPE_ID OUT.gguf
//       llama_model_quantize(--pure, with the imatrix) versus
//       nib_quantize_weighted on every tensor llama quantized, per expert
#include "imatrix-loader.h"
#include "llama.h"

#include "nib.h"
#include "tools/imatrix.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <unordered_map>
#include <vector>

static uint64_t g_s;
static uint64_t rnd() {
    uint64_t z = (g_s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static float frnd() { return (float)(rnd() >> 40) / (float)(1 << 24); }

static nib_gguf *open_or_die(const char *path) {
    nib_gguf *g = nullptr;
    nib_error err{};
    if (nib_gguf_open(path, nullptr, &g, &err) != NIB_OK) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
    return g;
}

static int cmd_make(const char *model, const char *out, bool legacy, uint64_t seed) {
    g_s = seed;
    nib_gguf *g = open_or_die(model);
    nib_error err{};
    nib_gguf_writer *w = nullptr;
    FILE *f = nullptr;
    std::vector<const nib_gguf_tensor *> ts;
    for (int64_t i = 0; i < nib_gguf_n_tensors(g); i++) {
        const nib_gguf_tensor *t = nib_gguf_get_tensor(g, i);
        if (t->n_dims >= 2) ts.push_back(t);
    }
    if (legacy) {
        f = fopen(out, "wb");
        const int32_t n = (int32_t)ts.size();
        fwrite(&n, 4, 1, f);
    } else {
        if (nib_gguf_writer_open(out, 32, &w, &err)) return fprintf(stderr, "%s\n", err.msg), 1;
        nib_gguf_value el{};
        el.type = NIB_GGUF_STRING;
        el.v.str.ptr = "random";
        el.v.str.len = 6;
        nib_gguf_value arr{};
        arr.type = NIB_GGUF_ARRAY;
        arr.v.arr.type = NIB_GGUF_STRING;
        arr.v.arr.n = 1;
        arr.v.arr.data = &el;
        nib_gguf_writer_set_kv(w, "imatrix.datasets", &arr, &err);
        nib_gguf_writer_set_u32(w, "imatrix.chunk_count", 10, &err);
        nib_gguf_writer_set_u32(w, "imatrix.chunk_size", 512, &err);
        for (const nib_gguf_tensor *t : ts) {
            const int64_t ne_s[2] = {t->ne[0], t->ne[2]}, ne_c[2] = {1, t->ne[2]};
            if (nib_gguf_writer_add_tensor(w, (std::string(t->name) + ".in_sum2").c_str(), NIB_TYPE_F32, 2, ne_s, &err) ||
                nib_gguf_writer_add_tensor(w, (std::string(t->name) + ".counts").c_str(), NIB_TYPE_F32, 2, ne_c, &err))
                return fprintf(stderr, "%s\n", err.msg), 1;
        }
        if (nib_gguf_writer_write_header(w, &err)) return fprintf(stderr, "%s\n", err.msg), 1;
    }
    for (const nib_gguf_tensor *t : ts) {
        const int64_t ne0 = t->ne[0], nex = t->ne[2];
        std::vector<float> sums((size_t)(ne0 * nex)), counts((size_t)nex);
        for (int64_t e = 0; e < nex; e++) {
            const uint64_t k = rnd() % 8;
            counts[e] = k == 0 ? 0.0f : k == 1 ? 2.5f : k == 2 ? 3.5f : k == 3 ? 0.4f : (float)(1 + rnd() % 5000);
            for (int64_t i = 0; i < ne0; i++) {
                const float u = frnd();
                sums[e * ne0 + i] = ldexpf(u, (int)(rnd() % 24) - 4) * counts[e];
            }
        }
        if (legacy) { /* as save_imatrix_legacy: (sum / count) * ncall, ones for unused experts */
            const int32_t len = (int32_t)strlen(t->name), ncall = (int32_t)(rnd() % 4), nval = (int32_t)(ne0 * nex);
            std::vector<float> v(sums.size());
            for (int64_t i = 0; i < nval; i++) {
                const float c = counts[i / ne0] == 0.0f ? 1.0f : counts[i / ne0];
                const float s = counts[i / ne0] == 0.0f ? 1.0f : sums[i];
                v[i] = (s / c) * (float)ncall;
            }
            fwrite(&len, 4, 1, f);
            fwrite(t->name, 1, (size_t)len, f);
            fwrite(&ncall, 4, 1, f);
            fwrite(&nval, 4, 1, f);
            fwrite(v.data(), 4, v.size(), f);
        } else {
            nib_gguf_writer_write_data(w, sums.data(), sums.size() * 4, &err);
            nib_gguf_writer_write_data(w, counts.data(), counts.size() * 4, &err);
        }
    }
    if (legacy) {
        const int32_t chunks = 10, len = 6;
        fwrite(&chunks, 4, 1, f);
        fwrite(&len, 4, 1, f);
        fwrite("random", 1, 6, f);
        fclose(f);
    } else if (nib_gguf_writer_close(w, &err)) {
        return fprintf(stderr, "%s\n", err.msg), 1;
    }
    nib_gguf_writer_free(w);
    nib_gguf_free(g);
    printf("%s: %zu entries (%s)\n", out, ts.size(), legacy ? "legacy" : "gguf");
    return 0;
}

// tools/quantize/quantize.cpp load_imatrix, minus its printing
static std::unordered_map<std::string, std::vector<float>> llama_weights(const char *path) {
    common_imatrix loaded;
    std::unordered_map<std::string, std::vector<float>> out;
    if (!common_imatrix_load(path, loaded)) {
        fprintf(stderr, "common_imatrix_load failed on %s\n", path);
        exit(1);
    }
    for (const auto &[name, entry] : loaded.entries) {
        auto &e = out[name];
        e.resize(entry.sums.size());
        if (!loaded.is_legacy) {
            const int64_t ncounts = entry.counts.size();
            const int64_t ne0 = (int64_t)entry.sums.size() / ncounts;
            for (int64_t j = 0; j < ncounts; ++j) {
                const float count = (float)entry.counts[j];
                for (int64_t i = 0; i < ne0; ++i) e[j * ne0 + i] = count > 0.0f ? entry.sums[j * ne0 + i] / count : 1;
            }
        } else {
            const int64_t ncall = entry.counts.empty() ? 0 : entry.counts[0];
            for (size_t i = 0; i < entry.sums.size(); ++i) e[i] = ncall > 0 ? entry.sums[i] / ncall : entry.sums[i];
        }
    }
    return out;
}

static imatrix *nib_load_or_die(const char *path) {
    imatrix *im = nullptr;
    nib_error err{};
    if (imatrix_load(path, &im, &err) != NIB_OK) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
    return im;
}

static int cmd_loaders(int n, char **paths) {
    int bad = 0;
    for (int p = 0; p < n; p++) {
        const auto ref = llama_weights(paths[p]);
        imatrix *im = nib_load_or_die(paths[p]);
        int64_t n_vals = 0;
        if ((int64_t)ref.size() != im->n_entries) bad++, printf("%s: %zu vs %lld entries\n", paths[p], ref.size(), (long long)im->n_entries);
        for (const auto &[name, v] : ref) {
            const imatrix_entry *e = imatrix_find(im, name.c_str());
            if (!e || e->n_values != (int64_t)v.size() || memcmp(e->values, v.data(), v.size() * 4) != 0) {
                bad++;
                printf("%s: '%s' differs\n", paths[p], name.c_str());
            }
            n_vals += (int64_t)v.size();
        }
        printf("%s: %zu entries, %lld weights %s\n", paths[p], ref.size(), (long long)n_vals, bad ? "DIFFER" : "bit-identical");
        imatrix_free(im);
    }
    return bad != 0;
}

static int cmd_quantize(const char *model, const char *imx, int ftype, const char *out) {
    imatrix *im = nib_load_or_die(imx);
    std::vector<llama_model_imatrix_data> list;
    for (int64_t i = 0; i < im->n_entries; i++)
        list.push_back({im->entries[i].name, im->entries[i].values, (size_t)im->entries[i].n_values});
    list.push_back({nullptr, nullptr, 0});
    llama_model_quantize_params qp = llama_model_quantize_default_params();
    qp.ftype = (llama_ftype)ftype;
    qp.nthread = 2;
    qp.pure = true;
    qp.imatrix = list.data();
    llama_backend_init();
    if (llama_model_quantize(model, out, &qp) != 0) return fprintf(stderr, "llama_model_quantize failed\n"), 1;
    llama_backend_free();
    nib_gguf *src = open_or_die(model), *dst = open_or_die(out);
    int n_same = 0, n_diff = 0, n_weighted = 0;
    for (int64_t i = 0; i < nib_gguf_n_tensors(dst); i++) {
        const nib_gguf_tensor *q = nib_gguf_get_tensor(dst, i);
        const nib_gguf_tensor *s = nib_gguf_get_tensor(src, nib_gguf_find_tensor(src, q->name));
        if (q->type == s->type) continue;
        const int64_t ne0 = s->ne[0], rows = s->ne[1], nex = s->n_elements / (ne0 * rows);
        const size_t row_bytes = nib_type_row_bytes(q->type, ne0);
        std::vector<uint8_t> buf(row_bytes * (size_t)(rows * nex));
        bool weighted = false;
        for (int64_t e = 0; e < nex; e++) {
            const float *w = nullptr;
            nib_error err{};
            const int rc = imatrix_lookup(im, q->name, ne0, nex, e, &w, &err);
            if (rc != NIB_OK && rc != NIB_E_NOT_FOUND && !strstr(q->name, "token_embd"))
                return fprintf(stderr, "%s\n", err.msg), 1;
            weighted |= w != nullptr;
            if (nib_quantize_weighted(q->type, (const float *)s->data + e * rows * ne0, buf.data() + e * rows * row_bytes,
                                      ne0, rows, w, &err) != NIB_OK)
                return fprintf(stderr, "%s\n", err.msg), 1;
        }
        n_weighted += weighted;
        const bool same = buf.size() == q->n_bytes && memcmp(buf.data(), q->data, buf.size()) == 0;
        (same ? n_same : n_diff)++;
        if (!same) printf("DIFFERS: %s (%s)\n", q->name, nib_type_name(q->type));
    }
    printf("%s: %d tensors identical (%d with importance weights), %d differ\n", out, n_same, n_weighted, n_diff);
    nib_gguf_free(src);
    nib_gguf_free(dst);
    imatrix_free(im);
    return n_diff != 0;
}

int main(int argc, char **argv) {
    if (argc >= 6 && !strcmp(argv[1], "make")) return cmd_make(argv[2], argv[3], !strcmp(argv[4], "legacy"), strtoull(argv[5], 0, 10));
    if (argc >= 3 && !strcmp(argv[1], "loaders")) return cmd_loaders(argc - 2, argv + 2);
    if (argc >= 6 && !strcmp(argv[1], "quantize")) return cmd_quantize(argv[2], argv[3], atoi(argv[4]), argv[5]);
    fprintf(stderr, "usage: see the head of imatrix-vs-llama.cpp\n");
    return 2;
}
