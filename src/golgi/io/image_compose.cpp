#include "golgi/io/image_compose.h"

#include <algorithm>
#include <cmath>

#include <torch/torch.h>

#include "golgi/core/error.h"
#include "golgi/io/atomic_file.h"
#include "golgi/io/png.h"

namespace golgi::io {

namespace {

using Rgb = std::array<uint8_t, 3>;

// matplotlib's viridis at t = 0, 1/8, ..., 1 and coolwarm at 0, 1/4, ..., 1 (rounded to bytes).
const std::vector<Rgb>& viridis_points() {
  static const std::vector<Rgb> points = {{68, 1, 84},    {71, 45, 123},  {59, 82, 139},
                                          {44, 114, 142}, {33, 145, 140}, {40, 174, 128},
                                          {94, 201, 98},  {173, 220, 48}, {253, 231, 37}};
  return points;
}
const std::vector<Rgb>& coolwarm_points() {
  static const std::vector<Rgb> points = {
      {59, 76, 192}, {141, 176, 254}, {221, 220, 220}, {244, 152, 122}, {180, 4, 38}};
  return points;
}

uint8_t to_byte(double v) { return static_cast<uint8_t>(std::lround(std::clamp(v, 0.0, 255.0))); }

// [C, H, W] float64 contiguous CPU, C in {1, 3}; [H, W] becomes [1, H, W].
at::Tensor chw(const at::Tensor& image, const char* what) {
  GOLGI_CHECK(image.defined() && (image.dim() == 2 || image.dim() == 3), what,
              " must be [H, W] or [C, H, W], got ", image.defined() ? image.dim() : 0, " dimensions");
  at::Tensor x = (image.dim() == 2 ? image.unsqueeze(0) : image).to(torch::kCPU).to(torch::kDouble).contiguous();
  GOLGI_CHECK(x.size(0) == 1 || x.size(0) == 3, what, " must have 1 (grey) or 3 (RGB) channels, got ", x.size(0),
              " (channels come first: [C, H, W])");
  GOLGI_CHECK(x.size(1) >= 1 && x.size(2) >= 1, what, " is empty: [", x.size(0), ", ", x.size(1), ", ", x.size(2), "]");
  GOLGI_CHECK(torch::isfinite(x).all().item<bool>(), what, " contains NaN or infinite values");
  return x;
}

Image8 bytes_of(const at::Tensor& x, double lo, double hi) {
  Image8 out;
  out.channels = static_cast<int>(x.size(0));
  out.height = x.size(1);
  out.width = x.size(2);
  out.pixels.resize(out.width * out.height * out.channels);
  const double* v = x.data_ptr<double>();
  const double scale = hi > lo ? 255.0 / (hi - lo) : 0.0;
  const int64_t plane = out.width * out.height;
  for (int64_t c = 0; c < out.channels; ++c)
    for (int64_t p = 0; p < plane; ++p) out.pixels[p * out.channels + c] = to_byte((v[c * plane + p] - lo) * scale);
  return out;
}

}  // namespace

std::string Image8::png() const {
  GOLGI_CHECK(static_cast<int64_t>(pixels.size()) == width * height * channels, "image has ", pixels.size(),
              " bytes, expected width · height · channels = ", width * height * channels);
  return encode_png(pixels.data(), width, height, channels);
}

void Image8::save_png(const std::string& path) const { write_file_atomic(path, png()); }

Image8 to_image8(const at::Tensor& image, double lo, double hi) {
  GOLGI_CHECK(std::isfinite(lo) && std::isfinite(hi) && hi >= lo, "image range must be finite with hi >= lo, got [",
              lo, ", ", hi, "]");
  return bytes_of(chw(image, "image"), lo, hi);
}

Image8 to_image8(const at::Tensor& image) {
  const at::Tensor x = chw(image, "image");
  return bytes_of(x, x.min().item<double>(), x.max().item<double>());
}

const OptionSchema<GridOptions>& GridOptions::schema() {
  static const auto schema =
      OptionSchema<GridOptions>("grid")
          .add("columns", &GridOptions::columns_, "cells per row (0: ceil(sqrt(N)))", at_least<int64_t>(0))
          .add("padding", &GridOptions::padding_, "pixels between and around cells", at_least<int64_t>(0))
          .add("pad_value", &GridOptions::pad_value_, "byte value of the padding", between<int64_t>(0, 255))
          .add("scaling", &GridOptions::scaling_, "how floats become bytes", {"per_image", "global", "unit"})
          .add("upscale", &GridOptions::upscale_, "nearest-neighbour factor per cell", at_least<int64_t>(1));
  return schema;
}

Image8 image_grid(const at::Tensor& images, const GridOptions& options) {
  GridOptions::schema().validate(options);
  GOLGI_CHECK(images.defined() && (images.dim() == 3 || images.dim() == 4),
              "image_grid needs a batch [N, C, H, W] or [N, H, W], got ", images.defined() ? images.dim() : 0,
              " dimensions");
  const at::Tensor batch = images.dim() == 3 ? images.unsqueeze(1) : images;
  const int64_t n = batch.size(0);
  GOLGI_CHECK(n >= 1, "image_grid needs at least one image");
  const int64_t columns =
      options.columns() > 0 ? std::min(options.columns(), n)
                            : static_cast<int64_t>(std::ceil(std::sqrt(static_cast<double>(n)) - 1e-9));
  const int64_t rows = (n + columns - 1) / columns;
  double glo = 0, ghi = 1;
  if (options.scaling() == "global") {
    const at::Tensor all = batch.to(torch::kDouble);
    GOLGI_CHECK(torch::isfinite(all).all().item<bool>(), "image_grid batch contains NaN or infinite values");
    glo = all.min().item<double>();
    ghi = all.max().item<double>();
  }
  std::vector<Image8> cells;
  for (int64_t i = 0; i < n; ++i) {
    const at::Tensor one = chw(batch[i], "image_grid image");
    Image8 cell = options.scaling() == "per_image" ? bytes_of(one, one.min().item<double>(), one.max().item<double>())
                                                   : bytes_of(one, glo, ghi);
    cells.push_back(upscale(cell, options.upscale()));
  }
  const int64_t cw = cells[0].width, ch = cells[0].height, pad = options.padding();
  Image8 out;
  out.channels = cells[0].channels;
  out.width = columns * (cw + pad) + pad;
  out.height = rows * (ch + pad) + pad;
  out.pixels.assign(out.width * out.height * out.channels, static_cast<uint8_t>(options.pad_value()));
  for (int64_t i = 0; i < n; ++i) {
    const int64_t x0 = pad + (i % columns) * (cw + pad), y0 = pad + (i / columns) * (ch + pad);
    for (int64_t y = 0; y < ch; ++y)
      std::copy_n(cells[i].pixels.begin() + y * cw * out.channels, cw * out.channels,
                  out.pixels.begin() + ((y0 + y) * out.width + x0) * out.channels);
  }
  return out;
}

std::array<uint8_t, 3> colormap(const std::string& name, double t) {
  GOLGI_CHECK(name == "viridis" || name == "coolwarm", "unknown colour map '", name, "'; use viridis or coolwarm");
  GOLGI_CHECK(std::isfinite(t), "colour map position must be finite, got ", t);
  const auto& points = name == "viridis" ? viridis_points() : coolwarm_points();
  const double scaled = std::clamp(t, 0.0, 1.0) * static_cast<double>(points.size() - 1);
  const size_t i = std::min(static_cast<size_t>(scaled), points.size() - 2);
  const double f = scaled - static_cast<double>(i);
  Rgb out;
  for (int c = 0; c < 3; ++c) out[c] = to_byte((1 - f) * points[i][c] + f * points[i + 1][c]);
  return out;
}

const OptionSchema<HeatmapOptions>& HeatmapOptions::schema() {
  static const auto schema = OptionSchema<HeatmapOptions>("heatmap")
                                 .add("colormap", &HeatmapOptions::colormap_, "colour map",
                                      {"auto", "viridis", "coolwarm"})
                                 .add("symmetric", &HeatmapOptions::symmetric_, "scale [-m, m], m = max |v|");
  return schema;
}

Image8 heatmap(const at::Tensor& values, const HeatmapOptions& options) {
  HeatmapOptions::schema().validate(options);
  GOLGI_CHECK(values.defined() && values.dim() == 2, "heatmap needs values [H, W], got ",
              values.defined() ? values.dim() : 0, " dimensions");
  const at::Tensor v = chw(values, "heatmap values")[0].contiguous();
  const double lo = v.min().item<double>(), hi = v.max().item<double>();
  std::string name = options.colormap();
  if (name == "auto") name = lo < 0 && hi > 0 ? "coolwarm" : "viridis";
  const bool symmetric = options.symmetric() || (options.colormap() == "auto" && name == "coolwarm");
  const double m = std::max(std::fabs(lo), std::fabs(hi));
  Image8 out;
  out.channels = 3;
  out.height = v.size(0);
  out.width = v.size(1);
  out.pixels.resize(out.width * out.height * 3);
  const double* p = v.data_ptr<double>();
  for (int64_t i = 0; i < out.width * out.height; ++i) {
    double t;
    if (symmetric) t = m > 0 ? 0.5 + 0.5 * p[i] / m : 0.5;
    else t = hi > lo ? (p[i] - lo) / (hi - lo) : 0.0;
    const Rgb c = colormap(name, t);
    std::copy(c.begin(), c.end(), out.pixels.begin() + i * 3);
  }
  return out;
}

Image8 overlay(const Image8& base, const Image8& heat, double alpha) {
  GOLGI_CHECK(alpha >= 0 && alpha <= 1, "overlay alpha must be in [0, 1], got ", alpha);
  GOLGI_CHECK(base.channels == 1 || base.channels == 3, "overlay base must be grey or RGB, got ", base.channels,
              " channels");
  GOLGI_CHECK(heat.channels == 3, "overlay heatmap must be RGB, got ", heat.channels, " channels");
  GOLGI_CHECK(base.width == heat.width && base.height == heat.height, "overlay needs equal sizes: base ", base.width,
              "x", base.height, ", heatmap ", heat.width, "x", heat.height, "; upscale one first");
  Image8 out;
  out.channels = 3;
  out.width = base.width;
  out.height = base.height;
  out.pixels.resize(out.width * out.height * 3);
  for (int64_t i = 0; i < out.width * out.height; ++i)
    for (int c = 0; c < 3; ++c) {
      const double b = base.pixels[i * base.channels + (base.channels == 1 ? 0 : c)];
      out.pixels[i * 3 + c] = to_byte((1 - alpha) * b + alpha * heat.pixels[i * 3 + c]);
    }
  return out;
}

Image8 upscale(const Image8& image, int64_t factor) {
  GOLGI_CHECK(factor >= 1, "upscale factor must be >= 1, got ", factor);
  if (factor == 1) return image;
  Image8 out;
  out.channels = image.channels;
  out.width = image.width * factor;
  out.height = image.height * factor;
  out.pixels.resize(out.width * out.height * out.channels);
  for (int64_t y = 0; y < out.height; ++y)
    for (int64_t x = 0; x < out.width; ++x)
      std::copy_n(image.pixels.begin() + ((y / factor) * image.width + x / factor) * image.channels, image.channels,
                  out.pixels.begin() + (y * out.width + x) * out.channels);
  return out;
}

}  // namespace golgi::io
