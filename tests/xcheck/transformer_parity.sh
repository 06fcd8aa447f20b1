#!/usr/bin/env bash
# xcheck: golgi's GPT-2 and Llama transformers (`golgi forward`, `golgi generate`) against an
# independent python3-torch reference, tests/xcheck/transformer_reference.py.
# Python writes four seeded random-weight checkpoints in exact Hugging Face layout (config.json +
# model.safetensors, or two shards + model.safetensors.index.json): gpt2-tied ("transformer."
# names, lm_head tied to wte), gpt2-untied-noprefix (openai-community/gpt2 naming, n_inner 96,
# lm_head, legacy attn.bias buffers to ignore), llama-gqa-tied (4 query / 2 kv heads) and
# llama-mha-untied-sharded (rope_theta 500000, lm_head, two shards). Checked:
#   * forward logits on int64 [3, 17] ids: max |golgi - reference| <= 1e-4 per model;
#   * greedy generation (temperature 0) of 20 tokens after an int64 [2, 5] prompt: identical ids.
#     The reference recomputes the whole sequence at every step, so golgi's KV cache is checked;
#     seeds are chosen so every greedy step's top-1/top-2 logit margin exceeds 1e-3;
#   * a missing tensor, a wrongly shaped k_proj and model_type "mamba" make golgi exit non-zero
#     naming the problem on stderr.
# Independent: the reference is written from the public architecture definitions with plain
# torch.nn.functional code and a hand-written safetensors reader/writer (no safetensors or
# transformers package, nothing shared with golgi's C++). `transformer_reference.py selftest`
# checks the reference itself against float64 per-position numpy loops, GQA == MHA with repeated
# k/v weights, RoPE invariants and the safetensors round trip; it runs first here.
# Usage: transformer_parity.sh GOLGI_BINARY SOURCE_DIR SCRATCH_DIR [ignored]
set -euo pipefail
golgi="$1"; src="$2"; scratch="$3"
here="$src/tests/xcheck"
rm -rf "$scratch"; mkdir -p "$scratch"
scratch="$(cd "$scratch" && pwd)"
golgi="$(cd "$(dirname "$golgi")" && pwd)/$(basename "$golgi")"

/usr/bin/python3 "$here/transformer_reference.py" selftest >"$scratch/selftest.log" 2>&1 || {
  cat "$scratch/selftest.log"; echo "transformer_parity: FAILED: the python reference's selftest failed"; exit 1; }

# Writes the checkpoints, ids and references under $scratch, runs golgi on each, compares.
/usr/bin/python3 "$here/transformer_reference.py" check --golgi "$golgi" --out "$scratch"
