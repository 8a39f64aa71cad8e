#!/usr/bin/env bash
# Installs dependencies, builds nib and runs every test: the release build,
# nib serve against the openai npm package (node --test),
# the same suite under AddressSanitizer + UndefinedBehaviorSanitizer, and a
# short libFuzzer run of the GGUF reader over its seed corpus.
# Expects the shared fixtures in ../shared (or $NIB_SHARED_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."

jobs=$(nproc 2>/dev/null || echo 2)
# ctest runs $jobs test processes at once, each with an OpenMP team: idle
# workers that spin would steal the cores the others need (seen: 20x slower).
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
scripts/install-deps.sh

step() { printf '\n== %s\n' "$*"; }

step "release build"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$jobs"
step "tests (release)"
ctest --test-dir build --output-on-failure -j"$jobs"

step "openai SDK tests (node)"
# nib serve against the real openai npm package, the version pinned in
# tests/openai/package-lock.json; the tests start their own servers.
npm ci --prefix tests/openai --no-audit --no-fund --loglevel=error
NIB_CLI=build/nib node --test tests/openai/serve.test.mjs

step "aarch64 NEON kernel tests (cross build, run under qemu-user)"
# Only the kernel suite (target nib_kernel_tests), against GoogleTest built for
# aarch64 from Debian's source (/usr/src/googletest). qemu's default CPU has
# the dot-product instructions; a Cortex-A53 has not, so the two runs cover
# both integer paths. Fails if a neon test fails or is skipped.
a64=build-aarch64
toolchain="$PWD/cmake/aarch64-linux-gnu.cmake"
if [ ! -f "$a64/googletest-install/lib/cmake/GTest/GTestConfig.cmake" ]; then
  cmake -S /usr/src/googletest -B "$a64/googletest" -DCMAKE_TOOLCHAIN_FILE="$toolchain" -DCMAKE_BUILD_TYPE=Release \
    -DBUILD_GMOCK=OFF -DINSTALL_GTEST=ON -DCMAKE_INSTALL_PREFIX="$PWD/$a64/googletest-install" >/dev/null
  cmake --build "$a64/googletest" -j"$jobs" >/dev/null
  cmake --install "$a64/googletest" >/dev/null
fi
cmake -S . -B "$a64/nib" -DCMAKE_TOOLCHAIN_FILE="$toolchain" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$PWD/$a64/googletest-install" >/dev/null
cmake --build "$a64/nib" -j"$jobs" --target nib_kernel_tests
# -cpu max: NIB_CPU unset (auto must pick neon); -cpu cortex-a53: NIB_CPU=neon.
for cpu in max cortex-a53; do
  [ "$cpu" = max ] && want_env="" || want_env=neon
  log="$a64/kernel-tests-$cpu.log"
  echo "-- qemu-aarch64 -cpu $cpu, NIB_CPU=${want_env:-(unset)}"
  if ! NIB_CPU="$want_env" qemu-aarch64 -cpu "$cpu" "$a64/nib/nib_kernel_tests" >"$log" 2>&1; then
    cat "$log"
    echo "aarch64 kernel tests failed (-cpu $cpu); log: $log" >&2
    exit 1
  fi
  grep -E 'variant in use|neon +[A-Za-z0-9_]+: worst|tests? from .* ran|PASSED' "$log"
  if ! grep -q 'OK \] Kernels/KernelVariant\..*/neon' "$log" || grep -q 'SKIPPED \].*/neon' "$log"; then
    echo "aarch64 kernel tests: the neon instances did not run (-cpu $cpu); log: $log" >&2
    exit 1
  fi
done

step "CUDA build (-DNIB_CUDA=ON, sm_75) and its tests"
# Every .cu file compiles (so a CUDA build break cannot land) and the CUDA
# tests run: on a machine without a GPU they check the no-device answers and
# skip the kernel tests, saying so.
nvcc=$(command -v nvcc || true)
[ -z "$nvcc" ] && [ -x /usr/local/cuda/bin/nvcc ] && nvcc=/usr/local/cuda/bin/nvcc
if [ -n "$nvcc" ]; then
  cmake -S . -B build-cuda -DCMAKE_BUILD_TYPE=Release -DNIB_CUDA=ON -DCMAKE_CUDA_COMPILER="$nvcc" \
    -DCMAKE_CUDA_ARCHITECTURES=75 >/dev/null
  if ! cmake --build build-cuda -j"$jobs" --target nib_tests >build-cuda/build.log 2>&1; then
    tail -60 build-cuda/build.log
    echo "CUDA build failed; log: build-cuda/build.log" >&2
    exit 1
  fi
  if ! build-cuda/nib_tests --gtest_filter='Cuda*' >build-cuda/cuda-tests.log 2>&1; then
    cat build-cuda/cuda-tests.log
    echo "CUDA tests failed; log: build-cuda/cuda-tests.log" >&2
    exit 1
  fi
  grep -E '^\[  (PASSED|SKIPPED) +\] [0-9]+ tests?|compute [0-9]' build-cuda/cuda-tests.log || true
  grep -m1 -o 'no CUDA device[^[]*' build-cuda/cuda-tests.log || true
else
  echo "no CUDA toolkit (nvcc) on this machine: the CUDA build is not checked here"
fi

step "sanitizer build (ASan + UBSan)"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNIB_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$jobs"
step "tests (ASan + UBSan)"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure -j"$jobs"

step "fuzz smoke (libFuzzer, clang)"
cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNIB_FUZZ=ON -DNIB_TESTS=OFF \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ >/dev/null
cmake --build build-fuzz -j"$jobs" --target fuzz_gguf fuzz_tokenize fuzz_serve_request
mkdir -p build-fuzz/corpus build-fuzz/corpus-tok build-fuzz/corpus-serve
build-fuzz/fuzz_gguf -runs=200000 -max_len=65536 -seed=1 build-fuzz/corpus tests/fuzz/corpus
NIB_FUZZ_VOCAB_DIR="${NIB_SHARED_DIR:-../shared}/models/vocab" \
  build-fuzz/fuzz_tokenize -runs=20000 -max_len=512 -seed=1 build-fuzz/corpus-tok tests/fuzz/corpus-tok
build-fuzz/fuzz_serve_request -runs=200000 -max_len=4096 -seed=1 build-fuzz/corpus-serve tests/fuzz/corpus-serve

step "all tests passed"
