// Description of a clock-driven spiking network for the simulator (simulator.h): LIF populations,
// input populations (Poisson, spike generators), projections and monitors, read from the JSON
// format documented in docs/simulator.md. Plain C++ (no LibTorch).
//
// Units follow NEST (iaf_psc_delta): time in ms, potentials in mV, currents in pA, capacitance in
// pF, rates in Hz. Synaptic delays are integers in steps; synaptic weights are membrane jumps in mV
// (delta synapses: V_m += w on arrival).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "golgi/core/json.h"
#include "golgi/core/options.h"

namespace golgi::spiking::sim {

// Parameters of one LIF population (NEST iaf_psc_delta names, units and defaults).
struct LifParams {
  GOLGI_ARG(double, V_th) = -55.0;    // mV, spike when V_m >= V_th
  GOLGI_ARG(double, V_reset) = -70.0; // mV, V_m after a spike and during the refractory period
  GOLGI_ARG(double, E_L) = -70.0;     // mV, resting potential
  GOLGI_ARG(double, tau_m) = 10.0;    // ms, membrane time constant
  GOLGI_ARG(double, t_ref) = 2.0;     // ms, refractory period (a multiple of dt)
  GOLGI_ARG(double, C_m) = 250.0;     // pF, membrane capacitance (only scales I_e)
  GOLGI_ARG(double, I_e) = 0.0;       // pA, constant external current
  static const OptionSchema<LifParams>& schema();
};

struct PopulationSpec {
  std::string name;
  int64_t size = 0;
  LifParams params;
  // Initial V_m, uniform in [V_m_low, V_m_high] (equal bounds: one value); default E_L. Or one
  // value per neuron in V_m_values (non-empty: used instead).
  double V_m_low = 0, V_m_high = 0;
  std::vector<double> V_m_values;
};

struct InputSpec {
  enum class Kind { kPoisson, kGenerator };
  std::string name;
  Kind kind = Kind::kPoisson;
  int64_t size = 0;
  double rate = 0;  // Hz, Poisson only: each neuron spikes in each step with probability rate * dt
  // Spike generator only: (neuron, step) pairs; any order, no neuron twice in one step.
  std::vector<int32_t> spike_neuron;
  std::vector<int64_t> spike_step;
};

struct ProjectionSpec {
  enum class Connect { kOneToOne, kAllToAll, kFixedProbability, kExplicit };
  std::string source, target;  // names: source any population or input, target a LIF population
  Connect connect = Connect::kOneToOne;
  double p = 0;                // fixed_probability: each (pre, post) pair independently
  bool autapses = true;        // fixed_probability / all_to_all within one population
  double weight = 0;           // mV; all but explicit
  int64_t delay = 1;           // steps; all but explicit
  // explicit: one entry per synapse (weights and delays may also be given as one value).
  std::vector<int32_t> pre, post;
  std::vector<double> weights;
  std::vector<int64_t> delays;
  // Optional pair-based additive STDP (plasticity.h); empty type means static synapses.
  std::string plasticity;
  Json plasticity_options = Json::object();
};

struct StateMonitorSpec {
  std::string population;       // a LIF population
  std::vector<int32_t> neurons; // indices within it; V_m is recorded after every step
};

struct NetworkSpec {
  double dt = 0.1;      // ms
  int64_t steps = 1000;
  uint64_t seed = 0;
  // Order of a step's last two phases (simulator.h). false: Brian2's default schedule, synapses
  // before resets, so a neuron discards the input that arrives in the step it spikes. true:
  // resets before synapses (Brian2 with the synapses `when = 'after_resets'`; the order of
  // surrogate-gradient training, where h_t = β v_{t−1} + x_t follows a reset): a spiking neuron
  // without refractory steps is reset and then receives that step's input.
  bool deliver_after_reset = false;
  std::vector<PopulationSpec> populations;
  std::vector<InputSpec> inputs;
  std::vector<ProjectionSpec> projections;
  std::vector<std::string> spike_monitors;  // population or input names
  std::vector<StateMonitorSpec> state_monitors;

  // Index of a population (LIF populations first, then inputs) by name; throws golgi::Error naming
  // `where` and suggesting close names when it does not exist.
  int64_t source_index(const std::string& name, const std::string& where) const;
  int64_t size_of(int64_t source_index) const;
};

// Parses and validates a network description (docs/simulator.md). Every error names the field
// (e.g. "network.projections[2].delay") and says what is accepted.
NetworkSpec parse_network(const Json& json);
NetworkSpec read_network_file(const std::string& path);

// Refractory period in whole steps; throws golgi::Error when t_ref is not a multiple of dt.
int64_t refractory_steps(const LifParams& params, double dt, const std::string& where);

}  // namespace golgi::spiking::sim
