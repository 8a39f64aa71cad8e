#!/usr/bin/env bash
# nib quantize against llama.cpp's own quantizer (llama_model_quantize from the
# prebuilt libllama of ../shared/ref) on F32 models nib synth makes of shapes
# the shared fixtures lack, for every file type nib writes: the two output
# files must be identical byte for byte; then the same with a random
# importance matrix (scripts/make-imatrix-dat.py, legacy format) given to
# both, Q2_K_S included. A developer check (needs an installed copy of
# ../shared/ref), not part of the test command.
#   scripts/quantize-vs-llama.sh REF_DIR [WORK_DIR]
set -euo pipefail
ref=${1:?usage: quantize-vs-llama.sh REF_DIR [WORK_DIR]}
work=${2:-/tmp/nib-quantize-vs-llama}
cd "$(dirname "$0")/.."
nib=build/nib
llq=build/llama-quantize-ref
[ -x "$llq" ] || scripts/llama-quantize-ref/build.sh "$ref" "$llq" >/dev/null
mkdir -p "$work"
shapes=(
  "mixtral8|--n-embd 256 --n-layer 3 --n-head 4 --n-head-kv 1 --n-ff 512 --n-vocab 300 --n-expert 8 --n-expert-used 2"
  "deep80|--n-embd 256 --n-layer 80 --n-head 8 --n-head-kv 1 --n-ff 256 --n-vocab 300"
  "odd-tied|--n-embd 96 --n-layer 3 --n-head 4 --n-head-kv 2 --n-ff 160 --n-vocab 300 --tied"
  "qwen2|--arch qwen2 --n-embd 256 --n-layer 4 --n-head 4 --n-head-kv 2 --n-ff 768 --n-vocab 300"
  "qwen3|--arch qwen3 --n-embd 256 --n-layer 3 --n-head 4 --n-head-kv 2 --head-dim 96 --n-ff 512 --n-vocab 300"
  "qwen3moe|--preset qwen3moe-mini --n-layer 2 --n-vocab 300"
  "llama9|--n-embd 512 --n-layer 9 --n-head 8 --n-head-kv 8 --n-ff 1408 --n-vocab 300"
)
compare() { # $1: label suffix, $2: extra option for both quantizers ("" or an imatrix file)
types="$3"
printf '| shape%s | %s |\n|---|%s\n' "$1" "$(for t in $types; do printf '%s | ' "${t%%:*}"; done | sed 's/ | $//')" "$(for t in $types; do printf -- '---|'; done)"
for s in "${shapes[@]}"; do
  name=${s%%|*} args=${s#*|}
  src="$work/$name-f32.gguf"
  # shellcheck disable=SC2086
  [ -f "$src" ] || $nib synth -o "$src" --type F32 $args >/dev/null 2>&1
  extra=()
  if [ -n "$2" ]; then
    [ -f "$work/$name.dat" ] || python3 scripts/make-imatrix-dat.py "$src" "$work/$name.dat"
    extra=(--imatrix "$work/$name.dat")
  fi
  row="| $name |"
  for t in $types; do
    tn=${t%%:*} id=${t##*:}
    rm -f "$work/nib.gguf" "$work/llama.gguf"
    $nib quantize "${extra[@]}" "$src" "$work/nib.gguf" "$tn" >/dev/null 2>&1
    "$llq" "$src" "$work/llama.gguf" "$id" "${extra[@]}" >/dev/null 2>&1
    if cmp -s "$work/nib.gguf" "$work/llama.gguf"; then row="$row = |"; same=$((same + 1)); else row="$row **differs** |"; diff=$((diff + 1)); fi
  done
  echo "$row"
done
echo
}
types="F32:0 F16:1 BF16:32 Q8_0:7 Q4_0:2 Q4_1:3 Q5_0:8 Q5_1:9 Q2_K:10 Q3_K_S:11 Q3_K_M:12 Q3_K_L:13 Q4_K_S:14 Q4_K_M:15 Q5_K_S:16 Q5_K_M:17 Q6_K:18"
same=0 diff=0
compare "" "" "$types"
compare " (--imatrix)" imatrix "Q8_0:7 Q4_0:2 Q4_1:3 Q5_0:8 Q5_1:9 Q2_K:10 Q2_K_S:21 Q3_K_S:11 Q3_K_M:12 Q3_K_L:13 Q4_K_S:14 Q4_K_M:15 Q5_K_S:16 Q5_K_M:17 Q6_K:18"
echo "identical files: $same, different: $diff"
[ "$diff" = 0 ]
