"""Independent numpy reference for golgi's dcls-delays kernels and delay convolution.

Reads the float64 .npy files that golgi_xcheck_dcls_kernels wrote into DIR (weight [O, I],
position [O, I], sigma [O, I], input [T, B, I] and golgi's kernel, rounded_kernel, output,
rounded_output) and rebuilds, from the formulas in docs/methods/dcls-delays.md with explicit loops:

  kernel[o, i, d]   = w g_d / (sum_d' g_d' + 1e-7),  g_d = exp(-1/2 ((d - P - K//2) / (|sigma| + 0.27))^2)
  rounded[o, i, d]  = w [d == round_half_even(P) + K//2]
  output[t, b, o]   = sum_i sum_{d <= t} kernel[o, i, d] input[t - d, b, i]

Everything must agree with golgi within 1e-6 (absolute). Exit 0 when it does, 1 otherwise.
Usage: dcls_delays_numpy.py DIR K
"""
import sys

import numpy as np


def main():
    d, k = sys.argv[1], int(sys.argv[2])
    load = lambda name: np.load(f"{d}/{name}.npy")
    w, p, s, x = load("weight"), load("position"), load("sigma"), load("input")
    for name, arr in (("weight", w), ("position", p), ("sigma", s), ("input", x)):
        assert arr.dtype == np.float64, f"{name} is {arr.dtype}, expected float64"
    o, i = w.shape
    t, b, _ = x.shape
    c = k // 2
    taps = np.arange(k, dtype=np.float64)
    kernel = np.zeros((o, i, k))
    rounded = np.zeros((o, i, k))
    for a in range(o):
        for j in range(i):
            g = np.exp(-0.5 * ((taps - p[a, j] - c) / (abs(s[a, j]) + 0.27)) ** 2)
            kernel[a, j] = w[a, j] * g / (g.sum() + 1e-7)
            rounded[a, j, int(np.round(p[a, j])) + c] = w[a, j]  # np.round: half to even
    def conv(kern):
        y = np.zeros((t, b, o))
        for step in range(t):
            for delay in range(min(k, step + 1)):
                y[step] += x[step - delay] @ kern[:, :, delay].T
        return y
    checks = {
        "kernel": (kernel, load("kernel")),
        "rounded_kernel": (rounded, load("rounded_kernel")),
        "output": (conv(kernel), load("output")),
        "rounded_output": (conv(rounded), load("rounded_output")),
    }
    ok = True
    for name, (want, got) in checks.items():
        if want.shape != got.shape:
            print(f"{name}: shape {got.shape}, expected {want.shape}")
            ok = False
            continue
        err = float(np.abs(want - got).max()) if want.size else 0.0
        print(f"{name}: max |golgi - numpy| = {err:.3e}")
        ok = ok and err <= 1e-6
    halves = int(np.sum(np.abs(p - np.floor(p) - 0.5) < 1e-12))
    print(f"{halves} positions on half steps, {int(np.sum(s == 0))} zero sigmas")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
