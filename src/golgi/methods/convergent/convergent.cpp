// Convergent learning (Li et al. 2016): correlations, alignment, mutual information, sparse
// prediction and spectral groups between two networks' units; see convergent.h.
#include "golgi/methods/convergent/convergent.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <set>

#include <torch/torch.h>

#include "golgi/core/error.h"
#include "golgi/core/progress.h"
#include "golgi/core/seed.h"
#include "golgi/data/dataset.h"
#include "golgi/hooks/activation_cache.h"
#include "golgi/models/model.h"

namespace golgi::methods {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::vector<double> to_vector(const at::Tensor& t) {
  at::Tensor c = t.to(torch::kDouble).contiguous();
  return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}

void check_samples(const at::Tensor& x, const char* what) {
  GOLGI_CHECK(x.defined() && x.dim() == 2, what, " must be a [samples, units] matrix, got ",
              x.defined() ? std::to_string(x.dim()) + " dimensions" : std::string("an undefined tensor"));
  GOLGI_CHECK(x.size(0) >= 2, what, " has ", x.size(0), " samples; correlations need at least 2");
  GOLGI_CHECK(x.is_floating_point(), what, " must be a float tensor");
}

// Centred columns and their norms (double).
std::pair<at::Tensor, at::Tensor> centred(const at::Tensor& x, at::Tensor* dead) {
  at::Tensor xd = x.to(torch::kDouble);
  at::Tensor mean = xd.mean(0);
  at::Tensor xc = xd - mean;
  at::Tensor norm = xc.pow(2).sum(0).sqrt();
  const double root_s = std::sqrt(static_cast<double>(x.size(0)));
  *dead = (norm / root_s).le(1e-10 * (1 + mean.abs()));
  return {xc, norm};
}

double mean_of(const std::vector<double>& v) {
  double sum = 0;
  int64_t n = 0;
  for (double x : v)
    if (std::isfinite(x)) {
      sum += x;
      ++n;
    }
  return n ? sum / n : kNaN;
}

// Solves a [n, n] w = b by Gaussian elimination with partial pivoting; a tiny ridge keeps
// duplicated (perfectly correlated) inputs solvable.
std::vector<double> solve_small(std::vector<double> a, std::vector<double> b, int64_t n) {
  for (int64_t i = 0; i < n; ++i) a[i * n + i] += 1e-10;
  for (int64_t col = 0; col < n; ++col) {
    int64_t pivot = col;
    for (int64_t r = col + 1; r < n; ++r)
      if (std::abs(a[r * n + col]) > std::abs(a[pivot * n + col])) pivot = r;
    if (pivot != col) {
      for (int64_t k = 0; k < n; ++k) std::swap(a[col * n + k], a[pivot * n + k]);
      std::swap(b[col], b[pivot]);
    }
    const double p = a[col * n + col];
    if (std::abs(p) < 1e-300) continue;
    for (int64_t r = col + 1; r < n; ++r) {
      const double f = a[r * n + col] / p;
      if (f == 0) continue;
      for (int64_t k = col; k < n; ++k) a[r * n + k] -= f * a[col * n + k];
      b[r] -= f * b[col];
    }
  }
  std::vector<double> w(n, 0.0);
  for (int64_t i = n - 1; i >= 0; --i) {
    double s = b[i];
    for (int64_t k = i + 1; k < n; ++k) s -= a[i * n + k] * w[k];
    w[i] = std::abs(a[i * n + i]) < 1e-300 ? 0.0 : s / a[i * n + i];
  }
  return w;
}

}  // namespace

