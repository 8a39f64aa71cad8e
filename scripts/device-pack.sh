#!/usr/bin/env bash
# Prepares the CUDA checks for a session lent a GPU machine (the `device`
# tool): that machine has CUDA but not nib's Debian libraries, and its
# minutes are few, so everything is built here. Builds nib_tests and nib
# with -DNIB_CUDA=ON for sm_90 (H100/H200; pass other architectures as $1)
# into build-device/, and copies them with the shared libraries they need
# (all but glibc's and the CUDA driver's) into .device/ (git-ignored), to be
# carried and run there by scripts/device-check.sh:
#   run(command="bash scripts/device-check.sh", carry=[".device"])
set -euo pipefail
cd "$(dirname "$0")/.."
arch=${1:-90}
nvcc=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
cmake -S . -B build-device -DCMAKE_BUILD_TYPE=Release -DNIB_CUDA=ON -DCMAKE_CUDA_COMPILER="$nvcc" \
  -DCMAKE_CUDA_ARCHITECTURES="$arch" >/dev/null
cmake --build build-device -j"$(nproc)" --target nib_tests nib_cli bench_cuda_kernels
rm -rf .device
mkdir -p .device/lib
cp build-device/nib_tests build-device/nib build-device/bench/bench_cuda_kernels .device/
grep -qx '/.device/' .git/info/exclude 2>/dev/null || echo '/.device/' >>.git/info/exclude
for bin in .device/nib_tests .device/nib .device/bench_cuda_kernels; do
  ldd "$bin" | awk '/=> \// { print $3 }' | while read -r lib; do
    case "$(basename "$lib")" in
      libc.so*|libm.so*|libpthread.so*|libdl.so*|librt.so*|ld-linux*|libcuda.so*) ;;
      libcublas*) ;; # ~500 MB; the GPU machine's CUDA toolkit has them (/usr/local/cuda/lib64)
      *) cp -Lu "$lib" .device/lib/ ;;
    esac
  done
done
strip .device/nib_tests .device/nib .device/bench_cuda_kernels
# the dense fixture models for Cuda.GpuForwardMatchesTheCpuOnEveryDenseFixture
# (NIB_SHARED_DIR=.device/shared), MoE ones included: all but the largest F32/F16/Q8_0 copies, to fit
# the device tool's 64 MiB
shared=${NIB_SHARED_DIR:-../shared}
mkdir -p .device/shared/models/stories260K .device/shared/models/trained .device/shared/models/synth
cp "$shared"/models/stories260K/*.gguf .device/shared/models/stories260K/
for f in tiny-chat-q8_0 tiny-qwen2-q8_0 tiny-qwen3-f32 tiny-target-q8_0 tiny-llamamoe-q4km tiny-qwen3moe-q8_0; do
  cp "$shared/models/trained/$f.gguf" .device/shared/models/trained/
done
for f in "$shared"/models/synth/*.gguf; do
  case "$(basename "$f")" in
    *-f32.gguf|qwen2-f16.gguf|qwen3-f16.gguf|*moe-f16.gguf|llamamoe-q8_0.gguf) ;;
    *) cp "$f" .device/shared/models/synth/ ;;
  esac
done
# NIB_DEVICE_PATCH=FILE (a patch against HEAD, e.g. bench/experiments/*.patch; "none": HEAD as it is,
# to A/B the working tree against it): a second nib built with it applied, packed as .device/nib-b.xz;
# device-check.sh then runs each model's decode with both, alternated, and dumps both builds' SASS
if [ -n "${NIB_DEVICE_PATCH:-}" ]; then
  rm -rf build-device-b
  git worktree prune
  git worktree add -f build-device-b/src HEAD >/dev/null
  [ "$NIB_DEVICE_PATCH" = none ] || git -C build-device-b/src apply "$(realpath "$NIB_DEVICE_PATCH")"
  cmake -S build-device-b/src -B build-device-b/build -DCMAKE_BUILD_TYPE=Release -DNIB_CUDA=ON \
    -DCMAKE_CUDA_COMPILER="$nvcc" -DCMAKE_CUDA_ARCHITECTURES="$arch" >/dev/null
  cmake --build build-device-b/build -j"$(nproc)" --target nib_cli
  cp build-device-b/build/nib .device/nib-b
  strip .device/nib-b
  xz -9f .device/nib-b
  git worktree remove --force build-device-b/src
fi
# the libraries travel compressed (device-check.sh unpacks them): 20 MB -> ~7 MB
tar -C .device -cJf .device/lib.tar.xz lib && rm -rf .device/lib
du -sh .device
echo "carry .device; run: bash scripts/device-check.sh (its head says more)"
