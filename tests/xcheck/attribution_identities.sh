#!/usr/bin/env bash
# xcheck: identities of attribution methods, checked in /usr/bin/python3 (numpy) from the files
# `golgi attribute` exports (attributions.npy, inputs.npy, attributions.json), on the bundled
# Fashion-MNIST CNN (assets/models/fashion-cnn) and 8 test images:
#   (a) integrated-gradients completeness (Sundararajan et al. 2017, prop. 1): per sample
#       |Σ_i IG_i − (F(x) − F(x'))| <= 1% of |F(x) − F(x')| with 256 midpoint steps, F the target
#       logit, x' = 0; also at a hook (conv2.hook_pool), where x' is the zero activation;
#   (b) LRP-epsilon equals gradient × input when every bias is 0 (`--zero-biases`; Montavon et al.
#       2019, sec. 10.2: for ReLU networks without biases the epsilon rule with ε → 0 is gradient ×
#       input): max |LRP − g⊙x| <= 1e-4 · max |g⊙x| per sample;
#   (c) LRP conservation with zero biases: Σ_i R_i = F(x) (the target logit) within 1e-4 relative;
#   (d) the exported inputs are the dataset's normalised pixels: in [-0.8102, 2.0227].
# Usage: attribution_identities.sh GOLGI_BINARY SOURCE_DIR SCRATCH_DIR WRITE_SAMPLES_BINARY
set -euo pipefail
golgi="$1"; src="$2"; scratch="$3"
rm -rf "$scratch"; mkdir -p "$scratch"
fail() { echo "attribution_identities: FAILED: $*"; exit 1; }
model="$src/assets/models/fashion-cnn"
py="$src/tests/xcheck/attribution_identities.py"
[ -f "$model/model.json" ] || fail "missing the bundled model $model"

run() { "$golgi" --quiet --threads 1 attribute "$model" --ids 0,1,2,3,4,5,6,7 "$@" || fail "golgi attribute $*"; }
run --method integrated_gradients --steps 256 --out "$scratch/ig"
run --method integrated_gradients --steps 256 --at conv2.hook_pool --target predicted --out "$scratch/ig_hook"
run --method lrp --lrp-rule epsilon --lrp-epsilon 1e-9 --zero-biases --out "$scratch/lrp0"
run --method gradient_x_input --zero-biases --out "$scratch/gxi0"
/usr/bin/python3 "$py" "$scratch" || fail "an attribution identity does not hold"
echo "attribution_identities: OK"
