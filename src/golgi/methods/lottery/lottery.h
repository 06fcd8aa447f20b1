// Lottery tickets: iterative magnitude pruning (IMP) with rewinding, masked training, and the
// stability measures of paper id `lottery`.
//
// Frankle, Dziugaite, Roy & Carbin 2019, "Stabilizing the Lottery Ticket Hypothesis",
// arXiv:1903.01611 (and "Linear Mode Connectivity and the Lottery Ticket Hypothesis", ICML 2020);
// Frankle & Carbin 2019, "The Lottery Ticket Hypothesis", ICLR. Their code is open_lth
// (facebookresearch/open_lth); golgi's pruning step gives the masks its `sparse_global` strategy
// gives, bit for bit (tests/unit/methods/lottery_test.cpp checks this against its recorded output).
//
//   @article{frankle2019stabilizing,
//     title   = {Stabilizing the Lottery Ticket Hypothesis},
//     author  = {Frankle, Jonathan and Dziugaite, Gintare Karolina and Roy, Daniel M. and Carbin, Michael},
//     journal = {arXiv preprint arXiv:1903.01611}, year = {2019}}
//
// IMP with rewinding to iteration k:
//   1. train the dense network from W_0 for T iterations, saving its state (weights, optimiser
//      state, iteration = schedule position) at iteration k: S_k;
//   2. prune: with n = #unmasked weights over all prunable tensors (ignored ones included),
//        j = ceil(fraction * n),
//        t = sort_ascending(|w| over the unmasked weights of the non-ignored tensors)[j]   (0-based)
//        m'(w) = 1  iff  m(w) = 1 and |w| > t               (strict: t itself and ties with it go)
//      so with distinct magnitudes exactly j + 1 weights go each level, more when |w| ties at t.
//      (That n counts the ignored tensors, e.g. an excluded output layer, is open_lth's rule too:
//      its masks hold every prunable tensor, and the count is taken before ignoring any.)
//   3. rewind: load S_k, zero the pruned weights (m' = 0) and their optimiser buffers;
//   4. retrain from iteration k to T with the mask held: gradients of pruned weights are zeroed
//      before every step and pruned weights are set to exactly 0 after it (so weight decay and
//      momentum cannot revive them); go to 2.
// With fraction 0.2, level L keeps about 0.8^L of the prunable weights (level 8: 16.8%).
//
// Prunable weights: every parameter named "*.weight" with 2 or more dimensions (linear [out, in],
// conv [out, in, k, k]). Biases and BatchNorm scales (1-D) are never pruned. The output layer is
// the last prunable weight in registration order ("head.weight" for golgi's mlp and cnn); it is
// pruned unless exclude_output, which keeps its mask (all ones) among the masks but ignores it.
//
// Stability (distances over the unpruned positions m = 1 of the prunable weights only):
//   d(w1, w2) = ||(w1 - w2) * m||_2 / ||w1 * m||_2
// data-order instability: w1, w2 = the same subnetwork rewound to S_k and trained from k to T on
// two data orders; pruning instability: w1 = the dense network's trained weights, w2 = the
// subnetwork's trained weights (how far the subnetwork trained alone lands from where the same
// weights went inside the full network).
//
// Controls: random reinitialisation (the same mask on a freshly initialised network, trained
// 0..T) and random pruning (per layer, the same number of surviving weights at uniformly random
// positions, rewound to S_k).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>

#include "golgi/core/json.h"
#include "golgi/core/options.h"
#include "golgi/data/dataset.h"
#include "golgi/models/model.h"
#include "golgi/train/optimizer.h"

