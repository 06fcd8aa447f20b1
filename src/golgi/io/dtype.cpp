#include "golgi/io/dtype.h"

#include <limits>

#include "golgi/core/error.h"

namespace golgi::io {

size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::F64:
    case DType::I64:
      return 8;
    case DType::F32:
    case DType::I32:
      return 4;
    case DType::F16:
    case DType::BF16:
    case DType::I16:
      return 2;
    case DType::I8:
    case DType::U8:
    case DType::BOOL:
      return 1;
  }
  GOLGI_ASSERT(false, "unknown DType ", static_cast<int>(dtype));
}

const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::F64: return "F64";
    case DType::F32: return "F32";
    case DType::F16: return "F16";
    case DType::BF16: return "BF16";
    case DType::I64: return "I64";
    case DType::I32: return "I32";
    case DType::I16: return "I16";
    case DType::I8: return "I8";
    case DType::U8: return "U8";
    case DType::BOOL: return "BOOL";
  }
  GOLGI_ASSERT(false, "unknown DType ", static_cast<int>(dtype));
}

std::optional<DType> dtype_from_name(std::string_view name) {
  for (DType dtype : all_dtypes())
    if (name == dtype_name(dtype)) return dtype;
  return std::nullopt;
}

const std::vector<DType>& all_dtypes() {
  static const std::vector<DType> dtypes = {DType::F64, DType::F32, DType::F16, DType::BF16, DType::I64,
                                            DType::I32, DType::I16, DType::I8,  DType::U8,   DType::BOOL};
  return dtypes;
}

size_t byte_size(const std::vector<int64_t>& shape, DType dtype) {
  const size_t count = element_count(shape);
  const size_t element_size = dtype_size(dtype);
  GOLGI_CHECK(count <= std::numeric_limits<size_t>::max() / element_size, "shape ", shape_string(shape), " of ",
              dtype_name(dtype), " is too large: its byte size overflows 64 bits");
  return count * element_size;
}

size_t element_count(const std::vector<int64_t>& shape) {
  bool has_zero = false;
  for (int64_t dim : shape) {
    GOLGI_CHECK(dim >= 0, "shape ", shape_string(shape), " has a negative dimension ", dim);
    has_zero = has_zero || dim == 0;
  }
  // An empty tensor is valid whatever its other dimensions are, so the overflow check below must
  // not reject [2^40, 2^40, 0].
  if (has_zero) return 0;
  size_t count = 1;
  for (int64_t dim : shape) {
    // Checked before multiplying: a hostile file can declare dimensions whose product wraps around
    // size_t and would otherwise pass every later size comparison.
    const auto udim = static_cast<uint64_t>(dim);
    GOLGI_CHECK(count <= std::numeric_limits<size_t>::max() / udim, "shape ", shape_string(shape),
                " has more elements than fit in 64 bits");
    count *= static_cast<size_t>(udim);
  }
  return count;
}

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(shape[i]);
  }
  return out + "]";
}

}  // namespace golgi::io
