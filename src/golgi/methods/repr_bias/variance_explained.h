// Variance of a representation explained by a feature (paper id `repr-bias`).
//
// Lampinen, Chan & Hermann 2024, "Learned feature representations are biased by complexity,
// learning order, position, and more", TMLR. The paper measures how much of a layer's
// representation a feature accounts for by regressing the representation on the feature:
//
//   φ(x)   = h(x) − μ_train                 the representation, centred with the training mean
//   W*     = argmin_W Σ_{x ∈ val} ‖W f(x) − φ(x)‖²      least squares on the validation split
//   R²_f   = 1 − Σ_{x ∈ test} ‖W* f(x) − φ(x)‖² / Σ_{x ∈ test} ‖φ(x)‖²
//
// h(x) [d] is the representation (all its dimensions at once: R² is the share of the summed
// variance of every unit), f(x) the feature's design row. Encodings of the feature value v:
//   one-hot  one column per category (the distinct values seen on the validation split, ascending);
//            with an intercept the first category is the reference and its column is dropped, so
//            the design [1, 1[v = c_2], ..., 1[v = c_K]] spans the same space at full rank.
//   scalar   the value itself: [1, v] with an intercept, [v] without.
//   auto     one-hot when every value (both splits) is an integer, scalar otherwise.
// A binary feature gives the same fit in either encoding (both span {1, v} with an intercept).
// The intercept is on by default: without it the fit must go through the training mean.
//
// Closed form (the cross-check): for a categorical feature with an intercept, fitted and evaluated
// on the same rows whose mean is the centre (train = val = test), R² equals the correlation ratio
//   η² = Σ_k n_k ‖m_k − m‖² / Σ_i ‖h_i − m‖²      (between-group over total sum of squares),
// and per dimension j, η²_j is the share of unit j's variance explained by the groups. GroupVariance
// streams the sums η² needs (the atlas annotator `variance-explained` uses it per neuron).
//
// Numerics: float64 throughout; W* by least squares (QR/SVD, LAPACK gelsd). The validation design
// must have full column rank: a feature that is constant on the validation split, or a one-hot
// design with more columns than rows, is a golgi::Error naming the cause (R² would be undefined,
// not 0). A test-split category the validation split never saw is an error too (W* has no
// coefficient for it). A test split whose centred representation is exactly zero has no variance
// to explain: error. NaN or infinite inputs: error naming the input.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "golgi/core/json.h"
#include "golgi/core/options.h"

namespace golgi::methods {

struct VarianceExplainedOptions {
  // "auto", "one-hot" or "scalar" (see above).
  GOLGI_ARG(std::string, encoding) = "auto";
  GOLGI_ARG(bool, intercept) = true;

  static const OptionSchema<VarianceExplainedOptions>& schema();
};

struct VarianceExplained {
  double r2 = 0;               // on the test split (the paper's measure)
  double r2_fit = 0;           // on the validation split, the fit's own rows
  double residual_ss = 0;      // Σ_test ‖W* f − φ‖²
  double total_ss = 0;         // Σ_test ‖φ‖²
  std::string encoding;        // resolved: "one-hot" or "scalar"
  bool intercept = true;
  std::vector<double> categories;  // one-hot: the category values in column order (first = reference)
  int64_t columns = 0;         // design columns
  int64_t val_rows = 0, test_rows = 0, dims = 0;
  at::Tensor weights;          // W* [columns, dims] float64 (row 0 = intercept when there is one)
  Json to_json() const;        // everything but the weights
};

// rep_* [n, ...] (flattened to [n, d]; any floating or integer dtype, computed in float64),
// feature_* [n] or [n, 1] (numeric). rep_train only supplies the centre μ_train.
VarianceExplained variance_explained(const at::Tensor& rep_train, const at::Tensor& rep_val,
                                     const at::Tensor& feature_val, const at::Tensor& rep_test,
                                     const at::Tensor& feature_test, const VarianceExplainedOptions& options = {});

// Streaming between-group / total sums of squares per dimension (float64, shifted by the first
// batch's mean so that large offsets do not cancel). Groups are integers in [0, groups).
class GroupVariance {
 public:
  GroupVariance(int64_t groups, int64_t dims);
  // values [n, dims] (any real dtype), group [n] integer in [0, groups).
  void update(const at::Tensor& values, const at::Tensor& group);
  int64_t count() const { return count_; }
  at::Tensor group_counts() const;     // [groups] int64
  at::Tensor total_ss() const;         // [dims] Σ_i (h_ij − m_j)²
  at::Tensor between_ss() const;       // [dims] Σ_k n_k (m_kj − m_j)²
  at::Tensor variance() const;         // [dims] total_ss / count (population variance)
  // η²_j = between_ss / total_ss [dims] float64; NaN where unit j is constant (total_ss = 0).
  at::Tensor eta_squared() const;
  // Σ_j between_ss / Σ_j total_ss: R² of the one-hot group feature over all dimensions at once.
  // NaN when every dimension is constant.
  double pooled_eta_squared() const;

 private:
  int64_t groups_, dims_, count_ = 0;
  at::Tensor shift_;      // [dims]
  at::Tensor sum_;        // [groups, dims] Σ (h − shift)
  at::Tensor sumsq_;      // [dims] Σ (h − shift)²
  at::Tensor counts_;     // [groups] float64
};

struct EtaSquared {
  double pooled = 0;           // GroupVariance::pooled_eta_squared
  at::Tensor per_dimension;    // [d] float64
};
// One-shot η² of rep [n, ...] (flattened) grouped by the integer feature [n]; groups are the
// feature's distinct values. Errors as variance_explained (shapes, NaN, non-integer groups).
EtaSquared eta_squared(const at::Tensor& rep, const at::Tensor& feature);

}  // namespace golgi::methods
