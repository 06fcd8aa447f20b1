#!/usr/bin/env python3
"""Peer for bench/spiking_lif_bench.cpp: the same 140-256-256-20 LIF network trained the way a
PyTorch user writes it (snnTorch / SpikingJelly step mode): a Python loop over T with one op per
step, the ATan surrogate as a Python autograd function, hard reset, Adam. Prints one JSON line:
{"ms_per_step": ..., "steps": ..., "threads": ...}.

--shape onn: the Open Neuromorphic SNN-library benchmark shape, one Linear(n, n) + LIF layer, batch
16, T 500, analog input, forward + backward of the summed spikes (no optimiser).

usage: spiking_lif.py [--shape train|onn] [--n 512] --threads N --steps K
"""
import argparse
import json
import math
import time

import torch


class ATanSpike(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, alpha):
        ctx.save_for_backward(x)
        ctx.alpha = alpha
        return (x >= 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        a = ctx.alpha
        return grad * (a / 2) / (1 + (math.pi * a / 2 * x) ** 2), None


class Net(torch.nn.Module):
    def __init__(self, beta):
        super().__init__()
        self.fc1 = torch.nn.Linear(140, 256)
        self.fc2 = torch.nn.Linear(256, 256)
        self.fc3 = torch.nn.Linear(256, 20)
        self.beta = beta

    def lif(self, v, current):
        h = self.beta * v + current
        s = ATanSpike.apply(h - 1.0, 2.0)
        return s, h * (1 - s)

    def forward(self, x):
        T, B = x.shape[0], x.shape[1]
        v1 = torch.zeros(B, 256)
        v2 = torch.zeros(B, 256)
        out = 0
        for t in range(T):
            s1, v1 = self.lif(v1, self.fc1(x[t]))
            s2, v2 = self.lif(v2, self.fc2(s1))
            out = out + self.fc3(s2)
        return out / T


class Layer(torch.nn.Module):
    def __init__(self, n, beta):
        super().__init__()
        self.fc = torch.nn.Linear(n, n)
        self.beta = beta
        self.n = n

    def forward(self, x):
        v = torch.zeros(x.shape[1], self.n)
        spikes = []
        for t in range(x.shape[0]):
            h = self.beta * v + self.fc(x[t])
            s = ATanSpike.apply(h - 1.0, 2.0)
            v = h * (1 - s)
            spikes.append(s)
        return torch.stack(spikes)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--shape", choices=["train", "onn"], default="train")
    p.add_argument("--n", type=int, default=512)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    if a.shape == "onn":
        layer = Layer(a.n, math.exp(-1.0 / 2.0))
        x = torch.rand(500, 16, a.n)

        def onn_step():
            layer.zero_grad()
            layer(x).sum().backward()

        onn_step()  # warm-up
        t0 = time.perf_counter()
        for _ in range(a.steps):
            onn_step()
        ms = (time.perf_counter() - t0) * 1000 / a.steps
        print(json.dumps({"ms_per_step": ms, "steps": a.steps, "threads": a.threads}))
        return
    net = Net(math.exp(-1.0 / 2.0))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    x = (torch.rand(100, 64, 140) < 0.2).float()
    y = torch.randint(0, 20, (64,))

    def step():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(net(x), y)
        loss.backward()
        opt.step()

    step()  # warm-up
    t0 = time.perf_counter()
    for _ in range(a.steps):
        step()
    ms = (time.perf_counter() - t0) * 1000 / a.steps
    print(json.dumps({"ms_per_step": ms, "steps": a.steps, "threads": a.threads}))


if __name__ == "__main__":
    main()
