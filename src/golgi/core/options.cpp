#include "golgi/core/options.h"

#include <cerrno>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "golgi/core/strings.h"

namespace golgi::detail {

void unknown_option(const std::string& owner, const std::string& name, const std::vector<std::string>& known) {
  std::string hint = did_you_mean(name, known);
  GOLGI_FAIL("unknown option '", name, "' for '", owner, "'", hint.empty() ? "" : "; " + hint,
             " (known: ", join(known, ", "), ")");
}

int64_t json_to_int(const std::string& where, const nlohmann::json& value) {
  if (value.is_number_integer()) return value.get<int64_t>();
  if (value.is_number_float()) {
    double d = value.get<double>();
    GOLGI_CHECK(d == static_cast<double>(static_cast<int64_t>(d)), "option '", where,
                "' must be an integer, got ", d);
    return static_cast<int64_t>(d);
  }
  GOLGI_FAIL("option '", where, "' must be an integer, got ", value.dump());
}

double json_to_double(const std::string& where, const nlohmann::json& value) {
  GOLGI_CHECK(value.is_number(), "option '", where, "' must be a number, got ", value.dump());
  return value.get<double>();
}

bool json_to_bool(const std::string& where, const nlohmann::json& value) {
  GOLGI_CHECK(value.is_boolean(), "option '", where, "' must be true or false, got ", value.dump());
  return value.get<bool>();
}

std::string json_to_string(const std::string& where, const nlohmann::json& value) {
  GOLGI_CHECK(value.is_string(), "option '", where, "' must be a string, got ", value.dump());
  return value.get<std::string>();
}

std::vector<int64_t> json_to_int_list(const std::string& where, const nlohmann::json& value) {
  GOLGI_CHECK(value.is_array(), "option '", where, "' must be a list of integers, got ", value.dump());
  std::vector<int64_t> out;
  for (const auto& item : value) out.push_back(json_to_int(where, item));
  return out;
}

nlohmann::json int_to_json(int64_t v) { return v; }
nlohmann::json double_to_json(double v) { return v; }
nlohmann::json bool_to_json(bool v) { return v; }
nlohmann::json string_to_json(const std::string& v) { return v; }
nlohmann::json int_list_to_json(const std::vector<int64_t>& v) { return v; }

namespace {
int64_t parse_int(const std::string& where, const std::string& text) {
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(text.c_str(), &end, 10);
  GOLGI_CHECK(!text.empty() && end && *end == '\0' && errno == 0, "option '", where,
              "' must be an integer, got '", text, "'");
  return v;
}
}  // namespace

nlohmann::json parse_option_string(const std::string& owner, const std::string& field,
                                   const std::string& type, const std::string& text) {
  std::string where = owner + "." + field;
  if (type == "int") return parse_int(where, text);
  if (type == "float") {
    errno = 0;
    char* end = nullptr;
    double v = std::strtod(text.c_str(), &end);
    GOLGI_CHECK(!text.empty() && end && *end == '\0' && errno == 0, "option '", where,
                "' must be a number, got '", text, "'");
    return v;
  }
  if (type == "bool") {
    if (text == "true" || text == "1" || text == "yes" || text == "on") return true;
    if (text == "false" || text == "0" || text == "no" || text == "off") return false;
    GOLGI_FAIL("option '", where, "' must be true or false, got '", text, "'");
  }
  if (type == "string") return text;
  if (type == "int list") {
    nlohmann::json list = nlohmann::json::array();
    if (text.empty()) return list;
    for (const auto& part : split(text, ',')) list.push_back(parse_int(where, part));
    return list;
  }
  GOLGI_ASSERT(false, "unknown option type ", type);
  return {};
}

}  // namespace golgi::detail
