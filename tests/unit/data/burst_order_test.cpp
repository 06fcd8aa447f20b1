// burst-order: deterministic, equal spike rates in every class, and classes told apart only by
// the order in which the channel groups burst.
#include <gtest/gtest.h>

#include <torch/torch.h>

#include "golgi/data/registry.h"

namespace {

std::shared_ptr<golgi::data::Dataset> load(const std::string& split, uint64_t seed = 0) {
  golgi::data::DataOptions options;
  options.split = split;
  options.seed = seed;
  return golgi::data::load_dataset("burst-order", options);
}

TEST(BurstOrder, ShapesCardsAndSeeds) {
  auto train = load("train");
  EXPECT_EQ(train->size(), 2000);
  EXPECT_EQ(train->sample_shape(), (std::vector<int64_t>{100, 32}));
  EXPECT_EQ(train->card()["classes"].size(), 8u);
  EXPECT_EQ(train->card()["classes"][0], "ABCD");
  EXPECT_TRUE(torch::equal(train->inputs(), load("train")->inputs()));
  EXPECT_FALSE(torch::equal(train->inputs(), load("train", 1)->inputs()));
  EXPECT_FALSE(torch::equal(train->inputs().narrow(0, 0, 500), load("test")->inputs()));
  EXPECT_TRUE(train->inputs().eq(0).logical_or(train->inputs().eq(1)).all().item<bool>());
}

TEST(BurstOrder, RatesCarryNoClassInformation) {
  auto train = load("train");
  at::Tensor counts = train->inputs().sum(1);  // [N, channels]
  at::Tensor y = train->targets();
  at::Tensor overall = counts.mean(0);
  for (int64_t k = 0; k < 8; ++k) {
    at::Tensor per_class = counts.index({y.eq(k)}).mean(0);
    // Each channel: 3 burst spikes + Binomial(100, 0.01) background; class means agree within noise.
    EXPECT_LT((per_class - overall).abs().max().item<double>(), 0.25) << "class " << k;
  }
  EXPECT_NEAR(overall.mean().item<double>(), 3.0 + 1.0, 0.1);
}

TEST(BurstOrder, GroupsBurstInTheClassOrder) {
  auto train = load("train");
  const auto& names = train->card()["classes"];
  at::Tensor x = train->inputs();
  at::Tensor steps = torch::arange(100, torch::kFloat).view({1, 100, 1});
  for (int64_t i = 0; i < 40; ++i) {
    const std::string order = names[static_cast<size_t>(train->targets()[i].item<int64_t>())];
    // Mean spike time of each group (background adds little): increasing in the class's order.
    std::vector<double> mean_time(4);
    for (int64_t g = 0; g < 4; ++g) {
      at::Tensor group = x[i].narrow(1, g * 8, 8);
      mean_time[static_cast<size_t>(g)] = (group * steps[0]).sum().item<double>() / group.sum().item<double>();
    }
    for (size_t k = 0; k + 1 < order.size(); ++k)
      EXPECT_LT(mean_time[static_cast<size_t>(order[k] - 'A')], mean_time[static_cast<size_t>(order[k + 1] - 'A')])
          << "sample " << i << " order " << order;
  }
}

}  // namespace
