# Cross toolchain: aarch64 Linux with Debian's gcc-aarch64-linux-gnu and its
# multiarch libraries (the :arm64 -dev packages scripts/install-deps.sh adds).
# Binaries run on x86 under qemu-user with the arm64 multiarch runtime
# (libc6:arm64, libstdc++6:arm64, libgomp1:arm64): plain `qemu-aarch64 BIN`.
# Not `-L /usr/aarch64-linux-gnu`: with libc6:arm64 installed (the :arm64 -dev
# packages pull it in), the loader from that sysroot (libc6-arm64-cross) would
# load /lib/aarch64-linux-gnu/libc.so.6 of another build, and the mismatched
# pair hangs in the first pthread_create.
#   cmake -S . -B build-aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
# Libraries and headers from /usr/lib/aarch64-linux-gnu and /usr/include (the
# compiler's own multiarch search paths); programs from the host.
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
# pkg-config must read the arm64 .pc files, never the host's.
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig)
set(ENV{PKG_CONFIG_PATH} "")
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64)
