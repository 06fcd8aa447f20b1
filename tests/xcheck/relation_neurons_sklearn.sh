#!/usr/bin/env bash
# xcheck: `golgi neurons relation` (paper id relation-neurons) against scikit-learn. Random
# responses [1100 examples, 240 neurons] with heavy ties (quantised columns, constant columns, -0.0
# and +0.0), as float32 and as float64, 5 relations (one whose negatives run short, one never
# answered correctly). Checked with /usr/bin/python3 (relation_neurons_sklearn.py):
#   * ap.npy equals sklearn.metrics.average_precision_score on each relation's examples within 1e-9;
#   * the top-N sets equal sklearn's ranking (ties to the lower index), with their AP and names,
#     for N = 25 and for all 240 neurons (the whole order, tied APs included);
#   * positives / negatives follow the definition (4 per positive, or all others, flagged);
#   * the overlap matrices (intersection, Jaccard) match the sets;
#   * the same seed gives the same output, and bad input exits 2 with a message naming the problem.
# Usage: relation_neurons_sklearn.sh GOLGI_BINARY SOURCE_DIR SCRATCH_DIR [ignored]
set -euo pipefail
golgi="$1"; src="$2"; scratch="$3"
py=/usr/bin/python3
helper="$src/tests/xcheck/relation_neurons_sklearn.py"
if ! "$py" -c "import numpy, sklearn" 2>/dev/null; then
  echo "relation_neurons_sklearn: FAILED: $py cannot import numpy and sklearn; install the Debian packages" \
       "python3-numpy and python3-sklearn (scripts/setup.sh installs them)"
  exit 1
fi
rm -rf "$scratch"; mkdir -p "$scratch"
"$py" "$helper" make "$scratch"

run() {  # run NAME RESPONSES [extra flags]
  local name="$1" responses="$2"; shift 2
  "$golgi" --quiet neurons relation --responses "$scratch/$responses" --labels "$scratch/labels.npy" \
    --correct "$scratch/correct.npy" --relations capital,currency,language,calling_code,never_right \
    --neuron-names "$scratch/names.txt" --out "$scratch/$name" "$@" 2>"$scratch/$name.log" || {
    cat "$scratch/$name.log"; echo "relation_neurons_sklearn: FAILED: golgi neurons relation ($name)"; exit 1; }
}
run out32 responses32.npy --top-n 25 --seed 3
run out64 responses64.npy --top-n 25 --seed 3
run again32 responses32.npy --top-n 25 --seed 3
# Every neuron ranked: the full order, including the tied AP of the constant columns.
run all32 responses32.npy --top-n 240 --seed 3
"$py" "$helper" check "$scratch" "$scratch/out32" 25 responses32.npy
"$py" "$helper" check "$scratch" "$scratch/out64" 25 responses64.npy
"$py" "$helper" check "$scratch" "$scratch/all32" 240 responses32.npy

# Reproducible: the same seed gives identical files.
cmp -s "$scratch/out32/ap.npy" "$scratch/again32/ap.npy" && cmp -s "$scratch/out32/examples.json" "$scratch/again32/examples.json" || {
  echo "relation_neurons_sklearn: FAILED: the same --seed gave different outputs"; exit 1; }

# Bad input: exit 2 and one line naming the problem.
bad() {  # bad EXPECTED_TEXT ARGS...
  local expected="$1"; shift
  set +e
  "$golgi" --quiet neurons relation --responses "$scratch/responses32.npy" --labels "$scratch/labels.npy" \
    --out "$scratch/bad" "$@" 2>"$scratch/bad.log"
  local rc=$?
  set -e
  if [ "$rc" -ne 2 ] || ! grep -q -- "$expected" "$scratch/bad.log"; then
    cat "$scratch/bad.log"
    echo "relation_neurons_sklearn: FAILED: '$*' gave exit $rc (expected 2 and a message with '$expected')"; exit 1
  fi
}
all=capital,currency,language,calling_code,never_right
bad "relation label" --relations capital,currency
bad "named twice" --relations capital,currency,language,calling_code,capital
bad "list of strings" --relations '[1, 2]'
bad "exceeds the 240 neurons" --relations "$all" --top-n 241
bad "excludes" --relations "$all" --top-n 5 --top-rate 0.1
bad "negatives_per_positive" --relations "$all" --negatives-per-positive 0
bad "1-D" --relations "$all" --correct "$scratch/responses32.npy"
bad "neuron-names" --relations "$all" --neuron-names "$scratch/labels.npy"
echo "relation_neurons_sklearn: OK"
