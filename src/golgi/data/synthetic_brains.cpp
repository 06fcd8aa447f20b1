#include "golgi/data/synthetic_brains.h"

#include <algorithm>
#include <cmath>

#include <torch/torch.h>

#include "golgi/core/error.h"
#include "golgi/core/seed.h"

namespace golgi::data {

const OptionSchema<SyntheticBrainsOptions>& SyntheticBrainsOptions::schema() {
  static const OptionSchema<SyntheticBrainsOptions> s =
      OptionSchema<SyntheticBrainsOptions>("synthetic_brains")
          .add("count", &SyntheticBrainsOptions::count_, "number of subjects", at_least<int64_t>(3))
          .add("image_size", &SyntheticBrainsOptions::image_size_, "image height and width, px", between<int64_t>(16, 1024))
          .add("regions", &SyntheticBrainsOptions::regions_, "Gaussian-blob regions per brain", between<int64_t>(2, 64))
          .add("target_region", &SyntheticBrainsOptions::target_region_, "0-based region whose size is the target",
               at_least<int64_t>(0))
          .add("components", &SyntheticBrainsOptions::components_,
               "principal components of the other sizes to residualise on (0: all)", at_least<int64_t>(0))
          .add("noise", &SyntheticBrainsOptions::noise_, "standard deviation of the smooth noise", at_least(0.0))
          .add("seed", &SyntheticBrainsOptions::seed_, "random seed", at_least<int64_t>(0));
  return s;
}

namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kNoiseSigma = 1.5;  // px, the smoothing of the noise field
constexpr int64_t kNoiseRadius = 5;  // px, > 3 sigma

// Standard normal draws from SplitMix64 (Box-Muller), identical on every platform.
class Normal {
 public:
  explicit Normal(uint64_t seed) : rng_(seed) {}
  double uniform(double lo, double hi) { return lo + (hi - lo) * rng_.uniform(); }
  double next() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    const double u1 = 1.0 - rng_.uniform();  // (0, 1]: log is finite
    const double u2 = rng_.uniform();
    const double r = std::sqrt(-2.0 * std::log(u1));
    spare_ = r * std::sin(2 * kPi * u2);
    has_spare_ = true;
    return r * std::cos(2 * kPi * u2);
  }

 private:
  SplitMix64 rng_;
  double spare_ = 0;
  bool has_spare_ = false;
};

}  // namespace

