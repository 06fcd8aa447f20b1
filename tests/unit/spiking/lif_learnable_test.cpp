// Per-neuron learnable tau_m and V_th, and the adaptive threshold (ALIF), in the fused LIF kernel:
// equality with the step-by-step autograd reference (gradients for x, tau_m and V_th), finite
// differences on the hand-written backward, the ALIF equations, and LifLayer's constraint,
// hook points and anatomy.
#include <gtest/gtest.h>

#include <torch/torch.h>

#include "golgi/spiking/lif.h"
#include "golgi/spiking/lif_layer.h"
#include "test_support.h"

namespace {

using golgi::spiking::LifOptions;
using golgi::spiking::LifParameters;

struct Result {
  at::Tensor spikes, v, threshold, grad_x, grad_tau, grad_v_th;
};

// One implementation with fixed upstream weights on every recordable; tau/v_th may be undefined.
Result run(bool fused, const at::Tensor& x0, const LifOptions& options, const at::Tensor& tau0, const at::Tensor& v_th0,
           const at::Tensor& w_s, const at::Tensor& w_v, const at::Tensor& w_a) {
  at::Tensor x = x0.detach().clone().requires_grad_(true);
  LifParameters p;
  if (tau0.defined()) p.tau_m = tau0.detach().clone().requires_grad_(true);
  if (v_th0.defined()) p.v_threshold = v_th0.detach().clone().requires_grad_(true);
  auto out = fused ? golgi::spiking::lif_multistep(x, options, p) : golgi::spiking::lif_multistep_reference(x, options, p);
  at::Tensor loss = (out.spikes * w_s + out.v * w_v).sum();
  if (out.threshold.defined()) loss = loss + (out.threshold * w_a).sum();
  loss.backward();
  return {out.spikes.detach(), out.v.detach(), out.threshold.defined() ? out.threshold.detach() : at::Tensor(), x.grad(),
          p.tau_m.defined() ? p.tau_m.grad() : at::Tensor(), p.v_threshold.defined() ? p.v_threshold.grad() : at::Tensor()};
}

void expect_close(const at::Tensor& a, const at::Tensor& b, double tolerance, const std::string& what) {
  ASSERT_TRUE(a.defined() && b.defined()) << what;
  const double diff = (a - b).abs().max().item<double>();
  const double scale = 1 + b.abs().max().item<double>();
  EXPECT_LE(diff, tolerance * scale) << what << ": max |diff| " << diff;
}

std::vector<LifOptions> configurations() {
  std::vector<LifOptions> out;
  for (const char* charge : {"decay", "decay_input", "no_decay_input", "if"})
    for (const char* reset : {"hard", "soft"})
      for (bool detach : {false, true})
        for (const char* init : {"zero", "half_threshold"})
          for (double adaptation : {0.0, 0.4}) {
            LifOptions o;
            o.charge(charge).reset(reset).detach_reset(detach).v_init(init).tau_m(3.0).v_reset(-0.1);
            o.adaptation(adaptation).tau_adapt(6.0);
            out.push_back(o);
          }
  return out;
}

std::string describe(const LifOptions& o) { return LifOptions::schema().to_json(o).dump(); }

TEST(SpikingLifLearnable, FusedEqualsReferenceForPerNeuronParametersAndAdaptation) {
  torch::manual_seed(10);
  const at::Tensor x = torch::randn({30, 3, 5}, torch::kDouble) * 0.8 + 0.45;
  const at::Tensor tau = 1.5 + 4 * torch::rand({5}, torch::kDouble);
  const at::Tensor v_th = 0.7 + 0.6 * torch::rand({5}, torch::kDouble);
  const at::Tensor w_s = torch::randn_like(x), w_v = torch::randn_like(x), w_a = torch::randn_like(x);
  for (const auto& options : configurations())
    for (int refractory : {0, 2}) {
      const LifOptions o = LifOptions(options).refractory_steps(refractory);
      const at::Tensor tau_used = o.charge() == "if" ? at::Tensor() : tau;  // IF has no time constant
      const auto fused = run(true, x, o, tau_used, v_th, w_s, w_v, w_a);
      const auto reference = run(false, x, o, tau_used, v_th, w_s, w_v, w_a);
      const std::string what = describe(o);
      EXPECT_TRUE(torch::equal(fused.spikes, reference.spikes)) << what;
      expect_close(fused.v, reference.v, 1e-12, what + " membrane");
      if (o.adaptation() > 0) expect_close(fused.threshold, reference.threshold, 1e-12, what + " threshold");
      expect_close(fused.grad_x, reference.grad_x, 1e-10, what + " dL/dx");
      if (tau_used.defined()) expect_close(fused.grad_tau, reference.grad_tau, 1e-10, what + " dL/dtau_m");
      expect_close(fused.grad_v_th, reference.grad_v_th, 1e-10, what + " dL/dV_th");
      EXPECT_GT(fused.spikes.sum().item<double>(), 0) << what;
    }
}

TEST(SpikingLifLearnable, ParameterGradientsMatchFiniteDifferences) {
  torch::manual_seed(11);
  const at::Tensor x = torch::randn({10, 2, 3}, torch::kDouble) * 0.6 + 0.5;
  const at::Tensor tau0 = torch::tensor({2.0, 3.5, 6.0}, torch::kDouble);
  const at::Tensor v_th0 = torch::tensor({0.8, 1.0, 1.2}, torch::kDouble);
  const at::Tensor w_s = torch::randn_like(x), w_v = torch::randn_like(x), w_a = torch::randn_like(x);
  for (auto options : configurations()) {
    if (options.detach_reset() || options.charge() == "if") continue;
    options.surrogate("sigmoid").alpha(3.0).smooth_spikes(true);
    auto loss = [&](const at::Tensor& tau, const at::Tensor& v_th) {
      auto out = golgi::spiking::lif_multistep(x, options, LifParameters{tau, v_th});
      at::Tensor l = (out.spikes * w_s + out.v * w_v).sum();
      if (out.threshold.defined()) l = l + (out.threshold * w_a).sum();
      return l.item<double>();
    };
    const auto analytic = run(true, x, options, tau0, v_th0, w_s, w_v, w_a);
    at::Tensor numeric_tau = torch::zeros_like(tau0), numeric_v_th = torch::zeros_like(v_th0);
    const double eps = 1e-6;
    for (int64_t i = 0; i < 3; ++i) {
      at::Tensor plus = tau0.clone(), minus = tau0.clone();
      plus[i] += eps;
      minus[i] -= eps;
      numeric_tau[i] = (loss(plus, v_th0) - loss(minus, v_th0)) / (2 * eps);
      plus = v_th0.clone();
      minus = v_th0.clone();
      plus[i] += eps;
      minus[i] -= eps;
      numeric_v_th[i] = (loss(tau0, plus) - loss(tau0, minus)) / (2 * eps);
    }
    expect_close(analytic.grad_tau, numeric_tau, 1e-6, describe(options) + " dL/dtau_m vs finite differences");
    expect_close(analytic.grad_v_th, numeric_v_th, 1e-6, describe(options) + " dL/dV_th vs finite differences");
  }
}

TEST(SpikingLifLearnable, AdaptiveThresholdFollowsItsEquations) {
  // IF neuron, constant input 0.6, V_th 1, beta_a 0.5, tau_a = 2 steps (rho = exp(-1/2)), soft reset.
  LifOptions o;
  o.charge("if").reset("soft").adaptation(0.5).tau_adapt(2.0);
  auto out = golgi::spiking::lif_multistep(torch::full({6, 1, 1}, 0.6, torch::kDouble), o);
  const double rho = std::exp(-0.5);
  double v = 0, a = 0;
  for (int64_t t = 0; t < 6; ++t) {
    const double threshold = 1 + 0.5 * a, h = v + 0.6;
    const double s = h >= threshold ? 1 : 0;
    v = h - threshold * s;
    a = rho * a + s;
    EXPECT_NEAR(out.threshold[t].item<double>(), threshold, 1e-12) << "step " << t;
    EXPECT_EQ(out.spikes[t].item<double>(), s) << "step " << t;
    EXPECT_NEAR(out.v[t].item<double>(), v, 1e-12) << "step " << t;
  }
  // Adaptation spaces the spikes out: fewer spikes than the plain neuron over a long run.
  const at::Tensor drive = torch::full({200, 1, 1}, 0.6, torch::kDouble);
  const double adaptive = golgi::spiking::lif_multistep(drive, o).spikes.sum().item<double>();
  const double plain = golgi::spiking::lif_multistep(drive, LifOptions(o).adaptation(0)).spikes.sum().item<double>();
  EXPECT_LT(adaptive, plain * 0.8);
}

TEST(SpikingLifLearnable, BadParametersGetOneClearError) {
  using golgi::testing::error_of;
  const at::Tensor x = torch::zeros({4, 2, 3});
  EXPECT_NE(error_of([&] { golgi::spiking::lif_multistep(x, {}, LifParameters{torch::full({3}, 0.9), {}}); })
                .find("every per-neuron tau_m must exceed dt"),
            std::string::npos);
  EXPECT_NE(error_of([&] { golgi::spiking::lif_multistep(x, {}, LifParameters{{}, torch::ones({4})}); })
                .find("one value per neuron (3"),
            std::string::npos);
  EXPECT_NE(error_of([&] { golgi::spiking::lif_multistep(x, {}, LifParameters{{}, torch::ones({3}, torch::kDouble)}); })
                .find("dtype"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              golgi::spiking::lif_multistep(x, {}, LifParameters{{}, torch::tensor({1.0f, NAN, 1.0f})});
            }).find("NaN"),
            std::string::npos);
  EXPECT_NE(error_of([&] { golgi::spiking::lif_multistep(x, LifOptions().adaptation(0.2).tau_adapt(0.5)); })
                .find("tau_adapt must exceed dt"),
            std::string::npos);
}

