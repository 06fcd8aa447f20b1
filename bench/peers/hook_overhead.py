#!/usr/bin/python3
"""Peer for bench/hook_overhead_bench.cpp: per-hook cost of PyTorch eager forward hooks.

Run with Debian's interpreter (/usr/bin/python3 and python3-torch, the same libtorch 1.13 that
golgi links). The models mirror golgi's "mlp" and "cnn" (default options) layer for layer, with an
nn.Identity wherever golgi has a hook point and under the same dotted name -- which is how
TransformerLens places its HookPoints. A caching hook is a register_forward_hook that stores
output.detach() in a dict under the hook's name; the dict is cleared before each forward, as
golgi's ActivationCache.run() clears its map.

Method (the same as BM_HookOverhead): two copies of a model with the same seed, one with a caching
hook on every hook site; each pair times one forward of each, back to back, alternating which goes
first; per-hook cost = median over pairs of (hooked - plain) / hooks. The same with a hook that
does nothing ("noop") separates dispatch from caching. Repeated; the reported value
is the median over repetitions. Wall time (perf_counter_ns) and thread CPU time (thread_time_ns)
are both reported. Batch 1, 1 thread, autograd on (the eager default, as in the golgi arm).

Prints one JSON object to stdout.
"""
import argparse
import json
import math
import os
import platform
import statistics
import sys
import time

import torch
from torch import nn


class Dense(nn.Module):
    """golgi DenseLayer: linear, then hook_pre -> relu -> hook_post, or a single hook_out."""

    def __init__(self, in_features, out_features, activation):
        super().__init__()
        self.linear = nn.Linear(in_features, out_features)
        self.activation = activation
        if activation:
            self.hook_pre = nn.Identity()
            self.relu = nn.ReLU()
            self.hook_post = nn.Identity()
        else:
            self.hook_out = nn.Identity()

    def forward(self, x):
        y = self.linear(x)
        if self.activation:
            return self.hook_post(self.relu(self.hook_pre(y)))
        return self.hook_out(y)


class Conv(nn.Module):
    """golgi ConvLayer (no batch norm, pooled): conv, hook_pre, relu, hook_post, pool, hook_pool."""

    def __init__(self, in_channels, out_channels, kernel_size):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2)
        self.hook_pre = nn.Identity()
        self.relu = nn.ReLU()
        self.hook_post = nn.Identity()
        self.pool = nn.MaxPool2d(2)
        self.hook_pool = nn.Identity()

    def forward(self, x):
        y = self.hook_post(self.relu(self.hook_pre(self.conv(x))))
        return self.hook_pool(self.pool(y))


class Mlp(nn.Module):
    """golgi "mlp" defaults: input [1, 28, 28] flattened, hidden [256, 128], 10 classes."""

    input_shape = (1, 28, 28)

    def __init__(self, hidden=(256, 128), classes=10):
        super().__init__()
        width = math.prod(self.input_shape)
        self.layers = nn.ModuleList()
        for h in hidden:
            self.layers.append(Dense(width, h, True))
            width = h
        self.head = Dense(width, classes, False)

    def forward(self, x):
        x = x.flatten(1)
        for layer in self.layers:
            x = layer(x)
        return self.head(x)


class Cnn(nn.Module):
    """golgi "cnn" defaults: input [1, 28, 28], channels [16, 32], kernel 5, hidden [128], 10 classes."""

    input_shape = (1, 28, 28)

    def __init__(self, channels=(16, 32), kernel_size=5, hidden=(128,), classes=10):
        super().__init__()
        c, size = self.input_shape[0], self.input_shape[1]
        for i, out in enumerate(channels):
            setattr(self, f"conv{i + 1}", Conv(c, out, kernel_size))
            c, size = out, size // 2
        self.n_convs = len(channels)
        width = c * size * size
        for j, h in enumerate(hidden):
            setattr(self, f"fc{j + 1}", Dense(width, h, True))
            width = h
        self.n_fcs = len(hidden)
        self.head = Dense(width, classes, False)

    def forward(self, x):
        for i in range(self.n_convs):
            x = getattr(self, f"conv{i + 1}")(x)
        x = x.flatten(1)
        for j in range(self.n_fcs):
            x = getattr(self, f"fc{j + 1}")(x)
        return self.head(x)


MODELS = {"mlp": Mlp, "cnn": Cnn}


def hook_sites(model):
    return [(name, m) for name, m in model.named_modules() if name.rsplit(".", 1)[-1].startswith("hook_")]


def attach_cache(model, cache):
    """One forward hook per hook site, caching the detached output under the site's name."""
    handles = []
    for name, module in hook_sites(model):
        def hook(module, inputs, output, name=name):
            cache[name] = output.detach()

        handles.append(module.register_forward_hook(hook))
    return handles


def attach_noop(model):
    """One forward hook per hook site that does nothing: the cost of hook dispatch alone."""
    def hook(module, inputs, output):
        return None

    return [module.register_forward_hook(hook) for _, module in hook_sites(model)]


def timed(fn):
    c0 = time.thread_time_ns()
    w0 = time.perf_counter_ns()
    fn()
    w1 = time.perf_counter_ns()
    c1 = time.thread_time_ns()
    return w1 - w0, c1 - c0


def paired(run_plain, run_hooked, pairs):
    """Per-pair samples in ns: lists of (plain wall, plain cpu, hooked wall, hooked cpu)."""
    bw, bc, hw, hc = [], [], [], []
    hooked_first = False
    for _ in range(pairs):
        if hooked_first:
            h = timed(run_hooked)
            b = timed(run_plain)
        else:
            b = timed(run_plain)
            h = timed(run_hooked)
        hooked_first = not hooked_first
        bw.append(b[0])
        bc.append(b[1])
        hw.append(h[0])
        hc.append(h[1])
    return bw, bc, hw, hc