const OptionSchema<ConvergentOptions>& ConvergentOptions::schema() {
  static const auto schema =
      OptionSchema<ConvergentOptions>("convergent")
          .add("bins", &ConvergentOptions::bins_, "percentile bins per axis of the mutual-information histogram",
               between<int64_t>(2, 1024))
          .add("penalties", &ConvergentOptions::penalties_, "lasso penalties in the sweep (1 down to penalty_min)",
               between<int64_t>(2, 1000))
          .add("penalty_min", &ConvergentOptions::penalty_min_, "smallest lasso penalty (on standardised units)",
               between(1e-9, 1.0))
          .add("max_nonzero", &ConvergentOptions::max_nonzero_, "sparsity budget: non-zero weights per target unit",
               at_least<int64_t>(1))
          .add("lasso_iterations", &ConvergentOptions::lasso_iterations_, "coordinate-descent sweeps per penalty",
               at_least<int64_t>(1))
          .add("lasso_tolerance", &ConvergentOptions::lasso_tolerance_, "stop when no weight moves more than this",
               at_least(0.0, /*inclusive=*/false))
          .add("clusters", &ConvergentOptions::clusters_,
               "spectral groups over both models' units (0: max(2, units / 8); -1: no clustering)",
               at_least<int64_t>(-1))
          .add("kmeans_restarts", &ConvergentOptions::kmeans_restarts_, "k-means restarts", at_least<int64_t>(1))
          .add("seed", &ConvergentOptions::seed_, "seed of the k-means starts", at_least<int64_t>(0))
          .add("mutual_information", &ConvergentOptions::mutual_information_, "compute matched units' mutual information")
          .add("sparse_prediction", &ConvergentOptions::sparse_prediction_, "fit the sparse (lasso) prediction sweep");
  return schema;
}

const OptionSchema<RecordOptions>& RecordOptions::schema() {
  static const auto schema =
      OptionSchema<RecordOptions>("convergent_record")
          .add("batch_size", &RecordOptions::batch_size_, "images per forward pass", at_least<int64_t>(1))
          .add("max_samples", &RecordOptions::max_samples_,
               "rows (image x position samples) kept per hook, about (0: all)", at_least<int64_t>(0))
          .add("seed", &RecordOptions::seed_, "seed of the kept positions", at_least<int64_t>(0));
  return schema;
}

at::Tensor unit_samples(const at::Tensor& activation) {
  GOLGI_CHECK(activation.defined(), "unit_samples: the activation is undefined");
  switch (activation.dim()) {
    case 2: return activation;
    case 3: return activation.reshape({-1, activation.size(2)});
    case 4: return activation.permute({0, 2, 3, 1}).reshape({-1, activation.size(1)});
    default:
      throw Error("unit_samples: expected an activation [N, C], [N, P, C] or [N, C, H, W], got " +
                  std::to_string(activation.dim()) + " dimensions");
  }
}

at::Tensor dead_units(const at::Tensor& x) {
  check_samples(x, "dead_units: x");
  at::Tensor dead;
  centred(x, &dead);
  return dead;
}

at::Tensor cross_correlation(const at::Tensor& x, const at::Tensor& y) {
  check_samples(x, "cross_correlation: x");
  check_samples(y, "cross_correlation: y");
  GOLGI_CHECK(x.size(0) == y.size(0), "cross_correlation: x has ", x.size(0), " samples and y ", y.size(0),
              "; the rows must be the same inputs");
  at::Tensor dead_x, dead_y;
  auto [xc, nx] = centred(x, &dead_x);
  auto [yc, ny] = centred(y, &dead_y);
  at::Tensor denom = nx.unsqueeze(1) * ny.unsqueeze(0);
  at::Tensor corr = xc.t().matmul(yc) / denom;
  at::Tensor zero = dead_x.unsqueeze(1).logical_or(dead_y.unsqueeze(0));
  corr = corr.masked_fill(zero, 0.0).clamp(-1.0, 1.0);
  return corr;
}

at::Tensor correlation_matrix(const at::Tensor& x) {
  at::Tensor corr = cross_correlation(x, x);
  at::Tensor live = dead_units(x).logical_not().to(torch::kDouble);
  corr.diagonal().copy_(live);
  return corr;
}

