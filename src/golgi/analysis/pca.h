// Principal component analysis (Pearson 1901; Hotelling 1933) of a data matrix, in float64.
//
// fit_pca centres X [n, d] by its column means and takes the thin SVD Xc = U S Vᵀ. The components
// are the first k right singular vectors (rows of Vᵀ), the explained variances S² / (n − 1) (the
// unbiased sample variance along each component, as scikit-learn's PCA), and the ratios those
// variances over the total variance Σ_j var(X[:, j]) (all d directions, not just the k kept).
//
// Sign convention (deterministic, independent of the LAPACK build): each component is flipped so
// that its entry of largest absolute value is positive (the first such entry on ties).
// scikit-learn flips by U instead, so components agree with it up to sign only.
//
// Used by multifaceted feature visualisation (Nguyen, Yosinski & Clune 2016, "Multifaceted
// Feature Visualization", arXiv:1602.03616: penultimate codes → PCA 50 → t-SNE → k-means) and by
// the t-SNE "pca" initialisation.
#pragma once

#include <cstdint>

#include <ATen/core/Tensor.h>

#include "golgi/core/options.h"

namespace golgi::analysis {

struct PcaOptions {
  GOLGI_ARG(int64_t, components) = 0;  // k; 0 means min(n, d). Must be <= min(n, d).
  static const OptionSchema<PcaOptions>& schema();
};

struct Pca {
  at::Tensor mean;                      // [d] float64, the column means of the training data
  at::Tensor components;                // [k, d] float64, orthonormal rows, sign convention above
  at::Tensor explained_variance;        // [k] float64, descending, in X's units squared
  at::Tensor explained_variance_ratio;  // [k] float64, each in [0, 1], summing to <= 1
  at::Tensor singular_values;           // [k] float64, of the centred data
  double total_variance = 0;            // Σ_j var(X[:, j]) (divisor n − 1)

  int64_t dims() const { return components.defined() ? components.size(1) : 0; }
  // Z = (X − mean) Cᵀ: [m, d] (any floating or integer dtype) → [m, k] float64.
  at::Tensor transform(const at::Tensor& X) const;
  // X̂ = Z C + mean: [m, k] → [m, d] float64 (exact reconstruction when k = rank of the data).
  at::Tensor inverse_transform(const at::Tensor& Z) const;
};

// X: [n, d] with n >= 2 and d >= 1, every entry finite (golgi::Error otherwise, naming the problem).
Pca fit_pca(const at::Tensor& X, const PcaOptions& options = {});

}  // namespace golgi::analysis
