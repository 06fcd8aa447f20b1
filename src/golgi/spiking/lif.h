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
// Adaptive threshold (ALIF, Bellec et al. 2018, "Long short-term memory and learning-to-learn in
// networks of spiking neurons"), on when `adaptation` (β_a) > 0:
//   threshold  A_t = V_th + β_a a_{t−1}          (fire: s = Θ(h − A_t); soft reset subtracts A_t)
//   adaptation a_t = ρ a_{t−1} + s_t,   ρ = exp(−dt / tau_adapt),   a_{−1} = 0
// During refractory steps the adaptation keeps decaying.
//
// Learnable parameters (LifParameters): per-neuron tau_m and V_th tensors [neurons] replace the
// scalars of the options; the fused kernel returns their gradients (summed over batch and time).
// tau_m must exceed dt everywhere (LifLayer keeps it there by construction, lif_layer.h).
//
// References: Fang et al. 2021 (SpikingJelly; charge rules, detach_reset, ATan surrogate; PLIF,
// learnable membrane time constants); Neftci, Mostafa & Zenke 2019 (surrogate gradient learning);
// Bellec et al. 2018 (adaptive threshold).
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
  GOLGI_ARG(double, adaptation) = 0.0;        // β_a, threshold increase per unit of adaptation (0: plain LIF)
  GOLGI_ARG(double, tau_adapt) = 200.0;       // adaptation time constant, same unit as dt (> dt)
  // Tests only: emit the surrogate's smooth primitive instead of the step, so the surrogate
  // gradient is the exact gradient and finite differences can check the backward pass.
  GOLGI_ARG(bool, smooth_spikes) = false;
  static const OptionSchema<LifOptions>& schema();
};

// Recordables, NEST style: `spikes`, `V_m` and, with adaptation, `V_th` (the adaptive threshold).
struct LifOutput {
  at::Tensor spikes;     // [T, batch, neurons...], 0/1 (smooth_spikes: in (0, 1))
  at::Tensor v;          // [T, batch, neurons...], V_m after the reset of each step
  at::Tensor threshold;  // [T, batch, neurons...], A_t; only defined when options.adaptation() > 0
};

// Per-neuron parameters that override the options' scalars. Each is undefined (use the option) or
// a tensor with one value per neuron ([neurons...] or flat, numel = x.numel() / (T * batch)) of
// x's dtype; either may require grad.
struct LifParameters {
  at::Tensor tau_m;        // same unit as dt, every value > dt
  at::Tensor v_threshold;  // V_th
};

// Fused kernel. x: input current [T, batch, neurons...] (trailing dims flattened), float32 or
// float64, on CPU. Differentiable with respect to x and the per-neuron parameters (a LibTorch
// autograd function with a hand-written backward through time).
LifOutput lif_multistep(const at::Tensor& x, const LifOptions& options = {}, const LifParameters& parameters = {});

// The same neuron written step by step with LibTorch ops and autograd (the correctness reference).
LifOutput lif_multistep_reference(const at::Tensor& x, const LifOptions& options = {},
                                  const LifParameters& parameters = {});

}  // namespace golgi::spiking
