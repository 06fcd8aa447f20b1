// golgi simulate: run a spiking network described in JSON (docs/simulator.md) with the clock-driven
// simulator (spiking/sim/simulator.h) and write its spikes, recorded V_m and a summary.
#include <algorithm>
#include <cstdio>
#include <cstring>

#include <fmt/core.h>

#include "cli.h"
#include "golgi/core/error.h"
#include "golgi/core/progress.h"
#include "golgi/core/runtime.h"
#include "golgi/io/atomic_file.h"
#include "golgi/io/json_file.h"
#include "golgi/io/npy.h"
#include "golgi/spiking/sim/simulator.h"

namespace golgi::cli {

namespace {

struct SimulateArgs {
  std::string network, out = "simulation";
  int64_t steps = -1, seed = -1;
  bool float64 = false;
  int threads = 0;
};

template <typename T>
io::RawTensor matrix(io::DType dtype, int64_t rows, int64_t cols, const T* data) {
  io::RawTensor t;
  t.dtype = dtype;
  t.shape = {rows, cols};
  t.data.resize(static_cast<size_t>(rows * cols) * sizeof(T));
  if (!t.data.empty()) std::memcpy(t.data.data(), data, t.data.size());
  return t;
}

// Runs the network in chunks (for the progress bar) and writes everything under args.out.
template <typename T>
Json simulate(const spiking::sim::NetworkSpec& spec, const SimulateArgs& args, int threads) {
  spiking::sim::Simulator<T> sim(spec, threads);
  {
    Progress progress("simulate", spec.steps, "step");
    const int64_t chunk = std::max<int64_t>(1, spec.steps / 100);
    for (int64_t done = 0; done < spec.steps; done += chunk) {
      sim.run(std::min(chunk, spec.steps - done));
      progress.set(sim.step());
    }
    progress.finish();
  }
  const auto& stats = sim.stats();
  const double seconds_simulated = spec.steps * spec.dt / 1000.0;
  Json files = Json::object(), populations = Json::object(), inputs = Json::object();
  for (const auto& p : spec.populations) {
    int64_t spikes = 0;
    for (auto c : sim.spike_counts(p.name)) spikes += c;
    populations[p.name] = {{"size", p.size},
                           {"spikes", spikes},
                           {"rate_hz", seconds_simulated > 0 ? spikes / (p.size * seconds_simulated) : 0.0}};
  }
  for (const auto& name : spec.spike_monitors) {
    const auto& rec = sim.spikes(name);
    std::vector<int64_t> pairs(rec.size() * 2);
    for (size_t k = 0; k < rec.size(); ++k) {
      pairs[2 * k] = rec.step[k];
      pairs[2 * k + 1] = rec.neuron[k];
    }
    const std::string file = "spikes_" + name + ".npy";
    io::write_npy(args.out + "/" + file,
                  matrix(io::DType::I64, static_cast<int64_t>(rec.size()), 2, pairs.data()).view());
    files["spikes"][name] = file;
    if (spec.source_index(name, "monitor") >= static_cast<int64_t>(spec.populations.size()))
      inputs[name] = {{"spikes", rec.size()}};
  }
  const auto& states = sim.states();
  for (size_t m = 0; m < states.size(); ++m) {
    const auto& st = states[m];
    const std::string file = "V_m_" + std::to_string(m) + "_" + st.population + ".npy";
    io::write_npy(args.out + "/" + file,
                  matrix(sizeof(T) == 8 ? io::DType::F64 : io::DType::F32, st.rows(),
                         static_cast<int64_t>(st.neurons.size()), st.values.data())
                      .view());
    files["state"].push_back({{"file", file}, {"population", st.population}, {"variable", "V_m"},
                              {"neurons", st.neurons}, {"unit", "mV"}});
  }
  return {{"network", args.network},
          {"seed", spec.seed},
          {"dt_ms", spec.dt},
          {"steps", spec.steps},
          {"precision", sizeof(T) == 8 ? "float64" : "float32"},
          {"threads", threads},
          {"seconds", stats.seconds},
          {"neuron_steps", stats.neuron_steps},
          {"neuron_steps_per_s", stats.seconds > 0 ? stats.neuron_steps / stats.seconds : 0.0},
          {"spikes", stats.spikes},
          {"input_spikes", stats.input_spikes},
          {"synaptic_events", stats.synaptic_events},
          {"synaptic_events_per_s", stats.seconds > 0 ? stats.synaptic_events / stats.seconds : 0.0},
          {"populations", populations},
          {"inputs", inputs},
          {"files", files},
          {"spike_format", "int64 [n, 2] rows (step, neuron), sorted by step then neuron; time = step * dt_ms"}};
}

}  // namespace

Command add_simulate(CLI::App& app) {
  auto args = std::make_shared<SimulateArgs>();
  auto* sub = app.add_subcommand(
      "simulate",
      "Simulate a spiking network described in JSON with the clock-driven LIF simulator (no training).\n"
      "NET.json lists dt [ms], steps, seed, LIF populations (NEST names: V_th V_reset E_L [mV], tau_m t_ref [ms],\n"
      "C_m [pF], I_e [pA]), inputs (poisson, spike_generator), projections (one_to_one, all_to_all,\n"
      "fixed_probability, explicit; weight [mV], delay [steps]) and monitors; see docs/simulator.md.\n"
      "Writes DIR/spikes_<name>.npy (int64 rows (step, neuron)) for every spike monitor,\n"
      "DIR/V_m_<k>_<population>.npy ([steps, neurons]) for every state monitor, and DIR/summary.json.\n"
      "Example: golgi simulate net.json --out sim --threads 2");
  sub->add_option("network", args->network, "network description (JSON)")->required();
  sub->add_option("--out", args->out, "output folder (created)")->capture_default_str();
  sub->add_option("--steps", args->steps, "steps to simulate (default: the network's 'steps')")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--seed", args->seed, "seed (default: the network's 'seed')")->check(CLI::NonNegativeNumber);
  sub->add_flag("--float64", args->float64,
                "double-precision state and weights (default float32: faster; see docs/simulator.md for the "
                "difference)");
  sub->add_option("--threads", args->threads,
                  "simulation threads (0: the global --threads, default all cores, but at most one thread per "
                  "8,192 neurons: below that the per-step barrier costs more than the work)")->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  return {sub, [args] {
            spiking::sim::NetworkSpec spec = spiking::sim::read_network_file(args->network);
            if (args->steps >= 0) spec.steps = args->steps;
            if (args->seed >= 0) spec.seed = static_cast<uint64_t>(args->seed);
            // Default: the global --threads, capped so that each thread has >= 8,192 neurons. Threads
            // meet at a barrier every step; on small networks (and on a busy machine, where a spinning
            // thread steals the core of the one it waits for) that wait dominates: an 800-neuron
            // network ran 6x slower on 2 threads than on 1.
            int64_t neurons = 0;
            for (const auto& p : spec.populations) neurons += p.size;
            const int threads = args->threads > 0
                                    ? args->threads
                                    : static_cast<int>(std::clamp<int64_t>(neurons / 8192, 1, golgi::threads()));
            io::make_dirs(args->out);
            Json summary = args->float64 ? simulate<double>(spec, *args, threads) : simulate<float>(spec, *args, threads);
            summary["command"] = command_line();
            io::write_json_file(args->out + "/summary.json", summary);
            if (!progress_quiet()) {
              fmt::print(stderr, "simulated {} steps of {} ms in {:.3f} s ({:.3g} neuron-steps/s, {} spikes)\n",
                         spec.steps, spec.dt, summary["seconds"].get<double>(),
                         summary["neuron_steps_per_s"].get<double>(), summary["spikes"].get<int64_t>());
              fmt::print(stderr, "wrote {}/summary.json\n", args->out);
            }
            return kExitOk;
          }};
}

}  // namespace golgi::cli
