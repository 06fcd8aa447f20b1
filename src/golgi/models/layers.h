// Building blocks with hook points, shared by the vision and MLP models.
//
// Parameters are registered directly on the layer ("conv1.weight", not "conv1.conv.weight") so
// checkpoint names stay short and stable. Initialisation follows PyTorch's defaults for
// nn.Linear / nn.Conv2d (Kaiming-uniform with a = sqrt(5), bias U(-1/sqrt(fan_in), 1/sqrt(fan_in))),
// so models trained here behave like their PyTorch counterparts.
#pragma once

#include <string>

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include "golgi/hooks/hook_point.h"

namespace golgi::models {

// "relu", "gelu", "tanh", "sigmoid" or "none".
at::Tensor apply_activation(const at::Tensor& x, const std::string& activation);
void check_activation(const std::string& activation);

// y = act(x W^T + b). Hooks: hook_pre [batch, out] (x W^T + b), and hook_post [batch, out]
// (after the activation) unless activation is "none", where the single hook is hook_out.
class DenseLayerImpl : public torch::nn::Module {
 public:
  DenseLayerImpl(int64_t in_features, int64_t out_features, std::string activation);
  at::Tensor forward(const at::Tensor& x);

  at::Tensor weight, bias;  // [out, in], [out]

 private:
  std::string activation_;
  hooks::HookPoint hook_pre_{nullptr}, hook_post_{nullptr}, hook_out_{nullptr};
};
TORCH_MODULE(DenseLayer);

// y = pool(act(bn(conv(x)))). Hooks: hook_pre [batch, out, h, w] (conv (+BN) output), hook_post
// [batch, out, h, w] (after the activation), hook_pool [batch, out, h/2, w/2] when pool is on.
class ConvLayerImpl : public torch::nn::Module {
 public:
  ConvLayerImpl(int64_t in_channels, int64_t out_channels, int64_t kernel_size, std::string activation,
                bool batch_norm, bool pool);
  at::Tensor forward(const at::Tensor& x);

  at::Tensor weight, bias;  // [out, in, k, k], [out]

 private:
  int64_t padding_;
  std::string activation_;
  bool pool_;
  torch::nn::BatchNorm2d bn_{nullptr};
  hooks::HookPoint hook_pre_{nullptr}, hook_post_{nullptr}, hook_pool_{nullptr};
};
TORCH_MODULE(ConvLayer);

}  // namespace golgi::models
