// nap-spec: the MILP encoding against exhaustive enumeration on tiny networks (dense grid and all
// activation patterns), counterexample replay, NAP mining and checking on hand-made tables, the
// time limit, the eps search, the NAP file round trip, and bad input.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <set>

#include <torch/torch.h>

#include "golgi/atlas/builder.h"
#include "golgi/atlas/sqlite.h"
#include "golgi/core/error.h"
#include "golgi/data/registry.h"
#include "golgi/methods/nap_spec/milp.h"
#include "golgi/methods/nap_spec/nap.h"
#include "golgi/models/model.h"
#include "golgi/models/registry.h"
#include "test_support.h"

namespace {

namespace nap = golgi::methods::nap;
using golgi::Json;
using golgi::testing::error_of;

// A tiny ReLU MLP 2 -> h1 -> h2 -> classes with seeded PyTorch-default initialisation.
std::shared_ptr<golgi::models::Model> tiny_mlp(int64_t seed, std::vector<int64_t> hidden = {4, 3},
                                               int64_t classes = 3) {
  torch::manual_seed(static_cast<uint64_t>(seed));
  return golgi::models::make_model(
      "mlp", Json{{"input_shape", {2}}, {"hidden", hidden}, {"classes", classes}, {"activation", "relu"}});
}

// Lipschitz constant of x -> f_j(x) - f_c(x) for the L-infinity norm: ||W_L[j] - W_L[c]||_1 times
// the product of the hidden layers' infinity norms (max absolute row sum); ReLU is 1-Lipschitz.
double lipschitz(const nap::ReluNetwork& net, int64_t c, int64_t j) {
  double L = 1;
  for (int64_t l = 0; l < net.hidden_layers(); ++l) {
    const auto& A = net.layers[static_cast<size_t>(l)];
    double worst = 0;
    for (int64_t k = 0; k < A.out; ++k) {
      double s = 0;
      for (int64_t i = 0; i < A.in; ++i) s += std::abs(A.weight[static_cast<size_t>(k * A.in + i)]);
      worst = std::max(worst, s);
    }
    L *= worst;
  }
  const auto& O = net.layers.back();
  double d = 0;
  for (int64_t i = 0; i < O.in; ++i)
    d += std::abs(O.weight[static_cast<size_t>(j * O.in + i)] - O.weight[static_cast<size_t>(c * O.in + i)]);
  return L * d;
}

// Does x follow the pattern (z > 0 for on, z <= 0 for off)?
bool follows_pattern(const nap::ReluNetwork& net, const std::vector<double>& x, const nap::Pattern& p) {
  std::vector<std::vector<double>> pre;
  net.forward(x, &pre);
  for (size_t l = 0; l < p.size(); ++l)
    for (size_t k = 0; k < p[l].size(); ++k)
      if ((p[l][k] > 0 && !(pre[l][k] > 0)) || (p[l][k] < 0 && pre[l][k] > 0)) return false;
  return true;
}

struct GridMax {
  double best = -INFINITY;
  int64_t points = 0;
};
// The maximum of f_j - f_c over an (n+1) x (n+1) grid of the box, over grid points that follow p.
GridMax grid_max(const nap::ReluNetwork& net, const std::vector<double>& lo, const std::vector<double>& hi,
                 const nap::Pattern& p, int64_t c, int64_t j, int n) {
  GridMax g;
  for (int a = 0; a <= n; ++a)
    for (int b = 0; b <= n; ++b) {
      const std::vector<double> x{lo[0] + (hi[0] - lo[0]) * a / n, lo[1] + (hi[1] - lo[1]) * b / n};
      if (!p.empty() && !follows_pattern(net, x, p)) continue;
      const auto f = net.forward(x);
      g.best = std::max(g.best, f[static_cast<size_t>(j)] - f[static_cast<size_t>(c)]);
      ++g.points;
    }
  return g;
}

TEST(NapSpecMilp, MaximumMarginMatchesADenseGrid) {
  // Exact MILP optimum vs a 401 x 401 grid: grid <= MILP <= grid + Lipschitz * half spacing.
  const std::vector<double> lo{-1.0, -0.5}, hi{1.0, 1.5};
  const int n = 400;
  int counterexamples = 0, verified = 0;
  for (int64_t seed = 0; seed < 6; ++seed) {
    auto model = tiny_mlp(seed);
    const auto net = nap::relu_network(*model);
    for (int64_t j = 1; j < 3; ++j) {
      nap::MilpOptions options;
      options.stop_early = false;  // solve to optimality
      const auto r = nap::max_margin(net, lo, hi, {}, 0, j, options);
      ASSERT_TRUE(r.optimal) << "seed " << seed << " j " << j;
      const auto g = grid_max(net, lo, hi, {}, 0, j, n);
      const double slack = lipschitz(net, 0, j) * (2.0 / n) / 2;
      EXPECT_GE(r.best, g.best - 1e-6) << "seed " << seed << " j " << j;
      EXPECT_LE(r.best, g.best + slack + 1e-6) << "seed " << seed << " j " << j;
      // The maximiser replays to the same margin.
      const auto f = net.forward(r.x);
      EXPECT_NEAR(f[static_cast<size_t>(j)] - f[0], r.best, 1e-6);
      // Verdicts agree wherever the grid decides them.
      if (g.best >= 0) {
        EXPECT_EQ(r.outcome, nap::Outcome::kCounterexample);
        ++counterexamples;
      }
      if (g.best + slack < 0) {
        EXPECT_EQ(r.outcome, nap::Outcome::kVerified);
        ++verified;
      }
      // Early stopping gives the same verdict.
      const auto early = nap::max_margin(net, lo, hi, {}, 0, j, nap::MilpOptions{});
      EXPECT_EQ(early.outcome, r.outcome) << "seed " << seed << " j " << j;
    }
  }
  // The seeds exercise both verdicts (otherwise this test would not test the verdict logic).
  EXPECT_GT(counterexamples, 0);
  EXPECT_GT(verified, 0);
}

TEST(NapSpecMilp, BigMEqualsTheMaximumOverAllActivationPatterns) {
  // Enumerate all 2^(4+3) full patterns: each fixes every ReLU, so its query is a pure LP. The big-M
  // optimum (no pattern) must equal the best pattern's optimum, and for a partial pattern the
  // optimum must equal the best over the full patterns that extend it.
  auto model = tiny_mlp(7);
  const auto net = nap::relu_network(*model);
  const std::vector<double> lo{-1, -1}, hi{1, 1};
  nap::MilpOptions options;
  options.stop_early = false;
  const int64_t c = 1, j = 2;
  double best_all = -INFINITY, best_partial = -INFINITY;
  int feasible = 0;
  for (int mask = 0; mask < (1 << 7); ++mask) {
    nap::Pattern p{std::vector<int8_t>(4), std::vector<int8_t>(3)};
    for (int k = 0; k < 7; ++k) {
      const int8_t s = (mask >> k) & 1 ? 1 : -1;
      if (k < 4) p[0][static_cast<size_t>(k)] = s; else p[1][static_cast<size_t>(k - 4)] = s;
    }
    const auto r = nap::max_margin(net, lo, hi, p, c, j, options);
    ASSERT_TRUE(r.optimal);
    EXPECT_EQ(r.binaries, 0);
    if (r.infeasible) continue;
    ++feasible;
    best_all = std::max(best_all, r.best);
    if (p[0][0] > 0 && p[1][2] < 0) best_partial = std::max(best_partial, r.best);
  }
  EXPECT_GT(feasible, 1);
  const auto whole = nap::max_margin(net, lo, hi, {}, c, j, options);
  EXPECT_NEAR(whole.best, best_all, 1e-6);
  nap::Pattern partial{{1, 0, 0, 0}, {0, 0, -1}};
  const auto part = nap::max_margin(net, lo, hi, partial, c, j, options);
  if (std::isfinite(best_partial)) {
    EXPECT_NEAR(part.best, best_partial, 1e-6);
    // The partial-pattern maximiser follows the pattern (up to the solver's tolerance) and is
    // at least the grid's best follower.
    const auto rep = nap::replay_counterexample(*model, part.x, partial, c, j, lo, hi);
    EXPECT_TRUE(rep.follows_tolerant) << rep.worst_violation;
    EXPECT_NEAR(rep.margin, part.best, 1e-6);
    const auto g = grid_max(net, lo, hi, partial, c, j, 300);
    if (g.points > 0) {
      EXPECT_GE(part.best, g.best - 1e-6);
    }
  } else {
    EXPECT_TRUE(part.infeasible);
  }
}

TEST(NapSpecMilp, ContradictoryPatternIsVacuouslyVerified) {
  // Neuron 0 of layer 0 is forced "on" over a box where its pre-activation is negative everywhere.
  nap::ReluNetwork net;
  net.layers.push_back({1, 1, {1.0}, {-5.0}});
  net.layers.push_back({1, 2, {1.0, -1.0}, {0.0, 0.0}});
  const auto r = nap::max_margin(net, {0.0}, {1.0}, {{1}}, 1, 0);
  EXPECT_TRUE(r.infeasible);
  EXPECT_EQ(r.outcome, nap::Outcome::kVerified);
  // Without the pattern the same query is a plain optimum: f_0 - f_1 = 0 (the neuron is off).
  nap::MilpOptions o;
  o.stop_early = false;
  const auto plain = nap::max_margin(net, {0.0}, {1.0}, {}, 1, 0, o);
  EXPECT_NEAR(plain.best, 0.0, 1e-9);
  EXPECT_EQ(plain.outcome, nap::Outcome::kCounterexample);  // margin 0 counts as a tie, not verified
}

TEST(NapSpecMilp, CounterexamplesReplayThroughTheModel) {
  int replayed = 0;
  for (int64_t seed = 0; seed < 8; ++seed) {
    auto model = tiny_mlp(seed);
    const auto net = nap::relu_network(*model);
    const std::vector<double> lo{-2, -2}, hi{2, 2};
    const auto region = nap::verify_region(net, lo, hi, {}, 0, {}, /*stop_at_failure=*/false);
    for (const auto& q : region.queries) {
      if (q.outcome != nap::Outcome::kCounterexample) continue;
      const auto rep = nap::replay_counterexample(*model, q.x, {}, 0, q.other, lo, hi);
      EXPECT_TRUE(rep.in_box);
      EXPECT_TRUE(rep.misclassified);
      EXPECT_NEAR(rep.margin, q.best, 1e-6);
      ++replayed;
    }
  }
  EXPECT_GT(replayed, 0);
}

TEST(NapSpecMilp, TimeLimitGivesATimeoutOrAConfirmedCounterexample) {
  // A random 16-input network with 2 x 48 unstable ReLUs cannot be solved to optimality in 1 ms:
  // the outcome must not be "verified" nor "optimal".
  torch::manual_seed(3);
  auto model = golgi::models::make_model(
      "mlp", Json{{"input_shape", {16}}, {"hidden", {48, 48}}, {"classes", 3}, {"activation", "relu"}});
  const auto net = nap::relu_network(*model);
  const std::vector<double> lo(16, -1.0), hi(16, 1.0);
  nap::MilpOptions options;
  options.time_limit_s = 0.001;
  options.stop_early = false;
  const auto r = nap::max_margin(net, lo, hi, {}, 0, 1, options);
  EXPECT_GT(r.binaries, 40);
  EXPECT_FALSE(r.optimal);
  EXPECT_NE(r.outcome, nap::Outcome::kVerified);
  if (r.outcome == nap::Outcome::kCounterexample) {
    const auto rep = nap::replay_counterexample(*model, r.x, {}, 0, 1, lo, hi);
    EXPECT_TRUE(rep.misclassified);
  }
}

TEST(NapSpecMilp, IntervalBoundsContainEverySampledPreActivation) {
  auto model = tiny_mlp(11, {5, 4});
  const auto net = nap::relu_network(*model);
  const std::vector<double> lo{-0.3, 0.2}, hi{0.7, 0.9};
  const auto b = nap::interval_bounds(net, lo, hi, {});
  std::mt19937 gen(1);
  std::uniform_real_distribution<double> u(0, 1);
  for (int s = 0; s < 500; ++s) {
    const std::vector<double> x{lo[0] + (hi[0] - lo[0]) * u(gen), lo[1] + (hi[1] - lo[1]) * u(gen)};
    std::vector<std::vector<double>> pre;
    net.forward(x, &pre);
    for (size_t l = 0; l < pre.size(); ++l)
      for (size_t k = 0; k < pre[l].size(); ++k) {
        EXPECT_GE(pre[l][k], b.lower[l][k] - 1e-12);
        EXPECT_LE(pre[l][k], b.upper[l][k] + 1e-12);
      }
  }
}

TEST(NapSpecMilp, LpBoundsAreSoundAndTighterForPatternFollowers) {
  // LP bounds (with the pattern's sign constraints) must contain the pre-activations of every
  // sampled input that follows the pattern, and lie inside the interval bounds.
  auto model = tiny_mlp(4, {6, 5});
  const auto net = nap::relu_network(*model);
  const std::vector<double> lo{-1.0, -1.0}, hi{1.0, 1.0};
  const nap::Pattern pattern{{1, 0, -1, 0, 0, 0}, {0, 0, 0, 0, 0}};
  const auto ib = nap::interval_bounds(net, lo, hi, pattern);
  const auto lb = nap::lp_bounds(net, lo, hi, pattern);
  ASSERT_TRUE(lb.feasible);
  double shrink = 0;
  for (size_t l = 0; l < lb.lower.size(); ++l)
    for (size_t k = 0; k < lb.lower[l].size(); ++k) {
      EXPECT_GE(lb.lower[l][k], ib.lower[l][k] - 1e-12);
      EXPECT_LE(lb.upper[l][k], ib.upper[l][k] + 1e-12);
      shrink += (ib.upper[l][k] - ib.lower[l][k]) - (lb.upper[l][k] - lb.lower[l][k]);
    }
  EXPECT_GT(shrink, 0.0);  // the pattern's constraints and the LP tighten something
  std::mt19937 gen(2);
  std::uniform_real_distribution<double> u(-1, 1);
  int followers = 0;
  for (int s = 0; s < 4000; ++s) {
    const std::vector<double> x{u(gen), u(gen)};
    if (!follows_pattern(net, x, pattern)) continue;
    ++followers;
    std::vector<std::vector<double>> pre;
    net.forward(x, &pre);
    for (size_t l = 0; l < pre.size(); ++l)
      for (size_t k = 0; k < pre[l].size(); ++k) {
        EXPECT_GE(pre[l][k], lb.lower[l][k] - 1e-9);
        EXPECT_LE(pre[l][k], lb.upper[l][k] + 1e-9);
      }
  }
  EXPECT_GT(followers, 0);
}

TEST(NapSpecVerify, KnownVerifiedRadiusSeedsTheSearch) {
  auto model = tiny_mlp(2);
  const auto net = nap::relu_network(*model);
  const std::vector<double> x0{0.5, 0.5};
  const auto f = net.forward(x0);
  const int64_t c = std::max_element(f.begin(), f.end()) - f.begin();
  nap::EpsSearchOptions o;
  o.eps_start = 0.01;
  o.bisect_steps = 0;
  o.known_verified = 0.02;
  const auto s = nap::largest_verified_eps(*model, net, x0, {}, c, o);
  ASSERT_FALSE(s.trials.empty());
  EXPECT_DOUBLE_EQ(s.trials.front().eps, 0.04);  // starts doubling from 2 x the known radius
  EXPECT_GE(s.verified_eps, 0.02);
  o.known_verified = -1;
  EXPECT_NE(error_of([&] { nap::largest_verified_eps(*model, net, x0, {}, c, o); }).find("known_verified"),
            std::string::npos);
}

TEST(NapSpecMining, HandMadeActivationTable) {
  // 10 samples of class 0 (all correct), neurons: 0 on in 10/10, 1 on in 9/10, 2 on in 1/10,
  // 3 on in 5/10. With delta 0.9: on, on, off, free; with delta 0.95: on, free, free, free.
  at::Tensor a = torch::zeros({12, 4}, torch::kBool);
  for (int i = 0; i < 10; ++i) {
    a[i][0] = true;
    a[i][1] = i != 3;
    a[i][2] = i == 5;
    a[i][3] = i % 2 == 0;
  }
  // Two samples of class 1: one correctly classified (all off), one misclassified (all on).
  a[11].fill_(true);
  at::Tensor labels = torch::tensor({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1}, torch::kLong);
  at::Tensor preds = torch::tensor({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0}, torch::kLong);
  auto set = nap::mine_naps({a}, labels, preds, 3, nap::NapOptions{0.9, true});
  ASSERT_EQ(set.naps.size(), 3u);
  EXPECT_EQ(set.naps[0].support, 10);
  EXPECT_EQ(set.naps[0].states[0], (std::vector<int8_t>{1, 1, -1, 0}));
  EXPECT_EQ(set.naps[1].support, 1);  // the misclassified sample is left out
  EXPECT_EQ(set.naps[1].states[0], (std::vector<int8_t>{-1, -1, -1, -1}));
  EXPECT_EQ(set.naps[2].support, 0);  // no samples: everything free
  EXPECT_EQ(set.naps[2].states[0], (std::vector<int8_t>{0, 0, 0, 0}));
  auto strict = nap::mine_naps({a}, labels, preds, 3, nap::NapOptions{0.95, true});
  EXPECT_EQ(strict.naps[0].states[0], (std::vector<int8_t>{1, 0, 0, 0}));
  // All samples of class 1 (correct_only false): on in 1/2 -> free everywhere at delta 0.9.
  auto all = nap::mine_naps({a}, labels, preds, 3, nap::NapOptions{0.9, false});
  EXPECT_EQ(all.naps[1].states[0], (std::vector<int8_t>{0, 0, 0, 0}));
  EXPECT_EQ(all.naps[1].support, 2);
  // Round trip through JSON.
  const auto back = nap::NapSet::from_json(set.to_json());
  ASSERT_EQ(back.naps.size(), 3u);
  for (size_t c = 0; c < 3; ++c) EXPECT_EQ(back.naps[c].states, set.naps[c].states);
  EXPECT_DOUBLE_EQ(back.delta, 0.9);
}

TEST(NapSpecMining, CoveragePrecisionAndExclusivityByHand) {
  // Two layers of 2 neurons. NAP 0: layer0 = (on, free), layer1 = (free, off);
  // NAP 1: layer0 = (off, free), layer1 = (free, free); NAP 2: all free except layer1[1] on.
  nap::NapSet set;
  set.naps.resize(3);
  set.naps[0].label = 0;
  set.naps[0].states = {{1, 0}, {0, -1}};
  set.naps[1].label = 1;
  set.naps[1].states = {{-1, 0}, {0, 0}};
  set.naps[2].label = 2;
  set.naps[2].states = {{0, 0}, {0, 1}};
  // Samples (layer0 n0, n1 | layer1 n0, n1) and labels:
  //  s0 class 0: 1 0 | 0 0  -> follows 0 (and not 1, and not 2)
  //  s1 class 0: 1 1 | 1 1  -> follows 2 only
  //  s2 class 0: 1 0 | 1 0  -> follows 0
  //  s3 class 1: 0 0 | 0 0  -> follows 1
  //  s4 class 1: 1 0 | 0 0  -> follows 0 (a class-1 sample inside NAP 0)
  //  s5 class 2: 0 1 | 0 1  -> follows 1 and 2
  at::Tensor l0 = torch::tensor({1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 0, 1}, torch::kLong).view({6, 2}).to(torch::kBool);
  at::Tensor l1 = torch::tensor({0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 1}, torch::kLong).view({6, 2}).to(torch::kBool);
  at::Tensor labels = torch::tensor({0, 0, 0, 1, 1, 2}, torch::kLong);
  const auto check = nap::check_naps(set, {l0, l1}, labels);
  ASSERT_EQ(check.classes.size(), 3u);
  EXPECT_DOUBLE_EQ(check.classes[0].coverage, 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(check.classes[0].precision, 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(check.classes[1].coverage, 0.5);
  EXPECT_DOUBLE_EQ(check.classes[1].precision, 0.5);
  EXPECT_DOUBLE_EQ(check.classes[2].coverage, 1.0);
  EXPECT_DOUBLE_EQ(check.classes[2].precision, 0.5);
  EXPECT_NEAR(check.mean_coverage, (2.0 / 3.0 + 0.5 + 1.0) / 3.0, 1e-12);
  EXPECT_DOUBLE_EQ(check.min_precision, 0.5);
  // 0 vs 1 conflict on layer0 n0; 0 vs 2 on layer1 n1; 1 vs 2 do not conflict.
  EXPECT_TRUE(check.exclusive[0][1]);
  EXPECT_TRUE(check.exclusive[0][2]);
  EXPECT_FALSE(check.exclusive[1][2]);
  EXPECT_EQ(check.exclusive_pairs, 2);
  EXPECT_EQ(check.pairs, 3);
}

TEST(NapSpecMining, RecordedActivationsMatchTheNetwork) {
  auto model = tiny_mlp(5);
  const auto net = nap::relu_network(*model);
  torch::manual_seed(9);
  at::Tensor x = torch::rand({50, 2});
  const auto acts = nap::record_activations(*model, x, 16);
  ASSERT_EQ(acts.active.size(), 2u);
  ASSERT_EQ(acts.size(), 50);
  for (int64_t i = 0; i < 50; ++i) {
    const std::vector<double> xi{x[i][0].item<double>(), x[i][1].item<double>()};
    std::vector<std::vector<double>> pre;
    const auto f = net.forward(xi, &pre);
    for (size_t l = 0; l < 2; ++l)
      for (size_t k = 0; k < pre[l].size(); ++k)
        if (std::abs(pre[l][k]) > 1e-5) {  // float32 vs float64 may disagree only at the boundary
          EXPECT_EQ(acts.active[l][i][static_cast<int64_t>(k)].item<bool>(), pre[l][k] > 0);
        }
    EXPECT_NEAR(acts.logits[i][0].item<double>(), f[0], 1e-4);
  }
}

TEST(NapSpecVerify, EpsSearchBracketsTheRobustRadius) {
  // The largest verified radius r and the smallest failed one bracket the true robust radius: the
  // box of radius r has no counterexample on a dense grid, and the failing box has a replayed one.
  auto model = tiny_mlp(2);
  const auto net = nap::relu_network(*model);
  // A sample the network classifies as class c.
  const std::vector<double> x0{0.5, 0.5};
  const auto f = net.forward(x0);
  const int64_t c = std::max_element(f.begin(), f.end()) - f.begin();
  nap::EpsSearchOptions o;
  o.eps_start = 0.01;
  o.eps_max = 1.0;
  o.bisect_steps = 4;
  const auto s = nap::largest_verified_eps(*model, net, x0, {}, c, o);
  ASSERT_FALSE(s.trials.empty());
  if (s.verified_eps > 0) {
    std::vector<double> lo, hi;
    nap::input_box(x0, s.verified_eps, lo, hi);
    for (int64_t j = 0; j < 3; ++j)
      if (j != c) {
        EXPECT_LT(grid_max(net, lo, hi, {}, c, j, 200).best, 0.0);
      }
  }
  if (std::isfinite(s.failed_eps)) {
    EXPECT_GT(s.failed_eps, s.verified_eps);
    bool replayed = false;
    for (const auto& t : s.trials)
      if (t.eps == s.failed_eps)
        for (const auto& r : t.replays) replayed = replayed || r.misclassified;
    EXPECT_TRUE(replayed);
  }
}

TEST(NapSpecErrors, BadInputGivesClearErrors) {
  torch::manual_seed(0);
  auto tanh_mlp = golgi::models::make_model(
      "mlp", Json{{"input_shape", {2}}, {"hidden", {3}}, {"classes", 2}, {"activation", "tanh"}});
  EXPECT_NE(error_of([&] { nap::relu_network(*tanh_mlp); }).find("relu"), std::string::npos);
  auto cnn = golgi::models::make_model("cnn");
  EXPECT_NE(error_of([&] { nap::relu_network(*cnn); }).find("mlp"), std::string::npos);
  auto model = tiny_mlp(1);
  const auto net = nap::relu_network(*model);
  EXPECT_NE(error_of([&] { nap::max_margin(net, {0, 0}, {1, 1}, {}, 3, 0); }).find("class 3"), std::string::npos);
  EXPECT_NE(error_of([&] { nap::max_margin(net, {0, 0}, {1, 1}, {}, 1, 1); }).find("differ"), std::string::npos);
  EXPECT_NE(error_of([&] { nap::max_margin(net, {0}, {1}, {}, 0, 1); }).find("inputs"), std::string::npos);
  EXPECT_NE(error_of([&] { nap::max_margin(net, {0, 0}, {1, 1}, {{1, 0}}, 0, 1); }).find("pattern"), std::string::npos);
  std::vector<double> lo, hi;
  EXPECT_NE(error_of([&] { nap::input_box({0.5, 0.5}, 0.0, lo, hi); }).find("eps must be > 0"), std::string::npos);
  EXPECT_NE(error_of([&] { nap::input_box({0.5, 0.5}, -0.1, lo, hi); }).find("eps must be > 0"), std::string::npos);
  EXPECT_NE(error_of([&] { nap::input_box({1.5, 0.5}, 0.1, lo, hi); }).find("outside"), std::string::npos);
  EXPECT_NE(error_of([&] { nap::NapOptions{0.4, true}.validate(); }).find("delta"), std::string::npos);
  nap::MilpOptions bad_branching;
  bad_branching.branching = "best";
  EXPECT_NE(error_of([&] { nap::max_margin(net, {0, 0}, {1, 1}, {}, 0, 1, bad_branching); }).find("branching"),
            std::string::npos);
  EXPECT_NE(error_of([&] { nap::NapSet::from_json(Json{{"format", "other"}}); }).find("golgi nap mine"),
            std::string::npos);
  at::Tensor a = torch::zeros({3, 2}, torch::kBool);
  EXPECT_NE(error_of([&] { nap::mine_naps({a}, torch::tensor({0, 1, 5}), {}, 3); }).find("labels"), std::string::npos);
}

TEST(NapSpecAnnotator, AtlasNapMatchesMiningOverAllSamples) {
  // The atlas annotator's on/off classes per neuron (from the build's per-label P(active)) equal
  // mine_naps over every sample of each class of the same streamed examples.
  const std::string dir = golgi::testing::scratch_dir("nap_annotator");
  torch::manual_seed(6);
  auto model = golgi::models::make_model("mlp", Json{{"hidden", {16, 12}}, {"activation", "relu"}});
  golgi::models::save_model(dir + "/model", *model, {{"dataset", {{"name", "fashion-mnist"}}}});
  const int64_t n = 300;
  auto built = golgi::atlas::build_atlas(golgi::atlas::AtlasBuildOptions()
                                             .model(dir + "/model")
                                             .out(dir + "/atlas.db")
                                             .annotators({"nap"})
                                             .limit(n)
                                             .exemplars(2)
                                             .progress(false));
  ASSERT_TRUE(built.annotators.contains("nap")) << built.annotators.dump();
  golgi::data::DataOptions data_options;
  data_options.split = "test";
  const auto data = golgi::data::load_dataset("fashion-mnist", data_options)->head(n);
  const auto acts = nap::record_activations(*model, data->inputs());
  const auto naps = nap::mine_naps(acts.active, data->targets(), {}, 10, nap::NapOptions{0.95, false});
  golgi::atlas::Database db(dir + "/atlas.db", golgi::atlas::Database::Mode::ReadOnly);
  auto q = db.prepare(
      "SELECT h.name, n.idx, a.value_json FROM annotations a JOIN neurons n ON n.id = a.neuron_id "
      "JOIN hooks h ON h.id = n.hook_id WHERE a.method = 'nap'");
  std::map<std::string, std::set<int64_t>> seen;
  int64_t fixed = 0;
  while (q.step()) {
    const std::string hook = q.text(0);
    ASSERT_TRUE(hook == "layers.0.hook_post" || hook == "layers.1.hook_post") << hook;
    const size_t l = hook == "layers.0.hook_post" ? 0 : 1;
    const int64_t k = q.integer(1);
    const Json v = Json::parse(q.text(2));
    std::set<int64_t> on(v["on_ids"].begin(), v["on_ids"].end()), off(v["off_ids"].begin(), v["off_ids"].end());
    for (int64_t c = 0; c < 10; ++c) {
      const int8_t s = naps.naps[static_cast<size_t>(c)].states[l][static_cast<size_t>(k)];
      EXPECT_EQ(on.count(c) == 1, s > 0) << hook << ":" << k << " class " << c;
      EXPECT_EQ(off.count(c) == 1, s < 0) << hook << ":" << k << " class " << c;
    }
    seen[hook].insert(k);
  }
  // Neurons without an annotation are free in every class NAP.
  for (size_t l = 0; l < 2; ++l) {
    const std::string hook = "layers." + std::to_string(l) + ".hook_post";
    for (size_t k = 0; k < naps.naps[0].states[l].size(); ++k) {
      bool any = false;
      for (const auto& p : naps.naps) any = any || p.states[l][k] != 0;
      EXPECT_EQ(any, seen[hook].count(static_cast<int64_t>(k)) == 1) << hook << ":" << k;
      fixed += any;
    }
  }
  EXPECT_GT(fixed, 0);
}

}  // namespace
