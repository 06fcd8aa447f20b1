#!/usr/bin/python3
"""Peer for golgi_bench_lmhead_decode: LM-head decoding of every neuron, written the naive way in
python3-torch (Debian's /usr/bin/python3, the same libtorch 1.13 that golgi links).

For each chunk of --chunk neurons (columns of W_in [d, N], as GPT-2's c_fc stores them):
    p = torch.softmax(W_U @ W_in[:, chunk], dim=0)      # [vocab, chunk]
    top = torch.topk(p, k, dim=0)
i.e. softmax(W_U @ W_in) in chunks, with the probabilities materialised per chunk and topk on
them. Random float32 weights (torch.manual_seed(0); W_U [vocab, d], W_in [d, N]), under
torch.inference_mode(), torch.set_num_threads(--threads), one inter-op thread and
OPENBLAS_NUM_THREADS=--threads (set before torch loads, since OpenBLAS sizes its pool then).

Measured (best of --repetitions):
  sgemm_gflops  W_U @ W_in[:, chunk] alone (the peer's own product shape): 2 chunk vocab d / seconds;
  decode        the whole loop: seconds, GFLOP/s = 2 N vocab d / seconds, fraction of its sgemm peak;
  paired        for --paired chunks spread over the neurons, the chunk's product alone and the chunk's
                softmax + topk step (product included), back to back, alternating which goes first;
                fraction_of_peak = sum of product seconds / sum of step seconds (robust to the load
                of a shared machine, which the minutes-long whole loop is not).
Prints one JSON object: {"arm", "peer", "torch_version", "python_version", "threads", "shape",
"sgemm_gflops", "decode": {"seconds": [...], "best_seconds", "gflops", "fraction_of_peak"}}.
"""
import argparse
import json
import os
import platform
import sys
import time

parser = argparse.ArgumentParser()
parser.add_argument("--threads", type=int, default=1)
parser.add_argument("--repetitions", type=int, default=1)
parser.add_argument("--neurons", type=int, default=36864)
parser.add_argument("--vocab", type=int, default=50257)
parser.add_argument("--d-model", type=int, default=768)
parser.add_argument("--chunk", type=int, default=256)
parser.add_argument("--top-k", type=int, default=10)
parser.add_argument("--paired", type=int, default=16)
args = parser.parse_args()
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(args.threads)

import torch  # noqa: E402  (after the thread variables)

torch.set_num_threads(args.threads)
torch.set_num_interop_threads(1)


def best_of(reps, fn):
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main():
    n, v, d, c, k = args.neurons, args.vocab, args.d_model, args.chunk, args.top_k
    torch.manual_seed(0)
    with torch.inference_mode():
        W_U = torch.randn(v, d) * 0.05
        W_in = torch.randn(d, n) * 0.05
        part = W_in[:, :min(c, n)]
        W_U @ part
        gemm = best_of(max(args.repetitions, 3), lambda: W_U @ part)
        peak = 2.0 * min(c, n) * v * d / gemm / 1e9

        def step(start):
            p = torch.softmax(W_U @ W_in[:, start:start + c], dim=0)
            return torch.topk(p, k, dim=0)

        def decode():
            ids, probs = [], []
            for start in range(0, n, c):
                top = step(start)
                probs.append(top.values.T)
                ids.append(top.indices.T)
            return torch.cat(ids), torch.cat(probs)

        chunks = (n + c - 1) // c
        pair_gemm, pair_step, fractions = 0.0, 0.0, []
        for i in range(args.paired):
            start = min(chunks - 1, i * chunks // args.paired) * c
            timed = {}
            order = ("step", "gemm") if i % 2 else ("gemm", "step")
            for what in order:
                t0 = time.perf_counter()
                if what == "gemm":
                    W_U @ W_in[:, start:start + c]
                else:
                    step(start)
                timed[what] = time.perf_counter() - t0
            pair_gemm += timed["gemm"]
            pair_step += timed["step"]
            fractions.append(timed["gemm"] / timed["step"])

        times = []
        for _ in range(args.repetitions):
            t0 = time.perf_counter()
            ids, _ = decode()
            times.append(time.perf_counter() - t0)
            assert ids.shape == (n, k)
    best = min(times)
    gflops = 2.0 * n * v * d / best / 1e9
    json.dump({"arm": "python", "peer": "python3-torch naive softmax(W_U @ W_in) in chunks + topk",
               "torch_version": torch.__version__, "python_version": platform.python_version(),
               "threads": args.threads, "shape": {"neurons": n, "vocab": v, "d_model": d, "chunk": c, "top_k": k},
               "sgemm_gflops": peak,
               "decode": {"seconds": times, "best_seconds": best, "gflops": gflops,
                          "fraction_of_peak": gflops / peak},
               "paired": {"chunks": args.paired, "sgemm_seconds": pair_gemm, "decode_seconds": pair_step,
                          "fraction_of_peak": pair_gemm / pair_step,
                          "median_pair_fraction": sorted(fractions)[len(fractions) // 2],
                          "pair_fractions": fractions}}, sys.stdout, indent=2)
    print()


main()
