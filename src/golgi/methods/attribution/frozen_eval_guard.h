// FrozenEvalGuard: eval mode and frozen parameters while a method differentiates with respect to
// an input (attribution, activation maximisation). Both are restored on exit, also when an error
// is thrown, so a model in training keeps training afterwards and no parameter .grad is touched.
#pragma once

#include <utility>
#include <vector>

#include "golgi/models/model.h"

namespace golgi::methods {

class FrozenEvalGuard {
 public:
  explicit FrozenEvalGuard(models::Model& model) : model_(model), was_training_(model.is_training()) {
    model_.eval();
    for (auto& p : model_.parameters()) {
      params_.emplace_back(p, p.requires_grad());
      p.set_requires_grad(false);
    }
  }
  ~FrozenEvalGuard() {
    for (auto& [p, requires] : params_) p.set_requires_grad(requires);
    model_.train(was_training_);
  }
  FrozenEvalGuard(const FrozenEvalGuard&) = delete;
  FrozenEvalGuard& operator=(const FrozenEvalGuard&) = delete;

 private:
  models::Model& model_;
  bool was_training_;
  std::vector<std::pair<at::Tensor, bool>> params_;
};

}  // namespace golgi::methods
