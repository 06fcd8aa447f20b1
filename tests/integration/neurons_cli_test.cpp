// golgi neurons stats | language --model | intervene, end to end on the bundled
// assets/models/tiny-multilingual (small corpus slices, so this takes about a minute).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "golgi/io/json_file.h"
#include "golgi/io/torch_bridge.h"
#include "test_support.h"

namespace {

using namespace golgi;
using golgi::testing::run_cli;

std::string asset_dir() { return golgi::testing::source_dir() + "/assets/models/tiny-multilingual"; }

TEST(NeuronsCli, StatsWritesPerLanguageProbabilitiesAndResponses) {
  const std::string out = golgi::testing::scratch_dir("neurons_stats");
  auto r = run_cli("--threads 2 neurons stats --model " + asset_dir() +
                   " --hooks 'blocks.*.mlp.hook_post' --hooks blocks.3.hook_resid_post --per-language 3 --max-tokens 48"
                   " --responses --out " + out);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const Json doc = io::read_json_file(out + "/stats.json");
  EXPECT_EQ(doc["labels"].size(), 12u);
  EXPECT_EQ(doc["neurons"], 4 * 512 + 192);
  EXPECT_EQ(doc["hooks"][4]["name"], "blocks.3.hook_resid_post");
  auto p = io::load_npy(out + "/probability.npy");
  EXPECT_EQ(p.sizes(), (std::vector<int64_t>{12, 4 * 512 + 192}));
  EXPECT_TRUE(p.ge(0).all().item<bool>() && p.le(1).all().item<bool>());
  auto responses = io::load_npy(out + "/responses.npy");
  EXPECT_EQ(responses.sizes(), (std::vector<int64_t>{36, 4 * 512 + 192}));
  EXPECT_TRUE(torch::isfinite(responses).all().item<bool>());
  int64_t tokens = 0;
  for (auto& [language, v] : doc["per_label"].items()) tokens += v["tokens"].get<int64_t>();
  EXPECT_EQ(io::load_npy(out + "/tokens.npy").sum().item<int64_t>(), tokens);
  EXPECT_GT(tokens, 36 * 20);
}

TEST(NeuronsCli, LanguageFromModelThenInterveneOnAMask) {
  const std::string out = golgi::testing::scratch_dir("neurons_language");
  auto r = run_cli("--threads 2 neurons language --model " + asset_dir() +
                   " --per-language 12 --max-tokens 96 --autosweep --stats-out " + out + "/stats --out " + out +
                   "/mask.json");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const Json mask = io::read_json_file(out + "/mask.json");
  EXPECT_EQ(mask["languages"].size(), 12u);
  EXPECT_EQ(mask["top_k"], 20);  // round(0.01 * 4 * 512)
  EXPECT_EQ(mask["summary"]["general"], 0);  // AutoSweep's guarantee
  // Pick a language with neurons and zero them.
  std::string language;
  for (auto& [k, v] : mask["masks"].items()) {
    size_t n = 0;
    for (const auto& layer : v) n += layer.size();
    if (n > 0 && language.empty()) language = k;
  }
  ASSERT_FALSE(language.empty()) << mask.dump();
  r = run_cli("--threads 2 neurons intervene --model " + asset_dir() + " --mask " + out + "/mask.json --language " +
              language + " --per-language 2 --out " + out + "/effect.json");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const Json effect = io::read_json_file(out + "/effect.json");
  EXPECT_EQ(effect["relative_change"].size(), 12u);
  EXPECT_GT(effect["intervened"]["bits_per_byte"].get<double>(), 0.0);

  // Zeroing a neuron through --zero and through the JSON form give the same numbers.
  io::write_json_file(out + "/one.json", Json{{"interventions", {{{"op", "zero"}, {"neuron", "blocks.0.mlp.hook_post:5"}}}}});
  r = run_cli("--threads 2 neurons intervene --model " + asset_dir() + " --zero blocks.0.mlp.hook_post:5 --limit 12 --out " +
              out + "/a.json");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  r = run_cli("--threads 2 neurons intervene --model " + asset_dir() + " --interventions " + out +
              "/one.json --limit 12 --out " + out + "/b.json");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(io::read_json_file(out + "/a.json")["intervened"], io::read_json_file(out + "/b.json")["intervened"]);
}

TEST(NeuronsCli, BadInputGetsOneClearError) {
  auto r = run_cli("neurons intervene --model " + asset_dir() + " --zero blocks.0.mlp.hook_psot:5 --limit 12");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.out.find("hook_post"), std::string::npos) << r.out;  // the suggestion
  r = run_cli("neurons intervene --model " + asset_dir() + " --zero blocks.0.mlp.hook_post:512 --limit 12");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.out.find("512"), std::string::npos) << r.out;
  r = run_cli("neurons intervene --model " + asset_dir() + " --limit 12");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.out.find("no interventions"), std::string::npos) << r.out;
  r = run_cli("neurons stats --model " + asset_dir() + " --hooks blocks.0.attn.hook_pattern --per-language 1 --out /tmp/x");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.out.find("neurons last"), std::string::npos) << r.out;
  r = run_cli("neurons language --model " + asset_dir() + " --counts /dev/null --out /tmp/x.json");
  EXPECT_EQ(r.exit_code, 2);
}

}  // namespace
