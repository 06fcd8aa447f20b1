// mlp: a multilayer perceptron classifier.
//
// Hooks (forward order): layers.{i}.hook_pre [batch, hidden_i], layers.{i}.hook_post
// [batch, hidden_i], head.hook_out [batch, classes] (logits). The input is flattened.
#pragma once

#include "golgi/core/options.h"
#include "golgi/models/layers.h"
#include "golgi/models/model.h"

namespace golgi::models {

struct MlpOptions {
  GOLGI_ARG(std::vector<int64_t>, input_shape) = {1, 28, 28};
  GOLGI_ARG(std::vector<int64_t>, hidden) = {256, 128};
  GOLGI_ARG(int64_t, classes) = 10;
  GOLGI_ARG(std::string, activation) = "relu";
  static const OptionSchema<MlpOptions>& schema();
};

class Mlp : public Model {
 public:
  explicit Mlp(const MlpOptions& options);
  at::Tensor forward(const at::Tensor& input) override;
  std::vector<int64_t> input_shape() const override { return options_.input_shape(); }

 private:
  MlpOptions options_;
  torch::nn::ModuleList layers_;
  DenseLayer head_{nullptr};
};

}  // namespace golgi::models
