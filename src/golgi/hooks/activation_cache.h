// ActivationCache: in-memory recording of hook points chosen by name or glob.
//
//   ActivationCache cache(model, {"conv*.hook_post", "fc1.hook_pre"});
//   cache.run([&] { return model.forward(x); });
//   at::Tensor a = cache["conv2.hook_post"];   // [batch, 32, 14, 14]
//
// With stop_after_last(true), the forward pass is abandoned (by an exception caught inside run())
// as soon as every selected hook has fired, so recording early layers skips the rest of the
// network; run() then returns an undefined tensor.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "golgi/core/options.h"
#include "golgi/hooks/scoped_hooks.h"

namespace golgi::hooks {

struct CacheOptions {
  // Detach cached tensors from autograd (keep the graph only when you need gradients through them).
  GOLGI_ARG(bool, detach) = true;
  GOLGI_ARG(bool, stop_after_last) = false;
};

class ActivationCache {
 public:
  // Hooks stay attached until the cache dies or detach() is called. Throws golgi::Error when a
  // pattern matches no hook point.
  ActivationCache(const HookedModule& model, const std::vector<std::string>& patterns, CacheOptions options = {});
  // The hooks point at this object: it cannot move.
  ActivationCache(const ActivationCache&) = delete;
  ActivationCache& operator=(const ActivationCache&) = delete;

  // Clears the cache, runs `forward`, and returns its result (undefined when stopped early).
  at::Tensor run(const std::function<at::Tensor()>& forward);

  bool contains(const std::string& name) const;
  // Throws golgi::Error naming the cached hooks when `name` was not recorded.
  const at::Tensor& operator[](const std::string& name) const;
  // Selected hook names in forward order.
  const std::vector<std::string>& names() const { return names_; }
  // The recorded hooks by name (built on demand; the cache itself keeps one slot per hook).
  std::map<std::string, at::Tensor> tensors() const;
  void clear();
  void detach_hooks() { guards_.clear(); }

 private:
  CacheOptions options_;
  std::vector<std::string> names_;
  // slots_[i] holds names_[i]'s activation (undefined until recorded): a hook writes its own slot,
  // so recording costs no map node, key copy or lookup per hook per forward.
  std::vector<at::Tensor> slots_;
  size_t recorded_ = 0;
  HookGuards guards_;
};

}  // namespace golgi::hooks
