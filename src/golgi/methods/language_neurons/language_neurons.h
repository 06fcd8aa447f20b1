// Language neurons: selection of language-specific, language-related and language-agnostic neurons
// from activation counts (paper id `language-neurons`).
//
// Zhang et al. 2025, "How does Alignment Enhance LLMs' Multilingual Capabilities? A Language
// Neurons Perspective" (language neurons alignment); official code: NJUNLP/Language-Neurons-Alignment.
// This file follows the official code, which differs from the paper's Eq. 5 in its normalisations
// (docs/methods/language-neurons.md).
//
// Inputs: counts c[k, s, l, j] (int, K languages x 2 x L layers x H neurons), the number of tokens
// of language k at which neuron (l, j) was active (its SiLU(gate) output > 0); s = 0 counts over
// instruction+response tokens ("full"), s = 1 over instruction-only tokens ("prefix"); token totals
// T_full[k], T_prefix[k]. The response part gives the activation probability (float32):
//
//   p[k, l, j] = max(0, c[k,0,l,j] - c[k,1,l,j]) / max(1, T_full[k] - T_prefix[k])
//
// Score of neuron (l, j), all float32 like the official torch code:
//
//   S = Σ_k p[k];   p~[k] = p[k] / S   (p~ = 1/K when S <= 0);   p~ <- max(p~, 1e-12) / Σ_k max(p~, 1e-12)
//   s = H(p~) / ln K  -  λ · max_k p[k] / norm_max,   H(p~) = -Σ_k p~[k] ln p~[k],
//   norm_max = (Σ_{m=1..K} 1/m) / K
//
// (the paper's Eq. 5 normalises the max term differently). Selection:
//   * keep the top_k = round(top_rate · L · H) neurons with the LOWEST s over all layers at once
//     (global, not per layer); ties go to the lower flat index l·H + j (stable ascending sort);
//   * τ = the value at rank round(activation_bar · K · L · H) (1-based) of all p sorted ascending;
//   * a kept neuron belongs to language k iff p[k] > τ (strict). Belonging to exactly one language:
//     language-specific; to 1 < n < K: language-related; to all K: language-agnostic ("general").
//     Kept neurons that belong to no language are in no language's mask.
//
// AutoSweep picks the largest λ at which no kept neuron belongs to all K languages, by bisection:
//
//   lo = sweep_low; hi = sweep_high
//   while (hi - lo > sweep_eps) { mid = (lo + hi) / 2; if (no kept neuron at mid is all-K) lo = mid; else hi = mid; }
//   λ = lo
//
// (on the Mistral-7B MGSM fixture: λ = 0.109375, exactly the official one).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "golgi/core/json.h"
#include "golgi/core/options.h"
#include "golgi/hooks/intervention_set.h"

namespace golgi::analysis {
struct NeuronStats;
}

namespace golgi::methods {

struct LanguageNeuronOptions {
  GOLGI_ARG(double, top_rate) = 0.01;        // share of all L·H neurons kept
  GOLGI_ARG(double, activation_bar) = 0.95;  // quantile of all p that sets τ
  // Weight of the max-activation term. 0 ranks by entropy alone; the paper tunes λ per model
  // with AutoSweep, which is what `autosweep` does.
  GOLGI_ARG(double, lambda) = 0.0;
  GOLGI_ARG(bool, autosweep) = false;  // pick λ by bisection (ignores `lambda`)
  GOLGI_ARG(double, sweep_low) = 0.0;
  GOLGI_ARG(double, sweep_high) = 0.2;
  GOLGI_ARG(double, sweep_eps) = 1e-3;

  static const OptionSchema<LanguageNeuronOptions>& schema();
};

// Activation counts of K languages, with the token totals they were counted over.
struct ActivationCounts {
  std::vector<std::string> languages;  // K codes, in the order of counts' first dimension
  at::Tensor counts;                   // [K, 2, L, H] integer: index 1 = 0 full, = 1 prefix
  std::vector<int64_t> full_tokens;    // [K]
  std::vector<int64_t> prefix_tokens;  // [K]

