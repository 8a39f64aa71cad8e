#!/usr/bin/env bash
# The CPU matmul kernels alone (bench/kernel_rates.c): GMAC/s per weight type
# for every x86/ARM variant this CPU runs, on one matrix against T activation
# rows, best of R runs; a markdown table on stdout. Prompt-sized batches
# (-T 64) show the arithmetic rate, -T 1 the decode (GEMV) path.
#
#   bench/kernels.sh [-n 2048] [-o 2048] [-T 64] [-t 1] [-r 10]
set -euo pipefail
cd "$(dirname "$0")/.."
B=${NIB_BUILD_DIR:-build}
cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=Release >/dev/null && cmake --build "$B" -j --target nib >/dev/null
mkdir -p "$B/bench-cpu"
cc -O2 -fopenmp -Iinclude -I. -Iformats -Iengine -Ikernels/cpu bench/kernel_rates.c "$B/libnib.a" \
  $(pkg-config --libs libcjson libpcre2-8) -lz -lm -o "$B/bench-cpu/kernel_rates"
first=1
for v in ref avx2 avx512 neon; do
  out=$(NIB_CPU=$v "$B/bench-cpu/kernel_rates" "$@" 2>&1) || { echo "$out" >&2; exit 1; }
  # a variant this CPU lacks falls back to ref: skip it (ref runs once, first)
  [ "$v" != ref ] && echo "$out" | grep -q '| ref |' && continue
  if [ $first = 1 ]; then echo "$out"; first=0; else echo "$out" | tail -n +3; fi
done
