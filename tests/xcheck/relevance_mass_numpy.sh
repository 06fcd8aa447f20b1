#!/usr/bin/env bash
# xcheck: relevance-mass accuracy (methods/xai_validation/relevance_mass.h, paper id
# xai-validation) against a numpy/scipy implementation written from the definition
# (tests/xcheck/relevance_mass_numpy.py: scipy.ndimage.gaussian_filter, numpy.percentile,
# scipy.ndimage.binary_dilation). golgi_xcheck_relevance_mass (tests/xcheck/tools/relevance_mass.cpp,
# built beside golgi_xcheck_write_samples, the 4th argument) generates maps and ROIs (64x64 and
# 30x41) and scores them together with maps the script made itself (50x37); RMA and the
# thresholded maps must agree within 1e-6, the false-positive flags and chance levels exactly.
# Usage: relevance_mass_numpy.sh GOLGI_BINARY SOURCE_DIR SCRATCH_DIR WRITE_SAMPLES_BINARY
set -euo pipefail
src="$2"; scratch="$3"; helper="$(dirname "$4")/golgi_xcheck_relevance_mass"
rm -rf "$scratch"; mkdir -p "$scratch"
fail() { echo "relevance_mass_numpy: FAILED: $*"; exit 1; }
[ -x "$helper" ] || fail "missing $helper (build target golgi_xcheck_relevance_mass)"
py="$src/tests/xcheck/relevance_mass_numpy.py"

/usr/bin/python3 "$py" gen "$scratch" || fail "generating the script's own maps"
"$helper" "$scratch" 3 || fail "golgi_xcheck_relevance_mass"
/usr/bin/python3 "$py" check "$scratch" || fail "golgi's relevance-mass accuracy differs from numpy/scipy"

# Bad input exits 2 with a message naming the problem.
mkdir -p "$scratch/bad"
/usr/bin/python3 -c "import numpy as np; np.save('$scratch/bad/x_maps.npy', np.ones((2, 8, 8))); \
np.save('$scratch/bad/x_rois.npy', np.ones((2, 8, 9), dtype=np.uint8))"
set +e
"$helper" "$scratch/missing" 2>"$scratch/missing.err"; rc1=$?
"$helper" "$scratch/bad" 2>"$scratch/bad.err"; rc2=$?
set -e
[ "$rc1" -eq 2 ] && grep -q "not a folder" "$scratch/missing.err" || { cat "$scratch/missing.err"; fail "missing folder exited $rc1, expected 2"; }
[ "$rc2" -eq 2 ] && grep -q "must have the maps' shape" "$scratch/bad.err" || { cat "$scratch/bad.err"; fail "mismatched ROI exited $rc2, expected 2"; }
echo "relevance_mass_numpy: OK"
