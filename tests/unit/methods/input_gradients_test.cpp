// input-gradients: the PGD attack (inside the ε-ball and the data bounds, raises the loss, leaves
// parameter gradients alone, loud about wrong bounds), BlockFMNIST construction (shapes, labels,
// signal positions and the signal mask), the DiffROAR pixel selection and masking (known values,
// deterministic ties, mean fill), the top-k share inside a region, and DiffROAR itself on a toy
// problem whose discriminative pixels are known (an oracle ranking scores far above zero, the
// reversed ranking far below).
#include <gtest/gtest.h>

#include <cmath>

#include <torch/torch.h>

#include "golgi/core/error.h"
#include "golgi/core/runtime.h"
#include "golgi/core/seed.h"
#include "golgi/data/block_fmnist.h"
#include "golgi/data/dataset.h"
#include "golgi/methods/input_gradients/diffroar.h"
#include "golgi/models/model.h"
#include "golgi/models/registry.h"
#include "golgi/train/adversarial.h"
#include "test_support.h"

namespace {

namespace m = golgi::methods;
namespace tr = golgi::train;
namespace gd = golgi::data;
using golgi::testing::error_of;

std::shared_ptr<golgi::models::Model> tiny_mlp(std::vector<int64_t> input_shape, int64_t classes, uint64_t seed,
                                               std::vector<int64_t> hidden = {32}) {
  torch::manual_seed(seed);
  return golgi::models::make_model("mlp", {{"input_shape", input_shape}, {"hidden", hidden}, {"classes", classes}});
}

at::Tensor summed_loss(golgi::models::Model& model, const at::Tensor& x, const at::Tensor& y) {
  torch::NoGradGuard no_grad;
  return torch::nn::functional::cross_entropy(model.forward(x), y,
                                              torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum));
}

// ---------------------------------------------------------------- PGD

struct PgdCase {
  std::shared_ptr<golgi::models::Model> model;
  at::Tensor x, y;
};

PgdCase pgd_case() {
  PgdCase c;
  c.model = tiny_mlp({1, 4, 4}, 3, 11);
  c.model->eval();
  {
    // Larger weights than the default initialisation, so the logits (and the loss) respond to
    // input changes of the size of ε.
    torch::NoGradGuard no_grad;
    for (auto& p : c.model->parameters()) p.mul_(4.0);
  }
  auto gen = at::make_generator<at::CPUGeneratorImpl>(5);
  c.x = at::rand({32, 1, 4, 4}, gen);
  // Pixels on both bounds, where the projection onto the data range is what holds the iterate.
  c.x.index_put_({torch::indexing::Slice(), 0, 0, 0}, 0.0);
  c.x.index_put_({torch::indexing::Slice(), 0, 3, 3}, 1.0);
  c.y = at::randint(3, {32}, gen, torch::kLong);
  return c;
}

TEST(InputGradientsPgd, StaysInsideTheEpsilonBallAndTheDataBoundsAndRaisesTheLoss) {
  PgdCase c = pgd_case();
  const auto options = tr::PgdOptions().epsilon(0.1).step_size(0.03).steps(10).lower(0).upper(1).seed(3);
  const at::Tensor adv = tr::pgd_attack(*c.model, c.x, c.y, options);
  ASSERT_EQ(adv.sizes(), c.x.sizes());
  EXPECT_LE((adv - c.x).abs().max().item<double>(), 0.1 + 1e-6);
  EXPECT_GE(adv.min().item<double>(), 0.0);
  EXPECT_LE(adv.max().item<double>(), 1.0);
  // The attack moves most pixels to the ball's boundary (sign steps of 0.03, 10 of them).
  EXPECT_GT((adv - c.x).abs().mean().item<double>(), 0.05);
  const double clean = summed_loss(*c.model, c.x, c.y).item<double>();
  const double attacked = summed_loss(*c.model, adv, c.y).item<double>();
  EXPECT_GT(attacked, clean * 1.2) << "clean " << clean << ", attacked " << attacked;
  // And well above a random point of the same ball.
  auto gen = at::make_generator<at::CPUGeneratorImpl>(8);
  const at::Tensor noisy = (c.x + at::empty(c.x.sizes()).uniform_(-0.1, 0.1, gen)).clamp(0, 1);
  const double random = summed_loss(*c.model, noisy, c.y).item<double>();
  EXPECT_GT(attacked - clean, 5 * std::abs(random - clean)) << "random " << random;
  // Per sample too: no sample's loss goes down by more than rounding.
  torch::NoGradGuard no_grad;
  const at::Tensor per_clean = torch::nn::functional::cross_entropy(
      c.model->forward(c.x), c.y, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone));
  const at::Tensor per_adv = torch::nn::functional::cross_entropy(
      c.model->forward(adv), c.y, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone));
  EXPECT_GE((per_adv - per_clean).min().item<double>(), -1e-4);
}

