#!/usr/bin/env bash
# Builds ggml-quant-expected against the prebuilt libggml-base of an installed
# copy of ../shared/ref (as scripts/llama-dump/build.sh does), then
#   build/ggml-quant-expected > tests/quant_imatrix_expected.h
#   scripts/ggml-quant-expected/build.sh REF_DIR [OUT_BINARY]
set -euo pipefail
ref=${1:?usage: build.sh REF_DIR [OUT_BINARY]}
out=${2:-build/ggml-quant-expected}
bins="$ref/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64"
src="$ref/llama.cpp-src"
[ -d "$src" ] || git -c advice.detachedHead=false clone -q "$ref/node_modules/node-llama-cpp/llama/gitRelease.bundle" "$src"
mkdir -p "$(dirname "$out")"
gcc -O1 -ffp-contract=off -Wno-deprecated-declarations -o "$out" "$(dirname "$0")/ggml-quant-expected.c" \
  -I"$src/ggml/include" "$bins/libggml-base.so" -Wl,-rpath,"$bins" -lcrypto -lm
echo "$out"
