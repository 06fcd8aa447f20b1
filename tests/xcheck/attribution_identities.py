"""Checks attribution identities on the files `golgi attribute` wrote (see attribution_identities.sh).

Usage: attribution_identities.py SCRATCH, with SCRATCH/{ig,ig_hook,lrp0,gxi0}/ from the script.
Only numpy: the maps, inputs and objectives are read from the exported .npy and .json files.
"""
import json
import os
import sys

import numpy as np


def load(folder):
    with open(os.path.join(folder, "attributions.json")) as f:
        doc = json.load(f)
    maps = np.load(os.path.join(folder, "attributions.npy"))
    inputs = np.load(os.path.join(folder, "inputs.npy"))
    assert maps.dtype == np.float32, maps.dtype
    assert list(maps.shape) == doc["shapes"]["attributions"], (maps.shape, doc["shapes"])
    return doc, maps.astype(np.float64), inputs.astype(np.float64)


def main(scratch):
    failures = []

    # (a) completeness of integrated gradients, at the input and at a hook.
    for name in ("ig", "ig_hook"):
        doc, maps, _ = load(os.path.join(scratch, name))
        sums = maps.reshape(len(maps), -1).sum(1)
        assert np.allclose(sums, doc["attribution_sum"], rtol=1e-5, atol=1e-5), "json sums differ from the maps"
        delta = np.array(doc["objective"]) - np.array(doc["baseline_objective"])
        gap = np.abs(sums - delta)
        rel = gap / np.abs(delta)
        print(f"{name}: F(x)-F(x') {np.round(delta, 3).tolist()}; worst relative completeness gap {rel.max():.2e}")
        if not (rel <= 0.01).all():
            failures.append(f"{name}: completeness gap {rel.max():.3g} > 1% (sample {int(rel.argmax())})")

    # (b) LRP-epsilon = gradient x input with zero biases; (c) conservation.
    lrp_doc, lrp, x_lrp = load(os.path.join(scratch, "lrp0"))
    gxi_doc, gxi, x_gxi = load(os.path.join(scratch, "gxi0"))
    assert lrp_doc["zero_biases"] and gxi_doc["zero_biases"]
    assert np.array_equal(x_lrp, x_gxi) and lrp_doc["targets"] == gxi_doc["targets"]
    scale = np.abs(gxi).reshape(len(gxi), -1).max(1)
    diff = np.abs(lrp - gxi).reshape(len(gxi), -1).max(1) / scale
    print(f"lrp-epsilon vs gradient x input (zero biases): worst max|diff|/max|g*x| {diff.max():.2e}")
    if not (diff <= 1e-4).all():
        failures.append(f"LRP-epsilon differs from gradient x input by {diff.max():.3g} relative (> 1e-4)")
    logit = np.array(lrp_doc["objective"])
    relevance = lrp.reshape(len(lrp), -1).sum(1)
    cons = np.abs(relevance - logit) / np.maximum(np.abs(logit), 1e-12)
    print(f"lrp conservation (zero biases): sum R {np.round(relevance, 4).tolist()} vs logit "
          f"{np.round(logit, 4).tolist()}; worst relative gap {cons.max():.2e}")
    if not (cons <= 1e-4).all():
        failures.append(f"LRP relevance does not sum to the logit: relative gap {cons.max():.3g} (> 1e-4)")
    # Gradient x input sums to the logit too for a bias-free ReLU network (positive homogeneity).
    gsum = gxi.reshape(len(gxi), -1).sum(1)
    euler = np.abs(gsum - np.array(gxi_doc["objective"])) / np.maximum(np.abs(logit), 1e-12)
    print(f"gradient x input sums to the logit (zero biases, Euler): worst relative gap {euler.max():.2e}")
    if not (euler <= 1e-4).all():
        failures.append(f"gradient x input does not sum to the logit: relative gap {euler.max():.3g}")

    # (d) the inputs are normalised Fashion-MNIST pixels.
    lo, hi = (0 - 0.2860) / 0.3530, (1 - 0.2860) / 0.3530
    if x_lrp.min() < lo - 1e-4 or x_lrp.max() > hi + 1e-4:
        failures.append(f"inputs outside [{lo:.4f}, {hi:.4f}]: [{x_lrp.min():.4f}, {x_lrp.max():.4f}]")

    for f in failures:
        print("FAILED:", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
