// Reproduction of paper id `language-neurons` (Zhang et al. 2025, "How does Alignment Enhance
// LLMs' Multilingual Capabilities? A Language Neurons Perspective") on golgi's bundled byte-level
// model assets/models/tiny-multilingual (12 languages).
//
// 1. Count, per language, how often each SwiGLU unit is active (gate pre-activation > 0) on the
//    response tokens of training-split documents (instruction = the first 16 bytes).
// 2. Select language neurons with the official algorithm and AutoSweep (methods/language_neurons).
// 3. On held-out val windows, measure bits per byte of every language while the specific+related
//    neurons of one language are zeroed at blocks.{l}.mlp.hook_post, and while a random set of the
//    same size and the same per-layer counts is zeroed.
// Claims: (1) for >= 75% of languages, deactivating the language's neurons raises its own bits per
// byte the most of all languages, by >= 20% relative, while the mean rise on the other languages
// is <= 5%; (2) the random sets raise no language's bits per byte by more than 5%; (3) the layer
// histogram of specific, related and general neurons is reported (the paper finds language
// neurons concentrated in the first and last layers).
#include <algorithm>
#include <cstdio>
#include <numeric>

#include <torch/torch.h>

#include "golgi/analysis/corpus_examples.h"
#include "golgi/analysis/intervention_eval.h"
#include "golgi/analysis/neuron_stats.h"
#include "golgi/core/error.h"
#include "golgi/core/seed.h"
#include "golgi/methods/language_neurons/language_neurons.h"
#include "golgi/models/registry.h"
#include "golgi/models/transformer.h"
#include "golgi/repro/assets.h"
#include "golgi/repro/repro.h"
#include "golgi/train/language_model.h"