double mutual_information(const at::Tensor& x, const at::Tensor& y, int64_t bins) {
  GOLGI_CHECK(bins >= 2, "mutual_information: bins must be >= 2, got ", bins);
  GOLGI_CHECK(x.defined() && y.defined() && x.dim() == 1 && y.dim() == 1 && x.numel() == y.numel(),
              "mutual_information: x and y must be 1-D with the same length");
  const int64_t n = x.numel();
  GOLGI_CHECK(n >= 2, "mutual_information: need at least 2 samples, got ", n);
  auto bin_of = [&](const std::vector<double>& v) {
    std::vector<double> sorted = v;
    std::sort(sorted.begin(), sorted.end());
    // Interior edges at the k/b percentiles; a value's bin is the number of edges <= it.
    std::vector<double> edges;
    for (int64_t k = 1; k < bins; ++k) edges.push_back(sorted[static_cast<size_t>(k * n / bins)]);
    std::vector<int64_t> out(v.size());
    for (size_t i = 0; i < v.size(); ++i)
      out[i] = std::upper_bound(edges.begin(), edges.end(), v[i]) - edges.begin();
    return out;
  };
  const std::vector<double> xv = to_vector(x), yv = to_vector(y);
  for (size_t i = 0; i < xv.size(); ++i)
    GOLGI_CHECK(std::isfinite(xv[i]) && std::isfinite(yv[i]), "mutual_information: sample ", i, " is not finite");
  const auto bx = bin_of(xv), by = bin_of(yv);
  std::vector<int64_t> joint(bins * bins, 0), px(bins, 0), py(bins, 0);
  for (int64_t i = 0; i < n; ++i) {
    ++joint[bx[i] * bins + by[i]];
    ++px[bx[i]];
    ++py[by[i]];
  }
  auto entropy = [&](const std::vector<int64_t>& counts, int64_t* occupied) {
    double h = 0;
    *occupied = 0;
    for (auto c : counts)
      if (c > 0) {
        const double p = static_cast<double>(c) / n;
        h -= p * std::log2(p);
        ++*occupied;
      }
    return h;
  };
  int64_t mx = 0, my = 0, mxy = 0;
  const double hx = entropy(px, &mx), hy = entropy(py, &my), hxy = entropy(joint, &mxy);
  const double correction = static_cast<double>(mx + my - mxy - 1) / (2.0 * n * std::log(2.0));
  return hx + hy - hxy + correction;
}

int64_t lasso_gram(const std::vector<double>& gram, const std::vector<double>& c, int64_t n, double lambda,
                   std::vector<double>& w, int64_t max_sweeps, double tolerance) {
  GOLGI_CHECK(static_cast<int64_t>(gram.size()) == n * n && static_cast<int64_t>(c.size()) == n &&
                  static_cast<int64_t>(w.size()) == n,
              "lasso_gram: expected gram [", n, ", ", n, "], c [", n, "] and w [", n, "]");
  GOLGI_CHECK(lambda >= 0, "lasso_gram: lambda must be >= 0, got ", lambda);
  // g = c - R w, kept up to date so each coordinate update costs O(n) only when it moves.
  std::vector<double> g(c);
  for (int64_t j = 0; j < n; ++j)
    if (w[j] != 0)
      for (int64_t i = 0; i < n; ++i) g[i] -= gram[i * n + j] * w[j];
  int64_t sweep = 0;
  while (sweep < max_sweeps) {
    ++sweep;
    double largest = 0;
    for (int64_t j = 0; j < n; ++j) {
      const double rjj = gram[j * n + j];
      if (rjj <= 0) continue;
      const double z = g[j] + rjj * w[j];
      const double next = (z > lambda ? z - lambda : z < -lambda ? z + lambda : 0.0) / rjj;
      const double delta = next - w[j];
      if (delta == 0) continue;
      w[j] = next;
      for (int64_t i = 0; i < n; ++i) g[i] -= gram[i * n + j] * delta;
      largest = std::max(largest, std::abs(delta));
    }
    if (largest <= tolerance) break;
  }
  return sweep;
}

