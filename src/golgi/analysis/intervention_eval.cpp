#include "golgi/analysis/intervention_eval.h"

#include "golgi/core/error.h"
#include "golgi/hooks/hooked_module.h"

namespace golgi::analysis {

train::LmEvalResult evaluate_lm_under(models::Model& model, const hooks::InterventionSet& interventions,
                                      const data::Dataset& windows, const at::Tensor& token_bytes,
                                      const std::vector<std::string>& languages, int64_t batch_size) {
  hooks::HookGuards guards = interventions.apply(model);
  return train::evaluate_lm(model, windows, token_bytes, languages, batch_size);
}

LmInterventionEffect compare_lm(const train::LmEvalResult& baseline, const train::LmEvalResult& intervened) {
  GOLGI_CHECK(baseline.per_language.size() == intervened.per_language.size(),
              "the two evaluations cover different languages (", baseline.per_language.size(), " vs ",
              intervened.per_language.size(), ")");
  LmInterventionEffect effect;
  effect.baseline = baseline;
  effect.intervened = intervened;
  for (size_t k = 0; k < baseline.per_language.size(); ++k) {
    const auto& b = baseline.per_language[k];
    const auto& i = intervened.per_language[k];
    GOLGI_CHECK(b.language == i.language, "language ", k, " differs: ", b.language, " vs ", i.language);
    effect.relative_change.push_back(b.bits_per_byte > 0 ? i.bits_per_byte / b.bits_per_byte - 1 : 0.0);
  }
  effect.overall_relative_change =
      baseline.bits_per_byte > 0 ? intervened.bits_per_byte / baseline.bits_per_byte - 1 : 0.0;
  return effect;
}

Json LmInterventionEffect::to_json() const {
  Json change = Json::object();
  for (size_t k = 0; k < relative_change.size(); ++k) change[baseline.per_language[k].language] = relative_change[k];
  return {{"baseline", baseline.to_json()},
          {"intervened", intervened.to_json()},
          {"relative_change", change},
          {"overall_relative_change", overall_relative_change}};
}

}  // namespace golgi::analysis
