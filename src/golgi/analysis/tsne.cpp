#include "golgi/analysis/tsne.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

#include <torch/torch.h>

#include "golgi/analysis/pca.h"
#include "golgi/core/error.h"
#include "golgi/core/progress.h"
#include "golgi/core/seed.h"

namespace golgi::analysis {

const OptionSchema<TsneOptions>& TsneOptions::schema() {
  static const auto schema =
      OptionSchema<TsneOptions>("tsne")
          .add("dims", &TsneOptions::dims_, "embedding dimensions", at_least<int64_t>(1))
          .add("perplexity", &TsneOptions::perplexity_, "effective number of neighbours (< points)",
               at_least(0.0, /*inclusive=*/false))
          .add("early_exaggeration", &TsneOptions::early_exaggeration_, "P multiplier of the first 250 iterations",
               at_least(1.0))
          .add("learning_rate", &TsneOptions::learning_rate_, "step size (0: auto, max(n / exaggeration / 4, 50))",
               at_least(0.0))
          .add("max_iter", &TsneOptions::max_iter_, "iterations in total (the first 250 exaggerated)",
               at_least<int64_t>(250))
          .add("n_iter_without_progress", &TsneOptions::n_iter_without_progress_,
               "stage-2 iterations without a lower KL before stopping", at_least<int64_t>(1))
          .add("min_grad_norm", &TsneOptions::min_grad_norm_, "stop when the gradient norm falls to this", at_least(0.0))
          .add("init", &TsneOptions::init_, "initial embedding", {"pca", "random"})
          .add("seed", &TsneOptions::seed_, "seed of the random initialisation", at_least<int64_t>(0))
          .add("progress", &TsneOptions::progress_, "show a progress bar");
  return schema;
}

Json TsneResult::to_json() const {
  return {{"kl_divergence", kl_divergence},
          {"iterations", iterations},
          {"learning_rate", learning_rate},
          {"kl_history", kl_history},
          {"kl_iterations", kl_iterations}};
}

namespace {

// numpy's float64 machine epsilon, sklearn's floor for P and Q.
constexpr double kMachineEpsilon = std::numeric_limits<double>::epsilon();
constexpr int64_t kExplorationIterations = 250;
constexpr int64_t kCheckEvery = 50;

at::Tensor checked_matrix(const at::Tensor& X, const char* what) {
  GOLGI_CHECK(X.defined() && X.dim() == 2, what, " must be a matrix [points, features], got ",
              X.defined() ? X.dim() : 0, " dimensions");
  at::Tensor x = X.to(torch::kCPU).to(torch::kDouble).contiguous();
  GOLGI_CHECK(torch::isfinite(x).all().item<bool>(), what, " contains NaN or infinite entries");
  return x;
}

std::vector<double> joint_probabilities(const at::Tensor& x, double perplexity) {
  const int64_t n = x.size(0), d = x.size(1);
  GOLGI_CHECK(n >= 2, "t-SNE needs at least 2 points, got ", n);
  GOLGI_CHECK(perplexity > 0 && perplexity < static_cast<double>(n), "t-SNE perplexity must be in (0, points = ", n,
              "), got ", perplexity, "; use fewer neighbours or more points");
  const double* X = x.data_ptr<double>();
  std::vector<double> D(n * n, 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i + 1; j < n; ++j) {
      double s = 0;
      for (int64_t k = 0; k < d; ++k) {
        const double t = X[i * d + k] - X[j * d + k];
        s += t * t;
      }
      D[i * n + j] = D[j * n + i] = s;
    }
  // Conditional p_{j|i}: binary search of β_i on the entropy (nats), sklearn's schedule.
  const double target = std::log(perplexity);
  std::vector<double> C(n * n, 0.0);
  for (int64_t i = 0; i < n; ++i) {
    double beta = 1, beta_min = -std::numeric_limits<double>::infinity(),
           beta_max = std::numeric_limits<double>::infinity();
    double* row = C.data() + i * n;
    const double* dist = D.data() + i * n;
    for (int step = 0; step < 100; ++step) {
      double sum = 0;
      for (int64_t j = 0; j < n; ++j) {
        row[j] = j == i ? 0.0 : std::exp(-dist[j] * beta);
        sum += row[j];
      }
      if (sum == 0) sum = 1e-8;
      double weighted = 0;
      for (int64_t j = 0; j < n; ++j) {
        row[j] /= sum;
        weighted += dist[j] * row[j];
      }
      const double entropy_gap = std::log(sum) + beta * weighted - target;
      if (std::fabs(entropy_gap) <= 1e-5) break;
      if (entropy_gap > 0) {
        beta_min = beta;
        beta = std::isinf(beta_max) ? beta * 2 : (beta + beta_max) / 2;
      } else {
        beta_max = beta;
        beta = std::isinf(beta_min) ? beta / 2 : (beta + beta_min) / 2;
      }
    }
  }
  double total = 0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) total += C[i * n + j];
  // Σ_{i≠j} (p_{j|i} + p_{i|j}) = 2 Σ p_{j|i} (= 2n unless a row underflowed).
  total = std::max(2 * total, kMachineEpsilon);
  std::vector<double> P(n * n, 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i + 1; j < n; ++j)
      P[i * n + j] = P[j * n + i] = std::max((C[i * n + j] + C[j * n + i]) / total, kMachineEpsilon);
  return P;
}

// KL(P‖Q) (when `kl` is non-null) and its gradient for embedding Y [n, dims]; `W` is scratch n × n.
void objective(const std::vector<double>& P, double exaggeration, const std::vector<double>& Y, int64_t n,
               int64_t dims, std::vector<double>& W, std::vector<double>& grad, double* kl) {
  const double nu = std::max<double>(static_cast<double>(dims) - 1, 1);
  const double power = -(nu + 1) / 2;
  double sum = 0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i + 1; j < n; ++j) {
      double s = 0;
      for (int64_t k = 0; k < dims; ++k) {
        const double t = Y[i * dims + k] - Y[j * dims + k];
        s += t * t;
      }
      const double w = nu == 1 ? 1 / (1 + s) : std::pow(1 + s / nu, power);
      W[i * n + j] = w;
      sum += w;
    }
  const double Z = 2 * sum;
  std::fill(grad.begin(), grad.end(), 0.0);
  double divergence = 0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i + 1; j < n; ++j) {
      const double w = W[i * n + j];
      const double q = std::max(w / Z, kMachineEpsilon);
      const double p = P[i * n + j] * exaggeration;
      if (kl) divergence += p * std::log(std::max(p, kMachineEpsilon) / q);
      const double f = (p - q) * w;
      for (int64_t k = 0; k < dims; ++k) {
        const double t = f * (Y[i * dims + k] - Y[j * dims + k]);
        grad[i * dims + k] += t;
        grad[j * dims + k] -= t;
      }
    }
  const double c = 2 * (nu + 1) / nu;
  for (double& g : grad) g *= c;
  if (kl) *kl = 2 * divergence;
}

}  // namespace