TEST(InputGradientsPgd, IsDeterministicAndLeavesParameterGradientsAlone) {
  PgdCase c = pgd_case();
  const auto options = tr::PgdOptions().epsilon(0.2).step_size(0.05).steps(3).seed(9);
  const at::Tensor a = tr::pgd_attack(*c.model, c.x, c.y, options);
  const at::Tensor b = tr::pgd_attack(*c.model, c.x, c.y, options);
  EXPECT_TRUE(torch::equal(a, b));
  const at::Tensor other = tr::pgd_attack(*c.model, c.x, c.y, tr::PgdOptions(options).seed(10));
  EXPECT_FALSE(torch::equal(a, other));  // another random start
  for (const auto& p : c.model->parameters()) EXPECT_FALSE(p.grad().defined());
  EXPECT_FALSE(c.model->is_training());  // the eval flag is left as it was
  // Without a random start and with ε = 0 the attack is the identity.
  EXPECT_TRUE(torch::equal(tr::pgd_attack(*c.model, c.x, c.y, tr::PgdOptions(options).epsilon(0)), c.x));
  const at::Tensor fixed = tr::pgd_attack(*c.model, c.x, c.y, tr::PgdOptions(options).random_start(false).steps(1));
  // One step from x without a random start: every free pixel moves by exactly α (or sits on a
  // bound); none moves by more.
  EXPECT_LE((fixed - c.x).abs().max().item<double>(), 0.05 + 1e-6);
}

TEST(InputGradientsPgd, RejectsInputsOutsideTheBoundsAndBadOptions) {
  PgdCase c = pgd_case();
  const at::Tensor normalised = (c.x - 0.286) / 0.353;
  std::string message = error_of([&] { tr::pgd_attack(*c.model, normalised, c.y, tr::PgdOptions()); });
  EXPECT_NE(message.find("data bounds"), std::string::npos) << message;
  EXPECT_NE(error_of([&] { tr::pgd_attack(*c.model, c.x, c.y, tr::PgdOptions().steps(0)); }).find("pgd.steps"),
            std::string::npos);
  EXPECT_NE(error_of([&] { tr::pgd_attack(*c.model, c.x, c.y, tr::PgdOptions().lower(1).upper(0)); })
                .find("lower < upper"),
            std::string::npos);
  EXPECT_NE(error_of([&] { tr::pgd_attack(*c.model, c.x, c.y.narrow(0, 0, 5), tr::PgdOptions()); }).find("targets"),
            std::string::npos);
}

