#include "golgi/methods/snmf/snmf_init.h"

#include <algorithm>
#include <cmath>

#include <torch/torch.h>

#include "golgi/core/error.h"
#include "golgi/core/seed.h"
#include "golgi/core/strings.h"

namespace golgi::methods {

namespace {

// One chunk, checked and in float64 (every init accumulates in float64).
at::Tensor chunk64(const SnmfColumns& columns, int64_t begin, int64_t end, int64_t d) {
  at::Tensor A = columns(begin, end);
  GOLGI_CHECK(A.defined() && A.dim() == 2 && A.size(0) == d && A.size(1) == end - begin, "snmf init: columns [",
              begin, ", ", end, ") must be a [", d, ", ", end - begin, "] tensor");
  GOLGI_CHECK(torch::isfinite(A).all().item<bool>(), "snmf: columns [", begin, ", ", end,
              ") hold NaN or inf values; check the recorded activations");
  return A.to(torch::kDouble);
}

std::pair<at::Tensor, at::Tensor> svd_init(const SnmfColumns& columns, int64_t d, int64_t n, int64_t K, int64_t chunk) {
  GOLGI_CHECK(K <= std::min(d, n), "snmf: --init svd needs features (K = ", K, ") <= min(d, n) = ", std::min(d, n));
  at::Tensor gram = torch::zeros({d, d}, torch::kDouble);
  for (int64_t b = 0; b < n; b += chunk) {
    const at::Tensor A = chunk64(columns, b, std::min(n, b + chunk), d);
    gram.addmm_(A, A.t());
  }
  // eigh sorts ascending: the last K are the top components; reversed to put the largest first.
  auto [eigenvalues, eigenvectors] = at::linalg_eigh(gram);
  const at::Tensor top = torch::arange(d - 1, d - 1 - K, -1, torch::kLong);
  at::Tensor sigma = eigenvalues.index_select(0, top).clamp_min(0).sqrt();
  at::Tensor U = eigenvectors.index_select(1, top);
  // Components beyond A's rank carry rounding noise only: drop them.
  const double floor = 1e-10 * std::max(sigma[0].item<double>(), 1e-300);
  const at::Tensor alive = sigma.gt(floor);
  U = U * alive.to(torch::kDouble);
  const at::Tensor inverse = torch::where(alive, 1.0 / sigma.clamp_min(1e-300), torch::zeros_like(sigma));
  at::Tensor V = torch::empty({n, K}, torch::kDouble);
  for (int64_t b = 0; b < n; b += chunk) {
    const int64_t e = std::min(n, b + chunk);
    V.slice(0, b, e).copy_(chunk64(columns, b, e, d).t().matmul(U) * inverse);
  }
  // The sign that keeps more of v_k's mass in its positive part (ties: as eigh returned it).
  const at::Tensor positive = V.clamp_min(0).pow(2).sum(0), negative = V.clamp_max(0).pow(2).sum(0);
  const at::Tensor sign = torch::where(negative > positive, -torch::ones_like(sigma), torch::ones_like(sigma));
  at::Tensor F0 = U * (sigma * sign);
  at::Tensor G0 = (V * sign).clamp_min(1e-6);
  return {F0, G0};
}

// Squared distances [m, K] between the columns of X [d, m] and the centroids C [d, K].
at::Tensor squared_distances(const at::Tensor& X, const at::Tensor& C) {
  return (X.pow(2).sum(0).unsqueeze(1) - 2 * X.t().matmul(C) + C.pow(2).sum(0).unsqueeze(0)).clamp_min(0);
}

std::pair<at::Tensor, at::Tensor> kmeans_init(const SnmfColumns& columns, int64_t d, int64_t n, int64_t K,
                                              uint64_t seed, const SnmfInitOptions& init, int64_t chunk) {
  GOLGI_CHECK(K <= n, "snmf: --init kmeans needs features (K = ", K, ") <= the number of columns n = ", n);
  GOLGI_CHECK(init.sample_columns >= K, "snmf: the k-means sample (", init.sample_columns,
              " columns) must hold at least K = ", K, " columns");
  auto gen = at::make_generator<at::CPUGeneratorImpl>(derive_seed(seed, "snmf/kmeans"));
  // A seeded sample of columns, sorted so it is read in one pass over the chunks.
  const int64_t m = std::min(n, init.sample_columns);
  at::Tensor picked = m == n ? torch::arange(n, torch::kLong)
                             : std::get<0>(torch::randperm(n, gen, torch::kLong).slice(0, 0, m).sort());
  at::Tensor sample = torch::empty({d, m}, torch::kDouble);
  {
    const int64_t* p = picked.data_ptr<int64_t>();
    int64_t i = 0;
    for (int64_t b = 0; b < n && i < m; b += chunk) {
      const int64_t e = std::min(n, b + chunk);
      if (p[i] >= e) continue;
      const at::Tensor A = chunk64(columns, b, e, d);
      int64_t j = i;
      while (j < m && p[j] < e) ++j;
      sample.slice(1, i, j).copy_(A.index_select(1, picked.slice(0, i, j) - b));
      i = j;
    }
  }
  // k-means++: the first centre uniform, each further one drawn with probability ∝ D(x)².
  at::Tensor C = torch::empty({d, K}, torch::kDouble);
  const int64_t first = torch::randint(m, {1}, gen, torch::kLong).item<int64_t>();
  C.select(1, 0).copy_(sample.select(1, first));
  at::Tensor nearest = squared_distances(sample, C.slice(1, 0, 1)).squeeze(1);
  for (int64_t k = 1; k < K; ++k) {
    const double total = nearest.sum().item<double>();
    int64_t chosen = 0;
    if (total > 0) {
      chosen = torch::multinomial(nearest / total, 1, /*replacement=*/false, gen).item<int64_t>();
    } else {
      chosen = k % m;  // every sample sits on a centre already: any column will do
    }
    C.select(1, k).copy_(sample.select(1, chosen));
    nearest = torch::minimum(nearest, squared_distances(sample, C.slice(1, k, k + 1)).squeeze(1));
  }
  // Lloyd passes over all columns.
  for (int64_t pass = 0; pass < init.lloyd_iterations; ++pass) {
    at::Tensor sums = torch::zeros({d, K}, torch::kDouble), counts = torch::zeros({K}, torch::kDouble);
    for (int64_t b = 0; b < n; b += chunk) {
      const at::Tensor A = chunk64(columns, b, std::min(n, b + chunk), d);
      const at::Tensor labels = squared_distances(A, C).argmin(1);
      const at::Tensor onehot = torch::one_hot(labels, K).to(torch::kDouble);
      sums.addmm_(A, onehot);
      counts += onehot.sum(0);
    }
    const at::Tensor filled = counts.gt(0);
    C = torch::where(filled.unsqueeze(0), sums / counts.clamp_min(1).unsqueeze(0), C);
  }
  at::Tensor G0 = torch::empty({n, K}, torch::kDouble);
  for (int64_t b = 0; b < n; b += chunk) {
    const int64_t e = std::min(n, b + chunk);
    const at::Tensor labels = squared_distances(chunk64(columns, b, e, d), C).argmin(1);
    G0.slice(0, b, e).copy_(torch::one_hot(labels, K).to(torch::kDouble) + 0.2);
  }
  return {C, G0};
}

}  // namespace

const std::vector<std::string>& snmf_init_methods() {
  static const std::vector<std::string> methods = {"random", "svd", "kmeans"};
  return methods;
}

std::pair<at::Tensor, at::Tensor> snmf_initialize(const SnmfColumns& columns, int64_t d, int64_t n,
                                                  const SnmfOptions& options, const SnmfInitOptions& init,
                                                  int64_t chunk_columns) {
  const auto& methods = snmf_init_methods();
  if (std::find(methods.begin(), methods.end(), init.method) == methods.end()) {
    const std::string hint = did_you_mean(init.method, methods);
    GOLGI_FAIL("snmf: unknown initialisation '", init.method, "'", hint.empty() ? "" : "; " + hint,
               " (one of: ", join(methods, ", "), ")");
  }
  GOLGI_CHECK(d > 0 && n > 0, "snmf: A must be non-empty, got ", d, " x ", n);
  GOLGI_CHECK(chunk_columns >= 1, "snmf: chunk_columns must be >= 1, got ", chunk_columns);
  const int64_t K = options.features();
  GOLGI_CHECK(K >= 1, "snmf: features (K) must be >= 1, got ", K);
  torch::NoGradGuard no_grad;
  const at::Tensor like = columns(0, 1);
  const auto dtype = like.scalar_type();
  std::pair<at::Tensor, at::Tensor> factors;
  if (init.method == "random") return snmf_random_init(d, n, K, static_cast<uint64_t>(options.seed()), like);
  if (init.method == "svd") factors = svd_init(columns, d, n, K, chunk_columns);
  else factors = kmeans_init(columns, d, n, K, static_cast<uint64_t>(options.seed()), init, chunk_columns);
  return {factors.first.to(dtype), factors.second.to(dtype)};
}

std::pair<at::Tensor, at::Tensor> snmf_initialize(const at::Tensor& A, const SnmfOptions& options,
                                                  const SnmfInitOptions& init) {
  GOLGI_CHECK(A.defined() && A.dim() == 2 && A.size(0) > 0 && A.size(1) > 0,
              "snmf: A must be a non-empty [d, n] matrix, got ", A.defined() ? A.sizes() : at::IntArrayRef{});
  const int64_t n = A.size(1);
  SnmfColumns columns = [&A](int64_t b, int64_t e) { return A.slice(1, b, e); };
  return snmf_initialize(columns, A.size(0), n, options, init, n);
}

}  // namespace golgi::methods
