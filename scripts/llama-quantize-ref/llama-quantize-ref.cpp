// llama-quantize-ref — llama.cpp's own quantizer (llama_model_quantize from
// the prebuilt libllama of ../shared/ref), for making reference files that
// nib quantize must reproduce on shapes the shared fixtures do not cover.
// A developer tool: never built by CMake, never used by the tests.
//   llama-quantize-ref IN.gguf OUT.gguf FTYPE_ID [--pure] [--leave-output]
// FTYPE_ID: llama.h's LLAMA_FTYPE_* number (15 = Q4_K_M, 2 = Q4_0, ...).
#include "llama.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s IN.gguf OUT.gguf FTYPE_ID [--pure] [--leave-output]\n", argv[0]);
        return 2;
    }
    llama_model_quantize_params p = llama_model_quantize_default_params();
    p.ftype = (llama_ftype)atoi(argv[3]);
    p.nthread = 2;
    for (int i = 4; i < argc; i++) {
        if (!strcmp(argv[i], "--pure")) p.pure = true;
        else if (!strcmp(argv[i], "--leave-output")) p.quantize_output_tensor = false;
        else { fprintf(stderr, "unknown option %s\n", argv[i]); return 2; }
    }
    llama_backend_init();
    uint32_t rc = llama_model_quantize(argv[1], argv[2], &p);
    llama_backend_free();
    return rc == 0 ? 0 : 1;
}
