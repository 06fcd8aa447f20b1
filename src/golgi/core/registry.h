// Explicit registries (DESIGN.md "Registries"): models, datasets, methods, neuron models and
// reproductions are each listed once, one line per entry, in an X-macro `.def` file, and built
// into a Registry by a function in their area. No static-initialisation self-registration: the
// lists are greppable and their order is stable.
#pragma once

#include <string>
#include <vector>

#include "golgi/core/error.h"
#include "golgi/core/strings.h"

namespace golgi {

// Entry must have a `std::string name` member.
template <typename Entry>
class Registry {
 public:
  // `kind` names the registry in errors ("model", "dataset").
  Registry(std::string kind, std::vector<Entry> entries) : kind_(std::move(kind)), entries_(std::move(entries)) {
    for (size_t i = 0; i < entries_.size(); ++i)
      for (size_t j = 0; j < i; ++j)
        GOLGI_ASSERT(entries_[i].name != entries_[j].name, "duplicate ", kind_, " '", entries_[i].name, "'");
  }

  const std::vector<Entry>& entries() const { return entries_; }
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& e : entries_) out.push_back(e.name);
    return out;
  }
  const Entry* find(const std::string& name) const {
    for (const auto& e : entries_)
      if (e.name == name) return &e;
    return nullptr;
  }
  // Throws golgi::Error listing the known names and the closest match.
  const Entry& get(const std::string& name) const {
    if (const Entry* e = find(name)) return *e;
    std::string hint = did_you_mean(name, names());
    GOLGI_FAIL("unknown ", kind_, " '", name, "'", hint.empty() ? "" : "; " + hint, " (known ", kind_,
               "s: ", join(names(), ", "), "; see `golgi info`)");
  }
  const std::string& kind() const { return kind_; }

 private:
  std::string kind_;
  std::vector<Entry> entries_;
};

}  // namespace golgi
