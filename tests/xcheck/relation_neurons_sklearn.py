"""xcheck helper for relation_neurons_sklearn.sh: writes random inputs, then checks golgi's output
against scikit-learn's average_precision_score. Run with /usr/bin/python3.

  relation_neurons_sklearn.py make DIR          write inputs (float32 and float64 responses with ties)
  relation_neurons_sklearn.py check DIR OUT N   compare OUT (golgi neurons relation, top N) with sklearn
"""
import json
import sys

import numpy as np
from sklearn.metrics import average_precision_score

RELATIONS = ["capital", "currency", "language", "calling_code", "never_right"]


def make(d):
    rng = np.random.default_rng(20250)
    # Relation sizes: "language" is large, so 4x its positives exceeds the other relations' prompts
    # (negatives_short); "never_right" is never answered correctly (no positives: skipped).
    sizes = [150, 120, 700, 90, 40]
    labels = np.concatenate([np.full(n, r, dtype=np.int64) for r, n in enumerate(sizes)])
    rng.shuffle(labels)
    E, N = labels.size, 240
    correct = rng.random(E) < 0.8
    correct[labels == 4] = False
    x = rng.normal(size=(E, N))
    # Planted relation neurons: neuron 7r + 3 responds to relation r.
    for r in range(4):
        x[labels == r, 7 * r + 3] += 2.0
    # Ties: most columns quantised to a few levels (heavy ties), some coarsely, a few constant;
    # column 5 holds both -0.0 and +0.0.
    levels = rng.integers(1, 12, size=N)
    q = np.round(x * levels) / levels
    q[:, 200:] = np.round(x[:, 200:])
    q[:, 230:233] = 0.5
    q[:, 5] = np.where(rng.random(E) < 0.5, -0.0, 0.0) + np.where(rng.random(E) < 0.3, 1.0, 0.0)
    q[:, 5] = np.where(q[:, 5] == 0.0, np.where(rng.random(E) < 0.5, -0.0, 0.0), q[:, 5])
    np.save(f"{d}/responses32.npy", q.astype(np.float32))
    # float64 responses: finer values that still tie, different from their float32 rounding.
    np.save(f"{d}/responses64.npy", np.round(x * 1000.0) / 1000.0 / 3.0)
    np.save(f"{d}/labels.npy", labels)
    np.save(f"{d}/correct.npy", correct)
    with open(f"{d}/names.txt", "w") as f:
        for n in range(N):
            f.write(f"blocks.{n // 80}.mlp.hook_pre:{n % 80}\n")


def check(d, out, top_n, responses):
    x = np.load(f"{d}/{responses}")
    labels = np.load(f"{d}/labels.npy")
    correct = np.load(f"{d}/correct.npy")
    ap = np.load(f"{out}/ap.npy")
    doc = json.load(open(f"{out}/relation_neurons.json"))
    ex = json.load(open(f"{out}/examples.json"))
    fails = []

    def expect(cond, what):
        if not cond:
            fails.append(what)

    E, N = x.shape
    expect(ap.shape == (len(RELATIONS), N) and ap.dtype == np.float64, f"ap.npy {ap.shape} {ap.dtype}")
    expect(doc["relations"] == RELATIONS, f"relations {doc['relations']}")
    max_err, shorts, sets = 0.0, [], {}
    for r, name in enumerate(RELATIONS):
        s, e = doc["sets"][name], ex["examples"][name]
        pos, neg = np.array(e["positives"], dtype=np.int64), np.array(e["negatives"], dtype=np.int64)
        # The example sets follow the definition.
        expect(list(pos) == list(np.flatnonzero((labels == r) & correct)), f"{name}: positives")
        others = np.flatnonzero(labels != r)
        expect(set(neg) <= set(others) and len(set(neg)) == len(neg), f"{name}: negatives not distinct others")
        want = min(4 * len(pos), len(others))
        expect(len(neg) == want == s["negatives"], f"{name}: {len(neg)} negatives, expected {want}")
        expect(s["negatives_short"] == (4 * len(pos) > len(others)), f"{name}: negatives_short")
        if s["negatives_short"]:
            shorts.append(name)
        if len(pos) == 0:
            expect(s["status"] == "no_positives" and s["neurons"] == [] and np.isnan(ap[r]).all(),
                   f"{name}: expected skipped with a NaN row")
            sets[name] = set()
            continue
        rows = np.concatenate([pos, neg])
        y = np.concatenate([np.ones(len(pos)), np.zeros(len(neg))])
        ref = np.array([average_precision_score(y, x[rows, n]) for n in range(N)])
        err = float(np.max(np.abs(ref - ap[r])))
        max_err = max(max_err, err)
        expect(err <= 1e-9, f"{name}: max |AP - sklearn| = {err:.3g}")
        # Top N: highest sklearn AP first, ties to the lower index.
        order = np.lexsort((np.arange(N), -ref))[:top_n]
        expect(s["neurons"] == [int(i) for i in order], f"{name}: top-{top_n} differs from sklearn's ranking "
               f"({len(set(s['neurons']) ^ set(order.tolist()))} neurons differ)")
        expect(np.allclose(s["ap"], ref[order], rtol=0, atol=1e-9), f"{name}: AP of the selected")
        expect(s["names"] == [f"blocks.{n // 80}.mlp.hook_pre:{n % 80}" for n in s["neurons"]], f"{name}: names")
        sets[name] = set(s["neurons"])
        if r < 4:
            expect(7 * r + 3 in sets[name], f"{name}: planted neuron {7 * r + 3} not selected")
    for i, a in enumerate(RELATIONS):
        for j, b in enumerate(RELATIONS):
            inter, union = len(sets[a] & sets[b]), len(sets[a] | sets[b])
            expect(doc["overlap"]["intersection"][i][j] == inter, f"intersection {a} {b}")
            expect(abs(doc["overlap"]["jaccard"][i][j] - (inter / union if union else 0.0)) < 1e-12, f"jaccard {a} {b}")
    ties = np.mean([len(np.unique(x[:, n])) < E for n in range(N)])
    if top_n == N:
        # The whole ranking must have met tied APs (the constant columns), or ties went untested.
        tied = [name for r, name in enumerate(RELATIONS[:4]) if len(np.unique(ap[r])) < N]
        expect(len(tied) == 4, f"expected tied APs in every relation's ranking, got them in {tied}")
    if fails:
        print("\n".join(fails[:30]))
        print(f"relation_neurons_sklearn: FAILED ({responses}: {len(fails)} problems)")
        sys.exit(1)
    print(f"relation_neurons_sklearn: {responses} ({x.dtype}, {E} x {N}, {ties:.0%} of columns with ties): "
          f"AP = sklearn within {max_err:.2g}, identical top-{top_n} sets and overlap for {len(RELATIONS) - 1} "
          f"relations; short negatives: {shorts}; 'never_right' skipped")


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2])
    else:
        check(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
