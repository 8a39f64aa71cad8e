#!/usr/bin/env bash
# Speculative decoding benchmark, written to bench/RESULTS-spec.md: target/draft pairs made with
# `nib synth` (a TinyLlama-1.1B-shaped target and a 1-layer, FFN-512 draft of the same seed, so
# they share embeddings and output matrix; --block-std sets how far the target's blocks move it
# from the draft, hence the acceptance rate), then bench_spec on each: plain vs speculative greedy
# decoding at fixed K and adaptive K, with the per-token acceptance rate a, the cost ratio c, the
# verification cost v, the speed-up (1 - a^(K+1)) / ((1 - a)(cK + v)) expects, and a check that
# the tokens are identical.
#
#   bench/spec.sh [-t 2] [-n 128] [--type Q4_0] [--block-std "0.0005 0.001"]
set -euo pipefail
cd "$(dirname "$0")/.."
T=2 N=128 TYPE=Q4_0 STDS="0.0003 0.0005 0.001 0.003 0.01"
while [ $# -gt 0 ]; do
  case "$1" in
    -t) T=$2; shift 2 ;; -n) N=$2; shift 2 ;; --type) TYPE=$2; shift 2 ;; --block-std) STDS=$2; shift 2 ;;
    *) echo "usage: bench/spec.sh [-t T] [-n N] [--type Q4_0] [--block-std \"0.0005 0.001\"]" >&2; exit 2 ;;
  esac
done
B=${NIB_BUILD_DIR:-build}
cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=Release >/dev/null && cmake --build "$B" -j --target nib_cli bench_spec >/dev/null
mkdir -p "$B/bench-models"
out=bench/RESULTS-spec.md
{
  echo "# Speculative decoding results"
  echo
  echo "Measured $(date '+%Y-%m-%d %H:%M') by \`bench/spec.sh -t $T -n $N --type $TYPE\` at nib $(git rev-parse --short HEAD) on"
  echo "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'). Greedy, $N tokens, $T threads. Target: \`nib synth --preset"
  echo "tinyllama-1.1b --block-std S\`; draft: the same with \`--n-layer 1 --n-ff 512\` (same seed: shared embeddings"
  echo "and output). a: the per-token acceptance rate, kept / judged proposals (a draft's proposals up to and"
  echo "including its first rejection; the rest are never judged); c: one draft token / one target token; v: a"
  echo "row-exact target pass over K + 1 tokens / a one-token pass (timed apart); expected: (1 - a^(K+1)) /"
  echo "((1 - a)(cK + v)), which assumes independent acceptances (real runs accept in bursts, so they can beat it)."
  for S in $STDS; do
    tm="$B/bench-models/spec-target-$S-$TYPE.gguf" dm="$B/bench-models/spec-draft-$S-$TYPE.gguf"
    [ -f "$tm" ] || "$B/nib" synth --preset tinyllama-1.1b --type "$TYPE" --block-std "$S" -o "$tm" >&2
    [ -f "$dm" ] || "$B/nib" synth --preset tinyllama-1.1b --n-layer 1 --n-ff 512 --type "$TYPE" --block-std "$S" -o "$dm" >&2
    echo
    echo "## --block-std $S"
    echo
    "$B/bench/bench_spec" -m "$tm" -md "$dm" -n "$N" -t "$T" -k 2,4,8,16,0
  done
} > "$out"
cat "$out"
