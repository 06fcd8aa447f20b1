// LifLayer: a population of LIF / ALIF neurons as a LibTorch module, with learnable per-neuron
// membrane time constants and thresholds, NEST-style parameter names and units, and hook points
// for its recordables.
//
//   LifLayer lif(256, LifOptions().tau_m(2.0), LifLearning().tau_m(true));
//   at::Tensor spikes = lif->forward(current);   // [T, batch, 256] -> [T, batch, 256]
//
// Learnable tau_m (Fang et al. 2021, "Incorporating Learnable Membrane Time Constant to Enhance
// Learning of Spiking Neural Networks", PLIF) is parametrised as tau_m = dt (1 + exp(−w)), i.e.
// dt / tau_m = sigmoid(w): every value of w gives tau_m > dt, so the constraint holds by
// construction and gradient steps can never break it (w is capped at 12, where tau_m = dt (1 + 6e-6),
// because 1 + exp(−w) rounds to exactly 1 in float32 beyond ~16). A learnable V_th is a plain parameter.
//
// Hook points (DESIGN.md "Hook points"; neuron dimension last):
//   hook_V_m     [T, batch, neurons]  membrane after each step's reset
//   hook_spikes  [T, batch, neurons]  0/1 spikes (what forward() returns)
//   hook_V_th    [T, batch, neurons]  adaptive threshold A_t (ALIF only; not called otherwise)
#pragma once

#include <string>
#include <vector>

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include "golgi/core/json.h"
#include "golgi/core/options.h"
#include "golgi/hooks/hook_point.h"
#include "golgi/spiking/lif.h"

namespace golgi::spiking {

// Which per-neuron parameters are learned.
struct LifLearning {
  GOLGI_ARG(bool, tau_m) = false;
  GOLGI_ARG(bool, v_threshold) = false;
};

// One documented quantity of a neuron model, NEST style.
struct NeuronQuantity {
  std::string name;  // NEST name (V_m, V_th, tau_m, t_ref, ...)
  std::string kind;  // "parameter", "state" or "recordable"
  std::string unit;  // "dt" means the unit of the time step; "V" the membrane's (dimensionless in training)
  std::string help;
};

// The anatomy of the LIF/ALIF model: parameters, state and recordables with units.
const std::vector<NeuronQuantity>& lif_anatomy();

class LifLayerImpl : public torch::nn::Module {
 public:
  LifLayerImpl(int64_t neurons, LifOptions options = {}, LifLearning learning = {});

  // current [T, batch, neurons] -> spikes [T, batch, neurons].
  at::Tensor forward(const at::Tensor& current);
  // All recordables of one run (after the hook points, so replacements show).
  LifOutput run(const at::Tensor& current);

  int64_t neurons() const { return neurons_; }
  const LifOptions& options() const { return options_; }
  // Current per-neuron values [neurons] (differentiable when learned).
  at::Tensor tau_m() const;
  at::Tensor v_threshold() const;
  // Parameters with their values (per-neuron ones as mean / min / max), NEST names and units.
  Json describe() const;

 private:
  int64_t neurons_;
  LifOptions options_;
  LifLearning learning_;
  at::Tensor tau_raw_;      // [neurons], only when tau_m is learned
  at::Tensor v_threshold_;  // [neurons], only when V_th is learned
  hooks::HookPoint hook_V_m_{nullptr}, hook_spikes_{nullptr}, hook_V_th_{nullptr};
};
TORCH_MODULE(LifLayer);

}  // namespace golgi::spiking
