// activation maximisation: the normalised ascent step on a linear model (known values), clipping,
// row independence from the batch (per-row jitter streams), early stopping at a probability,
// neuron objectives, the TV step smoothing the result, side effects, and bad input.
#include <gtest/gtest.h>

#include <torch/torch.h>

#include "golgi/core/error.h"
#include "golgi/methods/feature_vis/activation_max.h"
#include "golgi/models/cnn.h"
#include "golgi/models/mlp.h"
#include "test_support.h"

namespace {

namespace m = golgi::methods;
namespace models = golgi::models;
using golgi::testing::error_of;

m::ActivationMaxOptions opts() { return m::ActivationMaxOptions().progress(false).jitter(0).lo(-1).hi(1); }

at::Tensor param(models::Model& model, const std::string& name) {
  for (const auto& p : model.named_parameters())
    if (p.key() == name) return p.value();
  ADD_FAILURE() << "no parameter " << name;
  return {};
}

std::shared_ptr<models::Cnn> small_cnn(uint64_t seed) {
  torch::manual_seed(static_cast<int64_t>(seed));
  return std::make_shared<models::Cnn>(
      models::CnnOptions().image_size(8).channels({4}).kernel_size(3).hidden({8}).classes(3));
}

// Total variation (anisotropic) of [B, C, H, W] images, per batch.
double total_variation(const at::Tensor& x) {
  using torch::indexing::Slice;
  auto dy = (x.index({Slice(), Slice(), Slice(1), Slice()}) - x.index({Slice(), Slice(), Slice(0, -1), Slice()}));
  auto dx = (x.index({Slice(), Slice(), Slice(), Slice(1)}) - x.index({Slice(), Slice(), Slice(), Slice(0, -1)}));
  return (dy.abs().sum() + dx.abs().sum()).item<double>();
}

TEST(ActivationMax, LinearModelTakesTheNormalisedStep) {
  // logits = x W^T + b: the gradient of logit c is W[c], so one step moves x by
  // lr * range * W[c] / mean|W[c]| before clipping.
  torch::manual_seed(0);
  models::Mlp model(models::MlpOptions().input_shape({6}).hidden({}).classes(2));
  at::Tensor w = param(model, "head.weight");
  at::Tensor init = torch::zeros({2, 6});
  at::Tensor targets = torch::tensor({0, 1}, torch::kLong);
  auto result = m::maximize_activation(model, init, targets, opts().steps(1).lr(0.05));
  at::Tensor expected = (0.05 * 2.0 * w / w.abs().mean(1, true)).clamp(-1, 1);
  EXPECT_TRUE(torch::allclose(result.images, expected, 1e-5, 1e-6)) << result.images << expected;
  // Many steps drive every pixel to the bound its weight's sign points at.
  auto far = m::maximize_activation(model, init, targets, opts().steps(200).lr(0.05));
  // Pixels move monotonically, so clipping every step equals clipping the sum of the 200 steps.
  EXPECT_TRUE(torch::allclose(far.images, (200 * 0.05 * 2.0 * w / w.abs().mean(1, true)).clamp(-1, 1), 1e-4, 1e-5))
      << far.images;
  EXPECT_EQ(far.steps_taken[0].item<int64_t>(), 200);
  at::Tensor logits = torch::matmul(far.images, w.t()) + param(model, "head.bias");
  EXPECT_NEAR(far.objective[1].item<double>(), logits[1][1].item<double>(), 1e-5);
  EXPECT_NEAR(far.probability[0].item<double>(), torch::softmax(logits[0], 0)[0].item<double>(), 1e-5);
}

TEST(ActivationMax, RaisesTheTargetAndStaysInRange) {
  // A freshly initialised CNN's logits barely move with its input: sharpen its head so that
  // the class probabilities can rise far within 40 steps.
  auto model = small_cnn(1);
  {
    torch::NoGradGuard no_grad;
    param(*model, "head.weight").mul_(20);
  }
  at::Tensor init = torch::rand({3, 1, 8, 8}) * 0.2 - 0.1;
  at::Tensor targets = torch::tensor({0, 1, 2}, torch::kLong);
  auto before = m::maximize_activation(*model, init, targets, opts().steps(0));
  auto after = m::maximize_activation(*model, init, targets,
                                      opts().steps(40).jitter(1).scale(0.1).objective("log_probability"));
  EXPECT_GE(after.images.min().item<double>(), -1.0);
  EXPECT_LE(after.images.max().item<double>(), 1.0);
  for (int64_t b = 0; b < 3; ++b)
    EXPECT_GT(after.probability[b].item<double>(), before.probability[b].item<double>() + 0.1) << b;
}

TEST(ActivationMax, ARowsResultDoesNotDependOnItsBatch) {
  auto model = small_cnn(2);
  at::Tensor init = torch::rand({3, 1, 8, 8}) - 0.5;
  at::Tensor targets = torch::tensor({2, 0, 1}, torch::kLong);
  auto options = opts().steps(15).jitter(2).scale(0.2).tv_weight(20);
  auto all = m::maximize_activation(*model, init, targets, options);
  // Row 0 alone gets stream 0 as in the batch: the same result.
  auto first = m::maximize_activation(*model, init.slice(0, 0, 1), targets.slice(0, 0, 1), options);
  EXPECT_TRUE(torch::allclose(first.images[0], all.images[0], 1e-5, 1e-6));
  // Another seed gives other jitter draws and so another image.
  auto other = m::maximize_activation(*model, init, targets, options.seed(7));
  EXPECT_FALSE(torch::allclose(other.images, all.images, 1e-5, 1e-6));
}

TEST(ActivationMax, StopsRowsThatReachTheProbability) {
  torch::manual_seed(3);
  models::Mlp model(models::MlpOptions().input_shape({5}).hidden({}).classes(2));
  {
    torch::NoGradGuard no_grad;
    param(model, "head.weight").copy_(torch::tensor({{1.0, 1.0, 1.0, 1.0, 1.0}, {-1.0, -1.0, -1.0, -1.0, -1.0}}));
    param(model, "head.bias").zero_();
  }
  // Each step adds lr * range = 0.2 to every pixel, so the logit gap 2 * 5 * x grows by 2 a step:
  // p(class 0) = sigmoid(2 * step) passes 0.99 at step 3 (sigmoid(6) = 0.9975).
  auto result = m::maximize_activation(model, torch::zeros({1, 5}), torch::tensor({0}, torch::kLong),
                                       opts().steps(50).lr(0.1).stop_probability(0.99));
  EXPECT_EQ(result.steps_taken[0].item<int64_t>(), 3);
  EXPECT_NEAR(result.images[0][0].item<double>(), 0.6, 1e-6);
  EXPECT_GE(result.probability[0].item<double>(), 0.99);
}

TEST(ActivationMax, MaximisesANeuron) {
  auto model = small_cnn(4);
  at::Tensor init = torch::zeros({1, 1, 8, 8});
  auto options = opts().neuron("fc1.hook_post:3").steps(30);
  auto before = m::maximize_activation(*model, init, {}, options.steps(0));
  auto after = m::maximize_activation(*model, init, {}, options.steps(30));
  EXPECT_GT(after.objective[0].item<double>(), before.objective[0].item<double>() + 0.1);
  EXPECT_TRUE(std::isnan(after.probability[0].item<double>()));
}

TEST(ActivationMax, ABareHookGivesEachRowItsOwnNeuron) {
  // Rows 0 and 1 maximise fc0 neurons 5 and 2 in one run: each equals its single-neuron run.
  auto model = small_cnn(8);
  at::Tensor init = torch::rand({2, 1, 8, 8}) - 0.5;
  auto options = opts().steps(12).jitter(1).tv_weight(5);
  auto batched = m::maximize_activation(*model, init, torch::tensor({5, 2}, torch::kLong),
                                        options.neuron("fc1.hook_post"));
  auto five = m::maximize_activation(*model, init.slice(0, 0, 1), {}, options.neuron("fc1.hook_post:5"));
  EXPECT_TRUE(torch::allclose(batched.images[0], five.images[0], 1e-5, 1e-6));
  EXPECT_NEAR(batched.objective[0].item<double>(), five.objective[0].item<double>(), 1e-4);
  // Conv channels: the channel's map summed.
  auto channel = m::maximize_activation(*model, init, torch::tensor({3, 0}, torch::kLong),
                                        options.neuron("conv1.hook_post"));
  auto three = m::maximize_activation(*model, init.slice(0, 0, 1), {}, options.neuron("conv1.hook_post:3"));
  EXPECT_NEAR(channel.objective[0].item<double>(), three.objective[0].item<double>(), 1e-4);
  EXPECT_NE(error_of([&] {
              m::maximize_activation(*model, init, torch::tensor({0, 8}, torch::kLong), options.neuron("fc1.hook_post"));
            }).find("out of range"),
            std::string::npos);
}

TEST(ActivationMax, TvStepSmoothsTheResult) {
  auto model = small_cnn(5);
  at::Tensor init = torch::rand({2, 1, 8, 8}) - 0.5;
  at::Tensor targets = torch::tensor({0, 1}, torch::kLong);
  auto rough = m::maximize_activation(*model, init, targets, opts().steps(20));
  auto smooth = m::maximize_activation(*model, init, targets, opts().steps(20).tv_weight(2.0));
  EXPECT_LT(total_variation(smooth.images), 0.7 * total_variation(rough.images));
}

TEST(ActivationMax, LeavesTheModelAsItWas) {
  auto model = small_cnn(6);
  model->train();
  m::maximize_activation(*model, torch::zeros({1, 1, 8, 8}), torch::tensor({1}, torch::kLong), opts().steps(3));
  EXPECT_TRUE(model->is_training());
  for (const auto& p : model->parameters()) {
    EXPECT_TRUE(p.requires_grad());
    EXPECT_FALSE(p.grad().defined());
  }
}

TEST(ActivationMax, BadInputIsOneClearError) {
  auto model = small_cnn(7);
  at::Tensor good = torch::zeros({1, 1, 8, 8});
  at::Tensor t = torch::tensor({0}, torch::kLong);
  EXPECT_NE(error_of([&] { m::maximize_activation(*model, torch::zeros({1, 1, 9, 9}), t, opts()); })
                .find("takes [batch, 1, 8, 8]"),
            std::string::npos);
  EXPECT_NE(error_of([&] { m::maximize_activation(*model, good * NAN, t, opts()); }).find("NaN"), std::string::npos);
  EXPECT_NE(error_of([&] { m::maximize_activation(*model, good, t, opts().lo(1).hi(1)); }).find("lo < hi"),
            std::string::npos);
  EXPECT_NE(error_of([&] { m::maximize_activation(*model, good, torch::tensor({3}, torch::kLong), opts()); })
                .find("out of range"),
            std::string::npos);
  EXPECT_NE(error_of([&] { m::maximize_activation(*model, good, t, opts().neuron("nope.hook_post:0")); })
                .find("nope.hook_post"),
            std::string::npos);
  models::Mlp flat(models::MlpOptions().input_shape({4}).hidden({}).classes(2));
  EXPECT_NE(error_of([&] { m::maximize_activation(flat, torch::zeros({1, 4}), t, opts().jitter(1)); })
                .find("need image inputs"),
            std::string::npos);
}

}  // namespace
