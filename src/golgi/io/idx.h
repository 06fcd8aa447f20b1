// IDX files (the MNIST / Fashion-MNIST format), optionally gzip-compressed. Torch-free.
//
// Format: 2 zero bytes, a type code (0x08 u8, 0x09 i8, 0x0B i16, 0x0C i32, 0x0D f32, 0x0E f64), the
// number of dimensions, each dimension as a big-endian u32, then big-endian data. Values are
// returned little-endian in a RawTensor (u8 -> U8, i8 -> I8, i16 -> I16, i32 -> I32, f32 -> F32,
// f64 -> F64). Truncated, oversized or corrupt files throw golgi::Error naming the file.
#pragma once

#include <string>

#include "golgi/io/dtype.h"

namespace golgi::io {

// Reads `path`; gzip is detected by its magic bytes, not the file name.
RawTensor read_idx(const std::string& path);
RawTensor parse_idx(const uint8_t* data, size_t size, const std::string& source = "<memory>");

}  // namespace golgi::io
