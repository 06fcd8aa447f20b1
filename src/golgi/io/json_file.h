// JSON files: reading with errors that name the file, and atomic writing.
#pragma once

#include <string>

#include "golgi/core/json.h"

namespace golgi::io {

// Throws golgi::Error naming the path when the file is missing or not valid JSON.
Json read_json_file(const std::string& path);
// Pretty-printed (2-space indent), written atomically.
void write_json_file(const std::string& path, const Json& value);

}  // namespace golgi::io