at::Tensor tsne_joint_probabilities(const at::Tensor& X, double perplexity) {
  const at::Tensor x = checked_matrix(X, "t-SNE input");
  const int64_t n = x.size(0);
  std::vector<double> P = joint_probabilities(x, perplexity);
  // No self-affinity: the diagonal is 0; off-diagonal entries carry sklearn's ε floor.
  return torch::from_blob(P.data(), {n, n}, torch::kDouble).clone();
}

double tsne_kl_divergence(const at::Tensor& P, const at::Tensor& Y) {
  const at::Tensor y = checked_matrix(Y, "t-SNE embedding");
  const at::Tensor p = checked_matrix(P, "t-SNE joint probabilities");
  const int64_t n = y.size(0), dims = y.size(1);
  GOLGI_CHECK(p.size(0) == n && p.size(1) == n, "t-SNE joint probabilities must be [", n, ", ", n, "], got [",
              p.size(0), ", ", p.size(1), "]");
  std::vector<double> pv(p.data_ptr<double>(), p.data_ptr<double>() + p.numel());
  std::vector<double> yv(y.data_ptr<double>(), y.data_ptr<double>() + y.numel());
  std::vector<double> W(n * n), grad(n * dims);
  double kl = 0;
  objective(pv, 1.0, yv, n, dims, W, grad, &kl);
  return kl;
}

