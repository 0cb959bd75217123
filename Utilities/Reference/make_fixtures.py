#!/usr/bin/env python3
"""Writes the PyTorch golden fixtures read by Tests/WinnowNNTests/GoldenTests.swift.

Pinned: torch 2.15.0 (asserted below), safetensors 0.8.0, numpy 2.4.6, Python 3.11. Run from
the package root (see README.md next to this file):

    .venv/bin/python Utilities/Reference/make_fixtures.py

Every case is seeded and runs single-threaded on the CPU, so every run writes the same tensors
(only the order of the metadata keys in the header varies: safetensors keeps them in a hash
map). Inputs are drawn in float64 and rounded to float32 (float16 for LeNet's weights and
images, to fit the size budget; the rounded values are the ones used, so nothing is lost); the
golden values are then computed in float64 from those exact inputs and rounded to float32. The
script prints how far a float32 PyTorch run lands from each golden value, the scale the Swift
tolerances are set against.

Files (in Tests/WinnowNNTests/Fixtures/, metadata `generator`, `torch`, `fixture_version`):

    ops.safetensors          forward value and input gradients of single ops
    lenet.safetensors        LeNet-5 logits, loss, gradients and 10-step optimizer trajectories
    transformer.safetensors  one post-norm encoder layer: output and every gradient
    schedules.safetensors    CosineAnnealingLR and StepLR learning rates
    clipping.safetensors     clip_grad_norm_ on fixed gradients

A case `c` with upstream cotangent stores `c.g`; its gradients are those of `sum(c.y * c.g)`.
Bump FIXTURE_VERSION (here and in GoldenTests.swift) whenever a file's layout changes.
"""

import pathlib
import sys

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

TORCH_VERSION = "2.15.0"
FIXTURE_VERSION = "1"
GENERATOR = "Utilities/Reference/make_fixtures.py"
OUT = pathlib.Path(__file__).resolve().parents[2] / "Tests/WinnowNNTests/Fixtures"
SIZE_BUDGET = 300 * 1024

if torch.__version__.split("+")[0] != TORCH_VERSION:
    sys.exit(f"make_fixtures.py was written for torch {TORCH_VERSION}, found {torch.__version__}; "
             f"install it (see README.md) or update the pin and review every fixture diff")

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)
torch.manual_seed(0)  # re-seeded before LeNet's default init, the one use of the global generator


def draw(shape, seed, low=-1.0, high=1.0, dtype=torch.float32):
    """Uniform values in [low, high) rounded to `dtype`, returned as float64 (exact)."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(shape, generator=gen, dtype=torch.float64) * (high - low) + low
    return x.to(dtype).double()


def f32(t):
    return t.detach().to(torch.float32).contiguous()


def report(name, golden, single):
    """Prints the largest |float32 PyTorch − float64 golden| relative to the golden's scale."""
    scale = golden.abs().max().item() or 1.0
    print(f"  {name:<34} f32 deviation {(single.double() - golden).abs().max().item():.1e}"
          f"  (scale {scale:.2g})")


# MARK: - ops


def vjp_case(out, case, fn, inputs, seed):
    """Stores `case.<input>`, `case.y = fn(inputs)`, a random cotangent `case.g` (omitted for
    scalars, whose cotangent is 1) and `case.d<input>`, the gradient of `sum(y·g)`."""
    names = list(inputs)
    xs = [inputs[n].clone().requires_grad_() for n in names]
    y = fn(*xs)
    g = draw(y.shape, seed) if y.dim() > 0 else torch.ones((), dtype=torch.float64)
    grads = torch.autograd.grad(y, xs, g)
    xs32 = [inputs[n].float().requires_grad_() for n in names]
    y32 = fn(*xs32)
    grads32 = torch.autograd.grad(y32, xs32, g.float())
    report(f"{case}.y", y, y32)
    for n, x, dx, dx32 in zip(names, xs, grads, grads32):
        out[f"{case}.{n}"] = f32(x)
        out[f"{case}.d{n}"] = f32(dx)
        report(f"{case}.d{n}", dx, dx32)
    out[f"{case}.y"] = f32(y)
    if y.dim() > 0:
        out[f"{case}.g"] = f32(g)


