// Reproductions: one per paper id (DESIGN.md "Reproductions").
//
// `golgi repro <id> [--quick] [--seed N] [--out DIR]` runs the paper's experiment at small scale,
// prints a claims table and writes DIR/result.json:
//   {"id", "quick", "seed", "seconds", "pass", "claims": [{"name", "value", "op", "threshold",
//    "unit", "pass", "description"}], "metrics": {...}}
// Exit status: 0 all claims hold, 1 a claim failed (an honest negative result), 2 error.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "golgi/core/json.h"
#include "golgi/core/registry.h"

namespace golgi::repro {

struct Claim {
  std::string name;
  double value = 0;
  std::string op;  // ">=", "<=", ">", "<"
  double threshold = 0;
  std::string unit;
  std::string description;
  bool pass() const;
  Json to_json() const;
};

struct ReproOptions {
  bool quick = false;
  uint64_t seed = 0;
  std::string out;
};

struct ReproResult {
  std::vector<Claim> claims;
  Json metrics = Json::object();
};

struct PaperEntry {
  std::string name;  // the paper id
  std::string group;
  int year = 0;
  std::string title;
  std::string status;  // "planned" or "implemented"
  // Empty while planned.
  std::function<ReproResult(const ReproOptions&)> run;
};

const Registry<PaperEntry>& paper_registry();

// The result.json document for a finished run.
Json result_json(const std::string& id, const ReproOptions& options, double seconds, const ReproResult& result);

}  // namespace golgi::repro
