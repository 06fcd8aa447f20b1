// golgi demo: the first thing a new user runs (`make demo`). Builds the atlases of the two bundled
// models if they are missing (cached afterwards), then serves the viewer with steering on the
// language model.
#include <cstdio>
#include <filesystem>

#include "cli.h"
#include "golgi/atlas/builder.h"
#include "golgi/core/error.h"
#include "golgi/core/progress.h"
#include "golgi/repro/assets.h"
#include "golgi/serve/server.h"

namespace golgi::cli {

namespace {

struct DemoArgs {
  bool no_serve = false;
  std::string atlas_dir = "atlases";
  std::string host = "127.0.0.1";
  int port = 8080;
  int64_t lm_limit = 600;
  std::string web;
};

// One bundled model's atlas, built when missing or unfinished (a finished one is reused as is).
std::string ensure_atlas(const std::string& model, const std::string& atlas_dir, int64_t limit) {
  const std::string out = atlas_dir + "/" + model + ".db";
  const std::string dir = repro::bundled_model(model);
  atlas::AtlasBuildOptions options;
  options.model(dir).out(out).limit(limit).progress(!progress_quiet());
  const auto result = atlas::build_atlas(options);
  if (result.already_complete) {
    std::fprintf(stderr, "== %s: atlas %s is ready (cached)\n", model.c_str(), out.c_str());
  } else {
    std::fprintf(stderr, "== %s: atlas %s built in %.0f s (%lld neurons, %lld examples)\n", model.c_str(), out.c_str(),
                 result.seconds, static_cast<long long>(result.neurons), static_cast<long long>(result.examples));
  }
  return out;
}

}  // namespace

Command add_demo(CLI::App& app) {
  auto args = std::make_shared<DemoArgs>();
  auto* sub = app.add_subcommand(
      "demo",
      "Build the neuron atlases of the bundled models and open the viewer (what `make demo` runs).\n"
      "Models: assets/models/tiny-multilingual (a byte-level Llama-style LM, 2,048 MLP neurons; the atlas\n"
      "streams --lm-limit validation windows spread over its 12 languages) and assets/models/fashion-cnn\n"
      "(a Fashion-MNIST CNN, 186 neurons; all 10,000 test images). Atlases are written to --atlas-dir and\n"
      "reused on later runs; an interrupted build resumes. Then serves http://HOST:PORT/ with steering on\n"
      "the language model until Ctrl-C.\n"
      "Example: golgi demo --port 8080        golgi demo --no-serve   (build only, for tests)");
  sub->add_flag("--no-serve", args->no_serve, "build the atlases, then exit instead of serving");
  sub->add_option("--atlas-dir", args->atlas_dir, "folder of the atlas files (created)")->capture_default_str();
  sub->add_option("--host", args->host, "address to bind (default loopback only)")->capture_default_str();
  sub->add_option("--port", args->port, "port to serve on")->capture_default_str()->check(CLI::Range(0, 65535));
  sub->add_option("--lm-limit", args->lm_limit, "validation windows of the language model to stream (0: all 2,994)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--web", args->web, "viewer folder (default: the source tree's web/)");
  return {sub, [args] {
            std::filesystem::create_directories(args->atlas_dir);
            std::vector<std::string> atlases{ensure_atlas("tiny-multilingual", args->atlas_dir, args->lm_limit),
                                             ensure_atlas("fashion-cnn", args->atlas_dir, 0)};
            if (args->no_serve) {
              std::printf("atlases ready: %s %s\n", atlases[0].c_str(), atlases[1].c_str());
              return kExitOk;
            }
            serve::ServeOptions options;
            options.web_dir(args->web.empty() ? serve::default_web_dir() : args->web);
            GOLGI_CHECK(!options.web_dir().empty(), "cannot find the viewer (web/index.html); pass --web DIR");
            serve::AtlasServer server(atlases, {repro::bundled_model("tiny-multilingual")}, options);
            server.start(args->host, args->port);
            std::printf("\ngolgi atlas viewer: %s   (models: tiny-multilingual, fashion-cnn; Ctrl-C stops)\n",
                        server.url().c_str());
            std::fflush(stdout);
            server.wait();
            return kExitOk;
          }};
}

}  // namespace golgi::cli
