#!/usr/bin/env bash
# Installs what Winnow needs to build, when it is missing: OpenBLAS and zlib headers and
# pkg-config on Debian/Ubuntu (apt), nothing on macOS (Accelerate and zlib ship with it).
set -euo pipefail
if [ "$(uname)" = Darwin ]; then exit 0; fi
have() { pkg-config --exists "$1" 2>/dev/null; }
if have openblas && [ -f /usr/include/zlib.h ]; then exit 0; fi
if ! command -v apt-get >/dev/null; then
  echo "winnow setup: please install OpenBLAS (with cblas.h and openblas.pc), zlib headers and pkg-config" >&2
  exit 1
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "winnow setup: installing libopenblas-dev zlib1g-dev pkg-config" >&2
$sudo apt-get update -q >/dev/null
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q libopenblas-dev zlib1g-dev pkg-config >/dev/null
