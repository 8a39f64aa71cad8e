/*
 * dispatch.c — builds the per-variant kernel tables (see dispatch.h).
 *
 * Only function addresses are taken here: no code of an ISA variant runs
 * until a caller that checked availability calls through its table.
 */
#include "dispatch.h"
#ifdef NIB_HAVE_AMX
#include "gemm_bf16_amx.h"
#endif

#include <pthread.h>
#include <stdlib.h>

static struct nib_cpu_kernels tables[NIB_CPU_VARIANT_COUNT];
static pthread_once_t         once = PTHREAD_ONCE_INIT;

static void fill_ref(struct nib_cpu_kernels *k) {
    for (int t = 0; t < NIB_TYPE_COUNT; t++) {
        const struct nib_type_traits *tt = nib_type_traits(t);
        k->vec_dot[t] = tt->vec_dot;
        k->quantize_act[t] = tt->from_float;
        k->packed8_tokens[t] = 4;
        k->packed16_tokens[t] = 4;
        k->dot4_tokens[t] = 4;
    }
    k->quantize_act[NIB_TYPE_Q8_0] = nib_quantize_act_q8_0_ref;
    k->quantize_act[NIB_TYPE_Q8_1] = nib_quantize_act_q8_1_ref;
    k->attention_tile = nib_attention_tile_ref;
    k->attention_tile_q8_0 = nib_attention_tile_q8_0_ref;
    k->swiglu = nib_swiglu_ref;
}

#if defined(__x86_64__) || defined(_M_X64)
/* The x86 kernel files' entries, for the build with suffix SFX (avx2 or
 * avx512: the same kernels, see x86_kernels.h); MIN_UNITS: the fewest
 * token rows of a Q4_1/Q5_0/Q5_1 batch that takes unit_gemm. */
