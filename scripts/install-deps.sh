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
  libedit-dev                        # nib chat: line editing and history
  libmicrohttpd-dev                  # nib serve: HTTP server
  zlib1g-dev                         # CRC32 checksums, .gz text for nib perplexity
  libcurl4-openssl-dev               # tests: HTTP client for nib serve
  nodejs                             # tests: nib serve against the openai npm package (node --test)
  python3 python3-jinja2 tmux        # tests: chat templates against real Jinja2; nib chat in a terminal
  clang libclang-rt-14-dev libomp-dev # libFuzzer targets (NIB_FUZZ=ON; OpenMP for clang)
  # NEON kernel tests: aarch64 cross build (cmake/aarch64-linux-gnu.cmake) run
  # under qemu-user; its libraries and runtime come from Debian's arm64
  # multiarch packages (the architecture is added below).
  gcc-aarch64-linux-gnu g++-aarch64-linux-gnu qemu-user
  libpcre2-dev:arm64 libssl-dev:arm64 libcjson-dev:arm64 libgomp1:arm64 libstdc++6:arm64
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Debian ships npm apart from nodejs; NodeSource's nodejs package bundles it
# (and conflicts with Debian's npm), so ask for npm only when there is none.
command -v npm >/dev/null 2>&1 || missing+=(npm)
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  $SUDO dpkg --add-architecture arm64
fi
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