Json SparsePrediction::to_json() const {
  auto finite_or_null = [](const std::vector<double>& v) {
    Json out = Json::array();
    for (double x : v) out.push_back(std::isfinite(x) ? Json(x) : Json(nullptr));
    return out;
  };
  return {{"penalties", penalties},
          {"mean_nonzero", mean_nonzero},
          {"mean_nmse", mean_nmse},
          {"max_nonzero", max_nonzero},
          {"live_targets", live_targets},
          {"mean_nmse_at_budget", mean_nmse_at_budget},
          {"mean_refit_nmse_at_budget", mean_refit_nmse_at_budget},
          {"nmse_at_budget", finite_or_null(nmse_at_budget)},
          {"refit_nmse_at_budget", finite_or_null(refit_nmse_at_budget)},
          {"nonzero_at_budget", nonzero_at_budget}};
}

SparsePrediction sparse_prediction(const at::Tensor& corr_aa, const at::Tensor& corr_ab, const ConvergentOptions& options,
                                   const at::Tensor& dead_targets) {
  ConvergentOptions::schema().validate(options);
  GOLGI_CHECK(corr_aa.dim() == 2 && corr_aa.size(0) == corr_aa.size(1), "sparse_prediction: corr_aa must be square");
  GOLGI_CHECK(corr_ab.dim() == 2 && corr_ab.size(0) == corr_aa.size(0),
              "sparse_prediction: corr_ab must be [", corr_aa.size(0), ", targets]");
  const int64_t n = corr_aa.size(0), targets = corr_ab.size(1);
  GOLGI_CHECK(!dead_targets.defined() || dead_targets.numel() == targets, "sparse_prediction: dead_targets must have ",
              targets, " entries");
  const std::vector<double> gram = to_vector(corr_aa), cab = to_vector(corr_ab);
  std::vector<bool> dead(targets, false);
  if (dead_targets.defined()) {
    at::Tensor d = dead_targets.to(torch::kBool).contiguous();
    for (int64_t j = 0; j < targets; ++j) dead[j] = d.data_ptr<bool>()[j];
  }
  SparsePrediction out;
  out.max_nonzero = options.max_nonzero();
  const int64_t p_count = options.penalties();
  for (int64_t p = 0; p < p_count; ++p)
    out.penalties.push_back(std::exp(std::log(options.penalty_min()) * p / (p_count - 1)));
  out.mean_nonzero.assign(p_count, 0.0);
  out.mean_nmse.assign(p_count, 0.0);
  out.nmse_at_budget.assign(targets, kNaN);
  out.refit_nmse_at_budget.assign(targets, kNaN);
  out.nonzero_at_budget.assign(targets, -1);
  for (int64_t j = 0; j < targets; ++j) {
    if (dead[j]) continue;
    ++out.live_targets;
    std::vector<double> c(n), w(n, 0.0);
    for (int64_t i = 0; i < n; ++i) c[i] = cab[i * targets + j];
    double best = std::numeric_limits<double>::infinity(), best_refit = best;
    int64_t best_nonzero = 0;
    for (int64_t p = 0; p < p_count; ++p) {
      lasso_gram(gram, c, n, out.penalties[p], w, options.lasso_iterations(), options.lasso_tolerance());
      // nmse = 1 - 2 c^T w + w^T R w (the target is standardised: variance 1).
      double cw = 0, wrw = 0;
      std::vector<int64_t> support;
      for (int64_t i = 0; i < n; ++i) {
        if (w[i] == 0) continue;
        support.push_back(i);
        cw += c[i] * w[i];
        for (int64_t k = 0; k < n; ++k) wrw += w[i] * gram[i * n + k] * w[k];
      }
      const double nmse = 1 - 2 * cw + wrw;
      const int64_t nonzero = static_cast<int64_t>(support.size());
      out.mean_nonzero[p] += nonzero;
      out.mean_nmse[p] += nmse;
      if (nonzero <= out.max_nonzero) {
        const int64_t s = nonzero;
        std::vector<double> rss(s * s), cs(s);
        for (int64_t a = 0; a < s; ++a) {
          cs[a] = c[support[a]];
          for (int64_t b = 0; b < s; ++b) rss[a * s + b] = gram[support[a] * n + support[b]];
        }
        const std::vector<double> ws = solve_small(rss, cs, s);
        double refit = 1;
        for (int64_t a = 0; a < s; ++a) refit -= cs[a] * ws[a];
        if (nmse < best) {
          best = nmse;
          best_nonzero = nonzero;
        }
        best_refit = std::min(best_refit, refit);
      }
    }
    // The first grid point (lambda = 1 >= max |c|) always has no weight, so both are finite.
    out.nmse_at_budget[j] = best;
    out.refit_nmse_at_budget[j] = best_refit;
    out.nonzero_at_budget[j] = best_nonzero;
  }
  if (out.live_targets > 0)
    for (int64_t p = 0; p < p_count; ++p) {
      out.mean_nonzero[p] /= out.live_targets;
      out.mean_nmse[p] /= out.live_targets;
    }
  out.mean_nmse_at_budget = mean_of(out.nmse_at_budget);
  out.mean_refit_nmse_at_budget = mean_of(out.refit_nmse_at_budget);
  return out;
}

