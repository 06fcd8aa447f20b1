#include "golgi/analysis/tv_bregman.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include <torch/torch.h>

#include "golgi/core/error.h"

namespace golgi::analysis {

const OptionSchema<TvBregmanOptions>& TvBregmanOptions::schema() {
  static const auto schema =
      OptionSchema<TvBregmanOptions>("tv_bregman")
          .add("weight", &TvBregmanOptions::weight_, "fidelity weight (larger = less smoothing)",
               at_least(0.0, /*inclusive=*/false))
          .add("max_iter", &TvBregmanOptions::max_iter_, "sweeps at most", at_least<int64_t>(1))
          .add("eps", &TvBregmanOptions::eps_, "stop when the rmse change of a sweep is <= this", at_least(0.0))
          .add("isotropic", &TvBregmanOptions::isotropic_, "isotropic (true) or anisotropic TV")
          .add("per_channel", &TvBregmanOptions::per_channel_, "each channel stops on its own rmse");
  return schema;
}

namespace {

// The state of one channel on the (H + 2) × (W + 2) framed grid.
class Channel {
 public:
  Channel(const double* f, int64_t h, int64_t w)
      : h_(h), w_(w), stride_(w + 2), f_(f, f + h * w), u_((h + 2) * (w + 2), 0.0), dx_(u_), dy_(u_), bx_(u_), by_(u_) {
    for (int64_t r = 0; r < h; ++r)
      for (int64_t c = 0; c < w; ++c) u_[at(r + 1, c + 1)] = f[r * w + c];
    // scikit-image's frame: mirrored at the top and left, replicated at the bottom and right.
    for (int64_t c = 0; c < w; ++c) {
      u_[at(0, c + 1)] = f[1 * w + c];
      u_[at(h + 1, c + 1)] = f[(h - 1) * w + c];
    }
    for (int64_t r = 0; r < h; ++r) {
      u_[at(r + 1, 0)] = f[r * w + 1];
      u_[at(r + 1, w + 1)] = f[r * w + (w - 1)];
    }
  }

  // One Gauss-Seidel sweep; returns Σ (u_new − u_old)².
  double sweep(double weight, bool isotropic) {
    const double lambda = 2 * weight, norm = weight + 4 * lambda, inv_lambda = 1 / lambda;
    double change = 0;
    for (int64_t r = 1; r <= h_; ++r)
      for (int64_t c = 1; c <= w_; ++c) {
        const int64_t i = at(r, c), n = i - stride_, s = i + stride_, west = i - 1, e = i + 1;
        const double old = u_[i];
        const double ux = u_[e] - old, uy = u_[s] - old;
        const double fresh = (lambda * (u_[s] + u_[n] + u_[e] + u_[west] + dx_[west] - dx_[i] + dy_[n] - dy_[i] -
                                        bx_[west] + bx_[i] - by_[n] + by_[i]) +
                              weight * f_[(r - 1) * w_ + (c - 1)]) /
                             norm;
        u_[i] = fresh;
        change += (fresh - old) * (fresh - old);
        double dx, dy;
        if (isotropic) {
          const double tx = ux + bx_[i], ty = uy + by_[i];
          const double mag = std::sqrt(tx * tx + ty * ty);
          dx = mag * lambda * tx / (mag * lambda + 1);
          dy = mag * lambda * ty / (mag * lambda + 1);
        } else {
          dx = shrink(ux + bx_[i], inv_lambda);
          dy = shrink(uy + by_[i], inv_lambda);
        }
        dx_[i] = dx;
        dy_[i] = dy;
        bx_[i] += ux - dx;
        by_[i] += uy - dy;
      }
    return change;
  }

  void copy_to(double* out) const {
    for (int64_t r = 0; r < h_; ++r)
      for (int64_t c = 0; c < w_; ++c) out[r * w_ + c] = u_[at(r + 1, c + 1)];
  }

 private:
  static double shrink(double v, double t) { return v > t ? v - t : (v < -t ? v + t : 0.0); }
  int64_t at(int64_t r, int64_t c) const { return r * stride_ + c; }

  int64_t h_, w_, stride_;
  std::vector<double> f_, u_, dx_, dy_, bx_, by_;
};

}  // namespace

at::Tensor denoise_tv_bregman(const at::Tensor& image, const TvBregmanOptions& options, int64_t* sweeps) {
  TvBregmanOptions::schema().validate(options);
  GOLGI_CHECK(image.defined() && (image.dim() == 2 || image.dim() == 3),
              "TV-Bregman denoising needs an image [H, W] or [C, H, W], got ", image.defined() ? image.dim() : 0,
              " dimensions");
  const at::Tensor x =
      (image.dim() == 2 ? image.unsqueeze(0) : image).to(torch::kCPU).to(torch::kDouble).contiguous();
  const int64_t channels = x.size(0), h = x.size(1), w = x.size(2);
  GOLGI_CHECK(channels >= 1 && h >= 2 && w >= 2, "TV-Bregman denoising needs height and width >= 2 and at least one "
              "channel, got [", channels, ", ", h, ", ", w, "]");
  GOLGI_CHECK(torch::isfinite(x).all().item<bool>(), "TV-Bregman input contains NaN or infinite pixels");
  const double* data = x.data_ptr<double>();
  std::vector<Channel> state;
  state.reserve(channels);
  for (int64_t k = 0; k < channels; ++k) state.emplace_back(data + k * h * w, h, w);

  const double plane = static_cast<double>(h * w);
  int64_t longest = 0;
  if (options.per_channel()) {
    for (auto& ch : state) {
      int64_t i = 0;
      for (double rmse = std::numeric_limits<double>::max(); i < options.max_iter() && rmse > options.eps(); ++i)
        rmse = std::sqrt(ch.sweep(options.weight(), options.isotropic()) / plane);
      longest = std::max(longest, i);
    }
  } else {
    int64_t i = 0;
    for (double rmse = std::numeric_limits<double>::max(); i < options.max_iter() && rmse > options.eps(); ++i) {
      double change = 0;
      for (auto& ch : state) change += ch.sweep(options.weight(), options.isotropic());
      rmse = std::sqrt(change / (plane * static_cast<double>(channels)));
    }
    longest = i;
  }
  if (sweeps) *sweeps = longest;
  at::Tensor out = torch::empty({channels, h, w}, torch::kDouble);
  for (int64_t k = 0; k < channels; ++k) state[k].copy_to(out.data_ptr<double>() + k * h * w);
  if (image.dim() == 2) out = out.squeeze(0);
  return image.is_floating_point() ? out.to(image.scalar_type()) : out;
}

}  // namespace golgi::analysis
