#include "golgi/hooks/hooked_module.h"

#include "golgi/core/error.h"
#include "golgi/core/strings.h"

namespace golgi::hooks {

void HookedModule::setup_hooks() {
  points_.clear();
  for (const auto& item : named_modules("", /*include_self=*/false)) {
    if (auto* point = dynamic_cast<HookPointImpl*>(item.value().get())) {
      point->set_name(item.key());
      points_.emplace_back(item.key(), point);
    }
  }
}

std::vector<std::string> HookedModule::hook_names() const {
  std::vector<std::string> names;
  names.reserve(points_.size());
  for (const auto& p : points_) names.push_back(p.first);
  return names;
}

bool HookedModule::has_hook(const std::string& name) const {
  for (const auto& p : points_)
    if (p.first == name) return true;
  return false;
}

HookPointImpl& HookedModule::hook_point(const std::string& name) const {
  for (const auto& p : points_)
    if (p.first == name) return *p.second;
  std::string hint = did_you_mean(name, hook_names());
  GOLGI_FAIL("unknown hook point '", name, "'", hint.empty() ? "" : "; " + hint,
             " (list them with `golgi inspect MODEL` or see docs/hooks.md)");
}

std::vector<HookPointImpl*> HookedModule::match_hooks(const std::string& pattern) const {
  std::vector<HookPointImpl*> out;
  for (const auto& p : points_)
    if (glob_match(pattern, p.first)) out.push_back(p.second);
  if (out.empty()) {
    std::string hint = did_you_mean(pattern, hook_names());
    GOLGI_FAIL("no hook point matches '", pattern, "'", hint.empty() ? "" : "; " + hint,
               " (this model has: ", join(hook_names(), ", "), ")");
  }
  return out;
}

std::vector<HookPointImpl*> HookedModule::match_hooks(const std::vector<std::string>& patterns) const {
  std::vector<bool> chosen(points_.size(), false);
  for (const auto& pattern : patterns) {
    (void)match_hooks(pattern);  // each pattern must match something
    for (size_t i = 0; i < points_.size(); ++i)
      if (glob_match(pattern, points_[i].first)) chosen[i] = true;
  }
  std::vector<HookPointImpl*> out;
  for (size_t i = 0; i < points_.size(); ++i)
    if (chosen[i]) out.push_back(points_[i].second);
  return out;
}

size_t HookedModule::attached_hook_count() const {
  size_t total = 0;
  for (const auto& p : points_) total += p.second->hook_count();
  return total;
}

}  // namespace golgi::hooks
