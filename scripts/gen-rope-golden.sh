#!/usr/bin/env bash
# Developer tool (not run by CI): llama.cpp's logits on RoPE variants of
# stories260K-f32 (linear scaling, YaRN, Llama 3 frequency factors, another
# base), written to tests/data/rope/<variant>.json for test_rope_variants.cc,
# which rebuilds the same variants with nib's GGUF writer.
# Needs: build/libnib.a, node, ../shared/ref installed (see its README).
set -euo pipefail
cd "$(dirname "$0")/.."
REF=${NIB_REF:-../shared/ref/llamaref.mjs}
M=${NIB_SHARED_DIR:-../shared}/models/stories260K/stories260K-f32.gguf
PROMPT="Once upon a time, there was a little girl named Lily who loved the park"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cc -O2 -Iinclude scripts/gguf-edit.c build/libnib.a -lpcre2-8 -lm -fopenmp -o "$tmp/gguf-edit"
declare -A edits=(
  [linear]="llama.rope.scaling.type=str:linear llama.rope.scaling.factor=f32:2"
  [yarn]="llama.rope.scaling.type=str:yarn llama.rope.scaling.factor=f32:4 llama.rope.scaling.original_context_length=u32:512"
  [freqs]="--tensor rope_freqs.weight=1,2,4,8"
  [base]="llama.rope.freq_base=f32:5000"
)
for v in "${!edits[@]}"; do
  # shellcheck disable=SC2086
  "$tmp/gguf-edit" "$M" "$tmp/$v.gguf" ${edits[$v]}
  node "$REF" logits -m "$tmp/$v.gguf" -p "$PROMPT" -k 5 --all --fa off 2>/dev/null > "tests/data/rope/$v.json"
  echo "tests/data/rope/$v.json"
done
