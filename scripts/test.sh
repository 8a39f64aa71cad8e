#!/usr/bin/env bash
# Installs dependencies, builds nib and runs every test: the release build,
# the same suite under AddressSanitizer + UndefinedBehaviorSanitizer, and a
# short libFuzzer run of the GGUF reader over its seed corpus.
# Expects the shared fixtures in ../shared (or $NIB_SHARED_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."

jobs=$(nproc 2>/dev/null || echo 2)
scripts/install-deps.sh

step() { printf '\n== %s\n' "$*"; }

step "release build"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$jobs"
step "tests (release)"
ctest --test-dir build --output-on-failure -j"$jobs"

step "sanitizer build (ASan + UBSan)"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNIB_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$jobs"
step "tests (ASan + UBSan)"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure -j"$jobs"

step "fuzz smoke (libFuzzer, clang)"
cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNIB_FUZZ=ON -DNIB_TESTS=OFF \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ >/dev/null
cmake --build build-fuzz -j"$jobs" --target fuzz_gguf fuzz_tokenize
mkdir -p build-fuzz/corpus build-fuzz/corpus-tok
build-fuzz/fuzz_gguf -runs=200000 -max_len=65536 -seed=1 build-fuzz/corpus tests/fuzz/corpus
NIB_FUZZ_VOCAB_DIR="${NIB_SHARED_DIR:-../shared}/models/vocab" \
  build-fuzz/fuzz_tokenize -runs=20000 -max_len=512 -seed=1 build-fuzz/corpus-tok tests/fuzz/corpus-tok

step "all tests passed"
