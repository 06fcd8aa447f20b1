// Language-neuron selection (paper id language-neurons): known values on hand-made inputs. The
// exact reproduction of the official mask of a 7B model is tests/xcheck/language_neurons_fixture.sh.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "golgi/analysis/neuron_stats.h"
#include "golgi/core/error.h"
#include "golgi/methods/language_neurons/language_neurons.h"

namespace golgi::methods {
namespace {

// p [K, L, H] from a row-major list.
at::Tensor make_p(int64_t K, int64_t L, int64_t H, std::vector<float> values) {
  return torch::tensor(values, torch::kFloat).view({K, L, H}).clone();
}

std::vector<std::string> names(int64_t K) {
  std::vector<std::string> out;
  for (int64_t k = 0; k < K; ++k) out.push_back("l" + std::to_string(k));
  return out;
}

TEST(LanguageNeuronScores, UniformIsOneAndOneHotIsZero) {
  // K = 4, one layer, neurons: uniform 0.5, one-hot 0.8, all zero.
  auto p = make_p(4, 1, 3, {0.5f, 0.8f, 0.f,  //
                            0.5f, 0.f, 0.f,   //
                            0.5f, 0.f, 0.f,   //
                            0.5f, 0.f, 0.f});
  auto s = language_neuron_scores(p, 0.0);
  ASSERT_EQ(s.sizes().vec(), (std::vector<int64_t>{1, 3}));
  EXPECT_NEAR(s[0][0].item<float>(), 1.0, 1e-6);
  EXPECT_NEAR(s[0][1].item<float>(), 0.0, 1e-9);  // p~ = (1, 1e-12, 1e-12, 1e-12): H ~ 8e-11
  EXPECT_NEAR(s[0][2].item<float>(), 1.0, 1e-6);  // Σ p = 0: uniform p~
}

TEST(LanguageNeuronScores, MaxTermUsesHarmonicNormMax) {
  // norm_max(K = 4) = (1 + 1/2 + 1/3 + 1/4) / 4 = 25/48; norm_max(K = 2) = 3/4.
  auto p4 = make_p(4, 1, 2, {0.5f, 0.8f, 0.5f, 0.f, 0.5f, 0.f, 0.5f, 0.f});
  auto s4 = language_neuron_scores(p4, 0.1);
  EXPECT_NEAR(s4[0][0].item<float>(), 1.0 - 0.1 * 0.5 / (25.0 / 48.0), 1e-6);
  EXPECT_NEAR(s4[0][1].item<float>(), -0.1 * 0.8 / (25.0 / 48.0), 1e-6);
  auto p2 = make_p(2, 1, 1, {0.6f, 0.2f});
  // p~ = (3/4, 1/4): H = -(3/4 ln 3/4 + 1/4 ln 1/4) / ln 2.
  const double h = -(0.75 * std::log(0.75) + 0.25 * std::log(0.25)) / std::log(2.0);
  EXPECT_NEAR(language_neuron_scores(p2, 0.3)[0][0].item<float>(), h - 0.3 * 0.6 / 0.75, 1e-6);
}

TEST(LanguageNeuronThreshold, RankOfSortedValuesOneBased) {
  // 10 values 0.1 .. 1.0 shuffled: rank round(bar * 10).
  auto p = make_p(2, 1, 5, {0.7f, 0.2f, 1.0f, 0.4f, 0.9f, 0.1f, 0.5f, 0.3f, 0.8f, 0.6f});
  EXPECT_FLOAT_EQ(activation_threshold(p, 0.5), 0.5f);   // rank 5
  EXPECT_FLOAT_EQ(activation_threshold(p, 0.95), 1.0f);  // round(9.5) = 10 (ties to even, like Python)
  EXPECT_FLOAT_EQ(activation_threshold(p, 0.25), 0.2f);  // round(2.5) = 2
  EXPECT_FLOAT_EQ(activation_threshold(p, 0.0), 0.1f);   // rank clamped to 1
  EXPECT_FLOAT_EQ(activation_threshold(p, 1.0), 1.0f);
}

TEST(LanguageNeuronSelect, MembershipIsStrictlyAboveTau) {
  // K = 2, L = 1, H = 4; keep all (top_rate 1). Sorted p: 0 0 0 0.1 0.2 0.3 0.3 0.9; bar 0.5 -> tau = 0.1.
  auto p = make_p(2, 1, 4, {0.1f, 0.3f, 0.9f, 0.f,  //
                            0.f, 0.3f, 0.2f, 0.f});
  auto r = select_language_neurons(p, {"a", "b"}, LanguageNeuronOptions().top_rate(1.0).activation_bar(0.5));
  EXPECT_FLOAT_EQ(r.tau, 0.1f);
  EXPECT_EQ(r.top_k, 4);
  // neuron 0: p = (0.1, 0) equals tau -> no language; 1: both; 2: both; 3: none.
  EXPECT_EQ(r.masks[0][0], (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(r.masks[1][0], (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(r.general, 2);
  EXPECT_EQ(r.unassigned, 2);
  EXPECT_EQ(r.specific, 0);
  EXPECT_EQ(r.pairs, 4);
  EXPECT_EQ(r.language_histogram, (std::vector<int64_t>{2, 0, 2}));
}

TEST(LanguageNeuronSelect, TopKIsGlobalNotPerLayer) {
  // K = 3, L = 2, H = 4. Layer 0: four one-hot neurons (score ~0); layer 1: four uniform (score 1).
  // top_rate 0.5 keeps 4: all from layer 0 (a per-layer rule would take 2 from each).
  std::vector<float> v(3 * 2 * 4, 0.f);
  auto at = [&](int64_t k, int64_t l, int64_t j) -> float& { return v[static_cast<size_t>((k * 2 + l) * 4 + j)]; };
  for (int64_t j = 0; j < 4; ++j) {
    at(j % 3, 0, j) = 0.5f + 0.1f * static_cast<float>(j);
    for (int64_t k = 0; k < 3; ++k) at(k, 1, j) = 0.4f;
  }
  auto r = select_language_neurons(make_p(3, 2, 4, v), names(3),
                                   LanguageNeuronOptions().top_rate(0.5).activation_bar(0.5));
  EXPECT_EQ(r.top_k, 4);
  std::vector<int64_t> kept = r.kept;
  std::sort(kept.begin(), kept.end());
  EXPECT_EQ(kept, (std::vector<int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(r.layer_counts[1], (std::vector<int64_t>{0, 0, 0, 0}));
  EXPECT_EQ(r.specific, 4);
  EXPECT_EQ(r.masks[0][0], (std::vector<int64_t>{0, 3}));
  EXPECT_EQ(r.masks[1][0], (std::vector<int64_t>{1}));
  EXPECT_EQ(r.masks[2][0], (std::vector<int64_t>{2}));
  EXPECT_TRUE(r.masks[0][1].empty());
  EXPECT_EQ(r.per_language, (std::vector<int64_t>{2, 1, 1}));
}

TEST(LanguageNeuronSelect, TiesGoToTheLowerIndexAndRelatedIsCounted) {
  // K = 3, L = 1, H = 3: neurons 0 and 1 identical (related to languages 0 and 1), neuron 2 uniform.
  auto p = make_p(3, 1, 3, {0.5f, 0.5f, 0.3f,  //
                            0.5f, 0.5f, 0.3f,  //
                            0.0f, 0.0f, 0.3f});
  auto r = select_language_neurons(p, names(3), LanguageNeuronOptions().top_rate(1.0 / 3.0).activation_bar(0.2));
  ASSERT_EQ(r.kept, (std::vector<int64_t>{0}));
  EXPECT_EQ(r.related, 1);
  EXPECT_EQ(r.kept_languages, (std::vector<int64_t>{2}));
}

TEST(LanguageNeuronSweep, BisectionFindsLargestLambdaWithoutGeneralNeuron) {
  // K = 2, L = 1, H = 3, top_k 1. A = (0.9, 0.9): score 1 - 1.2 λ, belongs to both languages.
  // B = (0.36, 0): score ~ -0.48 λ, specific. C = (0.1, 0.05): never lowest. A is kept iff
  // λ > 1 / 0.72. tau: sorted 0 0.05 0.1 0.36 0.9 0.9, bar 0.5 -> 0.1.
  auto p = make_p(2, 1, 3, {0.9f, 0.36f, 0.1f, 0.9f, 0.f, 0.05f});
  auto options = LanguageNeuronOptions().top_rate(1.0 / 3.0).activation_bar(0.5).sweep_low(0).sweep_high(2).sweep_eps(1e-3);
  const double threshold = 1.0 / 0.72;
  double lo = 0, hi = 2;
  while (hi - lo > 1e-3) {
    const double mid = (lo + hi) / 2;
    (mid < threshold ? lo : hi) = mid;
  }
  const double lambda = autosweep_lambda(p, options);
  EXPECT_DOUBLE_EQ(lambda, lo);
  EXPECT_NEAR(lambda, threshold, 1e-3);
  auto at_lambda = select_language_neurons(p, {"a", "b"}, LanguageNeuronOptions(options).autosweep(true));
  EXPECT_DOUBLE_EQ(at_lambda.lambda, lambda);
  EXPECT_EQ(at_lambda.general, 0);
  EXPECT_EQ(at_lambda.kept, (std::vector<int64_t>{1}));
  auto above = select_language_neurons(p, {"a", "b"}, LanguageNeuronOptions(options).lambda(hi));
  EXPECT_EQ(above.general, 1);
  EXPECT_EQ(above.kept, (std::vector<int64_t>{0}));
}

TEST(LanguageNeuronCounts, ProbabilitiesFromCountsAndTotals) {
  ActivationCounts c;
  c.languages = {"en", "fr"};
  // [K=2, 2, L=1, H=2]: en full (10, 3), prefix (4, 5); fr full (7, 2), prefix (0, 0).
  c.counts = torch::tensor(std::vector<int32_t>{10, 3, 4, 5, 7, 2, 0, 0}, torch::kInt).view({2, 2, 1, 2});
  c.full_tokens = {20, 5};
  c.prefix_tokens = {8, 5};  // fr: max(1, 0) = 1
  auto p = c.probabilities();
  ASSERT_EQ(p.scalar_type(), at::kFloat);
  EXPECT_FLOAT_EQ(p[0][0][0].item<float>(), 0.5f);  // (10 - 4) / 12
  EXPECT_FLOAT_EQ(p[0][0][1].item<float>(), 0.0f);  // max(0, 3 - 5)
  EXPECT_FLOAT_EQ(p[1][0][0].item<float>(), 7.0f);
  EXPECT_FLOAT_EQ(p[1][0][1].item<float>(), 2.0f);
}

TEST(LanguageNeuronCounts, FromNeuronStatisticsGiveResponseOnlyProbabilities) {
  analysis::NeuronStats stats;
  stats.labels = {"de", "en"};
  stats.hooks = {"blocks.0.mlp.hook_pre", "blocks.1.mlp.hook_pre"};
  stats.hook_neurons = {3, 3};
  stats.tokens = torch::tensor({10, 4}, torch::kInt64);
  stats.active = torch::tensor({1, 2, 3, 4, 5, 6, 0, 1, 2, 3, 4, 4}, torch::kInt64).view({2, 6});
  const auto counts = counts_from_stats(stats);
  EXPECT_EQ(counts.counts.sizes(), (std::vector<int64_t>{2, 2, 2, 3}));
  EXPECT_EQ(counts.counts[1][0][1][2].item<int64_t>(), 4);
  EXPECT_EQ(counts.counts.select(1, 1).abs().sum().item<int64_t>(), 0);
  auto p = counts.probabilities();
  EXPECT_FLOAT_EQ(p[0][1][0].item<float>(), 0.4f);
  EXPECT_FLOAT_EQ(p[1][0][1].item<float>(), 0.25f);
  stats.hook_neurons = {4, 2};
  EXPECT_THROW(counts_from_stats(stats), Error);
}

TEST(LanguageNeuronDeactivation, ZeroesTheLanguagesMaskPerLayer) {
  Json selection = {{"languages", {"de", "en"}}, {"masks", {{"de", {{1, 4}, Json::array(), {0}}}, {"en", {Json::array(), {2}, Json::array()}}}}};
  auto set = deactivate_language(selection, "de");
  ASSERT_EQ(set.size(), 3u);
  EXPECT_EQ(set.items()[0].ref.str(), "blocks.0.mlp.hook_post:1");
  EXPECT_EQ(set.items()[1].ref.str(), "blocks.0.mlp.hook_post:4");
  EXPECT_EQ(set.items()[2].ref.str(), "blocks.2.mlp.hook_post:0");
  EXPECT_EQ(deactivate_language(selection, "en", "blocks.{l}.mlp.hook_pre").items()[0].ref.str(),
            "blocks.1.mlp.hook_pre:2");
  EXPECT_THROW(deactivate_language(selection, "fr"), Error);
  EXPECT_THROW(deactivate_language(selection, "de", "blocks.mlp"), Error);
}

TEST(LanguageNeuronErrors, BadInputsThrowNamingTheProblem) {
  auto good = make_p(2, 1, 2, {0.1f, 0.2f, 0.3f, 0.4f});
  auto throws_with = [](auto&& f, const std::string& needle) {
    try {
      f();
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
      return;
    }
    ADD_FAILURE() << "no golgi::Error for " << needle;
  };
  throws_with([&] { select_language_neurons(make_p(1, 1, 2, {0.1f, 0.2f}), {"a"}); }, "at least 2 languages");
  throws_with([&] { select_language_neurons(good.view({2, 2}), {"a", "b"}); }, "[languages, layers, neurons]");
  throws_with([&] { select_language_neurons(good.to(at::kDouble), {"a", "b"}); }, "float32");
  throws_with([&] { select_language_neurons(make_p(2, 1, 2, {0.1f, NAN, 0.3f, 0.4f}), {"a", "b"}); }, "NaN");
  throws_with([&] { select_language_neurons(make_p(2, 1, 2, {0.1f, -0.2f, 0.3f, 0.4f}), {"a", "b"}); }, ">= 0");
  throws_with([&] { select_language_neurons(good, {"a"}); }, "language names");
  throws_with([&] { select_language_neurons(good, {"a", "b"}, LanguageNeuronOptions().top_rate(0.0)); }, "top_rate");
  throws_with([&] { select_language_neurons(good, {"a", "b"}, LanguageNeuronOptions().top_rate(0.1)); }, "--top-rate");
  throws_with([&] { autosweep_lambda(good, LanguageNeuronOptions().sweep_low(0.3).sweep_high(0.2)); }, "sweep_low");

  ActivationCounts c;
  c.languages = {"en", "fr"};
  c.counts = torch::tensor(std::vector<int32_t>{1, 0, 0, 0, -1, 0, 0, 0}, torch::kInt).view({2, 2, 1, 2});
  c.full_tokens = {2, 2};
  c.prefix_tokens = {0, 0};
  throws_with([&] { c.probabilities(); }, "must be >= 0");
  c.counts = c.counts.abs();
  c.full_tokens = {2};
  throws_with([&] { c.probabilities(); }, "prefix_tokens");
  c.full_tokens = {2, 2};
  c.languages = {"en"};
  throws_with([&] { c.probabilities(); }, "language names");
  c.languages = {"en", "fr"};
  c.counts = c.counts.to(at::kFloat);
  throws_with([&] { c.probabilities(); }, "integers");
  c.counts = c.counts.to(at::kInt).view({2, 4});
  throws_with([&] { c.probabilities(); }, "[languages, 2, layers, neurons]");
}

TEST(LanguageNeuronOptionsSchema, JsonRoundTripAndRanges) {
  const auto& schema = LanguageNeuronOptions::schema();
  LanguageNeuronOptions o;
  schema.apply(o, Json{{"top_rate", 0.02}, {"autosweep", true}});
  EXPECT_DOUBLE_EQ(o.top_rate(), 0.02);
  EXPECT_TRUE(o.autosweep());
  EXPECT_EQ(schema.to_json(o)["activation_bar"].get<double>(), 0.95);
  EXPECT_THROW(schema.apply(o, Json{{"activation_bar", 1.5}}), Error);
  EXPECT_THROW(schema.apply(o, Json{{"lambda", -0.1}}), Error);
  EXPECT_THROW(schema.apply(o, Json{{"top_rat", 0.1}}), Error);
}

// The real 7B fixture (read-only, outside the repository), when present: README numbers and timing.
// The full mask comparison is tests/xcheck/language_neurons_fixture.sh.
TEST(LanguageNeuronFixture, MistralMgsmSummaryAndTiming) {
  const std::string dir = std::string(GOLGI_FIXTURES_DIR) + "/language_neurons_mistral_mgsm";
  if (!std::ifstream(dir + "/over_zero_counts.npy").good()) GTEST_SKIP() << "fixture " << dir << " not found";
  auto counts = load_activation_counts(dir + "/over_zero_counts.npy", dir + "/meta.json");
  using clock = std::chrono::steady_clock;
  auto seconds = [](clock::time_point a, clock::time_point b) { return std::chrono::duration<double>(b - a).count(); };
  const auto t0 = clock::now();
  const at::Tensor p = counts.probabilities();
  const auto t1 = clock::now();
  auto r = select_language_neurons(p, counts.languages, LanguageNeuronOptions().lambda(0.109375));
  const auto t2 = clock::now();
  const double lambda = autosweep_lambda(p);
  const auto t3 = clock::now();
  std::printf("fixture timing: probabilities %.3f s, selection %.3f s, autosweep %.3f s\n", seconds(t0, t1),
              seconds(t1, t2), seconds(t2, t3));
  EXPECT_EQ(r.top_k, 4588);
  EXPECT_EQ(r.tau, 0.5644363164901733);
  EXPECT_EQ(r.pairs, 6307);
  EXPECT_EQ(r.language_histogram, (std::vector<int64_t>{1369, 1866, 617, 310, 153, 127, 59, 40, 27, 20, 0}));
  EXPECT_EQ(lambda, 0.109375);
  EXPECT_EQ(select_language_neurons(p, counts.languages, LanguageNeuronOptions().lambda(0.11015625)).general, 1);
}

}  // namespace
}  // namespace golgi::methods
