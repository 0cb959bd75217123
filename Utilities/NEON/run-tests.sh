#!/usr/bin/env bash
# Tests the arm64 NEON kernels (Sources/CWinnowKernels/neon_*.c) with the C driver
# Utilities/NEON/neon_test*.c: every NEON kernel against its portable twin over tile edges.
#
# On x86-64 Linux: cross-compiles the C kernels and the driver for arm64 and runs the driver
# under qemu-aarch64 user-mode emulation, twice:
#   -cpu max         every extension, so the int8 GEMM takes SDOT (FEAT_DotProd)
#   -cpu cortex-a72  ARMv8.0, no dot product: the widening-multiply fallback
# with clang (what SwiftPM uses) and with the GNU cross compiler (the other spelling of the
# target attributes). Installs qemu-user, gcc-aarch64-linux-gnu and libc6-dev-arm64-cross
# with apt when missing. On an arm64 host: compiles and runs natively (this CPU's path only).
# Correctness only: emulated timings say nothing about arm64 hardware.
# `make test` runs this after the Swift tests; WINNOW_SKIP_NEON=1 skips it.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
if [ "${WINNOW_SKIP_NEON:-0}" = 1 ]; then echo "NEON tests: skipped (WINNOW_SKIP_NEON=1)"; exit 0; fi

build="$(mktemp -d "${TMPDIR:-/tmp}/winnow-neon.XXXXXX")"
trap 'rm -rf "$build"' EXIT
sources=("$root"/Sources/CWinnowKernels/*.c "$root"/Utilities/NEON/neon_test.c "$root"/Utilities/NEON/neon_test_float.c)
flags=(-O2 -std=gnu11 -Wall -Wextra -Werror -I "$root/Sources/CWinnowKernels/include")

case "$(uname -m)" in
aarch64 | arm64)
  echo "== native arm64 ($(uname -s))"
  cc "${flags[@]}" -Wno-unknown-pragmas "${sources[@]}" -lm -o "$build/neon_test"
  exec "$build/neon_test"
  ;;
x86_64) ;;
*) echo "NEON tests: skipped (no arm64 emulation set up for $(uname -m))"; exit 0 ;;
esac
if [ "$(uname -s)" != Linux ]; then echo "NEON tests: skipped (qemu-user needs Linux)"; exit 0; fi

need=()
command -v qemu-aarch64 >/dev/null || need+=(qemu-user)
command -v aarch64-linux-gnu-gcc >/dev/null || need+=(gcc-aarch64-linux-gnu)
[ -e /usr/aarch64-linux-gnu/lib/libc.a ] || need+=(libc6-dev-arm64-cross)
if [ ${#need[@]} -gt 0 ]; then
  if ! command -v apt-get >/dev/null; then
    echo "NEON tests: please install qemu-aarch64 and an aarch64-linux-gnu cross compiler and C library" >&2
    exit 1
  fi
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  echo "NEON tests: installing ${need[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

compilers=()
if command -v clang >/dev/null; then compilers+=(clang); fi
compilers+=(gcc)
status=0
for compiler in "${compilers[@]}"; do
  binary="$build/neon_test-$compiler"
  if [ "$compiler" = clang ]; then
    clang --target=aarch64-linux-gnu -static "${flags[@]}" "${sources[@]}" -lm -o "$binary"
  else
    # GCC contracts a·b + c into FMA across statements by default (clang does not); the
    # bit-exact checks compare two C kernels, so both must round the same way.
    aarch64-linux-gnu-gcc -static -ffp-contract=off -Wno-unknown-pragmas "${flags[@]}" "${sources[@]}" -lm \
      -o "$binary"
  fi
  for cpu in max:1 cortex-a72:0; do
    echo "== $compiler, qemu-aarch64 -cpu ${cpu%%:*}"
    qemu-aarch64 -cpu "${cpu%%:*}" "$binary" --expect-dotprod "${cpu##*:}" || status=1
  done
done
exit $status
