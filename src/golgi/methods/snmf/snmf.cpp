#include "golgi/methods/snmf/snmf.h"

#include <cmath>

#include <torch/torch.h>

#include "golgi/core/error.h"
#include "golgi/core/seed.h"

namespace golgi::methods {

const OptionSchema<SnmfOptions>& SnmfOptions::schema() {
  static const auto schema =
      OptionSchema<SnmfOptions>("snmf")
          .add("features", &SnmfOptions::features_, "K, the number of features", at_least<int64_t>(1))
          .add("sparsity", &SnmfOptions::sparsity_, "fraction of a feature's neurons kept (winner-take-all per column of F)",
               Range<double>{0.0, 1.0, false, true})
          .add("max_iter", &SnmfOptions::max_iter_, "iterations at most", at_least<int64_t>(1))
          .add("tol", &SnmfOptions::tol_, "a new best loss must be below the best by more than this", at_least(0.0))
          .add("reg", &SnmfOptions::reg_, "ridge term of the least-squares F step", at_least(0.0))
          .add("patience", &SnmfOptions::patience_, "iterations without a new best before stopping",
               at_least<int64_t>(1))
          .add("seed", &SnmfOptions::seed_, "seed of the random initialisation", at_least<int64_t>(0));
  return schema;
}

Json SnmfResult::to_json() const {
  return {{"loss_history", loss_history},
          {"best_loss", best_loss},
          {"best_iteration", best_iteration},
          {"iterations", iterations},
          {"relative_error", relative_error},
          {"features", F.defined() ? F.size(1) : 0}};
}

std::pair<at::Tensor, at::Tensor> snmf_random_init(int64_t d, int64_t n, int64_t features, uint64_t seed,
                                                   const at::Tensor& like) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(derive_seed(seed, "snmf/init"));
  const auto options = torch::TensorOptions().dtype(like.scalar_type());
  at::Tensor G = torch::rand({n, features}, gen, options).clamp_min(1e-6);
  at::Tensor F = torch::randn({d, features}, gen, options);
  return {F, G};
}

std::pair<at::Tensor, at::Tensor> snmf_initial_factors(int64_t d, int64_t n, const SnmfOptions& options,
                                                       const at::Tensor& F0, const at::Tensor& G0,
                                                       const at::Tensor& like) {
  const int64_t K = options.features();
  if (!F0.defined() && !G0.defined()) return snmf_random_init(d, n, K, static_cast<uint64_t>(options.seed()), like);
  GOLGI_CHECK(F0.defined() && G0.defined(), "snmf: give both initial factors F0 and G0, or neither");
  GOLGI_CHECK(F0.dim() == 2 && F0.size(0) == d && F0.size(1) == K, "snmf: F0 must be [", d, ", ", K, "], got ",
              F0.sizes());
  GOLGI_CHECK(G0.dim() == 2 && G0.size(0) == n && G0.size(1) == K, "snmf: G0 must be [", n, ", ", K, "], got ",
              G0.sizes());
  GOLGI_CHECK(G0.ge(0).all().item<bool>(), "snmf: G0 must be non-negative");
  return {F0.to(like.scalar_type()).clone(), G0.to(like.scalar_type()).clone()};
}

at::Tensor snmf_sparsify_columns(const at::Tensor& F, double sparsity) {
  GOLGI_CHECK(F.dim() == 2, "snmf: F must be [d, K], got ", F.sizes());
  const int64_t d = F.size(0);
  const int64_t keep = std::min<int64_t>(d, static_cast<int64_t>(std::ceil(sparsity * static_cast<double>(d))));
  if (keep >= d) return F.clone();
  at::Tensor magnitude = F.abs();
  // The keep-th largest |F| of each column; entries equal to it stay (ties kept).
  at::Tensor threshold = std::get<0>(magnitude.topk(std::max<int64_t>(keep, 1), /*dim=*/0)).select(0, keep - 1);
  return F * magnitude.ge(threshold.unsqueeze(0)).to(F.scalar_type());
}

