#!/usr/bin/env bash
# Prepares the CUDA checks for a session lent a GPU machine (the `device`
# tool): that machine has CUDA but not nib's Debian libraries, and its
# minutes are few, so everything is built here. Builds nib_tests and nib
# with -DNIB_CUDA=ON for sm_90 (H100/H200; pass other architectures as $1)
# into build-device/, and copies them with the shared libraries they need
# (all but glibc's and the CUDA driver's) into .device/ (git-ignored), to be
# carried and run there with:
#   run(command="LD_LIBRARY_PATH=.device/lib:/usr/local/cuda/lib64 .device/nib_tests --gtest_filter='Cuda*'",
#       carry=[".device"])
set -euo pipefail
cd "$(dirname "$0")/.."
arch=${1:-90}
nvcc=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
cmake -S . -B build-device -DCMAKE_BUILD_TYPE=Release -DNIB_CUDA=ON -DCMAKE_CUDA_COMPILER="$nvcc" \
  -DCMAKE_CUDA_ARCHITECTURES="$arch" >/dev/null
cmake --build build-device -j"$(nproc)" --target nib_tests nib_cli
rm -rf .device
mkdir -p .device/lib
cp build-device/nib_tests build-device/nib .device/
grep -qx '/.device/' .git/info/exclude 2>/dev/null || echo '/.device/' >>.git/info/exclude
for bin in .device/nib_tests .device/nib; do
  ldd "$bin" | awk '/=> \// { print $3 }' | while read -r lib; do
    case "$(basename "$lib")" in
      libc.so*|libm.so*|libpthread.so*|libdl.so*|librt.so*|ld-linux*|libcuda.so*) ;;
      libcublas*) ;; # ~500 MB; the GPU machine's CUDA toolkit has them (/usr/local/cuda/lib64)
      *) cp -Lu "$lib" .device/lib/ ;;
    esac
  done
done
du -sh .device
echo "carry .device; run: LD_LIBRARY_PATH=.device/lib:/usr/local/cuda/lib64 .device/nib_tests --gtest_filter='Cuda*'"
