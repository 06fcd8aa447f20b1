// golgi repro: list the 37 paper reproductions or run one (DESIGN.md "Reproductions").
#include <chrono>
#include <cstdio>

#include "cli.h"
#include "golgi/core/error.h"
#include "golgi/core/json.h"
#include "golgi/io/atomic_file.h"
#include "golgi/io/json_file.h"
#include "golgi/repro/repro.h"

namespace golgi::cli {

namespace {
struct ReproArgs {
  std::string id;
  bool list = false, json = false, quick = false;
  int64_t seed = 0;
  std::string out;
};
}  // namespace

Command add_repro(CLI::App& app) {
  auto args = std::make_shared<ReproArgs>();
  auto* sub = app.add_subcommand("repro", "Run a paper's reproduction at small scale and check its claims, or list "
                                          "all paper ids.\nExit status: 0 all claims hold, 1 a claim failed, 2 error.");
  sub->add_option("id", args->id, "paper id (see --list)");
  sub->add_flag("--list", args->list, "list all paper ids with title and status");
  sub->add_flag("--json", args->json, "with --list: print JSON");
  sub->add_flag("--quick", args->quick, "the short configuration (minutes on 2 cores)");
  sub->add_option("--seed", args->seed, "seed of every random stream")->check(CLI::NonNegativeNumber);
  sub->add_option("--out", args->out, "output folder for result.json (default: runs/repro/<id>)");
  return {sub, [args] {
            const auto& registry = repro::paper_registry();
            if (args->list) {
              if (args->json) {
                Json list = Json::array();
                for (const auto& p : registry.entries())
                  list.push_back({{"id", p.name}, {"group", p.group}, {"year", p.year}, {"title", p.title},
                                  {"status", p.status}});
                std::printf("%s\n", list.dump(2).c_str());
              } else {
                for (const auto& p : registry.entries())
                  std::printf("%-24s %-12s %s (%d)\n", p.name.c_str(), p.status.c_str(), p.title.c_str(), p.year);
              }
              return kExitOk;
            }
            GOLGI_CHECK(!args->id.empty(), "give a paper id (`golgi repro --list` shows all 37) or --list");
            const auto& paper = registry.get(args->id);
            GOLGI_CHECK(paper.run, "reproduction '", paper.name, "' is planned, not implemented yet (status in ",
                        "docs/papers.md)");
            repro::ReproOptions options;
            options.quick = args->quick;
            options.seed = static_cast<uint64_t>(args->seed);
            options.out = args->out.empty() ? "runs/repro/" + paper.name : args->out;
            auto start = std::chrono::steady_clock::now();
            auto result = paper.run(options);
            double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
            Json doc = repro::result_json(paper.name, options, seconds, result);
            io::make_dirs(options.out);
            io::write_json_file(options.out + "/result.json", doc);
            std::printf("%-28s %12s %3s %12s %s\n", "claim", "value", "op", "threshold", "pass");
            for (const auto& c : result.claims)
              std::printf("%-28s %12.4g %3s %12.4g %s\n", c.name.c_str(), c.value, c.op.c_str(), c.threshold,
                          c.pass() ? "yes" : "NO");
            std::printf("result: %s/result.json\n", options.out.c_str());
            return doc["pass"].get<bool>() ? kExitOk : kExitClaimFailed;
          }};
}

}  // namespace golgi::cli
