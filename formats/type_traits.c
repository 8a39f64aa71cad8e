/*
 * The tensor type table (see type_traits.h) and the public type queries of
 * include/nib.h. Block sizes and bytes per block are ggml's (ggml-common.h
 * block structs, ggml.c type_traits), checked against a program compiled
 * against ggml-common.h; tests/test_quant.cc pins them too.
 */
#include "type_traits.h"

#include "checked_math.h"
#include "error.h"
#include "quant_blocks.h"

#include <ctype.h>

static const struct nib_type_traits type_table[NIB_TYPE_COUNT] = {
    [NIB_TYPE_F32]  = {"F32", 1, 4, false, nib_quant_to_float_f32, nib_quant_from_float_f32,
                       nib_vec_dot_f32_f32, NIB_TYPE_F32, nib_quant_weighted_f32},
    [NIB_TYPE_F16]  = {"F16", 1, 2, false, nib_quant_to_float_f16, nib_quant_from_float_f16,
                       nib_vec_dot_f16_f16, NIB_TYPE_F16, nib_quant_weighted_f16},
    [NIB_TYPE_BF16] = {"BF16", 1, 2, false, nib_quant_to_float_bf16, nib_quant_from_float_bf16,
                       nib_vec_dot_bf16_bf16, NIB_TYPE_BF16, nib_quant_weighted_bf16},
    [NIB_TYPE_Q4_0] = {"Q4_0", 32, 18, true, nib_quant_to_float_q4_0, nib_quant_from_float_q4_0,
                       nib_vec_dot_q4_0_q8_0, NIB_TYPE_Q8_0, nib_quant_weighted_q4_0},
    [NIB_TYPE_Q4_1] = {"Q4_1", 32, 20, true, nib_quant_to_float_q4_1, nib_quant_from_float_q4_1,
                       nib_vec_dot_q4_1_q8_1, NIB_TYPE_Q8_1, nib_quant_weighted_q4_1},
    [NIB_TYPE_Q5_0] = {"Q5_0", 32, 22, true, nib_quant_to_float_q5_0, nib_quant_from_float_q5_0,
                       nib_vec_dot_q5_0_q8_0, NIB_TYPE_Q8_0, nib_quant_weighted_q5_0},
    [NIB_TYPE_Q5_1] = {"Q5_1", 32, 24, true, nib_quant_to_float_q5_1, nib_quant_from_float_q5_1,
                       nib_vec_dot_q5_1_q8_1, NIB_TYPE_Q8_1, nib_quant_weighted_q5_1},
    [NIB_TYPE_Q8_0] = {"Q8_0", 32, 34, true, nib_quant_to_float_q8_0, nib_quant_from_float_q8_0,
                       nib_vec_dot_q8_0_q8_0, NIB_TYPE_Q8_0, nib_quant_weighted_q8_0},
    /* Activation-only types: no dot product of their own. */
    [NIB_TYPE_Q8_1] = {"Q8_1", 32, 36, true, nib_quant_to_float_q8_1, nib_quant_from_float_q8_1,
                       NULL, NIB_TYPE_Q8_1, NULL},
    [NIB_TYPE_Q8_K] = {"Q8_K", 256, 292, true, nib_quant_to_float_q8_K, nib_quant_from_float_q8_K,
                       NULL, NIB_TYPE_Q8_K, NULL},
    [NIB_TYPE_Q2_K] = {"Q2_K", 256, 84, true, nib_quant_to_float_q2_K, nib_quant_from_float_q2_K,
                       nib_vec_dot_q2_K_q8_K, NIB_TYPE_Q8_K, nib_quant_weighted_q2_K},
    [NIB_TYPE_Q3_K] = {"Q3_K", 256, 110, true, nib_quant_to_float_q3_K, nib_quant_from_float_q3_K,
                       nib_vec_dot_q3_K_q8_K, NIB_TYPE_Q8_K, nib_quant_weighted_q3_K},
    [NIB_TYPE_Q4_K] = {"Q4_K", 256, 144, true, nib_quant_to_float_q4_K, nib_quant_from_float_q4_K,
                       nib_vec_dot_q4_K_q8_K, NIB_TYPE_Q8_K, nib_quant_weighted_q4_K},
    [NIB_TYPE_Q5_K] = {"Q5_K", 256, 176, true, nib_quant_to_float_q5_K, nib_quant_from_float_q5_K,
                       nib_vec_dot_q5_K_q8_K, NIB_TYPE_Q8_K, nib_quant_weighted_q5_K},
    [NIB_TYPE_Q6_K] = {"Q6_K", 256, 210, true, nib_quant_to_float_q6_K, nib_quant_from_float_q6_K,
                       nib_vec_dot_q6_K_q8_K, NIB_TYPE_Q8_K, nib_quant_weighted_q6_K},
    /* Known layouts nib cannot compute with (yet). */
    [NIB_TYPE_IQ2_XXS] = {.name = "IQ2_XXS", .block_size = 256, .block_bytes = 66, .is_quantized = true},
    [NIB_TYPE_IQ2_XS]  = {.name = "IQ2_XS", .block_size = 256, .block_bytes = 74, .is_quantized = true},
    [NIB_TYPE_IQ3_XXS] = {.name = "IQ3_XXS", .block_size = 256, .block_bytes = 98, .is_quantized = true},
    [NIB_TYPE_IQ1_S]   = {.name = "IQ1_S", .block_size = 256, .block_bytes = 50, .is_quantized = true},
    [NIB_TYPE_IQ4_NL]  = {.name = "IQ4_NL", .block_size = 32, .block_bytes = 18, .is_quantized = true},
    [NIB_TYPE_IQ3_S]   = {.name = "IQ3_S", .block_size = 256, .block_bytes = 110, .is_quantized = true},
    [NIB_TYPE_IQ2_S]   = {.name = "IQ2_S", .block_size = 256, .block_bytes = 82, .is_quantized = true},
    [NIB_TYPE_IQ4_XS]  = {.name = "IQ4_XS", .block_size = 256, .block_bytes = 136, .is_quantized = true},
    [NIB_TYPE_I8]      = {.name = "I8", .block_size = 1, .block_bytes = 1, .is_quantized = false},
    [NIB_TYPE_I16]     = {.name = "I16", .block_size = 1, .block_bytes = 2, .is_quantized = false},
    [NIB_TYPE_I32]     = {.name = "I32", .block_size = 1, .block_bytes = 4, .is_quantized = false},
    [NIB_TYPE_I64]     = {.name = "I64", .block_size = 1, .block_bytes = 8, .is_quantized = false},
    [NIB_TYPE_F64]     = {.name = "F64", .block_size = 1, .block_bytes = 8, .is_quantized = false},
    [NIB_TYPE_IQ1_M]   = {.name = "IQ1_M", .block_size = 256, .block_bytes = 56, .is_quantized = true},
    [NIB_TYPE_TQ1_0]   = {.name = "TQ1_0", .block_size = 256, .block_bytes = 54, .is_quantized = true},
    [NIB_TYPE_TQ2_0]   = {.name = "TQ2_0", .block_size = 256, .block_bytes = 66, .is_quantized = true},
    [NIB_TYPE_MXFP4]   = {.name = "MXFP4", .block_size = 32, .block_bytes = 17, .is_quantized = true},
    [NIB_TYPE_NVFP4]   = {.name = "NVFP4", .block_size = 64, .block_bytes = 36, .is_quantized = true},
    [NIB_TYPE_Q1_0]    = {.name = "Q1_0", .block_size = 128, .block_bytes = 18, .is_quantized = true},
    [NIB_TYPE_Q2_0]    = {.name = "Q2_0", .block_size = 64, .block_bytes = 18, .is_quantized = true},
    /* Removed ids 4, 5, 31..33, 36..38 stay zero: block_size 0 = invalid. */
};

