#!/usr/bin/env python3
"""PyTorch yardstick for `npm run bench`.

Builds, in PyTorch, the same architectures ferlab trains (read from the Keras-style topology that tfjs writes in
model.json, passed by ferlab's benchmark as one JSON file) and times full training steps: forward in training mode,
cross-entropy, backward, Adam step, for a batch of 48x48x1 images, at each requested thread count.

Usage: python3 bench/torch_ref.py --spec models.json --steps 30 --warmup 5 --batch 64 --threads 1,2
Prints one JSON object: {"torch": version, "models": {name: {threads: {"median_ms", "steps_ms"}}}, "skipped": {name:
reason}} (a topology it cannot translate, e.g. SeparableConv2D or a residual network, is skipped with the reason).

With --inference 1,64 it times inference instead (src/bench/inference.ts): model.eval() under torch.no_grad(), per
call the input tensor from a float32 buffer (torch.from_numpy), the forward pass and the logits read back (.numpy()),
as the tfjs and ONNX Runtime timings do; --runs-small / --runs-large calls at batch 1 / larger batches after warm-up.
Prints {"torch": version, "models": {name: {threads: {batch: {"median_ms", "runs_ms"}}}}}.
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn as nn


def build(layers, in_ch, num_classes):
    """PyTorch nn.Sequential equivalent of a tfjs Sequential topology (NCHW instead of NHWC)."""
    mods, ch, flat = [], in_ch, None
    size = 48
    for layer in layers:
        cls, cfg = layer["class_name"], layer["config"]
        if cls == "Conv2D":
            k = cfg["kernel_size"][0]
            s = cfg["strides"][0]
            pad = k // 2 if cfg["padding"] == "same" else 0
            mods.append(nn.Conv2d(ch, cfg["filters"], k, stride=s, padding=pad, bias=cfg["use_bias"]))
            ch = cfg["filters"]
            size = (size + 2 * pad - k) // s + 1
            if cfg.get("activation") == "relu":
                mods.append(nn.ReLU())
        elif cls == "BatchNormalization":
            mods.append(nn.BatchNorm2d(ch, eps=cfg["epsilon"], momentum=1 - cfg["momentum"]) if flat is None else nn.BatchNorm1d(ch))
        elif cls == "Activation":
            assert cfg["activation"] == "relu", cfg["activation"]
            mods.append(nn.ReLU())
        elif cls == "MaxPooling2D":
            p, s = cfg["pool_size"][0], cfg["strides"][0]
            mods.append(nn.MaxPool2d(p, s))
            size = (size - p) // s + 1
        elif cls == "Dropout":
            mods.append(nn.Dropout(cfg["rate"]))
        elif cls == "Flatten":
            mods.append(nn.Flatten())
            flat = ch * size * size
            ch = flat
        elif cls == "Dense":
            mods.append(nn.Linear(ch, cfg["units"], bias=cfg["use_bias"]))
            ch = cfg["units"]
            if cfg.get("activation") == "relu":
                mods.append(nn.ReLU())
        else:
            raise ValueError(f"layer {cls} has no PyTorch equivalent here")
    assert ch == num_classes, (ch, num_classes)
    return nn.Sequential(*mods)


def time_steps(model, batch, steps, warmup, num_classes):
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    x = torch.rand(batch, 1, 48, 48)
    y = torch.randint(0, num_classes, (batch,))
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


def time_inference(model, batch, runs, warmup):
    import numpy as np

    buf = np.random.default_rng(0).random((batch, 1, 48, 48), dtype=np.float32)
    model.eval()
    times = []
    with torch.no_grad():
        for i in range(warmup + runs):
            t0 = time.perf_counter()
            model(torch.from_numpy(buf)).numpy()
            if i >= warmup:
                times.append((time.perf_counter() - t0) * 1000)
    return times


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--spec", required=True)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--inference", default="", help="batch sizes to time inference at instead of training, e.g. 1,64")
    ap.add_argument("--runs-small", type=int, default=200)
    ap.add_argument("--runs-large", type=int, default=20)
    a = ap.parse_args()
    spec = json.load(open(a.spec))
    out = {"torch": torch.__version__, "models": {}, "skipped": {}}
    torch.manual_seed(0)
    for name, m in spec["models"].items():
        try:
            build(m["layers"], 1, m["num_classes"])
        except (ValueError, KeyError, AssertionError) as e:
            # e.g. SeparableConv2D or a functional (residual) topology: not translated here
            out["skipped"][name] = f"{type(e).__name__}: {e}"
            continue
        res = {}
        for t in [int(v) for v in a.threads.split(",")]:
            torch.set_num_threads(t)
            net = build(m["layers"], 1, m["num_classes"])
            if a.inference:
                res[str(t)] = {}
                for b in [int(v) for v in a.inference.split(",")]:
                    runs = a.runs_small if b == 1 else a.runs_large
                    times = time_inference(net, b, runs, max(3, runs // 10))
                    res[str(t)][str(b)] = {"median_ms": statistics.median(times), "runs_ms": times}
                continue
            times = time_steps(net, a.batch, a.steps, a.warmup, m["num_classes"])
            res[str(t)] = {"median_ms": statistics.median(times), "steps_ms": times}
        out["models"][name] = res
    print(json.dumps(out))


if __name__ == "__main__":
    main()
