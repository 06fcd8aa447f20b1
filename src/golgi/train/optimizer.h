// Optimisers with explicit, named state so checkpoints are plain safetensors and a resumed run
// continues bit-for-bit.
//
// sgd:   v <- momentum v + (g + wd p);  p <- p - lr (nesterov ? g + wd p + momentum v : v)
//        (PyTorch's SGD with dampening 0; Sutskever et al. 2013 for Nesterov)
// adam:  g <- g + wd p; m <- b1 m + (1-b1) g; v <- b2 v + (1-b2) g^2;
//        p <- p - lr (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)          (Kingma & Ba 2015)
// adamw: p <- p (1 - lr wd), then the Adam update without the L2 term     (Loshchilov & Hutter 2019)
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>

#include "golgi/core/options.h"

namespace golgi::train {

struct OptimizerOptions {
  GOLGI_ARG(std::string, name) = "adamw";
  GOLGI_ARG(double, weight_decay) = 0.0;
  GOLGI_ARG(double, momentum) = 0.9;
  GOLGI_ARG(bool, nesterov) = false;
  GOLGI_ARG(double, beta1) = 0.9;
  GOLGI_ARG(double, beta2) = 0.999;
  GOLGI_ARG(double, eps) = 1e-8;
};

class Optimizer {
 public:
  Optimizer(std::vector<std::pair<std::string, at::Tensor>> named_parameters, OptimizerOptions options);

  void zero_grad();
  // One update at learning rate `lr`. Parameters without a gradient are skipped.
  void step(double lr);
  int64_t steps() const { return steps_; }

  // State tensors by name ("<param>.exp_avg", "<param>.momentum", "step"), for checkpoints.
  std::vector<std::pair<std::string, at::Tensor>> state() const;
  // Restores state() output; throws golgi::Error on missing or mismatched entries.
  void load_state(const std::map<std::string, at::Tensor>& state);

 private:
  std::vector<std::pair<std::string, at::Tensor>> params_;
  OptimizerOptions options_;
  std::map<std::string, at::Tensor> buffers_;
  int64_t steps_ = 0;
};

// Scales all gradients so their global L2 norm is at most max_norm; returns the norm before.
double clip_grad_norm(const std::vector<at::Tensor>& parameters, double max_norm);

}  // namespace golgi::train
