// JSON conventions: golgi::Json is nlohmann::json; reading and writing files lives in
// golgi/io/json_file.h.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "golgi/core/error.h"

namespace golgi {

using Json = nlohmann::json;

// Member access with a clear error: `what` names the document in the message.
inline const Json& json_member(const Json& object, const std::string& key, const std::string& what) {
  GOLGI_CHECK(object.is_object(), what, " must be a JSON object, got ", object.type_name());
  auto it = object.find(key);
  GOLGI_CHECK(it != object.end(), what, " has no field '", key, "'");
  return *it;
}

}  // namespace golgi
