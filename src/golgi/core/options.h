// Options structs: defaults, chainable setters, and loud validation (DESIGN.md "Options").
//
// An options struct declares its fields with GOLGI_ARG, LibTorch's TORCH_ARG style:
//
//   struct TrainOptions {
//     GOLGI_ARG(double, lr) = 1e-3;
//     GOLGI_ARG(int64_t, epochs) = 3;
//     static const OptionSchema<TrainOptions>& schema();
//   };
//   TrainOptions().lr(0.01).epochs(5);
//
// and lists them once in a schema, with a help text and the accepted range:
//
//   static OptionSchema<TrainOptions> s = OptionSchema<TrainOptions>("train")
//       .add("lr", &TrainOptions::lr_, "learning rate", at_least(0.0, /*inclusive=*/false))
//       .add("epochs", &TrainOptions::epochs_, "passes over the data", at_least<int64_t>(1));
//
// The schema reads options from JSON (and CLI strings), rejecting unknown fields (suggesting the
// closest name), wrong types and out-of-range values with a golgi::Error that names the field
// and the accepted range; and writes them back to JSON for model cards and results.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "golgi/core/error.h"

#define GOLGI_ARG(T, name)                                  \
 public:                                                    \
  auto name(const T& new_##name)->decltype(*this) {         \
    this->name##_ = new_##name;                             \
    return *this;                                           \
  }                                                         \
  const T& name() const noexcept { return this->name##_; }  \
  T name##_

namespace golgi {

// A numeric range; bounds are optional, each inclusive or exclusive.
template <typename T>
struct Range {
  std::optional<T> low, high;
  bool low_inclusive = true, high_inclusive = true;

  bool contains(T value) const {
    if (low && (low_inclusive ? value < *low : value <= *low)) return false;
    if (high && (high_inclusive ? value > *high : value >= *high)) return false;
    return true;
  }
  std::string describe() const;
};
template <typename T>
Range<T> any_value() { return {}; }
template <typename T>
Range<T> at_least(T low, bool inclusive = true) { return {low, std::nullopt, inclusive, true}; }
template <typename T>
Range<T> between(T low, T high) { return {low, high, true, true}; }

// One field of an options struct, type-erased.
template <typename O>
struct OptionField {
  std::string name;
  std::string help;
  std::string type;       // "int", "float", "bool", "string", "int list"
  std::string accepted;   // human-readable range or choices
  std::function<nlohmann::json(const O&)> get;
  std::function<void(O&, const nlohmann::json&)> set;  // validates type and range
  // Parses a command-line string into JSON of the field's type (throws golgi::Error).
  std::function<nlohmann::json(const std::string&)> parse;
};

namespace detail {
[[noreturn]] void unknown_option(const std::string& owner, const std::string& name,
                                 const std::vector<std::string>& known);
nlohmann::json parse_option_string(const std::string& owner, const std::string& field,
                                   const std::string& type, const std::string& text);
// Type-checked reads; throw golgi::Error naming owner.field and the expected type.
int64_t json_to_int(const std::string& where, const nlohmann::json& value);
double json_to_double(const std::string& where, const nlohmann::json& value);
bool json_to_bool(const std::string& where, const nlohmann::json& value);
std::string json_to_string(const std::string& where, const nlohmann::json& value);
std::vector<int64_t> json_to_int_list(const std::string& where, const nlohmann::json& value);
nlohmann::json int_to_json(int64_t v);
nlohmann::json double_to_json(double v);
nlohmann::json bool_to_json(bool v);
nlohmann::json string_to_json(const std::string& v);
nlohmann::json int_list_to_json(const std::vector<int64_t>& v);
}  // namespace detail

template <typename O>
class OptionSchema {
 public:
  explicit OptionSchema(std::string owner) : owner_(std::move(owner)) {}

  OptionSchema&& add(const std::string& name, int64_t O::*member, const std::string& help,
                     Range<int64_t> range = {}) && {
    std::string where = owner_ + "." + name;
    push(name, help, "int", range.describe(),
         [member](const O& o) { return detail::int_to_json(o.*member); },
         [member, where, range](O& o, const nlohmann::json& j) {
           int64_t v = detail::json_to_int(where, j);
           GOLGI_CHECK(range.contains(v), "option '", where, "' must be ", range.describe(), ", got ", v);
           o.*member = v;
         });
    return std::move(*this);
  }
  OptionSchema&& add(const std::string& name, double O::*member, const std::string& help,
                     Range<double> range = {}) && {
    std::string where = owner_ + "." + name;
    push(name, help, "float", range.describe(),
         [member](const O& o) { return detail::double_to_json(o.*member); },
         [member, where, range](O& o, const nlohmann::json& j) {
           double v = detail::json_to_double(where, j);
           GOLGI_CHECK(v == v, "option '", where, "' must be a number, got NaN");
           GOLGI_CHECK(range.contains(v), "option '", where, "' must be ", range.describe(), ", got ", v);
           o.*member = v;
         });
    return std::move(*this);
  }
  OptionSchema&& add(const std::string& name, bool O::*member, const std::string& help) && {
    std::string where = owner_ + "." + name;
    push(name, help, "bool", "true or false",
         [member](const O& o) { return detail::bool_to_json(o.*member); },
         [member, where](O& o, const nlohmann::json& j) { o.*member = detail::json_to_bool(where, j); });
    return std::move(*this);
  }
  // A string; `choices` empty means any string.
  OptionSchema&& add(const std::string& name, std::string O::*member, const std::string& help,
                     std::vector<std::string> choices = {}) && {
    std::string where = owner_ + "." + name;
    std::string accepted = choices.empty() ? "any string" : "one of " + join_choices(choices);
    push(name, help, "string", accepted,
         [member](const O& o) { return detail::string_to_json(o.*member); },
         [member, where, choices, accepted](O& o, const nlohmann::json& j) {
           std::string v = detail::json_to_string(where, j);
           if (!choices.empty()) {
             bool ok = false;
             for (const auto& c : choices) ok = ok || c == v;
             GOLGI_CHECK(ok, "option '", where, "' must be ", accepted, ", got '", v, "'");
           }
           o.*member = v;
         });
    return std::move(*this);
  }
  // A list of integers, each in `range`.
  OptionSchema&& add(const std::string& name, std::vector<int64_t> O::*member, const std::string& help,
                     Range<int64_t> range = {}) && {
    std::string where = owner_ + "." + name;
    push(name, help, "int list", "a list of integers " + range.describe(),
         [member](const O& o) { return detail::int_list_to_json(o.*member); },
         [member, where, range](O& o, const nlohmann::json& j) {
           auto v = detail::json_to_int_list(where, j);
           for (auto x : v)
             GOLGI_CHECK(range.contains(x), "option '", where, "' entries must be ", range.describe(), ", got ", x);
           o.*member = v;
         });
    return std::move(*this);
  }

  const std::string& owner() const { return owner_; }
  const std::vector<OptionField<O>>& fields() const { return fields_; }
  const OptionField<O>& field(const std::string& name) const {
    for (const auto& f : fields_)
      if (f.name == name) return f;
    detail::unknown_option(owner_, name, names());
  }
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& f : fields_) out.push_back(f.name);
    return out;
  }

  // Applies every key of `json` (an object) to `options`; unknown keys are an error.
  void apply(O& options, const nlohmann::json& json) const;
  // Sets one field from a command-line string.
  void set_from_string(O& options, const std::string& name, const std::string& text) const {
    const auto& f = field(name);
    f.set(options, f.parse(text));
  }
  nlohmann::json to_json(const O& options) const;
  // Re-checks every field's range (for options built with setters in code).
  void validate(const O& options) const;

 private:
  static std::string join_choices(const std::vector<std::string>& choices) {
    std::string out;
    for (size_t i = 0; i < choices.size(); ++i) out += (i ? ", '" : "'") + choices[i] + "'";
    return out;
  }
  void push(const std::string& name, const std::string& help, const std::string& type,
            const std::string& accepted, std::function<nlohmann::json(const O&)> get,
            std::function<void(O&, const nlohmann::json&)> set) {
    std::string owner = owner_;
    fields_.push_back({name, help, type, accepted, std::move(get), std::move(set),
                       [owner, name, type](const std::string& text) {
                         return detail::parse_option_string(owner, name, type, text);
                       }});
  }

  std::string owner_;
  std::vector<OptionField<O>> fields_;
};

}  // namespace golgi

#include "golgi/core/options_impl.h"
