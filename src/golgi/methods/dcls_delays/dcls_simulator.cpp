#include "golgi/methods/dcls_delays/dcls_simulator.h"

#include <chrono>
#include <cmath>

#include <torch/torch.h>

#include "golgi/core/error.h"
#include "golgi/data/dataset.h"
#include "golgi/spiking/lif.h"
#include "golgi/spiking/readout.h"
#include "golgi/spiking/sim/network.h"
#include "golgi/spiking/sim/simulator.h"

namespace golgi::methods {

int64_t DclsFoldedNetwork::inputs() const { return layers.empty() ? 0 : layers.front().weight.size(1); }
int64_t DclsFoldedNetwork::classes() const { return layers.empty() ? 0 : layers.back().weight.size(0); }

namespace {

void check_network(const DclsFoldedNetwork& network) {
  GOLGI_CHECK(network.layers.size() >= 1, "dcls: the folded network has no layers");
  GOLGI_CHECK(network.tau_m > 1.0, "dcls: tau_m must be > 1 step for the simulator mapping (β = 1 − 1/τ in (0, 1)), got ",
              network.tau_m);
  for (const auto& layer : network.layers) {
    GOLGI_CHECK(layer.weight.dim() == 2 && layer.delays.sizes() == layer.weight.sizes() &&
                    layer.bias.dim() == 1 && layer.bias.size(0) == layer.weight.size(0),
                "dcls: layer ", layer.name, " has inconsistent shapes: weight ", layer.weight.sizes(), ", delays ",
                layer.delays.sizes(), ", bias ", layer.bias.sizes());
  }
}

// One-hot kernel [out, in, K]: weight at each synapse's integer delay.
at::Tensor integer_delay_kernel(const DclsFoldedLayer& layer, int64_t kernel_size) {
  at::Tensor kernel = torch::zeros({layer.weight.size(0), layer.weight.size(1), kernel_size}, torch::kDouble);
  kernel.scatter_(2, layer.delays.unsqueeze(2), layer.weight.to(torch::kDouble).unsqueeze(2));
  return kernel;
}

spiking::LifOptions hidden_lif(const DclsFoldedNetwork& network) {
  return spiking::LifOptions()
      .charge("decay_input")
      .tau_m(network.tau_m)
      .v_threshold(network.v_threshold)
      .reset("hard");
}

}  // namespace

DclsForward dcls_folded_forward(const DclsFoldedNetwork& network, const at::Tensor& x) {
  check_network(network);
  GOLGI_CHECK(x.dim() == 3 && x.size(2) == network.inputs(), "dcls: inputs must be [T, batch, ", network.inputs(),
              "], got ", x.sizes());
  torch::NoGradGuard no_grad;
  DclsForward out;
  at::Tensor h = x.to(torch::kDouble);
  for (size_t l = 0; l < network.layers.size(); ++l) {
    const auto& layer = network.layers[l];
    at::Tensor y = dcls_delay_conv(h, integer_delay_kernel(layer, network.kernel_size)) + layer.bias;
    if (l + 1 == network.layers.size()) {
      out.readout_v = spiking::lif_multistep(y, hidden_lif(network).v_threshold(1e30)).v;
    } else {
      h = spiking::lif_multistep(y, hidden_lif(network)).spikes;
      out.hidden_spikes.push_back(h);
    }
  }
  return out;
}

Json dcls_simulator_network(const DclsFoldedNetwork& network, const at::Tensor& sample) {
  check_network(network);
  GOLGI_CHECK(sample.dim() == 2 && sample.size(1) == network.inputs(), "dcls: a sample must be [T, ", network.inputs(),
              "], got ", sample.sizes());
  at::Tensor s = sample.to(torch::kDouble).contiguous();
  GOLGI_CHECK(s.eq(0).logical_or(s.eq(1)).all().item<bool>(),
              "dcls: the simulator takes 0/1 spike inputs (one spike per channel and step); this sample has other values");
  const double tau = network.tau_m;
  const double beta = 1.0 - 1.0 / tau;
  const double scale = 1.0 / (tau * beta);  // an input due at step n is seen as β·w at step n + 1
  const int64_t T = s.size(0);
  const int64_t hidden_layers = static_cast<int64_t>(network.layers.size()) - 1;

  Json spikes = Json::array();
  auto acc = s.accessor<double, 2>();
  for (int64_t t = 0; t < T; ++t)
    for (int64_t i = 0; i < s.size(1); ++i)
      if (acc[t][i] != 0) spikes.push_back({i, t});
  Json bias_spikes = Json::array();
  for (int64_t t = 0; t < T; ++t) bias_spikes.push_back({0, t});

  Json populations = Json::array(), projections = Json::array(), spike_monitors = Json::array();
  const double tau_ms = -1.0 / std::log(beta);
  std::string previous = "input";
  for (size_t l = 0; l < network.layers.size(); ++l) {
    const auto& layer = network.layers[l];
    const bool readout = l + 1 == network.layers.size();
    const int64_t out = layer.weight.size(0), in = layer.weight.size(1);
    populations.push_back({{"name", layer.name},
                           {"size", out},
                           {"E_L", 0.0},
                           {"V_reset", 0.0},
                           {"V_m", 0.0},
                           {"V_th", readout ? 1e30 : network.v_threshold},
                           {"tau_m", tau_ms},
                           {"t_ref", 0.0},
                           {"I_e", 0.0}});
    at::Tensor w = layer.weight.to(torch::kDouble).contiguous();
    at::Tensor d = layer.delays.to(torch::kLong).contiguous();
    auto wa = w.accessor<double, 2>();
    auto da = d.accessor<int64_t, 2>();
    std::vector<int64_t> pre, post, delays;
    std::vector<double> weights;
    for (int64_t j = 0; j < out; ++j) {
      for (int64_t i = 0; i < in; ++i) {
        if (wa[j][i] == 0) continue;
        pre.push_back(i);
        post.push_back(j);
        weights.push_back(wa[j][i] * scale);
        delays.push_back(da[j][i]);
      }
    }
    projections.push_back({{"source", previous},
                           {"target", layer.name},
                           {"connect", "explicit"},
                           {"pre", pre},
                           {"post", post},
                           {"weight", weights},
                           {"delay", delays}});
    at::Tensor b = layer.bias.to(torch::kDouble).contiguous();
    std::vector<int64_t> bias_pre, bias_post;
    std::vector<double> bias_weights;
    for (int64_t j = 0; j < out; ++j) {
      const double bj = b[j].item<double>();
      if (bj == 0) continue;
      bias_pre.push_back(0);
      bias_post.push_back(j);
      bias_weights.push_back(bj * scale);
    }
    if (!bias_post.empty()) {
      // Layer l's input for training step t is due at simulator step t + l (see the header).
      projections.push_back({{"source", "bias"},
                             {"target", layer.name},
                             {"connect", "explicit"},
                             {"pre", bias_pre},
                             {"post", bias_post},
                             {"weight", bias_weights},
                             {"delay", static_cast<int64_t>(l)}});
    }
    if (!readout) spike_monitors.push_back(layer.name);
    previous = layer.name;
  }
  const auto& readout = network.layers.back();
  std::vector<int64_t> readout_neurons;
  for (int64_t j = 0; j < readout.weight.size(0); ++j) readout_neurons.push_back(j);
  return {{"dt", 1.0},
          {"steps", T + hidden_layers},
          {"seed", 0},
          {"deliver_after_reset", true},
          {"populations", populations},
          {"inputs",
           {{{"name", "input"}, {"type", "spike_generator"}, {"size", s.size(1)}, {"spikes", spikes}},
            {{"name", "bias"}, {"type", "spike_generator"}, {"size", 1}, {"spikes", bias_spikes}}}},
          {"projections", projections},
          {"monitors",
           {{"spikes", spike_monitors},
            {"state", {{{"population", readout.name}, {"neurons", readout_neurons}, {"variable", "V_m"}}}}}}};
}

DclsSimulated simulate_dcls_sample(const DclsFoldedNetwork& network, const at::Tensor& sample) {
  const Json description = dcls_simulator_network(network, sample);
  const spiking::sim::NetworkSpec spec = spiking::sim::parse_network(description);
  spiking::sim::Simulator<double> simulator(spec, 1);
  simulator.run(spec.steps);
  const int64_t T = sample.size(0);
  const int64_t hidden_layers = static_cast<int64_t>(network.layers.size()) - 1;
  const double beta = 1.0 - 1.0 / network.tau_m;

  DclsSimulated out;
  out.simulator_steps = spec.steps;
  for (int64_t l = 0; l < hidden_layers; ++l) {
    const auto& layer = network.layers[static_cast<size_t>(l)];
    at::Tensor spikes = torch::zeros({T, layer.weight.size(0)}, torch::kDouble);
    auto sa = spikes.accessor<double, 2>();
    const auto& record = simulator.spikes(layer.name);
    for (size_t k = 0; k < record.size(); ++k) {
      const int64_t t = record.step[k] - 1 - l;  // layer l's latency: 1 + l steps
      GOLGI_ASSERT(t >= 0, "dcls: simulator spike before the mapped window");
      // The run lasts T + L steps for the readout; shallower layers run past training's last step.
      if (t < T) sa[t][record.neuron[k]] = 1.0;
    }
    out.hidden_spikes.push_back(spikes);
  }
  const auto& state = simulator.states().at(0);
  const int64_t classes = static_cast<int64_t>(state.neurons.size());
  out.readout_v = torch::empty({T, classes}, torch::kDouble);
  auto va = out.readout_v.accessor<double, 2>();
  for (int64_t t = 0; t < T; ++t)
    for (int64_t c = 0; c < classes; ++c)
      va[t][c] = beta * state.values[static_cast<size_t>((t + hidden_layers) * classes + c)];
  return out;
}

Json DclsSimulatorCheck::to_json() const {
  return {{"samples", samples},
          {"identical_spike_samples", identical_spike_samples},
          {"spike_mismatches", spike_mismatches},
          {"hidden_spikes", hidden_spikes},
          {"max_readout_diff", max_readout_diff},
          {"same_prediction", same_prediction},
          {"torch_accuracy", torch_accuracy},
          {"simulator_accuracy", simulator_accuracy},
          {"seconds", seconds}};
}

DclsSimulatorCheck check_dcls_in_simulator(const DclsFoldedNetwork& network, const data::Dataset& data,
                                           int64_t max_samples) {
  GOLGI_CHECK(data.inputs().dim() == 3, "dcls: dataset inputs must be [N, T, channels], got ", data.inputs().sizes());
  GOLGI_CHECK(max_samples >= 0, "dcls: max_samples must be >= 0, got ", max_samples);
  const int64_t n = max_samples > 0 ? std::min(max_samples, data.size()) : data.size();
  DclsSimulatorCheck check;
  check.samples = n;
  if (n == 0) return check;
  at::Tensor inputs = data.inputs().slice(0, 0, n).to(torch::kDouble);
  at::Tensor labels = data.targets().slice(0, 0, n);
  const DclsForward reference = dcls_folded_forward(network, inputs.permute({1, 0, 2}).contiguous());
  const at::Tensor torch_prediction = spiking::sum_softmax(reference.readout_v).argmax(-1);
  int64_t torch_correct = 0, sim_correct = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int64_t k = 0; k < n; ++k) {
    const DclsSimulated sim = simulate_dcls_sample(network, inputs[k]);
    int64_t mismatches = 0;
    for (size_t l = 0; l < sim.hidden_spikes.size(); ++l) {
      at::Tensor ref = reference.hidden_spikes[l].select(1, k);
      mismatches += ref.ne(sim.hidden_spikes[l]).sum().item<int64_t>();
      check.hidden_spikes += ref.sum().item<int64_t>();
    }
    check.spike_mismatches += mismatches;
    check.identical_spike_samples += mismatches == 0;
    check.max_readout_diff = std::max(
        check.max_readout_diff, (sim.readout_v - reference.readout_v.select(1, k)).abs().max().item<double>());
    const int64_t sim_prediction = spiking::sum_softmax(sim.readout_v.unsqueeze(1)).argmax(-1).item<int64_t>();
    const int64_t label = labels[k].item<int64_t>();
    check.same_prediction += sim_prediction == torch_prediction[k].item<int64_t>();
    sim_correct += sim_prediction == label;
    torch_correct += torch_prediction[k].item<int64_t>() == label;
  }
  check.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  check.torch_accuracy = static_cast<double>(torch_correct) / static_cast<double>(n);
  check.simulator_accuracy = static_cast<double>(sim_correct) / static_cast<double>(n);
  return check;
}

}  // namespace golgi::methods
