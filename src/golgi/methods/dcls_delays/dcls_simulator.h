// A trained dcls-delays network (dcls_delays.h) as an ordinary spiking network with integer delays,
// run in golgi's clock-driven simulator (spiking/sim), and checked against the same network in
// torch: the paper's point that learned delays become plain synaptic delays at inference
// (Hammouamri, Khalfaoui-Hassani & Masquelier 2023, section 3: "rounded positions").
//
// Mapping (one training step = one simulator step of dt = 1 ms). The trained LIF is SpikingJelly's
// decay_input neuron with V_reset = 0:   h_t = β v_{t−1} + x_t / τ,  β = 1 − 1/τ  (τ = tau_m in
// steps); spike when h_t ≥ V_th; v_t = h_t (1 − s_t). The simulator integrates before its
// threshold test and adds a step's input after it (simulator.h), so an input due at step n shows,
// multiplied by exp(−dt/tau_m), in the test of step n + 1. With
//   tau_m (sim, ms) = −1 / ln β,   E_L = V_reset = 0,  V_th = V_th,  t_ref = 0,  I_e = 0,
//   synapse i -> j: weight a_j w_ji / (τ β) (BatchNorm folded, dcls_delays.h), delay = the
//   integer delay d_ji, and deliver_after_reset (a neuron that spikes still receives that step's
//   input on its reset membrane, as h_t after a spike does),
//   the BatchNorm shift b_j: a "bias" spike generator firing at every step, weight b_j / (τ β),
//   delay l for hidden layer l,
// the test value of hidden layer l's neuron at simulator step t + 1 + l equals h_t, so layer l's
// training spike at step t is the simulator spike at step t + 1 + l (each layer adds one step of
// latency, because a spike reaches its targets only after the threshold phase). The readout (a
// neuron that never fires) has v_t = β V_m(recorded after step t + L), L = number of hidden
// layers; the simulation runs T + L steps.
//
// Shapes: inputs time-major [T, batch, in] (0/1) as in training; one simulator run per sample.
#pragma once

#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>

#include "golgi/core/json.h"
#include "golgi/methods/dcls_delays/dcls_delays.h"

namespace golgi::data {
class Dataset;
}

namespace golgi::methods {

struct DclsForward {
  at::Tensor readout_v;                   // [T, batch, classes] float64, the readout membrane
  std::vector<at::Tensor> hidden_spikes;  // per hidden layer [T, batch, hidden] float64 0/1
};

// The folded network in torch, float64: integer-delay convolutions, LIF layers, readout membrane.
// x: [T, batch, inputs] (any float dtype). Prediction = argmax over classes of Σ_t softmax(v_t).
DclsForward dcls_folded_forward(const DclsFoldedNetwork& network, const at::Tensor& x);

// The simulator network description (docs/simulator.md JSON) of `network` driven by one sample
// [T, inputs] of 0/1 spikes: populations "layer0".."layer{L−1}" (spike monitors) and "readout"
// (V_m monitor on every neuron), inputs "input" and "bias". Throws golgi::Error for non-binary
// inputs or a network whose β = 1 − 1/τ is not in (0, 1).
Json dcls_simulator_network(const DclsFoldedNetwork& network, const at::Tensor& sample);

struct DclsSimulated {
  at::Tensor readout_v;                   // [T, classes] float64, mapped back to training steps
  std::vector<at::Tensor> hidden_spikes;  // per hidden layer [T, hidden] float64 0/1
  int64_t simulator_steps = 0;
};

// Runs dcls_simulator_network(network, sample) in the float64 simulator (one thread) and maps
// spikes and the readout membrane back to training steps.
DclsSimulated simulate_dcls_sample(const DclsFoldedNetwork& network, const at::Tensor& sample);

// The same network in torch and in the simulator on the first `max_samples` samples of `data`
// ([N, T, inputs]; 0: all).
struct DclsSimulatorCheck {
  int64_t samples = 0;
  int64_t identical_spike_samples = 0;  // samples whose hidden spike trains agree exactly
  int64_t spike_mismatches = 0;         // (step, neuron) entries that differ, over all samples
  int64_t hidden_spikes = 0;            // hidden spikes in torch, over all samples
  double max_readout_diff = 0;          // max |v_sim − v_torch| over samples, steps, classes
  int64_t same_prediction = 0;          // samples whose predicted class agrees
  double torch_accuracy = 0;            // folded network in torch, float64
  double simulator_accuracy = 0;
  double seconds = 0;                   // the simulator runs (construction included)
  Json to_json() const;
};
DclsSimulatorCheck check_dcls_in_simulator(const DclsFoldedNetwork& network, const data::Dataset& data,
                                           int64_t max_samples = 0);

}  // namespace golgi::methods
