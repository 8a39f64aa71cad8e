/*
 * mem_overlap.c — does arithmetic between loads hide the memory stream?
 * Reads a buffer larger than the caches once per run, 256 bytes a step, and
 * after each step's four 64-byte loads does W rounds of integer dot products
 * (vpmaddubsw + vpmaddwd + vpaddd on the loaded bytes, four independent
 * chains, as a quantized matvec does), with or without a software prefetch
 * into L2 a distance ahead; then the same work over a buffer that sits in
 * L2 (the arithmetic alone). If the two overlapped perfectly, streaming
 * with work would take max(memory, arithmetic); if not at all, their sum.
 * This is why the decode kernels are made as cheap per byte as they can be,
 * read as one sequential stream, and prefetched (bench/PROFILE-cpu.md, 3).
 *
 *   mem_overlap [-m MiB (1024)] [-w 0,1,2,4,6,8] [-p 3072] [-r 3]
 * One thread; a markdown table on stdout. Built with -mavx2.
 */
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static __m256i sink; /* keeps the sums alive */

/* Best of `runs` passes over n bytes of p (wrapping every `span` bytes). */
static double pass(const char *p, size_t n, size_t span, int work, int ahead, int runs) {
    const __m256i ones = _mm256_set1_epi8(1), ones16 = _mm256_set1_epi16(1);
    double best = 1e30;
    for (int r = 0; r < runs; r++) {
        __m256i acc[4] = { _mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256() };
        const double t0 = now();
        for (size_t done = 0, off = 0; done < n; done += 256, off += 256) {
            if (off >= span) off = 0;
            const char *q = p + off;
            if (ahead)
                for (int l = 0; l < 256; l += 64) _mm_prefetch(q + ahead + l, _MM_HINT_T1);
            __m256i v[4];
            for (int i = 0; i < 4; i++)
                v[i] = _mm256_add_epi8(_mm256_load_si256((const __m256i *)(q + 64 * i)),
                                       _mm256_load_si256((const __m256i *)(q + 64 * i + 32)));
            for (int w = 0; w < work; w++)
                for (int i = 0; i < 4; i++)
                    acc[i] = _mm256_add_epi32(acc[i], _mm256_madd_epi16(_mm256_maddubs_epi16(v[i], ones), ones16));
            for (int i = 0; i < 4; i++) acc[i] = _mm256_xor_si256(acc[i], v[i]);
        }
        const double t = now() - t0;
        if (t < best) best = t;
        sink = _mm256_add_epi32(sink, _mm256_add_epi32(_mm256_add_epi32(acc[0], acc[1]), _mm256_add_epi32(acc[2], acc[3])));
    }
    return best;
}

int main(int argc, char **argv) {
    size_t mib = 1024;
    int ahead = 3072, runs = 3;
    const char *works = "0,1,2,4,6,8";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "-m")) mib = (size_t)atol(argv[i + 1]);
        else if (!strcmp(argv[i], "-w")) works = argv[i + 1];
        else if (!strcmp(argv[i], "-p")) ahead = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-r")) runs = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "usage: mem_overlap [-m MiB] [-w W,W,...] [-p BYTES_AHEAD] [-r RUNS]\n");
            return 2;
        }
    }
    if (argc % 2 == 0 || mib < 64 || runs < 1 || ahead < 0) {
        fprintf(stderr, "usage: mem_overlap [-m MiB >= 64] [-w W,W,...] [-p BYTES_AHEAD] [-r RUNS >= 1]\n");
        return 2;
    }
    const size_t n = mib << 20;
    char *p = NULL;
    if (posix_memalign((void **)&p, 2u << 20, n)) {
        fprintf(stderr, "mem_overlap: cannot allocate %zu MiB\n", mib);
        return 1;
    }
    madvise(p, n, MADV_HUGEPAGE);
    memset(p, 1, n);
    printf("| work rounds | arithmetic alone (L2) ms | memory, no prefetch ms | memory, prefetch %d B ahead ms | "
           "with prefetch / max(memory, arithmetic) |\n| ---: | ---: | ---: | ---: | ---: |\n", ahead);
    const double mem = pass(p, n, n, 0, ahead, runs);
    char *list = strdup(works);
    for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
        const int w = atoi(tok);
        const double alu = pass(p, n, 1u << 20, w, 0, runs);
        const double nopf = pass(p, n, n, w, 0, runs), pf = pass(p, n, n, w, ahead, runs);
        const double ideal = alu > mem ? alu : mem;
        printf("| %d | %.1f | %.1f | %.1f | %.2f |\n", w, 1e3 * alu, 1e3 * nopf, 1e3 * pf, pf / ideal);
        fflush(stdout);
    }
    printf("\nmemory alone (prefetch, no work): %.1f ms for %zu MiB = %.2f GB/s\n", 1e3 * mem, mib, (double)n / mem / 1e9);
    free(list);
    free(p);
    return 0;
}
