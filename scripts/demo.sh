#!/usr/bin/env bash
# make demo (until the atlas lands): train the Fashion-MNIST CNN with its defaults, evaluate it,
# and record the activations of every neuron over the test set. Re-running reuses finished work.
set -euo pipefail
golgi="${1:-build/bin/golgi}"
out="runs/demo"
mkdir -p "$out"
if [ ! -f "$out/cnn/model.json" ]; then
  echo "== training the CNN on Fashion-MNIST (a few minutes on 2 cores; Ctrl-C, then re-run to resume)"
  "$golgi" train --model cnn --dataset fashion-mnist --out "$out/cnn" --resume
fi
echo "== evaluating"
"$golgi" eval --model "$out/cnn" --out "$out/eval.json" | head -5
if [ ! -f "$out/activations/index.json" ] || ! grep -q '"complete": true' "$out/activations/index.json"; then
  echo "== recording the pooled conv channels, dense neurons and logits over the 10k test images"
  "$golgi" record --model "$out/cnn" --split test --hooks 'conv*.hook_pool,fc*.hook_post,head.hook_out' --out "$out/activations"
fi
"$golgi" inspect "$out/activations"
cat <<MSG

Outputs:
  model and card   $out/cnn/model.safetensors, $out/cnn/model.json
  training metrics $out/cnn/metrics.json
  test metrics     $out/eval.json
  activations      $out/activations/ (index.json + one .npy shard series per hook; numpy.load-able)
Try: $golgi inspect $out/cnn    or    $golgi inspect --stats $out/activations
MSG
