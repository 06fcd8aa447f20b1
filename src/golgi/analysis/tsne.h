// Exact t-SNE (van der Maaten & Hinton 2008, "Visualizing Data using t-SNE", JMLR 9), with the
// conventions of scikit-learn's TSNE(method="exact") so that results are comparable with it.
//
// Affinities: squared Euclidean distances D; for each point i a binary search over the precision
// β_i (at most 100 halvings/doublings, |H − log perplexity| <= 1e-5 nats) makes the conditional
// p_{j|i} = exp(−β_i D_ij) / Σ_{k≠i} exp(−β_i D_ik) have entropy H = log(perplexity). Then
// P_ij = max((p_{j|i} + p_{i|j}) / Σ_kl (p_{l|k} + p_{k|l}), ε)   (symmetric, Σ_{i≠j} P_ij = 1).
// Similarities in the embedding Y [n, dims]: Student t with ν = max(dims − 1, 1) degrees of freedom,
// w_ij = (1 + ‖y_i − y_j‖² / ν)^(−(ν+1)/2), Q_ij = max(w_ij / Σ_{k≠l} w_kl, ε).
// Objective KL(P‖Q) = Σ_{i≠j} P_ij log(P_ij / Q_ij); gradient, as sklearn computes it,
// ∂KL/∂y_i = (2(ν+1)/ν) Σ_j (P_ij − Q_ij) w_ij (y_i − y_j)  (exact for ν = 1, i.e. dims <= 2).
//
// Optimisation (Jacobs 1988 delta-bar-delta gains, as in the paper's reference code and sklearn):
//   stage 1, iterations 0..249: P multiplied by early_exaggeration, momentum 0.5;
//   stage 2, up to max_iter:    plain P, momentum 0.8; each stage starts with zero velocity, gains 1.
//   gains += 0.2 where the velocity and gradient disagree in sign, else gains *= 0.8; min gain 0.01;
//   velocity = momentum · velocity − learning_rate · gains ⊙ gradient;  Y += velocity.
// Every 50 iterations (and at the last one) KL is evaluated: a stage stops early when the gradient
// norm is <= min_grad_norm or when KL has not improved for n_iter_without_progress iterations
// (250 in stage 1, the option in stage 2).
// Learning rate: "auto" (0) means max(n / early_exaggeration / 4, 50) (Belkina et al. 2019).
// Initialisation: "pca": the first `dims` principal components scaled so that column 0 has standard
// deviation 1e-4; "random": 1e-4 · N(0, 1) from SplitMix64(seed).
//
// Cost O(n² · dims) time per iteration and O(n²) memory (two n × n float64 matrices): meant for up
// to a few thousand points (n = 2,000: 64 MB). Deterministic given the seed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "golgi/core/json.h"
#include "golgi/core/options.h"

namespace golgi::analysis {

struct TsneOptions {
  GOLGI_ARG(int64_t, dims) = 2;                       // embedding dimensions
  GOLGI_ARG(double, perplexity) = 30;                 // effective neighbours; must be < n
  GOLGI_ARG(double, early_exaggeration) = 12;
  GOLGI_ARG(double, learning_rate) = 0;               // 0: auto, max(n / early_exaggeration / 4, 50)
  GOLGI_ARG(int64_t, max_iter) = 1000;                // total iterations, both stages (>= 250)
  GOLGI_ARG(int64_t, n_iter_without_progress) = 300;  // stage-2 patience
  GOLGI_ARG(double, min_grad_norm) = 1e-7;
  GOLGI_ARG(std::string, init) = "pca";               // "pca" or "random"
  GOLGI_ARG(int64_t, seed) = 0;                       // random init
  GOLGI_ARG(bool, progress) = true;                   // show a golgi::Progress bar
  static const OptionSchema<TsneOptions>& schema();
};

struct TsneResult {
  at::Tensor embedding;             // [n, dims] float64
  double kl_divergence = 0;         // KL(P‖Q) at the last evaluation (plain P), nats
  int64_t iterations = 0;           // iterations run, both stages
  std::vector<double> kl_history;   // KL at each evaluation (exaggerated P in stage 1)
  std::vector<int64_t> kl_iterations;  // the iteration (1-based) of each kl_history entry
  double learning_rate = 0;         // the one used
  Json to_json() const;             // without the embedding
};

// The symmetric joint probabilities P [n, n] float64 (zero diagonal, sum 1) of X [n, d].
at::Tensor tsne_joint_probabilities(const at::Tensor& X, double perplexity);

// KL(P‖Q) of an embedding Y [n, dims] for joint probabilities P [n, n] (as above), in nats.
double tsne_kl_divergence(const at::Tensor& P, const at::Tensor& Y);

// Embeds X [n, d] (finite; 2 <= n, perplexity < n). Throws golgi::Error on bad input or options.
TsneResult tsne(const at::Tensor& X, const TsneOptions& options = {});

}  // namespace golgi::analysis
