#!/usr/bin/env bash
# xcheck: the numerical machinery of attribution and feature visualisation (issue 6) against
# independent references in /usr/bin/python3:
#   TV-Bregman denoising (analysis/tv_bregman.h) vs skimage.restoration.denoise_tv_bregman on a
#     noise image, a noisy natural grey image (camera), a noisy RGB crop (astronaut) and a noisy
#     step, weights 1, 5, 20, isotropic and anisotropic: mean |diff| < 1e-3 of the range;
#   k-means (analysis/kmeans.h) vs sklearn.cluster.KMeans from the same initial centroids
#     (digits, iris, blobs): ARI >= 0.95, centroids within 1e-6 of the range;
#   PCA (analysis/pca.h) vs sklearn.decomposition.PCA: explained variance (ratio) within 1e-6
#     relative, components equal up to sign, golgi's sign convention holds;
#   exact t-SNE (analysis/tsne.h) vs sklearn.manifold.TSNE(method="exact") (iris, 500 digits,
#     300 blob points): trustworthiness of golgi's embedding >= 0.9 and within 0.05 of sklearn's.
# golgi's side is golgi_xcheck_image_ops (tests/xcheck/tools/image_ops.cpp), built beside
# golgi_xcheck_write_samples (the 4th argument); the reference is tests/xcheck/image_ops_sklearn.py.
# Usage: image_ops_sklearn.sh GOLGI_BINARY SOURCE_DIR SCRATCH_DIR WRITE_SAMPLES_BINARY
set -euo pipefail
src="$2"; scratch="$3"; helper="$(dirname "$4")/golgi_xcheck_image_ops"
rm -rf "$scratch"; mkdir -p "$scratch"
fail() { echo "image_ops_sklearn: FAILED: $*"; exit 1; }
[ -x "$helper" ] || fail "missing $helper (build target golgi_xcheck_image_ops)"
py="$src/tests/xcheck/image_ops_sklearn.py"

/usr/bin/python3 "$py" gen "$scratch" || fail "generating the inputs"
"$helper" "$scratch" || fail "golgi_xcheck_image_ops"
/usr/bin/python3 "$py" check "$scratch" || fail "golgi differs from scikit-image/scikit-learn"

# Bad input exits 2 with a message naming the problem.
mkdir -p "$scratch/bad"
/usr/bin/python3 -c "import numpy as np, json; np.save('$scratch/bad/x.npy', np.ones((1, 5))); \
json.dump([{'op': 'tv', 'input': 'x.npy', 'output': 'y.npy', 'weight': 1.0, 'isotropic': True, 'per_channel': True}], open('$scratch/bad/jobs.json', 'w'))"
set +e
"$helper" "$scratch/missing" 2>"$scratch/missing.err"; rc1=$?
"$helper" "$scratch/bad" 2>"$scratch/bad.err"; rc2=$?
set -e
[ "$rc1" -eq 2 ] && grep -q "not a folder" "$scratch/missing.err" || { cat "$scratch/missing.err"; fail "missing folder exited $rc1, expected 2"; }
[ "$rc2" -eq 2 ] && grep -q "height and width >= 2" "$scratch/bad.err" || { cat "$scratch/bad.err"; fail "1-row image exited $rc2, expected 2"; }
echo "image_ops_sklearn: OK"
