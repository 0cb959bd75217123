#!/usr/bin/env bash
# all-MiniLM-L6-v2 embeddings, Winnow vs PyTorch and ONNX Runtime (CPU), 1×128 and 32×128
# tokens, at each thread count.
#
# Runs `winnow-bench minilm` and `minilm_reference.py` one after the other (never at the same
# time: their thread pools would fight on a small machine), each with the quiet-sample rule,
# then prints one Markdown table: median ms per engine, the speed-up over ONNX Runtime fp32
# at the same batch and threads (above 1 = faster than ORT fp32), and for Winnow's variants
# the mean and minimum cosine of their embeddings to Winnow fp32's over 256 generated
# sentences (winnow-bench's FIDELITY lines; Winnow fp32 itself matches sentence-transformers
# to cosine 1.0000000, Tests/WinnowNNTests/BERTTests.swift), and the kernels each variant's
# 24 weight matrices run on (sparse variants: per matrix the fastest measured of the formats
# that fit, Benchmarks/Sources/winnow-bench/MiniLMVariants.swift).
# Winnow variants by default: fp32, int8 (fp32 and bf16 attention), and the one-shot compressed
# models of `winnow embed-study` (Wanda 20/30/50 %, Wanda 2:4, 9 of 12 heads, int4-g32,
# Wanda 30/50 % + int8, 9 heads + int8).
#
# Usage: Benchmarks/compare_minilm.sh [threads...]      (default: 1 2)
# Environment: PYTHON (default /work/venv/bin/python, else python3) with the packages pinned in
#              minilm_reference.py; MODEL_DIR (default: winnow-bench's search, then the PyPI
#              package's copy); SAMPLES (default 7), WAIT_QUIET (default 10); CPU_TIME=1 times
#              by process CPU time (use with 1 thread on a busy machine); PHASES=1 also prints
#              winnow-bench's per-phase CPU profile of each Winnow variant; VARIANTS=TEXT
#              times only the Winnow variants whose key contains TEXT (plus fp32; `winnow`:
#              every variant, the optional winnow_int8_bf16attn too).
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-/work/venv/bin/python}
[ -x "$PYTHON" ] || PYTHON=python3
SAMPLES=${SAMPLES:-7}
WAIT_QUIET=${WAIT_QUIET:-10}
THREADS=("$@")
[ ${#THREADS[@]} -gt 0 ] || THREADS=(1 2)
MODEL_ARGS=()
CPU_ARGS=()
[ "${CPU_TIME:-0}" = 1 ] && CPU_ARGS=(--cpu-time)
PHASE_ARGS=()
[ "${PHASES:-0}" = 1 ] && PHASE_ARGS=(--phases)
[ -n "${MODEL_DIR:-}" ] && MODEL_ARGS=(--model-dir "$MODEL_DIR")
VARIANT_ARGS=()
[ -n "${VARIANTS:-}" ] && VARIANT_ARGS=(--shapes "$VARIANTS")

swift build -c release --product winnow-bench >&2
BENCH=$(swift build -c release --show-bin-path)/winnow-bench

results=$(mktemp)
trap 'rm -f "$results"' EXIT
for t in "${THREADS[@]}"; do
  echo "threads=$t: winnow-bench minilm" >&2
  "$BENCH" minilm --threads "$t" --samples "$SAMPLES" --min-sample-ms 200 --wait-quiet "$WAIT_QUIET" ${MODEL_ARGS[@]+"${MODEL_ARGS[@]}"} \
    ${CPU_ARGS[@]+"${CPU_ARGS[@]}"} ${PHASE_ARGS[@]+"${PHASE_ARGS[@]}"} ${VARIANT_ARGS[@]+"${VARIANT_ARGS[@]}"} | tee /dev/stderr | grep -E '^(RESULT|FIDELITY)' >>"$results"
  echo "threads=$t: minilm_reference.py" >&2
  "$PYTHON" minilm_reference.py --threads "$t" --samples "$SAMPLES" --wait-quiet "$WAIT_QUIET" \
    ${MODEL_ARGS[@]+"${MODEL_ARGS[@]}"} ${CPU_ARGS[@]+"${CPU_ARGS[@]}"} | grep '^RESULT' >>"$results"
done

"$PYTHON" - "$results" <<'PY'
import collections, sys
rows, fidelity = collections.OrderedDict(), {}
for line in open(sys.argv[1]):
    parts = line.split()
    engine, fields = parts[1], dict(p.split("=", 1) for p in parts[2:])
    if parts[0] == "FIDELITY":
        fidelity[engine] = fields
    else:
        rows[(engine, int(fields["batch"]), int(fields["threads"]))] = fields
print("| engine | batch × seq | threads | median ms | min ms | max ms | speed-up vs ORT fp32 | mean / min cosine to Winnow fp32 | kernels (of 24 matrices) | samples |")
print("|---|---|---:|---:|---:|---:|---:|---|---|---|")
for (engine, batch, threads), f in sorted(rows.items(), key=lambda r: (r[0][1], r[0][2], r[0][0])):
    base = rows.get(("ort_fp32", batch, threads))
    ratio = f"{float(base['median_ms']) / float(f['median_ms']):.2f}x" if base else "–"
    fid = fidelity.get(engine)
    cos = f"{fid['mean_cosine']} / {fid['min_cosine']} ({fid['sentences']} sentences)" if fid else "–"
    kernels = fid.get("kernels", "–").replace(",", ", ").replace("×", " ×") if fid else "–"
    print(f"| {engine} | {batch} × {f['seq']} | {threads} | {float(f['median_ms']):.2f} | {float(f['min_ms']):.2f} | "
          f"{float(f['max_ms']):.2f} | {ratio} | {cos} | {kernels} | {f['quality'].replace('_', ' ')} |")
PY
