#include "golgi/models/gpt2.h"

#include <torch/torch.h>

#include "golgi/core/error.h"
#include "golgi/core/strings.h"
#include "golgi/models/hf_checkpoint.h"

namespace golgi::models {

const OptionSchema<Gpt2Options>& Gpt2Options::schema() {
  static const auto schema = OptionSchema<Gpt2Options>("gpt2")
      .add("vocab_size", &Gpt2Options::vocab_size_, "vocabulary size", at_least<int64_t>(1))
      .add("n_ctx", &Gpt2Options::n_ctx_, "context length (rows of the position table)", at_least<int64_t>(1))
      .add("d_model", &Gpt2Options::d_model_, "residual stream width", at_least<int64_t>(1))
      .add("n_layers", &Gpt2Options::n_layers_, "transformer blocks", at_least<int64_t>(1))
      .add("n_heads", &Gpt2Options::n_heads_, "attention heads (divides d_model)", at_least<int64_t>(1))
      .add("d_mlp", &Gpt2Options::d_mlp_, "MLP hidden width (neurons per layer)", at_least<int64_t>(1))
      .add("norm_eps", &Gpt2Options::norm_eps_, "LayerNorm epsilon", at_least(0.0, false))
      .add("tie_embeddings", &Gpt2Options::tie_embeddings_, "unembed with the token embedding");
  return schema;
}

Gpt2Options Gpt2Options::from_hf_config(const Json& c, const std::string& source) {
  Gpt2Options o;
  o.vocab_size(hf_int(c, "vocab_size", source))
      .n_ctx(hf_int(c, "n_positions", source))
      .d_model(hf_int(c, "n_embd", source))
      .n_layers(hf_int(c, "n_layer", source))
      .n_heads(hf_int(c, "n_head", source))
      .d_mlp(hf_int_or(c, "n_inner", 4 * o.d_model(), source))
      .norm_eps(hf_double_or(c, "layer_norm_epsilon", 1e-5, source))
      .tie_embeddings(hf_bool_or(c, "tie_word_embeddings", true, source));
  std::string act = c.value("activation_function", "gelu_new");
  GOLGI_CHECK(act == "gelu_new" || act == "gelu_pytorch_tanh", "'", source, "': activation_function '", act,
              "' is not supported; golgi's gpt2 uses the tanh-approximated GELU ('gelu_new')");
  GOLGI_CHECK(hf_bool_or(c, "scale_attn_weights", true, source), "'", source,
              "': scale_attn_weights false is not supported");
  GOLGI_CHECK(!hf_bool_or(c, "scale_attn_by_inverse_layer_idx", false, source), "'", source,
              "': scale_attn_by_inverse_layer_idx is not supported");
  return o;
}

namespace {
TransformerConfig gpt2_config(const Gpt2Options& o) {
  Gpt2Options::schema().validate(o);
  TransformerConfig c;
  c.vocab_size = o.vocab_size();
  c.n_ctx = o.n_ctx();
  c.d_model = o.d_model();
  c.n_layers = o.n_layers();
  c.n_heads = o.n_heads();
  c.n_kv_heads = o.n_heads();
  c.d_head = o.n_heads() > 0 ? o.d_model() / o.n_heads() : 0;
  c.d_mlp = o.d_mlp();
  c.norm_eps = o.norm_eps();
  c.tie_embeddings = o.tie_embeddings();
  return c;
}
}  // namespace

Gpt2::Gpt2(const Gpt2Options& options)
    : TransformerLM("gpt2", Gpt2Options::schema().to_json(options), gpt2_config(options)), options_(options) {}

std::vector<std::pair<std::string, at::Tensor>> Gpt2::to_hf_state() const {
  std::vector<std::pair<std::string, at::Tensor>> s;
  s.emplace_back("transformer.wte.weight", W_E);
  s.emplace_back("transformer.wpe.weight", W_pos);
  for (int64_t l = 0; l < config().n_layers; ++l) {
    const auto* b = &block(l);
    const std::string p = "transformer.h." + std::to_string(l) + ".";
    s.emplace_back(p + "ln_1.weight", b->ln1->w);
    s.emplace_back(p + "ln_1.bias", b->ln1->b);
    s.emplace_back(p + "attn.c_attn.weight", b->attn->W_qkv.t());
    s.emplace_back(p + "attn.c_attn.bias", b->attn->b_qkv);
    s.emplace_back(p + "attn.c_proj.weight", b->attn->W_O.t());
    s.emplace_back(p + "attn.c_proj.bias", b->attn->b_O);
    s.emplace_back(p + "ln_2.weight", b->ln2->w);
    s.emplace_back(p + "ln_2.bias", b->ln2->b);
    s.emplace_back(p + "mlp.c_fc.weight", b->mlp->W_in.t());
    s.emplace_back(p + "mlp.c_fc.bias", b->mlp->b_in);
    s.emplace_back(p + "mlp.c_proj.weight", b->mlp->W_out.t());
    s.emplace_back(p + "mlp.c_proj.bias", b->mlp->b_out);
  }
  s.emplace_back("transformer.ln_f.weight", ln_final->w);
  s.emplace_back("transformer.ln_f.bias", ln_final->b);
  if (!config().tie_embeddings) s.emplace_back("lm_head.weight", W_U);
  for (auto& [name, t] : s) t = t.detach().contiguous();
  return s;
}

Json Gpt2::hf_config() const {
  const auto& c = config();
  return {{"model_type", "gpt2"},
          {"architectures", {"GPT2LMHeadModel"}},
          {"vocab_size", c.vocab_size},
          {"n_positions", c.n_ctx},
          {"n_ctx", c.n_ctx},
          {"n_embd", c.d_model},
          {"n_layer", c.n_layers},
          {"n_head", c.n_heads},
          {"n_inner", c.d_mlp},
          {"activation_function", "gelu_new"},
          {"layer_norm_epsilon", c.norm_eps},
          {"tie_word_embeddings", c.tie_embeddings},
          {"torch_dtype", "float32"}};
}

void Gpt2::load_hf_state(const std::vector<std::pair<std::string, at::Tensor>>& state, const std::string& source) {
  const auto& c = config();
  const int64_t d = c.d_model, f = c.d_mlp;
  HfStateReader r(state, source, "gpt2");
  // Accept the original files' names without the "transformer." prefix.
  auto take = [&](const std::string& name, std::vector<int64_t> shape) {
    return r.take("transformer." + name, shape, {name});
  };
  r.ignore_if([](const std::string& n) { return ends_with(n, ".attn.bias") || ends_with(n, ".attn.masked_bias"); });
  if (c.tie_embeddings) r.ignore_if([](const std::string& n) { return n == "lm_head.weight"; });
  torch::NoGradGuard no_grad;
  auto set = [](at::Tensor& param, const at::Tensor& value, bool transpose = false) {
    if (value.defined()) param.copy_((transpose ? value.t() : value).to(at::kFloat));
  };
  set(W_E, take("wte.weight", {c.vocab_size, d}));
  set(W_pos, take("wpe.weight", {c.n_ctx, d}));
  for (int64_t l = 0; l < c.n_layers; ++l) {
    auto* b = &block(l);
    const std::string p = "h." + std::to_string(l) + ".";
    set(b->ln1->w, take(p + "ln_1.weight", {d}));
    set(b->ln1->b, take(p + "ln_1.bias", {d}));
    set(b->attn->W_qkv, take(p + "attn.c_attn.weight", {d, 3 * d}), true);
    set(b->attn->b_qkv, take(p + "attn.c_attn.bias", {3 * d}));
    set(b->attn->W_O, take(p + "attn.c_proj.weight", {d, d}), true);
    set(b->attn->b_O, take(p + "attn.c_proj.bias", {d}));
    set(b->ln2->w, take(p + "ln_2.weight", {d}));
    set(b->ln2->b, take(p + "ln_2.bias", {d}));
    set(b->mlp->W_in, take(p + "mlp.c_fc.weight", {d, f}), true);
    set(b->mlp->b_in, take(p + "mlp.c_fc.bias", {f}));
    set(b->mlp->W_out, take(p + "mlp.c_proj.weight", {f, d}), true);
    set(b->mlp->b_out, take(p + "mlp.c_proj.bias", {d}));
  }
  set(ln_final->w, take("ln_f.weight", {d}));
  set(ln_final->b, take("ln_f.bias", {d}));
  if (!c.tie_embeddings) set(W_U, r.take("lm_head.weight", {c.vocab_size, d}));
  r.finish();
}

}  // namespace golgi::models
