#!/usr/bin/python3
"""Peer for golgi_bench_transformer: a GPT-2-style LM in python3-torch eager, TransformerLens-style.

Run with Debian's interpreter (/usr/bin/python3 and python3-torch, the same libtorch 1.13 that
golgi links) and numpy; nothing else. The model is written the way a researcher using
TransformerLens-style code writes it: nn.Module classes with a `HookPoint` (an nn.Identity) at
every TransformerLens hook site, caching done with register_forward_hook storing output.detach()
in a dict.

Model (GPT-2 architecture): learned token (W_E) and position (W_pos) embeddings, pre-LayerNorm
blocks, fused QKV nn.Linear, causal attention written out (q @ k^T / sqrt(d_head), masked_fill with
-inf above the diagonal, softmax, pattern @ v) so that hook_attn_scores and hook_pattern exist,
output projection nn.Linear, MLP nn.Linear -> GELU (tanh approximation) -> nn.Linear, final
LayerNorm, unembedding tied to W_E (logits = F.linear(ln_final(x), W_E), no bias, as a tied
nn.Linear lm_head computes it). LayerNorm is F.layer_norm (affine) followed by hook_normalized.
Random weights from torch.manual_seed(0) (GPT-2 initialisation: normal(0, 0.02) matrices and
embeddings, zero biases, LayerNorm 1/0). float32, under torch.inference_mode(),
torch.set_num_threads(--threads), one inter-op thread.

Hook sites, the TransformerLens names and golgi's (15 per layer + 3 = 33 for 2 layers, 183 for 12;
TransformerLens's hook_scale sites and the optional attn.hook_result are left out, as golgi has no
hook_scale and computes hook_result only while it is hooked):
  hook_embed, hook_pos_embed                                  [batch, pos, d_model]
  blocks.{l}.hook_resid_pre, hook_resid_mid, hook_resid_post  [batch, pos, d_model]
  blocks.{l}.hook_attn_out, hook_mlp_out                      [batch, pos, d_model]
  blocks.{l}.ln1.hook_normalized, blocks.{l}.ln2.hook_normalized
  blocks.{l}.attn.hook_q, hook_k, hook_v, hook_z              [batch, pos, head, d_head]
  blocks.{l}.attn.hook_attn_scores (after the mask), hook_pattern   [batch, head, q_pos, k_pos]
  blocks.{l}.mlp.hook_pre, hook_post                          [batch, pos, d_mlp]
  ln_final.hook_normalized

Benchmarks (each measured --repetitions times after a warm-up -- I1 one forward, I2 one batch, I5
50 forwards, I6 one 8-token generation; one value per repetition):
  I1  GPT-2-small shape (12 layers, d_model 768, 12 heads, d_mlp 3072, vocab 50257, n_ctx 1024),
      forward of random ids [4, 128] (full logits) caching the 12 blocks.*.mlp.hook_post.
      Per repetition: median seconds over --i1-forwards forwards; tokens_per_s = 512 / that.
      flops_per_token = 2 * (non-embedding parameters + d_model * vocab)
                        + 2 * 2 * n_layer * ctx_avg * d_model,  ctx_avg = (128 + 1) / 2 = 64.5
      where the non-embedding parameters are every parameter but W_E and W_pos (weights, biases,
      LayerNorms: 85,056,000), d_model * vocab the tied unembedding and the last term QK^T and
      pattern @ V under the causal mask: 249,684,480 FLOP per token.
  I2  the same model recording blocks.0-5.mlp.hook_post over 40 batches of random ids [4, 128]
      (20,480 tokens) into an on-disk store: each batch's six activations, flattened to
      [512, 3072] float32, written with numpy.save as one .npy shard per hook per batch
      ("blocks.{l}.mlp.hook_post.{batch:05d}.npy") in a fresh tempfile.mkdtemp() directory
      (honours TMPDIR). The forward stops after block 5 (stop_at_layer=6, as TransformerLens:
      no later blocks, no ln_final, no logits). tokens_per_s = 20480 / (wall time of the 40
      forwards and the 240 writes); the directory is removed after each repetition (untimed).
  I5  tiny model (2 layers, d_model 128, 4 heads, d_mlp 512, vocab 259, n_ctx 256), random ids
      [1, 32], caching all 33 hook points (the dict cleared before each forward).
      us_per_forward = median over --i5-forwards forwards.
  I6  GPT-2-small shape, greedy generation of 64 new tokens from random prompt ids [1, 16] with a
      KV cache: one forward of the prompt (positions 0-15, full logits, fills each layer's cache),
      then 63 forwards of one token each at position 16 + i (i = 0..62), each layer appending the new
      keys/values onto its cache ([1, pos, head, d_head], torch.cat along pos); the next token is
      the argmax of the last position's logits. A hook on every blocks.*.mlp.hook_post appends
      output.detach() to a per-hook list during generation (64 entries per hook).
      ms_per_token = wall time of the 64 forwards and argmaxes / 64 (warm-up: one generation of 8).
  sgemm_gflops: best over 20 runs of a 1024x1024 @ 1024x1024 fp32 torch.mm (after 3 warm-ups),
      at the same thread count: 2 * 1024^3 / seconds / 1e9.

Prints one JSON object to stdout (the schema golgi_bench_transformer prints too):
  {"arm", "peer", "torch_version", "python_version", "threads", "grad_mode", "sgemm_gflops",
   "results": {"I1": {"tokens_per_s": [...], "flops_per_token"}, "I2": {"tokens_per_s": [...],
   "tokens"}, "I5": {"us_per_forward": [...]}, "I6": {"ms_per_token": [...], "new_tokens": 64}}}
--only I1,I5 runs a subset (the others are left out of "results").
"""
import argparse
import json
import math
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


