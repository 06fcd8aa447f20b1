// Image composition: byte scaling, grids (sizes, padding, scaling modes), colour maps, heatmaps,
// overlays, nearest upscaling and PNG output checked with png_info.
#include <gtest/gtest.h>

#include <torch/torch.h>

#include "golgi/core/error.h"
#include "golgi/io/atomic_file.h"
#include "golgi/io/image_compose.h"
#include "golgi/io/png.h"
#include "test_support.h"

namespace {

namespace io = golgi::io;
using golgi::testing::error_of;

TEST(ImageCompose, ScalesFloatsToBytes) {
  const at::Tensor t = torch::tensor({0.0, 0.5, 1.0, 2.0}, torch::kDouble).view({1, 4});
  const io::Image8 fixed = io::to_image8(t, 0, 1);
  EXPECT_EQ(fixed.width, 4);
  EXPECT_EQ(fixed.height, 1);
  EXPECT_EQ(fixed.channels, 1);
  EXPECT_EQ(fixed.pixels, (std::vector<uint8_t>{0, 128, 255, 255}));  // 127.5 rounds up; 2 clamps
  EXPECT_EQ(io::to_image8(t).pixels, (std::vector<uint8_t>{0, 64, 128, 255}));  // own min-max
  EXPECT_EQ(io::to_image8(torch::full({2, 2}, 3.0)).pixels, (std::vector<uint8_t>{0, 0, 0, 0}));
  // RGB [3, H, W] is interleaved.
  const at::Tensor rgb = torch::tensor({1.0, 0.0, 0.0}).view({3, 1, 1});
  EXPECT_EQ(io::to_image8(rgb, 0, 1).pixels, (std::vector<uint8_t>{255, 0, 0}));
}

TEST(ImageCompose, GridHasTheRightSizeAndPixels) {
  // Five grey 3 × 4 images; image i is constant except pixel (0, 0) = 1 and (1, 0) = 0.
  at::Tensor batch = torch::full({5, 1, 3, 4}, 0.5);
  batch.select(3, 0).select(2, 0).fill_(1.0);
  batch.select(3, 1).select(2, 0).fill_(0.0);
  batch[4] = batch[4] * 2;  // range [0, 2]
  const io::Image8 grid = io::image_grid(batch, io::GridOptions().padding(2));
  // ceil(sqrt(5)) = 3 columns, 2 rows.
  EXPECT_EQ(grid.width, 3 * (4 + 2) + 2);
  EXPECT_EQ(grid.height, 2 * (3 + 2) + 2);
  EXPECT_EQ(grid.channels, 1);
  EXPECT_EQ(grid.at(0, 0), 255);   // padding
  EXPECT_EQ(grid.at(2, 2), 255);   // image 0, pixel (0, 0) = its max
  EXPECT_EQ(grid.at(3, 2), 0);     // its min
  EXPECT_EQ(grid.at(4, 2), 128);   // 0.5
  EXPECT_EQ(grid.at(8 + 2, 7 + 2), 128);  // image 4 at column 1, row 1: per-image scaling, 1.0 of [0, 2]
  EXPECT_EQ(grid.at(2 * 6 + 2, 7), 255);  // the empty sixth cell is padding
  // Global scaling: image 0's 0.5 is now a quarter of the batch range [0, 2].
  const io::Image8 global = io::image_grid(batch, io::GridOptions().padding(0).scaling("global").pad_value(0));
  EXPECT_EQ(global.width, 12);
  EXPECT_EQ(global.at(2, 0), 64);
  // Upscaled cells and explicit columns.
  const io::Image8 big = io::image_grid(batch, io::GridOptions().columns(5).padding(1).upscale(2));
  EXPECT_EQ(big.width, 5 * (8 + 1) + 1);
  EXPECT_EQ(big.height, 1 * (6 + 1) + 1);
  EXPECT_EQ(big.at(1, 1), 255);
  EXPECT_EQ(big.at(2, 2), 255);
  EXPECT_EQ(big.at(3, 1), 0);
  // [N, H, W] and RGB batches.
  EXPECT_EQ(io::image_grid(torch::rand({4, 5, 6})).channels, 1);
  EXPECT_EQ(io::image_grid(torch::rand({4, 3, 5, 6})).channels, 3);
}

TEST(ImageCompose, ColourMapsHitTheirControlPoints) {
  using Rgb = std::array<uint8_t, 3>;
  EXPECT_EQ(io::colormap("viridis", 0), (Rgb{68, 1, 84}));
  EXPECT_EQ(io::colormap("viridis", 1), (Rgb{253, 231, 37}));
  EXPECT_EQ(io::colormap("viridis", 0.5), (Rgb{33, 145, 140}));
  EXPECT_EQ(io::colormap("viridis", 1.0 / 16), (Rgb{70, 23, 104}));  // halfway between the first two points
  EXPECT_EQ(io::colormap("viridis", -3), io::colormap("viridis", 0));
  EXPECT_EQ(io::colormap("coolwarm", 0.5), (Rgb{221, 220, 220}));
  EXPECT_EQ(io::colormap("coolwarm", 1), (Rgb{180, 4, 38}));
  EXPECT_NE(error_of([] { io::colormap("jet", 0.5); }).find("unknown colour map"), std::string::npos);
}

TEST(ImageCompose, HeatmapsPickAndScaleTheirMap) {
  const at::Tensor positive = torch::tensor({0.0, 1.0, 2.0}).view({1, 3});
  const io::Image8 seq = io::heatmap(positive);
  EXPECT_EQ(seq.channels, 3);
  EXPECT_EQ(seq.at(0, 0, 0), 68);
  EXPECT_EQ(seq.at(1, 0, 1), 145);
  EXPECT_EQ(seq.at(2, 0, 2), 37);
  // Signed values: coolwarm, symmetric, zero in the middle.
  const at::Tensor signed_values = torch::tensor({-1.0, 0.0, 4.0}).view({1, 3});
  const io::Image8 div = io::heatmap(signed_values);
  EXPECT_EQ(div.at(1, 0, 0), 221);
  EXPECT_EQ(div.at(2, 0, 0), 180);
  EXPECT_EQ(div.at(0, 0, 0), io::colormap("coolwarm", 0.375)[0]);
  EXPECT_NE(error_of([] { io::heatmap(torch::ones({2, 2, 2})); }).find("[H, W]"), std::string::npos);
}

TEST(ImageCompose, OverlayBlendsAndUpscaleRepeats) {
  const io::Image8 base = io::to_image8(torch::tensor({0.0, 1.0}).view({1, 2}), 0, 1);
  const io::Image8 heat = io::heatmap(torch::tensor({0.0, 0.0}).view({1, 2}), io::HeatmapOptions().colormap("viridis"));
  EXPECT_EQ(io::overlay(base, heat, 0).pixels, (std::vector<uint8_t>{0, 0, 0, 255, 255, 255}));
  EXPECT_EQ(io::overlay(base, heat, 1).pixels, heat.pixels);
  const io::Image8 half = io::overlay(base, heat, 0.5);
  EXPECT_EQ(half.at(1, 0, 0), 162);  // (255 + 68) / 2 = 161.5 rounds up
  EXPECT_EQ(half.at(0, 0, 2), 42);   // 84 / 2
  const io::Image8 up = io::upscale(half, 3);
  EXPECT_EQ(up.width, 6);
  EXPECT_EQ(up.height, 3);
  EXPECT_EQ(up.at(5, 2, 0), half.at(1, 0, 0));
  EXPECT_EQ(up.at(2, 1, 2), half.at(0, 0, 2));
  EXPECT_NE(error_of([&] { io::overlay(up, heat, 0.5); }).find("equal sizes"), std::string::npos);
  EXPECT_NE(error_of([&] { io::overlay(base, heat, 1.5); }).find("alpha"), std::string::npos);
}

TEST(ImageCompose, WritesPngFiles) {
  const io::Image8 grid = io::image_grid(torch::rand({6, 3, 8, 5}), io::GridOptions().columns(2).upscale(2));
  const io::PngInfo info = io::png_info(grid.png());
  EXPECT_EQ(info.width, 2 * (10 + 2) + 2);
  EXPECT_EQ(info.height, 3 * (16 + 2) + 2);
  EXPECT_EQ(info.channels, 3);
  const std::string path = golgi::testing::scratch_dir("image_compose") + "/grid.png";
  grid.save_png(path);
  EXPECT_EQ(io::png_info(io::read_file(path)).width, info.width);
  EXPECT_NE(error_of([&] { grid.save_png("/nonexistent-folder/x.png"); }), "");
}

TEST(ImageCompose, RejectsBadImages) {
  EXPECT_NE(error_of([] { io::to_image8(torch::ones({2, 4, 4})); }).find("1 (grey) or 3 (RGB)"), std::string::npos);
  EXPECT_NE(error_of([] { io::image_grid(torch::ones({4})); }).find("[N, C, H, W]"), std::string::npos);
  at::Tensor nan = torch::ones({2, 1, 3, 3});
  nan[1][0][1][1] = NAN;
  EXPECT_NE(error_of([&] { io::image_grid(nan); }).find("NaN"), std::string::npos);
  EXPECT_NE(error_of([] { io::image_grid(torch::ones({2, 3, 3}), io::GridOptions().scaling("log")); }).find("scaling"),
            std::string::npos);
}

}  // namespace
