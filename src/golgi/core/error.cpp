#include "golgi/core/error.h"

namespace golgi::detail {

void throw_error(const std::string& message) { throw Error(message); }

void throw_internal(const char* file, int line, const char* cond, const std::string& message) {
  throw InternalError(concat("internal error (a golgi bug, please report it): ", file, ":", line,
                             ": ", cond, message.empty() ? "" : ": ", message));
}

}  // namespace golgi::detail