def ops():
    out = {}
    vjp_case(out, "conv2d_grouped",
             lambda x, w: F.conv2d(x, w, stride=2, padding=1, dilation=2, groups=2),
             {"x": draw((2, 4, 9, 11), 1), "w": draw((6, 2, 3, 3), 2)}, 3)
    vjp_case(out, "conv2d_depthwise", lambda x, w: F.conv2d(x, w, padding=1, groups=4),
             {"x": draw((2, 4, 8, 7), 4), "w": draw((4, 1, 3, 3), 5)}, 6)
    pool_input = draw((2, 3, 7, 8), 7)
    vjp_case(out, "max_pool2d", lambda x: F.max_pool2d(x, 3, stride=2, padding=1), {"x": pool_input}, 8)
    vjp_case(out, "avg_pool2d",
             lambda x: F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=True), {"x": pool_input}, 9)
    for dim in (1, 2):
        vjp_case(out, f"softmax_dim{dim}", lambda x: F.softmax(x, dim=dim), {"x": draw((3, 4, 5), 10 + dim, -3, 3)}, 12)
        vjp_case(out, f"log_softmax_dim{dim}", lambda x: F.log_softmax(x, dim=dim),
                 {"x": draw((3, 4, 5), 13 + dim, -3, 3)}, 15)
    activation_input = draw((2, 50), 16, -5, 5)
    vjp_case(out, "gelu", lambda x: F.gelu(x), {"x": activation_input}, 17)
    vjp_case(out, "gelu_tanh", lambda x: F.gelu(x, approximate="tanh"), {"x": activation_input}, 18)
    vjp_case(out, "silu", F.silu, {"x": activation_input}, 19)
    vjp_case(out, "layer_norm", lambda x, w, b: F.layer_norm(x, (8,), w, b, eps=1e-5),
             {"x": draw((3, 5, 8), 20, -2, 3), "weight": draw((8,), 21, 0.5, 1.5), "bias": draw((8,), 22)}, 23)
    batch_norm(out)
    labels = torch.tensor([0, 3, 4, 1, 1, 2])
    out["cross_entropy.labels"] = labels
    vjp_case(out, "cross_entropy", lambda z: F.cross_entropy(z, labels, label_smoothing=0.1),
             {"logits": draw((6, 5), 24, -3, 3)}, 0)
    p = F.softmax(draw((4, 6), 25, -2, 2), dim=1)
    p[0, 2] = 0  # a zero target probability contributes 0·log 0 = 0
    p = (p / p.sum(dim=1, keepdim=True)).float().double()
    out["kl_div.p"] = f32(p)
    vjp_case(out, "kl_div", lambda q: F.kl_div(q, p.to(q.dtype), reduction="batchmean"),
             {"logq": F.log_softmax(draw((4, 6), 26, -2, 2), dim=1).float().double()}, 0)
    vjp_case(out, "matmul", torch.matmul, {"a": draw((2, 3, 4, 5), 27), "b": draw((2, 3, 5, 6), 28)}, 29)
    return out


def batch_norm(out):
    """Training-mode batch norm: output, gradients, and the running statistics after the step."""
    stats = {"running_mean": draw((3,), 30, -0.5, 0.5), "running_var": draw((3,), 31, 0.5, 2)}
    for name, value in stats.items():
        out[f"batch_norm.{name}_before"] = f32(value)
    updated = {}

    def fn(x, weight, bias):
        # Fresh copies of the statistics per call (the float32 diagnostic run calls again).
        mean, var = stats["running_mean"].to(x.dtype).clone(), stats["running_var"].to(x.dtype).clone()
        y = F.batch_norm(x, mean, var, weight, bias, training=True, momentum=0.1, eps=1e-5)
        updated.setdefault(x.dtype, (mean, var))
        return y

    vjp_case(out, "batch_norm", fn, {"x": draw((4, 3, 5, 5), 32, -1, 3), "weight": draw((3,), 33, 0.5, 1.5),
                                     "bias": draw((3,), 34)}, 35)
    out["batch_norm.running_mean"] = f32(updated[torch.float64][0])
    out["batch_norm.running_var"] = f32(updated[torch.float64][1])