def summarize(reps, hooks):
    """reps: per repetition (bw, bc, hw, hc). Medians within a repetition, then across them (us)."""
    keys = ["base_wall_us", "hooked_wall_us", "per_hook_wall_us", "base_cpu_us", "hooked_cpu_us", "per_hook_cpu_us"]
    per_rep = {k: [] for k in keys}
    for bw, bc, hw, hc in reps:
        per_rep["base_wall_us"].append(statistics.median(bw) / 1e3)
        per_rep["hooked_wall_us"].append(statistics.median(hw) / 1e3)
        per_rep["per_hook_wall_us"].append(statistics.median(h - b for b, h in zip(bw, hw)) / hooks / 1e3)
        per_rep["base_cpu_us"].append(statistics.median(bc) / 1e3)
        per_rep["hooked_cpu_us"].append(statistics.median(hc) / 1e3)
        per_rep["per_hook_cpu_us"].append(statistics.median(h - b for b, h in zip(bc, hc)) / hooks / 1e3)
    out = {k: statistics.median(v) for k, v in per_rep.items()}
    out["repetitions_data"] = per_rep
    return out


def bench_model(arch, kind, pairs, repetitions):
    """kind: "cache" (the headline) or "noop"."""
    torch.manual_seed(0)
    plain = MODELS[arch]()
    torch.manual_seed(0)
    hooked = MODELS[arch]()
    x = torch.randn(1, *plain.input_shape)
    cache = {}
    handles = attach_cache(hooked, cache) if kind == "cache" else attach_noop(hooked)
    hooks = len(handles)

    def run_plain():
        return plain(x)

    def run_hooked():
        cache.clear()
        return hooked(x)

    for _ in range(50):
        run_plain()
        run_hooked()
    assert hooks == len(hook_sites(plain)), "a hook site was missed"
    assert kind != "cache" or len(cache) == hooks, "the cache did not record every hook site"
    reps = [paired(run_plain, run_hooked, pairs) for _ in range(repetitions)]
    out = {"hooks": hooks, "hook_names": [name for name, _ in hook_sites(hooked)], "pairs": pairs,
           "repetitions": repetitions}
    out.update(summarize(reps, hooks))
    for h in handles:
        h.remove()
    return out


def bench_hook_point(iterations, repetitions):
    """One nn.Identity on a [1, 128] activation that requires grad: no hook vs one caching hook."""
    point = nn.Identity()
    a = torch.randn(128, requires_grad=True) * 2
    cache = {}

    def run():
        cache.clear()
        return point(a)

    def block():
        t0 = time.perf_counter_ns()
        for _ in range(iterations):
            run()
        return (time.perf_counter_ns() - t0) / iterations / 1e3

    block()
    bare = [block() for _ in range(repetitions)]
    handle = attach_cache_one(point, "hook_post", cache)
    block()
    hooked = [block() for _ in range(repetitions)]
    handle.remove()
    return {"no_hooks_us": statistics.median(bare), "cache_hook_us": statistics.median(hooked),
            "per_hook_us": statistics.median(hooked) - statistics.median(bare),
            "repetitions_data": {"no_hooks_us": bare, "cache_hook_us": hooked}}


def attach_cache_one(module, name, cache):
    def hook(module, inputs, output):
        cache[name] = output.detach()

    return module.register_forward_hook(hook)


def bench_matmul(n, repetitions):
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(3):
        torch.mm(a, b)
    samples = []
    for _ in range(repetitions):
        w, c = timed(lambda: torch.mm(a, b))
        samples.append((w, c))
    flops = 2.0 * n ** 3
    return {"n": n, "gflops_best": flops / min(s[0] for s in samples),
            "gflops_wall": flops / statistics.median(s[0] for s in samples),
            "gflops_cpu": flops / statistics.median(s[1] for s in samples)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repetitions", type=int, default=10)
    parser.add_argument("--mlp-pairs", type=int, default=2000)
    parser.add_argument("--cnn-pairs", type=int, default=800)
    parser.add_argument("--quick", action="store_true", help="few pairs, for a smoke test")
    args = parser.parse_args()
    if args.quick:
        args.repetitions, args.mlp_pairs, args.cnn_pairs = 2, 50, 20

    # OpenBLAS (Debian's libblas) keeps its own thread pool, which torch.set_num_threads does not
    # size; it reads OPENBLAS_NUM_THREADS when it loads, so bench/run.sh sets it to 1.
    if os.environ.get("OPENBLAS_NUM_THREADS") != "1":
        print("warning: OPENBLAS_NUM_THREADS is not 1; BLAS calls may use more than one thread", file=sys.stderr)
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    result = {
        "peer": "python3-torch eager, register_forward_hook on nn.Identity hook sites",
        "python": sys.executable,
        "python_version": platform.python_version(),
        "torch_version": torch.__version__,
        "torch_num_threads": torch.get_num_threads(),
        "openblas_num_threads": os.environ.get("OPENBLAS_NUM_THREADS"),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "grad_enabled": torch.is_grad_enabled(),
        "batch": 1,
        "models": {
            arch: {kind: bench_model(arch, kind, pairs, args.repetitions) for kind in ("cache", "noop")}
            for arch, pairs in (("mlp", args.mlp_pairs), ("cnn", args.cnn_pairs))
        },
        "hook_point": bench_hook_point(2000 if not args.quick else 100, args.repetitions),
        "matmul": bench_matmul(512, 30 if not args.quick else 3),
    }
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
