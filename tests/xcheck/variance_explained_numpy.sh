#!/usr/bin/env bash
# xcheck: repr-bias variance explained (Lampinen, Chan & Hermann 2024) against numpy
# (tests/xcheck/variance_explained_numpy.py, /usr/bin/python3 + numpy): R² of the least-squares map
# from a feature to the representation centred with the training mean (fit on val, R² on test) for
# binary, 3-category, continuous and rare binary features, with --encoding auto and scalar and
# without an intercept; the closed form η² (between-group / total sum of squares) of a binary
# feature equals golgi's R² when train = val = test; and end to end, the representations golgi
# records from a small trained MLP (`golgi train` on synthetic-blobs, then `golgi analyze
# variance-explained --model ... --save-representations`), recomputed from the exported .npy files.
# Tolerance 1e-6. Bad input (NaN) exits 2.
# Usage: variance_explained_numpy.sh GOLGI_BINARY SOURCE_DIR SCRATCH_DIR WRITE_SAMPLES_BINARY
set -euo pipefail
golgi="$1"; src="$2"; scratch="$3"
py="$src/tests/xcheck/variance_explained_numpy.py"
rm -rf "$scratch"; mkdir -p "$scratch"
fail() { echo "variance_explained_numpy: FAILED: $*"; exit 1; }
d="$scratch/data"; mkdir -p "$d"
/usr/bin/python3 "$py" make "$d" 7 || fail "making the data"

files="--train-reps $d/train_reps.npy --val-reps $d/val_reps.npy --test-reps $d/test_reps.npy \
  --val-feature $d/val_feature.npy --test-feature $d/test_feature.npy --names binary,three,continuous,rare"
run() {  # run MODE [golgi options...]
  local mode=$1; shift
  echo "== $mode"
  "$golgi" --quiet analyze variance-explained "$@" --out "$scratch/$mode.json" >/dev/null || fail "golgi $mode"
}
run auto $files
/usr/bin/python3 "$py" check "$d" "$scratch/auto.json" auto || fail "auto differs from numpy"
run scalar $files --encoding scalar
/usr/bin/python3 "$py" check "$d" "$scratch/scalar.json" scalar || fail "scalar differs from numpy"
run no-intercept $files --no-intercept
/usr/bin/python3 "$py" check "$d" "$scratch/no-intercept.json" no-intercept || fail "no-intercept differs from numpy"
run eta --train-reps "$d/eta_reps.npy" --val-reps "$d/eta_reps.npy" --test-reps "$d/eta_reps.npy" \
  --val-feature "$d/eta_feature.npy" --test-feature "$d/eta_feature.npy"
/usr/bin/python3 "$py" check "$d" "$scratch/eta.json" eta || fail "eta2 differs"

# End to end on a model: a few steps of a small MLP, its first hidden layer, the label as feature.
"$golgi" --quiet --threads 1 train --model mlp --dataset synthetic-blobs --steps 60 --warmup-steps 0 \
  --model-options '{"input_shape": [2], "hidden": [32, 16], "classes": 4}' --out "$scratch/model" >/dev/null \
  || fail "golgi train"
m="$scratch/model-reps"
run model --model "$scratch/model" --hook layers.0.hook_post --val-fraction 0.5 --seed 3 --save-representations "$m"
/usr/bin/python3 "$py" check "$m" "$scratch/model.json" model || fail "model representations differ"

# Bad input: NaN in a representation exits 2 and says so.
/usr/bin/python3 -c "import numpy as np; a = np.load('$d/val_reps.npy'); a[5, 2] = np.nan; np.save('$scratch/nan.npy', a)"
set +e
"$golgi" analyze variance-explained --train-reps "$d/train_reps.npy" --val-reps "$scratch/nan.npy" \
  --test-reps "$d/test_reps.npy" --val-feature "$d/val_feature.npy" --test-feature "$d/test_feature.npy" \
  >/dev/null 2>"$scratch/nan.err"; rc=$?
set -e
[ "$rc" -eq 2 ] && grep -q "NaN" "$scratch/nan.err" || { cat "$scratch/nan.err"; fail "NaN input exited $rc, expected 2"; }
echo "variance_explained_numpy: OK (auto, scalar, no-intercept, eta2 identity, model end to end within 1e-6; NaN rejected)"
