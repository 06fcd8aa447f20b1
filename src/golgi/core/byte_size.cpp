#include "golgi/core/byte_size.h"

#include <cctype>
#include <cmath>
#include <stdexcept>

#include "golgi/core/error.h"

namespace golgi {

int64_t parse_byte_size(const std::string& text, const std::string& what) {
  size_t used = 0;
  double value = -1;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  std::string unit;
  for (size_t i = used; i < text.size(); ++i)
    if (!std::isspace(static_cast<unsigned char>(text[i]))) unit += static_cast<char>(std::toupper(static_cast<unsigned char>(text[i])));
  double scale = -1;
  if (unit.empty() || unit == "B") scale = 1;
  else if (unit == "K" || unit == "KB" || unit == "KIB") scale = 1024.0;
  else if (unit == "M" || unit == "MB" || unit == "MIB") scale = 1024.0 * 1024;
  else if (unit == "G" || unit == "GB" || unit == "GIB") scale = 1024.0 * 1024 * 1024;
  else if (unit == "T" || unit == "TB" || unit == "TIB") scale = 1024.0 * 1024 * 1024 * 1024;
  GOLGI_CHECK(used > 0 && scale > 0 && value > 0 && std::isfinite(value), what, " '", text,
              "' is not a memory size; write e.g. 64MB, 512KiB, 2GB or a number of bytes");
  return static_cast<int64_t>(value * scale);
}

}  // namespace golgi
