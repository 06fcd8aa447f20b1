#include "golgi/spiking/lif_layer.h"

#include <torch/torch.h>

#include <cmath>

#include "golgi/core/error.h"

namespace golgi::spiking {

const std::vector<NeuronQuantity>& lif_anatomy() {
  static const std::vector<NeuronQuantity> anatomy = {
      {"tau_m", "parameter", "dt", "membrane time constant (> dt; learnable per neuron)"},
      {"V_th", "parameter", "V", "firing threshold (learnable per neuron)"},
      {"V_reset", "parameter", "V", "reset potential (hard reset)"},
      {"t_ref", "parameter", "steps", "refractory period (refractory_steps)"},
      {"beta_a", "parameter", "V", "threshold rise per unit of adaptation (ALIF; adaptation)"},
      {"tau_a", "parameter", "dt", "adaptation time constant (ALIF; tau_adapt)"},
      {"V_m", "state", "V", "membrane potential"},
      {"a", "state", "1", "adaptation (ALIF)"},
      {"V_m", "recordable", "V", "membrane after each step's reset (hook_V_m)"},
      {"spikes", "recordable", "1", "0/1 spikes (hook_spikes)"},
      {"V_th", "recordable", "V", "adaptive threshold A_t (ALIF; hook_V_th)"},
  };
  return anatomy;
}

LifLayerImpl::LifLayerImpl(int64_t neurons, LifOptions options, LifLearning learning)
    : neurons_(neurons), options_(std::move(options)), learning_(learning) {
  GOLGI_CHECK(neurons > 0, "LifLayer: neurons must be > 0, got ", neurons);
  lif_multistep(torch::zeros({1, 1, 1}), options_);  // validates the options (one step, one neuron)
  if (learning_.tau_m()) {
    // tau_m = dt (1 + exp(−w))  <=>  w = −log(tau_m / dt − 1).
    const double w = -std::log(options_.tau_m() / options_.dt() - 1);
    tau_raw_ = register_parameter("tau_m_raw", torch::full({neurons}, w));
  }
  if (learning_.v_threshold())
    v_threshold_ = register_parameter("V_th", torch::full({neurons}, options_.v_threshold()));
  hook_V_m_ = register_module("hook_V_m", hooks::HookPoint("[T, batch, neurons]", -1));
  hook_spikes_ = register_module("hook_spikes", hooks::HookPoint("[T, batch, neurons]", -1));
  hook_V_th_ = register_module("hook_V_th", hooks::HookPoint("[T, batch, neurons]", -1));
}

at::Tensor LifLayerImpl::tau_m() const {
  // w is capped at 12 (tau_m >= dt (1 + 6e-6)): beyond that 1 + exp(−w) rounds to 1 in float32.
  if (tau_raw_.defined()) return options_.dt() * (1 + torch::exp(-tau_raw_.clamp_max(12.0)));
  return torch::full({neurons_}, options_.tau_m());
}

at::Tensor LifLayerImpl::v_threshold() const {
  if (v_threshold_.defined()) return v_threshold_;
  return torch::full({neurons_}, options_.v_threshold());
}

LifOutput LifLayerImpl::run(const at::Tensor& current) {
  GOLGI_CHECK(current.dim() == 3 && current.size(2) == neurons_, "LifLayer: current must be [T, batch, ", neurons_,
              "], got ", current.sizes());
  LifParameters parameters;
  if (tau_raw_.defined()) parameters.tau_m = tau_m().to(current.scalar_type());
  if (v_threshold_.defined()) parameters.v_threshold = v_threshold_.to(current.scalar_type());
  LifOutput out = lif_multistep(current, options_, parameters);
  out.v = hook_V_m_(out.v);
  if (out.threshold.defined()) out.threshold = hook_V_th_(out.threshold);
  out.spikes = hook_spikes_(out.spikes);
  return out;
}

at::Tensor LifLayerImpl::forward(const at::Tensor& current) { return run(current).spikes; }

Json LifLayerImpl::describe() const {
  auto summary = [](const at::Tensor& t) {
    const at::Tensor d = t.detach().to(torch::kDouble);
    return Json{{"mean", d.mean().item<double>()}, {"min", d.min().item<double>()}, {"max", d.max().item<double>()}};
  };
  Json parameters = Json::object();
  parameters["tau_m"] = {{"unit", "dt"}, {"learned", learning_.tau_m()},
                         {"value", learning_.tau_m() ? summary(tau_m()) : Json(options_.tau_m())}};
  parameters["V_th"] = {{"unit", "V"}, {"learned", learning_.v_threshold()},
                        {"value", learning_.v_threshold() ? summary(v_threshold()) : Json(options_.v_threshold())}};
  parameters["V_reset"] = {{"unit", "V"}, {"value", options_.v_reset()}};
  parameters["t_ref"] = {{"unit", "steps"}, {"value", options_.refractory_steps()}};
  if (options_.adaptation() > 0) {
    parameters["beta_a"] = {{"unit", "V"}, {"value", options_.adaptation()}};
    parameters["tau_a"] = {{"unit", "dt"}, {"value", options_.tau_adapt()}};
  }
  Json recordables = {"V_m", "spikes"};
  if (options_.adaptation() > 0) recordables.push_back("V_th");
  return {{"model", options_.adaptation() > 0 ? "alif" : "lif"},
          {"neurons", neurons_},
          {"dt", options_.dt()},
          {"options", LifOptions::schema().to_json(options_)},
          {"parameters", parameters},
          {"recordables", recordables}};
}

}  // namespace golgi::spiking
