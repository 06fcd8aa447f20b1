// NPY reading and writing (format versions 1.0, 2.0 and 3.0; little-endian; C order). Torch-free.
//
// Everything golgi writes is numpy.load-able. Reading validates the magic, version, header length,
// the header dict (descr, fortran_order, shape), the dtype ('<f8' '<f4' '<f2' '<i8' '<i4' '<i2'
// '|i1' '|u1' '|b1'; big-endian and others are rejected naming the descr) and that the payload size
// matches the shape. Fortran-order arrays are transposed to C order on read.
#pragma once

#include <cstdint>
#include <string>

#include "golgi/io/dtype.h"

namespace golgi::io {

RawTensor read_npy(const std::string& path);
// Parses bytes already in memory; `source` names them in errors.
RawTensor parse_npy(const uint8_t* data, size_t size, const std::string& source = "<memory>");

// The full file content for `tensor` (header padded to a multiple of 64 bytes, version 1.0 unless
// the header needs 2.0).
std::string encode_npy(const TensorView& tensor);
// Writes atomically.
void write_npy(const std::string& path, const TensorView& tensor);

// NPY descr for a dtype ("<f4"); BF16 has no numpy dtype and is rejected with a clear error.
std::string npy_descr(DType dtype);

}  // namespace golgi::io
