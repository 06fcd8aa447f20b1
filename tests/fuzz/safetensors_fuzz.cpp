// libFuzzer target: SafetensorsFile::from_bytes on arbitrary bytes. A hostile file may only ever
// produce golgi::Error; anything else (a crash, a sanitizer report, another exception) is a bug.
#include <cstddef>
#include <cstdint>
#include <string>

#include "golgi/core/error.h"
#include "golgi/io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    auto file = golgi::io::SafetensorsFile::from_bytes(std::string(reinterpret_cast<const char*>(data), size),
                                                       "fuzz.safetensors");
    // Touch every byte of every accepted tensor so that AddressSanitizer checks the bounds the
    // parser validated.
    volatile uint8_t sink = 0;
    for (const auto& entry : file.entries()) {
      const golgi::io::TensorView view = file.view(entry.name);
      for (size_t i = 0; i < view.nbytes; ++i) sink = sink ^ view.data[i];
      if (view.nbytes != golgi::io::element_count(view.shape) * golgi::io::dtype_size(view.dtype)) __builtin_trap();
    }
    for (const auto& [key, value] : file.metadata()) sink = sink ^ static_cast<uint8_t>(key.size() + value.size());
  } catch (const golgi::Error&) {
  }
  return 0;
}