TEST(SpikingLifLayer, LearnedTimeConstantStaysAboveDtAndTrains) {
  torch::manual_seed(12);
  golgi::spiking::LifLayer layer(4, LifOptions().tau_m(2.0), golgi::spiking::LifLearning().tau_m(true).v_threshold(true));
  EXPECT_TRUE(torch::allclose(layer->tau_m(), torch::full({4}, 2.0), 1e-6));
  EXPECT_EQ(layer->parameters().size(), 2u);
  // Push the raw parameter far toward "forget everything": tau_m still exceeds dt.
  {
    torch::NoGradGuard no_grad;
    layer->named_parameters()["tau_m_raw"].fill_(40.0);
  }
  EXPECT_GT(layer->tau_m().min().item<double>(), 1.0);
  EXPECT_NO_THROW(layer->forward(torch::rand({5, 2, 4})));
  // Gradients reach both parameters.
  {
    torch::NoGradGuard no_grad;
    layer->named_parameters()["tau_m_raw"].fill_(0.3);
  }
  at::Tensor current = torch::rand({20, 3, 4}) * 0.8;
  at::Tensor spikes = layer->forward(current);
  (spikes.sum() + layer->run(current).v.sum()).backward();
  for (const auto& p : layer->named_parameters()) {
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
    EXPECT_GT(p.value().grad().abs().sum().item<double>(), 0) << p.key();
  }
  const auto card = layer->describe();
  EXPECT_TRUE(card["parameters"]["tau_m"]["learned"].get<bool>());
  EXPECT_EQ(card["recordables"], golgi::Json({"V_m", "spikes"}));
}

TEST(SpikingLifLayer, AnatomyNamesEveryRecordableAndWrongShapesAreRefused) {
  bool has_v_m = false, has_spikes = false;
  for (const auto& q : golgi::spiking::lif_anatomy()) {
    has_v_m = has_v_m || (q.kind == "recordable" && q.name == "V_m");
    has_spikes = has_spikes || (q.kind == "recordable" && q.name == "spikes");
    EXPECT_FALSE(q.unit.empty()) << q.name;
  }
  EXPECT_TRUE(has_v_m && has_spikes);
  golgi::spiking::LifLayer layer(3, LifOptions().adaptation(0.3));
  EXPECT_EQ(layer->describe()["recordables"], golgi::Json({"V_m", "spikes", "V_th"}));
  EXPECT_NE(golgi::testing::error_of([&] { layer->forward(torch::zeros({4, 2, 5})); }).find("[T, batch, 3]"),
            std::string::npos);
  EXPECT_NE(golgi::testing::error_of([&] { golgi::spiking::LifLayer(3, LifOptions().tau_m(0.2)); }).find("tau_m"),
            std::string::npos);
}

}  // namespace