class HookPoint(nn.Identity):
    """A named place to attach hooks (TransformerLens's HookPoint is an identity module too)."""


class Config:
    def __init__(self, n_layers, d_model, n_heads, d_mlp, d_vocab, n_ctx):
        self.n_layers, self.d_model, self.n_heads = n_layers, d_model, n_heads
        self.d_mlp, self.d_vocab, self.n_ctx = d_mlp, d_vocab, n_ctx
        self.d_head = d_model // n_heads


GPT2_SMALL = Config(n_layers=12, d_model=768, n_heads=12, d_mlp=3072, d_vocab=50257, n_ctx=1024)
TINY = Config(n_layers=2, d_model=128, n_heads=4, d_mlp=512, d_vocab=259, n_ctx=256)


class LayerNorm(nn.Module):
    def __init__(self, d_model, eps=1e-5):
        super().__init__()
        self.w = nn.Parameter(torch.ones(d_model))
        self.b = nn.Parameter(torch.zeros(d_model))
        self.eps = eps
        self.hook_normalized = HookPoint()

    def forward(self, x):
        return self.hook_normalized(F.layer_norm(x, (x.shape[-1],), self.w, self.b, self.eps))


class Attention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.n_heads, self.d_head = cfg.n_heads, cfg.d_head
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model)
        self.out = nn.Linear(cfg.d_model, cfg.d_model)
        self.register_buffer("mask", torch.tril(torch.ones(cfg.n_ctx, cfg.n_ctx, dtype=torch.bool)))
        self.hook_q = HookPoint()
        self.hook_k = HookPoint()
        self.hook_v = HookPoint()
        self.hook_attn_scores = HookPoint()
        self.hook_pattern = HookPoint()
        self.hook_z = HookPoint()

    def forward(self, x, past_kv=None):
        """x [batch, pos, d_model]; past_kv: None or (k, v) [batch, past, head, d_head].
        Returns (output, (k, v)) with k, v including the past."""
        batch, pos, d_model = x.shape
        q, k, v = self.qkv(x).split(d_model, dim=-1)
        q = self.hook_q(q.reshape(batch, pos, self.n_heads, self.d_head))
        k = self.hook_k(k.reshape(batch, pos, self.n_heads, self.d_head))
        v = self.hook_v(v.reshape(batch, pos, self.n_heads, self.d_head))
        past = 0
        if past_kv is not None:
            past = past_kv[0].shape[1]
            k = torch.cat([past_kv[0], k], dim=1)
            v = torch.cat([past_kv[1], v], dim=1)
        scores = q.permute(0, 2, 1, 3) @ k.permute(0, 2, 3, 1) / math.sqrt(self.d_head)
        scores = scores.masked_fill(~self.mask[past:past + pos, :past + pos], float("-inf"))
        scores = self.hook_attn_scores(scores)
        pattern = self.hook_pattern(scores.softmax(dim=-1))
        z = self.hook_z((pattern @ v.permute(0, 2, 1, 3)).transpose(1, 2))
        return self.out(z.reshape(batch, pos, d_model)), (k, v)


