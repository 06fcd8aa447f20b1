// k-means clustering: Lloyd's algorithm (Lloyd 1982, "Least squares quantization in PCM", IEEE
// Trans. Inf. Theory 28) with k-means++ seeding (Arthur & Vassilvitskii 2007, "k-means++: the
// advantages of careful seeding", SODA), in float64. Torch is used only for input and output.
//
// Seeding (kmeans_plus_plus): the greedy k-means++ of scikit-learn. The first centre is a uniform
// random sample; each further centre is the best of 2 + ⌊ln k⌋ candidates drawn with probability
// ∝ D(x)² (squared distance to the nearest centre so far), "best" meaning the lowest resulting
// potential Σ_x D(x)². Randomness is golgi::SplitMix64(seed): the same seed gives the same centres
// on every platform.
//
// Lloyd iterations, from given or seeded centroids: assign each point to its nearest centroid
// (ties: the lowest index), move each centroid to the mean of its points. The run stops when the
// labels no longer change, when the total squared centroid shift is <= tol · mean_j var(X[:, j])
// (scikit-learn's scaled tolerance), or after max_iter iterations. The returned labels and
// inertia (Σ squared distance of each point to its centroid) are those of the returned centroids.
//
// Empty clusters: a centroid left with no points is moved onto the point farthest from its own
// centroid (not yet used by another empty cluster), so every cluster keeps at least one point
// whenever n >= k. This follows scikit-learn's relocation rule.
//
// n_init > 1 runs that many seedings (seeds derived from `seed`) and keeps the lowest inertia.
//
// Used by multifaceted feature visualisation (Nguyen, Yosinski & Clune 2016: t-SNE codes → k = 5).
#pragma once

#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>

#include "golgi/core/json.h"
#include "golgi/core/options.h"

namespace golgi::analysis {

struct KMeansOptions {
  GOLGI_ARG(int64_t, clusters) = 8;    // k
  GOLGI_ARG(int64_t, n_init) = 1;      // seedings tried (must be 1 with given initial centroids)
  GOLGI_ARG(int64_t, max_iter) = 300;  // Lloyd iterations at most
  GOLGI_ARG(double, tol) = 1e-4;       // relative to the mean feature variance (see above)
  GOLGI_ARG(int64_t, seed) = 0;        // k-means++ randomness
  static const OptionSchema<KMeansOptions>& schema();
};

struct KMeansResult {
  at::Tensor centroids;         // [k, d] float64
  std::vector<int64_t> labels;  // [n], each in 0..k-1
  double inertia = 0;           // Σ_i ‖x_i − c_{label_i}‖², in X's units squared
  int64_t iterations = 0;       // Lloyd iterations of the kept run
  bool converged = false;       // stopped by unchanged labels or the tolerance, not by max_iter
  Json to_json() const;         // without centroids and labels
};

// k-means++ centres [k, d] float64 of X [n, d] (n >= k >= 1; golgi::Error otherwise).
at::Tensor kmeans_plus_plus(const at::Tensor& X, int64_t k, uint64_t seed);

// Clusters X [n, d] (finite, n >= k). With `initial_centroids` [k, d] defined, one Lloyd run starts
// from them (options.clusters must equal k and options.n_init must be 1); otherwise
// options.n_init k-means++ seedings. Throws golgi::Error on bad shapes, NaN, or bad options.
KMeansResult kmeans(const at::Tensor& X, const KMeansOptions& options, const at::Tensor& initial_centroids = {});

// Adjusted Rand index (Hubert & Arabie 1985) of two labelings of the same n points: 1 for
// identical partitions (whatever the label names), about 0 for independent ones.
double adjusted_rand_index(const std::vector<int64_t>& a, const std::vector<int64_t>& b);

}  // namespace golgi::analysis
