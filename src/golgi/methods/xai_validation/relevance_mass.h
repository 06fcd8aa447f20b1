// Relevance-mass accuracy (RMA): how much of an attribution map's mass falls on the region that
// truly drives the target (paper id `xai-validation`).
//
// Siegel et al. 2025, "Explainable AI Methods for Neuroimaging: Systematic Failures of Common
// Tools". With synthetic data the ground-truth region is known, so an attribution method can be
// scored: a map e [H, W] and a region of interest R [H, W] (bool) give
//
//   1. a = |e|                                        (sign is not location)
//   2. a ← G_σ * a,   σ = FWHM / (2 √(2 ln 2))        (FWHM 2 px: σ = 0.8493 px, "FWHM / 2.355")
//   3. p = the 99th percentile of a over all H·W pixels (linear interpolation, numpy's default);
//      a(x) ← 0 where a(x) < p                         (only the top 1% of the map survives)
//   4. R' = R dilated twice by the 3×3 cross            (a one-pixel tolerance, twice)
//   5. RMA = Σ_{x ∈ R'} a(x) / Σ_x a(x),   0 when Σ_x a(x) = 0
//
// The Gaussian smoothing is scipy.ndimage.gaussian_filter's, so the xcheck can call scipy
// directly: a separable kernel exp(−x²/2σ²)/Σ over x = −r..r with r = floor(truncate·σ + 0.5)
// (truncate 4), mode 'reflect' (half-sample symmetric: d c b a | a b c d | d c b a), rows then
// columns, in float64. The dilation is scipy.ndimage.binary_dilation's default: the 3×3 cross,
// pixels outside the image count as 0, iterated twice.
//
// Chance level: a map that spreads its mass uniformly scores the area fraction |R'| / (H·W).
//
// False positive (the paper's "activation outside the true region"): a map, after steps 1–2, has
// a false positive when its maximum outside R' exceeds the 99th percentile of its values inside R'.
//
// Shapes: maps [H, W] or [B, H, W] (or [B, 1, H, W]), any floating dtype; rois the same shape as
// the maps without channel, bool or 0/1. All arithmetic in float64.
#pragma once

#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>

#include "golgi/core/options.h"

namespace golgi::methods {

struct RelevanceMassOptions {
  GOLGI_ARG(double, fwhm) = 2.0;              // Gaussian smoothing, px; 0 disables it
  GOLGI_ARG(double, percentile) = 99.0;       // keep values >= this percentile of the map
  GOLGI_ARG(int64_t, dilations) = 2;          // 3x3-cross dilations of the ROI
  GOLGI_ARG(double, truncate) = 4.0;          // kernel radius in σ (scipy's default)
  static const OptionSchema<RelevanceMassOptions>& schema();
};

// σ of a Gaussian with full width at half maximum `fwhm`: fwhm / (2 √(2 ln 2)) = fwhm / 2.3548.
double fwhm_to_sigma(double fwhm);

// scipy.ndimage.gaussian_filter(x, sigma, mode='reflect', truncate=truncate) over the last two
// dimensions of x ([H, W] or [..., H, W]), in float64; sigma 0 returns x as float64.
at::Tensor gaussian_filter2d(const at::Tensor& x, double sigma, double truncate = 4.0);

// scipy.ndimage.binary_dilation(mask, iterations=n) with the 3x3 cross, over the last two
// dimensions; returns bool.
at::Tensor dilate_cross(const at::Tensor& mask, int64_t iterations);

// numpy.percentile(x, q) (linear interpolation) of all elements of x.
double percentile_linear(const at::Tensor& x, double q);

// Steps 1–3: the smoothed, thresholded map, float64 with the maps' shape ([B, H, W] for a batch).
at::Tensor relevance_mass_map(const at::Tensor& maps, const RelevanceMassOptions& options = {});

// Steps 1–5: RMA per map, [B] float64 (a single [H, W] map gives [1]). Throws golgi::Error when
// the shapes differ, a map has non-finite values, or the options are out of range.
at::Tensor relevance_mass_accuracy(const at::Tensor& maps, const at::Tensor& rois,
                                   const RelevanceMassOptions& options = {});

// Per map: true when the maximum of the smoothed |map| (steps 1–2) outside the dilated ROI exceeds
// the 99th percentile of it inside (see above). [B] bool. A map whose dilated ROI covers the whole
// image is never a false positive.
at::Tensor relevance_false_positives(const at::Tensor& maps, const at::Tensor& rois,
                                     const RelevanceMassOptions& options = {});

// The dilated ROI's area fraction per map, [B] float64: the RMA of a uniform map.
at::Tensor relevance_chance(const at::Tensor& rois, const RelevanceMassOptions& options = {});

}  // namespace golgi::methods
