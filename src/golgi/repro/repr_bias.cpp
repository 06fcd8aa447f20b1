// Reproduction of paper id `repr-bias` (Lampinen, Chan & Hermann 2024, "Learned feature
// representations are biased by complexity, learning order, position, and more", TMLR);
// docs/methods/repr-bias.md, section "Reproduction".
//
// Per seed s (5 seeds; every stream derived from the run's seed and s):
// 1. Data: x ∈ {0, 1}^32 uniform; disjoint train / validation / test samples.
// 2. Main: an MLP (4 x 256 ReLU, methods/repr_bias.h) trained with Adam on two binary heads at once,
//    easy = 1[x_0 + ... + x_4 >= 3] and hard = x_5 ⊕ x_6 ⊕ x_7 ⊕ x_8. Test accuracy per head;
//    R² of each feature for the last hidden layer (methods/variance_explained.h: centred with the
//    training mean, W* fitted on the validation split, R² on the test split, one-hot + intercept).
// 3. Learning order: the same network and seed pretrained on the hard head alone, then trained on
//    both heads; R² of both features.
//    Every phase trains to a validation criterion plus a fixed number of steps (Config below).
// 4. Prevalence: two equally complex features, a = x_9 ⊕ x_10 on uniform bits (1 in 50% of
//    samples) and b = x_11 ⊕ x_12 on bits biased so that b is 1 in 10% of samples
//    (P(bit) = (1 − sqrt(0.8)) / 2 ≈ 0.053), trained together on a fresh network; R² of both.
//
// Claims (over the 5 seeds):
//   min_test_accuracy            lowest test accuracy of either head in the main runs        >= 99 %
//   seeds_easy_3x_hard           seeds with R²_easy >= 3 R²_hard (main runs)                  >= 4
//   pretrained_seeds_easy_gt_hard seeds with R²_easy > R²_hard after hard-first pretraining   >= 4
//   seeds_frequent_gt_rare       seeds with R²_a > R²_b (a varies in 50%, b in 10%)          >= 4
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>


#include <torch/torch.h>

#include "golgi/core/error.h"
#include "golgi/core/runtime.h"
#include "golgi/core/seed.h"
#include "golgi/core/stopwatch.h"
#include "golgi/methods/repr_bias/repr_bias.h"
#include "golgi/methods/repr_bias/variance_explained.h"
#include "golgi/models/model.h"
#include "golgi/repro/repro.h"

namespace golgi::repro {

namespace {

constexpr double kAccuracy = 99.0;      // percent
constexpr double kRatio = 3.0;          // R²_easy >= kRatio * R²_hard
constexpr int64_t kSeeds = 5, kSeedsNeeded = 4;
constexpr int64_t kBits = 32;
constexpr double kFrequentShare = 0.5, kRareShare = 0.1;

// Every training phase runs until each trained head reaches `criterion` accuracy on the validation
// split (checked every check_every steps), then extra_steps more, at most max_steps: the hard
// parity sits on a plateau for a seed-dependent 1,000-2,500 steps before it is learned, and a
// fixed budget long enough for the slowest seed would double the run time.
struct Config {
  int64_t train = 8192, val = 2000, test = 2000;
  int64_t max_steps = 4000, check_every = 250, extra_steps = 500;
  double criterion = 0.995;
  int64_t batch_size = 64;
  double lr = 1e-3;

