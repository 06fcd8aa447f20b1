#!/usr/bin/env bash
# xcheck: `golgi record` of every hook of the CNN over the 10k Fashion-MNIST test images writes a
# store that numpy reads back equal (to float32 rounding) to an independent forward pass of the
# same weights in Debian's python3-torch.
# Arguments: GOLGI_BINARY SOURCE_DIR SCRATCH_DIR
set -euo pipefail
golgi="$1"; src="$2"; work="$3"
rm -rf "$work"; mkdir -p "$work"
# A briefly trained model: trained weights give realistic activation ranges (sparse ReLUs).
"$golgi" --threads 2 --quiet train --model cnn --train-limit 2000 --test-limit 500 --epochs 1 \
  --out "$work/model" > "$work/train.log" 2>&1 || { cat "$work/train.log"; exit 1; }
"$golgi" --threads 2 --quiet record --model "$work/model" --split test --shard-rows 3000 \
  --out "$work/store" > "$work/record.log" 2>&1 || { cat "$work/record.log"; exit 1; }
/usr/bin/python3 "$src/tests/xcheck/record_store_numpy.py" "$work/model" "$work/store" \
  /usr/share/datasets/fashion-mnist
