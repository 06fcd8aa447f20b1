#include "golgi/analysis/pca.h"

#include <algorithm>

#include <torch/torch.h>

#include "golgi/core/error.h"

namespace golgi::analysis {

const OptionSchema<PcaOptions>& PcaOptions::schema() {
  static const auto schema = OptionSchema<PcaOptions>("pca").add(
      "components", &PcaOptions::components_, "components kept (0: min(samples, features))", at_least<int64_t>(0));
  return schema;
}

namespace {

at::Tensor as_matrix(const at::Tensor& X, const char* what) {
  GOLGI_CHECK(X.defined() && X.dim() == 2, what, " must be a matrix [samples, features], got ",
              X.defined() ? X.dim() : 0, " dimensions");
  at::Tensor x = X.to(torch::kCPU).to(torch::kDouble).contiguous();
  GOLGI_CHECK(torch::isfinite(x).all().item<bool>(), what, " contains NaN or infinite entries; clean the data first");
  return x;
}

}  // namespace

Pca fit_pca(const at::Tensor& X, const PcaOptions& options) {
  PcaOptions::schema().validate(options);
  at::Tensor x = as_matrix(X, "PCA input");
  const int64_t n = x.size(0), d = x.size(1);
  GOLGI_CHECK(n >= 2 && d >= 1, "PCA needs at least 2 samples and 1 feature, got [", n, ", ", d, "]");
  const int64_t rank_max = std::min(n, d);
  const int64_t k = options.components() == 0 ? rank_max : options.components();
  GOLGI_CHECK(k <= rank_max, "PCA option 'components' must be <= min(samples, features) = ", rank_max, ", got ", k);

  Pca pca;
  pca.mean = x.mean(0);
  const at::Tensor xc = x - pca.mean;
  // Thin SVD of the centred data rather than an eigendecomposition of the covariance: it does
  // not square the condition number, so small variances keep their relative accuracy.
  auto [U, S, Vh] = torch::linalg::svd(xc, /*full_matrices=*/false, c10::nullopt);
  (void)U;
  at::Tensor components = Vh.narrow(0, 0, k).clone();
  // Flip each component so that its largest-|.| entry is positive (argmax returns the first on ties).
  const at::Tensor pivot = components.abs().argmax(1, /*keepdim=*/true);
  const at::Tensor signs = torch::where(components.gather(1, pivot) < 0, -1.0, 1.0).to(torch::kDouble);
  pca.components = (components * signs).contiguous();
  pca.singular_values = S.narrow(0, 0, k).clone();
  pca.explained_variance = pca.singular_values.square() / static_cast<double>(n - 1);
  pca.total_variance = xc.square().sum().item<double>() / static_cast<double>(n - 1);
  pca.explained_variance_ratio = pca.total_variance > 0 ? pca.explained_variance / pca.total_variance
                                                        : torch::zeros_like(pca.explained_variance);
  return pca;
}

at::Tensor Pca::transform(const at::Tensor& X) const {
  GOLGI_CHECK(components.defined(), "PCA transform called before fit_pca");
  at::Tensor x = as_matrix(X, "PCA transform input");
  GOLGI_CHECK(x.size(1) == dims(), "PCA transform input has ", x.size(1), " features, the fit had ", dims());
  return torch::matmul(x - mean, components.t());
}

at::Tensor Pca::inverse_transform(const at::Tensor& Z) const {
  GOLGI_CHECK(components.defined(), "PCA inverse_transform called before fit_pca");
  at::Tensor z = as_matrix(Z, "PCA inverse_transform input");
  GOLGI_CHECK(z.size(1) == components.size(0), "PCA inverse_transform input has ", z.size(1),
              " columns, the fit kept ", components.size(0), " components");
  return torch::matmul(z, components) + mean;
}

}  // namespace golgi::analysis
