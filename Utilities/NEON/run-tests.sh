#!/usr/bin/env bash
# Cross-compiles the C kernels (Sources/CWinnowKernels) and the NEON test driver for arm64 and
# runs the driver under qemu-aarch64 user-mode emulation, twice:
#   -cpu max         every extension, so the int8 GEMM takes SDOT (FEAT_DotProd)
#   -cpu cortex-a72  ARMv8.0, no dot product: the widening-multiply fallback
# Correctness only: emulated timings say nothing about arm64 hardware.
# Installs what it needs (Debian/Ubuntu): qemu-user, gcc-aarch64-linux-gnu, libc6-dev-arm64-cross.
# Compiles with clang (what SwiftPM uses) when present, and with the GNU cross compiler too.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"

need=()
command -v qemu-aarch64 >/dev/null || need+=(qemu-user)
command -v aarch64-linux-gnu-gcc >/dev/null || need+=(gcc-aarch64-linux-gnu)
[ -e /usr/aarch64-linux-gnu/lib/libc.a ] || need+=(libc6-dev-arm64-cross)
if [ ${#need[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  echo "installing ${need[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi

build="$(mktemp -d "${TMPDIR:-/tmp}/winnow-neon.XXXXXX")"
trap 'rm -rf "$build"' EXIT
sources=("$root"/Sources/CWinnowKernels/*.c "$root"/Utilities/NEON/neon_test.c "$root"/Utilities/NEON/neon_test_float.c)
flags=(-O2 -std=gnu11 -Wall -Wextra -Werror -I "$root/Sources/CWinnowKernels/include" -static)

compilers=()
if command -v clang >/dev/null; then compilers+=(clang); fi
compilers+=(gcc)
status=0
for compiler in "${compilers[@]}"; do
  binary="$build/neon_test-$compiler"
  if [ "$compiler" = clang ]; then
    clang --target=aarch64-linux-gnu "${flags[@]}" "${sources[@]}" -lm -o "$binary"
  else
    # GCC contracts a·b + c into FMA across statements by default (clang does not); the
    # bit-exact checks compare two C kernels, so both must round the same way.
    aarch64-linux-gnu-gcc -ffp-contract=off -Wno-unknown-pragmas "${flags[@]}" "${sources[@]}" -lm -o "$binary"
  fi
  for cpu in max:1 cortex-a72:0; do
    echo "== $compiler, qemu-aarch64 -cpu ${cpu%%:*}"
    qemu-aarch64 -cpu "${cpu%%:*}" "$binary" --expect-dotprod "${cpu##*:}" || status=1
  done
done
exit $status
