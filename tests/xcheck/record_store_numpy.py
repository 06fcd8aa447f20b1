"""Independent check of a golgi activation store: numpy reads the shards, python3-torch recomputes.

Reads model.safetensors with a hand-written header parser (no safetensors package), rebuilds the
golgi CNN in python3-torch from model.json, runs the Fashion-MNIST test set read straight from the
IDX files, and compares every hook's activations with the store's .npy shards.
"""
import gzip
import json
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

model_dir, store_dir, data_dir = sys.argv[1:4]


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    base = 8 + n
    dtypes = {"F32": np.float32, "F64": np.float64, "I64": np.int64}
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        out[name] = np.frombuffer(raw[base + begin : base + end], dtype=dtypes[info["dtype"]]).reshape(info["shape"])
    return out


def read_idx_images(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    _, _, _, ndim = raw[:4]
    dims = struct.unpack(">" + "I" * ndim, raw[4 : 4 + 4 * ndim])
    return np.frombuffer(raw[4 + 4 * ndim :], dtype=np.uint8).reshape(dims)


card = json.load(open(f"{model_dir}/model.json"))
assert card["architecture"] == "cnn", card["architecture"]
opts = card["options"]
assert not opts["batch_norm"], "this check covers the CNN without BatchNorm"
w = {k: torch.from_numpy(v.copy()) for k, v in read_safetensors(f"{model_dir}/model.safetensors").items()}

images = read_idx_images(f"{data_dir}/t10k-images-idx3-ubyte.gz")
x = torch.from_numpy(images.astype(np.float32)).div(255.0).sub(0.2860).div(0.3530).unsqueeze(1)

acts = {}
torch.set_num_threads(2)
with torch.no_grad():
    h = x
    pad = opts["kernel_size"] // 2
    for i in range(len(opts["channels"])):
        name = f"conv{i + 1}"
        h = F.conv2d(h, w[f"{name}.weight"], w[f"{name}.bias"], padding=pad)
        acts[f"{name}.hook_pre"] = h
        h = F.relu(h)
        acts[f"{name}.hook_post"] = h
        h = F.max_pool2d(h, 2)
        acts[f"{name}.hook_pool"] = h
    h = h.flatten(1)
    for j in range(len(opts["hidden"])):
        name = f"fc{j + 1}"
        h = F.linear(h, w[f"{name}.weight"], w[f"{name}.bias"])
        acts[f"{name}.hook_pre"] = h
        h = F.relu(h)
        acts[f"{name}.hook_post"] = h
    acts["head.hook_out"] = F.linear(h, w["head.weight"], w["head.bias"])

index = json.load(open(f"{store_dir}/index.json"))
assert index["format"] == "golgi-activation-store" and index["complete"], "store incomplete"
assert index["rows"] == 10000, index["rows"]
names = [h["name"] for h in index["hooks"]]
assert set(names) == set(acts), f"store hooks {sorted(names)} != model hooks {sorted(acts)}"
ids = np.concatenate([np.load(f"{store_dir}/{s['sample_ids']}") for s in index["shards"]])
assert (ids == np.arange(10000)).all(), "sample ids are not 0..9999 in order"

worst = 0.0
for name in names:
    stored = np.concatenate([np.load(f"{store_dir}/{s['files'][name]}") for s in index["shards"]])
    ref = acts[name].numpy()
    assert stored.dtype == np.float32, (name, stored.dtype)
    assert stored.shape == ref.shape, (name, stored.shape, ref.shape)
    scale = max(1.0, float(np.abs(ref).max()))
    err = float(np.abs(stored - ref).max()) / scale
    worst = max(worst, err)
    print(f"{name:20s} shape {str(stored.shape):22s} max |golgi - torch| / scale = {err:.2e}")
    if err > 1e-4:
        sys.exit(f"FAIL: {name} differs from the python3-torch reference by {err:.3e} (relative)")
print(f"OK: {len(names)} hooks x 10000 samples agree; worst relative error {worst:.2e}")
