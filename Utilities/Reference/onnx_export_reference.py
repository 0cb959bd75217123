#!/usr/bin/env python3
"""Reference outputs of Winnow's ONNX export, computed by ONNX Runtime.

Pinned: onnx==1.23.2, onnxruntime==1.31.1, numpy (pip install into /work/venv).

For each case, `winnow export --model ARCH --seed 1` writes the freshly initialised native
model (fp32, or int8 QDQ with --int8) to a temporary .onnx file; the file must pass the ONNX
checker; ONNX Runtime runs it on a seeded normal input. The input and ONNX Runtime's output
are stored as TensorProto files in Tests/WinnowFormatsTests/Fixtures/export/CASE/, and the
Swift tests compare Winnow's own forward pass of the same seeded model with them (no Python
at test time). Run from the repository root after `swift build -c release`:

    /work/venv/bin/python Utilities/Reference/onnx_export_reference.py
"""
import os
import subprocess
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

CASES = [
    # name, architecture, input shape C,H,W, int8
    ("mlp", "mlp", "1,8,8", False),
    ("smallcnn", "smallcnn", "1,8,8", False),
    ("lenet5", "lenet5", "1,16,16", False),
    ("resnet8", "resnet8", "1,8,8", False),
    ("transformer", "transformer", "1,8,8", False),
    ("smallcnn-int8", "smallcnn", "1,8,8", True),
    ("resnet8-int8", "resnet8", "1,8,8", True),
    ("transformer-int8", "transformer", "1,8,8", True),
]
BATCH = 2
OUT = "Tests/WinnowFormatsTests/Fixtures/export"


def run(path, x, level):
    options = ort.SessionOptions()
    options.graph_optimization_level = level
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    return session.run(None, {"input": x})[0]


def main():
    assert onnx.__version__ == "1.23.2" and ort.__version__ == "1.31.1", (onnx.__version__, ort.__version__)
    winnow = os.path.join(".build", "release", "winnow")
    for index, (name, architecture, shape, int8) in enumerate(CASES):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, name + ".onnx")
            command = [winnow, "export", "--model", architecture, "--seed", "1", "--input-shape", shape,
                       "--batch", str(BATCH), path] + (["--int8"] if int8 else [])
            subprocess.run(command, check=True, capture_output=True)
            model = onnx.load(path)
            onnx.checker.check_model(model, full_check=True)
            dims = [BATCH] + [int(d) for d in shape.split(",")]
            x = np.random.default_rng(index).standard_normal(dims).astype(np.float32)
            # Basic optimisations keep the QDQ semantics (dequantize, then float compute);
            # ORT_ENABLE_ALL fuses int8 weights with dynamically quantized uint8 activations,
            # which is faster and off by ~1% of the logits: stored separately.
            y = run(path, x, ort.GraphOptimizationLevel.ORT_ENABLE_BASIC)
            fused = run(path, x, ort.GraphOptimizationLevel.ORT_ENABLE_ALL)
        directory = os.path.join(OUT, name)
        os.makedirs(directory, exist_ok=True)
        files = [("input.pb", x), ("output.pb", y)] + ([("output_fused.pb", fused)] if int8 else [])
        for file, value in files:
            with open(os.path.join(directory, file), "wb") as f:
                f.write(numpy_helper.from_array(value).SerializeToString())
        print(name, y.shape, "max |y|", float(np.abs(y).max()), "fused vs QDQ", float(np.abs(fused - y).max()))


if __name__ == "__main__":
    main()