/* Returned for every invalid id, so callers never see NULL. */
static const struct nib_type_traits invalid_traits = {.name = "?", .block_size = 0};

const struct nib_type_traits *nib_type_traits(int type) {
    if (type < 0 || type >= NIB_TYPE_COUNT || type_table[type].block_size == 0) return &invalid_traits;
    return &type_table[type];
}

bool nib_type_is_valid(int type) { return nib_type_traits(type)->block_size != 0; }

const char *nib_type_name(int type) { return nib_type_traits(type)->name; }

int64_t nib_type_block_size(int type) { return nib_type_traits(type)->block_size; }

size_t nib_type_block_bytes(int type) { return nib_type_traits(type)->block_bytes; }

bool nib_type_is_supported(int type) { return nib_type_traits(type)->to_float != NULL; }

static bool equal_ignore_case(const char *a, const char *b) {
    for (; *a && *b; a++, b++) {
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b)) return false;
    }
    return *a == *b;
}

int nib_type_from_name(const char *name, enum nib_type *out) {
    if (!name) return NIB_E_ARG;
    for (int t = 0; t < NIB_TYPE_COUNT; t++) {
        if (nib_type_is_valid(t) && equal_ignore_case(name, type_table[t].name)) {
            if (out) *out = (enum nib_type)t;
            return NIB_OK;
        }
    }
    return NIB_E_NOT_FOUND;
}

