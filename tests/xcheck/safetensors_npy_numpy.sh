#!/usr/bin/env bash
# Cross-check: safetensors and NPY files written by golgi read back identically in numpy, and files
# written by numpy read back identically in golgi (see read_safetensors_npy.py).
# Arguments: $1 golgi binary (unused until the CLI can dump tensors), $2 source dir, $3 scratch dir,
# $4 the golgi_xcheck_write_samples helper.
set -euo pipefail
source_dir=$2
scratch=$3
helper=${4:-$(dirname "$1")/../tests/golgi_xcheck_write_samples}
if [[ ! -x $helper ]]; then
  echo "xcheck safetensors_npy_numpy: helper '$helper' not found; build target golgi_xcheck_write_samples" >&2
  exit 2
fi
rm -rf "$scratch"
mkdir -p "$scratch"
exec /usr/bin/python3 "$source_dir/tests/xcheck/read_safetensors_npy.py" "$helper" "$scratch"
