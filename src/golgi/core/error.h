// Errors: the one way golgi reports bad input and broken invariants.
//
// GOLGI_CHECK(cond, parts...) is for anything a user can get wrong (files, options, shapes, names):
// it throws golgi::Error whose message is the concatenation of `parts` (anything streamable). The
// message must name the offending value and what was expected, e.g.
//   GOLGI_CHECK(lr > 0, "option 'lr' must be > 0, got ", lr);
// GOLGI_ASSERT(cond, parts...) is for golgi's own invariants: it throws golgi::InternalError, which
// the CLI reports as a bug. Neither is compiled out in release builds.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace golgi {

// A problem with the user's input or environment. The CLI prints what() on one line and exits 2.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A broken invariant inside golgi: always a bug in golgi, never the user's fault.
class InternalError : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

namespace detail {
template <typename... Parts>
std::string concat(const Parts&... parts) {
  std::ostringstream out;
  (out << ... << parts);
  return out.str();
}
[[noreturn]] void throw_error(const std::string& message);
[[noreturn]] void throw_internal(const char* file, int line, const char* cond,
                                 const std::string& message);
}  // namespace detail

}  // namespace golgi

#define GOLGI_CHECK(cond, ...)                                              \
  do {                                                                      \
    if (!(cond)) ::golgi::detail::throw_error(::golgi::detail::concat(__VA_ARGS__)); \
  } while (0)

#define GOLGI_ASSERT(cond, ...)                                                        \
  do {                                                                                 \
    if (!(cond))                                                                       \
      ::golgi::detail::throw_internal(__FILE__, __LINE__, #cond,                       \
                                      ::golgi::detail::concat("" __VA_OPT__(, ) __VA_ARGS__)); \
  } while (0)

#define GOLGI_FAIL(...) ::golgi::detail::throw_error(::golgi::detail::concat(__VA_ARGS__))