TEST(InputGradientsPgd, AdversarialTrainingBuildsRobustness) {
  // Robust and non-robust features (as Tsipras et al. 2019): pixel 0 is (2y − 1) · U[0.3, 1], far
  // beyond ε = 0.2 from the boundary; the other 15 pixels are each (2y − 1) · 0.15 + N(0, 0.3²),
  // together as predictive but each within ε of flipping. A standard model leans on all 16 and an
  // ε-attack shifting the 15 in concert breaks it; adversarial training at the same ε learns to
  // rely on pixel 0 and stays accurate under attack.
  const golgi::ScopedThreads one(1);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(21);
  const int64_t n = 800;
  const at::Tensor y = at::randint(2, {n}, gen, torch::kLong);
  const at::Tensor sign = (y.to(torch::kFloat) * 2 - 1).view({n, 1, 1, 1});
  at::Tensor x = sign * 0.15 + at::normal(0.0, 0.3, {n, 1, 4, 4}, gen);
  x.index_put_({torch::indexing::Slice(), 0, 0, 0}, sign.flatten() * (at::rand({n}, gen) * 0.7 + 0.3));
  x = x.clamp(-3, 3);
  const auto attack = tr::PgdOptions().epsilon(0.2).step_size(0.08).steps(5).lower(-3).upper(3);
  auto options = tr::ClassifierTrainOptions().epochs(8).batch_size(50).lr(3e-3).progress(false).seed(1);
  auto standard = tiny_mlp({1, 4, 4}, 2, 1, {16});
  tr::train_classifier(*standard, x, y, options);
  auto robust = tiny_mlp({1, 4, 4}, 2, 1, {16});
  const auto result = tr::train_classifier(*robust, x, y, tr::ClassifierTrainOptions(options).adversarial(true).attack(attack));
  EXPECT_EQ(result.steps, 8 * 16);
  EXPECT_FALSE(robust->is_training());
  const double robust_acc = tr::robust_accuracy(*robust, x, y, attack);
  const double standard_acc = tr::robust_accuracy(*standard, x, y, attack);
  EXPECT_GT(robust_acc, standard_acc + 0.15) << "robust " << robust_acc << ", standard " << standard_acc;
  EXPECT_GT(robust_acc, 0.9);
  EXPECT_GT(tr::classifier_accuracy(*standard, x, y), 0.95);
}

// ---------------------------------------------------------------- BlockFMNIST

// A stand-in for a Fashion-MNIST split: image i is filled with the value i (so it can be traced),
// labels cycle 0..9.
gd::Dataset fake_fmnist(int64_t n) {
  at::Tensor x = torch::arange(n, torch::kFloat).view({n, 1, 1, 1}).expand({n, 1, 28, 28}).contiguous();
  at::Tensor y = torch::arange(n, torch::kLong).remainder(10);
  return gd::Dataset("fashion-mnist", "test", x, y);
}

