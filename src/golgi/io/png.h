// PNG encoding to memory (libpng): 8-bit grayscale, grayscale + alpha, RGB or RGBA. Used for atlas
// images (input images, activation-map masks) and figures.
#pragma once

#include <cstdint>
#include <string>

namespace golgi::io {

// `pixels` holds height rows of width * channels bytes (channels 1, 2, 3 or 4). Returns the PNG
// file's bytes. Throws golgi::Error on bad sizes.
std::string encode_png(const uint8_t* pixels, int64_t width, int64_t height, int channels);

// Width, height and channels of a PNG (for tests and validation); throws golgi::Error when the
// bytes are not a PNG libpng can read.
struct PngInfo {
  int64_t width = 0, height = 0;
  int channels = 0;
};
PngInfo png_info(const std::string& bytes);

}  // namespace golgi::io