std::vector<int64_t> kmeans(const std::vector<double>& points, int64_t n, int64_t d, int64_t k, uint64_t seed,
                            int64_t restarts) {
  GOLGI_CHECK(static_cast<int64_t>(points.size()) == n * d, "kmeans: points must be [", n, ", ", d, "]");
  GOLGI_CHECK(k >= 1 && k <= n, "kmeans: k must be in [1, ", n, "], got ", k);
  GOLGI_CHECK(restarts >= 1, "kmeans: restarts must be >= 1, got ", restarts);
  auto dist2 = [&](const double* a, const double* b) {
    double s = 0;
    for (int64_t t = 0; t < d; ++t) s += (a[t] - b[t]) * (a[t] - b[t]);
    return s;
  };
  std::vector<int64_t> best_labels(n, 0);
  double best_inertia = std::numeric_limits<double>::infinity();
  for (int64_t r = 0; r < restarts; ++r) {
    SplitMix64 rng(derive_seed(seed, "convergent/kmeans", static_cast<uint64_t>(r)));
    // k-means++ (Arthur & Vassilvitskii 2007): each next centre drawn with probability ~ D(x)^2.
    std::vector<double> centres;
    const int64_t first = static_cast<int64_t>(rng.below(static_cast<uint64_t>(n)));
    centres.insert(centres.end(), points.begin() + first * d, points.begin() + (first + 1) * d);
    std::vector<double> nearest(n);
    for (int64_t i = 0; i < n; ++i) nearest[i] = dist2(&points[i * d], &centres[0]);
    for (int64_t c = 1; c < k; ++c) {
      const double total = std::accumulate(nearest.begin(), nearest.end(), 0.0);
      int64_t pick = static_cast<int64_t>(rng.below(static_cast<uint64_t>(n)));
      if (total > 0) {
        double u = rng.uniform() * total;
        for (int64_t i = 0; i < n; ++i) {
          u -= nearest[i];
          if (u <= 0 && nearest[i] > 0) {
            pick = i;
            break;
          }
        }
      }
      centres.insert(centres.end(), points.begin() + pick * d, points.begin() + (pick + 1) * d);
      for (int64_t i = 0; i < n; ++i) nearest[i] = std::min(nearest[i], dist2(&points[i * d], &centres[c * d]));
    }
    std::vector<int64_t> labels(n, -1);
    double inertia = 0;
    for (int iteration = 0; iteration < 300; ++iteration) {
      bool changed = false;
      inertia = 0;
      for (int64_t i = 0; i < n; ++i) {
        int64_t arg = 0;
        double best = dist2(&points[i * d], &centres[0]);
        for (int64_t c = 1; c < k; ++c) {
          const double dc = dist2(&points[i * d], &centres[c * d]);
          if (dc < best) {
            best = dc;
            arg = c;
          }
        }
        changed |= labels[i] != arg;
        labels[i] = arg;
        inertia += best;
      }
      if (!changed) break;
      std::vector<double> sums(k * d, 0.0);
      std::vector<int64_t> counts(k, 0);
      for (int64_t i = 0; i < n; ++i) {
        ++counts[labels[i]];
        for (int64_t t = 0; t < d; ++t) sums[labels[i] * d + t] += points[i * d + t];
      }
      for (int64_t c = 0; c < k; ++c)
        if (counts[c] > 0)  // an empty cluster keeps its centre
          for (int64_t t = 0; t < d; ++t) centres[c * d + t] = sums[c * d + t] / counts[c];
    }
    if (inertia < best_inertia) {
      best_inertia = inertia;
      best_labels = labels;
    }
  }
  return best_labels;
}