size_t nib_type_row_bytes(int type, int64_t n) {
    const struct nib_type_traits *tt = nib_type_traits(type);
    if (tt->block_size == 0 || n < 0 || n % tt->block_size != 0) return 0;
    uint64_t bytes;
    if (!nib_mul_u64((uint64_t)(n / tt->block_size), tt->block_bytes, &bytes)) return 0;
    if (bytes > SIZE_MAX) return 0;
    return (size_t)bytes;
}

/* The argument checks nib_dequantize and nib_quantize share. */
static int check_conversion(const char *what, int type, bool has_fn, int64_t n, const void *src, const void *dst,
                            struct nib_error *err) {
    const struct nib_type_traits *tt = nib_type_traits(type);
    if (tt->block_size == 0) return nib_error_set(err, NIB_E_ARG, "%s: invalid tensor type id %d", what, type);
    if (!has_fn) return nib_error_set(err, NIB_E_UNSUPPORTED, "%s: type %s (id %d) is not supported", what, tt->name, type);
    if (n < 0 || n % tt->block_size != 0)
        return nib_error_set(err, NIB_E_ARG, "%s: %lld elements of type %s is not a multiple of the block size %lld", what,
                             (long long)n, tt->name, (long long)tt->block_size);
    if (n > 0 && (!src || !dst))
        return nib_error_set(err, NIB_E_ARG, "%s: NULL %s for %lld elements of type %s", what,
                             src ? "destination" : "source", (long long)n, tt->name);
    return NIB_OK;
}

int nib_dequantize(int type, const void *src, float *dst, int64_t n, struct nib_error *err) {
    const struct nib_type_traits *tt = nib_type_traits(type);
    int rc = check_conversion("dequantize", type, tt->to_float != NULL, n, src, dst, err);
    if (rc == NIB_OK && n > 0) tt->to_float(src, dst, n);
    return rc;
}

int nib_quantize(int type, const float *src, void *dst, int64_t n, struct nib_error *err) {
    const struct nib_type_traits *tt = nib_type_traits(type);
    int rc = check_conversion("quantize", type, tt->from_float != NULL, n, src, dst, err);
    if (rc == NIB_OK && n > 0) tt->from_float(src, dst, n);
    return rc;
}

int nib_quantize_weighted(int type, const float *src, void *dst, int64_t n_per_row, int64_t n_rows,
                          const float *quant_weights, struct nib_error *err) {
    const struct nib_type_traits *tt = nib_type_traits(type);
    int rc = check_conversion("quantize_weighted", type, tt->from_float_weighted != NULL, n_per_row, src, dst, err);
    if (rc != NIB_OK) return rc;
    int64_t n;
    if (n_rows < 0 || !nib_mul_i64(n_per_row, n_rows, &n) || (n > 0 && nib_type_row_bytes(type, n) == 0))
        return nib_error_set(err, NIB_E_ARG, "quantize_weighted: %lld rows of %lld elements of type %s is out of range",
                             (long long)n_rows, (long long)n_per_row, tt->name);
    if (n == 0) return NIB_OK;
    if (!quant_weights) {
        tt->from_float(src, dst, n); /* as ggml: the reference rounding, all rows at once */
        return NIB_OK;
    }
    const size_t row_bytes = nib_type_row_bytes(type, n_per_row);
    for (int64_t r = 0; r < n_rows; r++) {
        tt->from_float_weighted(src + r * n_per_row, (uint8_t *)dst + (size_t)r * row_bytes, n_per_row, quant_weights);
    }
    return NIB_OK;
}