TEST(InputGradientsBlockFmnist, ShapesLabelsAndSignalPositions) {
  const gd::Dataset source = fake_fmnist(200);
  const auto options = gd::BlockFmnistOptions().classes({7, 3}).seed(4);
  const gd::BlockImages b = gd::make_block_fmnist(source, options);
  ASSERT_EQ(b.inputs.sizes(), (std::vector<int64_t>{40, 1, 56, 28}));
  ASSERT_EQ(b.targets.sizes(), (std::vector<int64_t>{40}));
  // Samples 3, 7, 13, 17, ...: class 7 is label 0, class 3 label 1, in source order.
  EXPECT_EQ(b.source_index[0].item<int64_t>(), 3);
  EXPECT_EQ(b.source_index[1].item<int64_t>(), 7);
  EXPECT_EQ(b.targets[0].item<int64_t>(), 1);
  EXPECT_EQ(b.targets[1].item<int64_t>(), 0);
  EXPECT_EQ(b.targets.sum().item<int64_t>(), 20);
  EXPECT_TRUE(torch::equal(b.signal_top, gd::block_signal_top(4, "test", 40)));
  const int64_t on_top = b.signal_top.sum().item<int64_t>();
  EXPECT_GT(on_top, 5);
  EXPECT_LT(on_top, 35);
  const at::Tensor null = gd::block_null_block();
  const at::Tensor mask = gd::block_signal_mask(b.signal_top);
  ASSERT_EQ(mask.sizes(), b.inputs.sizes());
  for (int64_t i = 0; i < 40; ++i) {
    const bool top = b.signal_top[i].item<bool>();
    const at::Tensor image = b.inputs[i][0];
    const at::Tensor signal = image.narrow(0, top ? 0 : 28, 28), other = image.narrow(0, top ? 28 : 0, 28);
    EXPECT_TRUE(torch::all(signal == static_cast<float>(b.source_index[i].item<int64_t>())).item<bool>()) << i;
    EXPECT_TRUE(torch::equal(other, null[0])) << i;
    EXPECT_EQ(mask[i][0].narrow(0, top ? 0 : 28, 28).all().item<bool>(), true);
    EXPECT_EQ(mask[i][0].narrow(0, top ? 28 : 0, 28).any().item<bool>(), false);
  }
  // The null block: the hollow square at pixel value 1, zero elsewhere, in input units.
  EXPECT_NEAR(null[0][6][6].item<double>(), (1 - 0.2860) / 0.3530, 1e-5);
  EXPECT_NEAR(null[0][13][13].item<double>(), -0.2860 / 0.3530, 1e-5);
  EXPECT_NEAR(null[0][21][13].item<double>(), (1 - 0.2860) / 0.3530, 1e-5);
  EXPECT_EQ(((null[0] > 0).sum()).item<int64_t>(), 16 * 16 - 12 * 12);
  // Another seed moves the signals; the dataset wrapper keeps labels and records the rule.
  EXPECT_FALSE(torch::equal(b.signal_top, gd::block_signal_top(5, "test", 40)));
  const auto dataset = gd::block_dataset(b, "test", options);
  EXPECT_EQ(dataset->num_classes(), 2);
  EXPECT_EQ(dataset->card()["signal_on_top"].get<int64_t>(), on_top);
}

TEST(InputGradientsBlockFmnist, RejectsBadClassesAndSources) {
  const gd::Dataset source = fake_fmnist(50);
  EXPECT_NE(error_of([&] { gd::make_block_fmnist(source, gd::BlockFmnistOptions().classes({3, 3})); }).find("distinct"),
            std::string::npos);
  EXPECT_NE(error_of([&] { gd::make_block_fmnist(source, gd::BlockFmnistOptions().classes({3, 10})); })
                .find("block_fmnist.classes"),
            std::string::npos);
  const gd::Dataset wrong("x", "train", torch::zeros({4, 1, 8, 8}), torch::zeros({4}, torch::kLong));
  EXPECT_NE(error_of([&] { gd::make_block_fmnist(wrong); }).find("[N, 1, 28, 28]"), std::string::npos);
  const gd::Dataset few("fashion-mnist", "train", torch::zeros({4, 1, 28, 28}), torch::tensor({0, 0, 0, 0}));
  EXPECT_NE(error_of([&] { gd::make_block_fmnist(few); }).find("no samples of class 1"), std::string::npos);
}

TEST(InputGradientsBlockFmnist, PixelConversions) {
  EXPECT_NEAR(gd::fmnist_pixel_to_input(0.1, /*offset=*/false), 0.2833, 1e-4);
  EXPECT_NEAR(gd::fmnist_pixel_to_input(0.0), -0.8102, 1e-4);
  EXPECT_NEAR(gd::fmnist_pixel_to_input(1.0), 2.0227, 1e-4);
}

// ---------------------------------------------------------------- DiffROAR masking

