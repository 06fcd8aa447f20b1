// libFuzzer target: parse_npy on arbitrary bytes; only golgi::Error may escape. Whatever parses
// must survive an encode/parse round trip unchanged.
#include <cstddef>
#include <cstdint>
#include <string>

#include "golgi/core/error.h"
#include "golgi/io/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const golgi::io::RawTensor tensor = golgi::io::parse_npy(data, size, "fuzz.npy");
    const std::string encoded = golgi::io::encode_npy(tensor.view());
    const golgi::io::RawTensor again =
        golgi::io::parse_npy(reinterpret_cast<const uint8_t*>(encoded.data()), encoded.size(), "re-encoded");
    if (again.dtype != tensor.dtype || again.shape != tensor.shape || again.data != tensor.data) __builtin_trap();
  } catch (const golgi::Error&) {
  }
  return 0;
}
