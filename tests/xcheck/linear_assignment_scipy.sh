#!/usr/bin/env bash
# xcheck: convergent (Li et al. 2016). golgi's exact linear assignment (analysis/linear_assignment.h)
# against scipy.optimize.linear_sum_assignment (minimise and maximise; totals within 1e-6) on
# >= 20 matrices: random square and rectangular, ties and duplicate rows/columns, a constant one,
# large values, and real between-network correlation matrices (and their transposes) of two
# untrained CNNs; and golgi's correlations (dead units -> 0) against numpy.corrcoef.
# golgi's side is the helper golgi_xcheck_assignment (tests/xcheck/tools/linear_assignment.cpp),
# built beside golgi_xcheck_write_samples (the 4th argument); the reference is
# tests/xcheck/linear_assignment_scipy.py in /usr/bin/python3.
# Usage: linear_assignment_scipy.sh GOLGI_BINARY SOURCE_DIR SCRATCH_DIR WRITE_SAMPLES_BINARY
set -euo pipefail
src="$2"; scratch="$3"; helper="$(dirname "$4")/golgi_xcheck_assignment"
rm -rf "$scratch"; mkdir -p "$scratch"
fail() { echo "linear_assignment_scipy: FAILED: $*"; exit 1; }
[ -x "$helper" ] || fail "missing $helper (build target golgi_xcheck_assignment)"
py="$src/tests/xcheck/linear_assignment_scipy.py"

/usr/bin/python3 "$py" gen "$scratch" || fail "generating the problems"
"$helper" "$scratch" || fail "golgi_xcheck_assignment"
/usr/bin/python3 "$py" check "$scratch" || fail "golgi differs from scipy/numpy"

# Bad input exits 2 with a message naming the problem.
printf 'not a matrix' > "$scratch/bad"
mkdir -p "$scratch/nan"
/usr/bin/python3 -c "import numpy as np; np.save('$scratch/nan/assign_nan.npy', np.array([[1.0, float('nan')], [0.0, 1.0]]))"
set +e
"$helper" "$scratch/missing" 2>"$scratch/missing.err"; rc1=$?
"$helper" "$scratch/nan" 2>"$scratch/nan.err"; rc2=$?
set -e
[ "$rc1" -eq 2 ] && grep -q "not a folder" "$scratch/missing.err" || { cat "$scratch/missing.err"; fail "missing folder exited $rc1, expected 2"; }
[ "$rc2" -eq 2 ] && grep -q "not finite" "$scratch/nan.err" || { cat "$scratch/nan.err"; fail "NaN matrix exited $rc2, expected 2"; }
echo "linear_assignment_scipy: OK"
