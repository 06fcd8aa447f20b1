#include "golgi/hooks/activation_cache.h"

#include "golgi/core/error.h"
#include "golgi/core/strings.h"

namespace golgi::hooks {

namespace {
// Thrown by the last needed hook to abandon the forward pass; never escapes run().
struct StopForward {};
}  // namespace

ActivationCache::ActivationCache(const HookedModule& model, const std::vector<std::string>& patterns,
                                 CacheOptions options)
    : options_(options) {
  GOLGI_CHECK(!patterns.empty(), "no hook names or patterns given to record");
  for (HookPointImpl* point : model.match_hooks(patterns)) {
    names_.push_back(point->name());
    guards_.push_back(add_hook(model, point->name(), [this](const at::Tensor& a, const HookPointImpl& p) {
      store_[p.name()] = options_.detach() ? a.detach() : a;
      if (options_.stop_after_last() && store_.size() == names_.size()) throw StopForward{};
      return at::Tensor();
    }));
  }
}

at::Tensor ActivationCache::run(const std::function<at::Tensor()>& forward) {
  store_.clear();
  try {
    return forward();
  } catch (const StopForward&) {
    return at::Tensor();
  }
}

const at::Tensor& ActivationCache::operator[](const std::string& name) const {
  auto it = store_.find(name);
  if (it != store_.end()) return it->second;
  GOLGI_FAIL("activation '", name, "' is not in the cache (cached: ", join(names_, ", "),
             "); was it selected and did the forward pass run?");
}

}  // namespace golgi::hooks
