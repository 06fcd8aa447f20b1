#!/usr/bin/python3
"""xcheck: repr-bias variance explained (R² of a least-squares map from a feature to a centred
representation) and the correlation ratio η², recomputed with numpy from the same .npy files that
`golgi analyze variance-explained` read (tests/xcheck/variance_explained_numpy.sh).

Independent route: numpy's lstsq (SVD, minimum norm) on a design with a column for *every*
category (no reference coding) plus, for scalar features, [1, v]; golgi drops the reference
category when it fits an intercept. Both span the same space, so predictions and R² agree.

  variance_explained_numpy.py make DIR SEED     writes reps and features (float64 / int64)
  variance_explained_numpy.py check DIR JSON MODE
      MODE: auto (golgi --encoding auto), scalar, no-intercept, eta (train = val = test files),
            model (the representations golgi exported from a model; the feature is the label)
"""
import json
import sys

import numpy as np

TOL = 1e-6


def make(d, seed):
    rng = np.random.default_rng(seed)
    dims = 24

    def features(n):
        binary = rng.integers(0, 2, n)
        three = rng.integers(0, 3, n) * 2 - 1            # categories -1, 1, 3
        cont = rng.normal(size=n)
        skew = (rng.random(n) < 0.1).astype(np.int64)   # rare binary feature
        return np.stack([binary, three, cont, skew], 1)

    dirs = rng.normal(size=(4, dims))
    cat_means = rng.normal(size=(5, dims))

    def reps(f):
        n = f.shape[0]
        h = 3.0 + rng.normal(size=(n, dims)) * 0.7
        h += f[:, [0]] * dirs[0] + np.tanh(f[:, [2]]) * dirs[2] + f[:, [3]] * dirs[3] * 2
        h += cat_means[(f[:, 1].astype(int) + 1) // 2]
        return h

    for split, n in (("train", 400), ("val", 300), ("test", 250)):
        f = features(n)
        np.save(f"{d}/{split}_reps.npy", reps(f))
        np.save(f"{d}/{split}_feature.npy", f.astype(np.float64))
    # A single binary feature and its representation for the η² identity.
    f = rng.integers(0, 2, 500)
    np.save(f"{d}/eta_reps.npy", (reps(np.stack([f, np.ones(500), np.zeros(500), np.zeros(500)], 1))).astype(np.float32))
    np.save(f"{d}/eta_feature.npy", f.astype(np.int64))


def design(v, categories, kind, intercept):
    if kind == "one-hot":
        # Every category, no reference column: with or without an intercept the span is the same
        # (the intercept is the sum of the columns).
        return np.stack([(v == c).astype(np.float64) for c in categories], 1)
    cols = [v.astype(np.float64)]
    if intercept:
        cols = [np.ones(len(v))] + cols
    return np.stack(cols, 1)


def r2(train, val, fval, test, ftest, kind, intercept):
    centre = train.mean(0)
    yv, yt = val - centre, test - centre
    categories = np.unique(fval)
    W, *_ = np.linalg.lstsq(design(fval, categories, kind, intercept), yv, rcond=None)
    resid = design(ftest, categories, kind, intercept) @ W - yt
    return 1.0 - (resid ** 2).sum() / (yt ** 2).sum()


def eta2(h, g):
    m = h.mean(0)
    between = sum((g == k).sum() * ((h[g == k].mean(0) - m) ** 2).sum() for k in np.unique(g))
    return between / ((h - m) ** 2).sum()


def check(d, out, mode):
    res = json.load(open(out))
    feats = res["features"]
    failures = []

    def cmp(name, got, want, sides=("golgi", "numpy")):
        ok = abs(got - want) <= TOL
        print(f"  {name}: {sides[0]} {got:.10f} {sides[1]} {want:.10f} {'ok' if ok else 'DIFFERS'}")
        if not ok:
            failures.append(name)

    if mode == "eta":
        h = np.load(f"{d}/eta_reps.npy").astype(np.float64)
        g = np.load(f"{d}/eta_feature.npy")
        want = eta2(h, g)
        cmp("r2 (train = val = test) vs eta2", feats[0]["r2"], want)
        cmp("eta2_test vs eta2", feats[0]["eta2_test"], want)
        cmp("the identity itself", r2(h, h, g, h, g, "one-hot", True), want, ("numpy r2", "numpy eta2"))
    elif mode == "model":
        tr, va, te = (np.load(f"{d}/{s}_reps.npy").astype(np.float64) for s in ("train", "val", "test"))
        fv, ft = np.load(f"{d}/val_feature.npy"), np.load(f"{d}/test_feature.npy")
        assert len(feats) == 1 and feats[0]["encoding"] == "one-hot", feats
        cmp("label r2", feats[0]["r2"], r2(tr, va, fv, te, ft, "one-hot", True))
        cmp("label eta2_test", feats[0]["eta2_test"], eta2(te, ft))
    else:
        tr, va, te = (np.load(f"{d}/{s}_reps.npy") for s in ("train", "val", "test"))
        fv, ft = np.load(f"{d}/val_feature.npy"), np.load(f"{d}/test_feature.npy")
        intercept = mode != "no-intercept"
        for k, f in enumerate(feats):
            vals = np.concatenate([fv[:, k], ft[:, k]])
            if mode == "scalar":
                kind = "scalar"
            else:  # auto: one-hot for integer-valued features
                kind = "one-hot" if np.all(vals == np.round(vals)) else "scalar"
            if f["encoding"] != kind:
                failures.append(f"{f['feature']} encoding {f['encoding']} != {kind}")
            cmp(f"{f['feature']} ({kind}, intercept {intercept})", f["r2"], r2(tr, va, fv[:, k], te, ft[:, k], kind, intercept))
    if failures:
        print("FAILED:", ", ".join(failures))
        sys.exit(1)


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2], int(sys.argv[3]))
    else:
        check(sys.argv[2], sys.argv[3], sys.argv[4])
