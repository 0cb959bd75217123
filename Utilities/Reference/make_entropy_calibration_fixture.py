#!/usr/bin/env python3
"""Reference for Winnow's entropy (KL-divergence) calibration, written independently in numpy.

Writes Tests/WinnowCompressionTests/Fixtures/entropy_calibration.safetensors:
  values        float32[20000]: a ReLU'd normal (most mass near 0) plus 0.2% far outliers (×8…×30)
  histogram     float64[2048]:  counts of |x|: bin = min(floor(|x| * (2048 / max|x|)), 2047)
  divergences   float64[1921]:  D(i) for i = 128…2048 kept bins, 128 levels (int8, symmetric);
                                candidates start at max(levels, 2048 // 16) kept bins
  best          int64[1]:       argmin_i D(i) (smallest i on ties)
  threshold     float64[1]:     best * max|x| / 2048 (the upper edge of the last kept bin)
  divergences256, best256, threshold256: the same with 256 levels (asymmetric int8, one-sided data)
  divergences16, best16, threshold16: the same with 16 levels (asymmetric int4, one-sided data)

D(i) (Migacz, "8-bit Inference with TensorRT", GTC 2017; smoothing as MXNet's calibration):
  P = H[:i] with P[i-1] += sum(H[i:]);  Q = H[:i] merged into `levels` groups of i // levels bins
  (the last group takes the rest), each group's sum spread evenly over its non-empty bins;
  both smoothed (empty bins get eps = 1e-4, taken evenly from the non-empty ones), normalised,
  D = sum p * log(p / q) over p > 0.

Run: /work/venv/bin/python Utilities/Reference/make_entropy_calibration_fixture.py
     (numpy==2.4.6, safetensors==0.8.0)
"""
import pathlib
import numpy as np
from safetensors.numpy import save_file

assert np.__version__ == "2.4.6", f"written for numpy 2.4.6, found {np.__version__}"
BINS = 2048
EPS = 1e-4


def histogram(values):
    a = np.abs(values.astype(np.float64))
    amax = a.max()
    index = np.minimum((a * (BINS / amax)).astype(np.int64), BINS - 1)
    return np.bincount(index, minlength=BINS).astype(np.float64), amax / BINS


def smooth(p):
    zeros = p == 0
    n_zeros, n_nonzeros = zeros.sum(), (~zeros).sum()
    if n_zeros == 0 or n_nonzeros == 0:
        return p
    return np.where(zeros, EPS, p - EPS * n_zeros / n_nonzeros)


def kl(p, q):
    p = p / p.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        q = q / q.sum()
        terms = np.where(p > 0, p * np.log(p / q), 0.0)
    return terms.sum() if np.all(q[p > 0] > 0) else np.inf


def divergence(h, i, levels):
    p = h[:i].copy()
    p[i - 1] += h[i:].sum()
    kept = h[:i]
    merged = i // levels
    q = np.zeros(i)
    for g in range(levels):
        start = g * merged
        stop = i if g == levels - 1 else start + merged
        nonempty = kept[start:stop] != 0
        if nonempty.sum() > 0:
            q[start:stop] = np.where(nonempty, kept[start:stop].sum() / nonempty.sum(), 0.0)
    return kl(smooth(p), smooth(q))


rng = np.random.default_rng(5)
values = np.maximum(rng.standard_normal(20000), 0).astype(np.float32)
outliers = rng.choice(20000, 40, replace=False)
values[outliers] = (rng.uniform(8, 30, 40)).astype(np.float32)

h, width = histogram(values)
out = {"values": values, "histogram": h}
for levels, suffix in ((128, ""), (256, "256"), (16, "16")):
    first = max(levels, BINS // 16)
    d = np.array([divergence(h, i, levels) for i in range(first, BINS + 1)])
    best = first + int(np.argmin(d))
    out["divergences" + suffix] = d
    out["best" + suffix] = np.array([best], dtype=np.int64)
    out["threshold" + suffix] = np.array([best * width])
    print(f"levels {levels}: best {best} bins, threshold {best * width:.6f} (max |x| {values.max():.4f})")

path = pathlib.Path(__file__).resolve().parents[2] / "Tests/WinnowCompressionTests/Fixtures/entropy_calibration.safetensors"
save_file(out, str(path), metadata={"generator": "make_entropy_calibration_fixture.py", "numpy": np.__version__,
                                    "fixture_version": "1"})
print(f"wrote {path} ({path.stat().st_size} bytes)")
