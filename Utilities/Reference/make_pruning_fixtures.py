#!/usr/bin/env python3
"""Golden masks from torch.nn.utils.prune for Winnow's pruning-parity tests.

Writes Tests/WinnowCompressionTests/Fixtures/pruning.safetensors with the weights of three
layers (conv 6x1x5x5, linear 60x100, linear 10x84) and the masks PyTorch computes:
  global.<amount>.<layer>  from prune.global_unstructured(L1Unstructured, amount)
  layer.<amount>.<layer>   from prune.l1_unstructured(module, "weight", amount)
Run: .venv/bin/python Utilities/Reference/make_pruning_fixtures.py  (torch==2.15.0, safetensors)
"""
import pathlib
import torch
from torch import nn
from torch.nn.utils import prune
from safetensors.torch import save_file

assert torch.__version__.split("+")[0] == "2.15.0", f"written for torch 2.15.0, found {torch.__version__}"
torch.manual_seed(0)

def layers():
    torch.manual_seed(0)
    return {"conv1.weight": nn.Conv2d(1, 6, 5), "fc1.weight": nn.Linear(100, 60), "fc3.weight": nn.Linear(84, 10)}

tensors = {f"weight.{k}": m.weight.detach().clone() for k, m in layers().items()}
for amount in (0.5, 0.9, 0.37):  # 0.37 exercises rounding of the prune count
    mods = layers()
    prune.global_unstructured([(m, "weight") for m in mods.values()], pruning_method=prune.L1Unstructured, amount=amount)
    for k, m in mods.items():
        tensors[f"global.{amount}.{k}"] = m.weight_mask.detach().clone()
    mods = layers()
    for k, m in mods.items():
        prune.l1_unstructured(m, "weight", amount=amount)
        tensors[f"layer.{amount}.{k}"] = m.weight_mask.detach().clone()

out = pathlib.Path(__file__).resolve().parents[2] / "Tests/WinnowCompressionTests/Fixtures/pruning.safetensors"
out.parent.mkdir(parents=True, exist_ok=True)
save_file({k: (v.contiguous().float() if k.startswith("weight.") else v.contiguous().to(torch.uint8)) for k, v in tensors.items()}, str(out),
          metadata={"generator": "Utilities/Reference/make_pruning_fixtures.py", "torch": torch.__version__, "fixture_version": "1"})
print(f"wrote {out} ({out.stat().st_size} bytes, {len(tensors)} tensors)")
