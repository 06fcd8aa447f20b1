// Synthetic "brains" with a known ground-truth region, for validating attribution methods (paper
// id `xai-validation`; Siegel et al. 2025, "Explainable AI Methods for Neuroimaging: Systematic
// Failures of Common Tools").
//
// Subject i (its own random stream derive_seed(seed, "synthetic-brains", i), so subject i is the
// same image whatever `count` is):
//   head      an ellipse centred in the image, semi-axes 0.38·S (x) and 0.44·S (y) (S = image
//             size), filled with 0.35·g, where g ~ U(0.8, 1.2) is the subject's global intensity;
//   regions   R Gaussian blobs g·a_r·exp(−|x − c_r|² / (2 s_r²)) at template centres on an inner
//             ellipse (semi-axes 0.22·S, 0.27·S, evenly spaced angles) jittered by U(−1, 1) px, with
//             sizes s_r = s̄·(1 + 0.22·u_r + 0.10·z) (z ~ N(0, 1) shared by all regions of the
//             subject: sizes are correlated, as real brain volumes are; u_r ~ N(0, 1) its own;
//             clamped to [0.5·s̄, 1.6·s̄]), s̄ = 0.05·S px, and relative intensities a_r ~ U(0.6, 1.4);
//   noise     white noise smoothed by a Gaussian of σ 1.5 px, scaled to standard deviation
//             `noise` (default 0.05), over the whole image.
// Pixels are float32 [1, S, S]; a head pixel is ~0.35, a region's peak ~1.3 (unnormalised).
//
// Target (the paper's confound-adjusted IDP, "cIDP"): the size of region `target_region`
// residualised, by least squares with an intercept over the generated sample, on the first
// `components` principal components of the other regions' sizes and on the global intensity g.
// The residual is uncorrelated (in-sample, exactly up to rounding) with every other region's size
// and with g, so a model can only predict it from region `target_region` itself.
//
// Ground truth: the ROI of subject i is the disc |x − c_t| <= 2·s_t of its target region (where
// the blob is above exp(−2) = 13.5% of its peak).
#pragma once

#include <cstdint>

#include <ATen/core/Tensor.h>

#include "golgi/core/json.h"
#include "golgi/core/options.h"

namespace golgi::data {

struct SyntheticBrainsOptions {
  GOLGI_ARG(int64_t, count) = 1000;        // subjects
  GOLGI_ARG(int64_t, image_size) = 64;     // S
  GOLGI_ARG(int64_t, regions) = 8;         // R
  GOLGI_ARG(int64_t, target_region) = 3;   // 0-based index of the region whose size is the target
  GOLGI_ARG(int64_t, components) = 0;      // PCs of the other sizes to residualise on; 0: all R − 1
  GOLGI_ARG(double, noise) = 0.05;         // standard deviation of the smooth noise
  GOLGI_ARG(int64_t, seed) = 0;
  static const OptionSchema<SyntheticBrainsOptions>& schema();
};

struct SyntheticBrains {
  at::Tensor images;            // [N, 1, S, S] float32
  at::Tensor sizes;             // [N, R] float64, blob σ in px
  at::Tensor intensities;       // [N, R] float64, relative intensities a_r
  at::Tensor global_intensity;  // [N] float64, g
  at::Tensor centers;           // [N, R, 2] float64, (x, y) in px
  at::Tensor rois;              // [N, S, S] bool, the target region's disc
  at::Tensor raw_target;        // [N] float64, the target region's size
  at::Tensor target;            // [N] float64, the residualised size (mean 0; px)
  Json card;                    // the options and the construction, for result files
};

// Throws golgi::Error for out-of-range options (count < 3, target_region >= regions, more
// components than regions − 1, ...).
SyntheticBrains generate_synthetic_brains(const SyntheticBrainsOptions& options);

}  // namespace golgi::data
