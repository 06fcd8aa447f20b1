// golgi serve: the atlas viewer, its JSON API and the steering playground (docs/atlas.md).
#include <cstdio>

#include "cli.h"
#include "golgi/core/error.h"
#include "golgi/core/strings.h"
#include "golgi/serve/server.h"

namespace golgi::cli {

namespace {
struct ServeArgs {
  std::vector<std::string> atlases, models;
  std::string host = "127.0.0.1", web;
  int port = 8080;
  int64_t queue = 4, workers = 0;
  double steer_timeout = 20.0;
  bool log = false;
};
}  // namespace

Command add_serve(CLI::App& app) {
  auto args = std::make_shared<ServeArgs>();
  auto* sub = app.add_subcommand(
      "serve",
      "Serve neuron atlases in the browser: the viewer (web/), its JSON API under /api/ and, for language models\n"
      "given with --model, the steering playground (POST /api/steer: the same prompt continued with and without\n"
      "clamped, zeroed, scaled or shifted neurons). docs/atlas.md lists every endpoint.\n"
      "Each atlas holds one model, addressed by its name; --model DIR is matched to the atlas whose model name is\n"
      "the folder's name or that was built from DIR. Atlases are opened read-only and nothing is written to disk.\n"
      "Binds to 127.0.0.1 unless --host says otherwise: the API has no authentication, so expose it only on\n"
      "networks you trust. Stop with Ctrl-C.\n"
      "Example:\n"
      "  golgi serve atlases/tiny-multilingual.db atlases/fashion-cnn.db --model assets/models/tiny-multilingual");
  sub->add_option("atlases", args->atlases, "atlas files (golgi atlas build --out ...)")
      ->required()
      ->check(CLI::ExistingFile);
  sub->add_option("--model", args->models,
                  "language model folder to steer, matched to its atlas by name; repeatable (default: none, the "
                  "playground is off)");
  sub->add_option("--host", args->host, "address to listen on (0.0.0.0: every interface)")->capture_default_str();
  sub->add_option("--port", args->port, "port to listen on (0: any free port)")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  sub->add_option("--web", args->web,
                  "viewer folder (default: the source tree's web/, else ./web; without one only the API is served)");
  sub->add_option("--queue", args->queue, "steering requests that may wait while one generates; more get 503")
      ->check(CLI::Range(int64_t{0}, int64_t{1000}))
      ->capture_default_str();
  sub->add_option("--steer-timeout", args->steer_timeout,
                  "seconds a steering request may wait for its turn, and again may run (over: 503 / 504)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  sub->add_option("--workers", args->workers,
                  "HTTP worker threads, each serving one connection at a time; keep it above the number of "
                  "concurrent connections (0: max(32, 4 per core) + --queue + 1). The global --threads sets the "
                  "tensor threads of generation")
      ->check(CLI::Range(int64_t{0}, int64_t{1024}))
      ->capture_default_str();
  sub->add_flag("--log", args->log, "print one line per request on stderr");
  return {sub, [args] {
            std::string web = args->web;
            if (web.empty()) {
              web = serve::default_web_dir();
              if (web.empty())
                std::fprintf(stderr, "golgi serve: no viewer folder found (the source tree's web/ or ./web); serving "
                                     "the API only; pass --web DIR for the viewer\n");
            }
            auto steering = serve::SteeringOptions().queue(args->queue).timeout_seconds(args->steer_timeout);
            serve::AtlasServer server(args->atlases, args->models,
                                      serve::ServeOptions()
                                          .web_dir(web)
                                          .workers(args->workers)
                                          .log(args->log)
                                          .steering(steering));
            server.start(args->host, args->port);
            const auto models = server.models();
            const auto steerable = server.steerable_models();
            std::fprintf(stderr, "golgi serve: %zu atlas(es): %s; steering: %s\n", models.size(),
                         join(models, ", ").c_str(), steerable.empty() ? "off" : join(steerable, ", ").c_str());
            std::printf("%s\n", server.url().c_str());
            std::fflush(stdout);
            server.wait();
            return kExitOk;
          }};
}

}  // namespace golgi::cli
