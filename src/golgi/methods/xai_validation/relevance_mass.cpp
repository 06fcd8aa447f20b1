#include "golgi/methods/xai_validation/relevance_mass.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <torch/torch.h>

#include "golgi/core/error.h"

namespace golgi::methods {

const OptionSchema<RelevanceMassOptions>& RelevanceMassOptions::schema() {
  static const OptionSchema<RelevanceMassOptions> s =
      OptionSchema<RelevanceMassOptions>("relevance_mass")
          .add("fwhm", &RelevanceMassOptions::fwhm_, "Gaussian smoothing full width at half maximum, px (0: none)",
               at_least(0.0))
          .add("percentile", &RelevanceMassOptions::percentile_, "keep map values >= this percentile",
               between(0.0, 100.0))
          .add("dilations", &RelevanceMassOptions::dilations_, "3x3-cross dilations of the ROI", at_least<int64_t>(0))
          .add("truncate", &RelevanceMassOptions::truncate_, "Gaussian kernel radius in sigmas",
               at_least(0.0, /*inclusive=*/false));
  return s;
}

double fwhm_to_sigma(double fwhm) {
  GOLGI_CHECK(fwhm >= 0 && std::isfinite(fwhm), "relevance mass: FWHM must be a finite number >= 0, got ", fwhm);
  return fwhm / (2.0 * std::sqrt(2.0 * std::log(2.0)));
}

namespace {

// scipy.ndimage's 'reflect' boundary: the signal mirrored about its edges, the edge sample
// repeated (d c b a | a b c d | d c b a), for any offset (periodic with period 2n).
int64_t reflect_index(int64_t i, int64_t n) {
  const int64_t period = 2 * n;
  i %= period;
  if (i < 0) i += period;
  return i < n ? i : period - 1 - i;
}

std::vector<double> gaussian_kernel(double sigma, double truncate) {
  const auto radius = static_cast<int64_t>(truncate * sigma + 0.5);
  std::vector<double> w(static_cast<size_t>(2 * radius + 1));
  double sum = 0;
  for (int64_t x = -radius; x <= radius; ++x) {
    w[static_cast<size_t>(x + radius)] = std::exp(-0.5 / (sigma * sigma) * static_cast<double>(x * x));
    sum += w[static_cast<size_t>(x + radius)];
  }
  for (double& v : w) v /= sum;
  return w;
}

// One pass of the kernel along one axis of every [H, W] plane; stride 1 = along rows (x), W =
// along columns (y).
void correlate_axis(const double* in, double* out, int64_t planes, int64_t H, int64_t W, bool along_rows,
                    const std::vector<double>& w) {
  const auto radius = static_cast<int64_t>(w.size() / 2);
  const int64_t n = along_rows ? W : H;
  for (int64_t p = 0; p < planes; ++p) {
    const double* src = in + p * H * W;
    double* dst = out + p * H * W;
    for (int64_t y = 0; y < H; ++y)
      for (int64_t x = 0; x < W; ++x) {
        const int64_t pos = along_rows ? x : y;
        double acc = 0;
        for (int64_t k = -radius; k <= radius; ++k) {
          const int64_t j = reflect_index(pos + k, n);
          acc += w[static_cast<size_t>(k + radius)] * (along_rows ? src[y * W + j] : src[j * W + x]);
        }
        dst[y * W + x] = acc;
      }
  }
}

void check_plane_shape(const at::Tensor& x, const char* what) {
  GOLGI_CHECK(x.defined() && x.dim() >= 2, "relevance mass: ", what, " must be [H, W] or [..., H, W], got ",
              x.defined() ? x.sizes() : at::IntArrayRef{});
  GOLGI_CHECK(x.size(-1) >= 1 && x.size(-2) >= 1, "relevance mass: ", what, " is empty: ", x.sizes());
}

// Maps as [B, H, W] float64: [H, W] -> [1, H, W]; [B, 1, H, W] -> [B, H, W].
at::Tensor as_batch(const at::Tensor& maps, const char* what) {
  check_plane_shape(maps, what);
  at::Tensor m = maps;
  if (m.dim() == 2) m = m.unsqueeze(0);
  if (m.dim() == 4 && m.size(1) == 1) m = m.squeeze(1);
  GOLGI_CHECK(m.dim() == 3, "relevance mass: ", what, " must be [H, W], [B, H, W] or [B, 1, H, W], got ", maps.sizes());
  return m.to(torch::kDouble).contiguous();
}

at::Tensor as_roi_batch(const at::Tensor& rois, const at::Tensor& maps) {
  at::Tensor r = as_batch(rois, "rois");
  GOLGI_CHECK(r.sizes() == maps.sizes(), "relevance mass: rois ", r.sizes(), " must have the maps' shape ",
              maps.sizes());
  return r != 0;
}

void validate(const RelevanceMassOptions& options) { RelevanceMassOptions::schema().validate(options); }

// Steps 1-2 on a [B, H, W] float64 batch.
at::Tensor smoothed_abs(const at::Tensor& maps, const RelevanceMassOptions& options) {
  GOLGI_CHECK(torch::isfinite(maps).all().item<bool>(),
              "relevance mass: the attribution maps contain NaN or infinite values; fix the attribution first");
  return gaussian_filter2d(maps.abs(), fwhm_to_sigma(options.fwhm()), options.truncate());
}

}  // namespace

at::Tensor gaussian_filter2d(const at::Tensor& x, double sigma, double truncate) {
  check_plane_shape(x, "the image");
  GOLGI_CHECK(sigma >= 0 && std::isfinite(sigma), "gaussian_filter2d: sigma must be >= 0, got ", sigma);
  GOLGI_CHECK(truncate > 0, "gaussian_filter2d: truncate must be > 0, got ", truncate);
  at::Tensor in = x.to(torch::kDouble).contiguous().clone();
  // scipy skips an axis whose sigma is this small.
  if (sigma <= 1e-15) return in;
  const int64_t H = x.size(-2), W = x.size(-1), planes = in.numel() / std::max<int64_t>(H * W, 1);
  const auto w = gaussian_kernel(sigma, truncate);
  at::Tensor tmp = torch::empty_like(in), out = torch::empty_like(in);
  // scipy's order: axis 0 (down the columns) first, then axis 1 (along the rows).
  correlate_axis(in.data_ptr<double>(), tmp.data_ptr<double>(), planes, H, W, /*along_rows=*/false, w);
  correlate_axis(tmp.data_ptr<double>(), out.data_ptr<double>(), planes, H, W, /*along_rows=*/true, w);
  return out;
}

at::Tensor dilate_cross(const at::Tensor& mask, int64_t iterations) {
  check_plane_shape(mask, "the mask");
  GOLGI_CHECK(iterations >= 0, "dilate_cross: iterations must be >= 0, got ", iterations);
  at::Tensor m = (mask != 0).contiguous();
  for (int64_t it = 0; it < iterations; ++it) {
    at::Tensor grown = m.clone();
    const int64_t H = m.size(-2), W = m.size(-1);
    // Neighbours outside the image are 0 (scipy's border_value), so only shifted copies inside
    // the image contribute.
    if (H > 1) {
      grown.narrow(-2, 1, H - 1).logical_or_(m.narrow(-2, 0, H - 1));
      grown.narrow(-2, 0, H - 1).logical_or_(m.narrow(-2, 1, H - 1));
    }
    if (W > 1) {
      grown.narrow(-1, 1, W - 1).logical_or_(m.narrow(-1, 0, W - 1));
      grown.narrow(-1, 0, W - 1).logical_or_(m.narrow(-1, 1, W - 1));
    }
    m = grown;
  }
  return m;
}

double percentile_linear(const at::Tensor& x, double q) {
  GOLGI_CHECK(x.defined() && x.numel() > 0, "percentile: no values");
  GOLGI_CHECK(q >= 0 && q <= 100, "percentile: q must be in [0, 100], got ", q);
  at::Tensor sorted = std::get<0>(x.to(torch::kDouble).flatten().sort());
  const double* v = sorted.data_ptr<double>();
  const double index = q / 100.0 * static_cast<double>(sorted.numel() - 1);
  const auto lo = static_cast<int64_t>(std::floor(index));
  const int64_t hi = std::min<int64_t>(lo + 1, sorted.numel() - 1);
  const double t = index - static_cast<double>(lo), a = v[lo], b = v[hi], diff = b - a;
  // numpy's _lerp: from the nearer end, so t = 1 gives b exactly.
  return t >= 0.5 ? b - diff * (1.0 - t) : a + diff * t;
}

at::Tensor relevance_mass_map(const at::Tensor& maps, const RelevanceMassOptions& options) {
  validate(options);
  at::Tensor a = smoothed_abs(as_batch(maps, "maps"), options);
  for (int64_t b = 0; b < a.size(0); ++b) {
    at::Tensor plane = a[b];
    const double p = percentile_linear(plane, options.percentile());
    plane.masked_fill_(plane < p, 0.0);
  }
  return maps.dim() == 2 ? a[0] : a;
}

at::Tensor relevance_mass_accuracy(const at::Tensor& maps, const at::Tensor& rois, const RelevanceMassOptions& options) {
  validate(options);
  const at::Tensor m = as_batch(maps, "maps");
  const at::Tensor roi = dilate_cross(as_roi_batch(rois, m), options.dilations());
  at::Tensor a = relevance_mass_map(m, options);
  if (a.dim() == 2) a = a.unsqueeze(0);
  const at::Tensor total = a.sum({1, 2}), inside = (a * roi).sum({1, 2});
  return torch::where(total > 0, inside / total.clamp_min(std::numeric_limits<double>::min()),
                      torch::zeros_like(total));
}

at::Tensor relevance_false_positives(const at::Tensor& maps, const at::Tensor& rois, const RelevanceMassOptions& options) {
  validate(options);
  const at::Tensor m = as_batch(maps, "maps");
  const at::Tensor roi = dilate_cross(as_roi_batch(rois, m), options.dilations());
  const at::Tensor a = smoothed_abs(m, options);
  at::Tensor out = torch::zeros({a.size(0)}, torch::kBool);
  for (int64_t b = 0; b < a.size(0); ++b) {
    const at::Tensor in = a[b].masked_select(roi[b]), outside = a[b].masked_select(roi[b].logical_not());
    if (in.numel() == 0 || outside.numel() == 0) continue;
    out[b] = outside.max().item<double>() > percentile_linear(in, options.percentile());
  }
  return out;
}

at::Tensor relevance_chance(const at::Tensor& rois, const RelevanceMassOptions& options) {
  validate(options);
  const at::Tensor r = dilate_cross(as_batch(rois, "rois") != 0, options.dilations());
  return r.to(torch::kDouble).mean({1, 2});
}

}  // namespace golgi::methods