#define X86_OVERRIDES(k, SFX, MIN_UNITS) \
    k->vec_dot[NIB_TYPE_F32]  = nib_vec_dot_f32_f32_##SFX; \
    k->vec_dot[NIB_TYPE_F16]  = nib_vec_dot_f16_f16_##SFX; \
    k->vec_dot[NIB_TYPE_BF16] = nib_vec_dot_bf16_bf16_##SFX; \
    k->rows8[NIB_TYPE_Q4_0] = nib_rows8_q4_0_q8_0_##SFX; \
    k->rows8[NIB_TYPE_Q4_K] = nib_rows8_q4_K_q8_K_##SFX; \
    k->attention_tile = nib_attention_tile_##SFX; \
    k->attention_tile_q8_0 = nib_attention_tile_q8_0_##SFX; \
    k->swiglu = nib_swiglu_##SFX; \
    k->packed8[NIB_TYPE_Q4_0] = nib_packed8_q4_0_q8_0_##SFX; \
    k->block_sums_q8_0 = nib_block_sums_q8_0_##SFX; \
    k->dot4[NIB_TYPE_Q8_0] = nib_dot4_q8_0_q8_0_##SFX; \
    k->dot4[NIB_TYPE_Q6_K] = nib_dot4_q6_K_q8_K_##SFX; \
    k->dot4[NIB_TYPE_Q2_K] = nib_dot4_q2_K_q8_K_##SFX; \
    k->dot4[NIB_TYPE_Q3_K] = nib_dot4_q3_K_q8_K_##SFX; \
    k->dot4[NIB_TYPE_Q5_0] = nib_dot4_q5_0_q8_0_##SFX; \
    k->dot4[NIB_TYPE_Q4_1] = nib_dot4_q4_1_q8_1_##SFX; \
    k->dot4[NIB_TYPE_Q5_1] = nib_dot4_q5_1_q8_1_##SFX; \
    k->dot4[NIB_TYPE_Q5_K] = nib_dot4_q5_K_q8_K_##SFX; \
    k->packed8[NIB_TYPE_Q4_K] = nib_packed8_q4_K_q8_K_##SFX; \
    k->gemm_dot[NIB_TYPE_F32]  = nib_gemm_dot_f32_f32_##SFX; \
    k->gemm_dot[NIB_TYPE_F16]  = nib_gemm_dot_f16_f16_##SFX; \
    k->gemm_dot[NIB_TYPE_BF16] = nib_gemm_dot_bf16_bf16_##SFX; \
    k->gemm_tile[NIB_TYPE_F32] = nib_gemm_tile_f32_##SFX; \
    k->gemm_tile[NIB_TYPE_F16] = nib_gemm_tile_f16_##SFX; \
    k->gemm_tile[NIB_TYPE_BF16] = nib_gemm_tile_bf16_##SFX; \
    k->gemm_tile_rows = nib_gemm_tile_rows_##SFX(); \
    k->vec_dot[NIB_TYPE_Q4_0] = nib_vec_dot_q4_0_q8_0_##SFX; \
    k->vec_dot[NIB_TYPE_Q4_1] = nib_vec_dot_q4_1_q8_1_##SFX; \
    k->vec_dot[NIB_TYPE_Q5_0] = nib_vec_dot_q5_0_q8_0_##SFX; \
    k->vec_dot[NIB_TYPE_Q5_1] = nib_vec_dot_q5_1_q8_1_##SFX; \
    k->vec_dot[NIB_TYPE_Q8_0] = nib_vec_dot_q8_0_q8_0_##SFX; \
    k->vec_dot[NIB_TYPE_Q2_K] = nib_vec_dot_q2_K_q8_K_##SFX; \
    k->vec_dot[NIB_TYPE_Q3_K] = nib_vec_dot_q3_K_q8_K_##SFX; \
    k->vec_dot[NIB_TYPE_Q4_K] = nib_vec_dot_q4_K_q8_K_##SFX; \
    k->vec_dot[NIB_TYPE_Q5_K] = nib_vec_dot_q5_K_q8_K_##SFX; \
    k->vec_dot[NIB_TYPE_Q6_K] = nib_vec_dot_q6_K_q8_K_##SFX; \
    k->quantize_act[NIB_TYPE_Q8_0] = nib_quantize_act_q8_0_##SFX; \
    k->quantize_act[NIB_TYPE_Q8_1] = nib_quantize_act_q8_1_##SFX; \
    k->quantize_act[NIB_TYPE_Q8_K] = nib_quantize_act_q8_K_##SFX; \
    /* 16-row units (repack.h): 16 rows a vector on AVX-512, two halves of 8 on AVX2 */ \
    k->gemv16[NIB_TYPE_Q5_K] = nib_gemv16_q5_K_q8_K_##SFX; \
    k->gemv16[NIB_TYPE_Q6_K] = nib_gemv16_q6_K_q8_K_##SFX; \
    k->gemv16[NIB_TYPE_Q4_1] = nib_gemv16_q4_1_q8_1_##SFX; \
    k->gemv16[NIB_TYPE_Q5_0] = nib_gemv16_q5_0_q8_0_##SFX; \
    k->gemv16[NIB_TYPE_Q5_1] = nib_gemv16_q5_1_q8_1_##SFX; \
    /* their batches in the amx variant's block order (not vec_dot's) */ \
    k->unit_gemm[NIB_TYPE_Q4_1] = nib_unit_gemm_q4_1_q8_1_##SFX; \
    k->unit_gemm[NIB_TYPE_Q5_0] = nib_unit_gemm_q5_0_q8_0_##SFX; \
    k->unit_gemm[NIB_TYPE_Q5_1] = nib_unit_gemm_q5_1_q8_1_##SFX; \
    k->unit_gemm[NIB_TYPE_Q6_K] = nib_unit_gemm_q6_K_q8_K_##SFX; \
    for (int t_ = 0; t_ < NIB_TYPE_COUNT; t_++) \
        k->unit_gemm_min_tokens[t_] = t_ == NIB_TYPE_Q5_K || t_ == NIB_TYPE_Q6_K ? NIB_X86_MIN_UNIT_GEMM_KQ : MIN_UNITS; \
    /* Q2_K and Q3_K batches from their rows, in block order */ \
    k->rows16_gemm[NIB_TYPE_Q2_K] = nib_rows16_gemm_q2_K_q8_K_##SFX; \
    k->rows16_gemm[NIB_TYPE_Q3_K] = nib_rows16_gemm_q3_K_q8_K_##SFX; \
    k->rows16_gemm_min_tokens[NIB_TYPE_Q2_K] = k->rows16_gemm_min_tokens[NIB_TYPE_Q3_K] = NIB_X86_MIN_ROWS16_GEMM;

