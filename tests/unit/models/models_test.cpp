#include <gtest/gtest.h>
#include <torch/torch.h>

#include "golgi/io/atomic_file.h"
#include "golgi/io/json_file.h"
#include "golgi/io/torch_bridge.h"
#include "golgi/hooks/activation_cache.h"
#include "golgi/models/registry.h"
#include "test_support.h"

namespace {

using namespace golgi;

// Tiny options per architecture: the registry sweep builds every model with them.
Json tiny_options(const std::string& name) {
  if (name == "mlp") return {{"input_shape", {1, 6, 6}}, {"hidden", {5}}, {"classes", 3}};
  if (name == "cnn") return {{"image_size", 8}, {"channels", {2, 3}}, {"hidden", {4}}, {"classes", 3}};
  if (name == "resnet") return {{"image_size", 8}, {"stem_channels", 2}, {"stages", {2, 4}}, {"classes", 3}};
  if (name == "gpt2")
    return {{"vocab_size", 11}, {"n_ctx", 16}, {"d_model", 8}, {"n_layers", 2}, {"n_heads", 2}, {"d_mlp", 12}};
  if (name == "llama")
    return {{"vocab_size", 13}, {"n_ctx", 16}, {"d_model", 8}, {"n_layers", 2},
            {"n_heads", 2}, {"n_kv_heads", 1}, {"d_mlp", 12}};
  return Json::object();
}

TEST(ModelRegistry, SweepBuildsRunsSavesAndReloadsEveryModel) {
  for (const auto& entry : models::model_registry().entries()) {
    SCOPED_TRACE(entry.name);
    torch::manual_seed(0);
    auto opts = tiny_options(entry.name);
    ASSERT_FALSE(opts.empty()) << "add tiny options for new model '" << entry.name << "' to this sweep";
    auto model = models::make_model(entry.name, opts);
    model->eval();
    auto x = model->example_input(2);
    auto y = model->forward(x);
    EXPECT_FALSE(model->hook_names().empty());
    if (model->task() == "classify") {
      EXPECT_EQ(y.sizes(), (std::vector<int64_t>{2, 3}));
      EXPECT_EQ(model->hook_names().back(), "head.hook_out");
    } else {
      ASSERT_EQ(model->task(), "language-model");
      EXPECT_EQ(y.sizes(), (std::vector<int64_t>{2, x.size(1), opts["vocab_size"].get<int64_t>()}));
      EXPECT_EQ(model->hook_names().back(), "ln_final.hook_normalized");
    }
    // Every hook point fires exactly once per forward pass.
    std::map<std::string, int> fired;
    std::vector<hooks::HookGuard> guards;
    for (const auto& name : model->hook_names())
      guards.push_back(hooks::add_hook(*model, name, [&fired](const at::Tensor&, const hooks::HookPointImpl& p) {
        fired[p.name()]++;
        return at::Tensor();
      }));
    model->forward(x);
    for (const auto& name : model->hook_names()) EXPECT_EQ(fired[name], 1) << name;
    guards.clear();
    auto dir = golgi::testing::scratch_dir("model_" + entry.name);
    models::save_model(dir, *model, {{"note", "sweep"}});
    auto loaded = models::load_model(dir);
    EXPECT_EQ(loaded.model->architecture(), entry.name);
    EXPECT_EQ(loaded.card["card"]["note"], "sweep");
    EXPECT_TRUE(torch::equal(loaded.model->forward(x), y));
    EXPECT_EQ(entry.default_options().is_object(), true);
    EXPECT_FALSE(entry.describe_options().empty());
  }
}

TEST(ModelRegistry, BadOptionsAndNamesAreClearErrors) {
  EXPECT_THROW(models::make_model("cnnn"), golgi::Error);
  EXPECT_THROW(models::make_model("cnn", {{"chanels", {4}}}), golgi::Error);
  EXPECT_THROW(models::make_model("cnn", {{"kernel_size", 4}}), golgi::Error);
  EXPECT_THROW(models::make_model("mlp", {{"activation", "swish"}}), golgi::Error);
  EXPECT_THROW(models::make_model("resnet", {{"stages", Json::array()}}), golgi::Error);
  auto model = models::make_model("cnn", tiny_options("cnn"));
  try {
    model->forward(torch::randn({2, 1, 28, 28}));
    FAIL();
  } catch (const golgi::Error& e) {
    EXPECT_NE(std::string(e.what()).find("expects input [batch, [1, 8, 8]]"), std::string::npos) << e.what();
  }
}

TEST(ModelIo, MismatchedCheckpointListsDifferences) {
  auto dir = golgi::testing::scratch_dir("model_mismatch");
  auto model = models::make_model("cnn", tiny_options("cnn"));
  models::save_model(dir, *model, {});
  // Rewrite the card with other widths: the tensors no longer fit.
  auto card = io::read_json_file(dir + "/model.json");
  card["options"]["hidden"] = {7};
  io::write_json_file(dir + "/model.json", card);
  try {
    models::load_model(dir);
    FAIL();
  } catch (const golgi::Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("wrong shape fc1.weight"), std::string::npos) << msg;
  }
  EXPECT_THROW(models::load_model(golgi::testing::scratch_dir("model_empty")), golgi::Error);
}

TEST(Models, CnnDefaultLayoutMatchesLeNetLikeShapes) {
  auto model = models::make_model("cnn");
  hooks::ActivationCache cache(*model, {"**"});
  cache.run([&] { return model->forward(torch::zeros({1, 1, 28, 28})); });
  EXPECT_EQ(cache["conv1.hook_pool"].sizes(), (std::vector<int64_t>{1, 16, 14, 14}));
  EXPECT_EQ(cache["conv2.hook_pool"].sizes(), (std::vector<int64_t>{1, 32, 7, 7}));
  EXPECT_EQ(cache["fc1.hook_post"].sizes(), (std::vector<int64_t>{1, 128}));
}

}  // namespace
