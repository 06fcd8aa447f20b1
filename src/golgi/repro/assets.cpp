#include "golgi/repro/assets.h"

#include <cstdlib>
#include <vector>

#include "golgi/core/error.h"
#include "golgi/io/atomic_file.h"

namespace golgi::repro {

std::string bundled_model(const std::string& name) {
  std::vector<std::string> roots;
  if (const char* env = std::getenv("GOLGI_ASSETS_DIR")) roots.emplace_back(env);
  roots.emplace_back("assets");
#ifdef GOLGI_SOURCE_ASSETS
  roots.emplace_back(GOLGI_SOURCE_ASSETS);
#endif
  std::string searched;
  for (const auto& root : roots) {
    const std::string dir = root + "/models/" + name;
    if (io::file_exists(dir + "/model.json")) return dir;
    searched += (searched.empty() ? "" : ", ") + dir;
  }
  GOLGI_FAIL("bundled model '", name, "' not found (searched ", searched,
             "); run from the golgi source folder or set GOLGI_ASSETS_DIR to its assets/ folder");
  return {};
}

}  // namespace golgi::repro