TEST(InputGradientsMasking, SelectsTopAndBottomPixelsWithIndexOrderTies) {
  // One image, one channel, 2 x 3: |a| = [3 1 1 / 1 0 5].
  const at::Tensor a = torch::tensor({3.0f, -1.0f, 1.0f, 1.0f, 0.0f, -5.0f}).view({1, 1, 2, 3});
  const at::Tensor scores = m::pixel_scores(a);
  EXPECT_TRUE(torch::equal(scores, torch::tensor({{3.0f, 1.0f, 1.0f, 1.0f, 0.0f, 5.0f}})));
  // k = round(0.5 · 6) = 3. Top: 5 (5), 3 (0), then the first of the three tied 1s (index 1).
  EXPECT_TRUE(torch::equal(m::select_pixels(scores, 0.5, "top"), torch::tensor({{true, true, false, false, false, true}})));
  // Bottom: 0 (4), then the first two tied 1s (indices 1 and 2).
  EXPECT_TRUE(torch::equal(m::select_pixels(scores, 0.5, "bottom"), torch::tensor({{false, true, true, false, true, false}})));
  // k = round(0.25 · 6) = round(1.5) = 2; fraction 0 selects nothing, 1 everything.
  EXPECT_EQ(m::select_pixels(scores, 0.25, "top").sum().item<int64_t>(), 2);
  EXPECT_EQ(m::select_pixels(scores, 0.0, "top").sum().item<int64_t>(), 0);
  EXPECT_EQ(m::select_pixels(scores, 1.0, "bottom").sum().item<int64_t>(), 6);
  // All ties: the lowest indices first, from either end.
  const at::Tensor flat = torch::zeros({2, 4});
  EXPECT_TRUE(torch::equal(m::select_pixels(flat, 0.5, "top"), torch::tensor({{true, true, false, false}, {true, true, false, false}})));
  EXPECT_TRUE(torch::equal(m::select_pixels(flat, 0.5, "bottom"), m::select_pixels(flat, 0.5, "top")));
  // Channels are summed in absolute value.
  const at::Tensor two = torch::tensor({1.0f, -2.0f, -3.0f, 0.5f}).view({1, 2, 1, 2});
  EXPECT_TRUE(torch::equal(m::pixel_scores(two), torch::tensor({{4.0f, 2.5f}})));
}

TEST(InputGradientsMasking, FillsWithTheChannelMean) {
  // Two images, two channels, 1 x 2 pixels.
  const at::Tensor x = torch::tensor({1.0f, 2.0f, 10.0f, 20.0f, 3.0f, 4.0f, 30.0f, 40.0f}).view({2, 2, 1, 2});
  const at::Tensor fill = m::channel_mean(x);
  EXPECT_TRUE(torch::allclose(fill, torch::tensor({2.5f, 25.0f})));
  const at::Tensor selected = torch::tensor({{true, false}, {false, true}});
  const at::Tensor masked = m::mask_pixels(x, selected, fill);
  const at::Tensor expected = torch::tensor({2.5f, 2.0f, 25.0f, 20.0f, 3.0f, 2.5f, 30.0f, 25.0f}).view({2, 2, 1, 2});
  EXPECT_TRUE(torch::equal(masked, expected)) << masked;
  EXPECT_EQ(x[0][0][0][0].item<float>(), 1.0f);  // a copy
  EXPECT_NE(error_of([&] { m::mask_pixels(x, torch::ones({3}, torch::kBool), fill); }).find("N x H x W"),
            std::string::npos);
  EXPECT_NE(error_of([&] { m::select_pixels(torch::zeros({1, 4}), 1.5, "top"); }).find("[0, 1]"), std::string::npos);
  EXPECT_NE(error_of([&] { m::select_pixels(torch::zeros({1, 4}), 0.5, "middle"); }).find("'top' or 'bottom'"),
            std::string::npos);
}

