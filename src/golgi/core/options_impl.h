// Template bodies of OptionSchema that need the full nlohmann::json.
#pragma once

#include <nlohmann/json.hpp>

namespace golgi {

template <typename T>
std::string Range<T>::describe() const {
  std::ostringstream out;
  if (low && high) {
    out << "in " << (low_inclusive ? "[" : "(") << *low << ", " << *high << (high_inclusive ? "]" : ")");
  } else if (low) {
    out << (low_inclusive ? ">= " : "> ") << *low;
  } else if (high) {
    out << (high_inclusive ? "<= " : "< ") << *high;
  } else {
    out << "any value";
  }
  return out.str();
}

template <typename O>
void OptionSchema<O>::apply(O& options, const nlohmann::json& json) const {
  GOLGI_CHECK(json.is_object(), "options for '", owner_, "' must be a JSON object, got ", json.type_name());
  for (auto it = json.begin(); it != json.end(); ++it) field(it.key()).set(options, it.value());
}

template <typename O>
nlohmann::json OptionSchema<O>::to_json(const O& options) const {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& f : fields_) out[f.name] = f.get(options);
  return out;
}

template <typename O>
void OptionSchema<O>::validate(const O& options) const {
  for (const auto& f : fields_) f.set(const_cast<O&>(options), f.get(options));
}

}  // namespace golgi
