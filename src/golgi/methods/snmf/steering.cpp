#include "golgi/methods/snmf/steering.h"

#include <cmath>

#include <torch/torch.h>

#include "golgi/core/error.h"
#include "golgi/hooks/intervention_set.h"
#include "golgi/models/generate.h"
#include "golgi/models/transformer.h"

namespace golgi::methods {

namespace {

hooks::InterventionSet steering(const std::string& hook, const at::Tensor& direction, double alpha) {
  GOLGI_CHECK(direction.dim() == 1 && direction.numel() > 0, "steering: the direction must be a vector [d], got ",
              direction.sizes());
  const double norm = direction.to(torch::kDouble).norm().item<double>();
  GOLGI_CHECK(norm > 0 && std::isfinite(norm), "steering: the direction has norm ", norm,
              "; pick a non-zero, finite direction");
  hooks::InterventionSet set;
  set.add(hook, (direction.to(torch::kFloat) * static_cast<float>(alpha / norm)).contiguous());
  return set;
}

at::Tensor last_log_probs(models::TransformerLM& model, const at::Tensor& prompts) {
  return torch::log_softmax(model.forward(prompts).select(1, prompts.size(1) - 1).to(torch::kDouble), -1);
}

}  // namespace

double steering_kl(models::TransformerLM& model, const std::string& hook, const at::Tensor& direction, double alpha,
                   const at::Tensor& prompts) {
  GOLGI_CHECK(prompts.dim() == 2 && prompts.size(0) > 0 && prompts.size(1) > 0,
              "steering: prompts must be [P, pos] token ids, got ", prompts.sizes());
  torch::NoGradGuard no_grad;
  const at::Tensor base = last_log_probs(model, prompts);
  at::Tensor steered;
  {
    auto guards = steering(hook, direction, alpha).apply(model);
    steered = last_log_probs(model, prompts);
  }
  // KL(base ‖ steered) = Σ p_base (log p_base − log p_steered), per prompt, then the mean.
  return (base.exp() * (base - steered)).sum(-1).mean().item<double>();
}

Json AlphaSearch::to_json() const { return {{"alpha", alpha}, {"kl", kl}, {"steps", steps}}; }

AlphaSearch alpha_for_kl(models::TransformerLM& model, const std::string& hook, const at::Tensor& direction,
                         const at::Tensor& prompts, double target_kl, double lo, double hi, int64_t steps) {
  GOLGI_CHECK(0 < lo && lo < hi, "steering: the α bracket must satisfy 0 < lo < hi, got [", lo, ", ", hi, "]");
  GOLGI_CHECK(target_kl > 0, "steering: the target KL must be > 0, got ", target_kl);
  AlphaSearch out;
  double kl_lo = steering_kl(model, hook, direction, lo, prompts);
  double kl_hi = steering_kl(model, hook, direction, hi, prompts);
  out.steps = 2;
  if (kl_lo >= target_kl) return {lo, kl_lo, out.steps};
  if (kl_hi <= target_kl) return {hi, kl_hi, out.steps};
  for (int64_t s = 0; s < steps; ++s) {
    const double mid = 0.5 * (lo + hi);
    const double kl = steering_kl(model, hook, direction, mid, prompts);
    ++out.steps;
    if (kl < target_kl) {
      lo = mid;
      kl_lo = kl;
    } else {
      hi = mid;
      kl_hi = kl;
    }
  }
  if (std::fabs(kl_lo - target_kl) <= std::fabs(kl_hi - target_kl)) {
    out.alpha = lo;
    out.kl = kl_lo;
  } else {
    out.alpha = hi;
    out.kl = kl_hi;
  }
  return out;
}

at::Tensor steered_generate(models::TransformerLM& model, const std::string& hook, const at::Tensor& direction,
                            double alpha, const at::Tensor& prompts, const models::GenerateOptions& options) {
  torch::NoGradGuard no_grad;
  if (alpha == 0) return models::generate(model, prompts, options);
  auto guards = steering(hook, direction, alpha).apply(model);
  return models::generate(model, prompts, options);
}

}  // namespace golgi::methods