TEST(InputGradientsMasking, TopShareInRegion) {
  // Image 0: top-2 pixels are 0 and 3; image 1: 1 and 2. Region: pixels 0, 1 of each image.
  const at::Tensor scores = torch::tensor({{9.0f, 1.0f, 2.0f, 8.0f}, {0.0f, 7.0f, 6.0f, 1.0f}});
  const at::Tensor region = torch::tensor({{true, true, false, false}, {true, true, false, false}});
  EXPECT_DOUBLE_EQ(m::top_share_in_region(scores, region, 0.5), 0.5);   // 1/2 and 1/2
  EXPECT_DOUBLE_EQ(m::top_share_in_region(scores, region, 0.25), 1.0);  // top-1: pixel 0, pixel 1
  EXPECT_DOUBLE_EQ(m::top_share_in_region(scores, region.logical_not(), 0.5), 0.5);
  EXPECT_DOUBLE_EQ(m::top_share_in_region(scores, torch::ones({2, 4}, torch::kBool), 0.75), 1.0);
}

// ---------------------------------------------------------------- DiffROAR on a toy problem

TEST(InputGradientsDiffRoar, OracleRankingScoresHighAndReversedRankingLow) {
  // 4 x 4 images; only pixels 0 and 1 carry the class (±1.5 plus a little noise), the other 14 are
  // N(0, 1) noise. The oracle scores the two signal pixels 1 and the rest 0; at k = 2 of 16 pixels
  // (fraction 0.125), masking its top pixels removes all signal (chance accuracy) and masking its
  // bottom ones (pixels 2 and 3, by the index tie rule) removes none. The reversed ranking does
  // the opposite.
  const golgi::ScopedThreads one(1);
  auto make = [](int64_t n, uint64_t seed) {
    auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
    at::Tensor y = at::randint(2, {n}, gen, torch::kLong);
    at::Tensor x = at::normal(0.0, 1.0, {n, 1, 4, 4}, gen);
    const at::Tensor sign = (y.to(torch::kFloat) * 2 - 1) * 1.5;
    x.index_put_({torch::indexing::Slice(), 0, 0, 0}, sign + 0.3 * at::normal(0.0, 1.0, {n}, gen));
    x.index_put_({torch::indexing::Slice(), 0, 0, 1}, sign + 0.3 * at::normal(0.0, 1.0, {n}, gen));
    return std::make_pair(x, y);
  };
  const auto [train_x, train_y] = make(600, 1);
  const auto [test_x, test_y] = make(400, 2);
  const at::Tensor oracle_one = torch::zeros({16});
  oracle_one.narrow(0, 0, 2).fill_(1.0);
  const at::Tensor train_oracle = oracle_one.expand({600, 16}), test_oracle = oracle_one.expand({400, 16});
  auto factory = [](uint64_t seed) { return tiny_mlp({1, 4, 4}, 2, seed, {16}); };
  const auto options = m::DiffRoarOptions()
                           .fractions({0.125})
                           .train(tr::ClassifierTrainOptions().epochs(6).batch_size(50).lr(5e-3).progress(false));
  const auto oracle = m::diffroar(factory, train_x, train_y, train_oracle, test_x, test_y, test_oracle, options);
  ASSERT_EQ(oracle.points.size(), 1u);
  EXPECT_EQ(oracle.points[0].pixels, 2);
  EXPECT_LT(oracle.points[0].accuracy_top_masked, 62.0);
  EXPECT_GT(oracle.points[0].accuracy_bottom_masked, 95.0);
  EXPECT_GT(oracle.mean_diffroar(), 35.0);
  const at::Tensor reversed_one = 1 - oracle_one;
  const auto reversed = m::diffroar(factory, train_x, train_y, reversed_one.expand({600, 16}), test_x, test_y,
                                    reversed_one.expand({400, 16}), options);
  EXPECT_LT(reversed.mean_diffroar(), -35.0);
  const auto json = oracle.to_json();
  EXPECT_DOUBLE_EQ(json["points"][0]["diffroar"].get<double>(), oracle.points[0].diffroar());
  // Mismatched scores are an error naming the shapes.
  EXPECT_NE(error_of([&] {
              m::diffroar(factory, train_x, train_y, torch::zeros({600, 15}), test_x, test_y, test_oracle, options);
            }).find("train scores"),
            std::string::npos);
}

}  // namespace
