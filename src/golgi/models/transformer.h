// Decoder-only transformer language models with TransformerLens hook names (gpt2.h, llama.h).
//
// One implementation serves both families; a TransformerConfig picks the parts:
//   GPT-2 (Radford et al. 2019): learned positions, LayerNorm, fused QKV with biases, GELU (tanh
//     approximation) MLP.
//   Llama (Touvron et al. 2023): rotary positions (Su et al. 2021, Hugging Face's rotate_half
//     convention), RMSNorm, grouped-query attention (Ainslie et al. 2023), SwiGLU MLP
//     (Shazeer 2020), no biases.
//
// Hook points (forward order; "pos" counts the tokens of this call, so with a KV cache they cover
// only the new tokens; neuron_dim -1, the last dimension):
//   hook_embed                        [batch, pos, d_model]  token embedding
//   hook_pos_embed                    [batch, pos, d_model]  learned positions (GPT-2 only)
//   blocks.{l}.hook_resid_pre         [batch, pos, d_model]
//   blocks.{l}.ln1.hook_normalized    [batch, pos, d_model]  norm output, after its weight (and bias)
//   blocks.{l}.attn.hook_q            [batch, pos, n_heads, d_head]
//   blocks.{l}.attn.hook_k|hook_v     [batch, pos, n_kv_heads, d_head]
//   blocks.{l}.attn.hook_rot_q|hook_rot_k   after the rotary embedding (Llama only)
//   blocks.{l}.attn.hook_attn_scores  [batch, n_heads, pos, key_pos]  scaled, masked (-inf) logits
//   blocks.{l}.attn.hook_pattern      [batch, n_heads, pos, key_pos]  softmax of the scores
//   blocks.{l}.attn.hook_z            [batch, pos, n_heads, d_head]   pattern-weighted values
//   blocks.{l}.attn.hook_result       [batch, pos, n_heads, d_model]  per-head output (computed
//                                                                     only while hooked)
//   blocks.{l}.hook_attn_out          [batch, pos, d_model]
//   blocks.{l}.hook_resid_mid         [batch, pos, d_model]
//   blocks.{l}.ln2.hook_normalized    [batch, pos, d_model]
//   blocks.{l}.mlp.hook_pre           [batch, pos, d_mlp]  GPT-2: pre-activation; Llama: gate_proj out
//   blocks.{l}.mlp.hook_pre_linear    [batch, pos, d_mlp]  Llama only: up_proj output
//   blocks.{l}.mlp.hook_post          [batch, pos, d_mlp]  the vector entering the down projection
//   blocks.{l}.hook_mlp_out           [batch, pos, d_model]
//   blocks.{l}.hook_resid_post        [batch, pos, d_model]
//   ln_final.hook_normalized          [batch, pos, d_model]
//
// Parameters (golgi names; Hugging Face names are produced by to_hf_state()):
//   W_E [vocab, d_model], W_pos [n_ctx, d_model] (GPT-2), W_U [vocab, d_model] (untied only),
//   blocks.{l}.ln1.w/.b, ln2.w/.b, ln_final.w/.b (.b for LayerNorm only),
//   blocks.{l}.attn.W_qkv [(n_heads + 2 n_kv_heads) d_head, d_model] (rows: q heads, k heads, v heads),
//   attn.b_qkv, attn.W_O [d_model, n_heads d_head], attn.b_O (GPT-2 only),
//   GPT-2 mlp.W_in [d_mlp, d_model], b_in, W_out [d_model, d_mlp], b_out;
//   Llama mlp.W_gate_up [2 d_mlp, d_model] (rows: gate, up), W_down [d_model, d_mlp].
// Weights use the nn.Linear layout [out, in]; the fused QKV and gate/up products are one matmul each.
#pragma once

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/pimpl.h>

#include "golgi/hooks/hook_point.h"
#include "golgi/models/model.h"

