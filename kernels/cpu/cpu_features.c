/*
 * cpu_features.c — CPU feature detection and the variant choice (see
 * cpu_features.h). The only place in the CPU backend that tests target
 * macros; kernels themselves never do.
 */
#include "cpu_features.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#if defined(__x86_64__) || defined(_M_X64)
#define NIB_CPU_X86_64 1
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>
#elif defined(__aarch64__) && defined(__linux__)
#define NIB_CPU_AARCH64_LINUX 1
#include <sys/auxv.h>
#ifndef HWCAP_ASIMD
#define HWCAP_ASIMD (1 << 1)
#endif
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1 << 20)
#endif
#endif

static struct nib_cpu_features features;
static enum nib_cpu_variant     chosen;
static char                     note[160];
static pthread_once_t           once = PTHREAD_ONCE_INIT;

#ifdef NIB_CPU_X86_64
/* XCR0 through the raw opcode: _xgetbv would need -mxsave on this file. */
static unsigned long long read_xcr0(void) {
    unsigned int lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}

static void detect(struct nib_cpu_features *f) {
    unsigned int a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return;
    const bool osxsave = (c >> 27) & 1, avx = (c >> 28) & 1;
    f->fma  = (c >> 12) & 1;
    f->f16c = (c >> 29) & 1;
    /* The OS must save XMM (bit 1) and YMM (bit 2) state across switches. */
    f->os_ymm = osxsave && avx && (read_xcr0() & 6) == 6;
    /* ... and for AVX-512 also opmask (bit 5) and the upper ZMM halves (6, 7). */
    f->os_zmm = f->os_ymm && (read_xcr0() & 0xE0) == 0xE0;
    if (__get_cpuid_max(0, NULL) >= 7 && __get_cpuid_count(7, 0, &a, &b, &c, &d)) {
        f->avx2       = (b >> 5) & 1;
        f->avx512f    = (b >> 16) & 1;
        f->avx512bw   = (b >> 30) & 1;
        f->avx512vl   = (b >> 31) & 1;
        f->avx512vnni = (c >> 11) & 1;
        f->amx_tile   = (d >> 24) & 1;
        f->amx_int8   = (d >> 25) & 1;
        f->amx_bf16   = (d >> 22) & 1;
    }
    if (__get_cpuid_max(0, NULL) >= 7 && __get_cpuid_count(7, 1, &a, &b, &c, &d)) f->avx512bf16 = (a >> 5) & 1;
    /* Tile state: XCR0 bits 17 (XTILECFG) and 18 (XTILEDATA), and on Linux
     * the process must ask for XTILEDATA (feature 18) before its first tile
     * instruction; the grant holds for every thread of the process. */
    if (f->amx_tile && f->amx_int8 && f->os_zmm && (read_xcr0() & 0x60000) == 0x60000)
        f->os_amx = syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */, 18) == 0;
}
#elif defined(NIB_CPU_AARCH64_LINUX)
static void detect(struct nib_cpu_features *f) {
    const unsigned long hw = getauxval(AT_HWCAP);
    f->neon    = (hw & HWCAP_ASIMD) != 0;
    f->dotprod = (hw & HWCAP_ASIMDDP) != 0;
}
#else
static void detect(struct nib_cpu_features *f) { (void)f; }
#endif

/* Whether the kernels of v are compiled into this build at all. */
static bool built(enum nib_cpu_variant v) {
    switch (v) {
    case NIB_CPU_VARIANT_REF: return true;
#ifdef NIB_CPU_X86_64
    case NIB_CPU_VARIANT_AVX2:
    case NIB_CPU_VARIANT_AVX512: return true;
#ifdef NIB_HAVE_AMX
    case NIB_CPU_VARIANT_AMX: return true;
#endif
#endif
#ifdef NIB_CPU_AARCH64_LINUX
    case NIB_CPU_VARIANT_NEON: return true;
#endif
    default: return false;
    }
}

static bool supported(const struct nib_cpu_features *f, enum nib_cpu_variant v) {
    switch (v) {
    case NIB_CPU_VARIANT_REF:  return true;
    case NIB_CPU_VARIANT_AVX2: return f->avx2 && f->fma && f->f16c && f->os_ymm;
    case NIB_CPU_VARIANT_NEON: return f->neon;
    case NIB_CPU_VARIANT_AVX512:
        return supported(f, NIB_CPU_VARIANT_AVX2) && f->avx512f && f->avx512bw && f->avx512vl && f->avx512vnni && f->os_zmm;
    case NIB_CPU_VARIANT_AMX:  return supported(f, NIB_CPU_VARIANT_AVX512) && f->os_amx;
    default:                   return false;
    }
}

static bool available(enum nib_cpu_variant v) { return built(v) && supported(&features, v); }

static const char *missing_text(enum nib_cpu_variant v) {
    if (!built(v)) return "not built for this architecture";
    switch (v) {
    case NIB_CPU_VARIANT_AVX2: return "this CPU/OS lacks AVX2, FMA, F16C or YMM state";
    case NIB_CPU_VARIANT_AVX512: return "this CPU/OS lacks AVX-512 F/BW/VL/VNNI or ZMM state";
    case NIB_CPU_VARIANT_AMX: return "this CPU/OS lacks AVX-512, AMX-TILE/INT8 or the tile state";
    default: return "this CPU lacks NEON";
    }
}

static void init(void) {
    detect(&features);
    chosen = NIB_CPU_VARIANT_REF;
    for (int v = NIB_CPU_VARIANT_COUNT - 1; v > NIB_CPU_VARIANT_REF; v--) {
        if (available((enum nib_cpu_variant)v)) {
            chosen = (enum nib_cpu_variant)v;
            break;
        }
    }
    const char *env = getenv("NIB_CPU");
    if (!env || !*env || strcasecmp(env, "auto") == 0) return;
    for (int v = 0; v < NIB_CPU_VARIANT_COUNT; v++) {
        if (strcasecmp(env, nib_cpu_variant_name((enum nib_cpu_variant)v)) != 0) continue;
        if (available((enum nib_cpu_variant)v)) {
            chosen = (enum nib_cpu_variant)v;
        } else {
            chosen = NIB_CPU_VARIANT_REF;
            snprintf(note, sizeof(note), "NIB_CPU=%s: %s; using ref", nib_cpu_variant_name((enum nib_cpu_variant)v),
                     missing_text((enum nib_cpu_variant)v));
        }
        return;
    }
    snprintf(note, sizeof(note), "NIB_CPU=%.40s: unknown variant (ref, avx2, avx512, amx, neon, auto); using %s", env,
             nib_cpu_variant_name(chosen));
}

const struct nib_cpu_features *nib_cpu_features(void) {
    pthread_once(&once, init);
    return &features;
}

bool nib_cpu_variant_available(enum nib_cpu_variant v) {
    pthread_once(&once, init);
    return (int)v >= 0 && (int)v < NIB_CPU_VARIANT_COUNT && available(v);
}

enum nib_cpu_variant nib_cpu_variant(void) {
    pthread_once(&once, init);
    return chosen;
}

const char *nib_cpu_variant_name(enum nib_cpu_variant v) {
    static const char *const names[NIB_CPU_VARIANT_COUNT] = {"ref", "avx2", "neon", "avx512", "amx"};
    return (int)v >= 0 && (int)v < NIB_CPU_VARIANT_COUNT ? names[v] : "?";
}

const char *nib_cpu_variant_note(void) {
    pthread_once(&once, init);
    return note[0] ? note : NULL;
}
