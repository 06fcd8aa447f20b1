#include "golgi/analysis/kmeans.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include <torch/torch.h>

#include "golgi/core/error.h"
#include "golgi/core/seed.h"

namespace golgi::analysis {

const OptionSchema<KMeansOptions>& KMeansOptions::schema() {
  static const auto schema =
      OptionSchema<KMeansOptions>("kmeans")
          .add("clusters", &KMeansOptions::clusters_, "k, the number of clusters", at_least<int64_t>(1))
          .add("n_init", &KMeansOptions::n_init_, "k-means++ seedings tried; the lowest inertia is kept",
               at_least<int64_t>(1))
          .add("max_iter", &KMeansOptions::max_iter_, "Lloyd iterations at most", at_least<int64_t>(1))
          .add("tol", &KMeansOptions::tol_, "centroid-shift tolerance relative to the mean feature variance",
               at_least(0.0))
          .add("seed", &KMeansOptions::seed_, "seed of the k-means++ seeding", at_least<int64_t>(0));
  return schema;
}

Json KMeansResult::to_json() const {
  return {{"clusters", centroids.defined() ? centroids.size(0) : 0},
          {"inertia", inertia},
          {"iterations", iterations},
          {"converged", converged}};
}

namespace {

// Row-major float64 copy of a matrix, checked.
struct Matrix {
  int64_t rows = 0, cols = 0;
  std::vector<double> data;
  const double* row(int64_t i) const { return data.data() + i * cols; }
  double* row(int64_t i) { return data.data() + i * cols; }
};

Matrix to_matrix(const at::Tensor& t, const char* what) {
  GOLGI_CHECK(t.defined() && t.dim() == 2, what, " must be a matrix [points, features], got ",
              t.defined() ? t.dim() : 0, " dimensions");
  at::Tensor x = t.to(torch::kCPU).to(torch::kDouble).contiguous();
  GOLGI_CHECK(torch::isfinite(x).all().item<bool>(), what, " contains NaN or infinite entries");
  Matrix m;
  m.rows = x.size(0);
  m.cols = x.size(1);
  m.data.assign(x.data_ptr<double>(), x.data_ptr<double>() + x.numel());
  return m;
}

at::Tensor to_tensor(const Matrix& m) {
  return torch::from_blob(const_cast<double*>(m.data.data()), {m.rows, m.cols}, torch::kDouble).clone();
}

double squared_distance(const double* a, const double* b, int64_t d) {
  double s = 0;
  for (int64_t j = 0; j < d; ++j) {
    const double t = a[j] - b[j];
    s += t * t;
  }
  return s;
}

// Nearest centroid of each point (ties: lowest index) and its squared distance.
void assign(const Matrix& X, const Matrix& C, std::vector<int64_t>& labels, std::vector<double>& dist) {
  for (int64_t i = 0; i < X.rows; ++i) {
    double best = std::numeric_limits<double>::infinity();
    int64_t arg = 0;
    for (int64_t c = 0; c < C.rows; ++c) {
      const double s = squared_distance(X.row(i), C.row(c), X.cols);
      if (s < best) {
        best = s;
        arg = c;
      }
    }
    labels[i] = arg;
    dist[i] = best;
  }
}

Matrix plus_plus(const Matrix& X, int64_t k, uint64_t seed) {
  SplitMix64 rng(seed);
  const int64_t n = X.rows, d = X.cols;
  Matrix C;
  C.rows = k;
  C.cols = d;
  C.data.assign(k * d, 0.0);
  const int64_t first = static_cast<int64_t>(rng.below(static_cast<uint64_t>(n)));
  std::copy(X.row(first), X.row(first) + d, C.row(0));
  std::vector<double> closest(n);
  for (int64_t i = 0; i < n; ++i) closest[i] = squared_distance(X.row(i), C.row(0), d);
  const int64_t trials = 2 + static_cast<int64_t>(std::log(static_cast<double>(k)));
  std::vector<double> candidate_closest(n), best_closest(n);
  for (int64_t c = 1; c < k; ++c) {
    double potential = 0;
    for (double v : closest) potential += v;
    double best_potential = std::numeric_limits<double>::infinity();
    int64_t best_index = 0;
    for (int64_t t = 0; t < trials; ++t) {
      // Sample ∝ D²; when every point coincides with a centre (potential 0) fall back to uniform.
      int64_t pick = 0;
      if (potential > 0) {
        const double target = rng.uniform() * potential;
        double cumulative = 0;
        pick = n - 1;
        for (int64_t i = 0; i < n; ++i) {
          cumulative += closest[i];
          if (cumulative > target) {
            pick = i;
            break;
          }
        }
      } else {
        pick = static_cast<int64_t>(rng.below(static_cast<uint64_t>(n)));
      }
      double p = 0;
      for (int64_t i = 0; i < n; ++i) {
        candidate_closest[i] = std::min(closest[i], squared_distance(X.row(i), X.row(pick), d));
        p += candidate_closest[i];
      }
      if (p < best_potential) {
        best_potential = p;
        best_index = pick;
        best_closest.swap(candidate_closest);
      }
    }
    std::copy(X.row(best_index), X.row(best_index) + d, C.row(c));
    closest = best_closest;
  }
  return C;
}

struct Run {
  Matrix centroids;
  std::vector<int64_t> labels;
  double inertia = 0;
  int64_t iterations = 0;
  bool converged = false;
};

Run lloyd(const Matrix& X, Matrix C, int64_t max_iter, double tol) {
  const int64_t n = X.rows, d = X.cols, k = C.rows;
  std::vector<int64_t> labels(n, -1), previous(n, -1);
  std::vector<double> dist(n);
  std::vector<int64_t> counts(k);
  Run run;
  for (int64_t it = 0; it < max_iter; ++it) {
    assign(X, C, labels, dist);
    run.iterations = it + 1;
    if (labels == previous) {  // strict convergence: the centroids below would not move
      run.converged = true;
      break;
    }
    previous = labels;
    Matrix next = C;
    std::fill(next.data.begin(), next.data.end(), 0.0);
    std::fill(counts.begin(), counts.end(), 0);
    for (int64_t i = 0; i < n; ++i) {
      ++counts[labels[i]];
      double* row = next.row(labels[i]);
      for (int64_t j = 0; j < d; ++j) row[j] += X.row(i)[j];
    }
    // Empty clusters take the points farthest from their centroids, farthest first.
    std::vector<int64_t> far(n);
    bool any_empty = false;
    for (int64_t c = 0; c < k; ++c) any_empty = any_empty || counts[c] == 0;
    if (any_empty) {
      for (int64_t i = 0; i < n; ++i) far[i] = i;
      std::stable_sort(far.begin(), far.end(), [&](int64_t a, int64_t b) { return dist[a] > dist[b]; });
      int64_t next_far = 0;
      for (int64_t c = 0; c < k; ++c) {
        if (counts[c] != 0) continue;
        const int64_t i = far[next_far++];
        const int64_t old = labels[i];
        double* from = next.row(old);
        for (int64_t j = 0; j < d; ++j) from[j] -= X.row(i)[j];
        --counts[old];
        std::copy(X.row(i), X.row(i) + d, next.row(c));
        counts[c] = 1;
        labels[i] = c;
      }
    }
    for (int64_t c = 0; c < k; ++c) {
      double* row = next.row(c);
      // A donor cluster emptied by relocation keeps its old centroid.
      if (counts[c] == 0) {
        std::copy(C.row(c), C.row(c) + d, row);
        continue;
      }
      for (int64_t j = 0; j < d; ++j) row[j] /= static_cast<double>(counts[c]);
    }
    double shift = 0;
    for (int64_t c = 0; c < k; ++c) shift += squared_distance(C.row(c), next.row(c), d);
    C = std::move(next);
    if (shift <= tol) {
      run.converged = true;
      break;
    }
  }
  // Labels and inertia of the centroids actually returned.
  assign(X, C, labels, dist);
  run.labels = labels;
  run.inertia = 0;
  for (double v : dist) run.inertia += v;
  run.centroids = std::move(C);
  return run;
}

// scikit-learn's tolerance scale: tol times the mean variance of the features.
double scaled_tolerance(const Matrix& X, double tol) {
  if (tol == 0) return 0;
  double total = 0;
  for (int64_t j = 0; j < X.cols; ++j) {
    double mean = 0;
    for (int64_t i = 0; i < X.rows; ++i) mean += X.row(i)[j];
    mean /= static_cast<double>(X.rows);
    double var = 0;
    for (int64_t i = 0; i < X.rows; ++i) var += (X.row(i)[j] - mean) * (X.row(i)[j] - mean);
    total += var / static_cast<double>(X.rows);
  }
  return tol * total / static_cast<double>(X.cols);
}

}  // namespace

at::Tensor kmeans_plus_plus(const at::Tensor& X, int64_t k, uint64_t seed) {
  const Matrix x = to_matrix(X, "k-means++ input");
  GOLGI_CHECK(k >= 1 && k <= x.rows, "k-means++ needs 1 <= k <= points (", x.rows, "), got k = ", k);
  return to_tensor(plus_plus(x, k, seed));
}

KMeansResult kmeans(const at::Tensor& X, const KMeansOptions& options, const at::Tensor& initial_centroids) {
  KMeansOptions::schema().validate(options);
  const Matrix x = to_matrix(X, "k-means input");
  const int64_t k = options.clusters();
  GOLGI_CHECK(x.rows >= k, "k-means needs at least as many points as clusters: ", x.rows, " points, k = ", k);
  const double tol = scaled_tolerance(x, options.tol());
  Run best;
  best.inertia = std::numeric_limits<double>::infinity();
  if (initial_centroids.defined()) {
    const Matrix c = to_matrix(initial_centroids, "k-means initial centroids");
    GOLGI_CHECK(c.rows == k && c.cols == x.cols, "k-means initial centroids must be [k = ", k, ", ", x.cols, "], got [",
                c.rows, ", ", c.cols, "]");
    GOLGI_CHECK(options.n_init() == 1, "k-means with given initial centroids runs once: set n_init to 1, got ",
                options.n_init());
    best = lloyd(x, c, options.max_iter(), tol);
  } else {
    for (int64_t r = 0; r < options.n_init(); ++r) {
      const uint64_t seed = r == 0 ? static_cast<uint64_t>(options.seed())
                                   : derive_seed(static_cast<uint64_t>(options.seed()), "kmeans.n_init", r);
      Run run = lloyd(x, plus_plus(x, k, seed), options.max_iter(), tol);
      if (run.inertia < best.inertia) best = std::move(run);
    }
  }
  KMeansResult result;
  result.centroids = to_tensor(best.centroids);
  result.labels = std::move(best.labels);
  result.inertia = best.inertia;
  result.iterations = best.iterations;
  result.converged = best.converged;
  return result;
}

double adjusted_rand_index(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
  GOLGI_CHECK(a.size() == b.size(), "adjusted_rand_index: the labelings have ", a.size(), " and ", b.size(),
              " points; they must label the same points");
  const double n = static_cast<double>(a.size());
  auto pairs = [](double m) { return m * (m - 1) / 2; };
  std::map<std::pair<int64_t, int64_t>, double> table;
  std::map<int64_t, double> rows, cols;
  for (size_t i = 0; i < a.size(); ++i) {
    table[{a[i], b[i]}] += 1;
    rows[a[i]] += 1;
    cols[b[i]] += 1;
  }
  double index = 0, sum_rows = 0, sum_cols = 0;
  for (const auto& [key, count] : table) index += pairs(count);
  for (const auto& [key, count] : rows) sum_rows += pairs(count);
  for (const auto& [key, count] : cols) sum_cols += pairs(count);
  const double total = pairs(n);
  if (total == 0) return 1.0;
  const double expected = sum_rows * sum_cols / total;
  const double maximum = (sum_rows + sum_cols) / 2;
  // Degenerate but identical partitions (one cluster each, or all singletons): perfect agreement.
  if (maximum == expected) return 1.0;
  return (index - expected) / (maximum - expected);
}

}  // namespace golgi::analysis
