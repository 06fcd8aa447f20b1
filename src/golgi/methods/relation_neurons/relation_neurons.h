// Relation neurons: neurons whose response singles out the prompts of one relation (paper id
// `relation-neurons`).
//
// Liu et al. 2025, "On Relation-Specific Neurons in Large Language Models". The neurons are every
// output unit of gate_proj, up_proj and down_proj in all layers (golgi hook points, docs/hooks.md:
// llama `blocks.{l}.mlp.hook_pre`, `blocks.{l}.mlp.hook_pre_linear`, `blocks.{l}.hook_mlp_out`;
// gpt2 `blocks.{l}.mlp.hook_pre`, `blocks.{l}.hook_mlp_out`). The response x[e, n] of neuron n to
// prompt e is its output averaged over the prompt's tokens (analysis/neuron_stats.h, per_example).
// This file starts from those responses; deactivation and generation live in the reproduction.
//
// For a relation r (labels y[e] in 0..R-1, correctness c[e] in {0, 1}):
//
//   positives  P_r = { e : y[e] = r and c[e] = 1 }               (prompts the model answers correctly)
//   negatives  N_r = a seeded sample of min(|C_r|, ν · |P_r|) prompts of C_r = { e : y[e] != r }
//                    (ν = negatives_per_positive = 4; C_r keeps only c[e] = 1 when negatives_correct_only)
//
// and the expertise of neuron n for r is the average precision of x[., n] over P_r ∪ N_r as a
// detector of P_r, exactly scikit-learn's average_precision_score (step-wise, no interpolation):
//
//   AP = Σ_k (R_k − R_{k−1}) · P_k,    R_0 = 0,
//
// where k runs over the distinct score values t_1 > t_2 > ... (tied scores form one threshold),
// P_k = TP_k / (TP_k + FP_k) and R_k = TP_k / |P_r|, TP_k / FP_k counting positives / negatives with
// score >= t_k. Sums are float64 whatever the responses' dtype.
//
// Relation-specific neurons of r: the top N neurons by AP, ties to the lower neuron index. N = top_n
// when top_n > 0, else max(1, round(top_rate · neurons)) (round half to even).
//
// Deactivation helpers (the model side is the reproduction's): accuracy drop
//
//   drop[i, j] = (acc_orig[j] − acc_deact[i, j]) / acc_orig[j]     (NaN when acc_orig[j] = 0)
//
// of relation j's held-out prompts when relation i's neurons are zeroed; and Spearman's ρ (Pearson
// correlation of average ranks) for "accuracy falls as N grows".
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "golgi/core/json.h"
#include "golgi/core/options.h"

namespace golgi::methods {

struct RelationNeuronOptions {
  // Neurons kept per relation; 0 means use top_rate.
  GOLGI_ARG(int64_t, top_n) = 0;
  // Share of all neurons kept per relation when top_n is 0: N = max(1, round(top_rate · neurons)).
  GOLGI_ARG(double, top_rate) = 0.01;
  // Negatives sampled per positive (ν); when fewer prompts of other relations exist, all of them.
  GOLGI_ARG(int64_t, negatives_per_positive) = 4;
  // Draw negatives only from prompts of other relations the model answers correctly.
  GOLGI_ARG(bool, negatives_correct_only) = false;
  // Seeds the negative samples (derive_seed(seed, "relation-neurons/negatives", r)).
  GOLGI_ARG(int64_t, seed) = 0;