# MARK: - LeNet-5


class LeNet5(torch.nn.Module):
    """Winnow's `Models.lenet5` with the same parameter names."""

    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = torch.nn.Conv2d(6, 16, 5)
        self.fc1 = torch.nn.Linear(400, 120)
        self.fc2 = torch.nn.Linear(120, 84)
        self.fc3 = torch.nn.Linear(84, 10)

    def forward(self, x, taps=None):
        """`taps`, when given, receives each Linear layer's input and (retained-grad) output."""
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2).flatten(1)
        for name in ("fc1", "fc2", "fc3"):
            y = getattr(self, name)(x)
            if taps is not None:
                y.retain_grad()
                taps[name] = (x, y)
            x = F.relu(y) if name != "fc3" else y
        return x


LENET_TRAJECTORIES = {  # GoldenTests.swift builds the same four Winnow optimizers
    "sgd": lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, weight_decay=5e-4, nesterov=False),
    "nesterov": lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, weight_decay=5e-4, nesterov=True),
    "adam": lambda p: torch.optim.Adam(p, lr=1e-3, weight_decay=1e-4),
    "adamw": lambda p: torch.optim.AdamW(p, lr=1e-3, weight_decay=1e-2),
}
LENET_STEPS = 10
LENET_SAMPLES = 256  # trajectory weights stored per parameter (all of them when fewer)
LENET_ILL_CONDITIONED = 1e-7  # |float32 − float64| after 10 steps above which a weight is not sampled


def lenet_model(initial, dtype):
    model = LeNet5().to(dtype)
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(initial[name])
    return model


