// Composing figures from float tensors: image grids, colour-mapped heatmaps, overlays and nearest
// upscaling, encoded as 8-bit PNG (io/png.h) and written atomically (io/atomic_file.h).
//
// Pixel convention: a float value v in [lo, hi] maps to the byte round(255 · (v − lo) / (hi − lo)),
// clamped to 0..255; a constant image (hi == lo) maps to 0. Tensors are channels first, as
// golgi's image tensors: one image [C, H, W] or [H, W]; a batch [N, C, H, W] or [N, H, W], with C 1
// (grey) or 3 (RGB).
//
// Colour maps are sampled at a few control points and interpolated linearly in RGB:
//   "viridis" (sequential, perceptually uniform; van der Walt & Smith, matplotlib 2.0), nine
//             points taken from matplotlib's table at 0, 1/8, ..., 1;
//   "coolwarm" (diverging, Moreland 2009, "Diverging Color Maps for Scientific Visualization"),
//             five points; a signed map is scaled symmetrically, [−m, m] with m = max |v|, so that
//             zero is the neutral grey in the middle.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "golgi/core/options.h"

namespace golgi::io {

// An 8-bit image, rows top to bottom, channels interleaved (1 grey, 3 RGB, 4 RGBA).
struct Image8 {
  int64_t width = 0, height = 0;
  int channels = 0;
  std::vector<uint8_t> pixels;  // height · width · channels

  uint8_t at(int64_t x, int64_t y, int channel = 0) const { return pixels[(y * width + x) * channels + channel]; }
  std::string png() const;                  // the PNG file's bytes
  void save_png(const std::string& path) const;  // atomically; golgi::Error naming the path on failure
};

// One image [C, H, W] or [H, W] (C 1 or 3) to bytes, scaled from [lo, hi] (see above).
Image8 to_image8(const at::Tensor& image, double lo, double hi);
// The same, scaled by the image's own minimum and maximum.
Image8 to_image8(const at::Tensor& image);

struct GridOptions {
  GOLGI_ARG(int64_t, columns) = 0;             // 0: ceil(sqrt(N))
  GOLGI_ARG(int64_t, padding) = 2;             // pixels between cells and around the grid
  GOLGI_ARG(int64_t, pad_value) = 255;         // byte value of the padding (white)
  GOLGI_ARG(std::string, scaling) = "per_image";  // "per_image" or "global" min-max, or "unit" ([0, 1] clamped)
  GOLGI_ARG(int64_t, upscale) = 1;             // integer nearest-neighbour factor per cell
  static const OptionSchema<GridOptions>& schema();
};

// A grid of N images [N, C, H, W] or [N, H, W], row-major, ceil(N / columns) rows. Grey batches
// give a grey image, RGB batches an RGB image. Size: columns · (W·upscale + padding) + padding wide.
Image8 image_grid(const at::Tensor& images, const GridOptions& options = {});

// The colour of map `name` ("viridis" or "coolwarm") at t in [0, 1] (clamped).
std::array<uint8_t, 3> colormap(const std::string& name, double t);

struct HeatmapOptions {
  GOLGI_ARG(std::string, colormap) = "auto";  // "viridis", "coolwarm", or "auto": coolwarm when the
                                              // values have both signs, viridis otherwise
  GOLGI_ARG(bool, symmetric) = false;         // force [−m, m] scaling (always on for coolwarm under auto)
  static const OptionSchema<HeatmapOptions>& schema();
};

// An RGB heatmap of values [H, W] (finite). Sequential maps scale [min, max] to [0, 1]; diverging
// ones (coolwarm) and `symmetric` scale [−m, m], m = max |v|. A constant map gives t = 0 (or 0.5
// when symmetric).
Image8 heatmap(const at::Tensor& values, const HeatmapOptions& options = {});

// base (grey or RGB, any size) under `heat` (RGB, same width and height), alpha in [0, 1]:
// out = (1 − alpha) · base + alpha · heat per channel (grey bases are expanded to RGB), rounded.
Image8 overlay(const Image8& base, const Image8& heat, double alpha);

// Each pixel repeated factor × factor times (nearest neighbour), factor >= 1.
Image8 upscale(const Image8& image, int64_t factor);

}  // namespace golgi::io
