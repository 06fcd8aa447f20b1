// Learned delays by DCLS (paper id dcls-delays): kernel known values, finite-difference gradients of
// the kernel construction, causality and delay semantics of the convolution, position clamping,
// the σ schedule and option validation. The cross-check against numpy (kernels and convolution
// rebuilt from exported w, P, σ) is tests/xcheck/dcls_delays_numpy.sh.
#include <cmath>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "golgi/core/error.h"
#include "golgi/core/json.h"
#include "golgi/data/dataset.h"
#include "golgi/methods/dcls_delays/dcls_delays.h"
#include "golgi/methods/dcls_delays/dcls_simulator.h"
#include "test_support.h"

namespace golgi::methods {
namespace {

using golgi::testing::error_of;

at::Tensor f64(std::vector<double> v, std::vector<int64_t> shape) {
  return torch::tensor(v, torch::kDouble).reshape(shape);
}

TEST(DclsKernel, KnownValueUnitWidth) {
  // K = 3, c = 1, P = 0, σ = 0.73: width |σ| + 0.27 = 1, so g = [e^-½, 1, e^-½] over delays 0, 1, 2.
  const double w = 2.0, e = std::exp(-0.5), norm = 1 + 2 * e + 1e-7;
  at::Tensor k = dcls_kernel(f64({w}, {1, 1}), f64({0}, {1, 1}), torch::tensor(0.73, torch::kDouble), 3);
  ASSERT_EQ(k.sizes(), (std::vector<int64_t>{1, 1, 3}));
  EXPECT_NEAR(k[0][0][0].item<double>(), w * e / norm, 1e-14);
  EXPECT_NEAR(k[0][0][1].item<double>(), w / norm, 1e-14);
  EXPECT_NEAR(k[0][0][2].item<double>(), w * e / norm, 1e-14);
}

TEST(DclsKernel, OffCentreKnownValueAndSum) {
  // K = 4, c = 2, P = −0.5 (centre at delay 1.5), σ = 1.73 (width 2): taps at distances 1.5, 0.5,
  // 0.5, 1.5 from the centre.
  const double a = std::exp(-0.5 * 0.75 * 0.75), b = std::exp(-0.5 * 0.25 * 0.25);
  const double norm = 2 * a + 2 * b + 1e-7, w = -0.7;
  at::Tensor k = dcls_kernel(f64({w}, {1, 1}), f64({-0.5}, {1, 1}), torch::tensor(-1.73, torch::kDouble), 4);
  EXPECT_NEAR(k[0][0][0].item<double>(), w * a / norm, 1e-14);
  EXPECT_NEAR(k[0][0][1].item<double>(), w * b / norm, 1e-14);
  EXPECT_NEAR(k[0][0][3].item<double>(), w * a / norm, 1e-14);  // |σ|: the sign does not matter
  // Every kernel sums to its weight (up to the 1e-7 in the normaliser).
  at::Tensor wr = torch::randn({5, 7}, torch::kDouble);
  at::Tensor pr = torch::rand({5, 7}, torch::kDouble) * 20 - 10;
  for (double sigma : {0.0, 0.3, 5.0}) {
    at::Tensor kr = dcls_kernel(wr, pr, torch::tensor(sigma, torch::kDouble), 21);
    EXPECT_LT((kr.sum(-1) - wr).abs().max().item<double>(), 1e-6) << "sigma " << sigma;
  }
}

TEST(DclsKernel, SigmaZeroIsNearlyOneHotAtRoundedPosition) {
  // σ = 0 leaves the 0.27 floor: the neighbours of an integer centre get exp(−½/0.27²) ≈ 1.05e-3 of it.
  at::Tensor k = dcls_kernel(f64({1.0}, {1, 1}), f64({2.0}, {1, 1}), torch::tensor(0.0, torch::kDouble), 9);
  EXPECT_EQ(k.argmax(-1).item<int64_t>(), 6);  // 2 + floor(9/2)
  EXPECT_NEAR(k[0][0][5].item<double>() / k[0][0][6].item<double>(), std::exp(-0.5 / (0.27 * 0.27)), 1e-12);
  EXPECT_GT(k[0][0][6].item<double>(), 0.997);
  // A non-integer position peaks at its rounded delay.
  at::Tensor k2 = dcls_kernel(f64({1.0}, {1, 1}), f64({-1.4}, {1, 1}), torch::tensor(0.0, torch::kDouble), 9);
  EXPECT_EQ(k2.argmax(-1).item<int64_t>(), 3);
}

TEST(DclsKernel, RoundedKernelIsExactOneHot) {
  // K = 5, c = 2; positions −2 (delay 0), 0.5 (half to even: 0 -> delay 2), 1.5 (-> 2 -> delay 4),
  // −0.6 (-> −1 -> delay 1).
  at::Tensor w = f64({1.5, -2.0, 0.25, 3.0}, {2, 2});
  at::Tensor p = f64({-2.0, 0.5, 1.5, -0.6}, {2, 2});
  at::Tensor k = dcls_rounded_kernel(w, p, 5);
  at::Tensor d = dcls_integer_delays(p, 5);
  EXPECT_TRUE(torch::equal(d, torch::tensor({0, 2, 4, 1}, torch::kLong).reshape({2, 2})));
  EXPECT_TRUE(torch::equal(k.sum(-1), w));
  EXPECT_TRUE(torch::equal(k.ne(0).sum(-1), torch::ones({2, 2}, torch::kLong)));
  EXPECT_EQ(k[1][0][4].item<double>(), 0.25);
  EXPECT_EQ(k[0][1][2].item<double>(), -2.0);
  // Positions more than half a step outside the range are an error.
  EXPECT_NE(error_of([&] { dcls_rounded_kernel(w, f64({-2.6, 0, 0, 0}, {2, 2}), 5); }).find("positions must lie"),
            std::string::npos);
}

TEST(DclsKernel, FiniteDifferenceGradients) {
  // d/dw, d/dP, d/dσ of L = Σ R ⊙ K (R random) by autograd against central differences, float64.
  torch::manual_seed(3);
  const int64_t out = 3, in = 4, k = 7;
  at::Tensor w = torch::randn({out, in}, torch::kDouble).requires_grad_(true);
  at::Tensor p = (torch::rand({out, in}, torch::kDouble) * 5 - 2.5).requires_grad_(true);
  at::Tensor s = (torch::rand({out, in}, torch::kDouble) * 2 + 0.1).requires_grad_(true);
  at::Tensor r = torch::randn({out, in, k}, torch::kDouble);
  auto loss = [&](const at::Tensor& w_, const at::Tensor& p_, const at::Tensor& s_) {
    return (dcls_kernel(w_, p_, s_, k) * r).sum();
  };
  auto grads = torch::autograd::grad({loss(w, p, s)}, {w, p, s});
  const double h = 1e-6;
  for (int which = 0; which < 3; ++which) {
    at::Tensor base = (which == 0 ? w : which == 1 ? p : s).detach();
    for (int64_t i = 0; i < base.numel(); ++i) {
      at::Tensor plus = base.clone(), minus = base.clone();
      plus.view({-1})[i] += h;
      minus.view({-1})[i] -= h;
      auto eval = [&](const at::Tensor& t) {
        torch::NoGradGuard ng;
        return loss(which == 0 ? t : w.detach(), which == 1 ? t : p.detach(), which == 2 ? t : s.detach()).item<double>();
      };
      const double fd = (eval(plus) - eval(minus)) / (2 * h);
      EXPECT_NEAR(grads[which].view({-1})[i].item<double>(), fd, 1e-7) << "parameter " << which << " index " << i;
    }
  }
  // The scalar-σ form gives the σ gradient summed over synapses.
  at::Tensor s0 = torch::tensor(0.8, torch::kDouble).requires_grad_(true);
  auto g0 = torch::autograd::grad({loss(w, p, s0)}, {s0});
  torch::NoGradGuard ng;
  const double fd0 = (loss(w, p, torch::tensor(0.8 + h, torch::kDouble)).item<double>() -
                      loss(w, p, torch::tensor(0.8 - h, torch::kDouble)).item<double>()) / (2 * h);
  EXPECT_NEAR(g0[0].item<double>(), fd0, 1e-7);
}

TEST(DclsConv, DelaySemanticsOfOneHotKernels) {
  // A one-hot kernel at delay d shifts the input by d steps: y[t] = w x[t − d], zero before d.
  torch::manual_seed(1);
  const int64_t t = 10, k = 5;
  at::Tensor x = torch::randn({t, 2, 2}, torch::kDouble);
  at::Tensor w = f64({0.5, 0.0, 0.0, -1.0}, {2, 2});
  at::Tensor p = f64({1.0, 0.0, 0.0, -2.0}, {2, 2});  // in 0 -> out 0: delay 3; in 1 -> out 1: delay 0
  at::Tensor y = dcls_delay_conv(x, dcls_rounded_kernel(w, p, k));
  ASSERT_EQ(y.sizes(), (std::vector<int64_t>{t, 2, 2}));
  for (int64_t step = 0; step < t; ++step) {
    at::Tensor expect0 = step >= 3 ? 0.5 * x[step - 3].select(1, 0) : torch::zeros({2}, torch::kDouble);
    EXPECT_TRUE(torch::allclose(y[step].select(1, 0), expect0, 0, 1e-15)) << "step " << step;
    EXPECT_TRUE(torch::allclose(y[step].select(1, 1), -x[step].select(1, 1), 0, 1e-15)) << "step " << step;
  }
}

TEST(DclsConv, Causality) {
  // y[t] must not change when x changes after t, and must when x changes at or before t (the
  // kernel has no zero taps: σ large).
  torch::manual_seed(2);
  const int64_t t = 12, k = 6;
  at::Tensor x = torch::randn({t, 3, 4}, torch::kDouble);
  at::Tensor kern = dcls_kernel(torch::randn({5, 4}, torch::kDouble), torch::rand({5, 4}, torch::kDouble) * 5 - 3,
                                torch::tensor(3.0, torch::kDouble), k);
  at::Tensor y = dcls_delay_conv(x, kern);
  for (int64_t t0 : {0, 5, 11}) {
    at::Tensor x2 = x.clone();
    x2[t0] += 1.0;
    at::Tensor y2 = dcls_delay_conv(x2, kern);
    if (t0 > 0) {
      EXPECT_TRUE(torch::equal(y.narrow(0, 0, t0), y2.narrow(0, 0, t0))) << "perturbed at " << t0;
    }
    const int64_t reach = std::min(t, t0 + k) - t0;  // steps t0..t0+K−1 see the change
    EXPECT_GT((y.narrow(0, t0, reach) - y2.narrow(0, t0, reach)).abs().min().item<double>(), 0.0);
    if (t0 + k < t) {
      EXPECT_TRUE(torch::allclose(y.narrow(0, t0 + k, t - t0 - k), y2.narrow(0, t0 + k, t - t0 - k), 0, 1e-12));
    }
  }
  // Gradients of y[t] vanish for inputs after t.
  at::Tensor xg = x.clone().requires_grad_(true);
  at::Tensor g = torch::autograd::grad({dcls_delay_conv(xg, kern)[4].sum()}, {xg})[0];
  EXPECT_EQ(g.narrow(0, 5, t - 5).abs().max().item<double>(), 0.0);
  EXPECT_GT(g.narrow(0, 0, 5).abs().sum().item<double>(), 0.0);
}

TEST(DclsConv, BadInput) {
  at::Tensor kern = torch::zeros({2, 3, 4}, torch::kFloat);
  EXPECT_NE(error_of([&] { dcls_delay_conv(torch::zeros({5, 3}), kern); }).find("[T, batch, in]"), std::string::npos);
  EXPECT_NE(error_of([&] { dcls_delay_conv(torch::zeros({5, 1, 2}), kern); }).find("channels"), std::string::npos);
  EXPECT_NE(error_of([&] { dcls_delay_conv(torch::zeros({5, 1, 3}, torch::kDouble), kern); }).find("dtype"),
            std::string::npos);
  EXPECT_NE(error_of([&] { dcls_kernel(torch::zeros({2, 3}), torch::zeros({3, 2}), torch::zeros({}), 4); }).find("shape"),
            std::string::npos);
  EXPECT_NE(error_of([&] { dcls_kernel(torch::zeros({2, 3}), torch::zeros({2, 3}), torch::zeros({}), 0); })
                .find("kernel_size"),
            std::string::npos);
  EXPECT_NE(error_of([&] { dcls_kernel(torch::zeros({2, 3}, torch::kLong), torch::zeros({2, 3}), torch::zeros({}), 3); })
                .find("float32 or float64"),
            std::string::npos);
  EXPECT_NE(error_of([&] { dcls_kernel(torch::zeros({2, 3}), torch::zeros({2, 3}), torch::zeros({3}), 3); })
                .find("sigma"),
            std::string::npos);
}

TEST(DclsPositions, ClampToKernelRange) {
  // Odd K = 5: [−2, 2]; even K = 4: c = 2, [−2, 1] (delays 0..3).
  at::Tensor p = f64({-9, -2, 0.3, 2, 7}, {1, 5});
  dcls_clamp_positions(p, 5);
  EXPECT_TRUE(torch::equal(p, f64({-2, -2, 0.3, 2, 2}, {1, 5})));
  at::Tensor q = f64({-9, 1.5, 0.3, 7}, {1, 4}).requires_grad_(true);
  dcls_clamp_positions(q, 4);  // in place on a leaf that requires grad: allowed (no autograd)
  EXPECT_TRUE(torch::equal(q.detach(), f64({-2, 1, 0.3, 1}, {1, 4})));
  EXPECT_EQ(dcls_position_min(1), 0.0);
  EXPECT_EQ(dcls_position_max(1), 0.0);
  EXPECT_EQ(dcls_integer_delays(q.detach(), 4).max().item<int64_t>(), 3);
}

TEST(DclsSigma, ScheduleValues) {
  EXPECT_DOUBLE_EQ(dcls_sigma(20, 0.5, 0, 100), 20.0);
  EXPECT_NEAR(dcls_sigma(20, 0.5, 50, 100), std::sqrt(10.0), 1e-12);  // geometric midpoint
  EXPECT_NEAR(dcls_sigma(20, 0.5, 25, 100), 20 * std::pow(0.025, 0.25), 1e-12);
  EXPECT_DOUBLE_EQ(dcls_sigma(20, 0.5, 100, 100), 0.5);
  EXPECT_DOUBLE_EQ(dcls_sigma(20, 0.5, 1000, 100), 0.5);  // fixed after the decay
  EXPECT_NE(error_of([] { dcls_sigma(20, 0.5, 3, 0); }).find("decay_steps"), std::string::npos);
  EXPECT_NE(error_of([] { dcls_sigma(0, 0.5, 3, 10); }).find("sigma_init"), std::string::npos);
  EXPECT_NE(error_of([] { dcls_sigma(2, 0.5, -1, 10); }).find("step"), std::string::npos);
}

TEST(DclsOptions, Validation) {
  const auto& schema = DclsOptions::schema();
  DclsOptions o;
  EXPECT_NE(error_of([&] { schema.apply(o, Json{{"delays", "sometimes"}}); }).find("dcls.delays"), std::string::npos);
  EXPECT_NE(error_of([&] { schema.apply(o, Json{{"kernel_size", 0}}); }).find("dcls.kernel_size"), std::string::npos);
  EXPECT_NE(error_of([&] { schema.apply(o, Json{{"dropout", 1.0}}); }).find("dcls.dropout"), std::string::npos);
  EXPECT_NE(error_of([&] { schema.apply(o, Json{{"tau_m", 1.0}}); }).find("dcls.tau_m"), std::string::npos);
  EXPECT_NE(error_of([&] { schema.apply(o, Json{{"kernel", 5}}); }).find("kernel_size"), std::string::npos);
  EXPECT_NE(error_of([&] { schema.apply(o, Json{{"epochs", "3"}}); }).find("dcls.epochs"), std::string::npos);
  EXPECT_EQ(error_of([&] { DclsOptions().validate(); }), "");
  EXPECT_NE(error_of([] { DclsOptions().kernel_size(1).validate(); }).find("kernel_size >= 2"), std::string::npos);
  EXPECT_EQ(error_of([] { DclsOptions().delays("none").kernel_size(1).validate(); }), "");
  EXPECT_NE(error_of([] { DclsOptions().sigma_init(0.2).sigma_final(0.5).validate(); }).find("sigma_init"),
            std::string::npos);
  EXPECT_NE(error_of([] { DclsOptions().batch_size(0).validate(); }).find("batch_size"), std::string::npos);
  EXPECT_NE(error_of([] { DclsOptions().lr_positions(-1).validate(); }).find("lr_positions"), std::string::npos);
}

TEST(DclsTrain, TinySmokeRunAllVariants) {
  // One epoch on 16 random samples: runs, reports in-range delays and the effective K.
  torch::manual_seed(0);
  auto x = torch::bernoulli(torch::full({16, 20, 6}, 0.2));
  auto y = torch::randint(3, {16}, torch::kLong);
  y[0] = 0;
  y[1] = 1;
  y[2] = 2;
  data::Dataset ds("tiny", "train", x, y);
  for (const char* variant : {"none", "fixed_random", "learned"}) {
    auto r = train_dcls(ds, ds, DclsOptions().delays(variant).kernel_size(5).hidden(4).epochs(1).batch_size(8));
    EXPECT_EQ(r.kernel_size, std::string(variant) == "none" ? 1 : 5) << variant;
    ASSERT_EQ(r.delay_summary.size(), 3u);
    for (const auto& s : r.delay_summary) {
      EXPECT_GE(s.min, 0);
      EXPECT_LE(s.max, r.kernel_size - 1);
    }
    EXPECT_TRUE(std::isfinite(r.epoch_loss.at(0))) << variant;
    EXPECT_GE(r.test_accuracy, 0.0);
    EXPECT_LE(r.test_accuracy, 1.0);
    EXPECT_TRUE(r.to_json().contains("delay_summary"));
    // The folded network (integer delays, BatchNorm folded, float64) classifies like the trained
    // one, and runs unchanged in the simulator.
    auto check = check_dcls_in_simulator(r.network, ds);
    EXPECT_NEAR(check.torch_accuracy, r.test_accuracy, 1e-12) << variant;
    EXPECT_EQ(check.identical_spike_samples, 16) << variant;
    EXPECT_EQ(check.same_prediction, 16) << variant;
  }
  data::Dataset bad("bad", "train", torch::zeros({4, 5}), torch::zeros({4}, torch::kLong));
  EXPECT_NE(error_of([&] { train_dcls(bad, ds, DclsOptions()); }).find("[N, T, channels]"), std::string::npos);
}

// A random folded network with BatchNorm shifts of both signs, delays over the whole kernel and
// enough drive to spike on consecutive steps: the simulator (float64, deliver_after_reset) must
// give the same hidden spikes at every step and the same readout membrane as torch.
DclsFoldedNetwork random_folded_network(double tau_m, uint64_t seed) {
  torch::manual_seed(seed);
  DclsFoldedNetwork net;
  net.tau_m = tau_m;
  net.kernel_size = 7;
  const std::vector<int64_t> sizes = {6, 5, 5, 3};
  for (size_t l = 0; l + 1 < sizes.size(); ++l) {
    DclsFoldedLayer layer;
    layer.name = l + 2 == sizes.size() ? "readout" : "layer" + std::to_string(l);
    layer.weight = torch::randn({sizes[l + 1], sizes[l]}, torch::kDouble) * 1.5;
    layer.delays = torch::randint(7, {sizes[l + 1], sizes[l]}, torch::kLong);
    layer.bias = layer.name == "readout" ? torch::zeros({sizes[l + 1]}, torch::kDouble)
                                         : torch::randn({sizes[l + 1]}, torch::kDouble) * 0.4;
    net.layers.push_back(layer);
  }
  return net;
}

TEST(DclsSimulator, FoldedNetworkGivesIdenticalSpikesInTheSimulator) {
  for (double tau_m : {1.05, 2.0, 5.0}) {
    DclsFoldedNetwork net = random_folded_network(tau_m, 7);
    torch::manual_seed(3);
    data::Dataset ds("random", "test", torch::bernoulli(torch::full({8, 30, 6}, 0.5)),
                     torch::randint(3, {8}, torch::kLong));
    auto check = check_dcls_in_simulator(net, ds);
    EXPECT_EQ(check.samples, 8);
    EXPECT_GT(check.hidden_spikes, 100) << "the network must spike for the check to mean anything";
    EXPECT_EQ(check.spike_mismatches, 0) << "tau_m " << tau_m;
    EXPECT_EQ(check.identical_spike_samples, 8);
    EXPECT_LT(check.max_readout_diff, 1e-9) << "tau_m " << tau_m;
    EXPECT_EQ(check.same_prediction, 8);
    EXPECT_DOUBLE_EQ(check.torch_accuracy, check.simulator_accuracy);
  }
}

TEST(DclsSimulator, NetworkDescriptionAndBadInput) {
  DclsFoldedNetwork net = random_folded_network(1.05, 1);
  at::Tensor sample = torch::zeros({10, 6});
  sample[2][3] = 1;
  Json description = dcls_simulator_network(net, sample);
  EXPECT_EQ(description["steps"], 12);  // T + hidden layers
  EXPECT_EQ(description["deliver_after_reset"], true);
  EXPECT_EQ(description["inputs"][0]["spikes"], Json::parse("[[3, 2]]"));
  EXPECT_NEAR(description["populations"][0]["tau_m"].get<double>(), -1.0 / std::log(1 - 1 / 1.05), 1e-12);
  sample[4][0] = 0.5;
  EXPECT_NE(error_of([&] { dcls_simulator_network(net, sample); }).find("0/1 spike inputs"), std::string::npos);
  EXPECT_NE(error_of([&] { dcls_simulator_network(net, torch::zeros({10, 4})); }).find("[T, 6]"), std::string::npos);
  net.tau_m = 1.0;
  EXPECT_NE(error_of([&] { dcls_simulator_network(net, torch::zeros({10, 6})); }).find("tau_m"), std::string::npos);
}

}  // namespace
}  // namespace golgi::methods