TsneResult tsne(const at::Tensor& X, const TsneOptions& options) {
  TsneOptions::schema().validate(options);
  const at::Tensor x = checked_matrix(X, "t-SNE input");
  const int64_t n = x.size(0), dims = options.dims();
  const std::vector<double> P = joint_probabilities(x, options.perplexity());

  // Initial embedding.
  at::Tensor init;
  if (options.init() == "pca") {
    GOLGI_CHECK(dims <= std::min(n, x.size(1)), "t-SNE init 'pca' needs dims <= min(points, features) = ",
                std::min(n, x.size(1)), ", got ", dims, "; use init 'random'");
    const Pca pca = fit_pca(x, PcaOptions().components(dims));
    init = pca.transform(x);
    const double sd = init.select(1, 0).std(/*unbiased=*/false).item<double>();
    init = sd > 0 ? init / sd * 1e-4 : init;
  } else {
    SplitMix64 rng(static_cast<uint64_t>(options.seed()));
    init = torch::empty({n, dims}, torch::kDouble);
    double* v = init.data_ptr<double>();
    for (int64_t i = 0; i < n * dims; ++i) {
      // Box-Muller; 1 − u keeps the logarithm finite.
      const double u1 = 1 - rng.uniform(), u2 = rng.uniform();
      v[i] = 1e-4 * std::sqrt(-2 * std::log(u1)) * std::cos(2 * M_PI * u2);
    }
  }
  init = init.contiguous();
  std::vector<double> Y(init.data_ptr<double>(), init.data_ptr<double>() + init.numel());

  TsneResult result;
  result.learning_rate = options.learning_rate() > 0
                             ? options.learning_rate()
                             : std::max(static_cast<double>(n) / options.early_exaggeration() / 4, 50.0);
  std::vector<double> W(n * n), grad(n * dims), update(n * dims), gains(n * dims);
  std::optional<Progress> bar;
  if (options.progress()) bar.emplace("t-SNE", options.max_iter(), "it");

  // One stage of gradient descent over iterations [start, stop); returns the last iteration run.
  auto stage = [&](int64_t start, int64_t stop, double momentum, double exaggeration, int64_t patience) {
    std::fill(update.begin(), update.end(), 0.0);
    std::fill(gains.begin(), gains.end(), 1.0);
    double best_error = std::numeric_limits<double>::infinity();
    int64_t best_iter = start, i = start;
    for (; i < stop; ++i) {
      const bool check = (i + 1) % kCheckEvery == 0;
      const bool evaluate = check || i == stop - 1;
      double error = 0;
      objective(P, exaggeration, Y, n, dims, W, grad, evaluate ? &error : nullptr);
      double norm = 0;
      for (int64_t e = 0; e < n * dims; ++e) {
        // delta-bar-delta: grow the gain where the step reverses the velocity, shrink it otherwise.
        gains[e] = update[e] * grad[e] < 0 ? gains[e] + 0.2 : gains[e] * 0.8;
        gains[e] = std::max(gains[e], 0.01);
        const double g = grad[e] * gains[e];
        norm += g * g;
        update[e] = momentum * update[e] - result.learning_rate * g;
        Y[e] += update[e];
      }
      if (bar) bar->advance();
      if (evaluate) {
        result.kl_divergence = error;
        result.kl_history.push_back(error);
        result.kl_iterations.push_back(i + 1);
        if (bar) bar->set_postfix("KL " + std::to_string(error));
      }
      if (check) {
        if (error < best_error) {
          best_error = error;
          best_iter = i;
        } else if (i - best_iter > patience) {
          break;
        }
        if (std::sqrt(norm) <= options.min_grad_norm()) break;
      }
    }
    return std::min(i, stop - 1);
  };
  const int64_t last1 = stage(0, kExplorationIterations, 0.5, options.early_exaggeration(), kExplorationIterations);
  int64_t last = last1;
  if (options.max_iter() > last1 + 1) last = stage(last1 + 1, options.max_iter(), 0.8, 1.0, options.n_iter_without_progress());
  result.iterations = last + 1;
  if (bar) bar->finish();
  result.embedding = torch::from_blob(Y.data(), {n, dims}, torch::kDouble).clone();
  return result;
}

}  // namespace golgi::analysis
