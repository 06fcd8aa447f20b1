// Hook points: named, recordable tensor sites (DESIGN.md "Hook points").
//
// A model declares each recordable tensor once, where it is made:
//
//   register_module("hook_post", hook_post_);   // [batch, channels, height, width]
//   ...
//   x = hook_post_(torch::relu(x));
//
// A HookPoint is the identity unless hooks are attached; with none attached its forward is one
// branch. Hooks run in the order they were added; each may read the activation, or return a
// replacement (returning an undefined tensor leaves it unchanged). Hooks are removed by the
// HookGuard that added them (hooks never outlive their guard): see hooks/scoped_hooks.h.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

namespace golgi::hooks {

class HookPointImpl;

// Receives the activation; returns a replacement or an undefined tensor for "unchanged".
using HookFn = std::function<at::Tensor(const at::Tensor& activation, const HookPointImpl& point)>;
using HookId = uint64_t;

class HookPointImpl : public torch::nn::Module {
 public:
  // `shape` documents the tensor ("[batch, d_mlp]"). `neuron_dim` is the dimension that indexes
  // neurons (features or channels): 1 for [batch, features] and [batch, channels, h, w], -1 for
  // [batch, pos, d]. Positions (NeuronRef's "@...") index the remaining non-batch dimensions.
  explicit HookPointImpl(std::string shape = "", int64_t neuron_dim = 1);

  at::Tensor forward(const at::Tensor& activation) {
    if (hooks_.empty()) return activation;
    return run_hooks(activation);
  }

  // Full dotted name ("conv2.hook_post"); set by HookedModule::setup_hooks().
  const std::string& name() const { return name_; }
  void set_name(std::string name) { name_ = std::move(name); }
  const std::string& shape() const { return shape_; }
  int64_t neuron_dim() const { return neuron_dim_; }
  // The neuron dimension resolved for a tensor of rank `rank`.
  int64_t neuron_dim_for_rank(int64_t rank) const;

  HookId add_hook(HookFn fn);
  // Removing an id that is not attached is a no-op (the guard may outlive a model reset).
  void remove_hook(HookId id);
  size_t hook_count() const { return hooks_.size(); }

 private:
  at::Tensor run_hooks(const at::Tensor& activation);

  std::string name_;
  std::string shape_;
  int64_t neuron_dim_;
  std::vector<std::pair<HookId, HookFn>> hooks_;
  HookId next_id_ = 1;
};
TORCH_MODULE(HookPoint);

}  // namespace golgi::hooks
