// cnn: a LeNet-like convolutional classifier (LeCun et al. 1998), with ReLU and max pooling.
//
// Layers: conv{i} (same-padded k x k conv, ReLU, 2x2 max pool) for each entry of `channels`,
// then fc{j} (dense + ReLU) for each entry of `hidden`, then head (logits).
// Hooks (forward order): conv{i}.hook_pre, conv{i}.hook_post [batch, c_i, h_i, w_i],
// conv{i}.hook_pool [batch, c_i, h_i/2, w_i/2], fc{j}.hook_pre, fc{j}.hook_post [batch, hidden_j],
// head.hook_out [batch, classes].
#pragma once

#include "golgi/core/options.h"
#include "golgi/models/layers.h"
#include "golgi/models/model.h"

namespace golgi::models {

struct CnnOptions {
  GOLGI_ARG(int64_t, in_channels) = 1;
  GOLGI_ARG(int64_t, image_size) = 28;
  GOLGI_ARG(std::vector<int64_t>, channels) = {16, 32};
  GOLGI_ARG(int64_t, kernel_size) = 5;
  GOLGI_ARG(std::vector<int64_t>, hidden) = {128};
  GOLGI_ARG(int64_t, classes) = 10;
  GOLGI_ARG(bool, batch_norm) = false;
  static const OptionSchema<CnnOptions>& schema();
};

class Cnn : public Model {
 public:
  explicit Cnn(const CnnOptions& options);
  at::Tensor forward(const at::Tensor& input) override;
  std::vector<int64_t> input_shape() const override {
    return {options_.in_channels(), options_.image_size(), options_.image_size()};
  }

 private:
  CnnOptions options_;
  std::vector<ConvLayer> convs_;
  std::vector<DenseLayer> fcs_;
  DenseLayer head_{nullptr};
};

}  // namespace golgi::models
