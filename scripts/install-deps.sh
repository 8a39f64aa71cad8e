#!/usr/bin/env bash
# Installs the Debian packages nib needs to build and test. Idempotent: when
# everything is already there it only runs dpkg-query and exits quietly.
set -euo pipefail

packages=(
  build-essential cmake pkg-config   # toolchain
  libcjson-dev                       # JSON (inspect --json, golden files in tests)
  libgtest-dev                       # tests
  libssl-dev                         # sha256 in tests (OpenSSL libcrypto)
  libpcre2-dev                       # BPE pre-tokenizer regexes
  clang libclang-rt-14-dev libomp-dev # libFuzzer targets (NIB_FUZZ=ON; OpenMP for clang)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
