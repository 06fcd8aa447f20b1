#include "golgi/models/llama.h"

#include <torch/torch.h>

#include "golgi/core/error.h"
#include "golgi/core/strings.h"
#include "golgi/models/hf_checkpoint.h"

namespace golgi::models {

const OptionSchema<LlamaOptions>& LlamaOptions::schema() {
  static const auto schema = OptionSchema<LlamaOptions>("llama")
      .add("vocab_size", &LlamaOptions::vocab_size_, "vocabulary size", at_least<int64_t>(1))
      .add("n_ctx", &LlamaOptions::n_ctx_, "longest sequence (max_position_embeddings)", at_least<int64_t>(1))
      .add("d_model", &LlamaOptions::d_model_, "residual stream width", at_least<int64_t>(1))
      .add("n_layers", &LlamaOptions::n_layers_, "transformer blocks", at_least<int64_t>(1))
      .add("n_heads", &LlamaOptions::n_heads_, "query heads (divides d_model)", at_least<int64_t>(1))
      .add("n_kv_heads", &LlamaOptions::n_kv_heads_, "key/value heads (divides n_heads; grouped-query attention)",
           at_least<int64_t>(1))
      .add("d_mlp", &LlamaOptions::d_mlp_, "MLP hidden width (neurons per layer)", at_least<int64_t>(1))
      .add("norm_eps", &LlamaOptions::norm_eps_, "RMSNorm epsilon", at_least(0.0, false))
      .add("rope_theta", &LlamaOptions::rope_theta_, "rotary embedding base", at_least(0.0, false))
      .add("tie_embeddings", &LlamaOptions::tie_embeddings_, "unembed with the token embedding");
  return schema;
}

LlamaOptions LlamaOptions::from_hf_config(const Json& c, const std::string& source) {
  LlamaOptions o;
  o.vocab_size(hf_int(c, "vocab_size", source))
      .n_ctx(hf_int_or(c, "max_position_embeddings", 2048, source))
      .d_model(hf_int(c, "hidden_size", source))
      .n_layers(hf_int(c, "num_hidden_layers", source))
      .n_heads(hf_int(c, "num_attention_heads", source))
      .d_mlp(hf_int(c, "intermediate_size", source))
      .norm_eps(hf_double_or(c, "rms_norm_eps", 1e-6, source))
      .rope_theta(hf_double_or(c, "rope_theta", 10000.0, source))
      .tie_embeddings(hf_bool_or(c, "tie_word_embeddings", false, source));
  o.n_kv_heads(hf_int_or(c, "num_key_value_heads", o.n_heads(), source));
  std::string act = c.value("hidden_act", "silu");
  GOLGI_CHECK(act == "silu", "'", source, "': hidden_act '", act, "' is not supported; golgi's llama uses SwiGLU (silu)");
  GOLGI_CHECK(!c.contains("rope_scaling") || c["rope_scaling"].is_null(), "'", source,
              "': rope_scaling ", c.contains("rope_scaling") ? c["rope_scaling"].dump() : "",
              " is not supported; only plain rotary embeddings are");
  GOLGI_CHECK(!hf_bool_or(c, "attention_bias", false, source) && !hf_bool_or(c, "mlp_bias", false, source), "'",
              source, "': attention_bias / mlp_bias are not supported");
  if (c.contains("head_dim") && !c["head_dim"].is_null() && o.n_heads() > 0)
    GOLGI_CHECK(hf_int(c, "head_dim", source) * o.n_heads() == o.d_model(), "'", source, "': head_dim ",
                c["head_dim"].dump(), " times num_attention_heads differs from hidden_size; not supported");
  return o;
}

namespace {
TransformerConfig llama_config(const LlamaOptions& o) {
  LlamaOptions::schema().validate(o);
  TransformerConfig c;
  c.vocab_size = o.vocab_size();
  c.n_ctx = o.n_ctx();
  c.d_model = o.d_model();
  c.n_layers = o.n_layers();
  c.n_heads = o.n_heads();
  c.n_kv_heads = o.n_kv_heads();
  c.d_head = o.n_heads() > 0 ? o.d_model() / o.n_heads() : 0;
  c.d_mlp = o.d_mlp();
  c.rms_norm = true;
  c.rotary = true;
  c.gated_mlp = true;
  c.biases = false;
  c.tie_embeddings = o.tie_embeddings();
  c.norm_eps = o.norm_eps();
  c.rope_theta = o.rope_theta();
  return c;
}
}  // namespace

Llama::Llama(const LlamaOptions& options)
    : TransformerLM("llama", LlamaOptions::schema().to_json(options), llama_config(options)), options_(options) {}

std::vector<std::pair<std::string, at::Tensor>> Llama::to_hf_state() const {
  const auto& c = config();
  const int64_t q_rows = c.n_heads * c.d_head, kv_rows = c.n_kv_heads * c.d_head;
  std::vector<std::pair<std::string, at::Tensor>> s;
  s.emplace_back("model.embed_tokens.weight", W_E);
  for (int64_t l = 0; l < c.n_layers; ++l) {
    const auto* b = &block(l);
    const std::string p = "model.layers." + std::to_string(l) + ".";
    s.emplace_back(p + "input_layernorm.weight", b->ln1->w);
    s.emplace_back(p + "self_attn.q_proj.weight", b->attn->W_qkv.narrow(0, 0, q_rows));
    s.emplace_back(p + "self_attn.k_proj.weight", b->attn->W_qkv.narrow(0, q_rows, kv_rows));
    s.emplace_back(p + "self_attn.v_proj.weight", b->attn->W_qkv.narrow(0, q_rows + kv_rows, kv_rows));
    s.emplace_back(p + "self_attn.o_proj.weight", b->attn->W_O);
    s.emplace_back(p + "post_attention_layernorm.weight", b->ln2->w);
    s.emplace_back(p + "mlp.gate_proj.weight", b->mlp->W_gate_up.narrow(0, 0, c.d_mlp));
    s.emplace_back(p + "mlp.up_proj.weight", b->mlp->W_gate_up.narrow(0, c.d_mlp, c.d_mlp));
    s.emplace_back(p + "mlp.down_proj.weight", b->mlp->W_down);
  }
  s.emplace_back("model.norm.weight", ln_final->w);
  if (!c.tie_embeddings) s.emplace_back("lm_head.weight", W_U);
  for (auto& [name, t] : s) t = t.detach().contiguous();
  return s;
}

Json Llama::hf_config() const {
  const auto& c = config();
  return {{"model_type", "llama"},
          {"architectures", {"LlamaForCausalLM"}},
          {"vocab_size", c.vocab_size},
          {"hidden_size", c.d_model},
          {"intermediate_size", c.d_mlp},
          {"num_hidden_layers", c.n_layers},
          {"num_attention_heads", c.n_heads},
          {"num_key_value_heads", c.n_kv_heads},
          {"max_position_embeddings", c.n_ctx},
          {"rms_norm_eps", c.norm_eps},
          {"rope_theta", c.rope_theta},
          {"hidden_act", "silu"},
          {"attention_bias", false},
          {"tie_word_embeddings", c.tie_embeddings},
          {"torch_dtype", "float32"}};
}

void Llama::load_hf_state(const std::vector<std::pair<std::string, at::Tensor>>& state, const std::string& source) {
  const auto& c = config();
  const int64_t d = c.d_model, f = c.d_mlp, q_rows = c.n_heads * c.d_head, kv_rows = c.n_kv_heads * c.d_head;
  HfStateReader r(state, source, "llama");
  r.ignore_if([](const std::string& n) { return ends_with(n, ".rotary_emb.inv_freq"); });
  if (c.tie_embeddings) r.ignore_if([](const std::string& n) { return n == "lm_head.weight"; });
  torch::NoGradGuard no_grad;
  auto set = [](at::Tensor target, const at::Tensor& value) {
    if (value.defined()) target.copy_(value.to(at::kFloat));
  };
  set(W_E, r.take("model.embed_tokens.weight", {c.vocab_size, d}));
  for (int64_t l = 0; l < c.n_layers; ++l) {
    auto* b = &block(l);
    const std::string p = "model.layers." + std::to_string(l) + ".";
    set(b->ln1->w, r.take(p + "input_layernorm.weight", {d}));
    set(b->attn->W_qkv.narrow(0, 0, q_rows), r.take(p + "self_attn.q_proj.weight", {q_rows, d}));
    set(b->attn->W_qkv.narrow(0, q_rows, kv_rows), r.take(p + "self_attn.k_proj.weight", {kv_rows, d}));
    set(b->attn->W_qkv.narrow(0, q_rows + kv_rows, kv_rows), r.take(p + "self_attn.v_proj.weight", {kv_rows, d}));
    set(b->attn->W_O, r.take(p + "self_attn.o_proj.weight", {d, q_rows}));
    set(b->ln2->w, r.take(p + "post_attention_layernorm.weight", {d}));
    set(b->mlp->W_gate_up.narrow(0, 0, f), r.take(p + "mlp.gate_proj.weight", {f, d}));
    set(b->mlp->W_gate_up.narrow(0, f, f), r.take(p + "mlp.up_proj.weight", {f, d}));
    set(b->mlp->W_down, r.take(p + "mlp.down_proj.weight", {d, f}));
  }
  set(ln_final->w, r.take("model.norm.weight", {d}));
  if (!c.tie_embeddings) set(W_U, r.take("lm_head.weight", {c.vocab_size, d}));
  r.finish();
}

}  // namespace golgi::models
