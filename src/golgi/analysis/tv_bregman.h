// Total-variation denoising by split Bregman iteration (Goldstein & Osher 2009, "The Split Bregman
// Method for L1-Regularized Problems", SIAM J. Imaging Sci. 2(2); Getreuer 2012, "Rudin-Osher-Fatemi
// Total Variation Denoising using Split Bregman", IPOL), with the semantics of scikit-image's
// restoration.denoise_tv_bregman (0.19), against which tests/xcheck/image_ops_sklearn.sh checks it.
//
// It minimises, per channel, (weight/2) ‖u − f‖² + TV(u) with TV isotropic (Σ ‖∇u‖₂) or
// anisotropic (Σ |∂x u| + |∂y u|). NOTE the direction of `weight`: it weighs FIDELITY to the
// input, so a LARGER weight means LESS smoothing (the opposite of denoise_tv_chambolle's weight).
// The Bregman penalty is λ = 2 · weight.
//
// One sweep visits the pixels in row-major order (Gauss-Seidel, updated neighbours used at once):
//   u ← (λ (u_N + u_S + u_W + u_E + dx_W − dx + dy_N − dy − bx_W + bx − by_N + by) + weight f) / (weight + 4λ)
//   then, with the forward differences ux, uy taken BEFORE the update of u at this pixel,
//   isotropic:   s = ‖(ux + bx, uy + by)‖,  (dx, dy) = s λ / (s λ + 1) · (ux + bx, uy + by)
//   anisotropic: dx = shrink(ux + bx, 1/λ), dy = shrink(uy + by, 1/λ)
//   bx += ux − dx,  by += uy − dy.
// Boundary (scikit-image's, kept for agreement): the image sits in a frame one pixel wide whose
// values are fixed before the first sweep: the top frame row holds image row 1 and the left frame
// column image column 1 (mirror), the bottom row and right column repeat the last row and column;
// dx, dy, bx, by are 0 in the frame. Hence height and width must be >= 2.
// Stopping: after a sweep, rmse = sqrt(Σ (u_new − u_old)² / number of values); the iteration stops
// when rmse <= eps or after max_iter sweeps. With per_channel (scikit-image's channel_axis set) each
// channel stops on its own rmse, exactly as calling scikit-image on each channel as a grey image;
// without it (channel_axis=None on a multi-channel array) one rmse over all channels decides for
// all of them. (scikit-image 0.19's channel_axis path reuses one output buffer across channels and
// so starts channel c > 0 with channel c − 1's result in its dx, dy, bx, by; that carry-over is a
// bug, not a semantic, and is not reproduced: the differences are a few 1e-3 of the range.)
//
// Arithmetic in float64; the result has the input's shape and (floating) dtype.
// Used between the steps of activation maximisation (feature visualisation) as the TV prior.
#pragma once

#include <cstdint>

#include <ATen/core/Tensor.h>

#include "golgi/core/options.h"

namespace golgi::analysis {

struct TvBregmanOptions {
  GOLGI_ARG(double, weight) = 5.0;      // fidelity weight: larger = closer to the input
  GOLGI_ARG(int64_t, max_iter) = 100;   // sweeps at most
  GOLGI_ARG(double, eps) = 1e-3;        // rmse change per sweep at which to stop, image units
  GOLGI_ARG(bool, isotropic) = true;
  GOLGI_ARG(bool, per_channel) = true;  // separate stopping per channel (see above)
  static const OptionSchema<TvBregmanOptions>& schema();
};

// image: [H, W] (grey) or [C, H, W] (channels first, as golgi's image tensors), H, W >= 2, finite,
// any floating dtype (integer images are converted to float64 without rescaling). Returns the
// denoised image, same shape. `sweeps` (optional) receives the number of sweeps of the channel that
// ran longest.
at::Tensor denoise_tv_bregman(const at::Tensor& image, const TvBregmanOptions& options = {}, int64_t* sweeps = nullptr);

}  // namespace golgi::analysis
