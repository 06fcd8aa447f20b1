// Model: a HookedModule that maps an input batch to outputs, knows its architecture name and the
// options it was built from, and can be saved as safetensors plus a JSON model card.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "golgi/core/json.h"
#include "golgi/hooks/hooked_module.h"

namespace golgi::models {

class Model : public hooks::HookedModule {
 public:
  Model(std::string architecture, Json options) : architecture_(std::move(architecture)), options_(std::move(options)) {}

  // input [batch, ...input_shape()] -> output (classifiers: logits [batch, classes]).
  virtual at::Tensor forward(const at::Tensor& input) = 0;
  // Per-sample input shape, e.g. [1, 28, 28]; the forward pass checks it. -1 marks a dimension of
  // any length (a language model's token positions).
  virtual std::vector<int64_t> input_shape() const = 0;
  // "classify" (input -> logits [batch, classes]) or "language-model" (int64 tokens [batch, pos]
  // -> next-token logits [batch, pos, vocab]).
  virtual std::string task() const { return "classify"; }
  // A valid random input of `batch` samples (tests, benchmarks, shape probes).
  virtual at::Tensor example_input(int64_t batch) const;

  const std::string& architecture() const { return architecture_; }
  // The complete options (defaults filled in) the model was built with.
  const Json& options() const { return options_; }
  int64_t parameter_count() const;

 protected:
  // Throws golgi::Error naming the model and the expected shape.
  void check_input(const at::Tensor& input) const;

 private:
  std::string architecture_;
  Json options_;
};

}  // namespace golgi::models
