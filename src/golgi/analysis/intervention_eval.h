// Evaluation under intervention: bits per byte per label (language) with a set of neuron
// interventions held for the whole evaluation, compared with the unmodified model.
//
//   relative_change[k] = bpb_intervened[k] / bpb_baseline[k] - 1
//
// The windows and metrics are those of `golgi eval` (train/language_model.h): packed windows of one
// language each, padding ignored, special tokens counted as one byte.
#pragma once

#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "golgi/core/json.h"
#include "golgi/hooks/intervention_set.h"
#include "golgi/train/language_model.h"

namespace golgi::analysis {

// bits per byte of every language with `interventions` attached (removed again on return, also on
// errors).
train::LmEvalResult evaluate_lm_under(models::Model& model, const hooks::InterventionSet& interventions,
                                      const data::Dataset& windows, const at::Tensor& token_bytes,
                                      const std::vector<std::string>& languages, int64_t batch_size = 32);

struct LmInterventionEffect {
  train::LmEvalResult baseline, intervened;
  std::vector<double> relative_change;  // per language, in baseline.per_language order
  double overall_relative_change = 0;
  // {"baseline", "intervened", "relative_change": {lang: x}, "overall_relative_change"}
  Json to_json() const;
};

LmInterventionEffect compare_lm(const train::LmEvalResult& baseline, const train::LmEvalResult& intervened);

}  // namespace golgi::analysis
