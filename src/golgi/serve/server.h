// AtlasServer: `golgi serve` as a library. Serves one or more atlases over the JSON API of
// docs/atlas.md ("HTTP API"), the steering playground for the language models it was given, and
// the viewer's static files, from a background thread.
//
//   serve::AtlasServer server({"atlases/tiny.db"}, {"assets/models/tiny-multilingual"},
//                             serve::ServeOptions().web_dir("web"));
//   server.start("127.0.0.1", 0);        // 0: any free port
//   ... http://127.0.0.1:<server.port()>/api/health ...
//   server.stop();                       // also done by the destructor
//
// Security contract (docs/atlas.md "Security"): atlases are opened read-only and every SQL value is
// a bound parameter (atlas_queries.h); static files come only from inside the viewer folder (no
// "." or ".." segments, no hidden files, no symlink that resolves outside it, only known file
// types); request bodies over max_body_bytes get 413; nothing is written to disk. Every answer
// carries X-Content-Type-Options: nosniff and a Content-Security-Policy that allows only the
// server's own origin (images also from data: and blob: URLs); API answers are not cached.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "golgi/core/options.h"
#include "golgi/serve/steering.h"

namespace golgi::serve {

struct ServeOptions {
  GOLGI_ARG(std::string, web_dir) = "";         // viewer folder; empty: API only
  // HTTP worker threads; 0: max(32, 4 per core) + steering queue + 1. A keep-alive connection holds
  // a worker for up to 100 requests, so this should exceed the clients' concurrent connections.
  GOLGI_ARG(int64_t, workers) = 0;
  GOLGI_ARG(int64_t, max_body_bytes) = 64 * 1024;
  GOLGI_ARG(bool, log) = false;                 // one line per request on stderr
  GOLGI_ARG(SteeringOptions, steering) = {};
};

// The viewer folder `golgi serve` uses without --web: the source tree's web/ (compile definition
// GOLGI_SOURCE_WEB), then ./web; the first that holds index.html, or "" when neither does.
std::string default_web_dir();

class AtlasServer {
 public:
  // Opens every atlas (read-only) and loads every model for steering; each model is matched to
  // the atlas whose model name equals the model folder's name, or whose models.source_path is
  // that folder. Throws golgi::Error for a bad atlas, two atlases of one model name, a model that
  // matches no atlas or one already matched, or a web_dir that is not a folder.
  AtlasServer(const std::vector<std::string>& atlases, const std::vector<std::string>& model_dirs,
              ServeOptions options = {});
  ~AtlasServer();  // stop()
  AtlasServer(const AtlasServer&) = delete;
  AtlasServer& operator=(const AtlasServer&) = delete;

  // Binds host:port (port 0: a free one) and serves from a background thread; connections are
  // accepted as soon as this returns. Throws golgi::Error when the address cannot be bound or the
  // server already runs.
  void start(const std::string& host = "127.0.0.1", int port = 0);
  // The bound port (0 before start()).
  int port() const;
  // "http://HOST:PORT/".
  std::string url() const;
  // Blocks until the server stops (stop() from another thread).
  void wait();
  // Stops accepting, finishes the requests in flight and joins the server thread. Idempotent.
  void stop();

  // Model names served, in the order given, and those with a steering model.
  std::vector<std::string> models() const;
  std::vector<std::string> steerable_models() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace golgi::serve
