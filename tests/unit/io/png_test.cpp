// PNG encoding: libpng reads back what golgi writes, for every channel count; bad sizes are errors.
#include <gtest/gtest.h>

#include <vector>

#include "golgi/io/png.h"
#include "test_support.h"

namespace {

TEST(Png, EncodesAndReadsBackEveryChannelCount) {
  for (int channels = 1; channels <= 4; ++channels) {
    std::vector<uint8_t> pixels(static_cast<size_t>(7 * 5 * channels));
    for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>(i * 13);
    std::string png = golgi::io::encode_png(pixels.data(), 7, 5, channels);
    ASSERT_GT(png.size(), 8u);
    EXPECT_EQ(png.substr(1, 3), "PNG");
    auto info = golgi::io::png_info(png);
    EXPECT_EQ(info.width, 7);
    EXPECT_EQ(info.height, 5);
    EXPECT_EQ(info.channels, channels);
  }
}

TEST(Png, RejectsBadSizesAndNonPngBytes) {
  uint8_t pixel = 0;
  EXPECT_NE(golgi::testing::error_of([&] { golgi::io::encode_png(&pixel, 0, 1, 1); }).find("PNG size"), std::string::npos);
  EXPECT_NE(golgi::testing::error_of([&] { golgi::io::encode_png(&pixel, 1, 1, 5); }).find("channels"), std::string::npos);
  EXPECT_NE(golgi::testing::error_of([] { golgi::io::png_info("GIF89a not a png"); }).find("not a PNG"), std::string::npos);
  std::vector<uint8_t> pixels(16, 7);
  std::string png = golgi::io::encode_png(pixels.data(), 4, 4, 1);
  EXPECT_NE(golgi::testing::error_of([&] { golgi::io::png_info(png.substr(0, 20)); }).find("cannot read PNG"), std::string::npos);
}

}  // namespace