  Json to_json() const {
    return {{"seeds", kSeeds}, {"bits", kBits}, {"train", train}, {"val", val}, {"test", test},
            {"max_steps", max_steps}, {"criterion_val_accuracy", criterion}, {"check_every", check_every},
            {"extra_steps", extra_steps},
            {"batch_size", batch_size}, {"lr", lr}, {"hidden", std::vector<int64_t>{256, 256, 256, 256}},
            {"optimizer", "Adam"}, {"representation", "layers.3.hook_post"},
            {"r2", "one-hot + intercept; centred with the training mean; fit on val, R² on test"}};
  }
};

Config config_for(bool quick) {
  Config c;
  if (!quick) {
    c.train = 32768;
    c.val = 4000;
    c.test = 4000;
    c.max_steps = 10000;
    c.extra_steps = 2000;
  }
  return c;
}

struct Splits {
  at::Tensor train, val, test;  // bits [n, 32]
};

Splits sample_splits(const Config& c, const std::vector<double>& p, uint64_t seed, const char* stream) {
  const std::string name = std::string("repr-bias/") + stream;
  return {methods::sample_bits(c.train, p, derive_seed(seed, name, 0)),
          methods::sample_bits(c.val, p, derive_seed(seed, name, 1)),
          methods::sample_bits(c.test, p, derive_seed(seed, name, 2))};
}

// R² of the feature computed by `feature` from the bits, for the network's representation.
double r2_of(const at::Tensor& rep_train, const at::Tensor& rep_val, const at::Tensor& rep_test, const Splits& s,
             const std::function<at::Tensor(const at::Tensor&)>& feature) {
  return methods::variance_explained(rep_train, rep_val, feature(s.val), rep_test, feature(s.test),
                                     methods::VarianceExplainedOptions().encoding("one-hot").intercept(true))
      .r2;
}

struct RunResult {
  std::vector<double> accuracy;  // per head, test
  std::vector<double> r2;        // per head
  Json training = Json::array();
};

// Trains a fresh network on targets (phases: heads per phase and steps) and measures it.
RunResult run_network(const Config& c, const Splits& s, const std::vector<std::function<at::Tensor(const at::Tensor&)>>& features,
                      const std::vector<std::vector<int64_t>>& phases, uint64_t seed) {
  const auto model_options =
      methods::ReprBiasModelOptions().inputs(kBits).features(static_cast<int64_t>(features.size()))
          .seed(static_cast<int64_t>(seed >> 1));
  auto model = methods::make_repr_bias_mlp(model_options);
  auto targets = [&](const at::Tensor& bits) {
    std::vector<at::Tensor> cols;
    for (const auto& f : features) cols.push_back(f(bits));
    return torch::stack(cols, 1);
  };
  const at::Tensor y_train = targets(s.train), y_val = targets(s.val), y_test = targets(s.test);
  RunResult out;
  for (size_t k = 0; k < phases.size(); ++k) {
    auto training = methods::train_binary_heads(*model, s.train, y_train,
                                                methods::BinaryHeadsTrainOptions()
                                                    .steps(c.max_steps)
                                                    .until_accuracy(c.criterion)
                                                    .check_every(c.check_every)
                                                    .extra_steps(c.extra_steps)
                                                    .batch_size(c.batch_size)
                                                    .lr(c.lr)
                                                    .seed(static_cast<int64_t>(derive_seed(seed, "phase", k) >> 1))
                                                    .heads(phases[k]),
                                                s.val, y_val);
    Json entry = training.to_json();
    entry["heads"] = phases[k];
    entry["test_accuracy_after"] = methods::head_accuracy(*model, s.test, y_test);
    out.training.push_back(entry);
  }
  out.accuracy = methods::head_accuracy(*model, s.test, y_test);
  const std::string hook = methods::representation_hook(model_options);
  const at::Tensor rt = methods::representation(*model, hook, s.train);
  const at::Tensor rv = methods::representation(*model, hook, s.val);
  const at::Tensor re = methods::representation(*model, hook, s.test);
  for (const auto& f : features) out.r2.push_back(r2_of(rt, rv, re, s, f));
  return out;
}

}  // namespace

ReproResult run_repr_bias(const ReproOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  seed_everything(options.seed);
  // One thread (LibTorch and OpenBLAS): the matrices are tiny ([64, 256] x [256, 256]), and on the
  // busy 2-core machine 3,000 steps took > 180 s with two threads and 52 s with one (measured).
  const ScopedThreads one_thread(1);
  const Config config = config_for(options.quick);
  const std::vector<double> uniform(kBits, 0.5);
  std::vector<double> biased = uniform;
  const double q = methods::parity2_bit_probability(kRareShare);
  biased[11] = biased[12] = q;

  const auto easy = [](const at::Tensor& b) { return methods::easy_feature(b); };
  const auto hard = [](const at::Tensor& b) { return methods::hard_feature(b); };
  const auto frequent = [](const at::Tensor& b) { return methods::parity_feature(b, {9, 10}); };
  const auto rare = [](const at::Tensor& b) { return methods::parity_feature(b, {11, 12}); };

  Json per_seed = Json::array();
  double min_accuracy = 100.0;
  int64_t easy_3x = 0, pretrained_easy = 0, frequent_wins = 0;
  std::vector<double> r2_easy, r2_hard, r2_pre_easy, r2_pre_hard, r2_frequent, r2_rare;
  for (int64_t s = 0; s < kSeeds; ++s) {
    const uint64_t seed = derive_seed(options.seed, "repr-bias/seed", static_cast<uint64_t>(s));
    const Splits data = sample_splits(config, uniform, seed, "uniform");

    const RunResult main = run_network(config, data, {easy, hard}, {{0, 1}}, derive_seed(seed, "main"));
    // Same initial weights as the main run (the seed sets the initialisation and the order).
    const RunResult pre = run_network(config, data, {easy, hard}, {{1}, {0, 1}}, derive_seed(seed, "main"));
    const Splits skewed = sample_splits(config, biased, seed, "prevalence");
    const RunResult prev = run_network(config, skewed, {frequent, rare}, {{0, 1}}, derive_seed(seed, "prevalence"));

    min_accuracy = std::min({min_accuracy, 100.0 * main.accuracy[0], 100.0 * main.accuracy[1]});
    easy_3x += main.r2[0] >= kRatio * main.r2[1];
    pretrained_easy += pre.r2[0] > pre.r2[1];
    frequent_wins += prev.r2[0] > prev.r2[1];
    r2_easy.push_back(main.r2[0]);
    r2_hard.push_back(main.r2[1]);
    r2_pre_easy.push_back(pre.r2[0]);
    r2_pre_hard.push_back(pre.r2[1]);
    r2_frequent.push_back(prev.r2[0]);
    r2_rare.push_back(prev.r2[1]);
    const double share_frequent = frequent(skewed.test).to(torch::kFloat64).mean().item<double>();
    const double share_rare = rare(skewed.test).to(torch::kFloat64).mean().item<double>();
    per_seed.push_back(
        {{"seed", s},
         {"main", {{"test_accuracy", main.accuracy}, {"r2", {{"easy", main.r2[0]}, {"hard", main.r2[1]}}},
                   {"training", main.training}}},
         {"hard_first", {{"test_accuracy", pre.accuracy}, {"r2", {{"easy", pre.r2[0]}, {"hard", pre.r2[1]}}},
                         {"training", pre.training}}},
         {"prevalence", {{"test_accuracy", prev.accuracy},
                         {"r2", {{"frequent", prev.r2[0]}, {"rare", prev.r2[1]}}},
                         {"test_share_one", {{"frequent", share_frequent}, {"rare", share_rare}}},
                         {"training", prev.training}}}});
    std::fprintf(stderr,
                 "repr-bias seed %lld: acc easy %.2f%% hard %.2f%% | R2 easy %.4f hard %.4f | hard-first: easy %.4f "
                 "hard %.4f (acc %.2f%%, %.2f%%) | prevalence: 50%% %.4f 10%% %.4f (acc %.2f%%, %.2f%%) [%.0f s]\n",
                 static_cast<long long>(s), 100 * main.accuracy[0], 100 * main.accuracy[1], main.r2[0], main.r2[1],
                 pre.r2[0], pre.r2[1], 100 * pre.accuracy[0], 100 * pre.accuracy[1], prev.r2[0], prev.r2[1],
                 100 * prev.accuracy[0], 100 * prev.accuracy[1], seconds_since(start));
  }

  ReproResult result;
  result.claims.push_back({"min_test_accuracy", min_accuracy, ">=", kAccuracy, "%",
                           "both heads (easy: majority of 5 bits, hard: parity of 4 bits) at ceiling on test, every seed"});
  result.claims.push_back({"seeds_easy_3x_hard", static_cast<double>(easy_3x), ">=", static_cast<double>(kSeedsNeeded),
                           "seeds of 5", "the easy feature explains >= 3x the variance of the hard one"});
  result.claims.push_back({"pretrained_seeds_easy_gt_hard", static_cast<double>(pretrained_easy), ">=",
                           static_cast<double>(kSeedsNeeded), "seeds of 5",
                           "after pretraining on the hard feature first, the easy one still explains more variance"});
  result.claims.push_back({"seeds_frequent_gt_rare", static_cast<double>(frequent_wins), ">=",
                           static_cast<double>(kSeedsNeeded), "seeds of 5",
                           "of two 2-bit parities, the one that is 1 in 50% of samples beats the one at 10%"});
  result.metrics = {{"config", config.to_json()},
                    {"rare_bit_probability", q},
                    {"r2_easy", r2_easy},
                    {"r2_hard", r2_hard},
                    {"r2_hard_first_easy", r2_pre_easy},
                    {"r2_hard_first_hard", r2_pre_hard},
                    {"r2_frequent", r2_frequent},
                    {"r2_rare", r2_rare},
                    {"share_seeds_frequent_wins", static_cast<double>(frequent_wins) / kSeeds},
                    {"per_seed", per_seed},
                    {"seconds", seconds_since(start)}};
  return result;
}

}  // namespace golgi::repro
