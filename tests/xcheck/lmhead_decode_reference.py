#!/usr/bin/python3
"""Independent numpy reference for `golgi neurons decode` (paper id lmhead-decode).

    lmhead_decode_reference.py write-gpt2 DIR          a seeded random GPT-2 checkpoint in Hugging Face layout
    lmhead_decode_reference.py check RUN_DIR MODEL_DIR SIDE FINAL_NORM(0|1) [LAYERS]

`check` reads the model's own weights from MODEL_DIR/model.safetensors (Hugging Face names, with a
hand-written safetensors reader; nothing shared with golgi's C++) and recomputes, in float64,
p = softmax(W_U (g * w)) for every decoded neuron vector w (llama: up_proj.weight rows or
down_proj.weight columns; gpt2: c_fc.weight columns or c_proj.weight rows; g the final norm's
weight when FINAL_NORM is 1), then compares with golgi's outputs in RUN_DIR:
  * the exported W_U.npy / vectors.npy / final_norm_gain.npy equal the checkpoint's tensors exactly;
  * argmax: golgi's first token is the reference argmax for 100% of the neurons;
  * probabilities at golgi's ids within rtol 1e-5 of the reference; log-normalisers within 1e-5;
  * the top-k lists agree: golgi's ids hold the reference's k largest logits, order and membership
    allowed to differ only between tokens whose reference logits are within 1e-5 (float32 near-ties);
  * neurons.json and neurons.csv carry the same ids, the refs blocks.L.mlp.hook_post:J, and
    summary.json the options.
Prints one line; exits 1 on a failed check.
"""
import csv
import json
import os
import struct
import sys

import numpy as np

DTYPES = {"F32": np.float32, "F64": np.float64, "F16": np.float16, "I64": np.int64}


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        out[name] = np.frombuffer(data[begin:end], dtype=DTYPES[info["dtype"]]).reshape(info["shape"]).copy()
    return out


def write_safetensors(path, tensors):
    header, offset, blobs = {}, 0, []
    for name, array in tensors.items():
        blob = np.ascontiguousarray(array, dtype=np.float32).tobytes()
        header[name] = {"dtype": "F32", "shape": list(array.shape), "data_offsets": [offset, offset + len(blob)]}
        offset += len(blob)
        blobs.append(blob)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def write_gpt2(folder):
    """A GPT-2 with d_mlp 200 (not a multiple of the chunk sizes used), untied lm_head, random
    final LayerNorm weight and bias (the bias must be ignored)."""
    rng = np.random.default_rng(20250)
    v, p, d, nl, f = 1003, 32, 48, 3, 200
    config = {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "vocab_size": v, "n_positions": p,
              "n_embd": d, "n_layer": nl, "n_head": 4, "n_inner": f, "layer_norm_epsilon": 1e-5,
              "activation_function": "gelu_new", "tie_word_embeddings": False}
    t = {"transformer.wte.weight": rng.normal(0, 0.5, (v, d)), "transformer.wpe.weight": rng.normal(0, 0.02, (p, d))}
    for l in range(nl):
        h = f"transformer.h.{l}."
        t[h + "ln_1.weight"] = 1 + rng.normal(0, 0.1, d)
        t[h + "ln_1.bias"] = rng.normal(0, 0.1, d)
        t[h + "attn.c_attn.weight"] = rng.normal(0, 0.02, (d, 3 * d))
        t[h + "attn.c_attn.bias"] = np.zeros(3 * d)
        t[h + "attn.c_proj.weight"] = rng.normal(0, 0.02, (d, d))
        t[h + "attn.c_proj.bias"] = np.zeros(d)
        t[h + "ln_2.weight"] = 1 + rng.normal(0, 0.1, d)
        t[h + "ln_2.bias"] = rng.normal(0, 0.1, d)
        t[h + "mlp.c_fc.weight"] = rng.normal(0, 0.3, (d, f))
        t[h + "mlp.c_fc.bias"] = rng.normal(0, 0.1, f)
        t[h + "mlp.c_proj.weight"] = rng.normal(0, 0.3, (f, d))
        t[h + "mlp.c_proj.bias"] = rng.normal(0, 0.1, d)
    t["transformer.ln_f.weight"] = rng.uniform(0.3, 2.0, d)
    t["transformer.ln_f.bias"] = rng.normal(0, 1.0, d)
    t["lm_head.weight"] = rng.normal(0, 0.5, (v, d))
    os.makedirs(folder, exist_ok=True)
    write_safetensors(os.path.join(folder, "model.safetensors"), {k: np.asarray(a, np.float32) for k, a in t.items()})
    with open(os.path.join(folder, "config.json"), "w") as fh:
        json.dump(config, fh, indent=1)