static void override_avx2(struct nib_cpu_kernels *k) {
    X86_OVERRIDES(k, avx2, NIB_AVX2_MIN_UNIT_GEMM);
    k->gemm8[NIB_TYPE_Q8_0] = nib_gemm8_q8_0_q8_0_avx2; /* 4 token rows a tile (avx512: 8, and gemm16) */
    k->dot8[NIB_TYPE_Q8_0] = nib_dot8_q8_0_q8_0_avx2;   /* one-token calls: eight rows' chains */
    k->unit_gemm[NIB_TYPE_Q5_K] = nib_unit_gemm_q5_K_q8_K_avx2; /* avx512: gemv16 (units_gemm_avx2.c) */
}
static void override_avx512(struct nib_cpu_kernels *k) {
    X86_OVERRIDES(k, avx512, NIB_AVX512_MIN_UNIT_GEMM);
    k->dot4x4[NIB_TYPE_Q8_0] = nib_dot4x4_q8_0_q8_0_avx512;
    k->dot8[NIB_TYPE_Q8_0] = nib_dot8_q8_0_q8_0_avx512;
    k->gemm8[NIB_TYPE_Q8_0] = nib_gemm8_q8_0_q8_0_avx512;
    k->gemm16[NIB_TYPE_Q8_0] = nib_gemm16_q8_0_q8_0_avx512;
    k->gemv16[NIB_TYPE_Q8_0] = nib_gemv16_q8_0_q8_0_avx512;
    k->packed8_tokens[NIB_TYPE_Q4_0] = 8; /* packed_avx2.c's TILE in this build */
    k->packed16[NIB_TYPE_Q4_0] = nib_packed16_q4_0_q8_0_avx512;
    k->packed16[NIB_TYPE_Q4_K] = nib_packed16_q4_K_q8_K_avx512;
    k->packed16_tokens[NIB_TYPE_Q4_0] = 8;
    k->packed16_tokens[NIB_TYPE_Q4_K] = 4; /* TILE_Q4_K */
    k->dot4x2[NIB_TYPE_Q6_K] = nib_dot4x2_q6_K_q8_K_avx512;
    k->dot4_tokens[NIB_TYPE_Q2_K] = 8; /* vec_dot_avx2_kquants.c's TILE_KQ in this build */
    k->dot4_tokens[NIB_TYPE_Q3_K] = 8;
    k->dot4_tokens[NIB_TYPE_Q6_K] = 8;
}
#endif

#if defined(__aarch64__)
/* Every type the AVX2 table covers; gemm_dot and rows8 stay NULL (they exist
 * to reproduce llama.cpp's x86 float order). The integer dots use SDOT where
 * the CPU has it, widening multiplies otherwise. */
