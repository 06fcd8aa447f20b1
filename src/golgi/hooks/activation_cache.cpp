#include "golgi/hooks/activation_cache.h"

#include <torch/csrc/autograd/variable.h>

#include "golgi/core/error.h"
#include "golgi/core/strings.h"

namespace golgi::hooks {

namespace {
// Thrown by the last needed hook to abandon the forward pass; never escapes run().
struct StopForward {};

// Exactly what a.detach() returns (a TensorImpl shallow copy that shares storage and the version
// counter, with no autograd metadata and metadata changes disallowed), built directly: detach()
// reaches the same call through three dispatcher hops and a RecordFunction, which cost ~3x more.
at::Tensor detached_alias(const at::Tensor& a) {
  return torch::autograd::make_variable_non_differentiable_view(a, a, /*allow_tensor_metadata_change=*/false);
}
}  // namespace

ActivationCache::ActivationCache(const HookedModule& model, const std::vector<std::string>& patterns,
                                 CacheOptions options)
    : options_(options) {
  GOLGI_CHECK(!patterns.empty(), "no hook names or patterns given to record");
  std::vector<HookPointImpl*> points = model.match_hooks(patterns);
  slots_.resize(points.size());  // never resized again: the hooks index into it
  for (size_t i = 0; i < points.size(); ++i) {
    names_.push_back(points[i]->name());
    guards_.push_back(add_hook(model, names_[i], [this, i](const at::Tensor& a, const HookPointImpl&) {
      if (!slots_[i].defined()) ++recorded_;
      slots_[i] = options_.detach() ? detached_alias(a) : a;
      if (options_.stop_after_last() && recorded_ == slots_.size()) throw StopForward{};
      return at::Tensor();
    }));
  }
}

void ActivationCache::clear() {
  for (auto& slot : slots_) slot.reset();
  recorded_ = 0;
}

at::Tensor ActivationCache::run(const std::function<at::Tensor()>& forward) {
  clear();
  try {
    return forward();
  } catch (const StopForward&) {
    return at::Tensor();
  }
}

bool ActivationCache::contains(const std::string& name) const {
  for (size_t i = 0; i < names_.size(); ++i)
    if (names_[i] == name) return slots_[i].defined();
  return false;
}

std::map<std::string, at::Tensor> ActivationCache::tensors() const {
  std::map<std::string, at::Tensor> out;
  for (size_t i = 0; i < names_.size(); ++i)
    if (slots_[i].defined()) out.emplace(names_[i], slots_[i]);
  return out;
}

const at::Tensor& ActivationCache::operator[](const std::string& name) const {
  for (size_t i = 0; i < names_.size(); ++i)
    if (names_[i] == name && slots_[i].defined()) return slots_[i];
  GOLGI_FAIL("activation '", name, "' is not in the cache (cached: ", join(names_, ", "),
             "); was it selected and did the forward pass run?");
}

}  // namespace golgi::hooks
