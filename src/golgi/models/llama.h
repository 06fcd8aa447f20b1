// llama: the Llama decoder (Touvron et al. 2023, "LLaMA: Open and Efficient Foundation Language
// Models"): RMSNorm, rotary position embeddings (Su et al. 2021; Hugging Face's rotate_half
// convention), grouped-query attention (Ainslie et al. 2023; n_kv_heads divides n_heads), SwiGLU
// MLP (Shazeer 2020) with gate_proj, up_proj and down_proj, no biases, tied or untied lm_head.
// Defaults are the shape of golgi's bundled byte-level tiny-multilingual model.
//
// Hooks and golgi parameter names: see transformer.h (mlp.hook_pre is the gate_proj output,
// mlp.hook_pre_linear the up_proj output). Hugging Face layout: model.embed_tokens.weight,
// model.layers.{l}.input_layernorm.weight, self_attn.{q,k,v,o}_proj.weight ([out, in]),
// post_attention_layernorm.weight, mlp.{gate,up,down}_proj.weight, model.norm.weight,
// lm_head.weight (untied only). Legacy rotary_emb.inv_freq buffers are ignored.
#pragma once

#include "golgi/core/options.h"
#include "golgi/models/transformer.h"

namespace golgi::models {

struct LlamaOptions {
  GOLGI_ARG(int64_t, vocab_size) = 259;
  GOLGI_ARG(int64_t, n_ctx) = 256;
  GOLGI_ARG(int64_t, d_model) = 192;
  GOLGI_ARG(int64_t, n_layers) = 4;
  GOLGI_ARG(int64_t, n_heads) = 6;
  GOLGI_ARG(int64_t, n_kv_heads) = 2;
  GOLGI_ARG(int64_t, d_mlp) = 512;
  GOLGI_ARG(double, norm_eps) = 1e-5;
  GOLGI_ARG(double, rope_theta) = 10000.0;
  GOLGI_ARG(bool, tie_embeddings) = true;
  static const OptionSchema<LlamaOptions>& schema();
  // From a Hugging Face Llama config.json; unsupported settings (rope_scaling, biases, another
  // activation) are errors naming the key.
  static LlamaOptions from_hf_config(const Json& config, const std::string& source);
};

class Llama : public TransformerLM {
 public:
  explicit Llama(const LlamaOptions& options);
  std::vector<std::pair<std::string, at::Tensor>> to_hf_state() const override;
  Json hf_config() const override;
  void load_hf_state(const std::vector<std::pair<std::string, at::Tensor>>& state, const std::string& source) override;

 private:
  LlamaOptions options_;
};

}  // namespace golgi::models