std::vector<int64_t> spectral_clustering(const at::Tensor& affinity, int64_t k, uint64_t seed, int64_t restarts) {
  GOLGI_CHECK(affinity.defined() && affinity.dim() == 2 && affinity.size(0) == affinity.size(1),
              "spectral_clustering: the affinity must be a square matrix");
  const int64_t n = affinity.size(0);
  at::Tensor w = affinity.to(torch::kDouble).clone();
  GOLGI_CHECK(torch::isfinite(w).all().item<bool>(), "spectral_clustering: the affinity has non-finite entries");
  GOLGI_CHECK(w.ge(0).all().item<bool>(), "spectral_clustering: the affinity must be non-negative (use |corr|)");
  w.fill_diagonal_(0.0);
  w = (w + w.t()) / 2;
  at::Tensor degree = w.sum(1);
  at::Tensor live = degree.gt(1e-12);
  const int64_t n_live = live.sum().item<int64_t>();
  GOLGI_CHECK(k >= 1 && k <= n_live, "spectral_clustering: k must be in [1, ", n_live, "] (nodes with affinity), got ",
              k);
  at::Tensor index = live.nonzero().squeeze(1);
  at::Tensor wl = w.index_select(0, index).index_select(1, index);
  at::Tensor inv_sqrt = degree.index_select(0, index).rsqrt();
  at::Tensor m = inv_sqrt.unsqueeze(1) * wl * inv_sqrt.unsqueeze(0);
  at::Tensor laplacian = torch::eye(n_live, torch::kDouble) - m;
  auto [values, vectors] = at::linalg_eigh(laplacian);
  at::Tensor u = vectors.narrow(1, 0, k).contiguous();
  u = u / u.norm(2, 1, true).clamp_min(1e-300);
  const std::vector<int64_t> labels_live = kmeans(to_vector(u), n_live, k, k, seed, restarts);
  std::vector<int64_t> labels(n, -1);
  at::Tensor idx = index.contiguous();
  for (int64_t t = 0; t < n_live; ++t) labels[idx.data_ptr<int64_t>()[t]] = labels_live[t];
  return labels;
}

