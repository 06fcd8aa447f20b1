// Variance explained by a feature (variance_explained.h).
#include "golgi/methods/repr_bias/variance_explained.h"

#include <cmath>
#include <limits>
#include <map>

#include <torch/torch.h>

#include "golgi/core/error.h"

namespace golgi::methods {

const OptionSchema<VarianceExplainedOptions>& VarianceExplainedOptions::schema() {
  static const auto schema =
      OptionSchema<VarianceExplainedOptions>("variance_explained")
          .add("encoding", &VarianceExplainedOptions::encoding_,
               "feature encoding: 'one-hot' (a column per category), 'scalar' (the value), 'auto' (one-hot "
               "when every value is an integer)",
               {"auto", "one-hot", "scalar"})
          .add("intercept", &VarianceExplainedOptions::intercept_, "fit an intercept column");
  return schema;
}

Json VarianceExplained::to_json() const {
  return {{"r2", r2},
          {"r2_fit", r2_fit},
          {"residual_ss", residual_ss},
          {"total_ss", total_ss},
          {"encoding", encoding},
          {"intercept", intercept},
          {"categories", categories},
          {"columns", columns},
          {"val_rows", val_rows},
          {"test_rows", test_rows},
          {"dims", dims}};
}

namespace {

// [n, ...] -> [n, d] float64, checked.
at::Tensor as_rows(const at::Tensor& t, const char* what) {
  GOLGI_CHECK(t.defined(), "variance-explained: ", what, " is missing");
  GOLGI_CHECK(t.dim() >= 1, "variance-explained: ", what, " must be [n, ...] (rows first), got a scalar");
  GOLGI_CHECK(t.size(0) >= 1, "variance-explained: ", what, " has no rows");
  GOLGI_CHECK(!t.is_complex(), "variance-explained: ", what, " must be real, got ", t.scalar_type());
  at::Tensor r = t.detach().to(torch::kCPU, torch::kFloat64).reshape({t.size(0), -1}).contiguous();
  GOLGI_CHECK(r.size(1) >= 1, "variance-explained: ", what, " has zero dimensions per row (shape ", t.sizes(), ")");
  GOLGI_CHECK(torch::isfinite(r).all().item<bool>(), "variance-explained: ", what,
              " contains NaN or infinite values; clean or drop those rows first");
  return r;
}

// [n] or [n, 1] -> [n] float64, checked.
at::Tensor as_feature(const at::Tensor& f, int64_t rows, const char* what) {
  GOLGI_CHECK(f.defined(), "variance-explained: ", what, " is missing");
  GOLGI_CHECK(f.dim() == 1 || (f.dim() == 2 && f.size(1) == 1), "variance-explained: ", what,
              " must be [n] or [n, 1] (one feature), got ", f.sizes());
  GOLGI_CHECK(f.size(0) == rows, "variance-explained: ", what, " has ", f.size(0), " rows but its representation has ",
              rows);
  GOLGI_CHECK(!f.is_complex(), "variance-explained: ", what, " must be real, got ", f.scalar_type());
  at::Tensor v = f.detach().to(torch::kCPU, torch::kFloat64).reshape({rows}).contiguous();
  GOLGI_CHECK(torch::isfinite(v).all().item<bool>(), "variance-explained: ", what, " contains NaN or infinite values");
  return v;
}

bool all_integer(const at::Tensor& v) { return torch::equal(v, torch::round(v)); }

// The design matrix [n, columns] of feature values v for the resolved encoding.
at::Tensor design(const at::Tensor& v, const std::string& encoding, bool intercept, const std::vector<double>& categories,
                  const char* what) {
  const int64_t n = v.size(0);
  std::vector<at::Tensor> columns;
  if (intercept) columns.push_back(torch::ones({n}, torch::kFloat64));
  if (encoding == "scalar") {
    columns.push_back(v);
  } else {
    // Every value must be a known category: W* has no coefficient for an unseen one.
    at::Tensor known = torch::zeros({n}, torch::kBool);
    for (double c : categories) known = known.logical_or(v.eq(c));
    if (!known.all().item<bool>()) {
      const double unseen = v.masked_select(known.logical_not())[0].item<double>();
      GOLGI_FAIL("variance-explained: ", what, " has the category ", unseen,
                 " that the validation split never shows, so the fit has no coefficient for it; give the "
                 "validation split examples of every category (or use --encoding scalar)");
    }
    for (size_t k = intercept ? 1 : 0; k < categories.size(); ++k) columns.push_back(v.eq(categories[k]).to(torch::kFloat64));
  }
  return torch::stack(columns, 1);
}

}  // namespace

VarianceExplained variance_explained(const at::Tensor& rep_train, const at::Tensor& rep_val,
                                     const at::Tensor& feature_val, const at::Tensor& rep_test,
                                     const at::Tensor& feature_test, const VarianceExplainedOptions& options) {
  VarianceExplainedOptions::schema().validate(options);
  const at::Tensor train = as_rows(rep_train, "the training representation");
  const at::Tensor val = as_rows(rep_val, "the validation representation");
  const at::Tensor test = as_rows(rep_test, "the test representation");
  const int64_t d = train.size(1);
  GOLGI_CHECK(val.size(1) == d && test.size(1) == d, "variance-explained: the representations differ in width: train ",
              d, ", validation ", val.size(1), ", test ", test.size(1), " dimensions per row");
  const at::Tensor fv = as_feature(feature_val, val.size(0), "the validation feature");
  const at::Tensor ft = as_feature(feature_test, test.size(0), "the test feature");

  VarianceExplained out;
  out.intercept = options.intercept();
  out.encoding = options.encoding();
  if (out.encoding == "auto") out.encoding = all_integer(fv) && all_integer(ft) ? "one-hot" : "scalar";
  if (out.encoding == "one-hot") {
    GOLGI_CHECK(all_integer(fv) && all_integer(ft),
                "variance-explained: a one-hot feature must hold integer category values; use --encoding scalar for "
                "a continuous feature");
    const at::Tensor unique = std::get<0>(torch::_unique(fv, /*sorted=*/true));
    out.categories.assign(unique.data_ptr<double>(), unique.data_ptr<double>() + unique.numel());
  }

  // Centre with the training mean (the paper's φ); W* is then fitted on the validation split.
  const at::Tensor centre = train.mean(0);
  const at::Tensor y_val = val - centre, y_test = test - centre;
  const at::Tensor x_val = design(fv, out.encoding, out.intercept, out.categories, "the validation feature");
  out.columns = x_val.size(1);
  out.val_rows = val.size(0);
  out.test_rows = test.size(0);
  out.dims = d;

  // A single category: with an intercept the design would be the intercept alone (full rank, but the
  // feature plays no part), without one the same column; either way R² is not the feature's.
  GOLGI_CHECK(out.encoding != "one-hot" || out.categories.size() >= 2,
              "variance-explained: the feature is constant on the validation split (value ", fv[0].item<double>(),
              "), so it cannot explain any variance and R² is undefined; choose a validation split where the "
              "feature varies");
  // Full column rank, or R² is not defined by the feature: say why instead of returning a number.
  GOLGI_CHECK(out.columns >= 1, "variance-explained: the design has no columns (one category and no intercept)");
  GOLGI_CHECK(out.val_rows >= out.columns, "variance-explained: the validation split has ", out.val_rows,
              " rows but the design has ", out.columns, " columns; give it more rows than categories");
  const at::Tensor singular = torch::linalg_svdvals(x_val);
  const double largest = singular.max().item<double>();
  const double tolerance = largest * static_cast<double>(std::max(x_val.size(0), x_val.size(1))) *
                           std::numeric_limits<double>::epsilon();
  const int64_t rank = singular.gt(tolerance).sum().item<int64_t>();
  if (rank < out.columns) {
    const bool constant = (out.encoding == "one-hot" && out.categories.size() <= 1) ||
                          (out.encoding == "scalar" && fv.min().item<double>() == fv.max().item<double>());
    GOLGI_CHECK(!constant, "variance-explained: the feature is constant on the validation split (value ",
                fv[0].item<double>(), "), so it cannot explain any variance and R² is undefined; choose a "
                "validation split where the feature varies");
    GOLGI_FAIL("variance-explained: the validation design [", out.val_rows, " x ", out.columns, "] has rank ", rank,
               " < ", out.columns, " (collinear columns); drop the intercept or the redundant encoding");
  }
  // After the rank check, so that a constant feature is reported as such, not as unseen categories.
  const at::Tensor x_test = design(ft, out.encoding, out.intercept, out.categories, "the test feature");
  // gelsd (SVD) is the most robust LAPACK driver; the rank check above means its answer is the
  // unique least-squares solution.
  out.weights = std::get<0>(torch::linalg_lstsq(x_val, y_val, c10::nullopt, c10::string_view("gelsd")));

  out.total_ss = y_test.square().sum().item<double>();
  GOLGI_CHECK(out.total_ss > 0, "variance-explained: the test representation equals the training mean on every "
              "row, so there is no variance to explain (R² undefined)");
  out.residual_ss = (x_test.matmul(out.weights) - y_test).square().sum().item<double>();
  out.r2 = 1.0 - out.residual_ss / out.total_ss;
  const double val_total = y_val.square().sum().item<double>();
  out.r2_fit = val_total > 0 ? 1.0 - (x_val.matmul(out.weights) - y_val).square().sum().item<double>() / val_total
                             : std::numeric_limits<double>::quiet_NaN();
  return out;
}

GroupVariance::GroupVariance(int64_t groups, int64_t dims) : groups_(groups), dims_(dims) {
  GOLGI_CHECK(groups >= 1, "variance-explained: groups must be >= 1, got ", groups);
  GOLGI_CHECK(dims >= 1, "variance-explained: dims must be >= 1, got ", dims);
  sum_ = torch::zeros({groups, dims}, torch::kFloat64);
  sumsq_ = torch::zeros({dims}, torch::kFloat64);
  counts_ = torch::zeros({groups}, torch::kFloat64);
}

void GroupVariance::update(const at::Tensor& values, const at::Tensor& group) {
  GOLGI_CHECK(values.defined() && values.dim() == 2 && values.size(1) == dims_, "variance-explained: values must be [n, ",
              dims_, "], got ", values.defined() ? values.sizes() : at::IntArrayRef{});
  GOLGI_CHECK(group.defined() && group.dim() == 1 && group.size(0) == values.size(0),
              "variance-explained: groups must be [", values.size(0), "], got ",
              group.defined() ? group.sizes() : at::IntArrayRef{});
  if (values.size(0) == 0) return;
  at::Tensor v = values.detach().to(torch::kCPU, torch::kFloat64);
  GOLGI_CHECK(torch::isfinite(v).all().item<bool>(), "variance-explained: the values contain NaN or infinite entries");
  at::Tensor g64 = group.detach().to(torch::kCPU, torch::kFloat64);
  GOLGI_CHECK(torch::equal(g64, torch::round(g64)), "variance-explained: groups must be integers");
  at::Tensor g = g64.to(torch::kLong);
  GOLGI_CHECK(g.min().item<int64_t>() >= 0 && g.max().item<int64_t>() < groups_, "variance-explained: groups must lie in 0..",
              groups_ - 1, ", got ", g.min().item<int64_t>(), "..", g.max().item<int64_t>());
  // Shifting by the first batch's mean keeps Σ(h − s)² well conditioned when |mean| >> std.
  if (!shift_.defined()) shift_ = v.mean(0);
  at::Tensor c = v - shift_;
  sum_.index_add_(0, g, c);
  sumsq_ += c.square().sum(0);
  counts_.index_add_(0, g, torch::ones({g.size(0)}, torch::kFloat64));
  count_ += values.size(0);
}

at::Tensor GroupVariance::group_counts() const { return counts_.to(torch::kLong); }

at::Tensor GroupVariance::total_ss() const {
  if (count_ == 0) return torch::zeros({dims_}, torch::kFloat64);
  const at::Tensor total = sum_.sum(0);
  return (sumsq_ - total.square() / static_cast<double>(count_)).clamp_min(0.0);
}

at::Tensor GroupVariance::between_ss() const {
  if (count_ == 0) return torch::zeros({dims_}, torch::kFloat64);
  const at::Tensor present = counts_.gt(0);
  const at::Tensor n = counts_.clamp_min(1.0).unsqueeze(1);
  const at::Tensor per_group = (sum_.square() / n) * present.unsqueeze(1).to(torch::kFloat64);
  const at::Tensor total = sum_.sum(0);
  return (per_group.sum(0) - total.square() / static_cast<double>(count_)).clamp_min(0.0);
}

at::Tensor GroupVariance::variance() const {
  return count_ == 0 ? torch::full({dims_}, std::nan(""), torch::kFloat64) : total_ss() / static_cast<double>(count_);
}

at::Tensor GroupVariance::eta_squared() const {
  const at::Tensor total = total_ss(), between = between_ss();
  // between <= total in exact arithmetic; the clamp only removes rounding above 1.
  return torch::where(total.gt(0), (between / total.clamp_min(std::numeric_limits<double>::min())).clamp_max(1.0),
                      torch::full_like(total, std::nan("")));
}

double GroupVariance::pooled_eta_squared() const {
  const double total = total_ss().sum().item<double>();
  return total > 0 ? std::min(1.0, between_ss().sum().item<double>() / total) : std::nan("");
}

EtaSquared eta_squared(const at::Tensor& rep, const at::Tensor& feature) {
  const at::Tensor r = as_rows(rep, "the representation");
  const at::Tensor f = as_feature(feature, r.size(0), "the feature");
  GOLGI_CHECK(all_integer(f), "variance-explained: η² needs integer group values (a categorical feature)");
  // Groups are the distinct values, in ascending order.
  auto [unique, inverse] = [&] {
    auto u = torch::_unique(f, /*sorted=*/true, /*return_inverse=*/true);
    return std::make_pair(std::get<0>(u), std::get<1>(u));
  }();
  GroupVariance gv(unique.numel(), r.size(1));
  gv.update(r, inverse);
  return {gv.pooled_eta_squared(), gv.eta_squared()};
}

}  // namespace golgi::methods
