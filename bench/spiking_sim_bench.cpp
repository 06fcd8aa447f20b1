// Issue 5 speed target "simulation": 20,000 LIF neurons, 1% random recurrent connectivity, Poisson
// drive, 10,000 steps of 0.1 ms, golgi's clock-driven simulator (spiking/sim/simulator.h) against
// Brian2's cpp_standalone device on the same machine (bench/peers/spiking_sim_brian2.py; its
// simulation time only, compilation excluded).
//
// The network (identical in both arms, every number passed to the peer on its command line):
//   neurons   20,000 LIF (iaf_psc_delta), tau_m 20 ms, E_L = V_reset = -70 mV, V_th -50 mV,
//             t_ref 2 ms, V_m uniform in [-70, -50] mV at step 0
//   drive     20,000 Poisson inputs at `rate` Hz, one to one, weight `w_ext` mV, delay 1 step
//   recurrent each pair with probability 0.01 (no autapses), weight `w_rec` mV, delay 15 steps
// Reported: neuron-steps/s (neurons x steps / seconds), synaptic events/s (spikes x out-degree,
// drive included), firing rate, and a memory-traffic bound: the bytes the loops must move divided
// by this machine's measured streaming bandwidth.
//
// usage: golgi_bench_spiking_sim [--threads-list 1,2] [--steps N] [--rounds R] [--rate HZ] [--w-ext MV] [--w-rec MV]
//                                [--peer bench/peers/spiking_sim_brian2.py] [--out FILE]
#include <algorithm>
#include <cstdlib>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>
#include <thread>
#include <vector>

#include "golgi/core/json.h"
#include "golgi/core/strings.h"
#include "golgi/spiking/sim/simulator.h"

namespace {

using golgi::Json;
namespace sim = golgi::spiking::sim;

struct Config {
  int64_t neurons = 20000, steps = 10000;
  double dt = 0.1, p = 0.01, rate = 500.0, w_ext = 1.6, w_rec = 0.05;
  int64_t delay = 15;
  uint64_t seed = 1;
};

sim::NetworkSpec make_network(const Config& c) {
  Json j = {{"dt", c.dt},
            {"steps", c.steps},
            {"seed", c.seed},
            {"populations",
             {{{"name", "lif"},
               {"size", c.neurons},
               {"tau_m", 20.0},
               {"E_L", -70.0},
               {"V_reset", -70.0},
               {"V_th", -50.0},
               {"t_ref", 2.0},
               {"V_m", {{"uniform", {-70.0, -50.0}}}}}}},
            {"inputs", {{{"name", "drive"}, {"type", "poisson"}, {"size", c.neurons}, {"rate", c.rate}}}},
            {"projections",
             {{{"source", "drive"}, {"target", "lif"}, {"connect", "one_to_one"}, {"weight", c.w_ext}, {"delay", 1}},
              {{"source", "lif"},
               {"target", "lif"},
               {"connect", "fixed_probability"},
               {"p", c.p},
               {"autapses", false},
               {"weight", c.w_rec},
               {"delay", c.delay}}}}};
  return sim::parse_network(j);
}

struct Arm {
  double seconds = 0, cpu_seconds = 0;
  int64_t spikes = 0, events = 0, synapses = 0;
  std::vector<int64_t> counts;  // spikes per neuron
};

template <typename T>
Arm run_golgi(const sim::NetworkSpec& spec, int threads) {
  sim::Simulator<T> s(spec, threads);
  Arm a;
  a.synapses = s.projection(1).size();
  const std::clock_t c0 = std::clock();
  s.run(spec.steps);
  a.cpu_seconds = static_cast<double>(std::clock() - c0) / CLOCKS_PER_SEC;
  a.seconds = s.stats().seconds;
  a.spikes = s.stats().spikes;
  a.events = s.stats().synaptic_events;
  a.counts = s.spike_counts("lif");
  return a;
}

// Streaming bandwidth (bytes read + written per second) of memcpy over buffers far larger than the
// caches, `threads` copies at once.
double stream_bandwidth(int threads) {
  const size_t n = size_t{1} << 26;  // 64 MiB per thread, each way
  std::vector<std::vector<char>> src(threads, std::vector<char>(n, 1)), dst(threads, std::vector<char>(n, 0));
  double best = 0;
  for (int round = 0; round < 5; ++round) {
    auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) pool.emplace_back([&, t] { std::memcpy(dst[t].data(), src[t].data(), n); });
    for (auto& th : pool) th.join();
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, 2.0 * n * threads / s);
  }
  return best;
}

