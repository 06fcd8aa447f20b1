// hetero-delays: the causal delay convolution (known values, causality), the event gate, the
// one-hot BCE, the decision rule, counted steps, pruning masks and option validation.
#include <gtest/gtest.h>

#include <cmath>

#include <torch/torch.h>

#include "golgi/core/error.h"
#include "golgi/methods/hetero_delays/hetero_delays.h"

namespace {

namespace m = golgi::methods;

TEST(HeteroDelays, SingleEventGivesTheKernelAtItsDelay) {
  // One ON event at (t0, Y, X): z[c, t0 + d, Y - i, X - j] = K[c, 0, d, i, j] + bias[c].
  const int64_t C = 3, D = 4, k = 3, T = 10, H = 7, W = 8, t0 = 2, Y = 4, X = 5;
  at::Tensor K = torch::randn({C, 2, D, k, k}, torch::kFloat64);
  at::Tensor b = torch::randn({C}, torch::kFloat64);
  at::Tensor e = torch::zeros({1, 2, T, H, W}, torch::kFloat64);
  e[0][0][t0][Y][X] = 1.0;
  at::Tensor z = m::causal_delay_conv(e, K, b);
  ASSERT_EQ(z.sizes(), (std::vector<int64_t>{1, C, T, H - k + 1, W - k + 1}));
  for (int64_t c = 0; c < C; ++c)
    for (int64_t d = 0; d < D; ++d)
      for (int64_t i = 0; i < k; ++i)
        for (int64_t j = 0; j < k; ++j)
          EXPECT_NEAR(z[0][c][t0 + d][Y - i][X - j].item<double>(), K[c][0][d][i][j].item<double>() + b[c].item<double>(),
                      1e-12);
  // Before the event and after the last delay: the bias only.
  for (int64_t t : {int64_t{0}, t0 - 1, t0 + D, T - 1})
    EXPECT_LT((z[0].select(1, t) - b.view({C, 1, 1})).abs().max().item<double>(), 1e-12) << "t = " << t;
}

TEST(HeteroDelays, OutputAtTDependsOnlyOnInputsUpToT) {
  const int64_t T = 12, t = 6;
  at::Tensor K = torch::randn({4, 2, 5, 3, 3});
  at::Tensor b = torch::randn({4});
  at::Tensor e = torch::bernoulli(torch::full({2, 2, T, 6, 6}, 0.3));
  at::Tensor changed = e.clone();
  changed.narrow(2, t + 1, T - t - 1).copy_(torch::bernoulli(torch::full({2, 2, T - t - 1, 6, 6}, 0.7)));
  at::Tensor z1 = m::causal_delay_conv(e, K, b), z2 = m::causal_delay_conv(changed, K, b);
  EXPECT_TRUE(torch::equal(z1.narrow(2, 0, t + 1), z2.narrow(2, 0, t + 1)));
  EXPECT_FALSE(torch::equal(z1.narrow(2, t + 1, T - t - 1), z2.narrow(2, t + 1, T - t - 1)));
  // Inputs more than D - 1 steps back no longer matter.
  at::Tensor old = e.clone();
  old.narrow(2, 0, 1).fill_(1.0);
  at::Tensor z3 = m::causal_delay_conv(old, K, b);
  EXPECT_TRUE(torch::equal(z1.narrow(2, 5, T - 5), z3.narrow(2, 5, T - 5)));
}

TEST(HeteroDelays, LayerForwardMatchesTheConvolution) {
  m::HeteroDelayLayer layer(m::HeteroDelayOptions().classes(5).delays(3).kernel_size(3).seed(1));
  EXPECT_EQ(layer->weight.sizes(), (std::vector<int64_t>{5, 2, 3, 3, 3}));
  EXPECT_NEAR(layer->bias[0].item<double>(), std::log(1.0 / 4.0), 1e-6);
  at::Tensor e = torch::bernoulli(torch::full({1, 2, 6, 5, 5}, 0.3));
  EXPECT_TRUE(torch::allclose(layer->forward(e), m::causal_delay_conv(e, layer->weight, layer->bias)));
  m::HeteroDelayLayer same(m::HeteroDelayOptions().classes(5).delays(3).kernel_size(3).seed(1));
  EXPECT_TRUE(torch::equal(layer->weight, same->weight));
}

TEST(HeteroDelays, EventGateMarksTheWindowCentre) {
  at::Tensor e = torch::zeros({1, 2, 3, 6, 6});
  e[0][1][2][3][4] = 1.0;  // OFF event at t = 2, y = 3, x = 4
  at::Tensor g = m::output_gate(e, 3);
  ASSERT_EQ(g.sizes(), (std::vector<int64_t>{1, 3, 4, 4}));
  EXPECT_EQ(g.sum().item<float>(), 1.0f);
  EXPECT_EQ(g[0][2][2][3].item<float>(), 1.0f);  // centre offset k / 2 = 1
  EXPECT_EQ(m::output_gate(e, 3, "all").sum().item<float>(), 3.0f * 16.0f);
  EXPECT_THROW(m::output_gate(e, 3, "some"), golgi::Error);
  EXPECT_THROW(m::output_gate(e, 7), golgi::Error);
}

TEST(HeteroDelays, OneHotBceMatchesTheReference) {
  at::Tensor z = torch::randn({2, 4, 3, 2, 2}, torch::kFloat64);
  at::Tensor y = torch::tensor({{0, 3, 1}, {2, 2, 0}}, torch::kLong);
  at::Tensor target = torch::one_hot(y, 4).to(torch::kFloat64).permute({0, 2, 1}).unsqueeze(-1).unsqueeze(-1).expand_as(z);
  const double ref = torch::binary_cross_entropy_with_logits(z, target).item<double>();
  EXPECT_NEAR(m::one_hot_bce(z, y).item<double>(), ref, 1e-12);
  // With a gate: the mean over the active voxels only.
  at::Tensor gate = torch::zeros({2, 3, 2, 2}, torch::kFloat64);
  gate[0][1][0][1] = 1;
  gate[1][2][1][1] = 1;
  at::Tensor per = torch::binary_cross_entropy_with_logits(z, target, {}, {}, at::Reduction::None).mean(1);  // [2, 3, 2, 2]
  const double gated = (per[0][1][0][1].item<double>() + per[1][2][1][1].item<double>()) / 2;
  EXPECT_NEAR(m::one_hot_bce(z, y, gate).item<double>(), gated, 1e-12);
  EXPECT_THROW(m::one_hot_bce(z, torch::tensor({{0, 4, 1}, {2, 2, 0}}, torch::kLong)), golgi::Error);
  EXPECT_THROW(m::one_hot_bce(z, y.narrow(1, 0, 2)), golgi::Error);
  EXPECT_THROW(m::one_hot_bce(z, y, gate.narrow(1, 0, 2)), golgi::Error);
}

TEST(HeteroDelays, EvidenceAveragesProbabilitiesOverActiveVoxels) {
  at::Tensor z = torch::zeros({1, 2, 1, 1, 2});
  z[0][0][0][0][0] = 3.0;  // class 0 confident at voxel 0
  z[0][1][0][0][1] = 1.0;  // class 1 mildly at voxel 1
  at::Tensor all = m::class_evidence(z);
  EXPECT_NEAR(all[0][0][0].item<double>(), (1 / (1 + std::exp(-3.0)) + 0.5) / 2, 1e-6);
  at::Tensor gate = torch::zeros({1, 1, 1, 2});
  gate[0][0][0][1] = 1;
  at::Tensor gated = m::class_evidence(z, "probability", gate);
  EXPECT_NEAR(gated[0][0][0].item<double>(), 0.5, 1e-6);
  EXPECT_NEAR(gated[0][1][0].item<double>(), 1 / (1 + std::exp(-1.0)), 1e-6);
  EXPECT_NEAR(m::class_evidence(z, "logit")[0][0][0].item<double>(), 1.5, 1e-6);
  EXPECT_THROW(m::class_evidence(z, "softmax"), golgi::Error);
}

TEST(HeteroDelays, CountedStepsSkipAfterEachChange) {
  at::Tensor y = torch::tensor({{0, 0, 0, 0, 5, 5, 5, 5, 2, 2}}, torch::kLong);
  at::Tensor c = m::counted_steps(y, 2);
  std::vector<bool> expected = {false, false, true, true, false, false, true, true, false, false};
  for (int64_t t = 0; t < 10; ++t) EXPECT_EQ(c[0][t].item<bool>(), expected[static_cast<size_t>(t)]) << t;
  EXPECT_TRUE(m::counted_steps(y, 0).all().item<bool>());
  EXPECT_THROW(m::counted_steps(y, -1), golgi::Error);
}

TEST(HeteroDelays, MagnitudeMaskKeepsExactlyTheRequestedFraction) {
  at::Tensor w = torch::randn({4, 2, 12, 3, 3});
  const int64_t n = w.numel();  // 864
  for (double q : {0.1, 0.05, 0.25, 0.5, 1.0, 0.0}) {
    at::Tensor mask = m::magnitude_mask(w, q);
    EXPECT_EQ(mask.sizes(), w.sizes());
    EXPECT_EQ(mask.sum().item<int64_t>(), std::llround(q * static_cast<double>(n))) << q;
    if (q > 0 && q < 1) {
      // Every kept weight is at least as large as every pruned one.
      EXPECT_GE(w.abs().masked_select(mask.to(torch::kBool)).min().item<float>(),
                w.abs().masked_select(mask.eq(0)).max().item<float>());
    }
  }
  // Ties go to the lower flat index.
  at::Tensor ties = torch::ones({1, 1, 2, 1, 2});
  at::Tensor mask = m::magnitude_mask(ties, 0.5);
  EXPECT_EQ(mask.flatten()[0].item<float>(), 1.0f);
  EXPECT_EQ(mask.flatten()[1].item<float>(), 1.0f);
  EXPECT_EQ(mask.flatten()[2].item<float>(), 0.0f);
  EXPECT_THROW(m::magnitude_mask(w, 1.5), golgi::Error);
  EXPECT_THROW(m::magnitude_mask(w, -0.1), golgi::Error);
}

TEST(HeteroDelays, ShortestDelayMaskTruncatesTheKernelInTime) {
  EXPECT_EQ(m::kept_delays(12, 0.1), 1);    // 1.2 -> 1
  EXPECT_EQ(m::kept_delays(12, 0.125), 2);  // 1.5 -> 2 (half away from zero)
  EXPECT_EQ(m::kept_delays(12, 0.25), 3);
  EXPECT_EQ(m::kept_delays(12, 0.01), 1);   // at least one
  EXPECT_EQ(m::kept_delays(1, 0.1), 1);
  at::Tensor w = torch::randn({4, 2, 12, 3, 3});
  at::Tensor mask = m::shortest_delay_mask(w, 0.25);
  EXPECT_EQ(mask.narrow(2, 0, 3).min().item<float>(), 1.0f);
  EXPECT_EQ(mask.narrow(2, 3, 9).max().item<float>(), 0.0f);
  EXPECT_EQ(mask.sum().item<int64_t>(), w.numel() / 4);
  EXPECT_THROW(m::kept_delays(12, 0.0), golgi::Error);
  EXPECT_THROW(m::shortest_delay_mask(torch::randn({4, 2, 12}), 0.1), golgi::Error);
}

TEST(HeteroDelays, EvaluationCountsAKnownPerfectKernel) {
  // Class 0 responds to ON events, class 1 to OFF events (delay 0 only); streams whose label is
  // the polarity of their events are classified perfectly at every counted step.
  at::Tensor K = torch::zeros({2, 2, 2, 1, 1});
  K[0][0][0][0][0] = 4.0;
  K[1][1][0][0][0] = 4.0;
  at::Tensor b = torch::full({2}, -2.0);
  at::Tensor events = torch::zeros({2, 6, 2, 3, 3});  // [N, T, P, H, W]
  at::Tensor labels = torch::zeros({2, 6}, torch::kLong);
  events[0].select(1, 0).fill_(1.0);  // stream 0: ON everywhere, label 0
  events[1].select(1, 1).fill_(1.0);  // stream 1: OFF everywhere, label 1
  labels[1].fill_(1);
  auto r = m::evaluate_hetero_delays(K, b, events, labels, 1);
  EXPECT_DOUBLE_EQ(r.accuracy, 1.0);
  EXPECT_EQ(r.counted, 10);
  EXPECT_EQ(r.steps, 12);
  EXPECT_DOUBLE_EQ(r.active_voxels, 1.0);
  EXPECT_DOUBLE_EQ(r.per_class[0], 1.0);
  EXPECT_TRUE(r.to_json().contains("accuracy_logit_evidence"));
  EXPECT_THROW(m::evaluate_hetero_delays(K, b, events, labels.narrow(1, 0, 5), 1), golgi::Error);
}

TEST(HeteroDelays, OptionValidation) {
  EXPECT_THROW(m::HeteroDelayLayer(m::HeteroDelayOptions().delays(0)), golgi::Error);
  EXPECT_THROW(m::HeteroDelayLayer(m::HeteroDelayOptions().kernel_size(0)), golgi::Error);
  m::HeteroDelayTrainOptions t;
  EXPECT_THROW(m::HeteroDelayTrainOptions::schema().apply(t, {{"voxels", "some"}}), golgi::Error);
  EXPECT_THROW(m::HeteroDelayTrainOptions::schema().apply(t, {{"stpes", 3}}), golgi::Error);
  EXPECT_THROW(m::HeteroDelayTrainOptions::schema().apply(t, {{"lr", 0.0}}), golgi::Error);
  // Shape errors of the convolution.
  at::Tensor K = torch::zeros({2, 2, 3, 3, 3});
  EXPECT_THROW(m::causal_delay_conv(torch::zeros({1, 1, 4, 5, 5}), K, {}), golgi::Error);  // polarities
  EXPECT_THROW(m::causal_delay_conv(torch::zeros({1, 2, 4, 2, 2}), K, {}), golgi::Error);  // too small
  EXPECT_THROW(m::causal_delay_conv(torch::zeros({2, 4, 5, 5}), K, {}), golgi::Error);     // rank
  EXPECT_THROW(m::causal_delay_conv(torch::zeros({1, 2, 4, 5, 5}), K, torch::zeros({3})), golgi::Error);
  m::HeteroDelayLayer layer(m::HeteroDelayOptions().classes(2).delays(2).kernel_size(1));
  EXPECT_THROW(m::train_hetero_delays(layer, torch::zeros({2, 4, 2, 3, 3}), torch::zeros({2, 3}, torch::kLong)),
               golgi::Error);
}

}  // namespace
