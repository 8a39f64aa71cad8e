#!/usr/bin/env bash
# CPU end-to-end benchmark, nib against llama.cpp in one run, written to
# bench/RESULTS.md: synthetic TinyLlama-1.1B (nib synth) in Q4_0, Q8_0 and
# Q4_K_M, at each thread count, ppP and tgN for both engines (llama.cpp via
# ../shared/ref/llamaref.mjs bench, same file, same threads), their ratio, and
# the decode's weight bandwidth against the machine's read bandwidth measured
# here (bench/membw.c) in the same run.
#
# --preset picks another `nib synth` shape (e.g. mixtral-mini, qwen3moe-mini
# for MoE: their decode reads the routed experts only, and GB/s counts those)
# and --out another results file.
#
#   bench/cpu.sh [-p 512] [-n 128] [-r 3] [-t "1 2"] [--types "Q4_0 Q8_0 Q4_K_M"]
#                [--preset tinyllama-1.1b] [--out bench/RESULTS.md] [--nib-only]
set -euo pipefail
cd "$(dirname "$0")/.."
P=512 N=128 R=3 THREADS="1 2" TYPES="Q4_0 Q8_0 Q4_K_M" NIB_ONLY=0 PRESET=tinyllama-1.1b OUTFILE=bench/RESULTS.md
while [ $# -gt 0 ]; do
  case "$1" in
    -p) P=$2; shift 2 ;; -n) N=$2; shift 2 ;; -r) R=$2; shift 2 ;; -t) THREADS=$2; shift 2 ;;
    --types) TYPES=$2; shift 2 ;; --nib-only) NIB_ONLY=1; shift ;;
    --preset) PRESET=$2; shift 2 ;; --out) OUTFILE=$2; shift 2 ;;
    *) echo "usage: bench/cpu.sh [-p P] [-n N] [-r R] [-t \"1 2\"] [--types \"Q4_0 ...\"] [--preset NAME] [--out FILE] [--nib-only]" >&2; exit 2 ;;
  esac
done
SHARED=${NIB_SHARED_DIR:-../shared}
REF=${LLAMAREF:-$SHARED/ref/llamaref.mjs}
B=${NIB_BUILD_DIR:-build}
if [ "$NIB_ONLY" = 0 ] && { ! command -v node >/dev/null || [ ! -d "$(dirname "$REF")/node_modules" ]; }; then
  echo "bench/cpu.sh: llamaref not installed ($REF); run npm install in a writable copy of $SHARED/ref and set LLAMAREF, or use --nib-only" >&2
  exit 1
fi
cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=Release >/dev/null && cmake --build "$B" -j --target nib_cli >/dev/null
mkdir -p "$B/bench-models" "$B/bench-cpu"
cc -O2 -fopenmp bench/membw.c -o "$B/bench-cpu/membw"
out="$B/bench-cpu"
rows=()
for T in $THREADS; do
  bw=$("$out/membw" -t "$T" -s 1024 -r 5 --json | sed 's/.*"read_gbps": \([0-9.]*\).*/\1/')
  echo "read bandwidth, $T thread(s): $bw GB/s" >&2
  for TY in $TYPES; do
    m="$B/bench-models/$PRESET-$TY.gguf"
    [ -f "$m" ] || { echo "nib synth $PRESET $TY ..." >&2; "$B/nib" synth --preset "$PRESET" --type "$TY" -o "$m"; }
    "$B/nib" bench -m "$m" -t "$T" -p "$P" -n "$N" -r "$R" -o json > "$out/nib-$TY-$T.json"
    if [ "$NIB_ONLY" = 0 ]; then
      node "$REF" bench -m "$m" -t "$T" -p "$P" -n "$N" -r "$R" -o json 2>/dev/null > "$out/ref-$TY-$T.json"
    else
      echo '[]' > "$out/ref-$TY-$T.json"
    fi
    rows+=("$TY $T $bw")
  done
done
python3 - "$out" "$P" "$N" "$R" "$PRESET" "${rows[@]}" > "$OUTFILE" <<'PY'
import json, sys, datetime, platform, subprocess
out, P, N, R, preset = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
rows = [r.split() for r in sys.argv[6:]]
cpu = next((l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name')), platform.processor())
commit = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], capture_output=True, text=True).stdout.strip()
print(f"# CPU benchmark results\n")
print(f"Measured {datetime.datetime.now():%Y-%m-%d %H:%M} by `bench/cpu.sh -p {P} -n {N} -r {R} --preset {preset}` at nib {commit} on {cpu}.")
print(f"Model: synthetic `nib synth --preset {preset}`. llama.cpp: v0.5.0 prebuilt CPU binary via")
print("`../shared/ref/llamaref.mjs bench` (same file, same threads). t/s: mean ± sd over the repetitions.")
print("GB/s: weight bytes one decode step reads × tokens/s (MoE: the routed experts' bytes, not all experts');")
print("% of the read bandwidth `bench/membw.c` measured in the same run.")
variants = sorted({r.get('kernels', '?') for ty, t, bw in rows for r in json.load(open(f"{out}/nib-{ty}-{t}.json"))})
print(f"nib's CPU kernel variant: {', '.join(variants)} (`NIB_CPU` picks another).\n")
print("| type | threads | test | nib t/s | llama.cpp t/s | nib / llama.cpp | nib decode GB/s | % of read bandwidth |")
print("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |")
for ty, t, bw in rows:
    nib = {r['test']: r for r in json.load(open(f"{out}/nib-{ty}-{t}.json"))}
    ref = {r['test']: r for r in json.load(open(f"{out}/ref-{ty}-{t}.json"))}
    for test, r in nib.items():
        f = ref.get(test)
        ratio = f"{r['avg_ts'] / f['avg_ts']:.2f}×" if f else "—"
        reft = f"{f['avg_ts']:.2f} ± {f['stddev_ts']:.2f}" if f else "—"
        gbs = r.get('decode_gbps')
        print(f"| {ty} | {t} | {test} | {r['avg_ts']:.2f} ± {r['stddev_ts']:.2f} | {reft} | {ratio} | "
              f"{gbs:.2f} | {100 * gbs / float(bw):.0f}% of {float(bw):.1f} |" if gbs else
              f"| {ty} | {t} | {test} | {r['avg_ts']:.2f} ± {r['stddev_ts']:.2f} | {reft} | {ratio} | | |")
PY
cat "$OUTFILE"
