// Clock-driven simulator of LIF networks with delta synapses and integer delays (issue 5): the
// network of network.h, run step by step on plain C++ threads. No LibTorch, no training.
//
// Neuron (NEST iaf_psc_delta, exact integration of the subthreshold dynamics):
//   dV_m/dt = (E_L − V_m)/tau_m + I_e/C_m,   so over one step
//   V_m ← V_inf + (V_m − V_inf) · exp(−dt/tau_m),   V_inf = E_L + I_e · tau_m / C_m
// Spike when V_m >= V_th; then V_m = V_reset and the neuron is refractory for R = t_ref/dt steps:
// a neuron that spikes at step s holds V_m = V_reset (no integration, input discarded, no spike)
// through step s + R − 1 and integrates again from step s + R.
//
// One step n (t = n·dt) runs Brian2's default schedule (groups, thresholds, synapses, resets), so
// that the same network gives the same spike steps as Brian2 (tests/xcheck/simulator_brian2.sh):
//   1. groups      refractory counters count down; non-refractory neurons integrate one step
//   2. thresholds  LIF neurons with V_m >= V_th spike; Poisson inputs and spike generators emit
//                  their spikes of step n; plasticity hooks run (plasticity.h)
//   3. synapses    every spike of step n is sent through its projections: weight w with delay d
//                  lands in the target's ring buffer slot for step n + d; then the input due at
//                  step n is added to V_m of neurons that are neither refractory nor spiking
//   4. resets      neurons that spiked at step n: V_m = V_reset, refractory for R steps
// so input that arrives at step n first shows in the threshold test of step n + 1, and a delay of
// d steps means a spike at step s is added to V_m at step s + d (d = 0: in the same step).
// NetworkSpec::deliver_after_reset swaps steps 3 and 4 (Brian2's synapses `when = 'after_resets'`):
// a spiking neuron with t_ref = 0 is reset and then receives the input due at step n, which is the
// update order of surrogate-gradient training (methods/dcls_delays exports its networks this way).
// Monitors record spikes of step n and V_m after step n's reset.
//
// Poisson inputs spike in each step independently with probability rate·dt, drawn by a counter-based
// hash of (seed, input, step, neuron) (kernels.h), so results do not depend on the number of
// threads. Every random draw comes from the network's seed.
//
// Threads: each thread owns a contiguous range of every population's neurons (and of the targets of
// every projection: CSR rows are sorted by target, so each thread's part of a row is contiguous),
// integrates them, and writes only its own targets' ring-buffer entries: no atomics, one barrier
// per step. Results are identical for any thread count.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "golgi/spiking/sim/network.h"
#include "golgi/spiking/sim/plasticity.h"
#include "golgi/spiking/sim/synapses.h"

namespace golgi::spiking::sim {

// Spikes of one population: parallel lists sorted by (step, neuron).
struct SpikeRecord {
  std::vector<int64_t> step;
  std::vector<int32_t> neuron;
  size_t size() const { return step.size(); }
};

// V_m of chosen neurons after every step: values [steps recorded, neurons.size()] (row-major), mV.
template <typename T>
struct StateRecord {
  std::string population;
  std::vector<int32_t> neurons;
  std::vector<T> values;
  int64_t rows() const { return neurons.empty() ? 0 : static_cast<int64_t>(values.size() / neurons.size()); }
};

struct SimStats {
  int64_t steps = 0;              // steps simulated so far
  int64_t neuron_steps = 0;       // LIF neuron updates
  int64_t spikes = 0;             // LIF spikes
  int64_t input_spikes = 0;       // Poisson and generator spikes
  int64_t synaptic_events = 0;    // spikes delivered through synapses (one per synapse per spike)
  double seconds = 0;             // wall time inside run()
};

// T = float (fast default) or double (for the cross-check).
template <typename T>
class Simulator {
 public:
  // `threads` >= 1. Builds the connectivity (seeded) and the initial state.
  explicit Simulator(const NetworkSpec& spec, int threads = 1);
  ~Simulator();
  Simulator(const Simulator&) = delete;
  Simulator& operator=(const Simulator&) = delete;

  // Simulates `steps` more steps (from step(), so consecutive calls continue the same run).
  void run(int64_t steps);
  int64_t step() const { return step_; }

  const NetworkSpec& spec() const { return spec_; }
  // Spikes recorded for a monitored population or input (throws golgi::Error if not monitored).
  const SpikeRecord& spikes(const std::string& name) const;
  const std::vector<StateRecord<T>>& states() const { return states_; }
  const SimStats& stats() const { return stats_; }
  // Spike count of every neuron of a LIF population over the whole run (monitored or not).
  const std::vector<int64_t>& spike_counts(const std::string& population) const;

  // State and synapses, for tests and plasticity.
  std::vector<T>& V_m(const std::string& population);
  Csr<T>& projection(size_t index);
  size_t projection_count() const { return projections_.size(); }
  // Replaces the plasticity of projection `index` (nullptr: static synapses).
  void set_plasticity(size_t index, std::unique_ptr<Plasticity<T>> plasticity);

 private:
  struct Population;
  struct Source;
  struct Projection;
  struct Worker;
  void run_thread(int t, int64_t first, int64_t last);
  void phase_update(int t, int64_t n);
  void phase_deliver(int t, int64_t n);
  void run_plasticity(int64_t n);
  void merge_records(int64_t first, int64_t last);

  NetworkSpec spec_;
  int threads_;
  int64_t step_ = 0;
  std::vector<std::unique_ptr<Population>> pops_;
  std::vector<std::unique_ptr<Source>> sources_;  // populations then inputs (same order as spec)
  std::vector<std::unique_ptr<Projection>> projections_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<StateRecord<T>> states_;
  std::vector<SpikeRecord> spike_records_;  // per source (empty when not monitored)
  std::vector<bool> monitored_;
  SimStats stats_;
  struct Barrier;
  std::unique_ptr<Barrier> barrier_;
  bool plastic_ = false;
};

}  // namespace golgi::spiking::sim