namespace golgi::repro {

namespace {

constexpr double kOwnRise = 0.20;      // own bits per byte rise (relative)
constexpr double kOthersRise = 0.05;   // mean rise on the other languages
constexpr double kRandomRise = 0.05;   // any language under a random set
constexpr double kLanguageShare = 0.75;

std::string layer_hook(int64_t layer) { return "blocks." + std::to_string(layer) + ".mlp.hook_post"; }

// Language k's own bits/byte rise against the others' under one deactivation.
struct OwnEffect {
  double own = 0, others_mean = 0;
  bool own_is_largest = true;
};

OwnEffect own_effect(const std::vector<double>& relative_change, int64_t k) {
  const int64_t K = static_cast<int64_t>(relative_change.size());
  OwnEffect e;
  e.own = relative_change[static_cast<size_t>(k)];
  for (int64_t j = 0; j < K; ++j) {
    if (j == k) continue;
    e.others_mean += relative_change[static_cast<size_t>(j)] / static_cast<double>(K - 1);
    e.own_is_largest = e.own_is_largest && relative_change[static_cast<size_t>(j)] < e.own;
  }
  return e;
}

}  // namespace

ReproResult run_language_neurons(const ReproOptions& options) {
  seed_everything(options.seed);
  const std::string model_dir = bundled_model("tiny-multilingual");
  auto loaded = models::load_model(model_dir);
  auto* lm = dynamic_cast<models::TransformerLM*>(loaded.model.get());
  GOLGI_ASSERT(lm, "the bundled tiny-multilingual model is not a transformer");
  auto data_options = train::lm_data_options_from_card(loaded.card, model_dir);
  GOLGI_CHECK(!data_options.corpus.empty(), "the bundled model's card names no corpus");

  // 1. Activation statistics on training documents.
  analysis::CorpusExampleOptions corpus;
  corpus.corpus = data_options.corpus;
  corpus.seed = data_options.seed;
  corpus.split = "train";
  corpus.per_label = options.quick ? 150 : 600;
  corpus.prefix_bytes = 16;
  corpus.max_tokens = 256;
  auto tokenizer = train::make_lm_tokenizer(data_options.tokenizer);
  auto examples = analysis::corpus_examples(*tokenizer, corpus);
  auto stats = analysis::neuron_statistics(*lm, examples.examples, examples.labels,
                                           analysis::NeuronStatsOptions().hooks({"blocks.*.mlp.hook_pre"}));
  auto counts = methods::counts_from_stats(stats);

  // 2. Selection (official algorithm, AutoSweep).
  auto selection = methods::select_language_neurons(counts.probabilities(), counts.languages,
                                                    methods::LanguageNeuronOptions().autosweep(true));
  const int64_t K = static_cast<int64_t>(selection.languages.size());
  const int64_t L = selection.layers, H = selection.neurons_per_layer;
  std::fprintf(stderr, "language neurons: lambda %.6g, tau %.6g, kept %lld: specific %lld, related %lld, general %lld\n",
               selection.lambda, selection.tau, static_cast<long long>(selection.top_k),
               static_cast<long long>(selection.specific), static_cast<long long>(selection.related),
               static_cast<long long>(selection.general));

  // 3. Deactivation on held-out windows.
  auto data = train::load_lm_data(data_options);
  GOLGI_CHECK(data.languages == selection.languages, "the corpus languages differ between statistics and evaluation");
  auto windows = train::per_language_subset(data.val, options.quick ? 20 : 80);
  auto baseline = train::evaluate_lm(*lm, *windows, data.token_bytes, data.languages);
  GOLGI_ASSERT(static_cast<int64_t>(baseline.per_language.size()) == K, "every language needs val windows");

  Json per_language = Json::object();
  Json random_sets = Json::object();
  int64_t successes = 0;
  double random_max = 0.0;
  SplitMix64 rng(derive_seed(options.seed, "language-neurons/random-sets"));
  for (int64_t k = 0; k < K; ++k) {
    const auto& lang = selection.languages[static_cast<size_t>(k)];
    const auto& mask = selection.masks[static_cast<size_t>(k)];
    int64_t size = 0;
    for (const auto& layer : mask) size += static_cast<int64_t>(layer.size());
    Json entry = {{"neurons", size}};
    bool success = false;
    if (size > 0) {
      auto effect = analysis::compare_lm(
          baseline, analysis::evaluate_lm_under(*lm, methods::deactivate_language(selection, lang), *windows,
                                                data.token_bytes, data.languages));
      const auto e = own_effect(effect.relative_change, k);
      const double own = e.own, others = e.others_mean;
      success = e.own_is_largest && own >= kOwnRise && others <= kOthersRise;
      entry["own_rise"] = own;
      entry["others_mean_rise"] = others;
      entry["own_is_largest"] = e.own_is_largest;
      entry["relative_change"] = effect.to_json()["relative_change"];

      // The control: the same number of neurons in each layer, drawn uniformly.
      hooks::InterventionSet random;
      for (int64_t l = 0; l < L; ++l) {
        const int64_t n = static_cast<int64_t>(mask[static_cast<size_t>(l)].size());
        std::vector<int64_t> all(static_cast<size_t>(H));
        std::iota(all.begin(), all.end(), 0);
        for (int64_t i = 0; i < n; ++i) std::swap(all[static_cast<size_t>(i)], all[static_cast<size_t>(i + rng.below(static_cast<uint64_t>(H - i)))]);
        all.resize(static_cast<size_t>(n));
        std::sort(all.begin(), all.end());
        if (n > 0) random.zero_all(layer_hook(l), all);
      }
      auto control = analysis::compare_lm(
          baseline, analysis::evaluate_lm_under(*lm, random, *windows, data.token_bytes, data.languages));
      const double worst = *std::max_element(control.relative_change.begin(), control.relative_change.end());
      random_max = std::max(random_max, worst);
      random_sets[lang] = {{"neurons", size}, {"max_rise", worst}, {"relative_change", control.to_json()["relative_change"]}};
      std::fprintf(stderr, "%s: %lld neurons, own %+.1f%%, others %+.1f%%, random max %+.1f%%%s\n", lang.c_str(),
                   static_cast<long long>(size), 100 * own, 100 * others, 100 * worst, success ? "  (holds)" : "");
    } else {
      std::fprintf(stderr, "%s: no language neurons selected\n", lang.c_str());
    }
    entry["claim_holds"] = success;
    per_language[lang] = entry;
    successes += success ? 1 : 0;
  }

  // The same deactivation with larger selections (not a claim: it shows whether the effect grows
  // with the number of neurons switched off on a model this small).
  Json larger = Json::array();
  for (double rate : options.quick ? std::vector<double>{0.1} : std::vector<double>{0.05, 0.1}) {
    auto wide = methods::select_language_neurons(counts.probabilities(), counts.languages,
                                                 methods::LanguageNeuronOptions().autosweep(true).top_rate(rate));
    Json per = Json::object();
    int64_t largest = 0;
    double own_sum = 0, others_sum = 0;
    int64_t measured = 0;
    for (int64_t k = 0; k < K; ++k) {
      const auto& lang = wide.languages[static_cast<size_t>(k)];
      if (wide.per_language[static_cast<size_t>(k)] == 0) continue;
      auto effect = analysis::compare_lm(
          baseline, analysis::evaluate_lm_under(*lm, methods::deactivate_language(wide, lang), *windows,
                                                data.token_bytes, data.languages));
      const auto e = own_effect(effect.relative_change, k);
      per[lang] = {{"neurons", wide.per_language[static_cast<size_t>(k)]}, {"own_rise", e.own},
                   {"others_mean_rise", e.others_mean}, {"own_is_largest", e.own_is_largest}};
      largest += e.own_is_largest ? 1 : 0;
      own_sum += e.own;
      others_sum += e.others_mean;
      ++measured;
    }
    std::fprintf(stderr, "top_rate %g: lambda %.4g, own rise largest in %lld of %lld languages, mean own %+.1f%%, "
                 "mean others %+.1f%%\n", rate, wide.lambda, static_cast<long long>(largest),
                 static_cast<long long>(measured), measured ? 100 * own_sum / static_cast<double>(measured) : 0.0,
                 measured ? 100 * others_sum / static_cast<double>(measured) : 0.0);
    larger.push_back({{"top_rate", rate},
                      {"lambda", wide.lambda},
                      {"kept", wide.top_k},
                      {"summary", wide.summary_json()},
                      {"own_is_largest", largest},
                      {"mean_own_rise", measured ? own_sum / static_cast<double>(measured) : 0.0},
                      {"mean_others_rise", measured ? others_sum / static_cast<double>(measured) : 0.0},
                      {"per_language", per}});
  }

  ReproResult result;
  const double share = static_cast<double>(successes) / static_cast<double>(K);
  result.claims.push_back({"own_language_share", share, ">=", kLanguageShare, "fraction of languages",
                           "deactivating a language's specific+related neurons raises its own bits/byte the most, by "
                           ">= 20%, with a mean rise <= 5% on the other languages"});
  result.claims.push_back({"random_set_max_rise", random_max, "<=", kRandomRise, "relative bits/byte",
                           "same-size random neuron sets (same per-layer counts) raise no language's bits/byte by "
                           "more than 5%"});
  Json histogram = Json::array();
  for (int64_t l = 0; l < L; ++l) {
    const auto& c = selection.layer_counts[static_cast<size_t>(l)];
    histogram.push_back({{"layer", l}, {"specific", c[1]}, {"related", c[2]}, {"general", c[3]}, {"none", c[0]}});
  }
  Json baseline_bpb = Json::object();
  for (const auto& b : baseline.per_language) baseline_bpb[b.language] = b.bits_per_byte;
  result.metrics = {{"model", model_dir},
                    {"examples", examples.card},
                    {"selection", selection.summary_json()},
                    {"lambda", selection.lambda},
                    {"tau", selection.tau},
                    {"layer_histogram", histogram},
                    {"eval_windows", windows->size()},
                    {"baseline_bits_per_byte", baseline_bpb},
                    {"baseline_all", baseline.bits_per_byte},
                    {"per_language", per_language},
                    {"random_sets", random_sets},
                    {"languages_holding", successes},
                    {"larger_selections", larger}};
  return result;
}

}  // namespace golgi::repro