namespace golgi::methods {

// (name, tensor) pairs in model order. Masks are bool tensors of their weight's shape.
using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;

// The masks file golgi prune writes in every model folder it makes (one U8 0/1 tensor per pruned
// weight, named like the weight); the lottery atlas annotator looks for it.
inline constexpr const char* kMasksFile = "masks.safetensors";

// Names of the prunable weights of `model` (rule above), in registration order.
std::vector<std::string> prunable_weights(const models::Model& model);
// The output layer's weight: the last prunable weight.
std::string output_weight(const models::Model& model);

// All-ones masks for the named prunable weights of `model`.
NamedTensors dense_masks(const models::Model& model, const std::vector<std::string>& names);

// One global magnitude-pruning step (the rule above). `weights` and `masks` pair up by name and
// shape (masks: bool or any 0/1 dtype); tensors named in `ignore` (which must have masks) count in
// n but are never pruned. Returns bool masks in the order of `masks`. Throws golgi::Error for a
// fraction outside (0, 1), mismatched names/shapes, non-finite weights, or when the step would
// leave no weight in the pool.
NamedTensors prune_global_magnitude(const NamedTensors& weights, const NamedTensors& masks, double fraction,
                                    const std::vector<std::string>& ignore = {});

// Per layer, a mask with exactly as many ones as `masks` has, at uniformly random positions
// (a SplitMix64 permutation seeded by derive_seed(seed, "lottery/random-prune", layer index)).
NamedTensors random_masks_like(const NamedTensors& masks, uint64_t seed);

// Remaining weights per layer and overall: {"layers": [{"name", "total", "remaining",
// "sparsity"}], "total", "remaining", "sparsity"} (sparsity = pruned fraction in [0, 1]).
Json sparsity_report(const NamedTensors& masks);
int64_t remaining_weights(const NamedTensors& masks);

// d(w1, w2) above over the masked positions of the weights named in `masks`. `w1`/`w2` may hold
// other tensors too (a whole model state); names are looked up.
double masked_distance(const NamedTensors& w1, const NamedTensors& w2, const NamedTensors& masks);

// Masks on disk: U8 0/1 tensors named like their weights, written atomically.
void save_masks(const std::string& path, const NamedTensors& masks, const Json& metadata = Json::object());
NamedTensors load_masks(const std::string& path);

struct LotteryTrainOptions {
  GOLGI_ARG(int64_t, iterations) = 2000;  // T: optimiser steps of every training run
  GOLGI_ARG(int64_t, batch_size) = 60;    // Frankle & Carbin's LeNet batch
  GOLGI_ARG(std::string, optimizer) = "sgd";
  GOLGI_ARG(double, lr) = 0.05;
  GOLGI_ARG(double, momentum) = 0.9;
  GOLGI_ARG(double, weight_decay) = 0.0;
  // "constant" or "cosine" (lr * (1 + cos(pi * i / T)) / 2 at iteration i); after `warmup` linear
  // warm-up iterations from 0. The schedule is a function of the iteration only, so restoring the
  // iteration restores the schedule position.
  GOLGI_ARG(std::string, schedule) = "cosine";
  GOLGI_ARG(int64_t, warmup) = 0;
  static const OptionSchema<LotteryTrainOptions>& schema();
};

// The learning rate at iteration i (0-based) of T.
double lottery_lr(const LotteryTrainOptions& options, int64_t iteration);

// A training run's complete resumable state: model state (parameters and buffers), optimiser
// state, and the iteration reached (the schedule and data-order position).
struct TrainCheckpoint {
  NamedTensors model;
  NamedTensors optimizer;
  int64_t iteration = 0;
};

// Minibatch SGD/Adam on cross-entropy with masks held (rule 4 above). Data order: iteration i uses
// samples [b * B, (b + 1) * B) of epoch_order(N, order_seed, e) with e = i / (N / B), b = i % (N / B)
// (the last partial batch of an epoch is dropped), so the order is a function of (seed, i) and a
// restored run continues the same order. The model is trained in place.
class MaskedTrainer {
 public:
  MaskedTrainer(models::Model& model, std::shared_ptr<const data::Dataset> train,
                const LotteryTrainOptions& options = {});

  // Installs masks (names must be parameters of the model) and applies them now: pruned weights
  // and their optimiser buffers become 0. An empty set means dense.
  void set_masks(NamedTensors masks);
  const NamedTensors& masks() const { return masks_; }
  // The data-order seed (see above); changing it restarts the order cache.
  void set_order_seed(uint64_t seed);

  // Trains until `iteration() == until` (<= options.iterations()). `label` names the progress bar
  // (empty: none). Returns the mean training loss of these iterations.
  double train_until(int64_t until, const std::string& label = "");
  int64_t iteration() const { return iteration_; }

  TrainCheckpoint checkpoint() const;
  // Restores weights, optimiser state and iteration, then re-applies the current masks.
  void restore(const TrainCheckpoint& checkpoint);

  train::Optimizer& optimizer() { return optimizer_; }
  const LotteryTrainOptions& options() const { return options_; }

 private:
  void apply_masks();
  models::Model& model_;
  std::shared_ptr<const data::Dataset> train_;
  LotteryTrainOptions options_;
  train::Optimizer optimizer_;
  NamedTensors masks_;
  uint64_t order_seed_ = 0;
  int64_t iteration_ = 0;
  int64_t cached_epoch_ = -1;
  std::vector<int64_t> order_;
};

struct ImpOptions {
  GOLGI_ARG(int64_t, levels) = 8;             // pruning levels after the dense run
  GOLGI_ARG(double, fraction) = 0.2;          // of the remaining weights, per level
  GOLGI_ARG(int64_t, rewind_iteration) = 100; // k (0: rewind to the initialisation, as in LTH 2018)
  GOLGI_ARG(bool, exclude_output) = false;    // never prune the output layer
  GOLGI_ARG(int64_t, seed) = 0;               // data-order seed (golgi prune: also a fresh model's init)
  GOLGI_ARG(int64_t, eval_batch) = 1000;
  static const OptionSchema<ImpOptions>& schema();
};

struct ImpLevel {
  int64_t level = 0;        // 0: dense
  double accuracy = 0;      // test accuracy in [0, 1]
  double test_loss = 0;
  double train_loss = 0;    // mean over the level's training iterations
  double seconds = 0;
  Json sparsity;            // sparsity_report of the level's masks
  Json to_json() const;
};

// What a level hands to its observer: the trained model (masked), its masks and its record.
using ImpObserver = std::function<void(const ImpLevel& level, const models::Model& model, const NamedTensors& masks)>;

// Runs IMP with rewinding (steps 1-4 above) on `model` (its current weights are W_0), training
// with `train_options` on `train`, evaluating on `test` after every level; `observer` (may be
// empty) sees level 0 (dense) and every pruned level. Returns the level records.
std::vector<ImpLevel> iterative_magnitude_pruning(models::Model& model, std::shared_ptr<const data::Dataset> train,
                                                  const data::Dataset& test, const LotteryTrainOptions& train_options,
                                                  const ImpOptions& options, const ImpObserver& observer = {});

}  // namespace golgi::methods
