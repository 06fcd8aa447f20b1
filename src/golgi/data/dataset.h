// Datasets: a uniform in-memory interface with deterministic shuffling and splits.
//
// Every dataset golgi ships fits in memory at the scale of a 2-core machine, so a Dataset is a
// pair of tensors plus a card. Shuffles never use LibTorch's global generator: the order of epoch
// e is permutation(size, derive_seed(seed, "order", e)), so it is the same on every run, thread
// count and resume.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "golgi/core/json.h"

namespace golgi::data {

struct Batch {
  at::Tensor inputs;   // [batch, ...sample shape]
  at::Tensor targets;  // [batch] int64 class labels
  at::Tensor ids;      // [batch] int64 sample indices into the dataset
};

class Dataset {
 public:
  // inputs [N, ...], targets [N] int64.
  Dataset(std::string name, std::string split, at::Tensor inputs, at::Tensor targets, Json card = Json::object());

  const std::string& name() const { return name_; }
  const std::string& split() const { return split_; }
  int64_t size() const;
  std::vector<int64_t> sample_shape() const;
  int64_t num_classes() const { return num_classes_; }
  const at::Tensor& inputs() const { return inputs_; }
  const at::Tensor& targets() const { return targets_; }
  // Dataset card: source, preprocessing, counts (recorded in model cards and stores).
  const Json& card() const { return card_; }

  Batch batch(const std::vector<int64_t>& ids) const;
  Batch range(int64_t begin, int64_t end) const;
  // The first n samples (n > size() is an error).
  std::shared_ptr<Dataset> head(int64_t n) const;
  // Disjoint seeded split: the first part holds round(fraction * size) samples.
  std::pair<std::shared_ptr<Dataset>, std::shared_ptr<Dataset>> split_by(double fraction, uint64_t seed,
                                                                           const std::string& first_name,
                                                                           const std::string& second_name) const;

 private:
  std::string name_, split_;
  at::Tensor inputs_, targets_;
  Json card_;
  int64_t num_classes_ = 0;
};

// Sample order for one epoch: a seeded permutation, or 0..N-1 when shuffle is false.
std::vector<int64_t> epoch_order(int64_t size, uint64_t seed, int64_t epoch, bool shuffle);

}  // namespace golgi::data
