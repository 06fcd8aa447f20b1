// Convergent learning: do two networks learn the same units? (paper id `convergent`)
//
// Li, Yosinski, Clune, Lipson & Hopcroft 2016, "Convergent Learning: Do different neural networks
// learn the same representations?", ICLR.
//   @inproceedings{li2016convergent, title={Convergent Learning: Do different neural networks learn
//     the same representations?}, author={Li, Yixuan and Yosinski, Jason and Clune, Jeff and Lipson,
//     Hod and Hopcroft, John}, booktitle={ICLR}, year={2016}}
//
// Two networks A and B see the same images. At one hook point each unit (a channel of a conv map,
// a feature of a dense layer) is a random variable over samples s = (image, spatial position): a
// conv activation [N, C, H, W] gives N * H * W samples of C units; [N, C] gives N samples.
//
// Correlations (units centred over the samples; "dead" units with zero variance get correlation 0
// with everything, themselves included, instead of NaN):
//   corr(x, y) = sum_s (x_s - mean x)(y_s - mean y) / sqrt(sum_s (x_s - mean x)^2 sum_s (y_s - mean y)^2)
// within A [nA, nA], within B [nB, nB] and between [nA, nB].
//
// One-to-one alignment: the assignment pi maximising sum_i corr(a_i, b_pi(i)) (exact, Hungarian /
// shortest augmenting paths, analysis/linear_assignment.h); for nA != nB the min(nA, nB) best pairs.
// Semi-matching: each unit of A to its most correlated unit of B (several may share one). For a
// square matching the permutation's cycles are reported (the paper's reordering of B's units).
//
// Mutual information between matched units, in bits, from a 2-D histogram whose edges are each
// unit's percentiles (bins per axis b; ties, e.g. ReLU zeros, fall into one bin), with the
// Miller-Madow bias correction of each entropy, H = H_plugin + (m - 1) / (2 N ln 2) for m occupied
// bins:
//   I = H(X) + H(Y) - H(X, Y),  correction = (m_X + m_Y - m_XY - 1) / (2 N ln 2).
// With all b^2 cells occupied (independent units) the correction is -(b - 1)^2 / (2 N ln 2): the
// plug-in estimate's expected bias, |bins| / (2 N ln 2) counted over the table's (b - 1)^2 free cells.
//
// Sparse prediction (the paper's L1-penalised 1x1 convolution from A's layer to each unit of B),
// on standardised units: with R = corr_AA (the Gram matrix of the standardised inputs) and
// c = corr_AB[:, j], the lasso
//   w_j = argmin_w  1/2 w^T R w - c^T w + lambda |w|_1
// (= 1/(2S) ||y - X w||^2 + lambda |w|_1 up to a constant) is solved by cyclic coordinate descent
// on the Gram matrix (Friedman, Hastie & Tibshirani 2010), warm-started along a decreasing grid of
// lambda. Normalised MSE (MSE / variance of the target unit):
//   nmse = 1 - 2 c^T w + w^T R w.
// Reported per lambda: mean number of non-zero weights and mean nmse over live target units; per
// target, the lowest nmse among the grid points with at most `max_nonzero` non-zero weights, both
// for the lasso weights and for a least-squares refit on the lasso's support (nmse = 1 - c_S^T R_SS^-1 c_S).
//
// Many-to-many groups: spectral clustering (Ng, Jordan & Weiss 2001) of the joint correlation
// matrix of A's and B's units: affinity W = |corr| with a zero diagonal, normalised Laplacian
// L = I - D^-1/2 W D^-1/2, its k eigenvectors of smallest eigenvalue as coordinates (rows scaled to
// unit length), k-means (k-means++ starts, several restarts, seeded). Units with no affinity
// (dead) get group -1.
//
// Recording: record_unit_samples keeps, per image, the same seeded random subset of spatial
// positions in every model (the subset depends only on the seed, the image's index and the map
// size), so two models' samples are paired row by row. The subset bounds memory: each image keeps
// min(positions, ceil(max_samples / images)) positions (max_samples = 0: every position).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "golgi/analysis/linear_assignment.h"
#include "golgi/core/json.h"
#include "golgi/core/options.h"

namespace golgi::models {
class Model;
}
namespace golgi::data {
class Dataset;
}

namespace golgi::methods {

struct ConvergentOptions {
  // Percentile bins per axis of the mutual-information histogram.
  GOLGI_ARG(int64_t, bins) = 16;
  // Sparse prediction: the lambda grid runs from 1 down to penalty_min, geometric, `penalties` values.
  GOLGI_ARG(int64_t, penalties) = 24;
  GOLGI_ARG(double, penalty_min) = 1e-3;
  GOLGI_ARG(int64_t, max_nonzero) = 4;        // the sparsity budget of the per-target summary
  GOLGI_ARG(int64_t, lasso_iterations) = 1000;  // coordinate-descent sweeps per lambda (at most)
  GOLGI_ARG(double, lasso_tolerance) = 1e-9;  // stop when no weight moves more than this in a sweep
  // Spectral groups over the nA + nB units; 0: max(2, (nA + nB) / 8); -1: skip clustering.
  GOLGI_ARG(int64_t, clusters) = 0;
  GOLGI_ARG(int64_t, kmeans_restarts) = 10;
  GOLGI_ARG(int64_t, seed) = 0;  // k-means starts
  // Also compute mutual information and sparse prediction (false: correlations and matchings only).
  GOLGI_ARG(bool, mutual_information) = true;
  GOLGI_ARG(bool, sparse_prediction) = true;

