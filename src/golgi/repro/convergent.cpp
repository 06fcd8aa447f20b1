// Reproduction of paper id `convergent` (Li, Yosinski, Clune, Lipson & Hopcroft 2016, "Convergent
// Learning: Do different neural networks learn the same representations?", ICLR) at small scale:
// Fashion-MNIST and three-conv-layer CNNs instead of ImageNet and AlexNet; docs/methods/convergent.md.
//
// 1. Three CNNs ("cnn": conv 16, 32, 64 with 5 x 5 kernels, ReLU, 2 x 2 max pooling; dense 128) are
//    trained with the same recipe from seeds seed, seed + 1, seed + 2 (weights and data order
//    differ); a fourth network of the same architecture stays at its random initialisation.
// 2. Every network runs on the same test images; at conv{1,2,3}.hook_post (after ReLU, before
//    pooling) each image contributes the same seeded subset of spatial positions (methods/convergent
//    record_unit_samples), so the four networks' samples are paired row by row.
// 3. For the three trained pairs and the three trained-untrained pairs, at each layer:
//    correlations, the exact one-to-one matching, semi-matching, MI of matched units, the lasso
//    sweep from A's layer to each unit of B, and spectral groups (methods/convergent compare_units).
//
// Claims (means over the three pairs of each kind):
//   conv1_matched_corr            mean matched correlation at conv1 (trained pairs)            >= 0.7
//   conv1_minus_conv3_matched     conv1's minus conv3's mean matched correlation               > 0
//   min_trained_minus_untrained   min over layers of trained-trained minus trained-untrained
//                                 mean matched correlation                                      >= 0.2
//   conv1_nmse_at_4               lasso normalised MSE at conv1 with <= 4 non-zero weights      <= 0.5
//   conv3_minus_conv1_nmse        conv3's minus conv1's (same budget)                           > 0
#include <chrono>
#include <cstdio>

#include <torch/torch.h>

#include "golgi/core/error.h"
#include "golgi/core/runtime.h"
#include "golgi/core/seed.h"
#include "golgi/data/registry.h"
#include "golgi/io/atomic_file.h"
#include "golgi/methods/convergent/convergent.h"
#include "golgi/models/registry.h"
#include "golgi/repro/repro.h"
#include "golgi/train/trainer.h"

namespace golgi::repro {

namespace {

constexpr double kConv1Corr = 0.7, kTrainedGap = 0.2, kConv1Nmse = 0.5;
constexpr int kNets = 3;
const std::vector<std::string> kLayers = {"conv1", "conv2", "conv3"};

struct Config {
  int64_t train_limit = 4000, epochs = 2, test_limit = 2000;
  int64_t analysis_images = 300, max_samples = 40000;
  int64_t batch_size = 64;
  double lr = 2e-3;

  Json to_json() const {
    return {{"train_limit", train_limit}, {"epochs", epochs}, {"test_limit", test_limit},
            {"analysis_images", analysis_images}, {"max_samples", max_samples}, {"batch_size", batch_size},
            {"lr", lr}};
  }
};

Config config_for(bool quick) {
  Config c;
  if (!quick) {
    c.train_limit = 30000;
    c.epochs = 4;
    c.test_limit = 0;
    c.analysis_images = 1000;
    c.max_samples = 200000;
  }
  return c;
}

const Json& model_options() {
  static const Json options = {{"channels", {16, 32, 64}}, {"kernel_size", 5}, {"hidden", {128}}};
  return options;
}

double mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? 0.0 : s / static_cast<double>(v.size());
}

// Share of the spectral groups that hold units of both networks.
double mixed_groups(const methods::UnitComparison& r) {
  if (r.groups.empty()) return 0.0;
  std::vector<int> in_a(r.clusters, 0), in_b(r.clusters, 0);
  for (int64_t i = 0; i < static_cast<int64_t>(r.groups.size()); ++i)
    if (r.groups[i] >= 0) ++(i < r.units_a ? in_a : in_b)[r.groups[i]];
  int mixed = 0, used = 0;
  for (int64_t c = 0; c < r.clusters; ++c) {
    used += in_a[c] + in_b[c] > 0;
    mixed += in_a[c] > 0 && in_b[c] > 0;
  }
  return used ? static_cast<double>(mixed) / used : 0.0;
}

}  // namespace

