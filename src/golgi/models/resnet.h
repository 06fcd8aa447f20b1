// resnet: a small residual network (He et al. 2016) with BatchNorm and basic blocks.
//
// stem: 3x3 conv (stem_channels) + BN + ReLU. Stage s (channels stages[s]) has
// blocks_per_stage basic blocks; the first block of every stage after the first halves the
// resolution (stride 2) and projects the shortcut with a 1x1 conv + BN. Then global average
// pooling and a linear head.
// Hooks (forward order): stem.hook_post [batch, c, h, w]; per block stages.{s}.{b}.hook_mid
// (after the first conv+BN+ReLU), .hook_pre (residual sum, before ReLU), .hook_post (block output),
// all [batch, c_s, h_s, w_s]; pool.hook_out [batch, c_last]; head.hook_out [batch, classes].
#pragma once

#include "golgi/core/options.h"
#include "golgi/models/layers.h"
#include "golgi/models/model.h"

namespace golgi::models {

struct ResnetOptions {
  GOLGI_ARG(int64_t, in_channels) = 1;
  GOLGI_ARG(int64_t, image_size) = 28;
  GOLGI_ARG(int64_t, stem_channels) = 16;
  GOLGI_ARG(std::vector<int64_t>, stages) = {16, 32, 64};
  GOLGI_ARG(int64_t, blocks_per_stage) = 1;
  GOLGI_ARG(int64_t, classes) = 10;
  static const OptionSchema<ResnetOptions>& schema();
};

class Resnet : public Model {
 public:
  explicit Resnet(const ResnetOptions& options);
  at::Tensor forward(const at::Tensor& input) override;
  std::vector<int64_t> input_shape() const override {
    return {options_.in_channels(), options_.image_size(), options_.image_size()};
  }

 private:
  ResnetOptions options_;
  // Stem, blocks and pool are defined in resnet.cpp; kept as base pointers here.
  std::shared_ptr<torch::nn::Module> stem_, pool_;
  std::vector<std::shared_ptr<torch::nn::Module>> blocks_;
  torch::nn::ModuleList stages_{nullptr};
  DenseLayer head_{nullptr};
};

}  // namespace golgi::models
