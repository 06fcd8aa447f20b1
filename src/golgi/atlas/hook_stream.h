// Streaming accumulators of one hook point for the atlas build (builder.h): exact float64 sums,
// min/max, activation counts, the same per label, a reservoir sample of positions for the
// histograms, and the top-k exemplars. Memory: [labels + 2, neurons] accumulators, a
// [histogram_sample, neurons] reservoir and neurons x k exemplars; nothing grows with the stream.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>

#include "golgi/atlas/top_exemplars.h"

namespace golgi::atlas {

// The splitmix64 finaliser: a stateless hash for sampling decisions keyed by position index.
uint64_t mix64(uint64_t x);

struct HookStream {
  int64_t neurons = 0, labels = 0, reservoir_size = 0;
  at::Tensor sum, sumsq;             // [N] float64
  at::Tensor min, max;               // [N] float32
  at::Tensor active;                 // [N] int64
  at::Tensor label_sum;              // [K, N] float64
  at::Tensor label_active;           // [K, N] int64
  at::Tensor label_max;              // [K, N] float32
  at::Tensor label_positions;        // [K] int64
  at::Tensor reservoir;              // [R, N] float32
  int64_t positions = 0;             // valid positions seen
  TopExemplars top;

  HookStream(int64_t neurons, int64_t labels, int64_t reservoir_size, int64_t exemplars);

  // One batch. acts [B, P, N] float32 contiguous; valid [B, P] bool (padding false);
  // batch_labels and examples [B] int64. Throws golgi::Error on NaN/inf activations.
  void update(const at::Tensor& acts, const at::Tensor& valid, const at::Tensor& batch_labels,
              const at::Tensor& examples, double active_above, uint64_t seed);
  // Named tensors for a checkpoint (prefix keeps hooks apart) and the inverse; restore() checks
  // names and shapes.
  std::vector<std::pair<std::string, at::Tensor>> state(const std::string& prefix) const;
  void restore(const std::map<std::string, at::Tensor>& saved, const std::string& prefix);
};

}  // namespace golgi::atlas
