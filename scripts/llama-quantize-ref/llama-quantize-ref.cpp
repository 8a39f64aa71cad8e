// llama-quantize-ref — llama.cpp's own quantizer (llama_model_quantize from
// the prebuilt libllama of ../shared/ref), for making reference files that
// nib quantize must reproduce on shapes the shared fixtures do not cover.
// A developer tool: never built by CMake, never used by the tests.
//   llama-quantize-ref IN.gguf OUT.gguf FTYPE_ID [--pure] [--leave-output] [--threads N] [--imatrix LEGACY.dat]
// FTYPE_ID: llama.h's LLAMA_FTYPE_* number (15 = Q4_K_M, 2 = Q4_0, ...).
// --imatrix: a legacy-format importance matrix, turned into weights and
// metadata exactly as llama-quantize's load_imatrix / main do for that format.
#include "llama.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

struct entry { std::string name; std::vector<float> w; };

// Legacy .dat: n, then per entry: len, name, ncall, nval, values; then optional
// chunk count and dataset name. Weights = value / ncall (value when ncall is 0).
static bool load_legacy(const char *path, std::vector<entry> &out, int &last_call, std::string &dataset) {
    FILE *f = fopen(path, "rb");
    if (!f) return false;
    int32_t n = 0;
    if (fread(&n, 4, 1, f) != 1 || n < 1) return fclose(f), false;
    for (int32_t i = 0; i < n; i++) {
        int32_t len = 0, ncall = 0, nval = 0;
        if (fread(&len, 4, 1, f) != 1 || len < 1) return fclose(f), false;
        std::string name(len, '\0');
        if (fread(&name[0], 1, len, f) != (size_t)len || fread(&ncall, 4, 1, f) != 1 || fread(&nval, 4, 1, f) != 1 || nval < 1)
            return fclose(f), false;
        entry e{ name, std::vector<float>(nval) };
        if (fread(e.w.data(), 4, nval, f) != (size_t)nval) return fclose(f), false;
        if (ncall > 0)
            for (auto &v : e.w) v = v / ncall;
        out.push_back(std::move(e));
    }
    last_call = -1;
    int32_t lc = 0;
    if (fread(&lc, 4, 1, f) == 1) {
        last_call = lc;
        int32_t len = 0;
        if (fread(&len, 4, 1, f) == 1 && len > 0) {
            dataset.assign(len, '\0');
            if (fread(&dataset[0], 1, len, f) != (size_t)len) dataset.clear();
        }
    }
    fclose(f);
    return true;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s IN.gguf OUT.gguf FTYPE_ID [--pure] [--leave-output]\n", argv[0]);
        return 2;
    }
    llama_model_quantize_params p = llama_model_quantize_default_params();
    p.ftype = (llama_ftype)atoi(argv[3]);
    p.nthread = 2;
    std::vector<entry> im;
    std::vector<llama_model_imatrix_data> imd;
    std::vector<llama_model_kv_override> kvo;
    for (int i = 4; i < argc; i++) {
        if (!strcmp(argv[i], "--pure")) p.pure = true;
        else if (!strcmp(argv[i], "--leave-output")) p.quantize_output_tensor = false;
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) p.nthread = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--imatrix") && i + 1 < argc) {
            const char *file = argv[++i];
            int last_call = -1;
            std::string dataset;
            if (!load_legacy(file, im, last_call, dataset)) { fprintf(stderr, "bad imatrix %s\n", file); return 2; }
            for (auto &e : im) imd.push_back({ e.name.c_str(), e.w.data(), e.w.size() });
            imd.push_back({ nullptr, nullptr, 0 });
            p.imatrix = imd.data();
            auto str = [&](const char *key, const std::string &v) {
                llama_model_kv_override o{};
                strcpy(o.key, key);
                o.tag = LLAMA_KV_OVERRIDE_TYPE_STR;
                strncpy(o.val_str, v.c_str(), 127);
                o.val_str[127] = '\0';
                kvo.push_back(o);
            };
            auto num = [&](const char *key, int64_t v) {
                llama_model_kv_override o{};
                strcpy(o.key, key);
                o.tag = LLAMA_KV_OVERRIDE_TYPE_INT;
                o.val_i64 = v;
                kvo.push_back(o);
            };
            str("quantize.imatrix.file", file);
            if (!dataset.empty()) str("quantize.imatrix.dataset", dataset);
            num("quantize.imatrix.entries_count", (int64_t)im.size());
            if (last_call > 0) num("quantize.imatrix.chunks_count", last_call);
            kvo.push_back(llama_model_kv_override{});
            p.kv_overrides = kvo.data();
        } else { fprintf(stderr, "unknown option %s\n", argv[i]); return 2; }
    }
    llama_backend_init();
    uint32_t rc = llama_model_quantize(argv[1], argv[2], &p);
    llama_backend_free();
    return rc == 0 ? 0 : 1;
}
