/*
 * membw.c — the machine's memory read bandwidth, for the benchmarks' "physical
 * limit" line: T threads each sum their share of a buffer much larger than
 * the caches (default 1 GiB), best of R passes, reported in GB/s (1e9 B/s).
 * The buffer asks for transparent huge pages, as nib's packed weights do
 * (engine/model_pack.c), so the limit is the memory's, not the TLB's.
 *
 *   membw [-t THREADS] [-s MIB] [-r REPS] [--json]
 */
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    int threads = omp_get_num_procs(), reps = 5;
    size_t mib = 1024;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-t") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-s") && i + 1 < argc) mib = (size_t)atol(argv[++i]);
        else if (!strcmp(argv[i], "-r") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--json")) json = 1;
        else {
            fprintf(stderr, "usage: membw [-t THREADS] [-s MIB] [-r REPS] [--json]\n");
            return 2;
        }
    }
    if (threads < 1 || reps < 1 || mib < 16) {
        fprintf(stderr, "membw: bad arguments\n");
        return 2;
    }
    size_t n = mib * 1024 * 1024 / sizeof(uint64_t);
    const size_t bytes = (n * sizeof(uint64_t) + (2u << 20) - 1) / (2u << 20) * (2u << 20); /* whole huge pages */
    uint64_t *buf = aligned_alloc(2u << 20, bytes);
    if (buf) madvise(buf, bytes, MADV_HUGEPAGE);
    if (!buf) {
        fprintf(stderr, "membw: cannot allocate %zu MiB\n", mib);
        return 1;
    }
#pragma omp parallel for num_threads(threads) schedule(static)
    for (size_t i = 0; i < n; i++) buf[i] = i; /* first touch by the reading thread */
    double best = 1e30;
    uint64_t sink = 0;
    for (int r = 0; r < reps; r++) {
        double t0 = now_s();
        uint64_t s = 0;
#pragma omp parallel for num_threads(threads) schedule(static) reduction(+ : s)
        for (size_t i = 0; i < n; i += 4) s += buf[i] ^ buf[i + 1] ^ buf[i + 2] ^ buf[i + 3];
        double t = now_s() - t0;
        sink += s;
        if (t < best) best = t;
    }
    double gbs = (double)(n * sizeof(uint64_t)) / best / 1e9;
    if (json) printf("{\"threads\": %d, \"bytes\": %zu, \"read_gbps\": %.2f}\n", threads, n * sizeof(uint64_t), gbs);
    else printf("read bandwidth: %.2f GB/s (%d threads, %zu MiB, best of %d)%s\n", gbs, threads, mib, reps, sink == 42 ? " " : "");
    free(buf);
    return 0;
}
