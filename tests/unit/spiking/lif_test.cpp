// The fused multi-step LIF kernel against its step-by-step autograd reference (forward and
// gradients, every charge rule, reset, surrogate, initial membrane and refractoriness), finite
// differences on the hand-written backward (smooth-spike mode), and the surrogates themselves.
#include <gtest/gtest.h>

#include <torch/torch.h>

#include "golgi/spiking/lif.h"
#include "golgi/spiking/surrogate.h"
#include "test_support.h"

namespace {

using golgi::spiking::LifOptions;
using golgi::spiking::Surrogate;

struct Grads {
  at::Tensor spikes, v, grad_x;
};

// Runs one implementation with fixed upstream gradients on spikes and membrane.
Grads run(bool fused, const at::Tensor& x0, const LifOptions& options, const at::Tensor& w_s, const at::Tensor& w_v) {
  at::Tensor x = x0.detach().clone().requires_grad_(true);
  auto out = fused ? golgi::spiking::lif_multistep(x, options) : golgi::spiking::lif_multistep_reference(x, options);
  (out.spikes * w_s + out.v * w_v).sum().backward();
  return {out.spikes.detach(), out.v.detach(), x.grad()};
}

void expect_close(const at::Tensor& a, const at::Tensor& b, double tolerance, const std::string& what) {
  const double diff = (a - b).abs().max().item<double>();
  const double scale = 1 + b.abs().max().item<double>();
  EXPECT_LE(diff, tolerance * scale) << what << ": max |diff| " << diff;
}

std::vector<LifOptions> configurations() {
  std::vector<LifOptions> out;
  for (const char* charge : {"decay", "decay_input", "no_decay_input", "if"})
    for (const char* reset : {"hard", "soft"})
      for (bool detach : {false, true})
        for (const char* init : {"zero", "half_threshold"}) {
          LifOptions o;
          o.charge(charge).reset(reset).detach_reset(detach).v_init(init).tau_m(3.0).v_reset(-0.1);
          out.push_back(o);
        }
  return out;
}

std::string describe(const LifOptions& o) { return LifOptions::schema().to_json(o).dump(); }

TEST(SpikingLif, FusedEqualsReferenceInFloat64ForEveryConfiguration) {
  torch::manual_seed(0);
  const at::Tensor x = torch::randn({24, 3, 7}, torch::kDouble) * 0.8 + 0.4;
  const at::Tensor w_s = torch::randn_like(x), w_v = torch::randn_like(x);
  for (auto options : configurations())
    for (const char* surrogate : {"atan", "sigmoid", "fast_sigmoid", "rectangular"}) {
      options.surrogate(surrogate).alpha(std::string(surrogate) == "fast_sigmoid" ? 5.0 : 2.0);
      const auto fused = run(true, x, options, w_s, w_v), reference = run(false, x, options, w_s, w_v);
      const std::string what = describe(options);
      EXPECT_TRUE(torch::equal(fused.spikes, reference.spikes)) << what;
      expect_close(fused.v, reference.v, 1e-12, what + " membrane");
      expect_close(fused.grad_x, reference.grad_x, 1e-10, what + " gradient");
      EXPECT_GT(fused.spikes.sum().item<double>(), 0) << what << ": no spikes, the comparison says little";
    }
}

TEST(SpikingLif, FusedEqualsReferenceInFloat32WithinTolerance) {
  torch::manual_seed(1);
  const at::Tensor x = torch::randn({50, 4, 33}) * 0.7 + 0.3;
  const at::Tensor w_s = torch::randn_like(x), w_v = torch::randn_like(x);
  for (const auto& options : configurations()) {
    const auto fused = run(true, x, options, w_s, w_v), reference = run(false, x, options, w_s, w_v);
    const std::string what = describe(options);
    EXPECT_TRUE(torch::equal(fused.spikes, reference.spikes)) << what;
    expect_close(fused.v, reference.v, 1e-5, what + " membrane");
    expect_close(fused.grad_x, reference.grad_x, 1e-5, what + " gradient");
  }
}

TEST(SpikingLif, RefractoryStepsSilenceAndClampTheNeuron) {
  torch::manual_seed(2);
  const at::Tensor x = torch::rand({40, 2, 9}, torch::kDouble) * 1.5;
  const at::Tensor w_s = torch::randn_like(x), w_v = torch::randn_like(x);
  for (auto options : configurations()) {
    options.refractory_steps(3);
    const auto fused = run(true, x, options, w_s, w_v), reference = run(false, x, options, w_s, w_v);
    const std::string what = describe(options);
    EXPECT_TRUE(torch::equal(fused.spikes, reference.spikes)) << what;
    expect_close(fused.v, reference.v, 1e-12, what + " membrane");
    expect_close(fused.grad_x, reference.grad_x, 1e-10, what + " gradient");
  }
  // After each spike, three silent steps at V_reset.
  LifOptions o;
  o.refractory_steps(3).charge("if");
  auto out = golgi::spiking::lif_multistep(torch::full({12, 1, 1}, 2.0, torch::kDouble), o);
  std::vector<double> spikes(out.spikes.data_ptr<double>(), out.spikes.data_ptr<double>() + 12);
  EXPECT_EQ(spikes, (std::vector<double>{1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0}));
}

TEST(SpikingLif, HandWrittenBackwardMatchesFiniteDifferences) {
  // Smooth spikes (the surrogate's primitive) make the surrogate gradient the true gradient.
  torch::manual_seed(3);
  const at::Tensor x = torch::randn({12, 2, 3}, torch::kDouble) * 0.6 + 0.5;
  const at::Tensor w_s = torch::randn_like(x), w_v = torch::randn_like(x);
  for (auto options : configurations()) {
    if (options.detach_reset()) continue;  // detaching drops a true gradient path on purpose
    for (const char* surrogate : {"atan", "sigmoid", "fast_sigmoid"}) {
      options.surrogate(surrogate).smooth_spikes(true);
      auto loss = [&](const at::Tensor& input) {
        auto out = golgi::spiking::lif_multistep(input, options);
        return (out.spikes * w_s + out.v * w_v).sum().item<double>();
      };
      const at::Tensor analytic = run(true, x, options, w_s, w_v).grad_x;
      at::Tensor numeric = torch::zeros_like(x);
      const double eps = 1e-6;
      for (int64_t i = 0; i < x.numel(); ++i) {
        at::Tensor plus = x.clone(), minus = x.clone();
        plus.view(-1)[i] += eps;
        minus.view(-1)[i] -= eps;
        numeric.view(-1)[i] = (loss(plus) - loss(minus)) / (2 * eps);
      }
      expect_close(analytic, numeric, 1e-6, describe(options) + " vs finite differences");
    }
  }
}

TEST(SpikingLif, ChargeRulesFollowTheirEquations) {
  // One step from the initial membrane, no spike: h is the charge rule's value.
  const at::Tensor x = torch::full({1, 1, 1}, 0.3, torch::kDouble);
  LifOptions o;
  o.tau_m(4.0).v_init("half_threshold").v_threshold(1.0).v_reset(0.1);
  auto v_of = [&](const char* charge) { return golgi::spiking::lif_multistep(x, LifOptions(o).charge(charge)).v.item<double>(); };
  EXPECT_NEAR(v_of("decay"), std::exp(-1.0 / 4.0) * 0.5 + 0.3, 1e-12);
  EXPECT_NEAR(v_of("decay_input"), 0.5 + (0.3 - (0.5 - 0.1)) / 4.0, 1e-12);
  EXPECT_NEAR(v_of("no_decay_input"), 0.5 - (0.5 - 0.1) / 4.0 + 0.3, 1e-12);
  EXPECT_NEAR(v_of("if"), 0.8, 1e-12);
  // Soft reset subtracts the threshold; hard reset goes to V_reset.
  const at::Tensor big = torch::full({1, 1, 1}, 1.7, torch::kDouble);
  EXPECT_NEAR(golgi::spiking::lif_multistep(big, LifOptions().charge("if").reset("soft")).v.item<double>(), 0.7, 1e-12);
  EXPECT_NEAR(golgi::spiking::lif_multistep(big, LifOptions().charge("if").v_reset(-0.2)).v.item<double>(), -0.2, 1e-12);
}

TEST(SpikingLif, BadInputGetsOneClearError) {
  using golgi::testing::error_of;
  const at::Tensor x = torch::zeros({4, 2, 3});
  EXPECT_NE(error_of([&] { golgi::spiking::lif_multistep(x, LifOptions().tau_m(0.5)); }).find("tau_m must exceed dt"),
            std::string::npos);
  EXPECT_NE(error_of([&] { golgi::spiking::lif_multistep(torch::zeros({4}), {}); }).find("[T, batch"), std::string::npos);
  EXPECT_NE(error_of([&] { golgi::spiking::lif_multistep(torch::zeros({4, 2}, torch::kLong), {}); }).find("float32 or float64"),
            std::string::npos);
  EXPECT_NE(error_of([&] { golgi::spiking::lif_multistep(x, LifOptions().surrogate("relu")); }).find("surrogate"),
            std::string::npos);
  EXPECT_NE(error_of([&] { golgi::spiking::lif_multistep(x, LifOptions().smooth_spikes(true).refractory_steps(2)); })
                .find("smooth_spikes"),
            std::string::npos);
}

TEST(SpikingSurrogate, GradientIsTheDerivativeOfThePrimitive) {
  for (const char* name : {"atan", "sigmoid", "fast_sigmoid", "rectangular"}) {
    const Surrogate s = Surrogate::parse(name, 2.5);
    for (double x : {-1.3, -0.4, -0.05, 0.0, 0.07, 0.3, 0.9}) {
      if (std::string(name) == "rectangular" && std::fabs(std::fabs(x) - 1.25) < 1e-3) continue;  // kinks
      // Small steps: fast_sigmoid's second derivative jumps at 0, so the central difference's error
      // there is O(eps) rather than O(eps²).
      const double eps = 1e-7;
      const double numeric = (s.primitive(x + eps) - s.primitive(x - eps)) / (2 * eps);
      EXPECT_NEAR(s.grad(x), numeric, 1e-6) << name << " at " << x;
    }
  }
  // ATan with α = 2 (SpikingJelly's default): σ'(0) = α / 2 = 1.
  EXPECT_DOUBLE_EQ(Surrogate::parse("atan", 2.0).grad(0.0), 1.0);
}

TEST(SpikingSurrogate, AutogradSpikeIsAStepWithTheSurrogateBackward) {
  const at::Tensor x = torch::tensor({-0.5, -0.01, 0.0, 0.2}, torch::kDouble).requires_grad_(true);
  const Surrogate s = Surrogate::parse("sigmoid", 4.0);
  at::Tensor y = golgi::spiking::spike(x, s);
  EXPECT_TRUE(torch::equal(y.detach(), torch::tensor({0.0, 0.0, 1.0, 1.0}, torch::kDouble)));
  y.sum().backward();
  for (int64_t i = 0; i < 4; ++i) EXPECT_NEAR(x.grad()[i].item<double>(), s.grad(x[i].item<double>()), 1e-12);
  at::Tensor q = torch::tensor({0.4, 1.6}, torch::kDouble).requires_grad_(true);
  at::Tensor r = golgi::spiking::straight_through_round(q);
  EXPECT_TRUE(torch::equal(r.detach(), torch::tensor({0.0, 2.0}, torch::kDouble)));
  r.sum().backward();
  EXPECT_TRUE(torch::equal(q.grad(), torch::ones({2}, torch::kDouble)));
}

}  // namespace