def lenet():
    """Stores `images`, `labels`, `initial.<param>` (float16), `logits`, `loss`, the gradients
    and, per optimizer, `<opt>.loss` (at the weights after 0…10 steps) and `<opt>.<param>`
    (the weights after 10 steps at the flat indices `sample_index.<param>`).

    Gradients of the Linear weights (fc1 is 120×400) are stored as their two factors,
    `<layer>.input` (N×in) and `<layer>.output_grad` (N×out): the gradient is their product
    `output_gradᵀ · input`, checked here against torch's own to 1e-12. That is a ninth of
    the bytes and still checks every element; the other gradients are stored whole.
    """
    out = {}
    sampler = torch.Generator().manual_seed(102)
    torch.manual_seed(100)
    initial = {n: p.detach().half().double() for n, p in LeNet5().named_parameters()}  # PyTorch's init
    images = draw((8, 1, 28, 28), 101, 0, 1, dtype=torch.float16)
    labels = torch.tensor([3, 1, 4, 1, 5, 9, 2, 6])
    out.update({f"initial.{n}": v.half() for n, v in initial.items()})
    out["images"] = images.half()
    out["labels"] = labels

    model = lenet_model(initial, torch.float64)
    taps = {}
    logits = model(images, taps)
    loss = F.cross_entropy(logits, labels)
    loss.backward()
    single = lenet_model(initial, torch.float32)
    logits32 = single(images.float())
    F.cross_entropy(logits32, labels).backward()
    out["logits"], out["loss"] = f32(logits), f32(loss)
    report("lenet.logits", logits, logits32)
    for name, p in model.named_parameters():
        report(f"lenet.grad.{name}", p.grad, dict(single.named_parameters())[name].grad)
        layer = name.split(".")[0]
        if name.endswith("weight") and layer in taps:
            x, y = taps[layer]
            product = y.grad.t() @ x
            assert torch.allclose(product, p.grad, rtol=1e-12, atol=1e-15), f"{name} is not output_gradᵀ·input"
            out[f"{layer}.input"], out[f"{layer}.output_grad"] = f32(x), f32(y.grad)
        else:
            out[f"grad.{name}"] = f32(p.grad)

    trajectories = {}
    for opt_name, make in LENET_TRAJECTORIES.items():
        weights, losses = {}, {}
        for dtype in (torch.float64, torch.float32):
            model = lenet_model(initial, dtype)
            optimizer = make(model.parameters())
            trace = []
            for step in range(LENET_STEPS + 1):
                optimizer.zero_grad()
                loss = F.cross_entropy(model(images.to(dtype)), labels)
                trace.append(loss.item())
                if step < LENET_STEPS:
                    loss.backward()
                    optimizer.step()
            weights[dtype] = {n: p.detach().double() for n, p in model.named_parameters()}
            losses[dtype] = torch.tensor(trace, dtype=torch.float64)
        out[f"{opt_name}.loss"] = f32(losses[torch.float64])
        report(f"lenet.{opt_name}.loss", losses[torch.float64], losses[torch.float32])
        trajectories[opt_name] = weights

    # Sample only weights whose 10-step value is well conditioned. A few (about 0.2% of fc1)
    # have an effective Adam gradient g + λ·w or an AdamW gradient g near zero, so the sign of
    # m/√v, and with it a whole ±lr step, flips with rounding: float32 PyTorch itself lands up
    # to 6e-6 from the float64 value there, against ~1e-8 elsewhere. Those say nothing about
    # the optimizer and would force a tolerance too loose to see a missing decay term.
    for name, p in initial.items():
        deviation = torch.stack([(w[torch.float64][name] - w[torch.float32][name]).abs().flatten()
                                 for w in trajectories.values()]).max(dim=0).values
        usable = (deviation <= LENET_ILL_CONDITIONED).nonzero().flatten()
        index = usable if len(usable) <= LENET_SAMPLES else \
            usable[torch.randperm(len(usable), generator=sampler)[:LENET_SAMPLES]].sort().values
        out[f"sample_index.{name}"] = index.to(torch.int32)
        print(f"  sample_index.{name:<22} {len(index)} of {p.numel()}"
              f" ({p.numel() - len(usable)} ill-conditioned excluded)")
        for opt_name, weights in trajectories.items():
            out[f"{opt_name}.{name}"] = f32(weights[torch.float64][name].flatten()[index])
    for opt_name, weights in trajectories.items():
        sampled = {dtype: torch.cat([weights[dtype][n].flatten()[out[f"sample_index.{n}"].long()] for n in initial])
                   for dtype in weights}
        report(f"lenet.{opt_name} sampled weights", sampled[torch.float64], sampled[torch.float32])
    return out


# MARK: - Transformer encoder layer


def transformer():
    """`nn.TransformerEncoderLayer(16, 4, 32, dropout=0, activation="gelu", batch_first=True)`
    (post-norm) with every parameter random, under Winnow's names: the packed
    `self_attn.in_proj_*` is split into `q_proj`, `k_proj`, `v_proj` (rows 0–15, 16–31, 32–47).
    Stores `input`, `g`, `output`, `input_grad`, `param.<name>` and `grad.<name>`."""
    out = {}
    layer = torch.nn.TransformerEncoderLayer(16, 4, 32, dropout=0.0, activation="gelu", batch_first=True)
    layer = layer.double()
    with torch.no_grad():
        for i, (name, p) in enumerate(sorted(layer.named_parameters())):
            low, high = (0.5, 1.5) if name.startswith("norm") and name.endswith("weight") else (-0.4, 0.4)
            p.copy_(draw(p.shape, 200 + i, low, high))

    def winnow_names(tensors):
        result = {}
        for name, t in tensors.items():
            if name.startswith("self_attn.in_proj_"):
                kind = name.rsplit("_", 1)[1]  # weight or bias
                for part, chunk in zip("qkv", t.chunk(3, dim=0)):
                    result[f"self_attn.{part}_proj.{kind}"] = chunk
            else:
                result[name] = t
        return result

    x = draw((2, 5, 16), 250).requires_grad_()
    y = layer(x)
    g = draw(y.shape, 251)
    params = dict(layer.named_parameters())
    grads = torch.autograd.grad(y, [x] + list(params.values()), g)
    single = torch.nn.TransformerEncoderLayer(16, 4, 32, dropout=0.0, activation="gelu", batch_first=True)
    single.load_state_dict({n: t.float() for n, t in layer.state_dict().items()})
    x32 = x.detach().float().requires_grad_()
    y32 = single(x32)
    grads32 = torch.autograd.grad(y32, [x32] + list(single.parameters()), g.float())
    report("transformer.output", y, y32)
    report("transformer.input_grad", grads[0], grads32[0])
    for (name, _), grad, grad32 in zip(params.items(), grads[1:], grads32[1:]):
        report(f"transformer.grad.{name}", grad, grad32)
    out["input"], out["g"], out["output"], out["input_grad"] = f32(x), f32(g), f32(y), f32(grads[0])
    for name, t in winnow_names({n: p.detach() for n, p in params.items()}).items():
        out[f"param.{name}"] = f32(t)
    for name, t in winnow_names(dict(zip(params, grads[1:]))).items():
        out[f"grad.{name}"] = f32(t)
    return out


