#!/usr/bin/env bash
# Builds imatrix-vs-llama (see the head of imatrix-vs-llama.cpp) against the
# prebuilt llama.cpp libraries of an installed copy of ../shared/ref (as
# scripts/llama-dump/build.sh does) and nib's build/libnib.a + tools/imatrix.c.
#   scripts/imatrix-vs-llama/build.sh REF_DIR [OUT_BINARY]
set -euo pipefail
ref=${1:?usage: build.sh REF_DIR [OUT_BINARY]}
out=${2:-build/imatrix-vs-llama}
root=$(cd "$(dirname "$0")/../.." && pwd)
bins="$ref/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64"
src="$ref/llama.cpp-src"
[ -d "$src" ] || git -c advice.detachedHead=false clone -q "$ref/node_modules/node-llama-cpp/llama/gitRelease.bundle" "$src"
mkdir -p "$(dirname "$out")"
obj=$(mktemp -d)
trap 'rm -rf "$obj"' EXIT
gcc -O1 -c -I"$root/include" "$root/tools/imatrix.c" -o "$obj/imatrix.o"
gcc -O1 -c -I"$root/include" "$root/tools/cli_util.c" -o "$obj/cli_util.o"
g++ -O1 -std=c++17 -o "$out" "$(dirname "$0")/imatrix-vs-llama.cpp" "$obj/imatrix.o" "$obj/cli_util.o" \
  -I"$root" -I"$root/include" -I"$src/include" -I"$src/common" -I"$src/ggml/include" \
  "$root/build/libnib.a" "$bins"/libllama-common.so "$bins"/libllama.v*.so "$bins"/libggml.v*.so "$bins/libggml-base.so" \
  -Wl,-rpath,"$bins" -fopenmp -lpcre2-8 -lm
echo "$out"