UnitComparison compare_units(const at::Tensor& a, const at::Tensor& b, const ConvergentOptions& options) {
  ConvergentOptions::schema().validate(options);
  check_samples(a, "compare_units: a");
  check_samples(b, "compare_units: b");
  GOLGI_CHECK(a.size(0) == b.size(0), "compare_units: a has ", a.size(0), " samples and b ", b.size(0),
              "; record both models on the same data with the same options");
  GOLGI_CHECK(a.size(1) >= 1 && b.size(1) >= 1, "compare_units: both models need at least one unit");
  UnitComparison r;
  r.units_a = a.size(1);
  r.units_b = b.size(1);
  r.samples = a.size(0);
  r.corr_aa = correlation_matrix(a);
  r.corr_bb = correlation_matrix(b);
  r.corr_ab = cross_correlation(a, b);
  r.dead_a = dead_units(a);
  r.dead_b = dead_units(b);
  const std::vector<double> ab = to_vector(r.corr_ab), aa = to_vector(r.corr_aa);
  const int64_t na = r.units_a, nb = r.units_b;
  r.matching = analysis::linear_assignment(ab, na, nb, /*maximize=*/true);
  r.semi_match = analysis::row_argmax(ab, na, nb);
  r.matched_corr.assign(na, kNaN);
  r.semi_corr.assign(na, kNaN);
  r.within_max_a.assign(na, kNaN);
  for (int64_t i = 0; i < na; ++i) {
    if (r.matching.row_to_col[i] >= 0) r.matched_corr[i] = ab[i * nb + r.matching.row_to_col[i]];
    r.semi_corr[i] = ab[i * nb + r.semi_match[i]];
    for (int64_t k = 0; k < na; ++k)
      if (k != i && !(aa[i * na + k] <= r.within_max_a[i])) r.within_max_a[i] = aa[i * na + k];
  }
  if (na == nb) r.cycles = analysis::permutation_cycles(r.matching.row_to_col);
  r.mean_matched_corr = mean_of(r.matched_corr);
  r.mean_semi_corr = mean_of(r.semi_corr);
  r.mean_within_max_a = mean_of(r.within_max_a);
  if (options.mutual_information()) {
    r.matched_mi.assign(na, kNaN);
    for (int64_t i = 0; i < na; ++i)
      if (r.matching.row_to_col[i] >= 0)
        r.matched_mi[i] = mutual_information(a.select(1, i), b.select(1, r.matching.row_to_col[i]), options.bins());
    r.mean_matched_mi = mean_of(r.matched_mi);
  }
  if (options.sparse_prediction()) {
    r.sparse = sparse_prediction(r.corr_aa, r.corr_ab, options, r.dead_b);
    r.has_sparse = true;
  }
  if (options.clusters() >= 0) {
    at::Tensor joint = torch::cat({torch::cat({r.corr_aa, r.corr_ab}, 1), torch::cat({r.corr_ab.t(), r.corr_bb}, 1)}, 0);
    at::Tensor affinity = joint.abs();
    affinity.fill_diagonal_(0.0);
    const int64_t live = affinity.sum(1).gt(1e-12).sum().item<int64_t>();
    int64_t k = options.clusters() > 0 ? options.clusters() : std::max<int64_t>(2, (na + nb) / 8);
    k = std::min(k, live);
    if (k >= 1) {
      r.groups = spectral_clustering(affinity, k, static_cast<uint64_t>(options.seed()), options.kmeans_restarts());
      r.clusters = k;
    }
  }
  return r;
}

Json UnitComparison::to_json() const {
  auto list = [](const std::vector<double>& v) {
    Json out = Json::array();
    for (double x : v) out.push_back(std::isfinite(x) ? Json(x) : Json(nullptr));
    return out;
  };
  auto finite = [](double x) { return std::isfinite(x) ? Json(x) : Json(nullptr); };
  Json j = {{"units_a", units_a},
            {"units_b", units_b},
            {"samples", samples},
            {"dead_a", dead_a.defined() ? dead_a.sum().item<int64_t>() : 0},
            {"dead_b", dead_b.defined() ? dead_b.sum().item<int64_t>() : 0},
            {"mean_matched_corr", finite(mean_matched_corr)},
            {"mean_semi_corr", finite(mean_semi_corr)},
            {"mean_within_max_a", finite(mean_within_max_a)},
            {"matching_total", matching.total},
            {"matching", matching.row_to_col},
            {"matched_corr", list(matched_corr)},
            {"semi_match", semi_match},
            {"semi_corr", list(semi_corr)},
            {"within_max_a", list(within_max_a)}};
  // Distinct B units the semi-matching uses (the paper's count of units matched by several).
  j["semi_match_distinct"] = std::set<int64_t>(semi_match.begin(), semi_match.end()).size();
  if (!cycles.empty() || units_a == units_b) {
    Json lengths = Json::array();
    for (const auto& c : cycles) lengths.push_back(c.size());
    j["cycles"] = cycles;
    j["cycle_lengths"] = lengths;
  }
  if (!matched_mi.empty()) {
    j["matched_mi_bits"] = list(matched_mi);
    j["mean_matched_mi_bits"] = finite(mean_matched_mi);
  }
  if (has_sparse) j["sparse_prediction"] = sparse.to_json();
  if (!groups.empty()) {
    j["clusters"] = clusters;
    j["groups"] = groups;
    // Per group: how many of A's and of B's units it holds.
    std::vector<int64_t> in_a(clusters, 0), in_b(clusters, 0);
    for (int64_t i = 0; i < static_cast<int64_t>(groups.size()); ++i)
      if (groups[i] >= 0) ++(i < units_a ? in_a : in_b)[groups[i]];
    j["group_sizes_a"] = in_a;
    j["group_sizes_b"] = in_b;
  }
  return j;
}

