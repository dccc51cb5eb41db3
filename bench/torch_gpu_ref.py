#!/usr/bin/env python3
"""PyTorch on a CUDA GPU, the yardstick of ferlab's webgpu benchmark (`npm run bench` with FERLAB_BACKEND=webgpu).

The same architectures and the same full training steps as bench/torch_ref.py (its `build` and `time_steps`: forward
in training mode, cross-entropy, backward, Adam, loss.item() after every step), on the GPU instead of the CPU.

Usage: python3 bench/torch_gpu_ref.py --spec models.json --steps 30 --warmup 5 --batch 64
Prints one JSON object: {"torch": version, "device": name, "models": {name: {"median_ms", "steps_ms"}}}, or exits 2
with a message on stderr when CUDA is not available.
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_ref import build  # noqa: E402


def time_steps(model, batch, steps, warmup, num_classes, device):
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    x = torch.rand(batch, 1, 48, 48, device=device)
    y = torch.randint(0, num_classes, (batch,), device=device)
    model.train()
    times = []
    for i in range(warmup + steps):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        loss.item()
        if i >= warmup:
            times.append((time.perf_counter() - t0) * 1000)
    return times


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--spec", required=True)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--batch", type=int, default=64)
    a = ap.parse_args()
    if not torch.cuda.is_available():
        print("torch_gpu_ref.py: CUDA is not available", file=sys.stderr)
        sys.exit(2)
    spec = json.load(open(a.spec))
    out = {"torch": torch.__version__, "device": torch.cuda.get_device_name(0), "models": {}}
    torch.manual_seed(0)
    for name, m in spec["models"].items():
        net = build(m["layers"], 1, m["num_classes"]).cuda()
        times = time_steps(net, a.batch, a.steps, a.warmup, m["num_classes"], "cuda")
        out["models"][name] = {"median_ms": statistics.median(times), "steps_ms": times}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
