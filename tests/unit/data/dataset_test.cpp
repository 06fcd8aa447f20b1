#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdio>
#include <map>

#include "golgi/data/espeak_digits.h"
#include "golgi/data/registry.h"
#include "test_support.h"

namespace {

using namespace golgi::data;

TEST(Dataset, EpochOrderIsSeededAndDiffersPerEpoch) {
  auto a = epoch_order(100, 5, 0, true), b = epoch_order(100, 5, 0, true), c = epoch_order(100, 5, 1, true);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  auto plain = epoch_order(5, 5, 3, false);
  EXPECT_EQ(plain, (std::vector<int64_t>{0, 1, 2, 3, 4}));
}

TEST(Dataset, SplitIsDisjointAndComplete) {
  DataOptions o;
  o.seed = 3;
  auto blobs = load_dataset("synthetic-blobs", o);
  EXPECT_EQ(blobs->size(), 2000);
  EXPECT_EQ(blobs->num_classes(), 4);
  auto [a, b] = blobs->split_by(0.25, 9, "val", "train");
  EXPECT_EQ(a->size(), 500);
  EXPECT_EQ(b->size(), 1500);
  // Every sample lands in exactly one part: the multiset of inputs is preserved.
  auto all = torch::cat({a->inputs(), b->inputs()}).sum(0);
  EXPECT_TRUE(torch::allclose(all, blobs->inputs().sum(0), 1e-3, 1e-3));
  auto [a2, b2] = blobs->split_by(0.25, 9, "val", "train");
  EXPECT_TRUE(torch::equal(a->inputs(), a2->inputs()));
  EXPECT_THROW(blobs->split_by(1.0, 9, "x", "y"), golgi::Error);
  // Generated data is a function of the seed.
  auto again = load_dataset("synthetic-blobs", o);
  EXPECT_TRUE(torch::equal(again->inputs(), blobs->inputs()));
}

TEST(Dataset, BatchesAndRanges) {
  auto blobs = load_dataset("synthetic-blobs", DataOptions{"test", "", 0});
  auto batch = blobs->batch({4, 1});
  EXPECT_EQ(batch.inputs.sizes(), (std::vector<int64_t>{2, 2}));
  EXPECT_TRUE(torch::equal(batch.inputs[0], blobs->inputs()[4]));
  EXPECT_EQ(batch.ids[1].item<int64_t>(), 1);
  EXPECT_THROW(blobs->range(10, 5), golgi::Error);
  EXPECT_THROW(blobs->head(501), golgi::Error);
}

TEST(FashionMnist, LoadsDebianPackageWithCard) {
  auto test = load_dataset("fashion-mnist", DataOptions{"test", "", 0});
  EXPECT_EQ(test->size(), 10000);
  EXPECT_EQ(test->sample_shape(), (std::vector<int64_t>{1, 28, 28}));
  EXPECT_EQ(test->num_classes(), 10);
  // Balanced: 1000 test images per class.
  EXPECT_EQ(test->targets().eq(3).sum().item<int64_t>(), 1000);
  EXPECT_EQ(test->card()["classes"][9], "Ankle boot");
  // Normalised pixels: background 0 maps to -0.2860 / 0.3530.
  EXPECT_NEAR(test->inputs().min().item<float>(), -0.2860 / 0.3530, 1e-5);
}

TEST(FashionMnist, MissingFilesAndBadSplitsAreClear) {
  try {
    load_dataset("fashion-mnist", DataOptions{"train", golgi::testing::scratch_dir("no_fmnist"), 0});
    FAIL();
  } catch (const golgi::Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("scripts/setup.sh"), std::string::npos) << msg;
    EXPECT_NE(msg.find("--data-dir"), std::string::npos) << msg;
  }
  EXPECT_THROW(load_dataset("fashion-mnist", DataOptions{"validation", "", 0}), golgi::Error);
  EXPECT_THROW(load_dataset("fashion_mnist", DataOptions{}), golgi::Error);
}

}  // namespace

namespace {

// Datasets the sweep cannot load here, each with the reason (as llama.cpp's per-architecture
// test lists the ones it skips). Remove an entry as soon as its dataset loads.
const std::map<std::string, std::string>& sweep_skips() {
  static const std::map<std::string, std::string> skips = {};
  return skips;
}

TEST(DatasetRegistry, SweepLoadsEveryDatasetsTestSplit) {
  std::vector<std::string> skipped;
  for (const auto& entry : golgi::data::dataset_registry().entries()) {
    SCOPED_TRACE(entry.name);
    EXPECT_FALSE(entry.description.empty());
    if (auto skip = sweep_skips().find(entry.name); skip != sweep_skips().end()) {
      skipped.push_back(entry.name + " (" + skip->second + ")");
      continue;
    }
    golgi::data::DataOptions options{"test", "", 0};
    // espeak-digits is built offline: build a tiny copy (1 sample per class and split) for the sweep.
    if (entry.name == "espeak-digits") {
      std::string missing = golgi::data::espeak_digits_missing_tools();
      if (!missing.empty()) {
        skipped.push_back(entry.name + " (" + missing + ")");
        continue;
      }
      options.data_dir = golgi::testing::scratch_dir("sweep_espeak_digits");
      golgi::data::build_espeak_digits(golgi::data::EspeakDigitsOptions()
                                           .out(options.data_dir)
                                           .per_class(1)
                                           .test_per_class(1)
                                           .threads(2)
                                           .progress(false));
    }
    auto data = entry.load(options);
    EXPECT_EQ(data->name(), entry.name);
    EXPECT_GT(data->size(), 0);
    EXPECT_GT(data->num_classes(), 1);
    EXPECT_TRUE(torch::isfinite(data->inputs()).all().item<bool>());
  }
  for (const auto& s : skipped) std::printf("[ sweep skip ] %s\n", s.c_str());
}

}  // namespace
