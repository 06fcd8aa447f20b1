// Reproduction of paper id `dcls-delays` (Hammouamri, Khalfaoui-Hassani & Masquelier 2023,
// "Learning Delays in SNNs using Dilated Convolutions with Learnable Spacings") on golgi's
// `burst-order` dataset (docs/methods/dcls-delays.md, section "Reproduction").
//
// The paper's ablation (its SHD/SSC tables): the same two-hidden-layer network trained with no
// delays, with fixed random delays and with learned delays; learned delays win, and fixed random
// delays beat none. burst-order ([100 steps, 32 channels], 8 classes) is built so that every
// channel has the same expected spike count in every class; only the order of four channel-group
// bursts, 20 steps apart, tells the classes apart. Nearly memoryless LIF neurons (τ_m = 1.05 steps)
// can only compare bursts that arrive together, which delays make possible.
//
// Three variants x two seeds (options.seed, options.seed + 1), the same data (burst-order
// generated with options.seed), architecture and training budget for all. Test accuracy of the
// final network (learned: rounded integer delays) on burst-order's test split (500 samples).
//
// Claims (mean over the two seeds, accuracy points):
//   learned_minus_fixed  learned − fixed random   >= 3
//   fixed_minus_none     fixed random − none      >= 3
// Metrics: per-seed accuracies, the rounding gap (learned with Gaussian kernels at the final σ −
// rounded), histograms of the learned integer delays, seconds per run.
#include <chrono>
#include <cstdio>
#include <map>

#include "golgi/core/error.h"
#include "golgi/data/registry.h"
#include "golgi/methods/dcls_delays/dcls_delays.h"
#include "golgi/repro/repro.h"

namespace golgi::repro {

namespace {

constexpr double kLearnedMinusFixed = 3.0;  // points
constexpr double kFixedMinusNone = 3.0;     // points

// Capacity is kept small on purpose: with 48 hidden neurons per layer both fixed random and
// learned delays reach 100% test accuracy on burst-order within 8 epochs (measured), and a
// saturated task cannot separate the variants. With 16 neurons per layer neither saturates in the
// quick budget (4 epochs); in the full budget (20 epochs) fixed random delays saturate too (99.6%,
// measured) and learned_minus_fixed fails: see docs/methods/dcls-delays.md. K = 41 spans two of burst-order's 20-step slots. Every variant gets the same
// network size, epochs, batch and learning rates ("none" has K = 1 and no positions).
methods::DclsOptions config_for(bool quick) {
  methods::DclsOptions o;
  o.kernel_size(41).hidden(16).hidden_layers(2).epochs(20).batch_size(50).lr_weights(5e-3).lr_positions(0.5);
  if (quick) o.epochs(4);
  return o;
}

}  // namespace

ReproResult run_dcls_delays(const ReproOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  data::DataOptions dopt;
  dopt.seed = options.seed;
  dopt.split = "train";
  auto train = data::load_dataset("burst-order", dopt);
  dopt.split = "test";
  auto test = data::load_dataset("burst-order", dopt);

  const methods::DclsOptions base = config_for(options.quick);
  const std::vector<std::string> variants = {"none", "fixed_random", "learned"};
  const std::vector<uint64_t> seeds = {options.seed, options.seed + 1};

  Json runs = Json::object();
  std::map<std::string, double> mean_acc, mean_gauss;
  Json per_seed = Json::object();
  for (const auto& variant : variants) {
    Json list = Json::array();
    for (uint64_t s : seeds) {
      methods::DclsOptions o = base;
      o.delays(variant).seed(static_cast<int64_t>(s)).verbose(true);
      methods::DclsResult r = methods::train_dcls(*train, *test, o);
      std::fprintf(stderr, "dcls-delays: %s seed %llu: test accuracy %.4f (gaussian %.4f), train %.4f, %.1f s\n",
                   variant.c_str(), static_cast<unsigned long long>(s), r.test_accuracy, r.test_accuracy_gaussian,
                   r.train_accuracy, r.seconds);
      mean_acc[variant] += 100.0 * r.test_accuracy / static_cast<double>(seeds.size());
      mean_gauss[variant] += 100.0 * r.test_accuracy_gaussian / static_cast<double>(seeds.size());
      Json j = r.to_json();
      j["seed"] = s;
      list.push_back(j);
      per_seed[variant].push_back(100.0 * r.test_accuracy);
    }
    runs[variant] = list;
  }

  ReproResult result;
  result.claims.push_back({"learned_minus_fixed", mean_acc["learned"] - mean_acc["fixed_random"], ">=",
                           kLearnedMinusFixed, "points",
                           "learned delays (rounded to integers) beat fixed random delays (test accuracy, mean of 2 seeds)"});
  result.claims.push_back({"fixed_minus_none", mean_acc["fixed_random"] - mean_acc["none"], ">=", kFixedMinusNone,
                           "points", "fixed random delays beat no delays (test accuracy, mean of 2 seeds)"});
  Json config = methods::DclsOptions::schema().to_json(base);
  config.erase("delays");
  config.erase("seed");
  config.erase("verbose");
  result.metrics = {{"dataset", "burst-order"},
                    {"data_seed", options.seed},
                    {"seeds", seeds},
                    {"config", config},
                    {"test_accuracy_mean", {{"none", mean_acc["none"]},
                                            {"fixed_random", mean_acc["fixed_random"]},
                                            {"learned", mean_acc["learned"]}}},
                    {"test_accuracy_per_seed", per_seed},
                    {"learned_gaussian_accuracy_mean", mean_gauss["learned"]},
                    {"rounding_gap", mean_gauss["learned"] - mean_acc["learned"]},
                    {"runs", runs},
                    {"seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()}};
  return result;
}

}  // namespace golgi::repro
