// llama-dump.cpp — a developer tool beside nib (never built by CMake or the
// tests): runs llama.cpp's prebuilt CPU library, as ../shared/ref installs it,
// on a token list and writes every float intermediate tensor of the graph
// (attn_norm-L, Qcur-L, kqv_out-L, ffn_out-L, l_out-L, result_output, ...) and
// all logits as raw float32 files, to find where nib's numbers first leave
// llama.cpp's. Prompts are decoded in batches of 512 with logits for every
// position, flash attention off, 2 threads: the golden files' settings.
//
//   llama-dump BINS_DIR MODEL.gguf 1,2,3 OUT_DIR      (see build.sh / README.md)
// Environment: LLAMA_CPU_VARIANT=/path/libggml-cpu-haswell.so loads that CPU
// variant instead of the best one for this CPU; LLAMA_DUMP_TENSORS=0 writes
// only OUT_DIR/logits.bin.
#include "ggml-backend.h"
#include "ggml.h"
#include "llama.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

static std::string g_out;

static bool on_tensor(struct ggml_tensor *t, bool ask, void *) {
    if (ask) return true;
    const char *env = getenv("LLAMA_DUMP_TENSORS");
    if ((env && !strcmp(env, "0")) || t->type != GGML_TYPE_F32 || !ggml_is_contiguous(t)) return true;
    std::vector<float> buf((size_t)ggml_nelements(t));
    ggml_backend_tensor_get(t, buf.data(), 0, ggml_nbytes(t));
    const std::string path = g_out + "/" + t->name + ".bin"; /* the last tensor of a name wins */
    if (FILE *f = fopen(path.c_str(), "wb")) {
        fwrite(buf.data(), sizeof(float), buf.size(), f);
        fclose(f);
    }
    return true;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: llama-dump BINS_DIR MODEL.gguf TOKENS(1,2,3) OUT_DIR\n");
        return 2;
    }
    g_out = argv[4];
    if (const char *v = getenv("LLAMA_CPU_VARIANT")) ggml_backend_load(v);
    else ggml_backend_load_all_from_path(argv[1]);
    llama_model *m = llama_model_load_from_file(argv[2], llama_model_default_params());
    if (!m) return fprintf(stderr, "llama-dump: cannot load %s\n", argv[2]), 1;
    std::vector<llama_token> toks;
    std::string list = argv[3];
    for (char *p = strtok(&list[0], ","); p; p = strtok(nullptr, ",")) toks.push_back(atoi(p));
    llama_context_params cp = llama_context_default_params();
    cp.n_ctx = (uint32_t)(toks.size() < 512 ? 512 : toks.size() + 1);
    cp.n_batch = cp.n_ubatch = 512;
    cp.n_threads = cp.n_threads_batch = 2;
    cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
    cp.cb_eval = on_tensor;
    llama_context *ctx = llama_init_from_model(m, cp);
    if (!ctx) return fprintf(stderr, "llama-dump: cannot create a context\n"), 1;
    const std::string lpath = g_out + "/logits.bin";
    FILE *f = fopen(lpath.c_str(), "wb");
    if (!f) return fprintf(stderr, "llama-dump: cannot write %s\n", lpath.c_str()), 1;
    const int nv = llama_vocab_n_tokens(llama_model_get_vocab(m));
    for (size_t off = 0; off < toks.size(); off += 512) {
        const size_t n = toks.size() - off < 512 ? toks.size() - off : 512;
        llama_batch b = llama_batch_init((int)n, 0, 1);
        for (size_t i = 0; i < n; i++) {
            b.token[i] = toks[off + i];
            b.pos[i] = (llama_pos)(off + i);
            b.n_seq_id[i] = 1;
            b.seq_id[i][0] = 0;
            b.logits[i] = 1;
        }
        b.n_tokens = (int)n;
        if (llama_decode(ctx, b)) return fprintf(stderr, "llama-dump: decode failed\n"), 1;
        fwrite(llama_get_logits(ctx), sizeof(float), n * (size_t)nv, f);
        llama_batch_free(b);
    }
    fclose(f);
    llama_free(ctx);
    llama_model_free(m);
    return 0;
}