namespace golgi::models {

struct TransformerConfig {
  int64_t vocab_size = 0;
  int64_t n_ctx = 0;  // GPT-2: the learned position table's length; Llama: the longest sequence allowed
  int64_t d_model = 0;
  int64_t n_layers = 0;
  int64_t n_heads = 0;
  int64_t n_kv_heads = 0;  // divides n_heads; == n_heads for plain multi-head attention
  int64_t d_head = 0;      // d_model / n_heads
  int64_t d_mlp = 0;
  bool rms_norm = false;       // RMSNorm (Llama) or LayerNorm (GPT-2)
  bool rotary = false;         // rotary (Llama) or learned (GPT-2) positions
  bool gated_mlp = false;      // SwiGLU (Llama) or GELU-tanh (GPT-2)
  bool biases = true;          // biases on the QKV, output and MLP projections (GPT-2)
  bool tie_embeddings = true;  // the unembedding is W_E
  double norm_eps = 1e-5;
  double rope_theta = 10000.0;
};

// Keys and values of earlier positions, per layer: [batch, cached_pos, n_kv_heads, d_head] (keys
// after the rotary embedding). Grows as TransformerLM::run() appends to it.
struct KVCache {
  std::vector<at::Tensor> keys, values;
  int64_t length() const;
};

class TransformerNormImpl : public torch::nn::Module {
 public:
  TransformerNormImpl(int64_t d_model, bool rms, double eps);
  at::Tensor forward(const at::Tensor& x);
  at::Tensor w, b;  // b undefined for RMSNorm

 private:
  bool rms_;
  double eps_;
  hooks::HookPoint hook_normalized_{nullptr};
};
TORCH_MODULE(TransformerNorm);

class AttentionImpl : public torch::nn::Module {
 public:
  explicit AttentionImpl(const TransformerConfig& config);
  // x [batch, pos, d_model]; `past_keys`/`past_values` may be undefined (no cache). Returns the
  // attention output and stores this call's keys/values (past + new) in *keys_out/*values_out
  // when they are non-null.
  at::Tensor forward(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin, const at::Tensor& past_keys,
                     const at::Tensor& past_values, at::Tensor* keys_out, at::Tensor* values_out);
  at::Tensor W_qkv, b_qkv, W_O, b_O;

 private:
  TransformerConfig config_;
  hooks::HookPoint hook_q_{nullptr}, hook_k_{nullptr}, hook_v_{nullptr}, hook_rot_q_{nullptr}, hook_rot_k_{nullptr},
      hook_attn_scores_{nullptr}, hook_pattern_{nullptr}, hook_z_{nullptr}, hook_result_{nullptr};
};
TORCH_MODULE(Attention);

class TransformerMlpImpl : public torch::nn::Module {
 public:
  explicit TransformerMlpImpl(const TransformerConfig& config);
  at::Tensor forward(const at::Tensor& x);
  at::Tensor W_in, b_in, W_out, b_out;  // GPT-2
  at::Tensor W_gate_up, W_down;         // Llama

 private:
  TransformerConfig config_;
  hooks::HookPoint hook_pre_{nullptr}, hook_pre_linear_{nullptr}, hook_post_{nullptr};
};
TORCH_MODULE(TransformerMlp);

class TransformerBlockImpl : public torch::nn::Module {
 public:
  explicit TransformerBlockImpl(const TransformerConfig& config);
  at::Tensor forward(const at::Tensor& resid, const at::Tensor& cos, const at::Tensor& sin, const at::Tensor& past_keys,
                     const at::Tensor& past_values, at::Tensor* keys_out, at::Tensor* values_out);
  TransformerNorm ln1{nullptr}, ln2{nullptr};
  Attention attn{nullptr};
  TransformerMlp mlp{nullptr};

 private:
  hooks::HookPoint hook_resid_pre_{nullptr}, hook_attn_out_{nullptr}, hook_resid_mid_{nullptr},
      hook_mlp_out_{nullptr}, hook_resid_post_{nullptr};
};
TORCH_MODULE(TransformerBlock);

class TransformerLM : public Model {
 public:
  TransformerLM(std::string architecture, Json options, const TransformerConfig& config);

