#include <gtest/gtest.h>

#include "test_support.h"
#include <torch/torch.h>

#include "golgi/hooks/activation_cache.h"
#include "golgi/hooks/neuron_ref.h"
#include "golgi/hooks/scoped_hooks.h"
#include "golgi/models/registry.h"

namespace {

using namespace golgi;
using namespace golgi::hooks;

std::shared_ptr<models::Model> tiny_cnn() {
  torch::manual_seed(0);
  return models::make_model("cnn", {{"channels", {4, 6}}, {"hidden", {8}}, {"image_size", 8}, {"classes", 3}});
}

using golgi::testing::error_of;

TEST(Hooks, NamesComeFromModulePathsInForwardOrder) {
  auto model = tiny_cnn();
  std::vector<std::string> expected{"conv1.hook_pre", "conv1.hook_post", "conv1.hook_pool", "conv2.hook_pre",
                                    "conv2.hook_post", "conv2.hook_pool", "fc1.hook_pre",    "fc1.hook_post",
                                    "head.hook_out"};
  EXPECT_EQ(model->hook_names(), expected);
  EXPECT_EQ(model->hook_point("conv2.hook_post").shape(), "[batch, channels, height, width]");
}

TEST(Hooks, UnknownHookSuggestsClosest) {
  auto model = tiny_cnn();
  auto msg = error_of([&] { model->hook_point("conv2.hook_psot"); });
  EXPECT_NE(msg.find("unknown hook point 'conv2.hook_psot'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("conv2.hook_post"), std::string::npos) << msg;
  msg = error_of([&] { model->match_hooks("nothing.*"); });
  EXPECT_NE(msg.find("no hook point matches"), std::string::npos) << msg;
}

TEST(Hooks, IdentityWithoutHooksAndGuardsRemoveHooks) {
  auto model = tiny_cnn();
  auto x = torch::randn({2, 1, 8, 8});
  auto base = model->forward(x);
  int calls = 0;
  {
    auto guard = read_hook(*model, "fc1.hook_post", [&](const at::Tensor& a) {
      ++calls;
      EXPECT_EQ(a.sizes(), (std::vector<int64_t>{2, 8}));
    });
    EXPECT_EQ(model->attached_hook_count(), 1u);
    EXPECT_TRUE(torch::equal(model->forward(x), base));
  }
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(model->attached_hook_count(), 0u);
  model->forward(x);
  EXPECT_EQ(calls, 1);
}

TEST(Hooks, ZeroNeuronsMatchesManualComputation) {
  auto model = tiny_cnn();
  auto x = torch::randn({3, 1, 8, 8});
  // With fc1 neurons 2 and 5 zeroed, the logits equal head(fc1_post with those columns zeroed).
  at::Tensor post;
  auto reader = read_hook(*model, "fc1.hook_post", [&](const at::Tensor& a) { post = a.clone(); });
  model->forward(x);
  reader.release();
  auto guard = zero_neurons(*model, "fc1.hook_post", {2, 5});
  auto logits = model->forward(x);
  post.index_put_({torch::indexing::Slice(), 2}, 0);
  post.index_put_({torch::indexing::Slice(), 5}, 0);
  auto params = model->named_parameters();
  auto expected = torch::nn::functional::linear(post, params["head.weight"], params["head.bias"]);
  EXPECT_TRUE(torch::allclose(logits, expected, 1e-5, 1e-6));
}

TEST(Hooks, SetScaleClampAndAddOnConvChannels) {
  auto model = tiny_cnn();
  auto x = torch::randn({2, 1, 8, 8});
  at::Tensor seen;
  auto reader = read_hook(*model, "conv1.hook_post", [&](const at::Tensor& a) { seen = a.clone(); });
  model->forward(x);
  at::Tensor original = seen.clone();
  {
    auto g = set_neurons(*model, "conv1.hook_post", {1}, 7.0);
    auto r2 = read_hook(*model, "conv1.hook_post", [&](const at::Tensor& a) { seen = a.clone(); });
    model->forward(x);
    EXPECT_TRUE(torch::all(seen.select(1, 1) == 7.0).item<bool>());
    EXPECT_TRUE(torch::equal(seen.select(1, 0), original.select(1, 0)));
  }
  {
    auto g = scale_neurons(*model, "conv1.hook_post", {0}, 2.0);
    auto r2 = read_hook(*model, "conv1.hook_post", [&](const at::Tensor& a) { seen = a.clone(); });
    model->forward(x);
    EXPECT_TRUE(torch::allclose(seen.select(1, 0), 2 * original.select(1, 0)));
  }
  {
    auto g = clamp_neurons(*model, "conv1.hook_post", {0, 1, 2, 3}, 0.0, 0.1);
    auto r2 = read_hook(*model, "conv1.hook_post", [&](const at::Tensor& a) { seen = a.clone(); });
    model->forward(x);
    EXPECT_LE(seen.max().item<double>(), 0.1 + 1e-7);
  }
  {
    auto g = add_to_hook(*model, "conv1.hook_post", torch::ones({1, 4, 1, 1}));
    auto r2 = read_hook(*model, "conv1.hook_post", [&](const at::Tensor& a) { seen = a.clone(); });
    model->forward(x);
    EXPECT_TRUE(torch::allclose(seen, original + 1));
  }
}

TEST(Hooks, OutOfRangeNeuronFailsAtForward) {
  auto model = tiny_cnn();
  auto guard = zero_neurons(*model, "conv1.hook_post", {4});
  auto msg = error_of([&] { model->forward(torch::randn({1, 1, 8, 8})); });
  EXPECT_NE(msg.find("out of range"), std::string::npos) << msg;
}

TEST(Hooks, ShapeChangingReplacementIsRejected) {
  auto model = tiny_cnn();
  auto guard = replace_hook(*model, "fc1.hook_post", [](const at::Tensor& a) { return a.sum(1); });
  auto msg = error_of([&] { model->forward(torch::randn({1, 1, 8, 8})); });
  EXPECT_NE(msg.find("must keep the shape"), std::string::npos) << msg;
}

TEST(NeuronRef, ParsePrintValidate) {
  auto ref = NeuronRef::parse("conv2.hook_post:5@1,2");
  EXPECT_EQ(ref.hook, "conv2.hook_post");
  EXPECT_EQ(ref.index, 5);
  EXPECT_EQ(ref.position, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(ref.str(), "conv2.hook_post:5@1,2");
  EXPECT_EQ(NeuronRef::parse("blocks.3.mlp.hook_post:1234").str(), "blocks.3.mlp.hook_post:1234");
  for (const char* bad : {"conv2.hook_post", ":3", "conv2.hook_post:x", "conv2.hook_post:-1", "a:1@", "a:1@2,,3"})
    EXPECT_THROW(NeuronRef::parse(bad), golgi::Error) << bad;
  auto model = tiny_cnn();
  validate(NeuronRef::parse("conv2.hook_post:5@1,2"), *model, {1, 6, 4, 4});
  EXPECT_THROW(validate(NeuronRef::parse("conv2.hook_post:6"), *model, {1, 6, 4, 4}), golgi::Error);
  EXPECT_THROW(validate(NeuronRef::parse("conv2.hook_post:1@4,0"), *model, {1, 6, 4, 4}), golgi::Error);
  EXPECT_THROW(validate(NeuronRef::parse("conv2.hook_post:1@1"), *model, {1, 6, 4, 4}), golgi::Error);
  EXPECT_THROW(validate(NeuronRef::parse("conv9.hook_post:1"), *model), golgi::Error);
}

TEST(NeuronRef, InterveneAtOnePosition) {
  auto model = tiny_cnn();
  auto x = torch::randn({2, 1, 8, 8});
  at::Tensor seen;
  auto g = intervene(*model, NeuronRef::parse("conv1.hook_post:2@3,4"), Intervention::kSet, 9.0);
  auto r = read_hook(*model, "conv1.hook_post", [&](const at::Tensor& a) { seen = a.clone(); });
  model->forward(x);
  EXPECT_TRUE(torch::all(seen.index({torch::indexing::Slice(), 2, 3, 4}) == 9.0).item<bool>());
  EXPECT_EQ(seen.eq(9.0).sum().item<int64_t>(), 2);
}

TEST(ActivationCache, RecordsGlobAndStopsEarly) {
  auto model = tiny_cnn();
  auto x = torch::randn({2, 1, 8, 8});
  {
    ActivationCache cache(*model, {"conv*.hook_post", "head.hook_out"});
    auto out = cache.run([&] { return model->forward(x); });
    EXPECT_EQ(cache.names(), (std::vector<std::string>{"conv1.hook_post", "conv2.hook_post", "head.hook_out"}));
    EXPECT_TRUE(torch::equal(cache["head.hook_out"], out));
    EXPECT_EQ(cache["conv2.hook_post"].sizes(), (std::vector<int64_t>{2, 6, 4, 4}));
    EXPECT_THROW(cache["fc1.hook_post"], golgi::Error);
  }
  {
    int head_calls = 0;
    auto counter = read_hook(*model, "head.hook_out", [&](const at::Tensor&) { ++head_calls; });
    ActivationCache cache(*model, {"conv1.hook_pre"}, CacheOptions().stop_after_last(true));
    auto out = cache.run([&] { return model->forward(x); });
    EXPECT_FALSE(out.defined());
    EXPECT_TRUE(cache.contains("conv1.hook_pre"));
    EXPECT_EQ(head_calls, 0);  // the rest of the forward pass was skipped
  }
  EXPECT_EQ(model->attached_hook_count(), 0u);
}

}  // namespace
