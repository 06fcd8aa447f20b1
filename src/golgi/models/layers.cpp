#include "golgi/models/layers.h"

#include <cmath>

#include <torch/torch.h>

#include "golgi/core/error.h"

namespace golgi::models {

namespace F = torch::nn::functional;

void check_activation(const std::string& activation) {
  GOLGI_CHECK(activation == "relu" || activation == "gelu" || activation == "tanh" || activation == "sigmoid" ||
                  activation == "none",
              "activation must be one of 'relu', 'gelu', 'tanh', 'sigmoid', 'none', got '", activation, "'");
}

at::Tensor apply_activation(const at::Tensor& x, const std::string& activation) {
  if (activation == "relu") return torch::relu(x);
  if (activation == "gelu") return torch::gelu(x);
  if (activation == "tanh") return torch::tanh(x);
  if (activation == "sigmoid") return torch::sigmoid(x);
  return x;
}

namespace {
void init_like_pytorch(at::Tensor& weight, at::Tensor& bias, int64_t fan_in) {
  torch::NoGradGuard no_grad;
  torch::nn::init::kaiming_uniform_(weight, std::sqrt(5.0));
  double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
  bias.uniform_(-bound, bound);
}
}  // namespace

DenseLayerImpl::DenseLayerImpl(int64_t in_features, int64_t out_features, std::string activation)
    : activation_(std::move(activation)) {
  check_activation(activation_);
  GOLGI_CHECK(in_features > 0 && out_features > 0, "dense layer sizes must be > 0, got ", in_features, " -> ",
              out_features);
  weight = register_parameter("weight", torch::empty({out_features, in_features}));
  bias = register_parameter("bias", torch::empty({out_features}));
  init_like_pytorch(weight, bias, in_features);
  if (activation_ == "none") {
    hook_out_ = register_module("hook_out", hooks::HookPoint("[batch, out_features]"));
  } else {
    hook_pre_ = register_module("hook_pre", hooks::HookPoint("[batch, out_features]"));
    hook_post_ = register_module("hook_post", hooks::HookPoint("[batch, out_features]"));
  }
}

at::Tensor DenseLayerImpl::forward(const at::Tensor& x) {
  at::Tensor y = F::linear(x, weight, bias);
  if (activation_ == "none") return hook_out_(y);
  return hook_post_(apply_activation(hook_pre_(y), activation_));
}

ConvLayerImpl::ConvLayerImpl(int64_t in_channels, int64_t out_channels, int64_t kernel_size, std::string activation,
                             bool batch_norm, bool pool)
    : padding_(kernel_size / 2), activation_(std::move(activation)), pool_(pool) {
  check_activation(activation_);
  GOLGI_CHECK(kernel_size > 0 && kernel_size % 2 == 1, "kernel_size must be odd and > 0 (same padding), got ",
              kernel_size);
  weight = register_parameter("weight", torch::empty({out_channels, in_channels, kernel_size, kernel_size}));
  bias = register_parameter("bias", torch::empty({out_channels}));
  init_like_pytorch(weight, bias, in_channels * kernel_size * kernel_size);
  if (batch_norm) bn_ = register_module("bn", torch::nn::BatchNorm2d(out_channels));
  hook_pre_ = register_module("hook_pre", hooks::HookPoint("[batch, channels, height, width]"));
  hook_post_ = register_module("hook_post", hooks::HookPoint("[batch, channels, height, width]"));
  if (pool_) hook_pool_ = register_module("hook_pool", hooks::HookPoint("[batch, channels, height/2, width/2]"));
}

at::Tensor ConvLayerImpl::forward(const at::Tensor& x) {
  at::Tensor y = F::conv2d(x, weight, F::Conv2dFuncOptions().bias(bias).padding(padding_));
  if (bn_) y = bn_(y);
  y = hook_post_(apply_activation(hook_pre_(y), activation_));
  if (pool_) y = hook_pool_(F::max_pool2d(y, F::MaxPool2dFuncOptions(2)));
  return y;
}

}  // namespace golgi::models
