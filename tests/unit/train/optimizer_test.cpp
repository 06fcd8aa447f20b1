#include <gtest/gtest.h>
#include <torch/torch.h>

#include "golgi/train/optimizer.h"
#include "golgi/train/schedule.h"

namespace {

using namespace golgi::train;

// golgi's optimisers must follow LibTorch's own implementations (an independent reference)
// step for step on the same gradients.
void compare_with_torch(const std::string& name, double wd, bool nesterov = false) {
  torch::manual_seed(3);
  auto init = torch::randn({5, 4});
  auto ours = init.clone().requires_grad_(true);
  auto ref = init.clone().requires_grad_(true);
  Optimizer opt({{"w", ours}}, OptimizerOptions().name(name).weight_decay(wd).momentum(0.9).nesterov(nesterov));
  std::unique_ptr<torch::optim::Optimizer> torch_opt;
  const double lr = 0.05;
  if (name == "sgd")
    torch_opt = std::make_unique<torch::optim::SGD>(
        std::vector<at::Tensor>{ref}, torch::optim::SGDOptions(lr).momentum(0.9).weight_decay(wd).nesterov(nesterov));
  else if (name == "adam")
    torch_opt = std::make_unique<torch::optim::Adam>(std::vector<at::Tensor>{ref}, torch::optim::AdamOptions(lr).weight_decay(wd));
  else
    torch_opt = std::make_unique<torch::optim::AdamW>(std::vector<at::Tensor>{ref}, torch::optim::AdamWOptions(lr).weight_decay(wd));
  auto target = torch::randn({5, 4});
  for (int step = 0; step < 7; ++step) {
    opt.zero_grad();
    torch_opt->zero_grad();
    ((ours - target).pow(3).sum()).backward();
    ((ref - target).pow(3).sum()).backward();
    opt.step(lr);
    torch_opt->step();
    ASSERT_TRUE(torch::allclose(ours, ref, 1e-5, 1e-6)) << name << " step " << step;
  }
  EXPECT_EQ(opt.steps(), 7);
}

TEST(Optimizer, SgdMatchesLibTorch) { compare_with_torch("sgd", 0.0); }
TEST(Optimizer, SgdWeightDecayNesterovMatchesLibTorch) { compare_with_torch("sgd", 0.01, true); }
TEST(Optimizer, AdamMatchesLibTorch) { compare_with_torch("adam", 0.0); }
TEST(Optimizer, AdamL2MatchesLibTorch) { compare_with_torch("adam", 0.01); }
TEST(Optimizer, AdamWMatchesLibTorch) { compare_with_torch("adamw", 0.05); }

TEST(Optimizer, StateRoundTripContinuesIdentically) {
  auto a = torch::randn({3}).requires_grad_(true);
  auto b = a.detach().clone().requires_grad_(true);
  Optimizer oa({{"p", a}}, OptimizerOptions().name("adamw"));
  for (int i = 0; i < 3; ++i) {
    oa.zero_grad();
    (a * a).sum().backward();
    oa.step(0.1);
  }
  Optimizer ob({{"p", b}}, OptimizerOptions().name("adamw"));
  std::map<std::string, at::Tensor> state;
  for (auto& [k, v] : oa.state()) state[k] = v.clone();
  {
    torch::NoGradGuard g;
    b.copy_(a);
  }
  ob.load_state(state);
  for (int i = 0; i < 2; ++i) {
    oa.zero_grad();
    ob.zero_grad();
    (a * a).sum().backward();
    (b * b).sum().backward();
    oa.step(0.1);
    ob.step(0.1);
  }
  EXPECT_TRUE(torch::equal(a, b));
  state.erase("p.exp_avg");
  EXPECT_THROW(ob.load_state(state), golgi::Error);
}

TEST(Optimizer, BadOptionsAreRejected) {
  auto p = torch::zeros({1}).requires_grad_(true);
  EXPECT_THROW(Optimizer({{"p", p}}, OptimizerOptions().name("rmsprop")), golgi::Error);
  EXPECT_THROW(Optimizer({{"p", p}}, OptimizerOptions().momentum(1.0).name("sgd")), golgi::Error);
}

TEST(Optimizer, ClipGradNormKnownValue) {
  auto p = torch::zeros({2}).requires_grad_(true);
  (p * torch::tensor({3.0f, 4.0f})).sum().backward();
  double norm = clip_grad_norm({p}, 1.0);
  EXPECT_NEAR(norm, 5.0, 1e-6);
  EXPECT_NEAR(p.grad().norm().item<double>(), 1.0, 1e-5);
}

TEST(Schedule, KnownValues) {
  auto s = ScheduleOptions().name("cosine").lr(1.0).warmup_steps(10);
  EXPECT_DOUBLE_EQ(learning_rate(s, 0, 110), 0.1);
  EXPECT_DOUBLE_EQ(learning_rate(s, 9, 110), 1.0);
  EXPECT_DOUBLE_EQ(learning_rate(s, 10, 110), 1.0);
  EXPECT_NEAR(learning_rate(s, 60, 110), 0.5, 1e-12);
  EXPECT_NEAR(learning_rate(s, 110, 110), 0.0, 1e-12);
  auto st = ScheduleOptions().name("step").lr(1.0).step_size(5).gamma(0.5);
  EXPECT_DOUBLE_EQ(learning_rate(st, 4, 100), 1.0);
  EXPECT_DOUBLE_EQ(learning_rate(st, 5, 100), 0.5);
  EXPECT_DOUBLE_EQ(learning_rate(st, 12, 100), 0.25);
  auto c = ScheduleOptions().name("constant").lr(0.3);
  EXPECT_DOUBLE_EQ(learning_rate(c, 50, 100), 0.3);
  auto oc = ScheduleOptions().name("onecycle").lr(1.0);
  EXPECT_NEAR(learning_rate(oc, 0, 100), 0.04, 1e-12);
  EXPECT_NEAR(learning_rate(oc, 30, 100), 1.0, 1e-12);
  EXPECT_LT(learning_rate(oc, 99, 100), 0.01);
  EXPECT_THROW(learning_rate(ScheduleOptions().name("linear"), 0, 10), golgi::Error);
}

}  // namespace
