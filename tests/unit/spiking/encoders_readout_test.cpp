// Spike encoders (rate, direct, latency) and time readouts: exact values, seeds, rates, errors.
#include <gtest/gtest.h>

#include <torch/torch.h>

#include "golgi/spiking/encoders.h"
#include "golgi/spiking/readout.h"
#include "test_support.h"

namespace {

using golgi::testing::error_of;

TEST(SpikingEncoders, RateCodingFiresAtTheInputRateAndRepeatsWithItsSeed) {
  const at::Tensor x = torch::tensor({{0.0, 0.1, 0.5, 0.9, 1.0}});
  at::Tensor s = golgi::spiking::rate_encode(x, 20000, 7);
  ASSERT_EQ(s.sizes(), (std::vector<int64_t>{20000, 1, 5}));
  at::Tensor rates = s.mean(0)[0];
  for (int64_t i = 0; i < 5; ++i) {
    const double p = x[0][i].item<double>();
    // 5 standard errors of a Bernoulli mean over 20,000 steps.
    EXPECT_NEAR(rates[i].item<double>(), p, 5 * std::sqrt(p * (1 - p) / 20000) + 1e-12) << "rate " << p;
  }
  EXPECT_TRUE(torch::equal(s, golgi::spiking::rate_encode(x, 20000, 7)));
  EXPECT_FALSE(torch::equal(s, golgi::spiking::rate_encode(x, 20000, 8)));
  EXPECT_TRUE(s.eq(0).logical_or(s.eq(1)).all().item<bool>());
}

TEST(SpikingEncoders, DirectRepeatsAndLatencyFiresOnceEarlierForStrongerInputs) {
  const at::Tensor x = torch::tensor({{0.0, 0.25, 1.0}});
  at::Tensor d = golgi::spiking::direct_encode(x, 3);
  EXPECT_TRUE(torch::equal(d, x.unsqueeze(0).repeat({3, 1, 1})));
  at::Tensor l = golgi::spiking::latency_encode(x, 5);
  // t = round((1 - x) * 4): x 1 -> step 0, x 0.25 -> step 3, x 0 -> never (not above threshold 0).
  EXPECT_TRUE(torch::equal(l.sum(0), torch::tensor({{0.0, 1.0, 1.0}})));
  EXPECT_EQ(l[3][0][1].item<double>(), 1.0);
  EXPECT_EQ(l[0][0][2].item<double>(), 1.0);
}

TEST(SpikingEncoders, BadInputsGetClearErrors) {
  EXPECT_NE(error_of([] { golgi::spiking::rate_encode(torch::tensor({1.5}), 4, 0); }).find("[0, 1]"), std::string::npos);
  EXPECT_NE(error_of([] { golgi::spiking::latency_encode(torch::tensor({0.5}), 0); }).find("steps must be >= 1"),
            std::string::npos);
}

TEST(SpikingReadout, EveryReadoutMatchesItsFormula) {
  const at::Tensor v = torch::tensor({{{1.0, 2.0}}, {{3.0, 0.0}}, {{-1.0, 4.0}}}, torch::kDouble);  // [T=3, B=1, C=2]
  EXPECT_TRUE(torch::equal(golgi::spiking::last_step(v), torch::tensor({{-1.0, 4.0}}, torch::kDouble)));
  EXPECT_TRUE(torch::allclose(golgi::spiking::mean_over_time(v), torch::tensor({{1.0, 2.0}}, torch::kDouble)));
  at::Tensor expected = torch::softmax(v[0], -1) + torch::softmax(v[1], -1) + torch::softmax(v[2], -1);
  EXPECT_TRUE(torch::allclose(golgi::spiking::sum_softmax(v), expected));
  at::Tensor cumulative = golgi::spiking::cumulative_mean(v);
  EXPECT_TRUE(torch::allclose(cumulative[1], torch::tensor({{2.0, 1.0}}, torch::kDouble)));
  EXPECT_TRUE(torch::allclose(cumulative[2], golgi::spiking::mean_over_time(v)));
  const at::Tensor s = torch::tensor({{{1.0, 0.0}}, {{1.0, 1.0}}}, torch::kDouble);
  EXPECT_TRUE(torch::equal(golgi::spiking::spike_counts(s), torch::tensor({{2.0, 1.0}}, torch::kDouble)));
  EXPECT_TRUE(torch::equal(golgi::spiking::spike_rates(s), torch::tensor({{1.0, 0.5}}, torch::kDouble)));
  EXPECT_NE(error_of([] { golgi::spiking::last_step(torch::zeros({3})); }).find("time-major"), std::string::npos);
}

}  // namespace
