#!/usr/bin/env python3
"""Reference values for Winnow's quantization tests (FP8 codes and PyTorch fake quantization).

Writes Tests/WinnowCompressionTests/Fixtures/quantization.safetensors:
  e4m3fn.decoded, e5m2.decoded   float32[256]: the value of every code 0x00…0xFF (NaN where NaN)
  tricky.inputs                  float32[n]: ties, midpoints, overflow edges, subnormals, ±0, ±inf, NaN
  tricky.e4m3fn, tricky.e5m2     uint8[n]: ml_dtypes' round-to-nearest-even encoding of each input
                                 (no saturation: E4M3FN overflows to NaN, E5M2 to ±inf)
  layer.weight [24,16], layer.bias [24], layer.x{0,1,2} [8,16]: a Linear layer and 3 calibration batches
  ptq.weight_scale [24], ptq.weight_fq [24,16]: PerChannelMinMaxObserver(qint8, per-channel
      symmetric, quant_min -127, quant_max 127) and fake_quantize_per_channel_affine(axis 0)
  ptq.act_scale [1], ptq.act_zero_point [1]: MinMaxObserver(qint8, per-tensor affine, -128…127)
      fed the 3 batches; ptq.x0_fq: fake_quantize_per_tensor_affine of batch 0
  ptq.output [8,24]: linear(x0_fq, weight_fq, bias)
  group.scale [24*2], group.weight_fq [24,16]: 4-bit symmetric (-7…7) group-wise (group 8 along
      the input axis) via fake_quantize_per_channel_affine on the [48, 8] view, scale = amax/7
Run: /work/venv/bin/python Utilities/Reference/make_quantization_fixtures.py
     (torch==2.15.0, ml_dtypes==0.6.0, numpy, safetensors)
"""
import pathlib
import numpy as np
import ml_dtypes
import torch
from safetensors.numpy import save_file

assert torch.__version__.split("+")[0] == "2.15.0", f"written for torch 2.15.0, found {torch.__version__}"
assert ml_dtypes.__version__ == "0.6.0", f"written for ml_dtypes 0.6.0, found {ml_dtypes.__version__}"
FIXTURE_VERSION = "1"
out = {}

# --- FP8: every code, and the encoding of tricky float32 values --------------------------
codes = np.arange(256, dtype=np.uint8)
for name, dtype in (("e4m3fn", ml_dtypes.float8_e4m3fn), ("e5m2", ml_dtypes.float8_e5m2)):
    out[f"{name}.decoded"] = codes.view(dtype).astype(np.float32)

def tricky_values():
    values = [0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -1.0, 448.0, 464.0, 464.0001, 480.0, 500.0, 57344.0,
              61440.0, 61439.99, 65536.0, 1e9, -1e9, 3.0e38]
    for dtype in (ml_dtypes.float8_e4m3fn, ml_dtypes.float8_e5m2):
        finite = np.sort(np.unique(codes.view(dtype).astype(np.float64)[np.isfinite(codes.view(dtype).astype(np.float64))]))
        positives = finite[finite > 0]
        mids = (positives[1:] + positives[:-1]) / 2           # exact ties: round to even
        values += list(mids) + list(-mids)
        values += list(np.nextafter(mids.astype(np.float32), np.float32(np.inf)))   # just above a tie
        values += list(np.nextafter(mids.astype(np.float32), np.float32(-np.inf)))  # just below
        smallest = positives[0]
        values += [smallest / 2, smallest / 2 * 1.0001, smallest / 4, smallest * 0.75, smallest * 1.5, -smallest / 2]
    rng = np.random.default_rng(0)
    values += list(rng.standard_normal(200) * 10.0 ** rng.integers(-8, 5, 200))
    return np.array(values, dtype=np.float32)

inputs = tricky_values()
out["tricky.inputs"] = inputs
out["tricky.e4m3fn"] = inputs.astype(ml_dtypes.float8_e4m3fn).view(np.uint8)
out["tricky.e5m2"] = inputs.astype(ml_dtypes.float8_e5m2).view(np.uint8)

# --- PTQ of a Linear layer with PyTorch's observers and fake quantization ----------------
torch.manual_seed(0)
layer = torch.nn.Linear(16, 24)
xs = [torch.randn(8, 16) * (1 + i) + 0.3 for i in range(3)]
w = layer.weight.detach()
weight_observer = torch.ao.quantization.PerChannelMinMaxObserver(
    ch_axis=0, dtype=torch.qint8, qscheme=torch.per_channel_symmetric, quant_min=-127, quant_max=127)
weight_observer(w)
w_scale, w_zero = weight_observer.calculate_qparams()
w_fq = torch.fake_quantize_per_channel_affine(w, w_scale.float(), w_zero.int(), 0, -127, 127)
act_observer = torch.ao.quantization.MinMaxObserver(
    dtype=torch.qint8, qscheme=torch.per_tensor_affine, quant_min=-128, quant_max=127)
for x in xs:
    act_observer(x)
a_scale, a_zero = act_observer.calculate_qparams()
x0_fq = torch.fake_quantize_per_tensor_affine(xs[0], float(a_scale), int(a_zero), -128, 127)
output = torch.nn.functional.linear(x0_fq, w_fq, layer.bias.detach())

groups = w.reshape(48, 8)
g_scale = groups.abs().amax(dim=1) / 7
g_fq = torch.fake_quantize_per_channel_affine(groups, g_scale, torch.zeros(48, dtype=torch.int32), 0, -7, 7).reshape(24, 16)

for key, value in {
    "layer.weight": w, "layer.bias": layer.bias.detach(), "layer.x0": xs[0], "layer.x1": xs[1], "layer.x2": xs[2],
    "ptq.weight_scale": w_scale.float(), "ptq.weight_fq": w_fq, "ptq.act_scale": a_scale.float().reshape(1),
    "ptq.act_zero_point": a_zero.float().reshape(1), "ptq.x0_fq": x0_fq, "ptq.output": output,
    "group.scale": g_scale, "group.weight_fq": g_fq,
}.items():
    out[key] = value.detach().contiguous().numpy().astype(np.float32)

path = pathlib.Path(__file__).resolve().parents[2] / "Tests/WinnowCompressionTests/Fixtures/quantization.safetensors"
save_file(out, str(path), metadata={"generator": "Utilities/Reference/make_quantization_fixtures.py", "torch": torch.__version__,
                                    "ml_dtypes": ml_dtypes.__version__, "fixture_version": FIXTURE_VERSION})
print(f"wrote {path} ({path.stat().st_size} bytes, {len(out)} tensors, {len(inputs)} tricky inputs)")
print("act scale", float(a_scale), "zero point", int(a_zero))
