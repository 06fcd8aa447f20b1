// HookedModule: a torch::nn::Module that knows all of its hook points by full dotted name.
//
// Concrete models register their hook points (in forward order) and call setup_hooks() at the
// end of their constructor; the names come from LibTorch's module paths, so a hook point
// registered as "hook_post" inside a submodule "conv2" is "conv2.hook_post".
#pragma once

#include <string>
#include <vector>

#include <torch/nn/module.h>

#include "golgi/hooks/hook_point.h"

namespace golgi::hooks {

class HookedModule : public torch::nn::Module {
 public:
  using torch::nn::Module::Module;

  // Walks named_modules() and names every HookPointImpl. Call again after adding modules.
  void setup_hooks();

  // Every hook point's full name, in registration (forward) order.
  std::vector<std::string> hook_names() const;
  bool has_hook(const std::string& name) const;
  // Throws golgi::Error suggesting the closest names when `name` is unknown.
  HookPointImpl& hook_point(const std::string& name) const;
  // Hook points matching a glob (`blocks.*.mlp.hook_post`, `**` crosses dots) or an exact name,
  // in forward order. Throws golgi::Error when nothing matches.
  std::vector<HookPointImpl*> match_hooks(const std::string& pattern) const;
  // Union over several patterns, each of which must match something; forward order, no repeats.
  std::vector<HookPointImpl*> match_hooks(const std::vector<std::string>& patterns) const;

  // Total hooks attached across all hook points (0 after every guard died).
  size_t attached_hook_count() const;

 private:
  std::vector<std::pair<std::string, HookPointImpl*>> points_;
};

}  // namespace golgi::hooks
