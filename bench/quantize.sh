#!/usr/bin/env bash
# nib quantize against llama.cpp's quantizer (llama_model_quantize from the
# prebuilt libllama of ../shared/ref, scripts/llama-quantize-ref) on the same
# F16 file, same thread count, one type after the other, in one run; written
# to bench/RESULTS-quantize.md. Wall time and peak RSS from /usr/bin/time,
# input MB/s, and whether the two outputs are byte-identical.
#   bench/quantize.sh REF_DIR [-m F16.gguf] [-t 2] [--types "Q8_0 Q4_0 Q4_K_M"]
set -euo pipefail
ref=${1:?usage: bench/quantize.sh REF_DIR [-m F16.gguf] [-t N] [--types "..."]}
shift
cd "$(dirname "$0")/.."
model="" threads=2 types="Q8_0 Q4_0 Q4_K_M Q6_K"
while [ $# -gt 0 ]; do
  case $1 in
    -m) model=$2; shift 2 ;; -t) threads=$2; shift 2 ;; --types) types=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
nib=build/nib llq=build/llama-quantize-ref work=${TMPDIR:-/tmp}/nib-bench-quantize
mkdir -p "$work"
scripts/llama-quantize-ref/build.sh "$ref" "$llq" >/dev/null
if [ -z "$model" ]; then
  model=$work/tinyllama-1.1b-F16.gguf
  [ -f "$model" ] || $nib synth --preset tinyllama-1.1b --type F16 -o "$model" >/dev/null 2>&1
fi
ftype() { case $1 in Q8_0) echo 7;; Q4_0) echo 2;; Q4_1) echo 3;; Q5_0) echo 8;; Q5_1) echo 9;; Q2_K) echo 10;; Q3_K_M) echo 12;;
  Q4_K_S) echo 14;; Q4_K_M) echo 15;; Q5_K_M) echo 17;; Q6_K) echo 18;; F16) echo 1;; BF16) echo 32;; *) echo "?"; esac; }
size_mb=$(( $(stat -c %s "$model") / 1048576 ))
cat "$model" >/dev/null # page cache warm for both
out=bench/RESULTS-quantize.md
{
  echo "# nib quantize vs llama.cpp's quantizer"
  echo
  echo "Measured $(date -u '+%Y-%m-%d %H:%M') by \`bench/quantize.sh\` at nib $(git rev-parse --short HEAD) on $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $threads threads."
  echo "Input: \`$(basename "$model")\` ($size_mb MiB). llama.cpp: \`llama_model_quantize\` of the prebuilt libllama (v0.5.0, de3ff81) through \`scripts/llama-quantize-ref\`, nthread $threads. Wall time and peak RSS by /usr/bin/time; one run each, alternating."
  echo
  echo "| type | nib s | llama.cpp s | nib / llama.cpp speed | nib MiB/s in | nib RSS MiB | llama.cpp RSS MiB | output identical |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
} >"$out"
for t in $types; do
  echo "quantize: $t ..." >&2
  rm -f "$work/nib.gguf" "$work/llama.gguf"
  /usr/bin/time -f "%e %M" -o "$work/t.nib" $nib quantize -t "$threads" "$model" "$work/nib.gguf" "$t" >/dev/null 2>&1
  /usr/bin/time -f "%e %M" -o "$work/t.llama" $llq "$model" "$work/llama.gguf" "$(ftype "$t")" --threads "$threads" >/dev/null 2>&1
  read -r ns nr <"$work/t.nib"
  read -r ls lr <"$work/t.llama"
  same=$(cmp -s "$work/nib.gguf" "$work/llama.gguf" && echo yes || echo NO)
  awk -v t="$t" -v ns="$ns" -v ls="$ls" -v nr="$nr" -v lr="$lr" -v mb="$size_mb" -v same="$same" \
    'BEGIN { printf "| %s | %.2f | %.2f | %.2fx | %.0f | %.0f | %.0f | %s |\n", t, ns, ls, ls / ns, mb / ns, nr / 1024, lr / 1024, same }' >>"$out"
done
rm -f "$work/nib.gguf" "$work/llama.gguf"
cat "$out"
