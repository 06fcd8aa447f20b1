// Leaky integrate-and-fire neurons over T steps, time-major [T, batch, neurons], with surrogate
// gradients: the fused multi-step kernel (hand-written forward and backward through time,
// vectorised over batch x neurons and multi-threaded) and the step-by-step autograd reference it
// must equal (tests/unit/spiking).
//
// One step, per neuron (NEST names: V_m membrane, V_th threshold, V_reset, tau_m, t_ref):
//   charge   decay           h = β v + x,                 β = exp(−dt / tau_m)
//            decay_input     h = v + (x − (v − V_reset)) / τ,   τ = tau_m / dt   (SpikingJelly LIF)
//            no_decay_input  h = v − (v − V_reset) / τ + x
//            if              h = v + x                    (integrate-and-fire)
//   fire     s = Θ(h − V_th)   (backward: the surrogate's σ'(h − V_th), surrogate.h)
//   reset    hard   v = h (1 − s) + V_reset s
//            soft   v = h − V_th s
//            detach_reset: s enters the reset as a constant (no gradient through the reset)
//   refractory  after a spike the neuron stays at V_reset and silent for refractory_steps steps
// The membrane starts at 0 (v_init "zero") or V_th / 2 ("half_threshold").
//
// References: Fang et al. 2021 (SpikingJelly; charge rules, detach_reset, ATan surrogate);
// Neftci, Mostafa & Zenke 2019 (surrogate gradient learning).
#pragma once

#include <string>

#include <ATen/core/Tensor.h>

#include "golgi/core/options.h"

namespace golgi::spiking {

struct LifOptions {
  GOLGI_ARG(std::string, charge) = "decay";   // decay | decay_input | no_decay_input | if
  GOLGI_ARG(double, tau_m) = 2.0;             // membrane time constant, same unit as dt (> dt)
  GOLGI_ARG(double, dt) = 1.0;
  GOLGI_ARG(double, v_threshold) = 1.0;
  GOLGI_ARG(double, v_reset) = 0.0;
  GOLGI_ARG(std::string, reset) = "hard";     // hard | soft
  GOLGI_ARG(bool, detach_reset) = false;
  GOLGI_ARG(std::string, v_init) = "zero";    // zero | half_threshold
  GOLGI_ARG(int64_t, refractory_steps) = 0;
  GOLGI_ARG(std::string, surrogate) = "atan"; // atan | sigmoid | fast_sigmoid | rectangular
  GOLGI_ARG(double, alpha) = 2.0;             // the surrogate's sharpness / width
  // Tests only: emit the surrogate's smooth primitive instead of the step, so the surrogate
  // gradient is the exact gradient and finite differences can check the backward pass.
  GOLGI_ARG(bool, smooth_spikes) = false;
  static const OptionSchema<LifOptions>& schema();
};

struct LifOutput {
  at::Tensor spikes;  // [T, batch, neurons], 0/1 (smooth_spikes: in (0, 1))
  at::Tensor v;       // [T, batch, neurons], membrane after the reset of each step
};

// Fused kernel. x: input current [T, batch, neurons] (any trailing shape is flattened), float32 or
// float64, on CPU. Differentiable with respect to x (a LibTorch autograd function).
LifOutput lif_multistep(const at::Tensor& x, const LifOptions& options = {});

// The same neuron written step by step with LibTorch ops and autograd (the correctness reference).
LifOutput lif_multistep_reference(const at::Tensor& x, const LifOptions& options = {});

}  // namespace golgi::spiking
