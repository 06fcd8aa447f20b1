#include "golgi/repro/repro.h"

#include <map>

namespace golgi::repro {

bool Claim::pass() const {
  if (op == ">=") return value >= threshold;
  if (op == "<=") return value <= threshold;
  if (op == ">") return value > threshold;
  if (op == "<") return value < threshold;
  GOLGI_ASSERT(false, "unknown claim operator '", op, "'");
  return false;
}

Json Claim::to_json() const {
  return {{"name", name}, {"value", value}, {"op", op}, {"threshold", threshold},
          {"unit", unit}, {"pass", pass()}, {"description", description}};
}

// Each implemented reproduction's run function, declared here and defined in repro/<id>.cpp.
#define GOLGI_REPRO(id, function) ReproResult function(const ReproOptions& options);
#include "golgi/repro/runs.def"
#undef GOLGI_REPRO

namespace {
std::function<ReproResult(const ReproOptions&)> run_of(const std::string& id) {
  static const std::map<std::string, std::function<ReproResult(const ReproOptions&)>> runs = {
#define GOLGI_REPRO(id, function) {id, function},
#include "golgi/repro/runs.def"
#undef GOLGI_REPRO
  };
  auto it = runs.find(id);
  return it == runs.end() ? nullptr : it->second;
}
}  // namespace

const Registry<PaperEntry>& paper_registry() {
  static const Registry<PaperEntry> registry("paper id", {
#define GOLGI_PAPER(id, group, year, title, status) PaperEntry{id, group, year, title, status, run_of(id)},
#include "golgi/repro/papers.def"
#undef GOLGI_PAPER
  });
  return registry;
}

Json result_json(const std::string& id, const ReproOptions& options, double seconds, const ReproResult& result) {
  Json claims = Json::array();
  bool pass = true;
  for (const auto& c : result.claims) {
    claims.push_back(c.to_json());
    pass = pass && c.pass();
  }
  return {{"id", id},           {"quick", options.quick}, {"seed", options.seed}, {"seconds", seconds},
          {"pass", pass},       {"claims", claims},       {"metrics", result.metrics}};
}

}  // namespace golgi::repro