  // tokens [batch, pos] int64 -> logits [batch, pos, vocab] (float32).
  at::Tensor forward(const at::Tensor& tokens) override;
  // The general entry point. With `cache`, the tokens continue the cached sequence (positions
  // start at cache->length()) and their keys/values are appended. With stop_at_layer = k in
  // [0, n_layers) the pass stops before block k and returns the residual stream
  // [batch, pos, d_model] (no later hooks run, no logits); -1 runs every block and the unembedding.
  at::Tensor run(const at::Tensor& tokens, KVCache* cache = nullptr, int64_t stop_at_layer = -1);

  std::vector<int64_t> input_shape() const override { return {-1}; }
  std::string task() const override { return "language-model"; }
  at::Tensor example_input(int64_t batch) const override;

  const TransformerConfig& config() const { return config_; }
  // Block l (0-based; not range-checked beyond LibTorch's own check).
  TransformerBlockImpl& block(int64_t l) const { return *blocks.ptr()->ptr<TransformerBlockImpl>(l); }
  // Resets every parameter to the GPT-2 initialisation (normal(0, 0.02), output projections
  // scaled by 1/sqrt(2 n_layers), norms 1, biases 0), drawing from LibTorch's generator.
  void reset_parameters();

  // The parameters under Hugging Face names and layouts (GPT-2 Conv1D [in, out]; Llama q/k/v
  // split), ready for model.safetensors; and config.json's content.
  virtual std::vector<std::pair<std::string, at::Tensor>> to_hf_state() const = 0;
  virtual Json hf_config() const = 0;
  // Copies a Hugging Face state (names as in to_hf_state(); GPT-2 also without the
  // "transformer." prefix) into the parameters. Throws one golgi::Error listing every missing,
  // unexpected or wrongly shaped tensor. `source` names the checkpoint in messages.
  virtual void load_hf_state(const std::vector<std::pair<std::string, at::Tensor>>& state,
                             const std::string& source) = 0;

  at::Tensor W_E, W_pos, W_U;
  torch::nn::ModuleList blocks{nullptr};
  TransformerNorm ln_final{nullptr};

 protected:
  // Checks ids and shape; returns the tokens as int64.
  at::Tensor check_tokens(const at::Tensor& tokens, int64_t past) const;

 private:
  TransformerConfig config_;
  hooks::HookPoint hook_embed_{nullptr}, hook_pos_embed_{nullptr};
};

// Validates a config (divisibility, positive sizes) with errors naming `architecture`'s options.
void check_transformer_config(const TransformerConfig& config, const std::string& architecture);

// Helpers for load_hf_state implementations: a name -> tensor map that records which names were
// taken, so the leftovers can be reported as unexpected.
class HfStateReader {
 public:
  HfStateReader(const std::vector<std::pair<std::string, at::Tensor>>& state, std::string source,
                std::string architecture);
  // The tensor called `name` (any of `aliases` also accepted), checked against `shape`; records a
  // problem and returns an undefined tensor when it is missing or has another shape.
  at::Tensor take(const std::string& name, const std::vector<int64_t>& shape,
                  const std::vector<std::string>& aliases = {});
  bool has(const std::string& name) const { return tensors_.count(name) > 0; }
  // Marks names as known-but-ignored (e.g. GPT-2's legacy "attn.bias" mask buffers).
  void ignore_if(const std::function<bool(const std::string&)>& predicate);
  // Throws golgi::Error listing the problems and the unexpected tensors, if any.
  void finish() const;

 private:
  std::map<std::string, at::Tensor> tensors_;
  std::set<std::string> taken_;
  std::vector<std::string> missing_, wrong_shape_;
  std::string source_, architecture_;
};

}  // namespace golgi::models