Json run_peer(const std::string& peer, const Config& c, int rounds) {
  std::string command = "/usr/bin/python3 " + peer + " --neurons " + std::to_string(c.neurons) + " --steps " +
                        std::to_string(c.steps) + " --dt " + std::to_string(c.dt) + " --p " + std::to_string(c.p) +
                        " --rate " + std::to_string(c.rate) + " --w-ext " + std::to_string(c.w_ext) + " --w-rec " +
                        std::to_string(c.w_rec) + " --delay " + std::to_string(c.delay) + " --seed " +
                        std::to_string(c.seed) + " --repeats " + std::to_string(rounds);
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return Json();
  std::string out;
  char buffer[4096];
  while (fgets(buffer, sizeof(buffer), pipe)) out += buffer;
  if (pclose(pipe) != 0 || out.empty()) {
    std::fprintf(stderr, "peer failed: %s\n", command.c_str());
    return Json();
  }
  return Json::parse(out.substr(out.rfind("\n{") == std::string::npos ? 0 : out.rfind("\n{") + 1));
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? NAN : v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  Config c;
  std::vector<int> thread_list = {1, 2};
  int rounds = 3;
  std::string peer, out_path;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--threads-list") {
      thread_list.clear();
      for (const auto& part : golgi::split(value, ',')) thread_list.push_back(std::stoi(part));
    } else if (flag == "--steps") {
      c.steps = std::stoll(value);
    } else if (flag == "--rate") {
      c.rate = std::stod(value);
    } else if (flag == "--w-ext") {
      c.w_ext = std::stod(value);
    } else if (flag == "--w-rec") {
      c.w_rec = std::stod(value);
    } else if (flag == "--rounds") {
      rounds = std::stoi(value);
    } else if (flag == "--peer") {
      peer = value;
    } else if (flag == "--out") {
      out_path = value;
    } else {
      std::fprintf(stderr, "unknown flag %s (known: --threads-list --steps --rate --w-ext --w-rec --rounds --peer --out)\n", flag.c_str());
      return 2;
    }
  }
  const sim::NetworkSpec spec = make_network(c);
  const double neuron_steps = static_cast<double>(c.neurons) * c.steps;
  const double sim_seconds = c.steps * c.dt / 1000.0;

  Json arms = Json::array();
  double golgi_best_1 = NAN;
  std::vector<int64_t> counts32, counts64;
  for (int threads : thread_list) {
    for (const char* precision : {"float32", "float64"}) {
      if (std::string(precision) == "float64" && threads != thread_list.front()) continue;
      std::vector<double> seconds, cpu;
      Arm a;
      for (int r = 0; r < rounds; ++r) {
        a = std::string(precision) == "float32" ? run_golgi<float>(spec, threads) : run_golgi<double>(spec, threads);
        seconds.push_back(a.seconds);
        cpu.push_back(a.cpu_seconds);
      }
      const double s = median(seconds);
      (std::string(precision) == "float32" ? counts32 : counts64) = a.counts;
      // Bytes the loops move at least once per use: per neuron-step the update and delivery loops
      // read and write V_m, the refractory counter, the spike flag and the ring-buffer entry
      // (4 bytes each, 13 transfers = 52 bytes); per synaptic event the target index and weight are
      // read (8 bytes) and the ring-buffer entry is read and written (8 bytes).
      const double value_bytes = std::string(precision) == "float32" ? 4 : 8;
      const double bytes = neuron_steps * (52 + 5 * (value_bytes - 4)) + a.events * (12 + 2 * value_bytes - 4);
      Json arm = {{"arm", "golgi"},
                  {"precision", precision},
                  {"threads", threads},
                  {"seconds", s},
                  {"rounds_seconds", seconds},
                  {"cpu_seconds", median(cpu)},
                  {"neuron_steps_per_s", neuron_steps / s},
                  {"synaptic_events", a.events},
                  {"synaptic_events_per_s", a.events / s},
                  {"spikes", a.spikes},
                  {"rate_hz", a.spikes / (c.neurons * sim_seconds)},
                  {"recurrent_synapses", a.synapses},
                  {"bytes_moved", bytes}};
      if (threads == 1 && std::string(precision) == "float32") golgi_best_1 = s;
      arms.push_back(arm);
      std::fprintf(stderr, "golgi %s threads %d: %.3f s, %.3g neuron-steps/s, %.3g events/s, %.2f Hz\n", precision,
                   threads, s, neuron_steps / s, a.events / s, a.spikes / (c.neurons * sim_seconds));
    }
  }
  Json bandwidth = Json::object();
  for (int threads : thread_list) bandwidth[std::to_string(threads)] = stream_bandwidth(threads);
  for (auto& arm : arms) {
    const double bw = bandwidth[std::to_string(arm["threads"].get<int>())].get<double>();
    arm["memory_bound_seconds"] = arm["bytes_moved"].get<double>() / bw;
    arm["fraction_of_memory_bound"] = arm["memory_bound_seconds"].get<double>() / arm["seconds"].get<double>();
  }
  // float32 against float64 on this network: same seed, same connectivity and input; any difference
  // comes from rounding (and then spreads through the recurrent connections).
  Json deviation;
  if (!counts32.empty() && counts32.size() == counts64.size()) {
    int64_t same = 0, total32 = 0, total64 = 0;
    for (size_t i = 0; i < counts32.size(); ++i) {
      same += counts32[i] == counts64[i];
      total32 += counts32[i];
      total64 += counts64[i];
    }
    deviation = {{"neurons_with_equal_spike_count", static_cast<double>(same) / counts32.size()},
                 {"spikes_float32", total32},
                 {"spikes_float64", total64},
                 {"relative_spike_count_difference", (total32 - total64) / static_cast<double>(std::max<int64_t>(1, total64))}};
  }
  Json result = {{"benchmark", "spiking_sim"},
                 {"network",
                  {{"neurons", c.neurons},
                   {"steps", c.steps},
                   {"dt_ms", c.dt},
                   {"p", c.p},
                   {"poisson_rate_hz", c.rate},
                   {"w_ext_mV", c.w_ext},
                   {"w_rec_mV", c.w_rec},
                   {"delay_steps", c.delay},
                   {"seed", c.seed}}},
                 {"stream_bandwidth_bytes_per_s", bandwidth},
                 {"arms", arms},
                 {"float32_vs_float64", deviation}};
  if (!peer.empty()) {
    Json peer_result = run_peer(peer, c, rounds);
    result["peer"] = peer_result;
    if (peer_result.is_object() && peer_result.contains("seconds")) {
      const double ps = peer_result["seconds"].get<double>();
      result["peer"]["neuron_steps_per_s"] = neuron_steps / ps;
      for (auto& arm : arms)
        if (arm["precision"] == "float32")
          result["speedup_vs_brian2_threads_" + std::to_string(arm["threads"].get<int>())] =
              ps / arm["seconds"].get<double>();
    }
  }
  (void)golgi_best_1;
  double load[3] = {0, 0, 0};
  if (getloadavg(load, 3) > 0) result["load_average"] = load[0];
  const std::string text = result.dump(2);
  std::printf("%s\n", text.c_str());
  if (!out_path.empty()) {
    FILE* f = std::fopen(out_path.c_str(), "w");
    if (!f) {
      std::fprintf(stderr, "cannot write %s\n", out_path.c_str());
      return 2;
    }
    std::fprintf(f, "%s\n", text.c_str());
    std::fclose(f);
  }
  return 0;
}
