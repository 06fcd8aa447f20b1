// attribution: known values on linear models (gradient = weights, gradient × input sums to the
// logit), integrated-gradients completeness at the input and at a hook point, invariance to the
// internal batch size, the structural memory bound (rows per forward pass), SmoothGrad's σ = 0
// limit and seeding, GradCAM's shape, sign and localisation on a hand-built CNN, neuron
// objectives, side effects on the model, and bad input.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include <torch/torch.h>

#include "golgi/core/error.h"
#include "golgi/hooks/scoped_hooks.h"
#include "golgi/methods/attribution/attribution.h"
#include "golgi/models/cnn.h"
#include "golgi/models/mlp.h"
#include "golgi/models/registry.h"
#include "test_support.h"

namespace {

namespace m = golgi::methods;
namespace models = golgi::models;
using golgi::testing::error_of;

at::Tensor gen_normal(std::vector<int64_t> shape, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  return at::normal(0.0, 1.0, shape, gen);
}

// Options without a progress bar (test logs stay readable).
m::AttributionOptions opts() { return m::AttributionOptions().progress(false); }

at::Tensor param(models::Model& model, const std::string& name) {
  for (const auto& p : model.named_parameters())
    if (p.key() == name) return p.value();
  ADD_FAILURE() << "no parameter " << name;
  return {};
}

// A linear classifier: an mlp without hidden layers, logits = x W^T + b.
std::shared_ptr<models::Mlp> linear_model(int64_t inputs, int64_t classes, uint64_t seed) {
  torch::manual_seed(seed);
  return std::make_shared<models::Mlp>(models::MlpOptions().input_shape({inputs}).hidden({}).classes(classes));
}

std::shared_ptr<models::Cnn> small_cnn(uint64_t seed) {
  torch::manual_seed(seed);
  return std::make_shared<models::Cnn>(
      models::CnnOptions().in_channels(1).image_size(8).channels({4}).kernel_size(3).hidden({16}).classes(3));
}

at::Tensor logits_at(models::Model& model, const at::Tensor& x, const at::Tensor& targets) {
  torch::NoGradGuard no_grad;
  return model.forward(x).gather(1, targets.view({-1, 1})).squeeze(1);
}

TEST(Attribution, GradientOfLinearModelIsItsWeights) {
  auto model = linear_model(6, 3, 1);
  at::Tensor x = gen_normal({4, 6}, 2);
  at::Tensor targets = torch::tensor({0, 1, 2, 1}, torch::kLong);
  at::Tensor g = m::attribute(*model, x, targets, opts().method("gradient"));
  ASSERT_EQ(g.sizes(), x.sizes());
  at::Tensor w = param(*model, "head.weight").detach();
  EXPECT_TRUE(torch::allclose(g, w.index_select(0, targets), 1e-6, 1e-6));
}

TEST(Attribution, GradientTimesInputOfZeroBiasLinearModelSumsToTheLogit) {
  auto model = linear_model(6, 3, 3);
  {
    torch::NoGradGuard no_grad;
    param(*model, "head.bias").zero_();
  }
  at::Tensor x = gen_normal({5, 6}, 4);
  at::Tensor targets = torch::tensor({2, 0, 1, 1, 0}, torch::kLong);
  at::Tensor a = m::attribute(*model, x, targets, opts().method("gradient_x_input"));
  EXPECT_TRUE(torch::allclose(a.sum(1), logits_at(*model, x, targets), 1e-5, 1e-5));
}

TEST(Attribution, IntegratedGradientsAreComplete) {
  auto model = small_cnn(5);
  at::Tensor x = gen_normal({3, 1, 8, 8}, 6);
  at::Tensor targets = torch::tensor({0, 1, 2}, torch::kLong);
  at::Tensor baseline = 0.1 * gen_normal({1, 8, 8}, 7);  // per-sample shape, broadcast over the batch
  at::Tensor ig = m::attribute(
      *model, x, targets, opts().method("integrated_gradients").steps(128).baseline(baseline));
  ASSERT_EQ(ig.sizes(), x.sizes());
  at::Tensor diff = logits_at(*model, x, targets) - logits_at(*model, baseline.expand_as(x), targets);
  at::Tensor total = ig.flatten(1).sum(1);
  double worst = 0;
  for (int64_t b = 0; b < 3; ++b) {
    double want = diff[b].item<double>(), got = total[b].item<double>();
    EXPECT_NEAR(got, want, 0.03 * std::abs(want) + 1e-3) << "sample " << b;
    worst = std::max(worst, std::abs(got - want) / std::abs(want));
  }
  RecordProperty("worst_relative_completeness_error", std::to_string(worst));
  // Far too few steps must be visibly worse (the test can tell a Riemann sum from the answer).
  at::Tensor coarse = m::attribute(*model, x, targets, opts().method("integrated_gradients")
                                                           .steps(1).baseline(baseline));
  EXPECT_GT((coarse.flatten(1).sum(1) - diff).abs().max().item<double>(),
            (total - diff).abs().max().item<double>());
}

TEST(Attribution, IntegratedGradientsDoNotDependOnTheInternalBatch) {
  auto model = small_cnn(8);
  at::Tensor x = gen_normal({3, 1, 8, 8}, 9);
  at::Tensor targets = torch::tensor({1, 1, 0}, torch::kLong);
  auto options = opts().method("integrated_gradients").steps(32);
  at::Tensor one = m::attribute(*model, x, targets, options.batch(1));
  at::Tensor sixteen = m::attribute(*model, x, targets, options.batch(16));
  EXPECT_LT((one - sixteen).abs().max().item<double>(), 1e-6);
  EXPECT_GT(one.abs().max().item<double>(), 1e-3);
}

TEST(Attribution, InternalBatchesBoundTheRowsPerForwardPass) {
  auto model = std::make_shared<models::Mlp>(models::MlpOptions().input_shape({1, 4, 4}).hidden({8}).classes(3));
  at::Tensor x = gen_normal({3, 1, 4, 4}, 10);
  at::Tensor targets = torch::tensor({0, 1, 2}, torch::kLong);
  for (std::string method : {"integrated_gradients", "smoothgrad"}) {
    int64_t largest = 0, passes = 0;
    auto counter = golgi::hooks::read_hook(*model, "layers.0.hook_pre", [&](const at::Tensor& a) {
      largest = std::max(largest, a.size(0));
      ++passes;
    });
    m::attribute(*model, x, targets, opts().method(method).steps(256).samples(256).batch(8));
    EXPECT_LE(largest, 8) << method;
    // One clean pass (3 rows) plus 3 * 256 / 8 = 96 passes.
    EXPECT_EQ(passes, 97) << method;
  }
}

TEST(Attribution, HookPointAttributionHasTheActivationShapeAndKnownValues) {
  torch::manual_seed(11);
  auto model = std::make_shared<models::Mlp>(models::MlpOptions().input_shape({6}).hidden({5}).classes(3));
  at::Tensor x = gen_normal({4, 6}, 12);
  at::Tensor targets = torch::tensor({0, 2, 1, 2}, torch::kLong);
  // logits = h W^T + b after layers.0.hook_post, so the gradient there is the head's weight row.
  at::Tensor g = m::attribute(*model, x, targets, opts().method("gradient").at("layers.0.hook_post"));
  ASSERT_EQ(g.sizes(), (std::vector<int64_t>{4, 5}));
  EXPECT_TRUE(torch::allclose(g, param(*model, "head.weight").detach().index_select(0, targets), 1e-6, 1e-6));

  // Completeness at the hook: Σ IG = F(h) − F(h with the hook zeroed). At layers.0.hook_pre the rest
  // of the network (ReLU, linear head) is nonlinear along the path.
  at::Tensor ig = m::attribute(*model, x, targets,
                               opts().method("integrated_gradients").at("layers.0.hook_pre").steps(64));
  ASSERT_EQ(ig.sizes(), (std::vector<int64_t>{4, 5}));
  at::Tensor zeroed;
  {
    auto guard = golgi::hooks::replace_hook(*model, "layers.0.hook_pre", [](const at::Tensor& a) { return at::zeros_like(a); });
    zeroed = logits_at(*model, x, targets);
  }
  at::Tensor diff = logits_at(*model, x, targets) - zeroed;
  EXPECT_TRUE(torch::allclose(ig.sum(1), diff, 0.03, 1e-3)) << ig.sum(1) << diff;
  RecordProperty("worst_relative_completeness_error_at_hook",
                 std::to_string(((ig.sum(1) - diff).abs() / diff.abs()).max().item<double>()));
}

TEST(Attribution, SmoothGradWithoutNoiseIsTheGradientAndIsSeeded) {
  auto model = small_cnn(13);
  at::Tensor x = gen_normal({2, 1, 8, 8}, 14);
  at::Tensor targets = torch::tensor({2, 0}, torch::kLong);
  at::Tensor g = m::attribute(*model, x, targets, opts().method("gradient"));
  auto sg = opts().method("smoothgrad").samples(5);
  EXPECT_TRUE(torch::allclose(m::attribute(*model, x, targets, sg.sigma(0.0)), g, 1e-5, 1e-6));

  at::Tensor a = m::attribute(*model, x, targets, sg.sigma(0.2).seed(1).batch(3));
  at::Tensor b = m::attribute(*model, x, targets, sg.sigma(0.2).seed(1).batch(7));
  at::Tensor c = m::attribute(*model, x, targets, sg.sigma(0.2).seed(2).batch(3));
  EXPECT_LT((a - b).abs().max().item<double>(), 1e-6);  // seeded, independent of the internal batch
  EXPECT_GT((a - c).abs().max().item<double>(), 1e-4);  // the seed matters
  EXPECT_GT((a - g).abs().max().item<double>(), 1e-4);  // the noise matters
}

// conv1 copies each input channel (1x1 kernel, weight 1, ReLU); class 0 reads channel 0 with
// weight +1 and channel 1 with weight −0.5, class 1 the reverse. Channel 0 is bright only in the
// left half of the image, channel 1 only in the right half.
TEST(Attribution, GradCamLocalisesTheClassEvidence) {
  torch::manual_seed(15);
  models::Cnn model(models::CnnOptions().in_channels(2).image_size(8).channels({2}).kernel_size(1).hidden({}).classes(2));
  {
    torch::NoGradGuard no_grad;
    param(model, "conv1.weight").copy_(torch::eye(2).view({2, 2, 1, 1}));
    param(model, "conv1.bias").zero_();
    at::Tensor head = param(model, "head.weight");  // [2, 2 * 4 * 4], channel-major features
    head.zero_();
    head.index({0, torch::indexing::Slice(0, 16)}).fill_(1.0);
    head.index({0, torch::indexing::Slice(16, 32)}).fill_(-0.5);
    head.index({1, torch::indexing::Slice(0, 16)}).fill_(-0.5);
    head.index({1, torch::indexing::Slice(16, 32)}).fill_(1.0);
    param(model, "head.bias").zero_();
  }
  at::Tensor x = torch::zeros({2, 2, 8, 8});
  x.index_put_({torch::indexing::Slice(), 0, torch::indexing::Slice(), torch::indexing::Slice(0, 4)},
               gen_normal({2, 8, 4}, 16).abs() + 0.5);
  x.index_put_({torch::indexing::Slice(), 1, torch::indexing::Slice(), torch::indexing::Slice(4, 8)},
               gen_normal({2, 8, 4}, 17).abs() + 0.5);
  at::Tensor targets = torch::tensor({0, 1}, torch::kLong);
  at::Tensor cam = m::attribute(model, x, targets, opts().method("gradcam").at("conv1.hook_post"));
  ASSERT_EQ(cam.sizes(), (std::vector<int64_t>{2, 8, 8}));
  EXPECT_GE(cam.min().item<double>(), 0.0);
  auto left = [](const at::Tensor& map) { return map.index({torch::indexing::Slice(), torch::indexing::Slice(0, 4)}).sum().item<double>(); };
  double total0 = cam[0].sum().item<double>(), total1 = cam[1].sum().item<double>();
  ASSERT_GT(total0, 0);
  ASSERT_GT(total1, 0);
  EXPECT_GT(left(cam[0]) / total0, 0.99);  // class 0's evidence is on the left
  EXPECT_LT(left(cam[1]) / total1, 0.01);  // class 1's on the right

  at::Tensor pooled = m::attribute(model, x, targets, opts().method("gradcam").at("conv1.hook_pool"));
  EXPECT_EQ(pooled.sizes(), (std::vector<int64_t>{2, 4, 4}));
  at::Tensor up = m::attribute(model, x, targets,
                               opts().method("gradcam").at("conv1.hook_pool").upsample(true));
  EXPECT_EQ(up.sizes(), (std::vector<int64_t>{2, 8, 8}));
  EXPECT_GE(up.min().item<double>(), 0.0);
}

TEST(Attribution, NeuronObjectiveMatchesTheClassLogit) {
  auto model = small_cnn(18);
  at::Tensor x = gen_normal({2, 1, 8, 8}, 19);
  at::Tensor by_class = m::attribute(*model, x, torch::tensor({1, 1}, torch::kLong), opts());
  at::Tensor by_neuron = m::attribute(*model, x, {}, opts().neuron("head.hook_out:1"));
  EXPECT_TRUE(torch::allclose(by_class, by_neuron, 1e-6, 1e-7));
  // A channel summed over positions, at a hook after `at`: gradient × activation sums to ~ the
  // channel's total only for linear paths, so just check shape and that it is not all zero.
  at::Tensor channel = m::attribute(*model, x, {},
                                    opts().neuron("conv1.hook_pool:2").at("conv1.hook_pre"));
  EXPECT_EQ(channel.sizes(), (std::vector<int64_t>{2, 4, 8, 8}));
  // Only channel 2 of conv1 feeds the objective.
  at::Tensor others = torch::cat({channel.index({torch::indexing::Slice(), torch::indexing::Slice(0, 2)}),
                                  channel.index({torch::indexing::Slice(), torch::indexing::Slice(3, 4)})}, 1);
  EXPECT_EQ(others.abs().max().item<double>(), 0.0);
  EXPECT_GT(channel.abs().max().item<double>(), 0.0);
}

TEST(Attribution, LeavesTheModelAsItWas) {
  auto model = small_cnn(20);
  model->train();
  at::Tensor x = gen_normal({2, 1, 8, 8}, 21);
  m::attribute(*model, x, torch::tensor({0, 1}, torch::kLong), opts().method("integrated_gradients").steps(4));
  EXPECT_TRUE(model->is_training());
  for (const auto& p : model->parameters()) {
    EXPECT_TRUE(p.requires_grad());
    EXPECT_FALSE(p.grad().defined());
  }
  EXPECT_EQ(model->attached_hook_count(), 0u);
}

// A language model takes tokens: attribution at a hook point inside it, to the last position's
// next-token logit, with completeness along the path from zeroed MLP neurons.
TEST(Attribution, LanguageModelAtAHookPoint) {
  torch::manual_seed(50);
  golgi::Json o = {{"vocab_size", 23}, {"n_ctx", 16}, {"d_model", 16}, {"n_layers", 2}, {"n_heads", 4}, {"d_mlp", 24}};
  auto model = models::make_model("gpt2", o);
  at::Tensor tokens = torch::randint(23, {2, 6}, torch::kLong);
  at::Tensor t = torch::tensor({3, 17}, torch::kLong);
  const std::string hook = "blocks.1.mlp.hook_post";
  at::Tensor ig = m::attribute(*model, tokens, t, opts().method("integrated_gradients").at(hook).steps(64));
  ASSERT_EQ(ig.sizes(), (std::vector<int64_t>{2, 6, 24}));
  auto last_logit = [&] {
    torch::NoGradGuard no_grad;
    return model->forward(tokens).select(1, 5).gather(1, t.view({-1, 1})).squeeze(1);
  };
  at::Tensor full = last_logit(), zeroed;
  {
    auto guard = golgi::hooks::replace_hook(*model, hook, [](const at::Tensor& a) { return at::zeros_like(a); });
    zeroed = last_logit();
  }
  EXPECT_TRUE(torch::allclose(ig.flatten(1).sum(1), full - zeroed, 0.03, 1e-3)) << ig.flatten(1).sum(1) << full - zeroed;
  // Block 1 is the last block and its MLP acts per position, so the last position's logit depends
  // on that MLP's neurons at the last position only.
  at::Tensor g = m::attribute(*model, tokens, t, opts().at(hook));
  EXPECT_GT(g.select(1, 5).abs().max().item<double>(), 0.0);
  EXPECT_EQ(g.narrow(1, 0, 5).abs().max().item<double>(), 0.0);
  EXPECT_NE(error_of([&] { m::attribute(*model, tokens, t, opts()); }).find("floating-point"), std::string::npos);
}

void zero_biases(models::Model& model) {
  torch::NoGradGuard no_grad;
  for (auto& p : model.named_parameters())
    if (p.key().size() >= 4 && p.key().substr(p.key().size() - 4) == "bias") p.value().zero_();
}

TEST(Attribution, LrpEpsilonEqualsGradientTimesInputOnReluNets) {
  torch::manual_seed(30);
  models::Mlp mlp(models::MlpOptions().input_shape({10}).hidden({8, 6}).classes(3));
  auto cnn = small_cnn(31);
  at::Tensor t = torch::tensor({0, 2, 1}, torch::kLong);
  auto lrp = opts().method("lrp").lrp_rule("epsilon").lrp_epsilon(1e-9);
  for (bool zero_bias : {true, false}) {
    if (zero_bias) {
      zero_biases(mlp);
      zero_biases(*cnn);
    }
    at::Tensor x = gen_normal({3, 10}, 32);
    EXPECT_TRUE(torch::allclose(m::attribute(mlp, x, t, lrp),
                                m::attribute(mlp, x, t, opts().method("gradient_x_input")), 1e-4, 1e-6))
        << "mlp, zero bias " << zero_bias;
    at::Tensor images = gen_normal({3, 1, 8, 8}, 33);
    EXPECT_TRUE(torch::allclose(m::attribute(*cnn, images, t, lrp),
                                m::attribute(*cnn, images, t, opts().method("gradient_x_input")), 1e-4, 1e-6))
        << "cnn, zero bias " << zero_bias;
  }
  // A large ε absorbs relevance: no longer gradient × input.
  at::Tensor x = gen_normal({3, 10}, 34);
  EXPECT_GT((m::attribute(mlp, x, t, lrp.lrp_epsilon(10.0)) - m::attribute(mlp, x, t, opts().method("gradient_x_input")))
                .abs().max().item<double>(), 1e-3);
}

// BatchNorm with non-trivial statistics, folded into the conv: LRP-ε (ε → 0) must still equal
// gradient × input of the unfolded model.
TEST(Attribution, LrpFoldsBatchNormIntoTheConv) {
  torch::manual_seed(35);
  models::Cnn model(models::CnnOptions().in_channels(1).image_size(8).channels({4, 4}).kernel_size(3).hidden({8}).classes(3)
                        .batch_norm(true));
  {
    torch::NoGradGuard no_grad;
    for (auto& b : model.named_buffers()) {
      if (b.key().find("running_mean") != std::string::npos) b.value().copy_(0.3 * gen_normal({4}, 36));
      if (b.key().find("running_var") != std::string::npos) b.value().copy_(0.5 + gen_normal({4}, 37).abs());
    }
    for (auto& p : model.named_parameters()) {
      if (p.key().find("bn.weight") != std::string::npos) p.value().copy_(0.5 + gen_normal({4}, 38).abs());
      if (p.key().find("bn.bias") != std::string::npos) p.value().copy_(0.2 * gen_normal({4}, 39));
    }
  }
  model.train();  // attribute must use the eval statistics regardless
  at::Tensor x = gen_normal({3, 1, 8, 8}, 40);
  at::Tensor t = torch::tensor({1, 0, 2}, torch::kLong);
  at::Tensor r = m::attribute(model, x, t, opts().method("lrp").lrp_epsilon(1e-9));
  at::Tensor gxi = m::attribute(model, x, t, opts().method("gradient_x_input"));
  EXPECT_TRUE(torch::allclose(r, gxi, 1e-4, 1e-6)) << (r - gxi).abs().max();
  EXPECT_TRUE(model.is_training());
}

// ε (→ 0) and z⁺ conserve relevance layer by layer in zero-bias ReLU networks: every neuron with
// relevance has a positive pre-activation, so its denominator is a sum the rule redistributes.
TEST(Attribution, LrpConservesRelevanceWithZeroBiases) {
  auto model = small_cnn(41);
  zero_biases(*model);
  at::Tensor x = gen_normal({4, 1, 8, 8}, 42).abs();  // non-negative, as z⁺ assumes
  at::Tensor t = torch::tensor({0, 1, 2, 0}, torch::kLong);
  at::Tensor logits = logits_at(*model, x, t);
  for (std::string rule : {"epsilon", "zplus"}) {
    at::Tensor r = m::attribute(*model, x, t, opts().method("lrp").lrp_rule(rule).lrp_epsilon(1e-9));
    ASSERT_EQ(r.sizes(), x.sizes());
    EXPECT_TRUE(torch::allclose(r.flatten(1).sum(1), logits, 1e-4, 1e-5)) << rule << r.flatten(1).sum(1) << logits;
    if (rule == "zplus") {
      // Positive evidence only: for a positive logit every input's relevance is >= 0.
      for (int64_t b = 0; b < 4; ++b)
        if (logits[b].item<double>() > 0) {
          EXPECT_GE(r[b].min().item<double>(), 0.0) << b;
        }
    }
  }
}

// Every rule on one dense layer (a linear model, zero bias) against the rule's formula written
// out with loops: R_j from the target logit R_t = z_t.
TEST(Attribution, LrpRulesMatchTheirFormulasOnADenseLayer) {
  auto model = linear_model(5, 3, 43);
  zero_biases(*model);
  at::Tensor w = param(*model, "head.weight").detach();  // [3, 5]
  at::Tensor x = gen_normal({2, 5}, 44);
  at::Tensor t = torch::tensor({1, 2}, torch::kLong);
  for (std::string rule : {"epsilon", "zplus", "alpha2beta1", "flat"}) {
    double eps = 0.05;
    at::Tensor r = m::attribute(*model, x, t, opts().method("lrp").lrp_rule(rule).lrp_epsilon(eps));
    for (int64_t b = 0; b < 2; ++b) {
      int64_t k = t[b].item<int64_t>();
      double z = 0, pos = 0, neg = 0;
      for (int64_t j = 0; j < 5; ++j) {
        double c = x[b][j].item<double>() * w[k][j].item<double>();
        z += c;
        (c > 0 ? pos : neg) += c;
      }
      for (int64_t j = 0; j < 5; ++j) {
        double c = x[b][j].item<double>() * w[k][j].item<double>(), want = 0;
        if (rule == "epsilon") want = c / (z + (z >= 0 ? eps : -eps)) * z;
        if (rule == "zplus") want = c > 0 ? c / pos * z : 0.0;
        if (rule == "alpha2beta1") want = (c > 0 ? 2 * c / pos : -(c / neg)) * z;
        if (rule == "flat") want = z / 5;
        EXPECT_NEAR(r[b][j].item<double>(), want, 1e-5 * (1 + std::abs(want))) << rule << " b " << b << " j " << j;
      }
    }
  }
}

TEST(Attribution, RejectsBadInput) {
  auto model = small_cnn(22);
  at::Tensor x = gen_normal({2, 1, 8, 8}, 23);
  at::Tensor t = torch::tensor({0, 1}, torch::kLong);
  EXPECT_NE(error_of([&] { m::attribute(*model, x, t, opts().at("conv9.hook_post")); })
                .find("its hook points are: conv1.hook_pre"),
            std::string::npos);
  EXPECT_NE(error_of([&] { m::attribute(*model, x, torch::tensor({0, 3}, torch::kLong)); }).find("target class 3 is out of range"),
            std::string::npos);
  EXPECT_NE(error_of([&] { m::attribute(*model, x, torch::tensor({0, -1}, torch::kLong)); }).find("negative"),
            std::string::npos);
  EXPECT_NE(error_of([&] { m::attribute(*model, x, torch::tensor({0}, torch::kLong)); }).find("targets must be"),
            std::string::npos);
  at::Tensor nan = x.clone();
  nan[0][0][1][1] = std::nan("");
  EXPECT_NE(error_of([&] { m::attribute(*model, nan, t); }).find("NaN"), std::string::npos);
  EXPECT_NE(error_of([&] { m::attribute(*model, x, t, opts().method("gradcam").at("fc1.hook_post")); })
                .find("[batch, channels, height, width]"),
            std::string::npos);
  EXPECT_NE(error_of([&] { m::attribute(*model, x, t, opts().method("gradcam")); }).find("needs a"),
            std::string::npos);
  EXPECT_NE(error_of([&] { m::attribute(*model, x, t, opts().method("saliency")); }).find("one of"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              m::attribute(*model, x, {}, opts().neuron("conv1.hook_pre:0").at("fc1.hook_post"));
            }).find("runs before"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              m::attribute(*model, x, t, opts().method("integrated_gradients").baseline(torch::zeros({3, 8})));
            }).find("does not broadcast"),
            std::string::npos);
  EXPECT_NE(error_of([&] { m::attribute(*model, x, t, opts().method("lrp").at("conv1.hook_post")); }).find("leave options.at empty"),
            std::string::npos);
  models::Mlp tanh_mlp(models::MlpOptions().input_shape({1, 8, 8}).hidden({4}).activation("tanh"));
  EXPECT_NE(error_of([&] { m::attribute(tanh_mlp, x, t, opts().method("lrp")); }).find("needs ReLU"), std::string::npos);
  EXPECT_EQ(model->attached_hook_count(), 0u);
}

}  // namespace
