// espeak-digits: tiny builds (1 sample per class and split) are deterministic, load with the
// documented shapes and classes, and a missing, corrupt or modified cache is a clear error.
// Tests that synthesise skip when espeak-ng or sox is missing (scripts/setup.sh installs both).
#include <gtest/gtest.h>

#include <torch/torch.h>

#include <cstdlib>
#include <filesystem>
#include <set>

#include "golgi/core/error.h"
#include "golgi/data/espeak_digits.h"
#include "golgi/data/registry.h"
#include "golgi/io/atomic_file.h"
#include "golgi/io/json_file.h"
#include "test_support.h"

namespace {

using namespace golgi::data;

#define SKIP_WITHOUT_TOOLS()                                          \
  do {                                                                \
    std::string missing = espeak_digits_missing_tools();              \
    if (!missing.empty()) GTEST_SKIP() << missing;                    \
  } while (0)

EspeakDigitsBuild tiny_build(const std::string& dir, int64_t seed, int64_t threads) {
  return build_espeak_digits(
      EspeakDigitsOptions().out(dir).seed(seed).per_class(1).test_per_class(1).threads(threads).progress(false));
}

std::shared_ptr<Dataset> load(const std::string& dir, const std::string& split) {
  return load_dataset("espeak-digits", DataOptions{split, dir, 0});
}

TEST(EspeakDigits, TinyBuildIsDeterministicAcrossThreadsAndLoads) {
  SKIP_WITHOUT_TOOLS();
  const std::string a = golgi::testing::scratch_dir("espeak_a"), b = golgi::testing::scratch_dir("espeak_b");
  auto first = tiny_build(a, 0, 2);
  auto second = tiny_build(b, 0, 1);
  EXPECT_EQ(first.train, 20);
  EXPECT_EQ(first.test, 20);
  EXPECT_EQ(first.content_hash, second.content_hash);
  EXPECT_EQ(first.manifest_hash, second.manifest_hash);
  EXPECT_EQ(golgi::io::read_file(a + "/manifest.json"), golgi::io::read_file(b + "/manifest.json"));
  EXPECT_EQ(first.content_hash.rfind("fnv1a64:", 0), 0u) << first.content_hash;

  auto train = load(a, "train"), test = load(a, "test");
  EXPECT_EQ(train->size(), 20);
  EXPECT_EQ(test->size(), 20);
  EXPECT_EQ(train->sample_shape(), (std::vector<int64_t>{100, 64}));
  EXPECT_EQ(train->num_classes(), 20);
  EXPECT_EQ(train->card()["classes"][15], "de-5");
  EXPECT_EQ(train->card()["content_hash"], first.content_hash);
  // One sample per class, in class order; 0/1 spikes, and every utterance makes plenty of them.
  EXPECT_TRUE(torch::equal(train->targets(), torch::arange(20, torch::kLong)));
  const at::Tensor& x = train->inputs();
  EXPECT_TRUE(x.eq(0).logical_or(x.eq(1)).all().item<bool>());
  EXPECT_GT(x.sum({1, 2}).min().item<double>(), 100.0);
  // Different words give different spike trains.
  EXPECT_FALSE(torch::equal(x[0], x[1]));

  // The split rule: no (class, voice, speed, pitch) appears in both splits.
  auto manifest = golgi::io::read_json_file(a + "/manifest.json");
  std::set<std::string> seen;
  for (const std::string split : {"train", "test"})
    for (const auto& s : manifest["samples"][split]) {
      std::string key = s["class"].get<std::string>() + s["voice"].get<std::string>() + s["speed"].dump() + s["pitch"].dump();
      EXPECT_TRUE(seen.insert(key).second) << key;
    }
  EXPECT_EQ(manifest["seed"], 0);
  EXPECT_FALSE(manifest["tools"]["espeak-ng"].get<std::string>().empty());
  EXPECT_EQ(manifest["splits"]["train"]["spikes"], "train_spikes.npy");

  // Another seed picks other voices, so other spikes.
  const std::string c = golgi::testing::scratch_dir("espeak_c");
  EXPECT_NE(tiny_build(c, 1, 2).content_hash, first.content_hash);
}

TEST(EspeakDigits, ModifiedTensorsAreRefused) {
  SKIP_WITHOUT_TOOLS();
  const std::string dir = golgi::testing::scratch_dir("espeak_tamper");
  // A killed build's scratch folder (its pid no longer exists) is cleaned up by the next build.
  const std::string stale = dir + "/.build-2147483646";
  golgi::io::make_dirs(stale + "/w0");
  tiny_build(dir, 3, 2);
  EXPECT_FALSE(std::filesystem::exists(stale));
  for (const auto& entry : std::filesystem::directory_iterator(dir))
    EXPECT_NE(entry.path().filename().string().rfind(".build-", 0), 0u) << entry.path();
  EXPECT_NO_THROW(load(dir, "test"));
  std::string bytes = golgi::io::read_file(dir + "/test_spikes.npy");
  bytes[bytes.size() - 1] = static_cast<char>(bytes.back() ^ 1);
  golgi::io::write_file_atomic(dir + "/test_spikes.npy", bytes);
  std::string msg = golgi::testing::error_of([&] { load(dir, "test"); });
  EXPECT_NE(msg.find("hash"), std::string::npos) << msg;
  EXPECT_NE(msg.find("golgi data build espeak-digits"), std::string::npos) << msg;
  EXPECT_NO_THROW(load(dir, "train"));  // the other split is intact
}

TEST(EspeakDigits, MissingOrCorruptCacheNamesTheBuildCommand) {
  const std::string dir = golgi::testing::scratch_dir("espeak_missing");
  std::string msg = golgi::testing::error_of([&] { load(dir, "train"); });
  EXPECT_NE(msg.find("golgi data build espeak-digits"), std::string::npos) << msg;
  EXPECT_NE(msg.find(dir), std::string::npos) << msg;
  golgi::io::write_file_atomic(dir + "/manifest.json", "{\"dataset\": \"espeak-digits\", ");
  msg = golgi::testing::error_of([&] { load(dir, "train"); });
  EXPECT_NE(msg.find("corrupt"), std::string::npos) << msg;
  EXPECT_NE(msg.find("golgi data build espeak-digits"), std::string::npos) << msg;
  golgi::io::write_file_atomic(dir + "/manifest.json", "{\"dataset\": \"espeak-digits\", \"format_version\": 1}");
  msg = golgi::testing::error_of([&] { load(dir, "train"); });
  EXPECT_NE(msg.find("splits"), std::string::npos) << msg;
  EXPECT_THROW(load(dir, "validation"), golgi::Error);
}

TEST(EspeakDigits, MissingToolsAreAClearError) {
  const char* old = std::getenv("PATH");
  const std::string saved = old ? old : "";
  const std::string empty = golgi::testing::scratch_dir("espeak_no_tools");
  ::setenv("PATH", empty.c_str(), 1);
  std::string missing = espeak_digits_missing_tools();
  std::string msg = golgi::testing::error_of([&] { tiny_build(golgi::testing::scratch_dir("espeak_no_tools_out"), 0, 1); });
  ::setenv("PATH", saved.c_str(), 1);
  EXPECT_NE(missing.find("espeak-ng and sox"), std::string::npos) << missing;
  EXPECT_NE(msg.find("apt-get install espeak-ng sox"), std::string::npos) << msg;
  EXPECT_NE(msg.find("scripts/setup.sh"), std::string::npos) << msg;
}

TEST(EspeakDigits, OptionsAreValidated) {
  EXPECT_THROW(build_espeak_digits(EspeakDigitsOptions().per_class(0)), golgi::Error);
  EXPECT_THROW(build_espeak_digits(EspeakDigitsOptions().seed(-1)), golgi::Error);
  EXPECT_THROW(build_espeak_digits(EspeakDigitsOptions().test_per_class(-2)), golgi::Error);
  EXPECT_EQ(golgi::data::fnv1a64("a", 1), 0xaf63dc4c8601ec8cull);  // FNV-1a 64 test vector
}

TEST(EspeakDigits, CliListsAndBuilds) {
  auto list = golgi::testing::run_cli("data list");
  EXPECT_EQ(list.exit_code, 0) << list.out;
  EXPECT_NE(list.out.find("espeak-digits"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("burst-order"), std::string::npos) << list.out;
  auto wrong = golgi::testing::run_cli("data build burst-order");
  EXPECT_EQ(wrong.exit_code, 2) << wrong.out;
  EXPECT_NE(wrong.out.find("needs no build"), std::string::npos) << wrong.out;
  EXPECT_EQ(golgi::testing::run_cli("data build espeak-digit").exit_code, 2);
  if (!espeak_digits_missing_tools().empty()) GTEST_SKIP() << espeak_digits_missing_tools();
  const std::string dir = golgi::testing::scratch_dir("espeak_cli");
  auto build = golgi::testing::run_cli("-q --threads 2 data build espeak-digits --per-class 1 --test-per-class 1 --out " + dir);
  EXPECT_EQ(build.exit_code, 0) << build.out;
  EXPECT_NE(build.out.find("content_hash"), std::string::npos) << build.out;
  auto info = golgi::testing::run_cli("data info espeak-digits --data-dir " + dir);
  EXPECT_EQ(info.exit_code, 0) << info.out;
  EXPECT_NE(info.out.find("\"sample_shape\""), std::string::npos) << info.out;
}

}  // namespace
