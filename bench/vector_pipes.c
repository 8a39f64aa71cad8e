/*
 * vector_pipes.c — how many of the matmul kernels' vector instructions this
 * CPU retires per cycle, alone and mixed: 8 independent chains of each, in
 * inline asm (AVX-512 VNNI machines; needs an assembler that knows vpdpbusd).
 * Cycles assume the clock given as the first argument in GHz (default 3.58).
 *   cc -O2 bench/vector_pipes.c -o vector_pipes && ./vector_pipes 3.58
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static double ghz = 3.58;
static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}
#define R8(op) op " %%ymm8, %%ymm9, %%ymm0\n\t" op " %%ymm8, %%ymm9, %%ymm1\n\t" op " %%ymm8, %%ymm9, %%ymm2\n\t" op " %%ymm8, %%ymm9, %%ymm3\n\t" op " %%ymm8, %%ymm9, %%ymm4\n\t" op " %%ymm8, %%ymm9, %%ymm5\n\t" op " %%ymm8, %%ymm9, %%ymm6\n\t" op " %%ymm8, %%ymm9, %%ymm7\n\t"
#define RUN(name, body, per) { long n=100000000; double t0=now(); for(long i=0;i<n;i++){ __asm__ volatile(body ::: "xmm0","xmm1","xmm2","xmm3","xmm4","xmm5","xmm6","xmm7","xmm8","xmm9","xmm10","xmm11","memory"); } double t1=now(); printf("%-28s %.3f cycles per op\n", name, (t1-t0)*ghz*1e9/(n*(double)per)); }
int main(int argc, char **argv) {
  if (argc > 1) ghz = atof(argv[1]);
  RUN("vpdpbusd ymm", R8("vpdpbusd"), 8);
  RUN("vfmadd231ps ymm", R8("vfmadd231ps"), 8);
  RUN("vpmaddubsw ymm", R8("vpmaddubsw"), 8);
  RUN("vcvtdq2ps ymm", "vcvtdq2ps %%ymm8, %%ymm0\n\tvcvtdq2ps %%ymm8, %%ymm1\n\tvcvtdq2ps %%ymm8, %%ymm2\n\tvcvtdq2ps %%ymm8, %%ymm3\n\t", 4);
  RUN("vmulps ymm", R8("vmulps"), 8);
  RUN("dpbusd+fma mix", "vpdpbusd %%ymm8,%%ymm9,%%ymm0\n\tvfmadd231ps %%ymm8,%%ymm9,%%ymm1\n\tvpdpbusd %%ymm8,%%ymm9,%%ymm2\n\tvfmadd231ps %%ymm8,%%ymm9,%%ymm3\n\tvpdpbusd %%ymm8,%%ymm9,%%ymm4\n\tvfmadd231ps %%ymm8,%%ymm9,%%ymm5\n\tvpdpbusd %%ymm8,%%ymm9,%%ymm6\n\tvfmadd231ps %%ymm8,%%ymm9,%%ymm7\n\t", 8);
  RUN("dpbusd+cvt mix", "vpdpbusd %%ymm8,%%ymm9,%%ymm0\n\tvcvtdq2ps %%ymm8,%%ymm1\n\tvpdpbusd %%ymm8,%%ymm9,%%ymm2\n\tvcvtdq2ps %%ymm8,%%ymm3\n\tvpdpbusd %%ymm8,%%ymm9,%%ymm4\n\tvcvtdq2ps %%ymm8,%%ymm5\n\tvpdpbusd %%ymm8,%%ymm9,%%ymm6\n\tvcvtdq2ps %%ymm8,%%ymm7\n\t", 8);
  RUN("dpbusd+bcastload", "vpdpbusd (%%rsp)%{1to8%},%%ymm9,%%ymm0\n\tvpdpbusd 4(%%rsp)%{1to8%},%%ymm9,%%ymm1\n\tvpdpbusd 8(%%rsp)%{1to8%},%%ymm9,%%ymm2\n\tvpdpbusd 12(%%rsp)%{1to8%},%%ymm9,%%ymm3\n\tvpdpbusd 16(%%rsp)%{1to8%},%%ymm9,%%ymm4\n\tvpdpbusd 20(%%rsp)%{1to8%},%%ymm9,%%ymm5\n\tvpdpbusd 24(%%rsp)%{1to8%},%%ymm9,%%ymm6\n\tvpdpbusd 28(%%rsp)%{1to8%},%%ymm9,%%ymm7\n\t", 8);
  /* the AVX2 Q8_0 GEMM's ops (q8_0_gemm_avx2.c): sign, maddubs, madd, add; a dword broadcast from memory */
  RUN("vpsignb ymm", R8("vpsignb"), 8);
  RUN("vpmaddwd ymm", R8("vpmaddwd"), 8);
  RUN("vpaddw ymm", R8("vpaddw"), 8);
  RUN("maddubs+madd mix", "vpmaddubsw %%ymm8,%%ymm9,%%ymm0\n\tvpmaddwd %%ymm8,%%ymm9,%%ymm1\n\tvpmaddubsw %%ymm8,%%ymm9,%%ymm2\n\tvpmaddwd %%ymm8,%%ymm9,%%ymm3\n\tvpmaddubsw %%ymm8,%%ymm9,%%ymm4\n\tvpmaddwd %%ymm8,%%ymm9,%%ymm5\n\tvpmaddubsw %%ymm8,%%ymm9,%%ymm6\n\tvpmaddwd %%ymm8,%%ymm9,%%ymm7\n\t", 8);
  RUN("sign+maddubs+madd mix", "vpsignb %%ymm8,%%ymm9,%%ymm0\n\tvpmaddubsw %%ymm8,%%ymm9,%%ymm1\n\tvpmaddwd %%ymm8,%%ymm9,%%ymm2\n\tvpsignb %%ymm8,%%ymm9,%%ymm3\n\tvpmaddubsw %%ymm8,%%ymm9,%%ymm4\n\tvpmaddwd %%ymm8,%%ymm9,%%ymm5\n\tvpsignb %%ymm8,%%ymm9,%%ymm6\n\tvpmaddubsw %%ymm8,%%ymm9,%%ymm7\n\tvpmaddwd %%ymm8,%%ymm9,%%ymm10\n\tvpsignb %%ymm8,%%ymm9,%%ymm11\n\tvpmaddubsw %%ymm8,%%ymm9,%%ymm0\n\tvpmaddwd %%ymm8,%%ymm9,%%ymm1\n\t", 12);
  RUN("vpbroadcastd ymm, m32", "vpbroadcastd (%%rsp),%%ymm0\n\tvpbroadcastd 4(%%rsp),%%ymm1\n\tvpbroadcastd 8(%%rsp),%%ymm2\n\tvpbroadcastd 12(%%rsp),%%ymm3\n\tvpbroadcastd 16(%%rsp),%%ymm4\n\tvpbroadcastd 20(%%rsp),%%ymm5\n\tvpbroadcastd 24(%%rsp),%%ymm6\n\tvpbroadcastd 28(%%rsp),%%ymm7\n\t", 8);
  RUN("vpdpbusd zmm", "vpdpbusd %%zmm8,%%zmm9,%%zmm0\n\tvpdpbusd %%zmm8,%%zmm9,%%zmm1\n\tvpdpbusd %%zmm8,%%zmm9,%%zmm2\n\tvpdpbusd %%zmm8,%%zmm9,%%zmm3\n\tvpdpbusd %%zmm8,%%zmm9,%%zmm4\n\tvpdpbusd %%zmm8,%%zmm9,%%zmm5\n\tvpdpbusd %%zmm8,%%zmm9,%%zmm6\n\tvpdpbusd %%zmm8,%%zmm9,%%zmm7\n\t", 8);
}
