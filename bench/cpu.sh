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
# The host's speed drifts by 10-20% over minutes: the two engines alternate,
# one repetition each per round, and the ratio is the median of the rounds'
# ratios. The read bandwidth is the best of the measurements taken before
# and after each thread count's runs (the physical limit).
for T in $THREADS; do
  bw=$("$out/membw" -t "$T" -s 1024 -r 5 --json | sed 's/.*"read_gbps": \([0-9.]*\).*/\1/')
  for TY in $TYPES; do
    m="$B/bench-models/$PRESET-$TY.gguf"
    [ -f "$m" ] || { echo "nib synth $PRESET $TY ..." >&2; "$B/nib" synth --preset "$PRESET" --type "$TY" -o "$m"; }
    for r in $(seq "$R"); do
      echo "bench/cpu.sh: $TY, $T thread(s), round $r of $R" >&2
      "$B/nib" bench -m "$m" -t "$T" -p "$P" -n "$N" -r 1 -o json > "$out/nib-$TY-$T-$r.json"
      if [ "$NIB_ONLY" = 0 ]; then
        node "$REF" bench -m "$m" -t "$T" -p "$P" -n "$N" -r 1 -o json 2>/dev/null > "$out/ref-$TY-$T-$r.json"
      else
        echo '[]' > "$out/ref-$TY-$T-$r.json"
      fi
    done
    rows+=("$TY $T")
  done
  bw2=$("$out/membw" -t "$T" -s 1024 -r 5 --json | sed 's/.*"read_gbps": \([0-9.]*\).*/\1/')
  bw=$(python3 -c "print(max($bw, $bw2))")
  echo "read bandwidth, $T thread(s): $bw GB/s (best of before and after)" >&2
  rows=("${rows[@]/%/ $T:$bw}")
done
# a "## GPU" section at the end (bench/RESULTS.md's CUDA numbers, measured on a device) is kept
gpu_section=""
[ -f "$OUTFILE" ] && gpu_section=$(sed -n '/^## GPU/,$p' "$OUTFILE")
python3 - "$out" "$P" "$N" "$R" "$PRESET" "${rows[@]}" > "$OUTFILE" <<'PY'
import json, sys, datetime, platform, statistics, subprocess
out, P, N, R, preset = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
rows = []
for r in sys.argv[6:]:  # "TYPE T T1:bw1 T2:bw2 ...": the bandwidth of this row's thread count
    f = r.split()
    bw = dict(x.split(':') for x in f[2:])
    rows.append((f[0], f[1], float(bw[f[1]])))
cpu = next((l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name')), platform.processor())
commit = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], capture_output=True, text=True).stdout.strip()
def runs(engine, ty, t):
    """test -> list of t/s, one per round"""
    res = {}
    for r in range(1, R + 1):
        for x in json.load(open(f"{out}/{engine}-{ty}-{t}-{r}.json")):
            res.setdefault(x['test'], []).append(x)
    return res
def ms(v):
    return f"{statistics.mean(v):.2f} ± {statistics.stdev(v) if len(v) > 1 else 0:.2f}"
print(f"# CPU benchmark results\n")
print(f"Measured {datetime.datetime.now():%Y-%m-%d %H:%M} by `bench/cpu.sh -p {P} -n {N} -r {R} --preset {preset}` at nib {commit} on {cpu}.")
print(f"Model: synthetic `nib synth --preset {preset}`. llama.cpp: v0.5.0 prebuilt CPU binary via")
print("`../shared/ref/llamaref.mjs bench` (same file, same threads). The engines alternate, one repetition each per")
print(f"round ({R} rounds): t/s is mean ± sd over the rounds, nib / llama.cpp the median of the rounds' ratios.")
print("GB/s: weight bytes one decode step reads × tokens/s (MoE: the routed experts' bytes, not all experts');")
print("% of the read bandwidth `bench/membw.c` measured in the same run (best of before and after).")
variants = sorted({x[0].get('kernels', '?') for ty, t, bw in rows for x in runs('nib', ty, t).values()})
print(f"nib's CPU kernel variant: {', '.join(variants)} (`NIB_CPU` picks another).\n")
print("| type | threads | test | nib t/s | llama.cpp t/s | nib / llama.cpp | nib decode GB/s | % of read bandwidth |")
print("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |")
for ty, t, bw in rows:
    nib, ref = runs('nib', ty, t), runs('ref', ty, t)
    for test, rs in nib.items():
        v = [x['avg_ts'] for x in rs]
        fs = ref.get(test)
        if fs:
            w = [x['avg_ts'] for x in fs]
            ratio, reft = f"{statistics.median(a / b for a, b in zip(v, w)):.2f}×", ms(w)
        else:
            ratio, reft = "—", "—"
        g = [x['decode_gbps'] for x in rs if x.get('decode_gbps')]
        tail = f"{statistics.mean(g):.2f} | {100 * statistics.mean(g) / bw:.0f}% of {bw:.1f} |" if g else " | |"
        print(f"| {ty} | {t} | {test} | {ms(v)} | {reft} | {ratio} | {tail}")
PY
[ -n "$gpu_section" ] && printf '\n%s\n' "$gpu_section" >>"$OUTFILE"
cat "$OUTFILE"
