#!/usr/bin/env bash
# xcheck: `golgi neurons decode` (paper id lmhead-decode) against numpy, with
# tests/xcheck/lmhead_decode_reference.py (/usr/bin/python3 + numpy; its docstring lists the checks):
# the reference reads the checkpoint's own tensors (Hugging Face names, hand-written safetensors
# reader), computes softmax(W_U (g * w)) in float64 and requires 100% argmax agreement,
# probabilities within rtol 1e-5 and the same top-k up to float32 near-ties. Runs:
#   * the bundled llama assets/models/tiny-multilingual (vocab 259, 4 layers x 512 neurons): input side;
#     output side with the final norm's gain; layers 3,1 only, chunk size 1;
#   * a seeded random GPT-2 in Hugging Face layout written by the reference (vocab 1003, 3 layers x
#     200 neurons, untied lm_head, random ln_f weight and bias): input side with the gain (the bias
#     must be ignored), output side without;
#   * bad input: --side middle, --top-k 0, --layers 9 and a missing model exit 2 naming the problem.
# Usage: lmhead_decode_numpy.sh GOLGI_BINARY SOURCE_DIR SCRATCH_DIR [ignored]
set -euo pipefail
golgi="$1"; src="$2"; scratch="$3"
here="$src/tests/xcheck"
ref="$here/lmhead_decode_reference.py"
llama="$src/assets/models/tiny-multilingual"
rm -rf "$scratch"; mkdir -p "$scratch"

fail() { echo "lmhead_decode_numpy: FAILED: $*"; exit 1; }

decode() {  # decode NAME MODEL ARGS...: runs golgi into $scratch/NAME
  local name=$1 model=$2; shift 2
  "$golgi" --quiet neurons decode --model "$model" --out "$scratch/$name" --export-weights "$@" \
    2>"$scratch/$name.log" || { cat "$scratch/$name.log"; fail "golgi neurons decode $* ($name)"; }
}

decode llama_in "$llama" --top-k 10 --chunk-size 100
/usr/bin/python3 "$ref" check "$scratch/llama_in" "$llama" input 0 || fail "llama input side"
decode llama_out_norm "$llama" --top-k 7 --side output --final-norm
/usr/bin/python3 "$ref" check "$scratch/llama_out_norm" "$llama" output 1 || fail "llama output side, final norm"
decode llama_layers "$llama" --top-k 3 --layers 3,1 --chunk-size 1
/usr/bin/python3 "$ref" check "$scratch/llama_layers" "$llama" input 0 3,1 || fail "llama layers 3,1"

/usr/bin/python3 "$ref" write-gpt2 "$scratch/gpt2" || fail "writing the GPT-2 checkpoint"
decode gpt2_in_norm "$scratch/gpt2" --top-k 10 --final-norm --chunk-size 64 --no-tokens
/usr/bin/python3 "$ref" check "$scratch/gpt2_in_norm" "$scratch/gpt2" input 1 || fail "gpt2 input side, final norm"
decode gpt2_out "$scratch/gpt2" --top-k 5 --side output --no-tokens
/usr/bin/python3 "$ref" check "$scratch/gpt2_out" "$scratch/gpt2" output 0 || fail "gpt2 output side"

bad() {  # bad EXPECTED_TEXT ARGS...: golgi must exit 2 and say EXPECTED_TEXT on stderr
  local want=$1; shift
  set +e
  "$golgi" --quiet neurons decode --out "$scratch/bad" "$@" >"$scratch/bad.out" 2>"$scratch/bad.err"
  local rc=$?
  set -e
  [ "$rc" -eq 2 ] || { cat "$scratch/bad.err"; fail "neurons decode $* exited $rc, expected 2"; }
  grep -q -- "$want" "$scratch/bad.err" || { cat "$scratch/bad.err"; fail "neurons decode $*: stderr lacks '$want'"; }
}
bad "side" --model "$llama" --side middle
bad "top_k" --model "$llama" --top-k 0
bad "layer 9" --model "$llama" --layers 9
bad "$scratch/missing" --model "$scratch/missing"
echo "lmhead_decode_numpy: OK (tiny-multilingual llama: 3 runs; random GPT-2: 2 runs; 4 bad inputs rejected)"
