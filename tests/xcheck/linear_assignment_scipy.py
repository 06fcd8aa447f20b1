"""xcheck: golgi's exact assignment solver and correlations (paper id `convergent`) against
scipy.optimize.linear_sum_assignment and numpy.corrcoef.

  linear_assignment_scipy.py gen DIR     write random assign_*.npy and dead_*.npy problems
  linear_assignment_scipy.py check DIR   compare golgi's results (written by golgi_xcheck_assignment)

Assignment: the optimal totals (minimise and maximise) must agree within 1e-6 and golgi's matching
must be a valid matching with that total (a different optimal matching is fine under ties).
Correlations: numpy.corrcoef(samples, rowvar=False) with NaN (dead units) replaced by 0 and the
dead units' diagonal 0, within 1e-9.
"""
import glob
import json
import os
import sys

import numpy as np
from scipy.optimize import linear_sum_assignment


def gen(d):
    rng = np.random.default_rng(2016)
    shapes = [(1, 1), (2, 2), (3, 5), (5, 3), (7, 7), (10, 10), (16, 16), (16, 24), (24, 16), (32, 64), (64, 32),
              (50, 50), (1, 9), (9, 1)]
    k = 0
    for r, c in shapes:
        np.save(os.path.join(d, f"assign_rand_{k:02d}.npy"), rng.uniform(-1, 1, (r, c)))
        k += 1
    # Ties and duplicates: few distinct values, repeated rows and columns, constant matrices.
    for r, c in [(6, 6), (8, 12), (12, 8), (20, 20)]:
        m = rng.integers(-2, 3, (r, c)).astype(np.float64)
        m[1] = m[0]
        m[:, 2] = m[:, 1]
        np.save(os.path.join(d, f"assign_ties_{k:02d}.npy"), m)
        k += 1
    np.save(os.path.join(d, f"assign_const_{k:02d}.npy"), np.full((5, 7), 0.3))
    k += 1
    np.save(os.path.join(d, f"assign_big_{k:02d}.npy"), rng.normal(0, 1e3, (40, 40)))
    # Correlation inputs with dead (constant) units, one all-zero, one constant non-zero.
    x = rng.normal(size=(500, 6))
    x[:, 1] = 0.0
    x[:, 4] = 2.5
    x[:, 5] = 0.5 * x[:, 0] + 0.1 * rng.normal(size=500)
    np.save(os.path.join(d, "dead_synthetic.npy"), x)


def corr_reference(x, y=None):
    n = x.shape[1]
    z = x if y is None else np.concatenate([x, y], axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        c = np.corrcoef(z, rowvar=False)
    c = np.nan_to_num(c, nan=0.0)
    if y is None:
        return c
    return c[:n, n:]


def check(d):
    failures = []
    files = sorted(glob.glob(os.path.join(d, "assign_*.npy")))
    if len(files) < 20:
        failures.append(f"only {len(files)} assignment problems (need >= 20)")
    for f in files:
        w = np.load(f)
        res = json.load(open(f[:-4] + ".golgi.json"))
        for mode, maximize in (("min", False), ("max", True)):
            r, c = linear_sum_assignment(w, maximize=maximize)
            ref = w[r, c].sum()
            got = res[f"{mode}_total"]
            rows = res[f"{mode}_rows"]
            cols = [j for j in rows if j >= 0]
            valid = len(cols) == min(w.shape) and len(set(cols)) == len(cols)
            own = sum(w[i, j] for i, j in enumerate(rows) if j >= 0)
            if abs(got - ref) > 1e-6 or not valid or abs(own - got) > 1e-6:
                failures.append(f"{os.path.basename(f)} {mode}: golgi {got!r} scipy {ref!r} valid {valid}")
        print(f"  {os.path.basename(f):28s} {str(w.shape):10s} max {res['max_total']:+.6f} min {res['min_total']:+.6f}")
    for layer in ("conv1", "conv2"):
        a = np.load(os.path.join(d, f"samples_{layer}_a.npy"))
        b = np.load(os.path.join(d, f"samples_{layer}_b.npy"))
        for name, ref in (("aa", corr_reference(a)), ("bb", corr_reference(b)), ("ab", corr_reference(a, b))):
            got = np.load(os.path.join(d, f"corr_{layer}_{name}.npy"))
            err = np.abs(got - ref).max()
            print(f"  corr {layer} {name} {got.shape}: max |golgi - numpy.corrcoef| = {err:.2e}")
            if err > 1e-9:
                failures.append(f"corr {layer} {name} differs by {err}")
    x = np.load(os.path.join(d, "dead_synthetic.npy"))
    got = np.load(os.path.join(d, "dead_synthetic.corr.npy"))
    ref = corr_reference(x)
    err = np.abs(got - ref).max()
    print(f"  corr dead_synthetic: max |golgi - numpy.corrcoef (NaN -> 0)| = {err:.2e}")
    if err > 1e-9 or np.isnan(got).any():
        failures.append(f"dead-unit correlations differ by {err}")
    if failures:
        print("FAILED:\n  " + "\n  ".join(failures))
        return 1
    print(f"OK: {len(files)} assignment problems match scipy within 1e-6; correlations match numpy within 1e-9")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("gen", "check"):
        print(__doc__)
        sys.exit(2)
    if sys.argv[1] == "gen":
        gen(sys.argv[2])
        sys.exit(0)
    sys.exit(check(sys.argv[2]))
