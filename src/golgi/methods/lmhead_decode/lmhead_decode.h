// LM-head decoding of MLP neurons: the tokens each neuron's weight vector points at through the
// unembedding (paper id `lmhead-decode`).
//
// Davies 2025, "Decoding specialised feature neurons in LLMs with the final projection layer".
// The paper projects the weight vector of each up-projection neuron through the final projection
// (lm_head) and reads the softmax over the vocabulary: neurons whose top token takes most of the
// probability are "specialised" feature neurons. golgi does this for every neuron of every layer
// in one chunked pass (docs/methods/lmhead-decode.md).
//
// Glossary: V vocabulary size, d d_model, N number of decoded vectors (layers x d_mlp), k top_k.
//
// For each neuron vector w_j [d] (side "input": the neuron's row of the up-projection, Llama
// up_proj.weight[j, :], GPT-2 c_fc.weight[:, j]; side "output": its write direction into the
// residual stream, Llama down_proj.weight[:, j], GPT-2 c_proj.weight[j, :], i.e. the logit lens
// of the neuron):
//
//   w'_j  = g ⊙ w_j         when apply_final_norm (g = ln_final's gain [d]), else w_j
//   z_j   = W_U w'_j        [V]   logits (W_U [V, d] the unembedding: lm_head, or W_E when tied)
//   p_j   = softmax(z_j)    p_j[t] = exp(z_j[t] - m_j) / Σ_t' exp(z_j[t'] - m_j),  m_j = max_t z_j[t]
//
// and keeps the k tokens with the largest z_j (equivalently p_j), largest first; equal logits are
// ordered by the lower token id. Only the gain of the final norm is applied (RMSNorm for Llama,
// LayerNorm's weight for GPT-2): no mean-centering, no rescaling to unit RMS and no LayerNorm bias,
// since a weight vector is a direction, not an activation. The paper decodes without the norm
// (the default).
//
// Cost: 2 N V d FLOP in float32 sgemm (at::mm), in chunks of `chunk_size` vectors: only one
// [chunk_size, V] block of logits exists at a time, never [N, V]. Each block's rows then go
// through one fused pass (softmax_top_k: top-k and max in one sweep, Σ exp in a second, rows in
// parallel with at::parallel_for) instead of at::softmax + at::topk.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "golgi/core/json.h"
#include "golgi/core/options.h"

namespace golgi::models {
class TransformerLM;
}

