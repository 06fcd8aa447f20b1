// Steering a language model by adding a direction to a hook point (paper id `snmf`, section 5:
// "causal steering"): at every position, h ← h + α · v/‖v‖. The strength α is chosen so that all
// directions compared move the model by the same amount: the mean KL(base ‖ steered) of the
// next-token distribution after each prompt's last position, found by bisection of α on [lo, hi]
// (Shafran, Geiger & Geva 2025 use a target KL and compare SNMF features with difference-in-means
// directions at equal KL).
//
// Shapes: prompts [P, pos] int64 (equal lengths); direction [d] at the hook's last dimension.
#pragma once

#include <cstdint>
#include <string>

#include <ATen/core/Tensor.h>

#include "golgi/core/json.h"

namespace golgi::models {
class TransformerLM;
struct GenerateOptions;
}  // namespace golgi::models

namespace golgi::methods {

// Mean over prompts of KL(base ‖ steered) (nats) of the last position's next-token distribution,
// with α · direction/‖direction‖ added at `hook` (every position).
double steering_kl(models::TransformerLM& model, const std::string& hook, const at::Tensor& direction, double alpha,
                   const at::Tensor& prompts);

struct AlphaSearch {
  double alpha = 0;  // the α found
  double kl = 0;     // steering_kl at that α
  int64_t steps = 0;
  Json to_json() const;
};

// Bisection for α in [lo, hi] with steering_kl(α) = target_kl, assuming the KL grows with α:
// `steps` halvings of the bracket; returns the end of the final bracket whose KL is closer to the
// target (hi when even hi stays below the target, lo when even lo exceeds it).
AlphaSearch alpha_for_kl(models::TransformerLM& model, const std::string& hook, const at::Tensor& direction,
                         const at::Tensor& prompts, double target_kl, double lo = 1.0, double hi = 2000.0,
                         int64_t steps = 20);

// Continuations [P, pos + new] generated with the steering held (α = 0: the unsteered model).
at::Tensor steered_generate(models::TransformerLM& model, const std::string& hook, const at::Tensor& direction,
                            double alpha, const at::Tensor& prompts, const models::GenerateOptions& options);

}  // namespace golgi::methods
