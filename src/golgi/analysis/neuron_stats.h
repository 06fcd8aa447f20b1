// Neuron statistics over labelled text, streamed: the shared measurement behind language neurons,
// relation neurons and the atlas (issue 4 "Shared machinery").
//
// Each example is a token sequence with a label (a language, a relation, ...) and a range of
// counted tokens [count_begin, count_end): e.g. the response after an instruction, with the
// document-separator "BOS" and padding excluded. Batches run through the model with read hooks on
// the chosen hook points; per batch only [batch, neurons] sums are kept, so memory does not grow
// with the corpus. For every neuron n (hook points concatenated in the order given) and label k:
//
//   tokens[k]          = counted tokens of label k
//   active[k, n]       = counted tokens of label k at which activation > active_above
//   probability[k, n]  = active[k, n] / max(1, tokens[k])            (activation probability)
//   mean[k, n]         = Σ activation over counted tokens / max(1, tokens[k])
//   max[k, n]          = the largest activation over counted tokens (-inf for a label without tokens)
//   responses[e, n]    = mean activation of example e over its counted tokens (per_example only)
//
// Counts are exact integers (int64) and sums are float64, so results do not depend on batching.
// Hook points must be [batch, pos, neurons] (neuron dimension last): MLP, residual and attention
// output hooks of the transformer models (docs/hooks.md).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "golgi/core/json.h"
#include "golgi/core/options.h"

namespace golgi::models {
class TransformerLM;
}

namespace golgi::analysis {

struct TextExample {
  std::vector<int64_t> tokens;
  int64_t label = 0;         // index into the label names
  int64_t count_begin = 0;   // first counted position
  int64_t count_end = -1;    // one past the last counted position; -1: the end
};

struct NeuronStatsOptions {
  // Hook-point globs (`blocks.*.mlp.hook_post`); the neurons of all matches, in forward order.
  GOLGI_ARG(std::vector<std::string>, hooks) = {"blocks.*.mlp.hook_post"};
  GOLGI_ARG(double, active_above) = 0.0;  // "active" means activation > this
  GOLGI_ARG(int64_t, batch_size) = 16;
  GOLGI_ARG(bool, per_example) = false;   // keep responses [examples, neurons]
  GOLGI_ARG(bool, progress) = true;       // progress bar on stderr
};

struct NeuronStats {
  std::vector<std::string> labels;      // [K]
  std::vector<std::string> hooks;       // matched hook points, forward order
  std::vector<int64_t> hook_neurons;    // neurons of each hook point
  double active_above = 0.0;
  at::Tensor tokens;       // [K] int64: counted tokens per label
  at::Tensor examples;     // [K] int64: examples per label
  at::Tensor active;       // [K, N] int64
  at::Tensor sum;          // [K, N] float64
  at::Tensor max;          // [K, N] float32
  at::Tensor responses;    // [E, N] float32 when per_example, else undefined
  at::Tensor example_labels;  // [E] int64

  int64_t neurons() const;
  at::Tensor probability() const;  // [K, N] float32
  at::Tensor mean() const;         // [K, N] float32
  // Flat neuron n as (hook index, neuron index within the hook).
  std::pair<int64_t, int64_t> locate(int64_t n) const;
  // "HOOK:INDEX" NeuronRef text of flat neuron n.
  std::string neuron_name(int64_t n) const;

  // Writes DIR/stats.json (labels, hooks, totals) and DIR/{probability,mean,max,active,tokens}.npy
  // (+ responses.npy, example_labels.npy); each file atomically.
  void save(const std::string& dir) const;
  Json summary_json() const;
};

// Streams `examples` through `model` (eval mode, no gradients). Throws golgi::Error for unknown
// hooks, hooks that are not [batch, pos, neurons], labels out of range, empty examples, counted
// ranges outside the sequence or without tokens, tokens outside the vocabulary, or NaN activations.
NeuronStats neuron_statistics(models::TransformerLM& model, const std::vector<TextExample>& examples,
                              const std::vector<std::string>& labels, const NeuronStatsOptions& options = {});

}  // namespace golgi::analysis