std::map<std::string, at::Tensor> record_unit_samples(models::Model& model, const data::Dataset& data,
                                                      const std::vector<std::string>& hooks,
                                                      const RecordOptions& options) {
  RecordOptions::schema().validate(options);
  GOLGI_CHECK(!hooks.empty(), "record_unit_samples: name at least one hook point (e.g. conv1.hook_post)");
  const int64_t images = data.size();
  GOLGI_CHECK(images >= 1, "record_unit_samples: the dataset is empty");
  hooks::ActivationCache cache(model, hooks, hooks::CacheOptions().stop_after_last(true));
  const std::set<std::string> wanted(hooks.begin(), hooks.end());
  for (const auto& name : cache.names())
    GOLGI_CHECK(wanted.count(name), "record_unit_samples: '", name,
                "' was selected by a pattern; give exact hook point names (golgi info lists them)");
  GOLGI_CHECK(cache.names().size() == wanted.size(), "record_unit_samples: some hook names are repeated");
  model.eval();
  torch::NoGradGuard no_grad;
  std::map<std::string, std::vector<at::Tensor>> parts;
  Progress progress("record " + model.architecture(), images, "img");
  for (int64_t begin = 0; begin < images; begin += options.batch_size()) {
    const int64_t end = std::min(images, begin + options.batch_size());
    const data::Batch batch = data.range(begin, end);
    cache.run([&] { return model.forward(batch.inputs); });
    const int64_t count = end - begin;
    for (const auto& name : cache.names()) {
      at::Tensor samples = unit_samples(cache[name]);
      const int64_t positions = samples.size(0) / count;
      GOLGI_ASSERT(positions * count == samples.size(0), "record_unit_samples: uneven positions");
      const int64_t keep = options.max_samples() == 0
                               ? positions
                               : std::min(positions, (options.max_samples() + images - 1) / images);
      if (keep < positions) {
        // The kept positions depend only on (seed, image index, positions): every model gets the same.
        std::vector<int64_t> rows;
        rows.reserve(count * keep);
        for (int64_t t = 0; t < count; ++t) {
          const auto order = permutation(positions, derive_seed(static_cast<uint64_t>(options.seed()),
                                                                "convergent/positions", static_cast<uint64_t>(begin + t)));
          std::vector<int64_t> chosen(order.begin(), order.begin() + keep);
          std::sort(chosen.begin(), chosen.end());
          for (auto p : chosen) rows.push_back(t * positions + p);
        }
        samples = samples.index_select(0, torch::tensor(rows, torch::kLong));
      }
      parts[name].push_back(samples.to(torch::kFloat).contiguous());
    }
    progress.advance(count);
  }
  progress.finish();
  std::map<std::string, at::Tensor> out;
  for (auto& [name, list] : parts) out[name] = torch::cat(list, 0);
  return out;
}

}  // namespace golgi::methods
