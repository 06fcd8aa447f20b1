// lottery: the global magnitude-pruning step against open_lth's own masks (shared fixture), the
// k = ceil(0.2 n) / strict-threshold rule with ties, what is prunable, masks held through
// optimiser steps, exact rewinding, the random-pruning control, distances, files and options.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "golgi/atlas/builder.h"
#include "golgi/atlas/sqlite.h"
#include "golgi/core/error.h"
#include "golgi/io/torch_bridge.h"
#include "golgi/methods/lottery/lottery.h"
#include "golgi/models/registry.h"
#include "test_support.h"

namespace {

namespace m = golgi::methods;
using golgi::testing::error_of;

at::Tensor mask_of(const m::NamedTensors& masks, const std::string& name) {
  for (const auto& [n, t] : masks)
    if (n == name) return t;
  ADD_FAILURE() << "no mask " << name;
  return {};
}

// ---- the real reference: masks open_lth's sparse_global strategy produced ----

TEST(Lottery, MasksMatchTheOfficialCodeAtEveryLevel) {
  const std::string dir = golgi::testing::fixtures_dir() + "/lottery_official_masks";
  std::ifstream meta_file(dir + "/meta.json");
  ASSERT_TRUE(meta_file.good()) << "missing fixture " << dir << "/meta.json";
  const auto meta = nlohmann::json::parse(meta_file);
  const std::vector<std::string> tensors = {"fc1_weight", "fc2_weight", "fc_weight"};
  const double fraction = meta["pruning_fraction"].get<double>();
  for (int c = 0; c < 2; ++c) {
    const auto& info = meta["cases"][c];
    const bool ignore_output = !info["layers_to_ignore"].is_null();
    auto npy = [&](int level, const std::string& what) {
      return golgi::io::load_npy(dir + "/case" + std::to_string(c) + "_level" + std::to_string(level) + "_" + what + ".npy");
    };
    m::NamedTensors masks;  // every tensor's mask, carried from level to level
    for (const auto& t : tensors) masks.emplace_back(t.substr(0, t.find('_')) + ".weight", torch::ones(npy(0, t).sizes(), torch::kBool));
    const std::vector<std::string> ignore =
        ignore_output ? std::vector<std::string>{"fc.weight"} : std::vector<std::string>{};
    for (int level = 0; level < meta["levels"].get<int>(); ++level) {
      m::NamedTensors weights;
      for (const auto& t : tensors) weights.emplace_back(t.substr(0, t.find('_')) + ".weight", npy(level, t));
      masks = m::prune_global_magnitude(weights, masks, fraction, ignore);
      for (const auto& t : tensors) {
        const std::string name = t.substr(0, t.find('_')) + ".weight";
        const at::Tensor expected = npy(level, "mask_" + t).ne(0);
        const int64_t remaining = info["remaining_after_level"][level][name].get<int64_t>();
        const at::Tensor got = mask_of(masks, name);
        EXPECT_TRUE(torch::equal(got, expected))
            << "case " << c << " level " << level << " " << name << ": "
            << got.ne(expected).sum().item<int64_t>() << " entries differ";
        EXPECT_EQ(got.sum().item<int64_t>(), remaining) << "case " << c << " level " << level << " " << name;
      }
    }
  }
}

// ---- the rule on hand-made numbers ----

TEST(Lottery, PrunesCeilFractionWithAStrictThresholdAndTies) {
  // 10 remaining weights: k = ceil(0.2 * 10) = 2; ascending |w|: 0.05 0.1 0.2 0.2 0.2 0.3 ...;
  // threshold = sorted[2] = 0.2, and |w| > 0.2 strictly, so all three 0.2s go: 5 pruned, not 2.
  m::NamedTensors w = {{"a.weight", torch::tensor({{0.1f, -0.5f}, {0.2f, -0.2f}})},
                       {"b.weight", torch::tensor({{0.2f, 0.9f, -0.05f}, {0.3f, 0.7f, -0.4f}})}};
  m::NamedTensors masks = {{"a.weight", torch::ones({2, 2}, torch::kBool)}, {"b.weight", torch::ones({2, 3}, torch::kBool)}};
  auto out = m::prune_global_magnitude(w, masks, 0.2);
  EXPECT_TRUE(torch::equal(mask_of(out, "a.weight"), torch::tensor({{false, true}, {false, false}})));
  EXPECT_TRUE(torch::equal(mask_of(out, "b.weight"), torch::tensor({{false, true, false}, {true, true, true}})));
  EXPECT_EQ(m::remaining_weights(out), 5);

  // Distinct magnitudes 1..11: k = ceil(0.2 * 11) = ceil(2.2) = 3 (not round(2.2) = 2); threshold =
  // sorted[3] = 4, and only |w| > 4 stays, so 1, 2, 3, 4 go.
  at::Tensor v = torch::arange(1, 12, torch::kFloat32).view({1, 11});
  auto one = m::prune_global_magnitude({{"c.weight", v}}, {{"c.weight", torch::ones({1, 11}, torch::kBool)}}, 0.2);
  EXPECT_EQ(m::remaining_weights(one), 11 - 4);
  EXPECT_FALSE(mask_of(one, "c.weight")[0][3].item<bool>());
  EXPECT_TRUE(mask_of(one, "c.weight")[0][4].item<bool>());
  // A weight pruned before stays pruned even when large, and leaves the pool: with 11 masked off
  // too, 5..10 remain (6), k = ceil(1.2) = 2, threshold = sorted[2] = 7: 8, 9, 10 stay.
  at::Tensor prev = mask_of(one, "c.weight").clone();
  prev[0][10] = false;
  auto two = m::prune_global_magnitude({{"c.weight", v}}, {{"c.weight", prev}}, 0.2);
  EXPECT_TRUE(torch::equal(mask_of(two, "c.weight"),
                           torch::tensor({{false, false, false, false, false, false, false, true, true, true, false}})));
}

TEST(Lottery, PruningRejectsBadInput) {
  m::NamedTensors w = {{"a.weight", torch::ones({2, 2})}};
  m::NamedTensors ok = {{"a.weight", torch::ones({2, 2}, torch::kBool)}};
  EXPECT_NE(error_of([&] { m::prune_global_magnitude(w, ok, 1.0); }).find("fraction"), std::string::npos);
  EXPECT_NE(error_of([&] { m::prune_global_magnitude(w, ok, 0.0); }).find("fraction"), std::string::npos);
  EXPECT_NE(error_of([&] { m::prune_global_magnitude(w, {{"b.weight", torch::ones({2, 2})}}, 0.2); }).find("b.weight"),
            std::string::npos);
  EXPECT_NE(error_of([&] { m::prune_global_magnitude(w, {{"a.weight", torch::ones({2, 3})}}, 0.2); }).find("shape"),
            std::string::npos);
  EXPECT_NE(error_of([&] { m::prune_global_magnitude(w, {{"a.weight", torch::full({2, 2}, 2.0)}}, 0.2); }).find("0 and 1"),
            std::string::npos);
  m::NamedTensors bad = {{"a.weight", torch::tensor({{1.0f, NAN}, {1.0f, 1.0f}})}};
  EXPECT_NE(error_of([&] { m::prune_global_magnitude(bad, ok, 0.2); }).find("NaN"), std::string::npos);
  // One weight left: pruning ceil(0.2) = 1 of it would empty the network.
  EXPECT_NE(error_of([&] {
              m::prune_global_magnitude({{"a.weight", torch::ones({1, 1})}}, {{"a.weight", torch::ones({1, 1}, torch::kBool)}},
                                        0.2);
            }).find("leave none"),
            std::string::npos);
}

// ---- what is prunable ----

TEST(Lottery, OnlyConvAndLinearWeightsArePrunable) {
  auto cnn = golgi::models::make_model("cnn", {{"channels", std::vector<int64_t>{4, 8}}, {"hidden", std::vector<int64_t>{16}}, {"batch_norm", true}});
  const auto names = m::prunable_weights(*cnn);
  int64_t matrices = 0;
  for (const auto& p : cnn->named_parameters()) {
    const bool listed = std::find(names.begin(), names.end(), p.key()) != names.end();
    const bool is_bias = p.key().size() >= 4 && p.key().compare(p.key().size() - 4, 4, "bias") == 0;
    if (is_bias || p.value().dim() < 2) {
      EXPECT_FALSE(listed) << p.key() << " (bias or BatchNorm) must not be prunable";
    }
    if (p.value().dim() >= 2) {
      EXPECT_TRUE(listed) << p.key();
      ++matrices;
    }
  }
  EXPECT_EQ(static_cast<int64_t>(names.size()), matrices);
  EXPECT_EQ(matrices, 4);  // conv1, conv2, fc1, head
  EXPECT_EQ(names.back(), "head.weight");
}

TEST(Lottery, OutputLayerCanBeExcluded) {
  auto mlp = golgi::models::make_model("mlp", {{"hidden", std::vector<int64_t>{300, 100}}});
  EXPECT_EQ(m::prunable_weights(*mlp), (std::vector<std::string>{"layers.0.weight", "layers.1.weight", "head.weight"}));
  EXPECT_EQ(m::output_weight(*mlp), "head.weight");
  // Ignored: its mask stays all ones, but its weights count in n (open_lth's rule): here
  // n = 4 + 6 = 10, j = 2, and the pool is a's 4 weights, so sorted[2] = 0.3 and 0.1, 0.2, 0.3 go.
  m::NamedTensors w = {{"a.weight", torch::tensor({0.3f, 0.1f, 0.2f, 0.4f})}, {"head.weight", torch::full({6}, 0.01f)}};
  m::NamedTensors masks = {{"a.weight", torch::ones({4}, torch::kBool)}, {"head.weight", torch::ones({6}, torch::kBool)}};
  auto out = m::prune_global_magnitude(w, masks, 0.2, {"head.weight"});
  EXPECT_TRUE(torch::equal(mask_of(out, "a.weight"), torch::tensor({false, false, false, true})));
  EXPECT_TRUE(mask_of(out, "head.weight").all().item<bool>());
  // Without ignoring, the tiny head weights go first.
  auto all = m::prune_global_magnitude(w, masks, 0.2);
  EXPECT_EQ(mask_of(all, "head.weight").sum().item<int64_t>(), 0);
  EXPECT_NE(error_of([&] { m::prune_global_magnitude(w, masks, 0.2, {"fc.weight"}); }).find("fc.weight"),
            std::string::npos);
  EXPECT_NE(error_of([&] { m::prune_global_magnitude(w, masks, 0.2, {"a.weight", "head.weight"}); }).find("ignored"),
            std::string::npos);
}

// ---- masked training ----

std::shared_ptr<golgi::data::Dataset> tiny_data(int64_t n = 64) {
  auto g = at::make_generator<at::CPUGeneratorImpl>(7);
  at::Tensor x = at::normal(0.0, 1.0, {n, 8}, g);
  at::Tensor y = (x.select(1, 0) > 0).to(torch::kLong) + (x.select(1, 1) > 0).to(torch::kLong);
  return std::make_shared<golgi::data::Dataset>("tiny", "train", x, y);
}

std::shared_ptr<golgi::models::Model> tiny_mlp() {
  torch::manual_seed(3);
  return golgi::models::make_model("mlp", {{"input_shape", std::vector<int64_t>{8}}, {"hidden", std::vector<int64_t>{12}}, {"classes", 3}});
}

std::map<std::string, at::Tensor> params_of(const golgi::models::Model& model) {
  std::map<std::string, at::Tensor> out;
  for (const auto& p : model.named_parameters()) out[p.key()] = p.value().detach().clone();
  return out;
}

TEST(Lottery, MaskedWeightsStayExactlyZeroThroughOptimiserSteps) {
  for (const std::string opt : {"sgd", "adam", "adamw"}) {
    auto model = tiny_mlp();
    m::MaskedTrainer trainer(*model, tiny_data(),
                             m::LotteryTrainOptions().iterations(20).batch_size(8).optimizer(opt).lr(0.05).momentum(0.9)
                                 .weight_decay(0.1));
    // Dense steps first, so the momentum / Adam buffers are nonzero everywhere.
    trainer.train_until(5);
    auto masks = m::random_masks_like(
        m::prune_global_magnitude(golgi::models::model_state(*model), m::dense_masks(*model, m::prunable_weights(*model)),
                                  0.5),
        11);
    trainer.set_masks(masks);
    const auto before = params_of(*model);
    trainer.train_until(20);
    const auto after = params_of(*model);
    for (const auto& [name, mask] : masks) {
      const at::Tensor pruned = mask.logical_not();
      EXPECT_EQ(after.at(name).masked_select(pruned).abs().max().item<float>(), 0.0f) << opt << " " << name;
      EXPECT_GT((after.at(name) - before.at(name)).masked_select(mask).abs().max().item<float>(), 0.0f)
          << opt << " " << name << ": survivors should train";
    }
    // The pruned entries of the optimiser buffers are zero too.
    for (const auto& [key, t] : trainer.optimizer().state()) {
      for (const auto& [name, mask] : masks)
        if (key.rfind(name + ".", 0) == 0) {
          EXPECT_EQ(t.masked_select(mask.logical_not()).abs().max().item<float>(), 0.0f) << opt << " " << key;
        }
    }
  }
}

TEST(Lottery, RewindRestoresExactWeightsOptimiserStateAndSchedule) {
  auto model = tiny_mlp();
  const auto options = m::LotteryTrainOptions().iterations(30).batch_size(8).lr(0.05).momentum(0.9).schedule("cosine");
  m::MaskedTrainer trainer(*model, tiny_data(), options);
  trainer.set_order_seed(5);
  trainer.train_until(7);
  const m::TrainCheckpoint at7 = trainer.checkpoint();
  trainer.train_until(19);
  const auto w19 = params_of(*model);
  m::NamedTensors opt19;  // state() shares the live buffers: copy them
  for (const auto& [key, t] : trainer.optimizer().state()) opt19.emplace_back(key, t.clone());

  trainer.restore(at7);
  EXPECT_EQ(trainer.iteration(), 7);
  for (const auto& [name, t] : at7.model) EXPECT_TRUE(torch::equal(params_of(*model).at(name), t)) << name;
  const auto restored = trainer.optimizer().state();
  ASSERT_EQ(restored.size(), at7.optimizer.size());
  for (size_t i = 0; i < restored.size(); ++i) {
    EXPECT_EQ(restored[i].first, at7.optimizer[i].first);
    EXPECT_TRUE(torch::equal(restored[i].second, at7.optimizer[i].second)) << restored[i].first;
  }
  // The momentum buffer at 7 is not the one at 19 (the test would be empty otherwise).
  EXPECT_FALSE(torch::equal(restored[0].second, opt19[0].second));
  // Same data order and schedule position: training on lands on the same weights, bit for bit.
  trainer.train_until(19);
  for (const auto& [name, t] : w19) EXPECT_TRUE(torch::equal(params_of(*model).at(name), t)) << name;
  // Another data order does not.
  trainer.restore(at7);
  trainer.set_order_seed(6);
  trainer.train_until(19);
  EXPECT_FALSE(torch::equal(params_of(*model).at("layers.0.weight"), w19.at("layers.0.weight")));
}

TEST(Lottery, ScheduleIsAFunctionOfTheIteration) {
  auto o = m::LotteryTrainOptions().iterations(100).lr(0.1).schedule("cosine").warmup(10);
  EXPECT_DOUBLE_EQ(m::lottery_lr(o, 0), 0.01);
  EXPECT_DOUBLE_EQ(m::lottery_lr(o, 9), 0.1);
  EXPECT_NEAR(m::lottery_lr(o, 50), 0.05, 1e-12);
  EXPECT_DOUBLE_EQ(m::lottery_lr(o.schedule("constant").warmup(0), 77), 0.1);
}

TEST(Lottery, RandomPruningKeepsTheCountsPerLayer) {
  auto model = golgi::models::make_model("mlp", {{"hidden", std::vector<int64_t>{300, 100}}});
  auto masks = m::dense_masks(*model, m::prunable_weights(*model));
  for (int level = 0; level < 3; ++level)
    masks = m::prune_global_magnitude(golgi::models::model_state(*model), masks, 0.2);
  const auto random = m::random_masks_like(masks, 1);
  ASSERT_EQ(random.size(), masks.size());
  for (size_t i = 0; i < masks.size(); ++i) {
    EXPECT_EQ(random[i].first, masks[i].first);
    EXPECT_EQ(random[i].second.sizes(), masks[i].second.sizes());
    EXPECT_EQ(random[i].second.sum().item<int64_t>(), masks[i].second.sum().item<int64_t>()) << masks[i].first;
    EXPECT_FALSE(torch::equal(random[i].second, masks[i].second)) << masks[i].first;
  }
  const auto again = m::random_masks_like(masks, 1), other = m::random_masks_like(masks, 2);
  EXPECT_TRUE(torch::equal(again[0].second, random[0].second));
  EXPECT_FALSE(torch::equal(other[0].second, random[0].second));
  // Global magnitude pruning is uneven across layers (the 784-input layer holds the small weights).
  const auto report = m::sparsity_report(masks);
  EXPECT_NEAR(report["sparsity"].get<double>(), 1 - 0.8 * 0.8 * 0.8, 1e-4);
}

TEST(Lottery, DistanceIsNormalisedOverTheUnprunedWeights) {
  m::NamedTensors a = {{"x.weight", torch::tensor({3.0f, 4.0f, 100.0f})}, {"x.bias", torch::tensor({1.0f})}};
  m::NamedTensors b = {{"x.weight", torch::tensor({3.0f, 1.0f, -7.0f})}, {"x.bias", torch::tensor({9.0f})}};
  m::NamedTensors mask = {{"x.weight", torch::tensor({true, true, false})}};
  EXPECT_DOUBLE_EQ(m::masked_distance(a, b, mask), 3.0 / 5.0);  // ||(0, 3)|| / ||(3, 4)||
  EXPECT_DOUBLE_EQ(m::masked_distance(a, a, mask), 0.0);
  EXPECT_NE(error_of([&] { m::masked_distance(a, {{"y.weight", torch::ones({3})}}, mask); }).find("x.weight"),
            std::string::npos);
}

TEST(Lottery, MasksRoundTripThroughSafetensors) {
  const std::string path = golgi::testing::scratch_dir("lottery_masks") + "/masks.safetensors";
  m::NamedTensors masks = {{"layers.0.weight", torch::rand({5, 4}) > 0.5}, {"head.weight", torch::rand({3, 5}) > 0.5}};
  m::save_masks(path, masks, {{"level", 2}});
  const auto raw = golgi::io::load_tensors(path);
  ASSERT_EQ(raw.size(), 2u);
  EXPECT_EQ(raw[0].second.scalar_type(), torch::kUInt8);  // numpy-friendly 0/1
  const auto back = m::load_masks(path);
  for (size_t i = 0; i < masks.size(); ++i) {
    EXPECT_EQ(back[i].first, masks[i].first);
    EXPECT_TRUE(torch::equal(back[i].second, masks[i].second));
  }
}

TEST(Lottery, ImpPrunesTwentyPercentOfTheRemainderPerLevel) {
  auto model = tiny_mlp();
  auto data = tiny_data(96);
  std::vector<int64_t> seen;
  const auto levels = m::iterative_magnitude_pruning(
      *model, data, *data, m::LotteryTrainOptions().iterations(12).batch_size(16).lr(0.05),
      m::ImpOptions().levels(3).rewind_iteration(4).exclude_output(true),
      [&](const m::ImpLevel& level, const golgi::models::Model& trained, const m::NamedTensors& masks) {
        seen.push_back(level.level);
        ASSERT_EQ(masks.size(), 2u);
        EXPECT_TRUE(mask_of(masks, "head.weight").all().item<bool>()) << "the excluded output layer was pruned";
        // The model handed over carries the mask: pruned weights are exactly 0.
        for (const auto& p : trained.named_parameters())
          if (p.key() == "layers.0.weight") {
            EXPECT_EQ(p.value().masked_select(mask_of(masks, p.key()).logical_not()).abs().sum().item<float>(), 0.0f);
          }
      });
  EXPECT_EQ(seen, (std::vector<int64_t>{0, 1, 2, 3}));
  ASSERT_EQ(levels.size(), 4u);
  // layers.0.weight [12, 8] = 96 weights, head [3, 12] = 36 (counted, never pruned). With distinct
  // magnitudes each level removes ceil(0.2 n) + 1 (the threshold weight itself goes too).
  int64_t remaining = 96 + 36;
  for (const auto& level : levels) {
    if (level.level > 0) remaining -= static_cast<int64_t>(std::ceil(0.2 * static_cast<double>(remaining))) + 1;
    EXPECT_EQ(level.sparsity["remaining"].get<int64_t>(), remaining) << "level " << level.level;
    EXPECT_TRUE(std::isfinite(level.accuracy));
  }
  EXPECT_EQ(remaining, 64);  // 132 - 28 - 22 - 18
}

TEST(Lottery, OptionsAreValidated) {
  auto model = tiny_mlp();
  EXPECT_NE(error_of([&] { m::MaskedTrainer(*model, tiny_data(), m::LotteryTrainOptions().optimizer("sgdd")); })
                .find("optimizer"),
            std::string::npos);
  EXPECT_NE(error_of([&] { m::MaskedTrainer(*model, tiny_data(8), m::LotteryTrainOptions().batch_size(60)); })
                .find("batch_size"),
            std::string::npos);
  auto data = tiny_data();
  EXPECT_NE(error_of([&] {
              m::iterative_magnitude_pruning(*model, data, *data, m::LotteryTrainOptions().iterations(10),
                                             m::ImpOptions().rewind_iteration(10));
            }).find("rewind_iteration"),
            std::string::npos);
}

TEST(LotteryAnnotator, ScoresAreTheSurvivingFractionOfEachNeuronsInputs) {
  const std::string dir = golgi::testing::scratch_dir("lottery_annotator");
  torch::manual_seed(5);
  auto model = golgi::models::make_model(
      "mlp", golgi::Json{{"hidden", golgi::Json::array({8, 6})}});  // 28 x 28 images: the atlas stores image exemplars
  auto masks = m::dense_masks(*model, m::prunable_weights(*model));
  for (int level = 0; level < 3; ++level)
    masks = m::prune_global_magnitude(golgi::models::model_state(*model), masks, 0.2);
  // A model folder as golgi prune writes it.
  golgi::models::save_model(dir + "/model", *model, {{"dataset", {{"name", "fashion-mnist"}}}, {"lottery", {{"level", 3}}}});
  m::save_masks(dir + "/model/" + m::kMasksFile, masks);
  auto built = golgi::atlas::build_atlas(golgi::atlas::AtlasBuildOptions()
                                             .model(dir + "/model")
                                             .out(dir + "/atlas.db")
                                             .annotators({"lottery"})
                                             .limit(100)
                                             .exemplars(2)
                                             .progress(false));
  ASSERT_TRUE(built.annotators.contains("lottery")) << built.annotators.dump();
  // Independent: the mean of each mask row.
  std::map<std::string, at::Tensor> expected = {
      {"layers.0.hook_post", mask_of(masks, "layers.0.weight").to(torch::kFloat64).mean(1)},
      {"layers.1.hook_post", mask_of(masks, "layers.1.weight").to(torch::kFloat64).mean(1)},
      {"head.hook_out", mask_of(masks, "head.weight").to(torch::kFloat64).mean(1)}};
  golgi::atlas::Database db(dir + "/atlas.db", golgi::atlas::Database::Mode::ReadOnly);
  auto q = db.prepare(
      "SELECT h.name, n.idx, a.score, a.kind FROM annotations a JOIN neurons n ON n.id = a.neuron_id "
      "JOIN hooks h ON h.id = n.hook_id WHERE a.method = 'lottery'");
  std::map<std::string, int64_t> per_hook;
  while (q.step()) {
    const std::string hook = q.text(0);
    ASSERT_TRUE(expected.count(hook)) << hook;
    EXPECT_DOUBLE_EQ(q.real(2), expected[hook][q.integer(1)].item<double>()) << hook << ":" << q.integer(1);
    EXPECT_EQ(q.text(3), "weight_survival");
    ++per_hook[hook];
  }
  EXPECT_EQ(per_hook, (std::map<std::string, int64_t>{{"head.hook_out", 10}, {"layers.0.hook_post", 8}, {"layers.1.hook_post", 6}}));
  // Some neuron lost inputs (else the scores would be all 1 and the test empty).
  EXPECT_LT(expected["layers.1.hook_post"].min().item<double>(), 1.0);
}

}  // namespace
