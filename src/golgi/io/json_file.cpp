#include "golgi/io/json_file.h"

#include "golgi/io/atomic_file.h"

namespace golgi::io {

Json read_json_file(const std::string& path) {
  std::string text = read_file(path);
  Json value = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  GOLGI_CHECK(!value.is_discarded(), "'", path, "' is not valid JSON; was it truncated or edited by hand?");
  return value;
}

void write_json_file(const std::string& path, const Json& value) { write_file_atomic(path, value.dump(2) + "\n"); }

}  // namespace golgi::io
