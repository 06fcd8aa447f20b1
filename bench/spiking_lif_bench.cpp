// Issue 5 speed target "training": a 140-256-256-20 LIF network, T = 100, batch 64, forward +
// backward + Adam, against an idiomatic python3-torch eager loop (bench/peers/spiking_lif.py).
//
// golgi arm: each Linear runs once over all T·batch rows (one matrix product), then the fused
// multi-step LIF kernel (spiking/lif.h). A second golgi arm runs the step-by-step autograd
// reference of the same neuron, to show what the fused kernel buys inside golgi.
// Both arms alternate round by round on the same threads; prints one JSON object.
//
// usage: golgi_bench_spiking_lif [--threads N] [--steps K] [--rounds R] [--peer bench/peers/spiking_lif.py]
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>

#include "golgi/core/json.h"
#include "golgi/spiking/lif.h"
#include "golgi/spiking/readout.h"

namespace {

struct Net : torch::nn::Module {
  torch::nn::Linear fc1{nullptr}, fc2{nullptr}, fc3{nullptr};
  golgi::spiking::LifOptions lif;
  bool fused = true;
  Net() {
    fc1 = register_module("fc1", torch::nn::Linear(140, 256));
    fc2 = register_module("fc2", torch::nn::Linear(256, 256));
    fc3 = register_module("fc3", torch::nn::Linear(256, 20));
    lif.charge("decay").tau_m(2.0).v_threshold(1.0).reset("hard").surrogate("atan").alpha(2.0);
  }
  at::Tensor neurons(const at::Tensor& current) {
    return (fused ? golgi::spiking::lif_multistep(current, lif) : golgi::spiking::lif_multistep_reference(current, lif))
        .spikes;
  }
  at::Tensor forward(const at::Tensor& x) {  // x [T, B, 140]
    at::Tensor s1 = neurons(fc1->forward(x));
    at::Tensor s2 = neurons(fc2->forward(s1));
    return golgi::spiking::mean_over_time(fc3->forward(s2));
  }
};

double ms_per_step(Net& net, torch::optim::Adam& opt, const at::Tensor& x, const at::Tensor& y, int steps) {
  auto step = [&] {
    opt.zero_grad();
    auto loss = torch::nn::functional::cross_entropy(net.forward(x), y);
    loss.backward();
    opt.step();
  };
  step();  // warm-up
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < steps; ++i) step();
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / steps;
}

double run_peer(const std::string& peer, int threads, int steps) {
  std::string command = "/usr/bin/python3 " + peer + " --threads " + std::to_string(threads) + " --steps " +
                        std::to_string(steps);
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return NAN;
  std::string out;
  char buffer[512];
  while (fgets(buffer, sizeof(buffer), pipe)) out += buffer;
  if (pclose(pipe) != 0 || out.empty()) return NAN;
  return golgi::Json::parse(out)["ms_per_step"].get<double>();
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 1, steps = 10, rounds = 3;
  std::string peer;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--threads") threads = std::stoi(value);
    else if (flag == "--steps") steps = std::stoi(value);
    else if (flag == "--rounds") rounds = std::stoi(value);
    else if (flag == "--peer") peer = value;
    else {
      std::fprintf(stderr, "unknown flag %s (known: --threads --steps --rounds --peer)\n", flag.c_str());
      return 2;
    }
  }
  torch::set_num_threads(threads);
  torch::manual_seed(0);
  const at::Tensor x = (torch::rand({100, 64, 140}) < 0.2).to(torch::kFloat);
  const at::Tensor y = torch::randint(0, 20, {64}, torch::kLong);
  Net fused_net, reference_net;
  reference_net.fused = false;
  torch::optim::Adam fused_opt(fused_net.parameters(), 1e-3), reference_opt(reference_net.parameters(), 1e-3);
  golgi::Json rounds_json = golgi::Json::array();
  std::vector<double> golgi_ms, reference_ms, peer_ms;
  for (int r = 0; r < rounds; ++r) {
    golgi_ms.push_back(ms_per_step(fused_net, fused_opt, x, y, steps));
    reference_ms.push_back(ms_per_step(reference_net, reference_opt, x, y, steps));
    if (!peer.empty()) peer_ms.push_back(run_peer(peer, threads, steps));
    rounds_json.push_back({{"golgi_fused_ms", golgi_ms.back()},
                           {"golgi_reference_ms", reference_ms.back()},
                           {"peer_ms", peer.empty() ? golgi::Json() : golgi::Json(peer_ms.back())}});
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? NAN : v[v.size() / 2];
  };
  golgi::Json out{{"benchmark", "spiking_lif_training"},
                  {"network", "140-256-256-20 LIF, T 100, batch 64, Adam"},
                  {"threads", threads},
                  {"steps_per_round", steps},
                  {"rounds", rounds_json},
                  {"golgi_fused_ms", median(golgi_ms)},
                  {"golgi_reference_ms", median(reference_ms)},
                  {"peer_ms", peer.empty() ? golgi::Json() : golgi::Json(median(peer_ms))}};
  if (!peer.empty()) out["peer_over_golgi"] = median(peer_ms) / median(golgi_ms);
  std::printf("%s\n", out.dump(2).c_str());
  return 0;
}