# MARK: - Schedules and clipping


def learning_rates(make_scheduler, steps):
    """The rate used at steps 0…steps-1 (and the one after), as the scheduler reports it."""
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    scheduler = make_scheduler(optimizer)
    rates = []
    for _ in range(steps + 1):
        rates.append(scheduler.get_last_lr()[0])
        optimizer.step()
        scheduler.step()
    return torch.tensor(rates, dtype=torch.float64)


def schedules():
    """Base rate 0.1, 30 steps: `cosine` is CosineAnnealingLR(T_max=30, eta_min=0.001),
    `step` is StepLR(step_size=7, gamma=0.5)."""
    return {
        "cosine": f32(learning_rates(
            lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=30, eta_min=0.001), 30)),
        "step": f32(learning_rates(lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=7, gamma=0.5), 30)),
    }


def clipping():
    """`clip_grad_norm_(max_norm=1)` on three gradients whose global norm is above (`large`) and
    below (`small`) the limit: `<case>.<name>` before, `<case>.clipped.<name>` after, and the
    returned total norm `<case>.norm`."""
    out = {}
    shapes = {"a": (4, 3), "b": (3,), "c": (2, 2, 3)}
    for case, scale in (("large", 1.5), ("small", 0.1)):
        params = []
        for i, (name, shape) in enumerate(shapes.items()):
            p = torch.zeros(shape, dtype=torch.float64, requires_grad=True)
            p.grad = draw(shape, 300 + i) * scale
            out[f"{case}.{name}"] = f32(p.grad)
            params.append(p)
        norm = torch.nn.utils.clip_grad_norm_(params, max_norm=1.0)
        out[f"{case}.norm"] = f32(norm)
        for name, p in zip(shapes, params):
            out[f"{case}.clipped.{name}"] = f32(p.grad)
    return out


# MARK: - Writing


def write(name, tensors, description):
    path = OUT / f"{name}.safetensors"
    metadata = {"generator": GENERATOR, "torch": TORCH_VERSION, "fixture_version": FIXTURE_VERSION,
                "description": description}
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(path), metadata=metadata)
    path.chmod(0o644)  # save_file creates files readable by the owner only
    size = path.stat().st_size
    print(f"wrote {path.relative_to(OUT.parents[2])}: {len(tensors)} tensors, {size / 1024:.1f} KB")
    return size


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    cases = [
        ("ops", ops, "single ops: forward values and input gradients"),
        ("lenet", lenet, "LeNet-5: logits, loss, gradients, 10-step SGD/Nesterov/Adam/AdamW trajectories"),
        ("transformer", transformer, "post-norm TransformerEncoderLayer(16, 4, 32, gelu): output, gradients"),
        ("schedules", schedules, "CosineAnnealingLR and StepLR learning rates"),
        ("clipping", clipping, "clip_grad_norm_ on fixed gradients"),
    ]
    total = 0
    for name, make, description in cases:
        print(f"{name}:")
        total += write(name, make(), description)
    print(f"total {total / 1024:.1f} KB")
    assert total <= SIZE_BUDGET, f"fixtures take {total} bytes, over the {SIZE_BUDGET}-byte budget"


if __name__ == "__main__":
    main()
