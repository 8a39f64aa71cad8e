#!/usr/bin/env bash
# Builds llama-dump (a developer tool, see README.md) against llama.cpp's
# prebuilt CPU libraries from an installed copy of ../shared/ref, and the
# headers of the same llama.cpp commit cloned from the bundle that package ships.
#   scripts/llama-dump/build.sh REF_DIR [OUT_BINARY]
# REF_DIR: a writable copy of ../shared/ref after `npm install`.
set -euo pipefail
ref=${1:?usage: build.sh REF_DIR [OUT_BINARY]}
out=${2:-build/llama-dump}
bins="$ref/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64"
src="$ref/llama.cpp-src"
[ -d "$src" ] || git -c advice.detachedHead=false clone -q "$ref/node_modules/node-llama-cpp/llama/gitRelease.bundle" "$src"
mkdir -p "$(dirname "$out")"
g++ -O1 -o "$out" "$(dirname "$0")/llama-dump.cpp" -I"$src/include" -I"$src/ggml/include" \
  "$bins"/libllama.v*.so "$bins"/libggml.v*.so "$bins/libggml-base.so" -Wl,-rpath,"$bins"
echo "$out (CPU variants in $bins)"
