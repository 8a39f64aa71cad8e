#!/usr/bin/env bash
# Decode speed against context depth, nib against llama.cpp in one run,
# written to bench/RESULTS-depth.md: synthetic TinyLlama-1.1B (nib synth),
# tgN after D tokens already in the KV cache, for each depth D.
#   nib:       nib bench -p 0 -n N -d D ("tgN @ dD", random tokens)
#   llama.cpp: ../shared/ref/llamaref.mjs generate with a prompt of D random
#              token ids (at least 1) and N + 1 greedy tokens; its
#              generation_tokens_per_s (the N tokens after the first), with
#              flash attention off (the golden outputs' setting, and the
#              decode order nib reproduces) and on (llama.cpp's CPU default).
# The engines alternate, one repetition each per round; t/s is the mean over
# the rounds, the ratios the median of the rounds' ratios.
#
#   bench/depth.sh [-n 32] [-r 2] [-t 2] [--depths "0 512 1024 2048 4096"] [--type Q4_0]
#                  [--out bench/RESULTS-depth.md]
set -euo pipefail
cd "$(dirname "$0")/.."
N=32 R=2 T=2 DEPTHS="0 512 1024 2048 4096" TY=Q4_0 OUTFILE=bench/RESULTS-depth.md
while [ $# -gt 0 ]; do
  case "$1" in
    -n) N=$2; shift 2 ;; -r) R=$2; shift 2 ;; -t) T=$2; shift 2 ;;
    --depths) DEPTHS=$2; shift 2 ;; --type) TY=$2; shift 2 ;; --out) OUTFILE=$2; shift 2 ;;
    *) echo "usage: bench/depth.sh [-n N] [-r R] [-t T] [--depths \"0 512 ...\"] [--type Q4_0] [--out FILE]" >&2; exit 2 ;;
  esac
done
SHARED=${NIB_SHARED_DIR:-../shared}
REF=${LLAMAREF:-$SHARED/ref/llamaref.mjs}
B=${NIB_BUILD_DIR:-build}
if ! command -v node >/dev/null || [ ! -d "$(dirname "$REF")/node_modules" ]; then
  echo "bench/depth.sh: llamaref not installed ($REF); run npm install in a writable copy of $SHARED/ref and set LLAMAREF" >&2
  exit 1
fi
cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=Release >/dev/null && cmake --build "$B" -j --target nib_cli >/dev/null
mkdir -p "$B/bench-models" "$B/bench-depth"
out="$B/bench-depth"
m="$B/bench-models/tinyllama-1.1b-$TY.gguf"
[ -f "$m" ] || { echo "nib synth tinyllama-1.1b $TY ..." >&2; "$B/nib" synth --preset tinyllama-1.1b --type "$TY" -o "$m"; }
for D in $DEPTHS; do
  ids=$(python3 -c "import random; random.seed($D); print(','.join(str(random.randrange(100, 31000)) for _ in range(max($D, 1))))")
  for r in $(seq "$R"); do
    echo "bench/depth.sh: depth $D, round $r of $R" >&2
    "$B/nib" bench -m "$m" -t "$T" -p 0 -n "$N" -d "$D" -r 1 -o json 2>/dev/null > "$out/nib-$D-$r.json"
    for fa in off on; do
      node "$REF" generate -m "$m" --tokens "$ids" -n $((N + 1)) --ignore-eos --temp 0 -t "$T" --fa $fa 2>/dev/null \
        > "$out/ref-$fa-$D-$r.json"
    done
  done
done
python3 - "$out" "$OUTFILE" "$N" "$R" "$T" "$TY" "$(git rev-parse --short HEAD)" $DEPTHS <<'EOF'
import json, statistics, sys, datetime, os
out, outfile, n, reps, t, ty, commit = sys.argv[1:8]
depths = [int(d) for d in sys.argv[8:]]
reps = int(reps)
def nib(d, r): return json.load(open(f"{out}/nib-{d}-{r}.json"))[0]["avg_ts"]
def ref(fa, d, r): return json.load(open(f"{out}/ref-{fa}-{d}-{r}.json"))["timings"]["generation_tokens_per_s"]
lines = ["# Decode speed against context depth", "",
         f"Measured {datetime.datetime.now():%Y-%m-%d %H:%M} by `bench/depth.sh -n {n} -r {reps} -t {t} --type {ty}` at nib {commit}, "
         f"{t} thread(s). Model: synthetic `nib synth --preset tinyllama-1.1b --type {ty}` (22 layers, 32 query heads "
         "sharing 4 K/V heads, head dim 64, F16 KV cache).",
         f"nib: `nib bench -p 0 -n {n} -d D` (tg{n} after D tokens in the KV cache). llama.cpp: v0.5.0 prebuilt CPU binary via "
         f"`llamaref.mjs generate` with a prompt of D random token ids and {n} timed greedy tokens after the first, flash "
         "attention off (the golden outputs' setting, whose decode order nib reproduces bit for bit) and on (llama.cpp's CPU default). "
         f"The engines alternate, one repetition each per round ({reps} rounds): t/s is the mean, the ratios the median of the rounds'.", "",
         "| depth D | nib t/s | llama.cpp t/s, FA off | llama.cpp t/s, FA on | nib / llama.cpp FA off | nib / llama.cpp FA on |",
         "| ---: | ---: | ---: | ---: | ---: | ---: |"]
for d in depths:
    rs = range(1, reps + 1)
    a = [nib(d, r) for r in rs]; b = [ref("off", d, r) for r in rs]; c = [ref("on", d, r) for r in rs]
    lines.append(f"| {d} | {statistics.mean(a):.2f} | {statistics.mean(b):.2f} | {statistics.mean(c):.2f} | "
                 f"{statistics.median(x / y for x, y in zip(a, b)):.2f}× | {statistics.median(x / y for x, y in zip(a, c)):.2f}× |")
open(outfile, "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
EOF
