// libFuzzer target: parse_idx (raw and gzip) on arbitrary bytes; only golgi::Error may escape.
#include <cstddef>
#include <cstdint>

#include "golgi/core/error.h"
#include "golgi/io/idx.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const golgi::io::RawTensor tensor = golgi::io::parse_idx(data, size, "fuzz.idx");
    if (tensor.data.size() != golgi::io::element_count(tensor.shape) * golgi::io::dtype_size(tensor.dtype))
      __builtin_trap();
  } catch (const golgi::Error&) {
  }
  return 0;
}