namespace golgi::methods {

struct LmheadDecodeOptions {
  GOLGI_ARG(int64_t, top_k) = 10;        // tokens kept per neuron
  GOLGI_ARG(int64_t, chunk_size) = 256;  // vectors per sgemm block: memory is chunk_size x V floats
  GOLGI_ARG(bool, apply_final_norm) = false;  // multiply each vector by ln_final's gain first
  GOLGI_ARG(std::string, side) = "input";     // "input" (up-projection rows) or "output" (down-projection columns)
  GOLGI_ARG(std::vector<int64_t>, layers) = {};  // layers to decode, in this order; empty = all
  static const OptionSchema<LmheadDecodeOptions>& schema();
};

// The top-k tokens of rows of logits with their softmax probabilities.
struct TopKSoftmax {
  at::Tensor ids;             // [rows, k] int64: token ids, largest logit first (ties: lower id first)
  at::Tensor probs;           // [rows, k] float32: softmax probability of each kept token
  at::Tensor logits;          // [rows, k] float32: the kept logits
  at::Tensor log_normaliser;  // [rows] float32: log Σ_t exp(z[t]) (so p = exp(z - log_normaliser))
};

// The fused row pass: for each row of `logits` [rows, V] (float32, finite), its k largest entries
// (1 <= k <= V) and their softmax probabilities, without materialising the softmax. Σ exp runs in
// float lanes (a polynomial exp, relative error < 1e-7) flushed into a double every 1024 terms;
// the k probabilities use double exp. Rows run in parallel (at::parallel_for). Throws golgi::Error
// on bad shapes, dtypes, k or a non-finite logit (naming the row).
TopKSoftmax softmax_top_k(const at::Tensor& logits, int64_t k);

// Called after each chunk with the number of vectors done so far and the total.
using DecodeProgress = std::function<void(int64_t done, int64_t total)>;

// The lower-level entry point: decodes `vectors` [N, d] through `W_U` [V, d] (both floating;
// computed in float32), optionally multiplying each vector by `gain` [d] first (undefined: no
// gain). Chunks of `chunk_size` vectors; any N >= 0. Throws golgi::Error on mismatched shapes,
// k outside [1, V], chunk_size < 1 or non-finite weights.
TopKSoftmax decode_vectors(const at::Tensor& W_U, const at::Tensor& vectors, int64_t k, int64_t chunk_size,
                           const at::Tensor& gain = {}, const DecodeProgress& progress = {});

// Pieces of a transformer, as [rows, d_model] float32 views (no copies where possible):
// the unembedding W_U [V, d] (W_E when tied); the final norm's gain [d]; and the d_mlp neuron
// vectors of `layer` [d_mlp, d] on `side` ("input": up_proj / c_fc rows; "output": down_proj /
// c_proj columns, a transposed view). Throws golgi::Error for a layer out of range or a bad side.
at::Tensor unembedding(const models::TransformerLM& model);
at::Tensor final_norm_gain(const models::TransformerLM& model);
at::Tensor neuron_vectors(const models::TransformerLM& model, int64_t layer, const std::string& side);

struct LmheadDecodeResult {
  std::string architecture;  // "llama" or "gpt2"
  std::string side;
  bool apply_final_norm = false;
  int64_t top_k = 0, chunk_size = 0;
  int64_t vocab_size = 0, d_model = 0, d_mlp = 0;
  std::vector<int64_t> layers;  // decoded layers, in row order
  // Row r is neuron r % d_mlp of layers[r / d_mlp]; [N, k] and [N] as in TopKSoftmax.
  TopKSoftmax decoded;
  double seconds = 0;  // wall time of the decoding pass
  double gflop = 0;    // 2 N V d / 1e9

  int64_t rows() const { return static_cast<int64_t>(layers.size()) * d_mlp; }
  // The neuron of row r as NeuronRef text: `blocks.{l}.mlp.hook_post:{j}` on both sides (the MLP
  // neuron, golgi's one name for it).
  std::string ref(int64_t row) const;
  // The decoded vector of row r under Hugging Face names, e.g. "model.layers.2.mlp.up_proj.weight[17,:]".
  std::string vector_name(int64_t row) const;
  // {"method": "lmhead-decode", "architecture", "side", "apply_final_norm", "top_k", "chunk_size",
  //  "vocab_size", "d_model", "d_mlp", "layers", "seconds", "gflop", "gflops",
  //  "neurons": [{"ref", "layer", "neuron", "vector", "token_ids": [k], "probs": [k], "logits": [k],
  //               "tokens": [k] (only with token_text), "log_normaliser"}]}
  // `token_text` renders a token id as valid UTF-8 text (see token_display()); `with_neurons` false
  // leaves the per-neuron list out (a summary).
  Json to_json(const std::function<std::string(int64_t)>& token_text = {}, bool with_neurons = true) const;
};

// Decodes every neuron of options.layers (all when empty) of a GPT-2 or Llama model.
LmheadDecodeResult decode_neurons(const models::TransformerLM& model, const LmheadDecodeOptions& options = {},
                                  const DecodeProgress& progress = {});

// `bytes` as valid UTF-8 for tables: valid UTF-8 is kept, every byte of an invalid sequence becomes
// "<0xHH>" (byte-level tokens are often partial characters).
std::string token_display(const std::string& bytes);

}  // namespace golgi::methods
