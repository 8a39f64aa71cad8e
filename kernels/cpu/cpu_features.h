/*
 * cpu_features.h — which SIMD kernel variant this process uses.
 *
 * Detection: x86-64 AVX2 + FMA + F16C with the OS saving YMM state, and
 * AVX-512 F/BW/VL/VNNI with the OS saving ZMM state (cpuid, xgetbv), AMX-TILE/INT8
 * with the OS saving tile state and granting it (Linux arch_prctl
 * ARCH_REQ_XCOMP_PERM, asked once here); aarch64 NEON (ASIMD) and dot-product via getauxval on Linux.
 * On other targets every SIMD flag is false.
 *
 * Choice: the best variant the CPU supports, unless the environment variable
 * NIB_CPU=ref|avx2|avx512|amx|neon forces one ("auto" or empty: no forcing). A forced
 * variant the CPU (or this build) cannot run falls back to ref, and an
 * unknown value is ignored; either way nib_cpu_variant_note() then returns a
 * one-line explanation for the caller to show (the library never prints).
 *
 * Everything here is a pure function of the machine and the environment at
 * the first call, computed once (pthread_once) and immutable afterwards:
 * safe from any thread. Changing NIB_CPU after the first call has no effect.
 */
#ifndef NIB_CPU_FEATURES_H
#define NIB_CPU_FEATURES_H

#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

enum nib_cpu_variant {
    NIB_CPU_VARIANT_REF  = 0, /* scalar reference, always available */
    NIB_CPU_VARIANT_AVX2 = 1, /* x86-64: AVX2 + FMA + F16C */
    NIB_CPU_VARIANT_NEON = 2, /* aarch64: ASIMD */
    /* x86-64: the AVX2 kernels built again with AVX-512 F/BW/VL/VNNI (32
     * vector registers, vpdpbusd); the same bits as AVX2 (avx2_util.h) */
    NIB_CPU_VARIANT_AVX512 = 3,
    /* x86-64: avx512's table with the Q8_0, Q4_0 and Q4_K prompt kernels on AMX tiles
     * (AMX-TILE + AMX-INT8, the OS saving tile state and granting it to
     * this process); the same bits as avx512 */
    NIB_CPU_VARIANT_AMX = 4,
    NIB_CPU_VARIANT_COUNT
};

struct nib_cpu_features {
    bool avx2, fma, f16c, os_ymm; /* x86-64 */
    bool avx512f, avx512bw, avx512vl, avx512vnni, os_zmm;
    bool amx_tile, amx_int8, os_amx; /* os_amx: XCR0 tile state and arch_prctl's grant */
    bool amx_bf16, avx512bf16;       /* the amx variant's bf16 prompt GEMM (gemm_bf16_amx.h) */
    bool neon, dotprod;           /* aarch64; dotprod picks SDOT for the NEON table's integer dots */
};

/* What the CPU and OS support (detected once). Never NULL. */
const struct nib_cpu_features *nib_cpu_features(void);

/* Whether this CPU and this build can run the variant's kernels. */
bool nib_cpu_variant_available(enum nib_cpu_variant v);

/* The variant in use: NIB_CPU if set and available, else the best available. */
enum nib_cpu_variant nib_cpu_variant(void);

/* "ref", "avx2", "neon", "avx512", "amx"; "?" for an out-of-range value. */
const char *nib_cpu_variant_name(enum nib_cpu_variant v);

/* NULL, or why NIB_CPU was not honoured (e.g. "NIB_CPU=avx2: this CPU lacks
 * AVX2/FMA/F16C; using ref"). Static storage; same string on every call. */
const char *nib_cpu_variant_note(void);

#ifdef __cplusplus
}
#endif
#endif
