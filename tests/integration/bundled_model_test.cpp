// The bundled assets/models/tiny-multilingual: within the size budget, its card's validation
// numbers reproduce with `golgi eval`, and a German prompt continues in German (judged by an
// independent character-trigram language identifier built from the corpus's training text).
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "golgi/data/text_corpus.h"
#include "golgi/io/atomic_file.h"
#include "golgi/io/json_file.h"
#include "golgi/models/registry.h"
#include "test_support.h"

namespace {

using namespace golgi;
using golgi::testing::run_cli;

std::string asset_dir() { return golgi::testing::source_dir() + "/assets/models/tiny-multilingual"; }

using Profile = std::map<std::string, double>;

// Byte-trigram frequencies, normalised to unit length.
Profile trigrams(const std::string& text) {
  Profile p;
  for (size_t i = 0; i + 3 <= text.size(); ++i) p[text.substr(i, 3)] += 1;
  double norm = 0;
  for (const auto& [k, v] : p) norm += v * v;
  for (auto& [k, v] : p) v /= std::sqrt(norm);
  return p;
}

double cosine(const Profile& a, const Profile& b) {
  double dot = 0;
  for (const auto& [k, v] : a) {
    auto it = b.find(k);
    if (it != b.end()) dot += v * it->second;
  }
  return dot;
}

TEST(BundledModel, SizeAndCard) {
  ASSERT_TRUE(io::file_exists(asset_dir() + "/model.json")) << "assets/models/tiny-multilingual is missing";
  EXPECT_LE(io::read_file(asset_dir() + "/model.safetensors").size(), 8u * 1000 * 1000);
  auto loaded = models::load_model(asset_dir());
  EXPECT_EQ(loaded.model->architecture(), "llama");
  const auto& opts = loaded.model->options();
  EXPECT_GE(opts["d_model"].get<int64_t>(), 128);
  EXPECT_LE(opts["d_model"].get<int64_t>(), 256);
  EXPECT_GE(opts["d_mlp"].get<int64_t>(), 512);
  EXPECT_TRUE(io::file_exists(asset_dir() + "/README.md"));
  EXPECT_TRUE(loaded.card["card"]["metrics"]["val"]["per_language"].contains("de"));
}

TEST(BundledModel, EvalReproducesTheCardsValidationBitsPerByte) {
  const std::string out = golgi::testing::scratch_dir("bundled_eval") + "/eval.json";
  auto r = run_cli("--quiet eval --model " + asset_dir() + " --split val --out " + out);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  auto measured = io::read_json_file(out);
  auto card = io::read_json_file(asset_dir() + "/model.json")["card"]["metrics"]["val"];
  ASSERT_EQ(measured["per_language"].size(), card["per_language"].size());
  for (const auto& [lang, m] : card["per_language"].items()) {
    EXPECT_NEAR(measured["per_language"][lang]["bits_per_byte"].get<double>(), m["bits_per_byte"].get<double>(), 1e-4)
        << lang;
    EXPECT_EQ(measured["per_language"][lang]["bytes"], m["bytes"]) << lang;
  }
}

TEST(BundledModel, GermanPromptContinuesInGerman) {
  // Language profiles from the training split (the generated text is not in it verbatim).
  auto corpus = data::load_text_corpus("multilingual-fortunes", data::TextCorpusOptions());
  std::map<std::string, std::string> text;
  for (const auto& doc : corpus.train)
    if (text[doc.language].size() < 200000) text[doc.language] += doc.text + "\n";
  std::map<std::string, Profile> profiles;
  for (const auto& [lang, t] : text) profiles[lang] = trigrams(t);
  int german = 0;
  std::string samples;
  for (int seed : {1, 2, 3}) {
    auto r = run_cli("--quiet generate --model " + asset_dir() + " --prompt \"Der \" --max-new-tokens 200 --seed " +
                     std::to_string(seed));
    ASSERT_EQ(r.exit_code, 0) << r.out;
    ASSERT_EQ(r.out.rfind("Der ", 0), 0u) << r.out;
    const std::string continuation = r.out.substr(4);
    std::string best;
    double best_score = -1;
    for (const auto& [lang, p] : profiles) {
      double s = cosine(trigrams(continuation), p);
      if (s > best_score) best_score = s, best = lang;
    }
    german += best == "de";
    samples += "seed " + std::to_string(seed) + " (" + best + "): " + continuation + "\n";
  }
  EXPECT_EQ(german, 3) << samples;
}

}  // namespace
