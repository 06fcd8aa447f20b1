#include "golgi/io/png.h"

#include <png.h>

#include <cstring>
#include <vector>

#include "golgi/core/error.h"

namespace golgi::io {

namespace {

void append_bytes(png_structp png, png_bytep data, png_size_t length) {
  auto* out = static_cast<std::string*>(png_get_io_ptr(png));
  out->append(reinterpret_cast<const char*>(data), length);
}

void no_flush(png_structp) {}

// libpng reports errors by longjmp; turning them into exceptions from the callback is unsafe, so
// the message is kept and the setjmp branch throws.
struct ErrorText {
  char text[256] = {0};
};

void on_error(png_structp png, png_const_charp message) {
  auto* error = static_cast<ErrorText*>(png_get_error_ptr(png));
  std::strncpy(error->text, message, sizeof(error->text) - 1);
  png_longjmp(png, 1);
}

void on_warning(png_structp, png_const_charp) {}

struct ReadCursor {
  const std::string* bytes;
  size_t offset = 0;
};

void read_bytes(png_structp png, png_bytep data, png_size_t length) {
  auto* cursor = static_cast<ReadCursor*>(png_get_io_ptr(png));
  if (cursor->offset + length > cursor->bytes->size()) png_error(png, "truncated PNG");
  std::memcpy(data, cursor->bytes->data() + cursor->offset, length);
  cursor->offset += length;
}

}  // namespace

std::string encode_png(const uint8_t* pixels, int64_t width, int64_t height, int channels) {
  GOLGI_CHECK(width > 0 && height > 0 && width <= 65535 && height <= 65535, "PNG size must be within 1..65535, got ",
              width, "x", height);
  GOLGI_CHECK(channels >= 1 && channels <= 4, "PNG channels must be 1-4, got ", channels);
  static const int kColor[] = {0, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_COLOR_TYPE_RGB,
                               PNG_COLOR_TYPE_RGBA};
  ErrorText error;
  std::string out;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &error, on_error, on_warning);
  GOLGI_CHECK(png, "libpng: cannot create a write struct");
  png_infop info = png_create_info_struct(png);
  std::vector<png_bytep> rows(static_cast<size_t>(height));
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    GOLGI_FAIL("libpng could not encode a ", width, "x", height, " image: ", error.text);
  }
  png_set_write_fn(png, &out, append_bytes, no_flush);
  png_set_IHDR(png, info, static_cast<png_uint_32>(width), static_cast<png_uint_32>(height), 8, kColor[channels],
               PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (int64_t y = 0; y < height; ++y) rows[static_cast<size_t>(y)] = const_cast<png_bytep>(pixels + y * width * channels);
  png_write_image(png, rows.data());
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return out;
}

PngInfo png_info(const std::string& bytes) {
  GOLGI_CHECK(bytes.size() >= 8 && png_sig_cmp(reinterpret_cast<png_const_bytep>(bytes.data()), 0, 8) == 0,
              "not a PNG file (bad signature)");
  ErrorText error;
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &error, on_error, on_warning);
  GOLGI_CHECK(png, "libpng: cannot create a read struct");
  png_infop info = png_create_info_struct(png);
  ReadCursor cursor{&bytes, 0};
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, nullptr);
    GOLGI_FAIL("cannot read PNG: ", error.text);
  }
  png_set_read_fn(png, &cursor, read_bytes);
  png_read_info(png, info);
  PngInfo result;
  result.width = png_get_image_width(png, info);
  result.height = png_get_image_height(png, info);
  result.channels = png_get_channels(png, info);
  png_destroy_read_struct(&png, &info, nullptr);
  return result;
}

}  // namespace golgi::io
