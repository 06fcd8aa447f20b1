#include "golgi/hooks/scoped_hooks.h"

#include <torch/torch.h>

#include "golgi/core/error.h"

namespace golgi::hooks {

namespace {

at::Tensor index_tensor(const std::vector<int64_t>& neurons, const at::Tensor& activation, int64_t dim,
                        const std::string& hook) {
  int64_t size = activation.size(dim);
  for (int64_t n : neurons)
    GOLGI_CHECK(n >= 0 && n < size, "neuron index ", n, " out of range for hook '", hook, "', which has ", size,
                " neurons (0..", size - 1, ")");
  return torch::tensor(neurons, torch::kLong);
}

// Applies `edit` to the slice of the neuron dimension selected by `neurons`, on a copy (so the
// model's own tensors are never modified in place and autograd stays correct).
HookGuard edit_neurons(const HookedModule& model, const std::string& hook, std::vector<int64_t> neurons,
                       std::function<at::Tensor(const at::Tensor&)> edit) {
  GOLGI_CHECK(!neurons.empty(), "no neurons given for an intervention on '", hook, "'");
  return add_hook(model, hook, [neurons = std::move(neurons), edit = std::move(edit), hook](
                                   const at::Tensor& activation, const HookPointImpl& point) {
    int64_t dim = point.neuron_dim_for_rank(activation.dim());
    at::Tensor index = index_tensor(neurons, activation, dim, hook);
    at::Tensor selected = activation.index_select(dim, index);
    return activation.index_copy(dim, index, edit(selected));
  });
}

}  // namespace

HookGuard add_hook(const HookedModule& model, const std::string& hook, HookFn fn) {
  HookPointImpl& point = model.hook_point(hook);
  HookId id = point.add_hook(std::move(fn));
  return HookGuard(&point, id);
}

HookGuard read_hook(const HookedModule& model, const std::string& hook, std::function<void(const at::Tensor&)> reader) {
  return add_hook(model, hook, [reader = std::move(reader)](const at::Tensor& a, const HookPointImpl&) {
    reader(a);
    return at::Tensor();
  });
}

HookGuard replace_hook(const HookedModule& model, const std::string& hook,
                       std::function<at::Tensor(const at::Tensor&)> fn) {
  return add_hook(model, hook, [fn = std::move(fn)](const at::Tensor& a, const HookPointImpl&) { return fn(a); });
}

HookGuard add_to_hook(const HookedModule& model, const std::string& hook, at::Tensor delta) {
  return add_hook(model, hook, [delta = std::move(delta), hook](const at::Tensor& a, const HookPointImpl&) {
    GOLGI_CHECK(at::infer_size(a.sizes(), delta.sizes()) == a.sizes(), "cannot add a tensor of shape ",
                delta.sizes(), " to hook '", hook, "' of shape ", a.sizes());
    return a + delta;
  });
}

HookGuard zero_neurons(const HookedModule& model, const std::string& hook, std::vector<int64_t> neurons) {
  return edit_neurons(model, hook, std::move(neurons), [](const at::Tensor& s) { return torch::zeros_like(s); });
}

HookGuard set_neurons(const HookedModule& model, const std::string& hook, std::vector<int64_t> neurons, double value) {
  return edit_neurons(model, hook, std::move(neurons),
                      [value](const at::Tensor& s) { return torch::full_like(s, value); });
}

HookGuard scale_neurons(const HookedModule& model, const std::string& hook, std::vector<int64_t> neurons,
                        double factor) {
  return edit_neurons(model, hook, std::move(neurons), [factor](const at::Tensor& s) { return s * factor; });
}

HookGuard clamp_neurons(const HookedModule& model, const std::string& hook, std::vector<int64_t> neurons,
                        double low, double high) {
  GOLGI_CHECK(low <= high, "clamp on '", hook, "': low ", low, " must be <= high ", high);
  return edit_neurons(model, hook, std::move(neurons),
                      [low, high](const at::Tensor& s) { return s.clamp(low, high); });
}

HookGuard intervene(const HookedModule& model, const NeuronRef& ref, Intervention kind, double value) {
  if (ref.position.empty()) {
    switch (kind) {
      case Intervention::kZero: return zero_neurons(model, ref.hook, {ref.index});
      case Intervention::kSet: return set_neurons(model, ref.hook, {ref.index}, value);
      case Intervention::kScale: return scale_neurons(model, ref.hook, {ref.index}, value);
    }
  }
  return add_hook(model, ref.hook, [ref, kind, value, &model](const at::Tensor& a, const HookPointImpl& point) {
    std::vector<int64_t> shape(a.sizes().begin(), a.sizes().end());
    validate(ref, model, shape);
    int64_t dim = point.neuron_dim_for_rank(a.dim());
    // Build the index: all batch rows, the neuron, and the given positions.
    std::vector<at::indexing::TensorIndex> index{at::indexing::Slice()};
    size_t p = 0;
    for (int64_t d = 1; d < a.dim(); ++d) index.emplace_back(d == dim ? ref.index : ref.position[p++]);
    at::Tensor out = a.clone();
    at::Tensor current = out.index(index);
    at::Tensor edited = kind == Intervention::kZero ? torch::zeros_like(current)
                        : kind == Intervention::kSet ? torch::full_like(current, value)
                                                     : current * value;
    out.index_put_(index, edited);
    return out;
  });
}

}  // namespace golgi::hooks
