// Initial factors for semi-NMF (paper id `snmf`; snmf.h has the algorithm): random, SVD or k-means.
//
// Semi-NMF is non-convex and its multiplicative G update never turns a zero into a positive value,
// so the starting point matters. Three choices, each usable in memory (a [d, n] tensor) and over
// column chunks (SnmfColumns, for an on-disk activation store larger than memory):
//
//  - "random" (the default; Shafran, Geiger & Geva 2025's code): G0 ~ U(0, 1) clamped at 1e-6,
//    F0 ~ N(0, 1), seeded (snmf_random_init).
//  - "svd" (NNDSVD-like; Boutsidis & Gallopoulos 2008 start NMF from the positive parts of the
//    singular vectors): with A ≈ U Σ Vᵀ the rank-K truncated SVD, F0 = U Σ [d, K] and
//    G0 = max(V, 1e-6) [n, K]. Only A Aᵀ (d × d, summed over chunks in float64) is formed; its
//    eigendecomposition gives U and Σ² and a second pass gives V_c = A_cᵀ U Σ⁻¹ chunk by chunk.
//    Singular vectors have no sign; each pair (u_k, v_k) is flipped so that v_k's positive part has
//    the larger norm, so the clamp loses as little as possible. When V is nearly non-negative (e.g.
//    features active on disjoint samples) F0 G0ᵀ is the rank-K optimum before any iteration.
//    Components with σ_k = 0 (rank(A) < K) get u_k = 0 and v_k = 1e-6.
//  - "kmeans" (Ding, Li & Jordan 2010, "Convex and Semi-Nonnegative Matrix Factorizations", IEEE
//    TPAMI 32, §3.2: semi-NMF is a relaxation of k-means, started from it): F0 = the K centroids of
//    the columns of A, G0 = the cluster indicator matrix + 0.2. Seeding is k-means++ (Arthur &
//    Vassilvitskii 2007) on a seeded sample of at most `sample_columns` columns; then
//    `lloyd_iterations` Lloyd passes over all columns, chunk by chunk (an emptied cluster keeps its
//    centroid), and a final pass assigns every column to its nearest centroid (ties: lowest index).
//
// All three are deterministic for a seed, and the chunked forms equal the in-memory ones up to the
// order of floating-point sums. Factors come back in the dtype of A's chunks.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>

#include "golgi/methods/snmf/snmf.h"
#include "golgi/methods/snmf/snmf_streaming.h"

namespace golgi::methods {

struct SnmfInitOptions {
  std::string method = "random";    // "random", "svd" or "kmeans"
  int64_t sample_columns = 10000;   // k-means++ seeding sample
  int64_t lloyd_iterations = 5;     // k-means passes over all columns after seeding
};

// The accepted method names, for help texts and errors.
const std::vector<std::string>& snmf_init_methods();

// F0 [d, K] and G0 [n, K] for semi_nmf / semi_nmf_streaming (K = options.features(), seeded by
// options.seed()), reading A in chunks of `chunk_columns` columns. Throws golgi::Error for an unknown
// method, K > min(d, n) with "svd" or K > n with "kmeans", or NaN/inf in A.
std::pair<at::Tensor, at::Tensor> snmf_initialize(const SnmfColumns& columns, int64_t d, int64_t n,
                                                  const SnmfOptions& options, const SnmfInitOptions& init,
                                                  int64_t chunk_columns);

// The same for an in-memory A [d, n] (one chunk).
std::pair<at::Tensor, at::Tensor> snmf_initialize(const at::Tensor& A, const SnmfOptions& options,
                                                  const SnmfInitOptions& init);

}  // namespace golgi::methods
