// Plasticity hooks of the simulator (simulator.h), and pair-based additive STDP.
//
// A Plasticity object is attached to one projection. In every step that has spikes, after all
// thresholds and before the step's spikes are propagated, the simulator calls (serially, on one
// thread):
//   on_pre_spikes(step, pre)   with the presynaptic neurons that spiked at `step` (ascending)
//   on_post_spikes(step, post) with the postsynaptic neurons that spiked at `step` (ascending)
// and the hooks may read and change the projection's weights (Csr::weight) in place; the changed
// weights carry this step's spikes. Hooks see spike *emission* times: axonal delays do not shift
// the pairing. attach() is called once, before the first step, with the projection (its incoming
// index, Csr::build_incoming, is built by then).
//
// PairStdp is the classic pair-based additive rule with all-to-all pairing (Song, Miller & Abbott
// 2000, Nat. Neurosci. 3:919; written with traces as in Morrison, Diesmann & Gerstner 2008, Biol.
// Cybern. 98:459): each presynaptic neuron keeps a trace x (+1 per spike, decays with tau_plus),
// each postsynaptic neuron a trace y (+1 per spike, decays with tau_minus);
//   post spike at t:  w += A_plus  * x_pre(t)     (potentiation: pre before post)
//   pre spike at t:   w -= A_minus * y_post(t)    (depression: post before pre)
// and w is clipped to [w_min, w_max]. Traces are read before this step's spikes are added, so
// spikes in the same step do not pair. Units: tau in ms, A and w in mV.
#pragma once

#include <cstdint>
#include <vector>

#include "golgi/core/json.h"
#include "golgi/core/options.h"
#include "golgi/spiking/sim/synapses.h"

namespace golgi::spiking::sim {

template <typename T>
class Plasticity {
 public:
  virtual ~Plasticity() = default;
  virtual void attach(Csr<T>& synapses, double dt) {}
  virtual void on_pre_spikes(int64_t step, const std::vector<int32_t>& pre, Csr<T>& synapses) = 0;
  virtual void on_post_spikes(int64_t step, const std::vector<int32_t>& post, Csr<T>& synapses) = 0;
};

struct StdpOptions {
  GOLGI_ARG(double, tau_plus) = 20.0;   // ms
  GOLGI_ARG(double, tau_minus) = 20.0;  // ms
  GOLGI_ARG(double, A_plus) = 0.01;     // mV per pairing
  GOLGI_ARG(double, A_minus) = 0.0105;  // mV per pairing
  GOLGI_ARG(double, w_min) = 0.0;       // mV
  GOLGI_ARG(double, w_max) = 1.0;       // mV
  static const OptionSchema<StdpOptions>& schema();
};

template <typename T>
class PairStdp : public Plasticity<T> {
 public:
  explicit PairStdp(StdpOptions options = {});
  void attach(Csr<T>& synapses, double dt) override;
  void on_pre_spikes(int64_t step, const std::vector<int32_t>& pre, Csr<T>& synapses) override;
  void on_post_spikes(int64_t step, const std::vector<int32_t>& post, Csr<T>& synapses) override;

 private:
  // Trace value at `step`, decayed lazily from its last update.
  static double trace_at(double value, int64_t last, int64_t step, double decay_per_step);
  void add_pending(int64_t step);

  StdpOptions options_;
  double decay_plus_ = 0, decay_minus_ = 0;  // per-step decay factors
  std::vector<double> x_, y_;                // traces (value at x_step_ / y_step_)
  std::vector<int64_t> x_step_, y_step_;
  // Spikes of the current step, added to the traces once both hooks have read them.
  int64_t pending_step_ = -1;
  std::vector<int32_t> pending_pre_, pending_post_;
};

}  // namespace golgi::spiking::sim