SyntheticBrains generate_synthetic_brains(const SyntheticBrainsOptions& options) {
  SyntheticBrainsOptions::schema().validate(options);
  const int64_t N = options.count(), S = options.image_size(), R = options.regions(), t = options.target_region();
  GOLGI_CHECK(t < R, "synthetic brains: target_region must be < regions (", R, "), got ", t);
  const int64_t k = options.components() == 0 ? R - 1 : options.components();
  GOLGI_CHECK(k <= R - 1, "synthetic brains: components must be <= regions - 1 (", R - 1, "), got ", k);
  GOLGI_CHECK(N >= k + 3, "synthetic brains: count must be >= components + 3 (", k + 3,
              ") for the residualisation to be determined, got ", N);

  const double Sd = static_cast<double>(S), centre = (Sd - 1) / 2, mean_size = 0.05 * Sd;
  const double head_ax = 0.38 * Sd, head_ay = 0.44 * Sd, ring_ax = 0.22 * Sd, ring_ay = 0.27 * Sd;
  auto sizes = torch::empty({N, R}, torch::kDouble), intens = torch::empty({N, R}, torch::kDouble);
  auto global = torch::empty({N}, torch::kDouble), centers = torch::empty({N, R, 2}, torch::kDouble);
  const int64_t F = S + 2 * kNoiseRadius;
  auto white = torch::empty({N, 1, F, F}, torch::kFloat);
  auto sz = sizes.accessor<double, 2>(), in = intens.accessor<double, 2>();
  auto g = global.accessor<double, 1>();
  auto c = centers.accessor<double, 3>();
  for (int64_t i = 0; i < N; ++i) {
    Normal rng(derive_seed(static_cast<uint64_t>(options.seed()), "synthetic-brains", static_cast<uint64_t>(i)));
    g[i] = rng.uniform(0.8, 1.2);
    const double shared = rng.next();
    for (int64_t r = 0; r < R; ++r) {
      const double own = rng.next();
      sz[i][r] = std::clamp(mean_size * (1 + 0.22 * own + 0.10 * shared), 0.5 * mean_size, 1.6 * mean_size);
      in[i][r] = rng.uniform(0.6, 1.4);
      const double angle = 2 * kPi * static_cast<double>(r) / static_cast<double>(R) - kPi / 2;
      c[i][r][0] = centre + ring_ax * std::cos(angle) + rng.uniform(-1, 1);
      c[i][r][1] = centre + ring_ay * std::sin(angle) + rng.uniform(-1, 1);
    }
    float* w = white[i].data_ptr<float>();
    for (int64_t j = 0; j < F * F; ++j) w[j] = static_cast<float>(rng.next());
  }

  // Smooth noise: white noise on a margin-padded field, blurred (valid part only, so no border
  // effects) and scaled to unit standard deviation by the kernel's norm.
  auto x1 = torch::arange(-kNoiseRadius, kNoiseRadius + 1, torch::kFloat);
  auto k1 = torch::exp(-0.5 * x1 * x1 / (kNoiseSigma * kNoiseSigma));
  k1 = k1 / k1.sum();
  auto k2 = torch::outer(k1, k1);
  const double kernel_norm = std::sqrt(k2.pow(2).sum().item<double>());
  auto noise = torch::conv2d(white, k2.view({1, 1, 2 * kNoiseRadius + 1, 2 * kNoiseRadius + 1})) / kernel_norm;

  // Head and regions.
  auto ys = torch::arange(S, torch::kDouble).view({1, S, 1}), xs = torch::arange(S, torch::kDouble).view({1, 1, S});
  auto head = ((xs - centre) / head_ax).pow(2) + ((ys - centre) / head_ay).pow(2) <= 1.0;  // [1, S, S]
  auto image = head.to(torch::kDouble) * 0.35;                                            // [1, S, S]
  image = image.expand({N, S, S}).clone();
  for (int64_t r = 0; r < R; ++r) {
    auto cx = centers.select(1, r).select(1, 0).view({N, 1, 1}), cy = centers.select(1, r).select(1, 1).view({N, 1, 1});
    auto s = sizes.select(1, r).view({N, 1, 1});
    image += intens.select(1, r).view({N, 1, 1}) * torch::exp(-((xs - cx).pow(2) + (ys - cy).pow(2)) / (2 * s * s));
  }
  image = image * global.view({N, 1, 1}) + options.noise() * noise.squeeze(1).to(torch::kDouble);
  auto tcx = centers.select(1, t).select(1, 0).view({N, 1, 1}), tcy = centers.select(1, t).select(1, 1).view({N, 1, 1});
  auto ts = sizes.select(1, t).view({N, 1, 1});
  auto rois = (xs - tcx).pow(2) + (ys - tcy).pow(2) <= (2 * ts).pow(2);

  // cIDP: residualise the target size on the other sizes' leading principal components and g.
  std::vector<int64_t> others;
  for (int64_t r = 0; r < R; ++r)
    if (r != t) others.push_back(r);
  auto other_sizes = sizes.index_select(1, torch::tensor(others, torch::kLong));
  // The principal-component scores Z = Xc V_k = U_k S_k of the centred sizes (thin SVD; the data
  // library cannot use analysis/pca.h, which depends on it). Their signs do not matter here.
  auto centred = other_sizes - other_sizes.mean(0, /*keepdim=*/true);
  auto [U, Sv, Vh] = torch::linalg_svd(centred, /*full_matrices=*/false);
  auto scores = U.narrow(1, 0, k) * Sv.narrow(0, 0, k).view({1, k});
  auto design = torch::cat({torch::ones({N, 1}, torch::kDouble), scores, global.view({N, 1})}, 1);
  auto raw = sizes.select(1, t).clone();
  auto beta = torch::linalg_solve(design.t().mm(design), design.t().mv(raw));
  auto target = raw - design.mv(beta);

  SyntheticBrains out;
  out.images = image.unsqueeze(1).to(torch::kFloat).contiguous();
  out.sizes = sizes;
  out.intensities = intens;
  out.global_intensity = global;
  out.centers = centers;
  out.rois = rois.contiguous();
  out.raw_target = raw;
  out.target = target;
  out.card = {{"generator", "synthetic-brains"},
              {"options", SyntheticBrainsOptions::schema().to_json(options)},
              {"target", "size (Gaussian sigma, px) of region " + std::to_string(t) + " residualised on " +
                             std::to_string(k) + " principal components of the other regions' sizes and the global intensity"},
              {"roi", "disc of radius 2 sigma around the target region's centre"},
              {"residualisation_r2", 1.0 - target.var().item<double>() / raw.var().item<double>()}};
  return out;
}

}  // namespace golgi::data
