#include "golgi/atlas/hook_stream.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "golgi/core/error.h"

namespace golgi::atlas {

uint64_t mix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}


HookStream::HookStream(int64_t n, int64_t label_count, int64_t r, int64_t exemplars)
    : neurons(n), labels(label_count), reservoir_size(r), top(n, exemplars) {
  auto f64 = torch::kDouble, i64 = torch::kLong, f32 = torch::kFloat;
  sum = torch::zeros({n}, f64);
  sumsq = torch::zeros({n}, f64);
  min = torch::full({n}, std::numeric_limits<float>::infinity(), f32);
  max = torch::full({n}, -std::numeric_limits<float>::infinity(), f32);
  active = torch::zeros({n}, i64);
  label_sum = torch::zeros({label_count, n}, f64);
  label_active = torch::zeros({label_count, n}, i64);
  label_max = torch::full({label_count, n}, -std::numeric_limits<float>::infinity(), f32);
  label_positions = torch::zeros({label_count}, i64);
  reservoir = torch::zeros({r, n}, f32);
}

void HookStream::update(const at::Tensor& acts, const at::Tensor& valid, const at::Tensor& batch_labels, const at::Tensor& examples, double active_above, uint64_t seed) {
  const int64_t B = acts.size(0), P = acts.size(1), N = acts.size(2);
  // Batch reductions run in float32 over one example's positions (at most a few thousand terms)
  // and are accumulated across batches in float64; whole activation tensors are never converted.
  const bool all_valid = valid.all().item<bool>();
  at::Tensor mask = valid.unsqueeze(2);  // [B, P, 1]
  at::Tensor masked = all_valid ? acts : acts.mul(mask);
  at::Tensor per_example_sum = masked.sum(1).to(torch::kDouble);  // [B, N]
  // NaN or inf anywhere in the batch shows up in these sums: one cheap check instead of a pass.
  GOLGI_CHECK(torch::isfinite(per_example_sum).all().item<bool>(),
              "atlas: the model produced NaN or infinite activations; check the checkpoint (golgi inspect) and "
              "its inputs");
  sum += per_example_sum.sum(0);
  sumsq += masked.mul(masked).sum(1).to(torch::kDouble).sum(0);
  const float inf = std::numeric_limits<float>::infinity();
  at::Tensor high = all_valid ? acts : acts.masked_fill(mask.logical_not(), -inf);
  auto [ex_max, ex_pos] = high.max(1);  // [B, N]
  at::Tensor ex_min = (all_valid ? acts : acts.masked_fill(mask.logical_not(), inf)).amin(1);
  max = torch::maximum(max, ex_max.amax(0));
  min = torch::minimum(min, ex_min.amin(0));
  at::Tensor above = acts.gt(active_above);
  at::Tensor ex_active = (all_valid ? above : above.logical_and(mask)).sum(1);  // [B, N] int64
  active += ex_active.sum(0);
  label_sum.index_add_(0, batch_labels, per_example_sum);
  label_active.index_add_(0, batch_labels, ex_active);
  at::Tensor ex_positions = valid.sum(1);  // [B]
  label_positions.index_add_(0, batch_labels, ex_positions);
  const int64_t* lab = batch_labels.data_ptr<int64_t>();
  for (int64_t b = 0; b < B; ++b) label_max[lab[b]].copy_(torch::maximum(label_max[lab[b]], ex_max[b]));

  at::Tensor values = ex_max.contiguous();
  at::Tensor where = ex_pos.to(torch::kLong).contiguous();
  // Examples without a valid position (all padding) must not become exemplars.
  at::Tensor any_valid = valid.any(1);
  if (!any_valid.all().item<bool>()) values.masked_fill_(any_valid.logical_not().unsqueeze(1), std::nanf(""));
  top.offer(values.data_ptr<float>(), where.data_ptr<int64_t>(), examples.data_ptr<int64_t>(), B);

  // Reservoir sampling (Algorithm R) over valid positions in stream order; the slot comes from a
  // hash of (seed, position index), so a resumed build samples exactly like an uninterrupted one.
  const float* src = acts.data_ptr<float>();
  const bool* ok = valid.data_ptr<bool>();
  float* dst = reservoir.data_ptr<float>();
  for (int64_t i = 0; i < B * P; ++i) {
    if (!ok[i]) continue;
    const int64_t g = positions++;
    int64_t slot = g;
    if (g >= reservoir_size) {
      slot = static_cast<int64_t>(mix64(static_cast<uint64_t>(g) ^ (seed * 0x2545F4914F6CDD1Dull)) %
                                  static_cast<uint64_t>(g + 1));
      if (slot >= reservoir_size) continue;
    }
    std::copy(src + i * N, src + (i + 1) * N, dst + slot * N);
  }
}

std::vector<std::pair<std::string, at::Tensor>> HookStream::state(const std::string& prefix) const {
  auto s = top.state();
  auto vec_f = [](const std::vector<float>& v) { return torch::tensor(v, torch::kFloat); };
  auto vec_i = [](const std::vector<int64_t>& v) { return torch::tensor(v, torch::kLong); };
  return {{prefix + "sum", sum},
          {prefix + "sumsq", sumsq},
          {prefix + "min", min},
          {prefix + "max", max},
          {prefix + "active", active},
          {prefix + "label_sum", label_sum},
          {prefix + "label_active", label_active},
          {prefix + "label_max", label_max},
          {prefix + "label_positions", label_positions},
          {prefix + "reservoir", reservoir},
          {prefix + "positions", torch::tensor({positions}, torch::kLong)},
          {prefix + "top_activation", vec_f(s.activation)},
          {prefix + "top_example", vec_i(s.example)},
          {prefix + "top_position", vec_i(s.position)},
          {prefix + "top_filled", vec_i(s.filled)}};
}

void HookStream::restore(const std::map<std::string, at::Tensor>& saved, const std::string& prefix) {
  auto get = [&](const std::string& key, const at::Tensor& like) {
    auto it = saved.find(prefix + key);
    GOLGI_CHECK(it != saved.end() && it->second.sizes() == like.sizes(), "atlas checkpoint lacks '", prefix + key,
                "' or has another shape: it was written by a different build; pass --restart");
    return it->second.to(like.scalar_type()).clone();
  };
  sum = get("sum", sum);
  sumsq = get("sumsq", sumsq);
  min = get("min", min);
  max = get("max", max);
  active = get("active", active);
  label_sum = get("label_sum", label_sum);
  label_active = get("label_active", label_active);
  label_max = get("label_max", label_max);
  label_positions = get("label_positions", label_positions);
  reservoir = get("reservoir", reservoir);
  positions = get("positions", torch::zeros({1}, torch::kLong)).item<int64_t>();
  auto to_f = [](const at::Tensor& t) {
    at::Tensor c = t.contiguous();
    return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
  };
  auto to_i = [](const at::Tensor& t) {
    at::Tensor c = t.contiguous();
    return std::vector<int64_t>(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
  };
  const int64_t slots = neurons * top.k();
  TopExemplars::State s;
  s.activation = to_f(get("top_activation", torch::zeros({slots}, torch::kFloat)));
  s.example = to_i(get("top_example", torch::zeros({slots}, torch::kLong)));
  s.position = to_i(get("top_position", torch::zeros({slots}, torch::kLong)));
  s.filled = to_i(get("top_filled", torch::zeros({neurons}, torch::kLong)));
  top.restore(s);
}

}  // namespace golgi::atlas
