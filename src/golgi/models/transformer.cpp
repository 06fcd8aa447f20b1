#include "golgi/models/transformer.h"

#include <cmath>
#include <limits>

#include <torch/torch.h>

#include "golgi/core/error.h"
#include "golgi/core/strings.h"

namespace golgi::models {

namespace {
constexpr const char* kResidShape = "[batch, pos, d_model]";

// at::linear, with a matrix-vector product when x holds a single row: one-token decoding steps.
// OpenBLAS runs a one-row sgemm against a transposed weight about twice as slowly as the
// equivalent sgemv, and decoding is bound by reading the weights once per token.
at::Tensor project(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias = {}) {
  if (x.numel() != x.size(-1)) return at::linear(x, weight, bias);
  at::Tensor y = at::mv(weight, x.reshape({-1}));
  if (bias.defined()) y = y + bias;
  std::vector<int64_t> shape = x.sizes().vec();
  shape.back() = weight.size(0);
  return y.view(shape);
}

at::Tensor rotate_half(const at::Tensor& x) {
  const int64_t half = x.size(-1) / 2;
  return at::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
}

// x [batch, pos, heads, d_head]; cos/sin [pos, d_head].
at::Tensor apply_rotary(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  auto c = cos.view({1, cos.size(0), 1, cos.size(1)});
  auto s = sin.view({1, sin.size(0), 1, sin.size(1)});
  return x * c + rotate_half(x) * s;
}

// [batch, pos, kv_heads, d_head] -> [batch, pos, kv_heads * group, d_head], each kv head serving
// `group` consecutive query heads (query head h reads kv head h / group).
at::Tensor repeat_kv(const at::Tensor& x, int64_t group) {
  if (group == 1) return x;
  auto s = x.sizes();
  return x.unsqueeze(3).expand({s[0], s[1], s[2], group, s[3]}).reshape({s[0], s[1], s[2] * group, s[3]});
}
}  // namespace

int64_t KVCache::length() const { return keys.empty() || !keys[0].defined() ? 0 : keys[0].size(1); }

void check_transformer_config(const TransformerConfig& c, const std::string& architecture) {
  GOLGI_CHECK(c.vocab_size > 0 && c.n_ctx > 0 && c.d_model > 0 && c.n_layers > 0 && c.n_heads > 0 &&
                  c.n_kv_heads > 0 && c.d_mlp > 0,
              architecture, ": vocab_size, n_ctx, d_model, n_layers, n_heads, n_kv_heads and d_mlp must be > 0");
  GOLGI_CHECK(c.d_model % c.n_heads == 0, architecture, ": d_model (", c.d_model, ") must be divisible by n_heads (",
              c.n_heads, ")");
  GOLGI_CHECK(c.n_heads % c.n_kv_heads == 0, architecture, ": n_heads (", c.n_heads,
              ") must be a multiple of n_kv_heads (", c.n_kv_heads, ")");
  GOLGI_CHECK(!c.rotary || c.d_head % 2 == 0, architecture, ": rotary embeddings need an even d_head, got ", c.d_head);
  GOLGI_CHECK(c.norm_eps > 0, architecture, ": norm_eps must be > 0");
}

// ---------------------------------------------------------------------------------------------
TransformerNormImpl::TransformerNormImpl(int64_t d_model, bool rms, double eps) : rms_(rms), eps_(eps) {
  w = register_parameter("w", torch::ones({d_model}));
  if (!rms) b = register_parameter("b", torch::zeros({d_model}));
  hook_normalized_ = register_module("hook_normalized", hooks::HookPoint(kResidShape, -1));
}

at::Tensor TransformerNormImpl::forward(const at::Tensor& x) {
  if (rms_) return hook_normalized_(x * at::rsqrt(x.pow(2).mean(-1, /*keepdim=*/true) + eps_) * w);
  return hook_normalized_(at::layer_norm(x, {x.size(-1)}, w, b, eps_));
}

// ---------------------------------------------------------------------------------------------
AttentionImpl::AttentionImpl(const TransformerConfig& c) : config_(c) {
  const int64_t rows = (c.n_heads + 2 * c.n_kv_heads) * c.d_head;
  W_qkv = register_parameter("W_qkv", torch::empty({rows, c.d_model}));
  if (c.biases) b_qkv = register_parameter("b_qkv", torch::zeros({rows}));
  W_O = register_parameter("W_O", torch::empty({c.d_model, c.n_heads * c.d_head}));
  if (c.biases) b_O = register_parameter("b_O", torch::zeros({c.d_model}));
  hook_q_ = register_module("hook_q", hooks::HookPoint("[batch, pos, n_heads, d_head]", -1));
  hook_k_ = register_module("hook_k", hooks::HookPoint("[batch, pos, n_kv_heads, d_head]", -1));
  hook_v_ = register_module("hook_v", hooks::HookPoint("[batch, pos, n_kv_heads, d_head]", -1));
  if (c.rotary) {
    hook_rot_q_ = register_module("hook_rot_q", hooks::HookPoint("[batch, pos, n_heads, d_head]", -1));
    hook_rot_k_ = register_module("hook_rot_k", hooks::HookPoint("[batch, pos, n_kv_heads, d_head]", -1));
  }
  // Heads are the "neurons" of scores and patterns: dimension 1.
  hook_attn_scores_ = register_module("hook_attn_scores", hooks::HookPoint("[batch, n_heads, pos, key_pos]", 1));
  hook_pattern_ = register_module("hook_pattern", hooks::HookPoint("[batch, n_heads, pos, key_pos]", 1));
  hook_z_ = register_module("hook_z", hooks::HookPoint("[batch, pos, n_heads, d_head]", -1));
  hook_result_ = register_module("hook_result", hooks::HookPoint("[batch, pos, n_heads, d_model]", -1));
}

at::Tensor AttentionImpl::forward(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin,
                                  const at::Tensor& past_keys, const at::Tensor& past_values, at::Tensor* keys_out,
                                  at::Tensor* values_out) {
  const auto& c = config_;
  const int64_t batch = x.size(0), pos = x.size(1), hd = c.d_head;
  at::Tensor qkv = project(x, W_qkv, b_qkv);
  auto parts = qkv.split_with_sizes({c.n_heads * hd, c.n_kv_heads * hd, c.n_kv_heads * hd}, -1);
  at::Tensor q = hook_q_(parts[0].view({batch, pos, c.n_heads, hd}));
  at::Tensor k = hook_k_(parts[1].view({batch, pos, c.n_kv_heads, hd}));
  at::Tensor v = hook_v_(parts[2].view({batch, pos, c.n_kv_heads, hd}));
  if (c.rotary) {
    q = hook_rot_q_(apply_rotary(q, cos, sin));
    k = hook_rot_k_(apply_rotary(k, cos, sin));
  }
  const int64_t past = past_keys.defined() ? past_keys.size(1) : 0;
  if (past > 0) {
    k = at::cat({past_keys, k}, 1);
    v = at::cat({past_values, v}, 1);
  }
  if (keys_out) *keys_out = k;
  if (values_out) *values_out = v;
  const int64_t group = c.n_heads / c.n_kv_heads;
  at::Tensor keys = repeat_kv(k, group).permute({0, 2, 3, 1});    // [batch, heads, d_head, key_pos]
  at::Tensor values = repeat_kv(v, group).transpose(1, 2);         // [batch, heads, key_pos, d_head]
  at::Tensor scores = at::matmul(q.transpose(1, 2), keys).mul_(1.0 / std::sqrt(static_cast<double>(hd)));
  if (pos > 1) {
    // Query i (absolute position past + i) sees keys 0..past + i.
    at::Tensor future = at::ones({pos, past + pos}, at::TensorOptions().dtype(at::kBool)).triu(past + 1);
    scores.masked_fill_(future, -std::numeric_limits<float>::infinity());
  }
  scores = hook_attn_scores_(scores);
  at::Tensor pattern = hook_pattern_(at::softmax(scores, -1));
  at::Tensor z = hook_z_(at::matmul(pattern, values).transpose(1, 2));  // [batch, pos, heads, d_head]
  if (hook_result_->hook_count() > 0) {
    // Per-head contributions: result[b, p, h] = W_O[:, h] z[b, p, h].
    at::Tensor w = W_O.view({c.d_model, c.n_heads, hd});
    at::Tensor result = hook_result_(at::einsum("bphd,mhd->bphm", {z, w}));
    at::Tensor out = result.sum(2);
    return b_O.defined() ? out + b_O : out;
  }
  return project(z.reshape({batch, pos, c.n_heads * hd}), W_O, b_O);
}

// ---------------------------------------------------------------------------------------------
TransformerMlpImpl::TransformerMlpImpl(const TransformerConfig& c) : config_(c) {
  if (c.gated_mlp) {
    W_gate_up = register_parameter("W_gate_up", torch::empty({2 * c.d_mlp, c.d_model}));
    W_down = register_parameter("W_down", torch::empty({c.d_model, c.d_mlp}));
  } else {
    W_in = register_parameter("W_in", torch::empty({c.d_mlp, c.d_model}));
    if (c.biases) b_in = register_parameter("b_in", torch::zeros({c.d_mlp}));
    W_out = register_parameter("W_out", torch::empty({c.d_model, c.d_mlp}));
    if (c.biases) b_out = register_parameter("b_out", torch::zeros({c.d_model}));
  }
  hook_pre_ = register_module("hook_pre", hooks::HookPoint("[batch, pos, d_mlp]", -1));
  if (c.gated_mlp) hook_pre_linear_ = register_module("hook_pre_linear", hooks::HookPoint("[batch, pos, d_mlp]", -1));
  hook_post_ = register_module("hook_post", hooks::HookPoint("[batch, pos, d_mlp]", -1));
}

at::Tensor TransformerMlpImpl::forward(const at::Tensor& x) {
  if (config_.gated_mlp) {
    at::Tensor gate_up = project(x, W_gate_up);
    at::Tensor gate = hook_pre_(gate_up.narrow(-1, 0, config_.d_mlp));
    at::Tensor up = hook_pre_linear_(gate_up.narrow(-1, config_.d_mlp, config_.d_mlp));
    return project(hook_post_(at::silu(gate) * up), W_down);
  }
  at::Tensor pre = hook_pre_(project(x, W_in, b_in));
  return project(hook_post_(at::gelu(pre, "tanh")), W_out, b_out);
}

// ---------------------------------------------------------------------------------------------
TransformerBlockImpl::TransformerBlockImpl(const TransformerConfig& c) {
  // Registration order is forward order (hook names are listed in it).
  hook_resid_pre_ = register_module("hook_resid_pre", hooks::HookPoint(kResidShape, -1));
  ln1 = register_module("ln1", TransformerNorm(c.d_model, c.rms_norm, c.norm_eps));
  attn = register_module("attn", Attention(c));
  hook_attn_out_ = register_module("hook_attn_out", hooks::HookPoint(kResidShape, -1));
  hook_resid_mid_ = register_module("hook_resid_mid", hooks::HookPoint(kResidShape, -1));
  ln2 = register_module("ln2", TransformerNorm(c.d_model, c.rms_norm, c.norm_eps));
  mlp = register_module("mlp", TransformerMlp(c));
  hook_mlp_out_ = register_module("hook_mlp_out", hooks::HookPoint(kResidShape, -1));
  hook_resid_post_ = register_module("hook_resid_post", hooks::HookPoint(kResidShape, -1));
}

at::Tensor TransformerBlockImpl::forward(const at::Tensor& resid, const at::Tensor& cos, const at::Tensor& sin,
                                         const at::Tensor& past_keys, const at::Tensor& past_values,
                                         at::Tensor* keys_out, at::Tensor* values_out) {
  at::Tensor x = hook_resid_pre_(resid);
  at::Tensor attn_out = hook_attn_out_(attn(ln1(x), cos, sin, past_keys, past_values, keys_out, values_out));
  at::Tensor mid = hook_resid_mid_(x + attn_out);
  at::Tensor mlp_out = hook_mlp_out_(mlp(ln2(mid)));
  return hook_resid_post_(mid + mlp_out);
}

// ---------------------------------------------------------------------------------------------
TransformerLM::TransformerLM(std::string architecture, Json options, const TransformerConfig& config)
    : Model(std::move(architecture), std::move(options)), config_(config) {
  check_transformer_config(config_, this->architecture());
  const auto& c = config_;
  W_E = register_parameter("W_E", torch::empty({c.vocab_size, c.d_model}));
  hook_embed_ = register_module("hook_embed", hooks::HookPoint(kResidShape, -1));
  if (!c.rotary) {
    W_pos = register_parameter("W_pos", torch::empty({c.n_ctx, c.d_model}));
    hook_pos_embed_ = register_module("hook_pos_embed", hooks::HookPoint(kResidShape, -1));
  }
  blocks = register_module("blocks", torch::nn::ModuleList());
  for (int64_t l = 0; l < c.n_layers; ++l) blocks->push_back(TransformerBlock(c));
  ln_final = register_module("ln_final", TransformerNorm(c.d_model, c.rms_norm, c.norm_eps));
  if (!c.tie_embeddings) W_U = register_parameter("W_U", torch::empty({c.vocab_size, c.d_model}));
  reset_parameters();
  setup_hooks();
}

void TransformerLM::reset_parameters() {
  torch::NoGradGuard no_grad;
  const double std = 0.02, out_std = 0.02 / std::sqrt(2.0 * static_cast<double>(config_.n_layers));
  for (auto& p : named_parameters()) {
    const std::string& name = p.key();
    at::Tensor& t = p.value();
    if (ends_with(name, ".w")) t.fill_(1.0);
    else if (t.dim() == 1) t.zero_();
    else if (ends_with(name, "W_O") || ends_with(name, "W_out") || ends_with(name, "W_down")) t.normal_(0, out_std);
    else t.normal_(0, std);
  }
}

at::Tensor TransformerLM::example_input(int64_t batch) const {
  return torch::randint(config_.vocab_size, {batch, std::min<int64_t>(8, config_.n_ctx)}, torch::kLong);
}

at::Tensor TransformerLM::check_tokens(const at::Tensor& tokens, int64_t past) const {
  GOLGI_CHECK(tokens.defined() && tokens.dim() == 2, "model '", architecture(),
              "' expects token ids [batch, pos], got a tensor of shape ", tokens.defined() ? tokens.sizes() : at::IntArrayRef{});
  GOLGI_CHECK(!tokens.is_floating_point() && !tokens.is_complex() && tokens.scalar_type() != at::kBool, "model '",
              architecture(), "' expects integer token ids, got ", tokens.scalar_type());
  GOLGI_CHECK(tokens.size(0) > 0 && tokens.size(1) > 0, "model '", architecture(), "' got an empty batch ",
              tokens.sizes());
  GOLGI_CHECK(past + tokens.size(1) <= config_.n_ctx, "model '", architecture(), "' has a context of ", config_.n_ctx,
              " tokens but got ", past + tokens.size(1), past > 0 ? " (cached and new)" : "",
              "; shorten the input (or generate fewer tokens)");
  at::Tensor ids = tokens.to(at::kLong);
  auto [lo, hi] = at::aminmax(ids);
  const int64_t min_id = lo.item<int64_t>(), max_id = hi.item<int64_t>();
  GOLGI_CHECK(min_id >= 0 && max_id < config_.vocab_size, "model '", architecture(), "' has a vocabulary of ",
              config_.vocab_size, " tokens but got token id ", min_id < 0 ? min_id : max_id,
              "; was the input made with another tokenizer?");
  return ids;
}

at::Tensor TransformerLM::forward(const at::Tensor& tokens) { return run(tokens); }

at::Tensor TransformerLM::run(const at::Tensor& tokens_in, KVCache* cache, int64_t stop_at_layer) {
  const auto& c = config_;
  GOLGI_CHECK(stop_at_layer >= -1 && stop_at_layer < c.n_layers, "stop_at_layer must be in [-1, ", c.n_layers,
              "), got ", stop_at_layer);
  const int64_t past = cache ? cache->length() : 0;
  at::Tensor tokens = check_tokens(tokens_in, past);
  const int64_t batch = tokens.size(0), pos = tokens.size(1);
  if (cache && past > 0)
    GOLGI_CHECK(cache->keys[0].size(0) == batch, "the KV cache holds a batch of ", cache->keys[0].size(0),
                " sequences but the new tokens have batch ", batch);
  at::Tensor x = hook_embed_(at::embedding(W_E, tokens));
  at::Tensor cos, sin;
  at::Tensor positions = torch::arange(past, past + pos, torch::kLong);
  if (c.rotary) {
    at::Tensor inv_freq =
        1.0 / torch::pow(c.rope_theta, torch::arange(0, c.d_head, 2, torch::kLong).to(torch::kFloat) / c.d_head);
    at::Tensor freqs = torch::outer(positions.to(torch::kFloat), inv_freq);
    at::Tensor angles = at::cat({freqs, freqs}, -1);  // [pos, d_head]
    cos = angles.cos();
    sin = angles.sin();
  } else {
    x = x + hook_pos_embed_(W_pos.index_select(0, positions).unsqueeze(0).expand({batch, pos, c.d_model}));
  }
  if (cache && cache->keys.empty()) {
    cache->keys.resize(c.n_layers);
    cache->values.resize(c.n_layers);
  }
  const int64_t last = stop_at_layer < 0 ? c.n_layers : stop_at_layer;
  for (int64_t l = 0; l < last; ++l) {
    auto* b = &block(l);
    if (cache) {
      x = b->forward(x, cos, sin, cache->keys[l], cache->values[l], &cache->keys[l], &cache->values[l]);
    } else {
      x = b->forward(x, cos, sin, at::Tensor(), at::Tensor(), nullptr, nullptr);
    }
  }
  if (stop_at_layer >= 0) return x;
  return project(ln_final(x), c.tie_embeddings ? W_E : W_U);
}

// ---------------------------------------------------------------------------------------------
HfStateReader::HfStateReader(const std::vector<std::pair<std::string, at::Tensor>>& state, std::string source,
                             std::string architecture)
    : tensors_(state.begin(), state.end()), source_(std::move(source)), architecture_(std::move(architecture)) {}

at::Tensor HfStateReader::take(const std::string& name, const std::vector<int64_t>& shape,
                               const std::vector<std::string>& aliases) {
  std::string found;
  if (tensors_.count(name)) found = name;
  for (const auto& a : aliases)
    if (found.empty() && tensors_.count(a)) found = a;
  if (found.empty()) {
    missing_.push_back(name);
    return {};
  }
  taken_.insert(found);
  const at::Tensor& t = tensors_.at(found);
  if (t.sizes() != at::IntArrayRef(shape)) {
    std::ostringstream s;
    s << found << " (file " << t.sizes() << ", expected " << at::IntArrayRef(shape) << ")";
    wrong_shape_.push_back(s.str());
    return {};
  }
  return t;
}

void HfStateReader::ignore_if(const std::function<bool(const std::string&)>& predicate) {
  for (const auto& [name, t] : tensors_)
    if (predicate(name)) taken_.insert(name);
}

void HfStateReader::finish() const {
  std::vector<std::string> extra;
  for (const auto& [name, t] : tensors_)
    if (!taken_.count(name)) extra.push_back(name);
  if (missing_.empty() && wrong_shape_.empty() && extra.empty()) return;
  auto list = [](const std::vector<std::string>& v) {
    const size_t shown = 12;
    std::vector<std::string> head(v.begin(), v.begin() + std::min(v.size(), shown));
    return join(head, ", ") + (v.size() > shown ? ", ... (" + std::to_string(v.size()) + " in all)" : "");
  };
  GOLGI_FAIL("'", source_, "' does not match a ", architecture_, " model with its config.json:",
             missing_.empty() ? "" : " missing " + list(missing_) + ";",
             wrong_shape_.empty() ? "" : " wrong shape " + list(wrong_shape_) + ";",
             extra.empty() ? "" : " unexpected " + list(extra) + ";",
             " check that config.json belongs to these weights");
}

}  // namespace golgi::models