  // Checks shapes, K >= 2, integer dtype, no negative counts or totals (throws golgi::Error).
  void validate() const;
  // p [K, L, H] float32, as in the header comment.
  at::Tensor probabilities() const;
};

// Reads counts from an .npy file ([K, 2, L, H] integer) and languages and totals from a JSON file:
// either {"languages": [...], "full_tokens": [...], "prefix_tokens": [...]} or the official
// conversion's {"languages": [...], "totals": {lang: {"full_tokens": n, "prefix_tokens": n}}}.
ActivationCounts load_activation_counts(const std::string& counts_npy, const std::string& meta_json);

// Scores s [L, H] float32 (lower = more language-specific) of p [K, L, H] float32.
at::Tensor language_neuron_scores(const at::Tensor& p, double lambda);
// τ: the value at rank round(activation_bar · numel) (1-based, at least 1) of all p sorted ascending.
double activation_threshold(const at::Tensor& p, double activation_bar);

struct LanguageNeuronSelection {
  std::vector<std::string> languages;
  int64_t layers = 0, neurons_per_layer = 0;
  double top_rate = 0, activation_bar = 0;
  double lambda = 0;  // λ used (the AutoSweep result when autosweep)
  bool autosweep = false;
  double tau = 0;
  int64_t top_k = 0;
  // masks[k][l]: ascending neuron indices of layer l that belong to language k.
  std::vector<std::vector<std::vector<int64_t>>> masks;
  // Kept neurons as flat indices l·H + j, lowest score first, and how many languages each belongs to.
  std::vector<int64_t> kept;
  std::vector<int64_t> kept_languages;
  int64_t specific = 0, related = 0, general = 0, unassigned = 0;  // kept neurons with 1, 2..K-1, K, 0 languages
  int64_t pairs = 0;                                                // neuron-language pairs in the masks
  std::vector<int64_t> language_histogram;                          // [K + 1]: kept neurons by number of languages
  std::vector<int64_t> per_language;                                // [K]: neurons in each language's mask
  // [L][4]: kept neurons of each layer with 0, 1 (specific), 2..K-1 (related), K (general) languages.
  std::vector<std::vector<int64_t>> layer_counts;

  // {"languages", "lambda", "tau", "top_k", "top_rate", "activation_bar", "autosweep",
  //  "masks": {lang: [[layer 0 indices], ...]}, "summary": summary_json()}
  Json to_json() const;
  // Counts only: specific/related/general/unassigned, pairs, histograms, per language and per layer.
  Json summary_json() const;
};

// Selects the neurons of p [K, L, H] float32 (from ActivationCounts::probabilities()). With
// options.autosweep, λ comes from autosweep_lambda().
LanguageNeuronSelection select_language_neurons(const at::Tensor& p, const std::vector<std::string>& languages,
                                                const LanguageNeuronOptions& options = {});

// The AutoSweep bisection of the header comment (uses top_rate, activation_bar, sweep_*).
double autosweep_lambda(const at::Tensor& p, const LanguageNeuronOptions& options = {});

// Counts from golgi's own neuron statistics (analysis/neuron_stats.h) over response tokens only:
// "full" holds the response-token counts and "prefix" zeros, so probabilities() gives exactly the
// response-only p of the header comment. The statistics' hook points are the L layers and must all
// have H neurons (e.g. blocks.*.mlp.hook_pre: active iff the gate pre-activation > 0, i.e.
// SiLU(gate) > 0 for Llama; the MLP pre-activation > 0 for GPT-2).
ActivationCounts counts_from_stats(const analysis::NeuronStats& stats);

// Zeroes the neurons of `language` in a selection, at hook `hook_format` with "{l}" replaced by the
// layer (default blocks.{l}.mlp.hook_post: the gated unit's output, i.e. the neuron switched off).
hooks::InterventionSet deactivate_language(const LanguageNeuronSelection& selection, const std::string& language,
                                           const std::string& hook_format = "blocks.{l}.mlp.hook_post");
// The same from a saved selection (to_json() of a selection: {"languages", "masks": {...}}).
hooks::InterventionSet deactivate_language(const Json& selection, const std::string& language,
                                           const std::string& hook_format = "blocks.{l}.mlp.hook_post");

}  // namespace golgi::methods
