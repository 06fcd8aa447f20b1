// Element types shared by every tensor file format golgi reads and writes. Torch-free, so the
// parsers built on it can be fuzzed without LibTorch.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace golgi::io {

enum class DType { F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL };

// Bytes per element.
size_t dtype_size(DType dtype);
// safetensors spelling: "F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U8", "BOOL".
const char* dtype_name(DType dtype);
std::optional<DType> dtype_from_name(std::string_view name);
// All dtypes, in enum order (for sweeps and error messages).
const std::vector<DType>& all_dtypes();

// Number of elements of a shape; throws golgi::Error on a negative dimension or on overflow.
size_t element_count(const std::vector<int64_t>& shape);
std::string shape_string(const std::vector<int64_t>& shape);  // "[2, 3]"
// Bytes of a tensor of this shape and dtype; throws golgi::Error (without a file name: parsers
// prefix their own) on a negative dimension or when the size overflows 64 bits.
size_t byte_size(const std::vector<int64_t>& shape, DType dtype);

// A borrowed, read-only tensor: row-major (C order), little-endian bytes.
struct TensorView {
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  const uint8_t* data = nullptr;
  size_t nbytes = 0;
};

// An owning tensor: row-major (C order), little-endian bytes.
struct RawTensor {
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  std::vector<uint8_t> data;

  TensorView view() const { return {dtype, shape, data.data(), data.size()}; }
};

}  // namespace golgi::io