def model_pieces(model_dir, side, layers):
    """W_U [V, d], gain [d] and the decoded vectors [N, d] straight from the checkpoint (float32)."""
    with open(os.path.join(model_dir, "config.json")) as fh:
        config = json.load(fh)
    t = read_safetensors(os.path.join(model_dir, "model.safetensors"))
    tied = config.get("tie_word_embeddings", True)  # the Hugging Face default
    if config["model_type"] == "llama":
        n_layers = config["num_hidden_layers"]
        W_U = t["model.embed_tokens.weight"] if tied else t["lm_head.weight"]
        gain = t["model.norm.weight"]

        def vec(l):
            m = f"model.layers.{l}.mlp."
            return t[m + "up_proj.weight"] if side == "input" else t[m + "down_proj.weight"].T
    else:
        n_layers = config["n_layer"]
        W_U = t["transformer.wte.weight"] if tied else t["lm_head.weight"]
        gain = t["transformer.ln_f.weight"]

        def vec(l):
            m = f"transformer.h.{l}.mlp."
            return t[m + "c_fc.weight"].T if side == "input" else t[m + "c_proj.weight"]
    layers = layers if layers else list(range(n_layers))
    return config, W_U, gain, np.concatenate([vec(l) for l in layers]), layers


def check(run, model_dir, side, final_norm, layers_arg):
    layers = [int(x) for x in layers_arg.split(",")] if layers_arg else []
    config, W_U, gain, vectors, layers = model_pieces(model_dir, side, layers)
    fails = []

    def expect(cond, what):
        if not cond:
            fails.append(what)

    # The exported tensors are the checkpoint's, bit for bit.
    expect(np.array_equal(np.load(f"{run}/W_U.npy"), W_U), "W_U.npy differs from the checkpoint's unembedding")
    expect(np.array_equal(np.load(f"{run}/vectors.npy"), vectors), f"vectors.npy differs from the checkpoint's {side} vectors")
    expect(np.array_equal(np.load(f"{run}/final_norm_gain.npy"), gain), "final_norm_gain.npy differs")

    ids = np.load(f"{run}/token_ids.npy")
    probs = np.load(f"{run}/probs.npy")
    lse_golgi = np.load(f"{run}/log_normaliser.npy")
    n, k = ids.shape
    d_mlp = vectors.shape[0] // len(layers)
    expect(ids.dtype == np.int64 and probs.dtype == np.float32, f"dtypes {ids.dtype} {probs.dtype}")
    expect(n == vectors.shape[0], f"{n} rows, expected {vectors.shape[0]}")

    w = vectors.astype(np.float64) * (gain.astype(np.float64) if final_norm else 1.0)
    logits = w @ W_U.astype(np.float64).T  # [N, V]
    m = logits.max(axis=1, keepdims=True)
    lse = (m + np.log(np.exp(logits - m).sum(axis=1, keepdims=True)))[:, 0]
    ref_probs = np.exp(logits - lse[:, None])

    argmax = logits.argmax(axis=1)
    agree = float(np.mean(ids[:, 0] == argmax))
    expect(agree == 1.0, f"argmax agreement {agree:.6f} (rows {np.nonzero(ids[:, 0] != argmax)[0][:10].tolist()})")
    at_ids = np.take_along_axis(ref_probs, ids, axis=1)
    rel = np.abs(probs.astype(np.float64) - at_ids) / at_ids
    expect(rel.max() <= 1e-5, f"probabilities: max relative error {rel.max():.3g} > 1e-5")
    lse_err = np.abs(lse_golgi.astype(np.float64) - lse).max()
    expect(lse_err <= 1e-5 * max(1.0, np.abs(lse).max()), f"log-normaliser error {lse_err:.3g}")
    # Top-k: golgi's ids hold the k largest reference logits up to float32 near-ties.
    tol = 1e-5
    ref_sorted = -np.sort(-logits, axis=1)[:, :k]
    golgi_ref_logits = np.take_along_axis(logits, ids, axis=1)
    expect(len({tuple(r) for r in ids.tolist()}) > 0, "no rows")
    expect(np.all(np.abs(golgi_ref_logits - ref_sorted) <= tol * np.maximum(1, np.abs(ref_sorted))),
           f"top-{k} logits differ from the reference's k largest by up to "
           f"{np.abs(golgi_ref_logits - ref_sorted).max():.3g}")
    expect(all(len(set(r)) == k for r in ids.tolist()), "repeated ids in a row")
    exact = float(np.mean(np.all(ids == np.argsort(-logits, axis=1, kind="stable")[:, :k], axis=1)))

    # Tables.
    doc = json.load(open(f"{run}/neurons.json"))
    expect(doc["side"] == side and doc["apply_final_norm"] == bool(final_norm) and doc["top_k"] == k,
           f"neurons.json header {doc['side']} {doc['apply_final_norm']} {doc['top_k']}")
    expect(len(doc["neurons"]) == n, f"neurons.json has {len(doc['neurons'])} neurons")
    for r in (0, n // 2, n - 1):
        e = doc["neurons"][r]
        want_ref = f"blocks.{layers[r // d_mlp]}.mlp.hook_post:{r % d_mlp}"
        expect(e["ref"] == want_ref and e["token_ids"] == ids[r].tolist(), f"neurons.json row {r}: {e['ref']}")
    rows = list(csv.DictReader(open(f"{run}/neurons.csv", newline="")))
    expect(len(rows) == n * k, f"neurons.csv has {len(rows)} rows, expected {n * k}")
    if rows:
        last = rows[-1]
        expect(last["ref"] == f"blocks.{layers[-1]}.mlp.hook_post:{d_mlp - 1}" and int(last["rank"]) == k - 1
               and int(last["token_id"]) == ids[-1, -1], f"neurons.csv last row {last}")
    summary = json.load(open(f"{run}/summary.json"))
    expect(summary["neurons_decoded"] == n and summary["layers"] == layers, f"summary {summary.get('layers')}")

    label = f"{os.path.basename(os.path.normpath(model_dir))} side={side} final_norm={final_norm}"
    if fails:
        print("\n".join(fails[:20]))
        print(f"lmhead_decode_reference: FAILED {label}")
        sys.exit(1)
    gaps = np.sort(-np.sort(-logits, axis=1)[:, :2], axis=1)
    print(f"lmhead_decode_reference: OK {label}: {n} neurons x {logits.shape[1]} tokens, argmax 100%, "
          f"max prob rel err {rel.max():.2e}, identical top-{k} lists {exact * 100:.2f}%, "
          f"min top-1/top-2 gap {float((gaps[:, 1] - gaps[:, 0]).min()):.2e}")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "write-gpt2":
        write_gpt2(sys.argv[2])
    elif len(sys.argv) in (6, 7) and sys.argv[1] == "check":
        check(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), sys.argv[6] if len(sys.argv) == 7 else "")
    else:
        print(__doc__)
        sys.exit(2)
