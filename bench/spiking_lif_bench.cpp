// Issue 5 speed target "training": a 140-256-256-20 LIF network, T = 100, batch 64, forward +
// backward + Adam, against an idiomatic python3-torch eager loop (bench/peers/spiking_lif.py).
//
// golgi arm: each Linear runs once over all T·batch rows as a spike-sparse product
// (spiking/spike_linear.h: the inputs are 0/1), then the fused multi-step LIF kernel
// (spiking/lif.h). Two more golgi arms show what each part buys: dense Linear + fused kernel, and
// dense Linear + the step-by-step autograd reference of the same neuron.
//
// --shape onn: the Open Neuromorphic SNN-library benchmark shape, one Linear(n, n) + LIF layer,
// batch 16, T 500, analog input (torch.rand), forward + backward of the summed spikes; no
// optimiser. The input is analog, so the Linear is dense in every arm and only the neuron differs.
//
// Arms alternate round by round on the same threads; prints one JSON object.
//
// usage: golgi_bench_spiking_lif [--shape train|onn] [--n 512] [--arm NAME] [--threads N] [--steps K] [--rounds R]
//                                [--peer bench/peers/spiking_lif.py]
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "golgi/core/json.h"
#include "golgi/spiking/lif.h"
#include "golgi/spiking/readout.h"
#include "golgi/spiking/spike_linear.h"

namespace {

enum class Arm { Golgi, DenseFused, DenseReference };

struct Net : torch::nn::Module {
  torch::nn::Linear fc1{nullptr}, fc2{nullptr}, fc3{nullptr};
  golgi::spiking::LifOptions lif;
  Arm arm = Arm::Golgi;
  Net() {
    fc1 = register_module("fc1", torch::nn::Linear(140, 256));
    fc2 = register_module("fc2", torch::nn::Linear(256, 256));
    fc3 = register_module("fc3", torch::nn::Linear(256, 20));
    lif.charge("decay").tau_m(2.0).v_threshold(1.0).reset("hard").surrogate("atan").alpha(2.0);
  }
  at::Tensor neurons(const at::Tensor& current) {
    return (arm == Arm::DenseReference ? golgi::spiking::lif_multistep_reference(current, lif)
                                       : golgi::spiking::lif_multistep(current, lif))
        .spikes;
  }
  at::Tensor linear(torch::nn::Linear& fc, const at::Tensor& x) {
    return arm == Arm::Golgi ? golgi::spiking::spike_linear(x, fc->weight, fc->bias) : fc->forward(x);
  }
  at::Tensor forward(const at::Tensor& x) {  // x [T, B, 140]
    at::Tensor s1 = neurons(linear(fc1, x));
    at::Tensor s2 = neurons(linear(fc2, s1));
    return golgi::spiking::mean_over_time(linear(fc3, s2));
  }
};

// One Linear(n, n) + LIF layer (the Open Neuromorphic shape).
struct Layer : torch::nn::Module {
  torch::nn::Linear fc{nullptr};
  golgi::spiking::LifOptions lif;
  Arm arm = Arm::Golgi;
  explicit Layer(int64_t n) {
    fc = register_module("fc", torch::nn::Linear(n, n));
    lif.charge("decay").tau_m(2.0).v_threshold(1.0).reset("hard").surrogate("atan").alpha(2.0);
  }
  at::Tensor forward(const at::Tensor& x) {
    at::Tensor current = fc->forward(x);
    return (arm == Arm::DenseReference ? golgi::spiking::lif_multistep_reference(current, lif)
                                       : golgi::spiking::lif_multistep(current, lif))
        .spikes;
  }
};

template <typename Step>
double time_steps(Step&& step, int steps) {
  step();  // warm-up
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < steps; ++i) step();
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / steps;
}

double ms_per_step(Layer& layer, const at::Tensor& x, int steps) {
  return time_steps(
      [&] {
        layer.zero_grad();
        layer.forward(x).sum().backward();
      },
      steps);
}

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

