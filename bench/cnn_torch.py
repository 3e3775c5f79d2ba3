#!/usr/bin/python3
"""PyTorch reference for `cnn-bench throughput`: the same small VGG-style CNN, started from the exact
initial model the Java bench exported (weights, keep-masks, BatchNorm state), trained with plain SGD on
the same Fashion-MNIST batches in the same order. Prints one JSON line per model file.

Architecture per channel entry: Conv2d 3x3 pad 1 (no bias) -> BatchNorm2d (eps 1e-5, momentum 0.1)
-> ReLU -> MaxPool 2x2; then Linear with bias. Loss: cross entropy (mean over the batch).
Dense models (every keep bit set) train the idiomatic nn.Sequential; sparse ones use the weight times
its mask in the forward pass and re-zero inactive weights after each SGD step, as the agent does.
"""
import argparse
import gzip
import json
import os
import statistics
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def read_idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    zero, dtype, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype != 0x08:
        sys.exit(f"{path}: not an unsigned-byte IDX file")
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


class MaskedSmallVgg(nn.Module):
    """Functional form with keep-masks; the masks are buffers, the weights parameters."""

    def __init__(self, model):
        super().__init__()
        self.blocks = len(model["channels"])
        self.weights = nn.ParameterList()
        self.masks = []
        for b in range(self.blocks):
            self._add(model["sparse"][f"conv{b}.weight"])
        self._add(model["sparse"]["fc.weight"])
        self.bns = nn.ModuleList(batch_norm(model, b, c) for b, c in enumerate(model["channels"]))
        self.fc_bias = nn.Parameter(torch.tensor(model["dense"]["fc.bias"], dtype=torch.float32))

    def _add(self, layer):
        shape = layer["shape"]
        self.weights.append(nn.Parameter(torch.tensor(layer["weights"], dtype=torch.float32).reshape(shape)))
        self.masks.append(torch.tensor(layer["keep"], dtype=torch.float32).reshape(shape))

    def forward(self, x):
        h = x
        for b in range(self.blocks):
            h = F.conv2d(h, self.weights[b] * self.masks[b], padding=1)
            h = F.max_pool2d(F.relu(self.bns[b](h)), 2, 2)
        h = h.reshape(h.shape[0], -1)
        return F.linear(h, self.weights[-1] * self.masks[-1], self.fc_bias)

    @torch.no_grad()
    def apply_masks(self):
        for w, m in zip(self.weights, self.masks):
            w.mul_(m)


def batch_norm(model, b, channels):
    bn = nn.BatchNorm2d(channels, eps=1e-5, momentum=0.1)
    with torch.no_grad():
        bn.weight.copy_(torch.tensor(model["dense"][f"bn{b}.gamma"]))
        bn.bias.copy_(torch.tensor(model["dense"][f"bn{b}.beta"]))
        bn.running_mean.copy_(torch.tensor(model["dense"][f"bn{b}.runningMean"]))
        bn.running_var.copy_(torch.tensor(model["dense"][f"bn{b}.runningVar"]))
    return bn


def dense_small_vgg(model):
    layers = []
    inputs = 1
    for b, c in enumerate(model["channels"]):
        conv = nn.Conv2d(inputs, c, 3, padding=1, bias=False)
        with torch.no_grad():
            conv.weight.copy_(torch.tensor(model["sparse"][f"conv{b}.weight"]["weights"]).reshape(conv.weight.shape))
        layers += [conv, batch_norm(model, b, c), nn.ReLU(), nn.MaxPool2d(2, 2)]
        inputs = c
    fc_shape = model["sparse"]["fc.weight"]["shape"]
    fc = nn.Linear(fc_shape[1], fc_shape[0])
    with torch.no_grad():
        fc.weight.copy_(torch.tensor(model["sparse"]["fc.weight"]["weights"]).reshape(fc.weight.shape))
        fc.bias.copy_(torch.tensor(model["dense"]["fc.bias"]))
    return nn.Sequential(*layers, nn.Flatten(), fc)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("models", nargs="+", help="JSON files written by cnn-bench throughput --export")
    p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--batches", type=int, default=100)
    p.add_argument("--warmup", type=int, default=30)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--check-steps", type=int, default=5)
    a = p.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    images = read_idx(os.path.join(a.data, "train-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(a.data, "train-labels-idx1-ubyte.gz"))
    n = a.batches * a.batch
    x = torch.from_numpy(images[:n].astype(np.float32) / np.float32(255)).reshape(n, 1, 28, 28)
    y = torch.from_numpy(labels[:n].astype(np.int64))
    data = [(x[i * a.batch:(i + 1) * a.batch].contiguous(), y[i * a.batch:(i + 1) * a.batch].contiguous()) for i in range(a.batches)]
    print(json.dumps({"engine": f"PyTorch {torch.__version__}", "intra_op_threads": torch.get_num_threads(),
                      "inter_op_threads": torch.get_num_interop_threads(),
                      "omp_num_threads": os.environ.get("OMP_NUM_THREADS", "unset")}), flush=True)

    for path in a.models:
        with open(path) as f:
            model = json.load(f)
        sparse = any(0 in layer["keep"] for layer in model["sparse"].values())
        net = MaskedSmallVgg(model) if sparse else dense_small_vgg(model)
        net.train()
        optimizer = torch.optim.SGD(net.parameters(), lr=a.lr, momentum=0, weight_decay=0)

        def step(i):
            bx, by = data[i % len(data)]
            optimizer.zero_grad(set_to_none=False)
            loss = F.cross_entropy(net(bx), by)
            loss.backward()
            optimizer.step()
            if sparse:
                net.apply_masks()
            return loss.item()

        i = 0
        losses = []
        for i in range(a.warmup):
            loss = step(i)
            if i < a.check_steps:
                losses.append(loss)
        i = a.warmup
        per_s, per_cpu_s = [], []
        for _ in range(a.repeat):
            cpu, start = time.process_time(), time.perf_counter()
            for _ in range(a.steps):
                step(i)
                i += 1
            per_s.append(a.steps * a.batch / (time.perf_counter() - start))
            per_cpu_s.append(a.steps * a.batch / (time.process_time() - cpu))
        kept = sum(sum(layer["keep"]) for layer in model["sparse"].values())
        total = sum(len(layer["keep"]) for layer in model["sparse"].values())
        print(json.dumps({"impl": "pytorch", "model": os.path.basename(path), "density": round(kept / total, 4), "sparse": sparse,
                          "batch": a.batch, "warmup_steps": a.warmup, "steps": a.steps, "repeat": a.repeat,
                          "images_per_s": [round(v, 1) for v in per_s], "median_images_per_s": round(statistics.median(per_s), 1),
                          "images_per_cpu_s": [round(v, 1) for v in per_cpu_s], "first_losses": losses}), flush=True)


if __name__ == "__main__":
    main()