namespace {

double squared_residual(const at::Tensor& A, const at::Tensor& F, const at::Tensor& G) {
  return (A - F.matmul(G.t())).to(torch::kDouble).pow(2).sum().item<double>();
}

}  // namespace

SnmfResult semi_nmf(const at::Tensor& A, const SnmfOptions& options, const at::Tensor& F0, const at::Tensor& G0,
                    const std::function<void(int64_t, double)>& on_iteration) {
  GOLGI_CHECK(A.defined() && A.dim() == 2 && A.size(0) > 0 && A.size(1) > 0,
              "snmf: the activations A must be a non-empty [d_mlp, samples] matrix, got ",
              A.defined() ? A.sizes() : at::IntArrayRef{});
  GOLGI_CHECK(A.scalar_type() == torch::kFloat || A.scalar_type() == torch::kDouble,
              "snmf: A must be float32 or float64, got ", A.scalar_type());
  GOLGI_CHECK(torch::isfinite(A).all().item<bool>(), "snmf: A holds NaN or inf values; check the recorded activations");
  const int64_t d = A.size(0), n = A.size(1);
  const int64_t K = options.features();
  GOLGI_CHECK(K >= 1, "snmf: features (K) must be >= 1, got ", K);
  GOLGI_CHECK(options.sparsity() > 0 && options.sparsity() <= 1, "snmf: sparsity must be in (0, 1], got ",
              options.sparsity());
  auto [F, G] = snmf_initial_factors(d, n, options, F0, G0, A);
  torch::NoGradGuard no_grad;
  const at::Tensor ridge = torch::eye(K, A.options()) * options.reg();
  SnmfResult result;
  result.best_loss = std::numeric_limits<double>::infinity();
  int64_t since_best = 0;
  for (int64_t it = 0; it < options.max_iter(); ++it) {
    // 1. F = A G (GᵀG + reg I)⁻¹; the Gram matrix is symmetric, so solve (GᵀG + reg I) Fᵀ = (A G)ᵀ.
    at::Tensor gram = G.t().matmul(G) + ridge;
    F = at::linalg_solve(gram, A.matmul(G).t()).t();
    // 2. winner-take-all sparsity per feature.
    F = snmf_sparsify_columns(F, options.sparsity());
    // 3. unit-norm columns of G, the scale moved into F.
    at::Tensor scale = G.norm(2, /*dim=*/0).clamp_min(1e-8);
    G = G / scale;
    F = F * scale;
    // 4. multiplicative update of G.
    at::Tensor P = A.t().matmul(F), Q = F.t().matmul(F);
    at::Tensor P_pos = (P.abs() + P) / 2, P_neg = (P.abs() - P) / 2;
    at::Tensor Q_pos = (Q.abs() + Q) / 2, Q_neg = (Q.abs() - Q) / 2;
    G = G * ((P_pos + G.matmul(Q_neg)) / (P_neg + G.matmul(Q_pos) + 1e-6)).sqrt();
    // 5. loss and the best iterate.
    const double loss = squared_residual(A, F, G);
    GOLGI_CHECK(std::isfinite(loss), "snmf: the loss became ", loss, " at iteration ", it,
                "; the activations may be badly scaled (try float64 or a larger reg)");
    result.loss_history.push_back(loss);
    result.iterations = it + 1;
    if (loss < result.best_loss - options.tol()) {
      result.best_loss = loss;
      result.best_iteration = it;
      result.F = F.clone();
      result.G = G.clone();
      since_best = 0;
    } else if (++since_best >= options.patience()) {
      if (on_iteration) on_iteration(it, loss);
      break;
    }
    if (on_iteration) on_iteration(it, loss);
  }
  const double total = A.to(torch::kDouble).pow(2).sum().item<double>();
  result.relative_error = total > 0 ? std::sqrt(result.best_loss / total) : 0.0;
  return result;
}

}  // namespace golgi::methods