  static const OptionSchema<RelationNeuronOptions>& schema();
};

// ---------------------------------------------------------------------------------------------
// Average precision.

// AP of scores [E] (float32 or float64) for the positive label; labels [E] bool or integer with
// values 0 / 1. Matches sklearn.metrics.average_precision_score, except where sklearn only warns:
// throws golgi::Error when there is no positive (sklearn returns 0; AP is undefined), for E = 0, for
// NaN or infinite scores, labels other than 0 / 1, and mismatched shapes. All positive gives 1.
double average_precision(const at::Tensor& scores, const at::Tensor& labels);

// AP of every column of scores [E, N] (float32 or float64) with the shared labels [E]: [N] float64.
// Sorts each column once (parallel over columns, at::parallel_for); same errors as above.
at::Tensor average_precision_columns(const at::Tensor& scores, const at::Tensor& labels);

// AP of every column of scores [E, N] over the rows `rows` only (indices into 0..E-1, distinct),
// with labels positive[i] for row rows[i]: [N] float64. What selection uses, without copying rows.
at::Tensor average_precision_columns(const at::Tensor& scores, const std::vector<int64_t>& rows,
                                     const std::vector<uint8_t>& positive);

// ---------------------------------------------------------------------------------------------
// Examples per relation.

struct RelationExamples {
  std::vector<int64_t> positives;   // ascending example indices
  std::vector<int64_t> negatives;   // ascending example indices (sampled)
  int64_t negatives_requested = 0;  // ν · |positives|
  int64_t negatives_available = 0;  // |C_r|
  // Fewer candidates than requested: every candidate is a negative.
  bool negatives_short() const { return negatives_available < negatives_requested; }
};

// Positives and seeded negatives of each of `relations` relations from labels [E] (integer, each in
// 0..relations-1) and correct [E] (bool or integer 0 / 1; undefined means every prompt is correct).
// The same seed gives the same sets on every machine (SplitMix64 partial Fisher-Yates over C_r in
// ascending order). Throws golgi::Error for bad shapes, dtypes or values, or relations < 2.
std::vector<RelationExamples> relation_examples(const at::Tensor& labels, const at::Tensor& correct,
                                                int64_t relations, const RelationNeuronOptions& options = {});

// ---------------------------------------------------------------------------------------------
// Selection.

// The top `n` of ap [N] float64 by value, ties to the lower index; NaN never selected (checked).
std::vector<int64_t> top_neurons(const at::Tensor& ap, int64_t n);

struct RelationNeuronSet {
  std::string relation;
  // "ok", or why the relation has no neurons: "no_positives" (no correctly answered prompt) or
  // "no_negatives" (no candidate prompt of another relation).
  std::string status = "ok";
  int64_t positives = 0, negatives = 0, negatives_requested = 0, negatives_available = 0;
  bool negatives_short = false;
  std::vector<int64_t> neurons;  // selected, highest AP first (ties: lower index first)
  std::vector<double> ap;        // AP of each selected neuron
  // The examples the AP was computed over (ascending example indices).
  std::vector<int64_t> positive_examples, negative_examples;
};

struct RelationNeuronSelection {
  std::vector<std::string> relations;  // [R]
  int64_t examples = 0, neurons = 0;   // E, N
  int64_t top_n = 0;                   // N selected per relation (the resolved count)
  RelationNeuronOptions options;
  std::vector<RelationNeuronSet> sets;  // [R]
  at::Tensor ap;                        // [R, N] float64; rows of skipped relations are NaN
  // [R][R]: |S_i ∩ S_j| and Jaccard |S_i ∩ S_j| / |S_i ∪ S_j| (0 when both sets are empty).
  std::vector<std::vector<int64_t>> intersection;
  std::vector<std::vector<double>> jaccard;

  // {"method": "relation-neurons", "relations", "examples", "neurons", "top_n", "options" (incl. seed),
  //  "sets": {relation: {"status", "positives", "negatives", "negatives_requested",
  //  "negatives_available", "negatives_short", "neurons", "ap", "ap_mean", "ap_min" [, "names"]}},
  //  "overlap": {"intersection": [[...]], "jaccard": [[...]]}}. `neuron_names` empty, or one name per
  // neuron (NeuronRef text), adds each set's "names".
  Json to_json(const std::vector<std::string>& neuron_names = {}) const;
  // {"seed", "relations", "examples": {relation: {"positives": [...], "negatives": [...]}}}: which
  // examples each relation's AP used, to recompute it elsewhere.
  Json examples_json() const;
};

// Selects the relation-specific neurons from responses [E, N] (float32 or float64), labels [E] and
// correct [E] (see relation_examples). `relations` names the R relations (distinct, non-empty).
RelationNeuronSelection select_relation_neurons(const at::Tensor& responses, const at::Tensor& labels,
                                                const at::Tensor& correct, const std::vector<std::string>& relations,
                                                const RelationNeuronOptions& options = {});

// |A ∩ B| and Jaccard index of neuron sets (any order, duplicates ignored); Jaccard = 0 when both are empty.
int64_t intersection_size(const std::vector<int64_t>& a, const std::vector<int64_t>& b);
double jaccard(const std::vector<int64_t>& a, const std::vector<int64_t>& b);

// ---------------------------------------------------------------------------------------------
// Deactivation and cumulativity.

// drop[i][j] = (acc_orig[j] − acc_deact[i][j]) / acc_orig[j]; NaN where acc_orig[j] = 0 (there is
// no accuracy to lose). Accuracies must lie in [0, 1]; acc_deact must be [R_i][R] with R = |acc_orig|.
std::vector<std::vector<double>> accuracy_drop(const std::vector<double>& acc_orig,
                                               const std::vector<std::vector<double>>& acc_deact);

// Average ranks (1-based; tied values share the mean of their ranks).
std::vector<double> average_ranks(const std::vector<double>& x);
// Spearman's ρ: Pearson correlation of the average ranks of x and y. NaN when either is constant
// (like scipy.stats.spearmanr). Throws for sizes < 2, mismatched sizes, or NaN values.
double spearman(const std::vector<double>& x, const std::vector<double>& y);

}  // namespace golgi::methods