double run_peer(const std::string& peer, const std::string& shape, int64_t n, int threads, int steps) {
  std::string command = "/usr/bin/python3 " + peer + " --shape " + shape + " --n " + std::to_string(n) +
                        " --threads " + std::to_string(threads) + " --steps " + std::to_string(steps);
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
  int64_t n = 512;
  std::string peer, shape = "train", only_arm;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--threads") threads = std::stoi(value);
    else if (flag == "--steps") steps = std::stoi(value);
    else if (flag == "--rounds") rounds = std::stoi(value);
    else if (flag == "--peer") peer = value;
    else if (flag == "--shape") shape = value;
    else if (flag == "--n") n = std::stoll(value);
    else if (flag == "--arm") only_arm = value;
    else {
      std::fprintf(stderr, "unknown flag %s (known: --shape --n --arm --threads --steps --rounds --peer)\n", flag.c_str());
      return 2;
    }
  }
  if (shape != "train" && shape != "onn") {
    std::fprintf(stderr, "--shape must be train or onn, got %s\n", shape.c_str());
    return 2;
  }
  torch::set_num_threads(threads);
  torch::manual_seed(0);
  std::vector<std::pair<std::string, Arm>> arms = {
      {"golgi", Arm::Golgi}, {"golgi_dense_linear", Arm::DenseFused}, {"golgi_reference_neuron", Arm::DenseReference}};
  // --arm NAME runs one arm only (for profiling).
  if (!only_arm.empty()) {
    arms.erase(std::remove_if(arms.begin(), arms.end(), [&](const auto& a) { return a.first != only_arm; }), arms.end());
    if (arms.empty()) {
      std::fprintf(stderr, "--arm must be golgi, golgi_dense_linear or golgi_reference_neuron\n");
      return 2;
    }
  }
  std::map<std::string, std::vector<double>> ms;
  golgi::Json rounds_json = golgi::Json::array();
  if (shape == "train") {
    const at::Tensor x = (torch::rand({100, 64, 140}) < 0.2).to(torch::kFloat);
    const at::Tensor y = torch::randint(0, 20, {64}, torch::kLong);
    std::vector<std::shared_ptr<Net>> nets;
    std::vector<std::shared_ptr<torch::optim::Adam>> opts;
    for (const auto& arm : arms) {
      torch::manual_seed(0);
      nets.push_back(std::make_shared<Net>());
      nets.back()->arm = arm.second;
      opts.push_back(std::make_shared<torch::optim::Adam>(nets.back()->parameters(), 1e-3));
    }
    for (int r = 0; r < rounds; ++r) {
      golgi::Json round = golgi::Json::object();
      for (size_t a = 0; a < arms.size(); ++a) {
        ms[arms[a].first].push_back(ms_per_step(*nets[a], *opts[a], x, y, steps));
        round[arms[a].first + "_ms"] = ms[arms[a].first].back();
      }
      if (!peer.empty()) round["peer_ms"] = ms["peer"].emplace_back(run_peer(peer, shape, n, threads, steps));
      rounds_json.push_back(round);
    }
  } else {
    const at::Tensor x = torch::rand({500, 16, n});
    std::vector<std::shared_ptr<Layer>> layers;
    for (const auto& arm : arms) {
      torch::manual_seed(0);
      layers.push_back(std::make_shared<Layer>(n));
      layers.back()->arm = arm.second;
    }
    for (int r = 0; r < rounds; ++r) {
      golgi::Json round = golgi::Json::object();
      for (size_t a = 0; a < arms.size(); ++a) {
        if (arms[a].second == Arm::DenseFused) continue;  // same as golgi here: the input is analog
        ms[arms[a].first].push_back(ms_per_step(*layers[a], x, steps));
        round[arms[a].first + "_ms"] = ms[arms[a].first].back();
      }
      if (!peer.empty()) round["peer_ms"] = ms["peer"].emplace_back(run_peer(peer, shape, n, threads, steps));
      rounds_json.push_back(round);
    }
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? NAN : v[v.size() / 2];
  };
  golgi::Json out{{"benchmark", shape == "train" ? "spiking_lif_training" : "spiking_lif_open_neuromorphic"},
                  {"network", shape == "train" ? "140-256-256-20 LIF, T 100, batch 64, Adam"
                                               : "Linear(" + std::to_string(n) + ", " + std::to_string(n) +
                                                     ") + LIF, T 500, batch 16, forward + backward"},
                  {"threads", threads},
                  {"steps_per_round", steps},
                  {"rounds", rounds_json}};
  for (const auto& [name, values] : ms) out[name + "_ms"] = median(values);
  if (!peer.empty()) out["peer_over_golgi"] = median(ms["peer"]) / median(ms["golgi"]);
  std::printf("%s\n", out.dump(2).c_str());
  return 0;
}
