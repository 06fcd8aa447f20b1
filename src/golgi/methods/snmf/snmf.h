// Semi-nonnegative matrix factorisation of MLP activations (paper id `snmf`).
//
// Shafran, Geiger & Geva 2025, "Decomposing MLP Activations into Interpretable Features via
// Semi-Nonnegative Matrix Factorization" (arXiv:2506.10920). The activations A (d_mlp neurons x n
// samples, e.g. `mlp.hook_post` over the tokens of a corpus) are approximated as
//
//   A ≈ F Gᵀ,   F (d × K) signed: each feature is a sparse combination of neurons,
//               G (n × K) ≥ 0:   how strongly each sample expresses each feature,
//
// by the semi-NMF updates of Ding, Li & Jordan 2010 with a winner-take-all sparsity step on F.
// One iteration, in this order (the paper's code; equal number for number, see the xcheck test
// against ../shared/fixtures/snmf_official):
//   1. F ← A G (GᵀG + reg·I)⁻¹                                (least squares for F given G)
//   2. per column of F keep the entries with |F| ≥ the ⌈sparsity·d⌉-th largest |F| of that
//      column (ties kept), zero the rest
//   3. c_j = max(‖G_:j‖₂, 1e-8);  G_:j /= c_j;  F_:j *= c_j      (F Gᵀ unchanged)
//   4. P = AᵀF, Q = FᵀF, X⁺ = (|X| + X)/2, X⁻ = (|X| − X)/2:
//      G ← G ⊙ sqrt((P⁺ + G Q⁻) / (P⁻ + G Q⁺ + 1e-6))          (multiplicative, keeps G ≥ 0)
//   5. loss = ‖A − F Gᵀ‖²_F (the residual in A's dtype, squared and summed in float64); the best
//      (F, G) so far is kept when the loss drops by more than `tol` below the best loss; the run
//      stops after `patience` iterations without such a drop, or after max_iter.
// Initialisation: G ~ U(0, 1) clamped at 1e-6, F ~ N(0, 1) (seeded), or given F0, G0.
//
// Shapes: A [d, n] float32 or float64 (the arithmetic follows A's dtype); F [d, K]; G [n, K].
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "golgi/core/json.h"
#include "golgi/core/options.h"

namespace golgi::methods {

struct SnmfOptions {
  GOLGI_ARG(int64_t, features) = 50;     // K
  GOLGI_ARG(double, sparsity) = 0.01;    // fraction of the d entries kept per column of F
  GOLGI_ARG(int64_t, max_iter) = 200;
  GOLGI_ARG(double, tol) = 1e-4;         // a new best needs loss < best − tol
  GOLGI_ARG(double, reg) = 1e-6;         // ridge term of the F step
  GOLGI_ARG(int64_t, patience) = 20;     // iterations without a new best before stopping
  GOLGI_ARG(int64_t, seed) = 0;          // random initialisation
  static const OptionSchema<SnmfOptions>& schema();
};

struct SnmfResult {
  at::Tensor F;  // [d, K] the best iterate
  at::Tensor G;  // [n, K] the best iterate, >= 0
  std::vector<double> loss_history;  // ‖A − F Gᵀ‖²_F after each iteration
  double best_loss = 0;
  int64_t best_iteration = -1;       // 0-based
  int64_t iterations = 0;
  double relative_error = 0;         // ‖A − F Gᵀ‖_F / ‖A‖_F at the best iterate
  Json to_json() const;              // without F and G
};

// Seeded initial factors: F0 ~ N(0, 1) [d, K], G0 ~ U(0, 1) clamped at 1e-6 [n, K], in `dtype`'s
// scalar type of A.
std::pair<at::Tensor, at::Tensor> snmf_random_init(int64_t d, int64_t n, int64_t features, uint64_t seed,
                                                   const at::Tensor& like);

// The starting factors of a run: copies of F0 and G0 (both given: checked to be [d, K] and
// [n, K], G0 >= 0), or snmf_random_init(options.seed) (neither given), in `like`'s dtype.
std::pair<at::Tensor, at::Tensor> snmf_initial_factors(int64_t d, int64_t n, const SnmfOptions& options,
                                                       const at::Tensor& F0, const at::Tensor& G0,
                                                       const at::Tensor& like);

// One winner-take-all sparsity step (2. above), returned as a new tensor.
at::Tensor snmf_sparsify_columns(const at::Tensor& F, double sparsity);

// Factorises A. With F0 and G0 defined they are the initial factors (shapes [d, K] and [n, K]);
// otherwise snmf_random_init(options.seed). `on_iteration(i, loss)` (optional) is called after
// every iteration, e.g. for a progress bar. Throws golgi::Error for bad shapes, K < 1, NaN or inf
// in A.
SnmfResult semi_nmf(const at::Tensor& A, const SnmfOptions& options, const at::Tensor& F0 = {},
                    const at::Tensor& G0 = {},
                    const std::function<void(int64_t, double)>& on_iteration = nullptr);

}  // namespace golgi::methods
