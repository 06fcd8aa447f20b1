// Shared by the serve tests: an in-process HTTP client against an AtlasServer on a free port.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "golgi/core/json.h"
#include "golgi/serve/httplib_include.h"

namespace golgi::testing {

struct Answer {
  int status = 0;  // 0: no answer (connection failed)
  std::string body;
  std::string content_type;
  httplib::Headers headers;
  Json json() const {
    Json value = Json::parse(body, nullptr, /*allow_exceptions=*/false);
    EXPECT_FALSE(value.is_discarded()) << "not JSON: " << body.substr(0, 200);
    return value;
  }
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

inline Answer answer_of(const httplib::Result& result) {
  Answer a;
  if (!result) return a;
  a.status = result->status;
  a.body = result->body;
  a.content_type = result->get_header_value("Content-Type");
  a.headers = result->headers;
  return a;
}

// GET `path` with the query parameters (each value URL-encoded by httplib).
inline Answer get(int port, const std::string& path, const httplib::Params& params = {}) {
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(60, 0);
  return answer_of(params.empty() ? client.Get(path.c_str()) : client.Get(path.c_str(), params, httplib::Headers{}));
}

inline Answer post(int port, const std::string& path, const std::string& body,
                   const std::string& type = "application/json") {
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(120, 0);
  return answer_of(client.Post(path.c_str(), body, type.c_str()));
}

// The "error" message of a JSON error answer.
inline std::string error_message(const Answer& a) {
  Json value = Json::parse(a.body, nullptr, false);
  return value.is_object() && value.contains("error") && value["error"].is_string() ? value["error"].get<std::string>()
                                                                                    : "(no error field: " + a.body + ")";
}

}  // namespace golgi::testing
