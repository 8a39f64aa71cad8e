#!/usr/bin/env bash
# Builds llama-quantize-ref against llama.cpp's prebuilt libraries from an
# installed copy of ../shared/ref (as scripts/llama-dump/build.sh does).
#   scripts/llama-quantize-ref/build.sh REF_DIR [OUT_BINARY]
set -euo pipefail
ref=${1:?usage: build.sh REF_DIR [OUT_BINARY]}
out=${2:-build/llama-quantize-ref}
bins="$ref/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64"
src="$ref/llama.cpp-src"
[ -d "$src" ] || git -c advice.detachedHead=false clone -q "$ref/node_modules/node-llama-cpp/llama/gitRelease.bundle" "$src"
mkdir -p "$(dirname "$out")"
g++ -O1 -o "$out" "$(dirname "$0")/llama-quantize-ref.cpp" -I"$src/include" -I"$src/ggml/include" \
  "$bins"/libllama.v*.so "$bins"/libggml.v*.so "$bins/libggml-base.so" -Wl,-rpath,"$bins"
echo "$out"
