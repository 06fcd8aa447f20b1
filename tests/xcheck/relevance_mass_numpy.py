"""Reference for tests/xcheck/relevance_mass_numpy.sh: relevance-mass accuracy (RMA) recomputed
with numpy/scipy on the maps golgi_xcheck_relevance_mass exported, written independently of golgi
from the definition (Siegel et al. 2025; methods/xai_validation/relevance_mass.h):

  a = gaussian_filter(|e|, sigma = FWHM / (2 sqrt(2 ln 2)), mode='reflect', truncate=4.0), FWHM 2
  a[a < percentile(a, 99)] = 0                       (numpy's linear interpolation)
  R' = binary_dilation(R, iterations=2)              (the default 3x3 cross, border 0)
  RMA = a[R'].sum() / a.sum(),  0 when a.sum() == 0
  false positive: max(smoothed outside R') > percentile(smoothed inside R', 99)

Usage:
  relevance_mass_numpy.py gen DIR     writes py_maps.npy / py_rois.npy (random maps of its own)
  relevance_mass_numpy.py check DIR   compares every NAME_* set golgi scored; exit 1 on a mismatch
"""
import glob
import os
import sys

import numpy as np
from scipy import ndimage

TOL = 1e-6


def smoothed(e):
    sigma = 2.0 / (2.0 * np.sqrt(2.0 * np.log(2.0)))
    return ndimage.gaussian_filter(np.abs(e.astype(np.float64)), sigma, mode="reflect", truncate=4.0)


def dilated(roi):
    return ndimage.binary_dilation(roi.astype(bool), iterations=2)


def kept(e):
    a = smoothed(e)
    a[a < np.percentile(a, 99)] = 0.0
    return a


def rma(e, roi):
    a = kept(e)
    total = a.sum()
    return float(a[dilated(roi)].sum() / total) if total > 0 else 0.0


def false_positive(e, roi):
    a, r = smoothed(e), dilated(roi)
    if r.all() or not r.any():
        return False
    return bool(a[~r].max() > np.percentile(a[r], 99))


def gen(folder):
    rng = np.random.default_rng(7)
    b, h, w = 10, 50, 37
    maps = ndimage.gaussian_filter(rng.standard_normal((b, h, w)), sigma=(0, 1.2, 1.2))
    rois = np.zeros((b, h, w), dtype=np.uint8)
    for i in range(b):
        y, x = rng.integers(0, h - 8), rng.integers(0, w - 8)
        rois[i, y:y + 8, x:x + 5] = 1
        maps[i, y + 2:y + 6, x + 1:x + 4] += rng.uniform(0, 2)
    np.save(os.path.join(folder, "py_maps.npy"), maps)
    np.save(os.path.join(folder, "py_rois.npy"), rois)


def check(folder):
    sets = sorted(os.path.basename(p)[: -len("_maps.npy")] for p in glob.glob(os.path.join(folder, "*_maps.npy")))
    if not {"gen", "rect", "py"} <= set(sets):
        print(f"relevance_mass_numpy: expected the sets gen, rect and py, found {sets}")
        return 1
    failures, worst, count = 0, 0.0, 0
    for name in sets:
        path = lambda what: os.path.join(folder, f"{name}_{what}.npy")
        maps, rois = np.load(path("maps")), np.load(path("rois"))
        g_rma, g_fp = np.load(path("rma")), np.load(path("fp")).astype(bool)
        g_chance, g_kept = np.load(path("chance")), np.load(path("kept"))
        if g_rma.shape != (maps.shape[0],) or g_kept.shape != maps.shape:
            print(f"{name}: golgi's outputs have shapes {g_rma.shape} and {g_kept.shape} for maps {maps.shape}")
            failures += 1
            continue
        for i in range(maps.shape[0]):
            ref_kept = kept(maps[i])
            ref_rma, ref_fp = rma(maps[i], rois[i]), false_positive(maps[i], rois[i])
            ref_chance = dilated(rois[i]).mean()
            scale = max(1.0, float(np.abs(ref_kept).max()))
            d_kept = float(np.abs(ref_kept - g_kept[i]).max()) / scale
            d_rma = abs(ref_rma - float(g_rma[i]))
            worst = max(worst, d_rma)
            count += 1
            bad = d_rma > TOL or d_kept > TOL or bool(ref_fp) != bool(g_fp[i]) or abs(ref_chance - g_chance[i]) > 1e-12
            if bad:
                failures += 1
                print(f"{name}[{i}]: RMA golgi {g_rma[i]:.9f} numpy {ref_rma:.9f}; kept map diff {d_kept:.3g}; "
                      f"false positive golgi {bool(g_fp[i])} numpy {ref_fp}; chance {g_chance[i]} vs {ref_chance}")
        values = np.array([rma(maps[i], rois[i]) for i in range(maps.shape[0])])
        print(f"{name}: {maps.shape[0]} maps {maps.shape[1:]}, RMA range [{values.min():.3f}, {values.max():.3f}], "
              f"false positives {int(g_fp.sum())}")
    # The comparison must have had something to compare: a spread of RMA values and both outcomes
    # of the false-positive test.
    all_rma = np.concatenate([np.load(os.path.join(folder, f"{n}_rma.npy")) for n in sets])
    all_fp = np.concatenate([np.load(os.path.join(folder, f"{n}_fp.npy")) for n in sets]).astype(bool)
    if not (all_rma.min() == 0.0 and all_rma.max() > 0.9 and 0 < all_fp.sum() < all_fp.size):
        print(f"relevance_mass_numpy: the test maps are degenerate (RMA {all_rma.min()}..{all_rma.max()}, "
              f"{all_fp.sum()} false positives of {all_fp.size})")
        failures += 1
    print(f"relevance_mass_numpy: {count} maps, max |RMA difference| {worst:.3g} (tolerance {TOL}), {failures} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("gen", "check"):
        sys.exit(__doc__)
    if sys.argv[1] == "gen":
        gen(sys.argv[2])
        sys.exit(0)
    sys.exit(check(sys.argv[2]))
