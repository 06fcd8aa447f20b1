// Where reproductions find golgi's bundled models (assets/models/<name>), wherever `golgi repro`
// runs from: $GOLGI_ASSETS_DIR, then ./assets, then the source tree golgi was built from.
#pragma once

#include <string>

namespace golgi::repro {

// The folder of bundled model `name`; throws golgi::Error listing the places searched.
std::string bundled_model(const std::string& name);

}  // namespace golgi::repro