class Mlp(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.fc_in = nn.Linear(cfg.d_model, cfg.d_mlp)
        self.fc_out = nn.Linear(cfg.d_mlp, cfg.d_model)
        self.hook_pre = HookPoint()
        self.hook_post = HookPoint()

    def forward(self, x):
        pre = self.hook_pre(self.fc_in(x))
        return self.fc_out(self.hook_post(F.gelu(pre, approximate="tanh")))


class Block(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.ln1 = LayerNorm(cfg.d_model)
        self.attn = Attention(cfg)
        self.ln2 = LayerNorm(cfg.d_model)
        self.mlp = Mlp(cfg)
        self.hook_resid_pre = HookPoint()
        self.hook_attn_out = HookPoint()
        self.hook_resid_mid = HookPoint()
        self.hook_mlp_out = HookPoint()
        self.hook_resid_post = HookPoint()

    def forward(self, x, past_kv=None):
        x = self.hook_resid_pre(x)
        attn_out, kv = self.attn(self.ln1(x), past_kv)
        x = self.hook_resid_mid(x + self.hook_attn_out(attn_out))
        x = self.hook_resid_post(x + self.hook_mlp_out(self.mlp(self.ln2(x))))
        return x, kv


class Transformer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.W_E = nn.Parameter(torch.empty(cfg.d_vocab, cfg.d_model))
        self.W_pos = nn.Parameter(torch.empty(cfg.n_ctx, cfg.d_model))
        self.hook_embed = HookPoint()
        self.hook_pos_embed = HookPoint()
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.ln_final = LayerNorm(cfg.d_model)
        with torch.no_grad():
            for name, p in self.named_parameters():
                if name.endswith(".w"):  # LayerNorm scale
                    p.fill_(1.0)
                elif name.endswith("bias") or name.endswith(".b"):
                    p.zero_()
                else:
                    p.normal_(0.0, 0.02)

    def forward(self, tokens, past_kv=None, stop_at_layer=None):
        """tokens [batch, pos] int64. past_kv: None or a list (one per layer) of (k, v), updated in
        place. stop_at_layer: as TransformerLens, run blocks [0, stop_at_layer) and return the
        residual stream. Otherwise returns the logits [batch, pos, d_vocab]."""
        past = 0 if not past_kv else past_kv[0][0].shape[1]
        pos_embed = self.W_pos[past:past + tokens.shape[1]].expand(tokens.shape[0], -1, -1)
        x = self.hook_embed(F.embedding(tokens, self.W_E)) + self.hook_pos_embed(pos_embed)
        for layer, block in enumerate(self.blocks[:stop_at_layer]):
            cached = past_kv is not None and len(past_kv) > layer
            x, kv = block(x, past_kv[layer] if cached else None)
            if cached:
                past_kv[layer] = kv
            elif past_kv is not None:
                past_kv.append(kv)
        if stop_at_layer is not None:
            return x
        return F.linear(self.ln_final(x), self.W_E)


def hook_points(model):
    return [(name, m) for name, m in model.named_modules() if isinstance(m, HookPoint)]


def cache_hooks(model, names, cache):
    """register_forward_hook on each named hook point storing output.detach() in cache[name]."""
    modules = dict(model.named_modules())
    handles = []
    for name in names:
        def hook(module, inputs, output, name=name):
            cache[name] = output.detach()

        handles.append(modules[name].register_forward_hook(hook))
    return handles


def random_tokens(cfg, shape, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, cfg.d_vocab, shape, generator=g)


def gpt2_small():
    torch.manual_seed(0)
    return Transformer(GPT2_SMALL).eval()


def flops_per_token(model, ctx):
    cfg = model.cfg
    non_embedding = sum(p.numel() for name, p in model.named_parameters() if name not in ("W_E", "W_pos"))
    ctx_avg = (ctx + 1) / 2
    return 2 * (non_embedding + cfg.d_model * cfg.d_vocab) + 2 * 2 * cfg.n_layers * ctx_avg * cfg.d_model


def bench_i1(model, repetitions, forwards):
    names = [f"blocks.{l}.mlp.hook_post" for l in range(model.cfg.n_layers)]
    cache = {}
    handles = cache_hooks(model, names, cache)
    tokens = random_tokens(model.cfg, (4, 128), seed=1)

    def forward():
        cache.clear()
        return model(tokens)

    forward()  # warm-up
    assert len(cache) == 12 and cache[names[0]].shape == (4, 128, 3072)
    values = []
    for _ in range(repetitions):
        times = []
        for _ in range(forwards):
            t0 = time.perf_counter()
            forward()
            times.append(time.perf_counter() - t0)
        values.append(tokens.numel() / statistics.median(times))
    for h in handles:
        h.remove()
    return {"tokens_per_s": values, "flops_per_token": flops_per_token(model, tokens.shape[1])}


def bench_i2(model, repetitions, batches):
    layers = 6
    names = [f"blocks.{l}.mlp.hook_post" for l in range(layers)]
    cache = {}
    handles = cache_hooks(model, names, cache)
    inputs = [random_tokens(model.cfg, (4, 128), seed=100 + b) for b in range(batches)]
    d_mlp = model.cfg.d_mlp

    def record(store, batch_ids):
        for b in batch_ids:
            cache.clear()
            model(inputs[b], stop_at_layer=layers)
            for name in names:
                np.save(os.path.join(store, f"{name}.{b:05d}.npy"), cache[name].reshape(-1, d_mlp).numpy())

    warm = tempfile.mkdtemp(prefix="golgi-bench-i2-")
    try:
        record(warm, [0])  # warm-up
        assert len(os.listdir(warm)) == layers
    finally:
        shutil.rmtree(warm)
    tokens = sum(x.numel() for x in inputs)
    values = []
    for _ in range(repetitions):
        store = tempfile.mkdtemp(prefix="golgi-bench-i2-")
        try:
            t0 = time.perf_counter()
            record(store, range(batches))
            values.append(tokens / (time.perf_counter() - t0))
            assert len(os.listdir(store)) == layers * batches
        finally:
            shutil.rmtree(store)
    for h in handles:
        h.remove()
    return {"tokens_per_s": values, "tokens": tokens}


def bench_i5(repetitions, forwards):
    torch.manual_seed(0)
    model = Transformer(TINY).eval()
    names = [name for name, _ in hook_points(model)]
    assert len(names) == 15 * TINY.n_layers + 3
    cache = {}
    cache_hooks(model, names, cache)
    tokens = random_tokens(TINY, (1, 32), seed=2)

    def forward():
        cache.clear()
        return model(tokens)

    for _ in range(50):  # warm-up
        forward()
    assert len(cache) == len(names)
    values = []
    for _ in range(repetitions):
        times = []
        for _ in range(forwards):
            t0 = time.perf_counter_ns()
            forward()
            times.append(time.perf_counter_ns() - t0)
        values.append(statistics.median(times) / 1e3)
    return {"us_per_forward": values}


def generate(model, prompt, new_tokens):
    """Greedy decoding with a KV cache; returns the new token ids."""
    past_kv = []
    logits = model(prompt, past_kv=past_kv)
    out = []
    for i in range(new_tokens):
        next_token = logits[:, -1].argmax(dim=-1, keepdim=True)
        out.append(next_token)
        if i + 1 < new_tokens:
            logits = model(next_token, past_kv=past_kv)
    return torch.cat(out, dim=1)


def bench_i6(model, repetitions, new_tokens=64):
    names = [f"blocks.{l}.mlp.hook_post" for l in range(model.cfg.n_layers)]
    stored = {}
    modules = dict(model.named_modules())
    handles = []
    for name in names:
        def hook(module, inputs, output, name=name):
            stored[name].append(output.detach())

        handles.append(modules[name].register_forward_hook(hook))
    prompt = random_tokens(model.cfg, (1, 16), seed=3)

    def run(n):
        for name in names:
            stored[name] = []
        return generate(model, prompt, n)

    run(8)  # warm-up: the prompt forward and 7 single-token steps
    assert all(len(stored[name]) == 8 for name in names)
    values = []
    for _ in range(repetitions):
        t0 = time.perf_counter()
        out = run(new_tokens)
        values.append((time.perf_counter() - t0) * 1e3 / new_tokens)
        assert out.shape == (1, new_tokens) and all(len(stored[name]) == new_tokens for name in names)
    for h in handles:
        h.remove()
    return {"ms_per_token": values, "new_tokens": new_tokens}


def sgemm_gflops(n=1024, runs=20):
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(3):
        torch.mm(a, b)
    best = math.inf
    for _ in range(runs):
        t0 = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - t0)
    return 2.0 * n ** 3 / best / 1e9


BENCHMARKS = ("I1", "I2", "I5", "I6")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--only", default=",".join(BENCHMARKS),
                        help="comma-separated subset of " + ",".join(BENCHMARKS))
    parser.add_argument("--i1-forwards", type=int, default=3, help="I1 forwards per repetition (median)")
    parser.add_argument("--i2-batches", type=int, default=40, help="I2 batches of [4, 128] (40 = 20,480 tokens)")
    parser.add_argument("--i5-forwards", type=int, default=300, help="I5 forwards per repetition (median)")
    args = parser.parse_args()
    only = [b.strip() for b in args.only.split(",") if b.strip()]
    unknown = sorted(set(only) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")

    # OpenBLAS (Debian's libblas) keeps its own thread pool, which torch.set_num_threads does not
    # size; it reads OPENBLAS_NUM_THREADS when it loads, so bench/run.sh sets it to --threads.
    if os.environ.get("OPENBLAS_NUM_THREADS") != str(args.threads):
        print(f"warning: OPENBLAS_NUM_THREADS is {os.environ.get('OPENBLAS_NUM_THREADS')!r}, not {args.threads}; "
              "BLAS calls may use another thread count", file=sys.stderr)
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)

    results = {}
    with torch.inference_mode():
        gflops = sgemm_gflops()
        if "I5" in only:
            results["I5"] = bench_i5(args.repetitions, args.i5_forwards)
        if {"I1", "I2", "I6"} & set(only):
            model = gpt2_small()
            if "I1" in only:
                results["I1"] = bench_i1(model, args.repetitions, args.i1_forwards)
            if "I2" in only:
                results["I2"] = bench_i2(model, args.repetitions, args.i2_batches)
            if "I6" in only:
                results["I6"] = bench_i6(model, args.repetitions)
    out = {
        "arm": "python",
        "peer": "bench/peers/transformer_lm.py (python3-torch eager, TransformerLens-style HookPoints)",
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
        "threads": args.threads,
        "grad_mode": "inference_mode",
        "sgemm_gflops": gflops,
        "results": {k: results[k] for k in BENCHMARKS if k in results},
    }
    json.dump(out, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