  static const OptionSchema<ConvergentOptions>& schema();
};

struct RecordOptions {
  GOLGI_ARG(int64_t, batch_size) = 128;
  GOLGI_ARG(int64_t, max_samples) = 100000;  // rows kept per hook (0: every image x position)
  GOLGI_ARG(int64_t, seed) = 0;              // which positions are kept

  static const OptionSchema<RecordOptions>& schema();
};

// activation [N, C, H, W] (conv map) -> [N * H * W, C] (rows ordered image-major, then y, x);
// [N, C] -> itself; [N, P, C] (token positions, units last) -> [N * P, C]. Any float dtype.
at::Tensor unit_samples(const at::Tensor& activation);

// x [S, n] -> double [n]: true where the unit's variance over the samples is zero (up to rounding:
// std <= 1e-10 * (1 + |mean|)).
at::Tensor dead_units(const at::Tensor& x);
// x [S, n], y [S, m] (S >= 2, same S) -> double [n, m] Pearson correlations; dead units give 0.
at::Tensor cross_correlation(const at::Tensor& x, const at::Tensor& y);
// x [S, n] -> double [n, n]; the diagonal is 1 for live units and 0 for dead ones.
at::Tensor correlation_matrix(const at::Tensor& x);

// Bias-corrected mutual information in bits of x [S] and y [S] (formula above); bins >= 2, S >= 2.
double mutual_information(const at::Tensor& x, const at::Tensor& y, int64_t bins);

// The lasso above for one target: gram [n, n] (R), c [n]; w (in/out, [n], warm start) is updated
// in place. Coordinates with gram[j, j] <= 0 stay 0. Returns the sweeps used.
int64_t lasso_gram(const std::vector<double>& gram, const std::vector<double>& c, int64_t n, double lambda,
                   std::vector<double>& w, int64_t max_sweeps = 1000, double tolerance = 1e-9);

struct SparsePrediction {
  std::vector<double> penalties;     // [P], decreasing
  std::vector<double> mean_nonzero;  // [P] over live targets
  std::vector<double> mean_nmse;     // [P] over live targets
  // Per target [nB] (NaN for dead targets): the best nmse with <= max_nonzero weights, lasso and refit.
  std::vector<double> nmse_at_budget, refit_nmse_at_budget;
  std::vector<int64_t> nonzero_at_budget;  // weights used by that point (-1 for dead targets)
  int64_t max_nonzero = 0, live_targets = 0;
  double mean_nmse_at_budget = 0, mean_refit_nmse_at_budget = 0;  // over live targets
  Json to_json() const;
};

// corr_aa [nA, nA] (inputs) and corr_ab [nA, nB] (targets in columns), double.
// dead_targets: bool [nB] (undefined: none); a dead target has no variance to predict and is skipped.
SparsePrediction sparse_prediction(const at::Tensor& corr_aa, const at::Tensor& corr_ab, const ConvergentOptions& options,
                                   const at::Tensor& dead_targets = {});

// Spectral clustering of a symmetric affinity [n, n] (non-negative; the diagonal is ignored) into
// k groups; isolated nodes (zero affinity to all) get -1. k in [1, live nodes].
std::vector<int64_t> spectral_clustering(const at::Tensor& affinity, int64_t k, uint64_t seed, int64_t restarts = 10);

// Lloyd's k-means with k-means++ starts on points [n, d] (double, row-major), best of `restarts`
// by inertia. Returns the cluster of each point.
std::vector<int64_t> kmeans(const std::vector<double>& points, int64_t n, int64_t d, int64_t k, uint64_t seed,
                            int64_t restarts = 10);

struct UnitComparison {
  int64_t units_a = 0, units_b = 0, samples = 0;
  at::Tensor corr_aa, corr_bb, corr_ab;   // double [nA, nA], [nB, nB], [nA, nB]
  at::Tensor dead_a, dead_b;              // bool [nA], [nB]
  analysis::Assignment matching;          // one-to-one, maximising the summed correlation
  std::vector<double> matched_corr;       // [nA]: corr with the matched unit (NaN when unmatched)
  std::vector<int64_t> semi_match;        // [nA]: argmax_j corr_ab[i, j]
  std::vector<double> semi_corr;          // [nA]
  std::vector<double> within_max_a;       // [nA]: max_{k != i} corr_aa[i, k] (NaN when nA = 1)
  std::vector<std::vector<int64_t>> cycles;  // of the matching when nA == nB
  std::vector<double> matched_mi;         // [nA] bits (empty unless options.mutual_information)
  double mean_matched_corr = 0, mean_semi_corr = 0, mean_within_max_a = 0, mean_matched_mi = 0;
  bool has_sparse = false;
  SparsePrediction sparse;                // A's layer predicting each unit of B
  std::vector<int64_t> groups;            // [nA + nB] spectral groups (A's units first); empty if skipped
  int64_t clusters = 0;
  // Summary and per-unit lists (not the matrices: the CLI writes those as .npy).
  Json to_json() const;
};

// a [S, nA], b [S, nB]: paired samples of two models' units (rows = the same inputs and positions).
UnitComparison compare_units(const at::Tensor& a, const at::Tensor& b, const ConvergentOptions& options = {});

// Runs `model` (eval mode, no gradients) over every image of `data` and returns, per hook (exact
// hook point names), unit_samples of its activation restricted to the seeded position subset
// described above: float [S, units], identical rows for every model given the same data and options.
// Throws golgi::Error for an unknown hook.
std::map<std::string, at::Tensor> record_unit_samples(models::Model& model, const data::Dataset& data,
                                                      const std::vector<std::string>& hooks,
                                                      const RecordOptions& options = {});

}  // namespace golgi::methods
