// The training loop: seeded, checkpointed, resumable, interruptible.
//
// Output folder (TrainOptions::out):
//   checkpoint.safetensors  model.*, optim.* and rng.cpu tensors; __metadata__["state"] holds the
//                           loop position, the running loss sums and the metrics history as JSON.
//                           One file, written atomically every checkpoint_every steps, at every
//                           epoch end, and on Ctrl-C.
//   metrics.json            per-epoch history and the final test metrics (atomic)
//   model.safetensors, model.json   the final model and its card (see models/registry.h)
//
// Determinism: the data order of epoch e is a seeded permutation (data/dataset.h), the schedule
// is a function of the step, and the checkpoint holds the optimiser state and LibTorch's CPU
// generator state. With the same seed and one thread, a run killed at any point and resumed with
// resume(true) ends with the same weights, bit for bit, as an uninterrupted run.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "golgi/core/json.h"
#include "golgi/core/options.h"
#include "golgi/data/dataset.h"
#include "golgi/models/model.h"

namespace golgi::train {

struct TrainOptions {
  GOLGI_ARG(std::string, model) = "cnn";
  GOLGI_ARG(std::string, dataset) = "fashion-mnist";
  GOLGI_ARG(std::string, data_dir) = "";
  GOLGI_ARG(std::string, out) = "";  // default: runs/<model>-<dataset>
  GOLGI_ARG(int64_t, epochs) = 4;
  GOLGI_ARG(int64_t, batch_size) = 64;
  GOLGI_ARG(std::string, optimizer) = "adamw";
  GOLGI_ARG(double, lr) = 2e-3;
  GOLGI_ARG(double, min_lr) = 0.0;
  GOLGI_ARG(double, weight_decay) = 1e-4;
  GOLGI_ARG(double, momentum) = 0.9;
  GOLGI_ARG(bool, nesterov) = false;
  GOLGI_ARG(std::string, schedule) = "cosine";
  GOLGI_ARG(int64_t, warmup_steps) = 100;
  GOLGI_ARG(int64_t, step_size) = 1000;
  GOLGI_ARG(double, gamma) = 0.1;
  GOLGI_ARG(double, grad_clip) = 0.0;  // 0: off
  GOLGI_ARG(int64_t, checkpoint_every) = 200;  // steps; 0: only at epoch ends
  GOLGI_ARG(int64_t, train_limit) = 0;  // use only the first N training samples (0: all)
  GOLGI_ARG(int64_t, test_limit) = 0;   // evaluate on the first N test samples (0: all)
  GOLGI_ARG(int64_t, seed) = 0;
  GOLGI_ARG(int64_t, threads) = 0;  // 0: all cores
  GOLGI_ARG(int64_t, max_steps) = 0;  // stop (with a checkpoint) after this many steps in total (0: no limit)
  GOLGI_ARG(int64_t, steps) = 0;      // train for exactly this many steps (0: `epochs` decides)
  GOLGI_ARG(std::string, init_from) = "";  // start from this saved model's weights (fine-tuning, continued training)
  // Language models (text corpora, see train/language_model.h):
  GOLGI_ARG(int64_t, seq_len) = 256;           // tokens per training window
  GOLGI_ARG(std::string, tokenizer) = "byte";  // "byte" or a tokenizer folder
  GOLGI_ARG(double, balance) = 1.0;            // language mix exponent in (0, 1] (1: natural)
  static const OptionSchema<TrainOptions>& schema();
};

struct EvalResult {
  int64_t samples = 0;
  double loss = 0;      // mean cross-entropy, nats
  double accuracy = 0;  // fraction in [0, 1]
  std::vector<double> per_class_accuracy;
  Json to_json() const;
};

// Mean loss and accuracy of a classifier over a dataset (eval mode, no gradients).
EvalResult evaluate(models::Model& model, const data::Dataset& dataset, int64_t batch_size = 256);

struct TrainResult {
  std::string out_dir;
  bool finished = false;     // false when interrupted or stopped by max_steps
  bool interrupted = false;  // Ctrl-C (SIGINT/SIGTERM)
  bool resumed = false;
  int64_t steps = 0;
  EvalResult test;  // classifiers
  Json lm_test;     // language models: LmEvalResult::to_json() of the test split
  Json metrics;     // what metrics.json holds
};

// Trains `options.model` on a dataset (classifiers) or a text corpus (language models: packed
// windows, next-token loss, bits-per-byte and per-language metrics on the val split each epoch;
// the tokenizer is saved next to the model).
// Trains `options.model` (built from `model_options`) on `options.dataset`. `command` is recorded
// in the model card. With `resume`, continues from out/checkpoint.safetensors when it exists (the
// options must match those of the checkpoint). Throws golgi::Error on bad options or data.
TrainResult train(const TrainOptions& options, const Json& model_options, const std::string& command,
                  bool resume = false);

// The folder train() writes to for these options.
std::string output_dir(const TrainOptions& options);

}  // namespace golgi::train
