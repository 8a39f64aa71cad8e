/*
 * gguf_variant.h — writes a copy of a GGUF file with edits, through nib's
 * writer: metadata keys replaced or added, tensors dropped, re-declared with
 * another type/shape (data zero-filled), or added as F32 vectors. Tests use
 * it to make model variants in code.
 */
#ifndef NIB_TEST_GGUF_VARIANT_H
#define NIB_TEST_GGUF_VARIANT_H

#include "nib.h"

#include <string>
#include <vector>

nib_gguf_value gv_str(const char *s);
nib_gguf_value gv_f32(double x);
nib_gguf_value gv_u32(uint64_t x);

struct GgufEdit {
    std::string key;
    nib_gguf_value value;
};

struct TensorEdit {
    std::string name;
    bool drop = false;
    int type = -1;                /* >= 0: re-declare with this type (zero data) */
    std::vector<int64_t> shape;   /* non-empty: re-declare with this shape (zero data) */
    std::vector<float> add_f32;   /* non-empty and tensor absent: add an F32 vector */
};

/* Returns "" on success or the error message. */
std::string write_gguf_variant(const std::string &src, const std::string &dst, const std::vector<GgufEdit> &kv,
                               const std::vector<TensorEdit> &tensors = {});

#endif
