// Scoped hooks and interventions (RAII). A HookGuard removes its hook when it dies, so hooks never
// outlive the code that needed them ("hooks are global state": keep them scoped).
//
//   {
//     auto guard = zero_neurons(model, "conv2.hook_post", {3, 7});
//     logits = model.forward(x);        // channels 3 and 7 ablated
//   }                                   // hook removed
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "golgi/hooks/hooked_module.h"
#include "golgi/hooks/neuron_ref.h"

namespace golgi::hooks {

class HookGuard {
 public:
  HookGuard() = default;
  HookGuard(HookPointImpl* point, HookId id) : point_(point), id_(id) {}
  ~HookGuard() { release(); }
  HookGuard(HookGuard&& other) noexcept : point_(other.point_), id_(other.id_) { other.point_ = nullptr; }
  HookGuard& operator=(HookGuard&& other) noexcept {
    if (this != &other) {
      release();
      point_ = other.point_;
      id_ = other.id_;
      other.point_ = nullptr;
    }
    return *this;
  }
  HookGuard(const HookGuard&) = delete;
  HookGuard& operator=(const HookGuard&) = delete;

  // Removes the hook now (idempotent).
  void release() {
    if (point_) point_->remove_hook(id_);
    point_ = nullptr;
  }
  bool active() const { return point_ != nullptr; }

 private:
  HookPointImpl* point_ = nullptr;
  HookId id_ = 0;
};

using HookGuards = std::vector<HookGuard>;

// Any hook.
HookGuard add_hook(const HookedModule& model, const std::string& hook, HookFn fn);
// Observes the activation without changing it.
HookGuard read_hook(const HookedModule& model, const std::string& hook,
                    std::function<void(const at::Tensor&)> reader);
// Replaces the whole activation with fn(activation) (same shape).
HookGuard replace_hook(const HookedModule& model, const std::string& hook,
                       std::function<at::Tensor(const at::Tensor&)> fn);
// Adds `delta` (broadcastable to the activation) to the activation.
HookGuard add_to_hook(const HookedModule& model, const std::string& hook, at::Tensor delta);

// Neuron-subset interventions; `neurons` index the hook point's neuron dimension, at every
// position. Each validates the indices against the activation it sees and throws golgi::Error.
HookGuard zero_neurons(const HookedModule& model, const std::string& hook, std::vector<int64_t> neurons);
HookGuard set_neurons(const HookedModule& model, const std::string& hook, std::vector<int64_t> neurons, double value);
HookGuard scale_neurons(const HookedModule& model, const std::string& hook, std::vector<int64_t> neurons,
                        double factor);
// Clamps into [low, high] (use +-infinity for one-sided clamps).
HookGuard clamp_neurons(const HookedModule& model, const std::string& hook, std::vector<int64_t> neurons,
                        double low, double high);

// The same for one NeuronRef, honouring its position when it has one.
enum class Intervention { kZero, kSet, kScale };
HookGuard intervene(const HookedModule& model, const NeuronRef& ref, Intervention kind, double value = 0.0);

}  // namespace golgi::hooks
