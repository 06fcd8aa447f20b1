// Memory sizes written by people: "64MB", "512KiB", "2GB", "1.5G", "1000000".
#pragma once

#include <cstdint>
#include <string>

namespace golgi {

// Bytes of `text`: a positive number with an optional unit B, K/KB/KiB, M/MB/MiB, G/GB/GiB or
// T/TB/TiB (case-insensitive; all binary: 1 MB = 1 MiB = 2^20 bytes, as memory budgets are).
// Throws golgi::Error naming `what` (e.g. "--max-memory") with examples when it is not a size.
int64_t parse_byte_size(const std::string& text, const std::string& what);

}  // namespace golgi