static void override_neon(struct nib_cpu_kernels *k, bool dotprod) {
    k->vec_dot[NIB_TYPE_F32]  = nib_vec_dot_f32_f32_neon;
    k->vec_dot[NIB_TYPE_F16]  = nib_vec_dot_f16_f16_neon;
    k->vec_dot[NIB_TYPE_BF16] = nib_vec_dot_bf16_bf16_neon;
    k->vec_dot[NIB_TYPE_Q4_0] = dotprod ? nib_vec_dot_q4_0_q8_0_neon_dotprod : nib_vec_dot_q4_0_q8_0_neon;
    k->vec_dot[NIB_TYPE_Q4_1] = dotprod ? nib_vec_dot_q4_1_q8_1_neon_dotprod : nib_vec_dot_q4_1_q8_1_neon;
    k->vec_dot[NIB_TYPE_Q5_0] = dotprod ? nib_vec_dot_q5_0_q8_0_neon_dotprod : nib_vec_dot_q5_0_q8_0_neon;
    k->vec_dot[NIB_TYPE_Q5_1] = dotprod ? nib_vec_dot_q5_1_q8_1_neon_dotprod : nib_vec_dot_q5_1_q8_1_neon;
    k->vec_dot[NIB_TYPE_Q8_0] = dotprod ? nib_vec_dot_q8_0_q8_0_neon_dotprod : nib_vec_dot_q8_0_q8_0_neon;
    k->vec_dot[NIB_TYPE_Q2_K] = dotprod ? nib_vec_dot_q2_K_q8_K_neon_dotprod : nib_vec_dot_q2_K_q8_K_neon;
    k->vec_dot[NIB_TYPE_Q3_K] = dotprod ? nib_vec_dot_q3_K_q8_K_neon_dotprod : nib_vec_dot_q3_K_q8_K_neon;
    k->vec_dot[NIB_TYPE_Q4_K] = dotprod ? nib_vec_dot_q4_K_q8_K_neon_dotprod : nib_vec_dot_q4_K_q8_K_neon;
    k->vec_dot[NIB_TYPE_Q5_K] = dotprod ? nib_vec_dot_q5_K_q8_K_neon_dotprod : nib_vec_dot_q5_K_q8_K_neon;
    k->vec_dot[NIB_TYPE_Q6_K] = dotprod ? nib_vec_dot_q6_K_q8_K_neon_dotprod : nib_vec_dot_q6_K_q8_K_neon;
    k->quantize_act[NIB_TYPE_Q8_0] = nib_quantize_act_q8_0_neon;
    k->quantize_act[NIB_TYPE_Q8_1] = nib_quantize_act_q8_1_neon;
    k->quantize_act[NIB_TYPE_Q8_K] = nib_quantize_act_q8_K_neon;
}
#endif

#ifdef NIB_HAVE_AMX
/* The fewest token rows a matmul of a weight type takes the bf16 tiles from,
 * where they beat the int8 kernels at both 1 and 2 threads (synthetic
 * TinyLlama on the Intel Xeon, 2026-11-27): Q2_K and Q3_K (no int8 tiles)
 * from 24 rows (Q3_K_M pp24 at 1 thread 57 -> 83 t/s, Q2_K 61 -> 66; at
 * 16 Q2_K lost 110 -> 88 at 2), Q4_K, Q5_K and Q6_K from 48 (at 32 one
 * thread still lost 3-17%; at 48 Q6_K 148 -> 181, Q5_K_M 161 -> 194,
 * Q4_K_M 185 -> 199, and at 2 threads 248 -> 332, 263 -> 367, 335 -> 375),
 * Q8_0 from 96 (its int8 tiles tie the bf16 ones at 64). */
static int bf16_default_rows(int type) {
    switch (type) {
    case NIB_TYPE_Q2_K:
    case NIB_TYPE_Q3_K: return 24;
    case NIB_TYPE_Q4_K:
    case NIB_TYPE_Q5_K:
    case NIB_TYPE_Q6_K: return 48;
    default: return 96;
    }
}
#endif

