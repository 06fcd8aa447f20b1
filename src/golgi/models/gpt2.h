// gpt2: the GPT-2 decoder (Radford et al. 2019, "Language Models are Unsupervised Multitask
// Learners"): learned positions, pre-LayerNorm blocks, fused QKV with biases, GELU (tanh
// approximation) MLP, tied or untied unembedding. Defaults are GPT-2 small (124M parameters).
//
// Hooks and golgi parameter names: see transformer.h. Hugging Face layout (to_hf_state /
// load_hf_state): transformer.wte.weight [vocab, d], transformer.wpe.weight [n_ctx, d],
// transformer.h.{l}.ln_1.{weight,bias}, attn.c_attn.{weight [d, 3d], bias}, attn.c_proj.{weight
// [d, d], bias}, ln_2, mlp.c_fc.{weight [d, d_mlp], bias}, mlp.c_proj.{weight [d_mlp, d], bias},
// transformer.ln_f, lm_head.weight (untied only). Conv1D weights are stored [in, out], the
// transpose of nn.Linear. Names without the "transformer." prefix (as in the original
// openai-community/gpt2 files) are accepted, and the legacy attn.bias / attn.masked_bias mask
// buffers are ignored.
#pragma once

#include "golgi/core/options.h"
#include "golgi/models/transformer.h"

namespace golgi::models {

struct Gpt2Options {
  GOLGI_ARG(int64_t, vocab_size) = 50257;
  GOLGI_ARG(int64_t, n_ctx) = 1024;
  GOLGI_ARG(int64_t, d_model) = 768;
  GOLGI_ARG(int64_t, n_layers) = 12;
  GOLGI_ARG(int64_t, n_heads) = 12;
  GOLGI_ARG(int64_t, d_mlp) = 3072;
  GOLGI_ARG(double, norm_eps) = 1e-5;
  GOLGI_ARG(bool, tie_embeddings) = true;
  static const OptionSchema<Gpt2Options>& schema();
  // From a Hugging Face GPT-2 config.json; unsupported settings are errors naming the key.
  static Gpt2Options from_hf_config(const Json& config, const std::string& source);
};

class Gpt2 : public TransformerLM {
 public:
  explicit Gpt2(const Gpt2Options& options);
  std::vector<std::pair<std::string, at::Tensor>> to_hf_state() const override;
  Json hf_config() const override;
  void load_hf_state(const std::vector<std::pair<std::string, at::Tensor>>& state, const std::string& source) override;

 private:
  Gpt2Options options_;
};

}  // namespace golgi::models
