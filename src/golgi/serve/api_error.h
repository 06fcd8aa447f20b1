// ApiError: a golgi::Error that carries the HTTP status the server answers with
// (docs/atlas.md "HTTP API": 400 bad parameter, 404 unknown model/hook/neuron/image, 413 body too
// large, 503 steering queue full, 504 steering over its time limit). The message is the one line
// the client sees in {"error": "..."}; like every golgi::Error it names the value and the fix.
#pragma once

#include <string>

#include "golgi/core/error.h"

namespace golgi::serve {

class ApiError : public Error {
 public:
  ApiError(int status, const std::string& message) : Error(message), status_(status) {}
  int status() const { return status_; }

 private:
  int status_;
};

// Throws ApiError(status, concatenation of parts) unless `cond` holds.
#define GOLGI_API_CHECK(cond, status, ...)                                                  \
  do {                                                                                      \
    if (!(cond)) throw ::golgi::serve::ApiError((status), ::golgi::detail::concat(__VA_ARGS__)); \
  } while (0)

}  // namespace golgi::serve