static void init(void) {
    for (int v = 0; v < NIB_CPU_VARIANT_COUNT; v++) {
        fill_ref(&tables[v]);
        tables[v].name = nib_cpu_variant_name((enum nib_cpu_variant)v);
    }
#if defined(__x86_64__) || defined(_M_X64)
    override_avx2(&tables[NIB_CPU_VARIANT_AVX2]);
    override_avx512(&tables[NIB_CPU_VARIANT_AVX512]);
#ifdef NIB_HAVE_AMX
    override_avx512(&tables[NIB_CPU_VARIANT_AMX]);
    tables[NIB_CPU_VARIANT_AMX].gemm16[NIB_TYPE_Q8_0] = nib_gemm16_q8_0_q8_0_amx;
    tables[NIB_CPU_VARIANT_AMX].packed16[NIB_TYPE_Q4_0] = nib_packed16_q4_0_q8_0_amx;
    tables[NIB_CPU_VARIANT_AMX].packed16_tokens[NIB_TYPE_Q4_0] = NIB_AMX_PACKED_TOKENS;
    tables[NIB_CPU_VARIANT_AMX].packed16[NIB_TYPE_Q4_K] = nib_packed16_q4_K_q8_K_amx;
    tables[NIB_CPU_VARIANT_AMX].packed16_tokens[NIB_TYPE_Q4_K] = NIB_AMX_PACKED_TOKENS;
    /* Decode streams only where they were measured to win (an Intel Xeon with
     * AMX: TinyLlama tg64 Q4_0 +3-8%, Q8_0 +3%); on an AMD Zen 5 (the avx512
     * variant) they lost: Q8_0 tg64 one thread 33 -> 19 t/s, Q4_0 two threads
     * 79-83 -> 70-78. */
    tables[NIB_CPU_VARIANT_AMX].decode_streams[NIB_TYPE_Q4_0] = nib_packed16_streams_q4_0_q8_0_avx512;
    tables[NIB_CPU_VARIANT_AMX].decode_streams[NIB_TYPE_Q8_0] = nib_gemv16_streams_q8_0_q8_0_avx512;
    tables[NIB_CPU_VARIANT_AMX].unit_gemm[NIB_TYPE_Q4_1] = nib_unit_gemm_q4_1_q8_1_amx;
    tables[NIB_CPU_VARIANT_AMX].unit_gemm[NIB_TYPE_Q5_0] = nib_unit_gemm_q5_0_q8_0_amx;
    tables[NIB_CPU_VARIANT_AMX].unit_gemm[NIB_TYPE_Q5_1] = nib_unit_gemm_q5_1_q8_1_amx;
    tables[NIB_CPU_VARIANT_AMX].unit_gemm[NIB_TYPE_Q5_K] = nib_unit_gemm_q5_K_q8_K_amx;
    tables[NIB_CPU_VARIANT_AMX].unit_gemm[NIB_TYPE_Q6_K] = nib_unit_gemm_q6_K_q8_K_amx;
    for (int t = 0; t < NIB_TYPE_COUNT; t++)
        tables[NIB_CPU_VARIANT_AMX].unit_gemm_min_tokens[t] =
            t == NIB_TYPE_Q5_K ? NIB_AMX_MIN_UNIT_GEMM_Q5_K : t == NIB_TYPE_Q6_K ? NIB_AMX_MIN_UNIT_GEMM_Q6_K : NIB_AMX_MIN_UNIT_GEMM;
    if (nib_cpu_features()->amx_bf16 && nib_cpu_features()->avx512bf16) {
        /* attention from 96 token rows by default, matmuls from bf16_min_rows
         * (below, dequantizing the weights per call costs more than the tiles
         * save); NIB_BF16_MIN_TOKENS=N sets both to N (tests run the golden
         * suites from 2), 0 turns the path off */
        const char *env = getenv("NIB_BF16_MIN_TOKENS");
        const long min_tokens = env && *env ? strtol(env, NULL, 10) : 96;
        if (min_tokens > 0) {
            struct nib_cpu_kernels *amx = &tables[NIB_CPU_VARIANT_AMX];
            amx->bf16_gemm = nib_bf16_type_amx;
            amx->attention_tile_bf16 = nib_attention_tile_bf16_amx;
            amx->bf16_min_tokens = min_tokens < 2 ? 2 : (int)(min_tokens > 1 << 20 ? 1 << 20 : min_tokens);
            for (int t = 0; t < NIB_TYPE_COUNT; t++)
                amx->bf16_min_rows[t] = env && *env ? amx->bf16_min_tokens : bf16_default_rows(t);
        }
    }
#endif
#endif
#if defined(__aarch64__)
    override_neon(&tables[NIB_CPU_VARIANT_NEON], nib_cpu_features()->dotprod);
#endif
}

const struct nib_cpu_kernels *nib_cpu_kernels_for(enum nib_cpu_variant v) {
    if (!nib_cpu_variant_available(v)) return NULL;
    pthread_once(&once, init);
    return &tables[v];
}

const struct nib_cpu_kernels *nib_cpu_kernels(void) {
    return nib_cpu_kernels_for(nib_cpu_variant()); /* the chosen variant is always available */
}

const char *nib_cpu_backend(void) { return nib_cpu_kernels()->name; }
const char *nib_cpu_backend_note(void) {
    (void)nib_cpu_kernels(); /* the note is set when the variant is chosen */
    return nib_cpu_variant_note();
}
