#!/usr/bin/env bash
# LeNet-5 training step, Winnow vs PyTorch (CPU), at 1 and 2 threads.
#
# Runs winnow-bench and lenet_step_torch.py one after the other (never at the same time: on a
# 2-core machine their thread pools would fight), each with the quiet-sample rule (median of
# >= 7 quiet samples of >= 100 ms), then prints a Markdown table with the ratio Winnow/PyTorch
# (below 1 = Winnow faster).
#
# Usage: Benchmarks/compare_lenet.sh [threads...]      (default: 1 2)
# Environment: PYTHON (default /work/venv/bin/python, else python3) must have torch installed;
#              SAMPLES (default 7), MIN_SAMPLE_MS (default 100), WAIT_QUIET (seconds to wait for a
#              quiet machine before each sample, default 10).
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-/work/venv/bin/python}
[ -x "$PYTHON" ] || PYTHON=python3
SAMPLES=${SAMPLES:-7}
WAIT_QUIET=${WAIT_QUIET:-10}
MIN_SAMPLE_MS=${MIN_SAMPLE_MS:-100}
THREADS=("$@")
[ ${#THREADS[@]} -gt 0 ] || THREADS=(1 2)

swift build -c release --disable-build-manifest-caching --product winnow-bench >&2
BENCH=$(swift build -c release --show-bin-path)/winnow-bench

results=$(mktemp)
trap 'rm -f "$results"' EXIT
for t in "${THREADS[@]}"; do
  echo "threads=$t: winnow-bench lenet" >&2
  "$BENCH" lenet --threads "$t" --samples "$SAMPLES" --min-sample-ms "$MIN_SAMPLE_MS" --wait-quiet "$WAIT_QUIET" | grep '^RESULT' >>"$results"
  echo "threads=$t: lenet_step_torch.py" >&2
  "$PYTHON" lenet_step_torch.py --threads "$t" --samples "$SAMPLES" --min-sample-ms "$MIN_SAMPLE_MS" --wait-quiet "$WAIT_QUIET" \
    | grep '^RESULT' >>"$results"
done

# RESULT <engine> lenet_step threads=T median_ms=X min_ms=X max_ms=X quality=Q [torch=V]
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) logical CPUs"
echo "torch: $(grep -m1 -o 'torch=[^ ]*' "$results" | cut -d= -f2)"
echo
echo "| threads | Winnow median ms (min–max) | PyTorch median ms (min–max) | Winnow/PyTorch | samples Winnow; PyTorch |"
echo "|---:|---:|---:|---:|---|"
awk '
  function field(name,   i) { for (i = 1; i <= NF; i++) if (index($i, name "=") == 1) return substr($i, length(name) + 2); return "" }
  { t = field("threads"); e = $2
    med[e, t] = field("median_ms"); lo[e, t] = field("min_ms"); hi[e, t] = field("max_ms")
    q = field("quality"); gsub("_", " ", q); qual[e, t] = q
    if (!(t in seen)) { seen[t] = 1; order[++n] = t } }
  END {
    for (i = 1; i <= n; i++) { t = order[i]
      printf "| %s | %.2f (%.2f–%.2f) | %.2f (%.2f–%.2f) | %.2f | %s; %s |\n", t,
        med["winnow", t], lo["winnow", t], hi["winnow", t], med["torch", t], lo["torch", t], hi["torch", t],
        med["winnow", t] / med["torch", t], qual["winnow", t], qual["torch", t] }
  }' "$results"