ReproResult run_convergent(const ReproOptions& options) {
  const Config config = config_for(options.quick);
  const auto start = std::chrono::steady_clock::now();
  io::make_dirs(options.out);
  ReproResult result;
  result.metrics["config"] = config.to_json();
  result.metrics["model_options"] = model_options();

  // 1. Three trained networks and one untrained.
  std::vector<std::shared_ptr<models::Model>> nets;
  Json accuracy = Json::array();
  for (int k = 0; k < kNets; ++k) {
    const int64_t seed = static_cast<int64_t>(options.seed) + k;
    std::fprintf(stderr, "training network %d of %d (seed %lld)\n", k + 1, kNets, static_cast<long long>(seed));
    auto train_options = train::TrainOptions()
                             .model("cnn")
                             .dataset("fashion-mnist")
                             .epochs(config.epochs)
                             .batch_size(config.batch_size)
                             .lr(config.lr)
                             .warmup_steps(50)
                             .train_limit(config.train_limit)
                             .test_limit(config.test_limit)
                             .checkpoint_every(0)
                             .threads(golgi::threads())
                             .seed(seed)
                             .out(options.out + "/net" + std::to_string(k));
    auto run = train::train(train_options, model_options(), "golgi repro convergent (network " + std::to_string(k) + ")");
    accuracy.push_back(run.test.accuracy);
    nets.push_back(models::load_model(options.out + "/net" + std::to_string(k)).model);
  }
  seed_everything(derive_seed(options.seed, "convergent/untrained"));
  auto untrained = models::make_model("cnn", model_options());
  result.metrics["test_accuracy"] = accuracy;

  // 2. Paired samples of every network on the same test images.
  auto test = data::load_dataset("fashion-mnist", data::DataOptions{"test", "", options.seed});
  test = test->head(std::min<int64_t>(config.analysis_images, test->size()));
  std::vector<std::string> hooks;
  for (const auto& layer : kLayers) hooks.push_back(layer + ".hook_post");
  const auto record = methods::RecordOptions().max_samples(config.max_samples).seed(static_cast<int64_t>(options.seed));
  std::vector<std::map<std::string, at::Tensor>> samples;
  for (auto& net : nets) samples.push_back(methods::record_unit_samples(*net, *test, hooks, record));
  const auto untrained_samples = methods::record_unit_samples(*untrained, *test, hooks, record);

  // 3. Compare.
  const auto compare_options = methods::ConvergentOptions().seed(static_cast<int64_t>(options.seed));
  const std::vector<std::pair<int, int>> pairs = {{0, 1}, {0, 2}, {1, 2}};
  std::map<std::string, double> trained_corr, untrained_corr, nmse, refit_nmse;
  Json layers = Json::object();
  for (const auto& layer : kLayers) {
    const std::string hook = layer + ".hook_post";
    std::vector<double> tt_corr, tt_semi, tt_within, tt_mi, tt_nmse, tt_refit, tt_mixed, tu_corr, tu_mi, tu_nmse;
    Json per_pair = Json::array();
    Json sweep;
    int64_t dead = 0;
    for (const auto& [i, j] : pairs) {
      const auto r = methods::compare_units(samples[i].at(hook), samples[j].at(hook), compare_options);
      tt_corr.push_back(r.mean_matched_corr);
      tt_semi.push_back(r.mean_semi_corr);
      tt_within.push_back(r.mean_within_max_a);
      tt_mi.push_back(r.mean_matched_mi);
      tt_nmse.push_back(r.sparse.mean_nmse_at_budget);
      tt_refit.push_back(r.sparse.mean_refit_nmse_at_budget);
      tt_mixed.push_back(mixed_groups(r));
      dead += r.dead_a.sum().item<int64_t>();
      if (sweep.is_null())
        sweep = {{"penalties", r.sparse.penalties}, {"mean_nonzero", r.sparse.mean_nonzero},
                 {"mean_nmse", r.sparse.mean_nmse}};
      const auto cycles = r.to_json().value("cycle_lengths", Json::array());
      per_pair.push_back({{"pair", {i, j}}, {"samples", r.samples}, {"mean_matched_corr", r.mean_matched_corr},
                          {"mean_semi_corr", r.mean_semi_corr}, {"mean_within_max_a", r.mean_within_max_a},
                          {"mean_matched_mi_bits", r.mean_matched_mi},
                          {"nmse_at_budget", r.sparse.mean_nmse_at_budget},
                          {"refit_nmse_at_budget", r.sparse.mean_refit_nmse_at_budget},
                          {"semi_match_distinct", r.to_json()["semi_match_distinct"]}, {"cycle_lengths", cycles},
                          {"mixed_groups", mixed_groups(r)}, {"clusters", r.clusters}});
    }
    for (int i = 0; i < kNets; ++i) {
      const auto r = methods::compare_units(samples[i].at(hook), untrained_samples.at(hook), compare_options);
      tu_corr.push_back(r.mean_matched_corr);
      tu_mi.push_back(r.mean_matched_mi);
      tu_nmse.push_back(r.sparse.mean_nmse_at_budget);
    }
    trained_corr[layer] = mean(tt_corr);
    untrained_corr[layer] = mean(tu_corr);
    nmse[layer] = mean(tt_nmse);
    refit_nmse[layer] = mean(tt_refit);
    layers[layer] = {{"trained_matched_corr", trained_corr[layer]},
                     {"untrained_matched_corr", untrained_corr[layer]},
                     {"trained_minus_untrained", trained_corr[layer] - untrained_corr[layer]},
                     {"trained_semi_corr", mean(tt_semi)},
                     {"trained_within_max_corr", mean(tt_within)},
                     {"trained_matched_mi_bits", mean(tt_mi)},
                     {"untrained_matched_mi_bits", mean(tu_mi)},
                     {"trained_nmse_at_4", nmse[layer]},
                     {"trained_refit_nmse_at_4", refit_nmse[layer]},
                     {"untrained_nmse_at_4", mean(tu_nmse)},
                     {"mixed_groups", mean(tt_mixed)},
                     {"dead_units", dead},
                     {"pairs", per_pair},
                     {"sweep_pair_0_1", sweep}};
    std::fprintf(stderr, "%s: matched corr trained %.3f untrained %.3f, nmse@4 %.3f (refit %.3f)\n", layer.c_str(),
                 trained_corr[layer], untrained_corr[layer], nmse[layer], refit_nmse[layer]);
  }
  result.metrics["layers"] = layers;
  double min_gap = 1e9;
  std::string min_layer;
  for (const auto& layer : kLayers)
    if (trained_corr[layer] - untrained_corr[layer] < min_gap) {
      min_gap = trained_corr[layer] - untrained_corr[layer];
      min_layer = layer;
    }
  result.metrics["min_gap_layer"] = min_layer;

  result.claims.push_back({"conv1_matched_corr", trained_corr["conv1"], ">=", kConv1Corr, "corr",
                           "first conv layer: mean correlation of one-to-one matched units between trained networks"});
  result.claims.push_back({"conv1_minus_conv3_matched", trained_corr["conv1"] - trained_corr["conv3"], ">", 0.0, "corr",
                           "the first layer's units match better than the last conv layer's"});
  result.claims.push_back({"min_trained_minus_untrained", min_gap, ">=", kTrainedGap, "corr",
                           "in every layer trained-trained matched correlation exceeds trained-untrained (min over layers)"});
  result.claims.push_back({"conv1_nmse_at_4", nmse["conv1"], "<=", kConv1Nmse, "nmse",
                           "lasso prediction of conv1 units from the other network's conv1 with <= 4 non-zero weights"});
  result.claims.push_back({"conv3_minus_conv1_nmse", nmse["conv3"] - nmse["conv1"], ">", 0.0, "nmse",
                           "sparse prediction is harder in the last conv layer than in the first"});
  result.metrics["analysis_seconds"] =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace golgi::repro
