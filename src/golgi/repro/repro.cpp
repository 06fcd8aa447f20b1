#include "golgi/repro/repro.h"

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

const Registry<PaperEntry>& paper_registry() {
  static const Registry<PaperEntry> registry("paper id", {
#define GOLGI_PAPER(id, group, year, title, status) PaperEntry{id, group, year, title, status, nullptr},
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
