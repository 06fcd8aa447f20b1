#!/usr/bin/env bash
# xcheck: dcls-delays (Hammouamri et al. 2023) Gaussian delay kernels, rounded integer-delay
# kernels and the causal delay convolution against numpy (tests/xcheck/dcls_delays_numpy.py,
# /usr/bin/python3 + numpy, explicit loops from the formulas). golgi's side is the helper
# golgi_xcheck_dcls_kernels (tests/xcheck/tools/dcls_kernels.cpp), built beside
# golgi_xcheck_write_samples (the 4th argument), which exports seeded float64 (w, P, σ, input) and
# golgi's kernels and outputs as NPY. Shapes: odd K = 41 (the reproduction's), even K = 8, K = 1 (no
# delays); half-step positions (round half to even), zero and negative σ. Tolerance 1e-6.
# Usage: dcls_delays_numpy.sh GOLGI_BINARY SOURCE_DIR SCRATCH_DIR WRITE_SAMPLES_BINARY
set -euo pipefail
src="$2"; scratch="$3"; helper="$(dirname "$4")/golgi_xcheck_dcls_kernels"
rm -rf "$scratch"; mkdir -p "$scratch"
fail() { echo "dcls_delays_numpy: FAILED: $*"; exit 1; }
[ -x "$helper" ] || fail "missing $helper (build target golgi_xcheck_dcls_kernels)"

run() {  # run NAME OUT IN K T BATCH SEED
  local name=$1 k=$4; shift
  mkdir -p "$scratch/$name"
  "$helper" "$scratch/$name" "$@" || fail "golgi_xcheck_dcls_kernels $name"
  echo "== $name (K = $k)"
  /usr/bin/python3 "$src/tests/xcheck/dcls_delays_numpy.py" "$scratch/$name" "$k" || fail "$name differs from numpy"
}
run odd41 6 5 41 60 3 1
run even8 4 3 8 20 2 2
run k1 3 4 1 10 2 3

# Bad arguments exit 2 with a message.
set +e
"$helper" "$scratch/bad" 1 1 0 5 1 1 2>"$scratch/bad.err"; rc=$?
set -e
[ "$rc" -eq 2 ] && grep -q "kernel_size" "$scratch/bad.err" || { cat "$scratch/bad.err"; fail "K = 0 exited $rc, expected 2"; }
echo "dcls_delays_numpy: OK (K = 41, 8, 1 within 1e-6; K = 0 rejected)"
