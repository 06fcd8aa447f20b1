#include "golgi/serve/server.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <limits>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "golgi/core/json.h"
#include "golgi/core/strings.h"
#include "golgi/core/version.h"
#include "golgi/serve/api_error.h"
#include "golgi/serve/atlas_queries.h"
#include "golgi/serve/httplib_include.h"

namespace golgi::serve {

namespace fs = std::filesystem;

namespace {

// Allows scripts, styles, fonts and fetches from the server itself only; images also from data:
// and blob: URLs (the viewer draws activation maps into canvases and blobs). No inline scripts or
// styles, no plugins, no framing.
constexpr const char* kContentSecurityPolicy =
    "default-src 'self'; img-src 'self' data: blob:; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'";

// Largest static file served (the viewer is a handful of small files; this only bounds memory).
constexpr uintmax_t kMaxStaticBytes = 32u << 20;
// Pending connections the kernel queues for accept() (capped by net.core.somaxconn).
constexpr int kListenBacklog = 512;
// Longest value accepted for any query parameter.
constexpr size_t kMaxParamBytes = 1000;
// Longest search query.
constexpr size_t kMaxQueryBytes = 200;

// The viewer's file types; anything else under the folder is not served.
const std::map<std::string, std::string>& content_types() {
  static const std::map<std::string, std::string> types{
      {".html", "text/html; charset=utf-8"},       {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},  {".css", "text/css; charset=utf-8"},
      {".json", "application/json; charset=utf-8"}, {".png", "image/png"},
      {".svg", "image/svg+xml"},                   {".ico", "image/x-icon"},
      {".txt", "text/plain; charset=utf-8"},       {".woff2", "font/woff2"},
      {".map", "application/json; charset=utf-8"}};
  return types;
}

// JSON out: invalid UTF-8 (a byte tokenizer's partial characters) becomes U+FFFD instead of
// failing the whole answer.
std::string dump(const Json& value) { return value.dump(-1, ' ', false, Json::error_handler_t::replace); }

void send_json(httplib::Response& res, const Json& value, int status = 200) {
  res.status = status;
  res.set_content(dump(value), "application/json; charset=utf-8");
}

void send_error(httplib::Response& res, int status, const std::string& message) {
  send_json(res, Json{{"error", message}}, status);
}

// The query parameters of one API request: only the documented names, each at most once.
class Params {
 public:
  Params(const httplib::Request& req, const std::vector<std::string>& allowed) : req_(req) {
    for (const auto& [key, value] : req.params) {
      const bool known = std::find(allowed.begin(), allowed.end(), key) != allowed.end();
      if (!known) {
        const std::string close = did_you_mean(key, allowed);
        throw ApiError(400, detail::concat("unknown parameter '", key, "' for ", req.path,
                                           close.empty() ? "" : " (" + close + ")", "; parameters: ",
                                           allowed.empty() ? "none" : join(allowed, ", ")));
      }
      GOLGI_API_CHECK(req.params.count(key) == 1, 400, "parameter '", key, "' is given ", req.params.count(key),
                      " times; give it once");
      GOLGI_API_CHECK(value.size() <= kMaxParamBytes, 400, "parameter '", key, "' is ", value.size(),
                      " bytes long; the limit is ", kMaxParamBytes);
    }
  }

  // An empty value counts as absent (an HTML form sends its empty fields as "name=").
  bool has(const std::string& name) const {
    return req_.has_param(name.c_str()) && !req_.get_param_value(name.c_str()).empty();
  }
  std::string text(const std::string& name, const std::string& fallback = "") const {
    return has(name) ? req_.get_param_value(name.c_str()) : fallback;
  }
  std::string required(const std::string& name, const std::string& example) const {
    GOLGI_API_CHECK(has(name), 400, req_.path, " needs the parameter '", name, "' (e.g. ", example, ")");
    return text(name);
  }
  // A decimal integer in [low, high]; anything else (signs aside) is a 400 naming the range.
  int64_t integer(const std::string& name, int64_t fallback, int64_t low, int64_t high) const {
    if (!has(name)) return fallback;
    const std::string value = text(name);
    const std::string expected = detail::concat("parameter '", name, "' must be an integer in [", low, ", ", high,
                                                "], got '", value, "'");
    const size_t digits_from = !value.empty() && value[0] == '-' ? 1 : 0;
    GOLGI_API_CHECK(value.size() > digits_from && value.size() - digits_from <= 18, 400, expected);
    for (size_t i = digits_from; i < value.size(); ++i)
      GOLGI_API_CHECK(value[i] >= '0' && value[i] <= '9', 400, expected);
    const int64_t number = std::stoll(value);
    GOLGI_API_CHECK(number >= low && number <= high, 400, expected);
    return number;
  }

 private:
  const httplib::Request& req_;
};

}  // namespace

std::string default_web_dir() {
  std::vector<std::string> candidates;
#ifdef GOLGI_SOURCE_WEB
  candidates.emplace_back(GOLGI_SOURCE_WEB);
#endif
  candidates.emplace_back("web");
  for (const auto& dir : candidates)
    if (fs::is_regular_file(fs::path(dir) / "index.html")) return dir;
  return "";
}

struct AtlasServer::Impl {
  ServeOptions options;
  std::vector<std::unique_ptr<AtlasQueries>> atlases;  // command-line order
  std::map<std::string, AtlasQueries*> by_name;
  std::map<std::string, std::unique_ptr<Steering>> steering;  // by model name
  fs::path web_root;  // canonical; empty: API only

  httplib::Server http;
  std::thread thread;
  std::mutex lifecycle;
  std::shared_future<void> finished;
  std::string host;
  int port = 0;
  // The socket the options callback last saw: start() reads it right after binding, when that is
  // the listening socket (atomic in case httplib also passes accepted sockets through it).
  std::atomic<int> listen_socket{-1};

  AtlasQueries& atlas(const std::string& name) {
    auto it = by_name.find(name);
    if (it != by_name.end()) return *it->second;
    std::vector<std::string> names;
    for (const auto& a : atlases) names.push_back(a->model_name());
    const std::string close = did_you_mean(name, names);
    throw ApiError(404, detail::concat("unknown model '", name, "'", close.empty() ? "" : " (" + close + ")",
                                       "; this server has: ", join(names, ", ")));
  }
  bool steerable(const std::string& name) const { return steering.count(name) > 0; }

  void routes();
  void serve_static(const httplib::Request& req, httplib::Response& res);
};

namespace {

// Runs an API handler, turning its exceptions into JSON errors: ApiError keeps its status; any
// other golgi::Error (a damaged atlas, say) and anything else is a 500 with the message.
httplib::Server::Handler api(std::function<void(const httplib::Request&, httplib::Response&)> handler) {
  return [handler = std::move(handler)](const httplib::Request& req, httplib::Response& res) {
    try {
      handler(req, res);
    } catch (const ApiError& e) {
      send_error(res, e.status(), e.what());
    } catch (const Error& e) {
      send_error(res, 500, e.what());
    } catch (const std::exception& e) {
      send_error(res, 500, std::string("internal error: ") + e.what());
    }
  };
}

}  // namespace

void AtlasServer::Impl::routes() {
  http.Get("/api/health", api([this](const httplib::Request& req, httplib::Response& res) {
             const Params params(req, {});
             Json names = Json::array();
             for (const auto& a : atlases)
               if (steerable(a->model_name())) names.push_back(a->model_name());
             send_json(res, {{"ok", true}, {"models", atlases.size()}, {"steering", names}, {"version", kVersion}});
           }));

  http.Get("/api/models", api([this](const httplib::Request& req, httplib::Response& res) {
             const Params params(req, {});
             Json out = Json::array();
             for (const auto& a : atlases) out.push_back(a->summary(steerable(a->model_name())));
             send_json(res, out);
           }));

  http.Get("/api/overview", api([this](const httplib::Request& req, httplib::Response& res) {
             Params params(req, {"model"});
             const std::string name = params.required("model", "model=tiny-multilingual");
             send_json(res, atlas(name).overview(steerable(name)));
           }));

  http.Get("/api/neurons", api([this](const httplib::Request& req, httplib::Response& res) {
             Params params(req, {"model", "hook", "sort", "order", "offset", "limit", "label", "annotation"});
             AtlasQueries& a = atlas(params.required("model", "model=tiny-multilingual"));
             NeuronListQuery query;
             query.hook = params.text("hook");
             query.sort = params.text("sort", "index");
             const std::string order = params.text("order", "asc");
             GOLGI_API_CHECK(order == "asc" || order == "desc", 400, "parameter 'order' must be asc or desc, got '",
                             order, "'");
             query.descending = order == "desc";
             // Offsets beyond any atlas's size are refused rather than scanned.
             query.offset = params.integer("offset", 0, 0, 100000000);
             query.limit = params.integer("limit", 50, 1, AtlasQueries::kMaxNeuronsLimit);
             query.label = params.text("label");
             query.annotation = params.text("annotation");
             send_json(res, a.neurons(query));
           }));

  http.Get("/api/neuron", api([this](const httplib::Request& req, httplib::Response& res) {
             Params params(req, {"model", "ref"});
             AtlasQueries& a = atlas(params.required("model", "model=tiny-multilingual"));
             send_json(res, a.neuron(params.required("ref", "ref=blocks.0.mlp.hook_post:3")));
           }));

  http.Get("/api/search", api([this](const httplib::Request& req, httplib::Response& res) {
             Params params(req, {"q", "model", "limit"});
             std::string q = params.required("q", "q=der");
             GOLGI_API_CHECK(q.size() <= kMaxQueryBytes, 400, "the search text is ", q.size(),
                             " bytes; the limit is ", kMaxQueryBytes);
             const int64_t limit = params.integer("limit", 50, 1, AtlasQueries::kMaxSearchLimit);
             Json results = Json::array();
             if (params.has("model")) {
               atlas(params.text("model")).search(q, limit, results);
             } else {
               for (const auto& a : atlases) a->search(q, limit, results);
             }
             send_json(res, {{"query", q}, {"results", results}});
           }));

  http.Get("/api/image", api([this](const httplib::Request& req, httplib::Response& res) {
             Params params(req, {"model", "id"});
             const std::string name = params.required("model", "model=fashion-cnn");
             GOLGI_API_CHECK(params.has("id"), 400, "/api/image needs the parameter 'id' (e.g. id=3)");
             const int64_t id = params.integer("id", 0, 0, std::numeric_limits<int64_t>::max() / 2);
             auto png = atlas(name).image_png(id);
             GOLGI_API_CHECK(png, 404, "model '", name, "' has no image ", id);
             res.set_content(*png, "image/png");
           }));

  http.Post("/api/steer", api([this](const httplib::Request& req, httplib::Response& res) {
              // No parameter check here: httplib parses a form-encoded body (curl -d's default
              // type) into parameters too, and the body is read as JSON whatever its type says.
              const Json body = Json::parse(req.body, nullptr, /*allow_exceptions=*/false);
              GOLGI_API_CHECK(!body.is_discarded(), 400,
                              "the request body is not valid JSON (numbers must be finite: no NaN or Infinity)");
              GOLGI_API_CHECK(body.is_object() && body.contains("model") && body["model"].is_string(), 400,
                              "the steer request needs \"model\", the name of a model with steering (see /api/health)");
              const std::string name = body["model"].get<std::string>();
              atlas(name);  // 404 for an unknown model
              auto it = steering.find(name);
              GOLGI_API_CHECK(it != steering.end(), 400, "model '", name, "' has no steering model loaded; start the "
                              "server with --model DIR for its model folder");
              send_json(res, it->second->run(body));
            }));

  // Everything else under /api is an error in JSON, with the method each path takes.
  http.Get("/api/steer", api([](const httplib::Request&, httplib::Response&) {
             throw ApiError(405, "/api/steer takes POST with a JSON body (docs/atlas.md)");
           }));
  http.Get("/api/.*", api([](const httplib::Request& req, httplib::Response&) {
             throw ApiError(404, detail::concat("no API path ", req.path, "; paths: /api/health, /api/models, "
                                                "/api/overview, /api/neurons, /api/neuron, /api/search, /api/image, "
                                                "/api/steer (POST)"));
           }));
  http.Post("/api/.*", api([](const httplib::Request& req, httplib::Response&) {
              throw ApiError(405, detail::concat(req.path, " takes GET; only /api/steer takes POST"));
            }));

  http.Get(".*", [this](const httplib::Request& req, httplib::Response& res) { serve_static(req, res); });
}

void AtlasServer::Impl::serve_static(const httplib::Request& req, httplib::Response& res) {
  auto not_found = [&] { send_error(res, 404, "not found: " + req.path); };
  if (web_root.empty()) {
    send_error(res, 404, "this server has no viewer folder (start it with --web DIR); the API is under /api/");
    return;
  }
  // req.path is already percent-decoded, so "%2e%2e%2f" arrives here as "../".
  std::string relative = req.path.size() > 1 ? req.path.substr(1) : "";
  if (relative.empty() || relative.back() == '/') relative += "index.html";
  if (relative.find('\0') != std::string::npos || relative.find('\\') != std::string::npos) return not_found();
  for (const auto& segment : split(relative, '/'))
    if (segment.empty() || segment[0] == '.') return not_found();  // "", ".", "..", hidden files

  // The file's real location (symlinks resolved) must still be inside the viewer folder.
  std::error_code error;
  const fs::path real = fs::canonical(web_root / relative, error);
  if (error) return not_found();
  const fs::path inside = real.lexically_relative(web_root);
  if (inside.empty() || *inside.begin() == "..") return not_found();
  if (!fs::is_regular_file(real, error) || fs::file_size(real, error) > kMaxStaticBytes || error) return not_found();
  const auto type = content_types().find(real.extension().string());
  if (type == content_types().end()) return not_found();

  std::ifstream in(real, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  if (!in.good() && !in.eof()) return not_found();
  res.set_header("Cache-Control", "no-cache");
  res.set_content(bytes.str(), type->second.c_str());
}

AtlasServer::AtlasServer(const std::vector<std::string>& atlases, const std::vector<std::string>& model_dirs,
                         ServeOptions options)
    : impl_(std::make_unique<Impl>()) {
  Impl& s = *impl_;
  s.options = options;
  GOLGI_CHECK(!atlases.empty(), "golgi serve needs at least one atlas file (build one with `golgi atlas build`)");
  GOLGI_CHECK(options.max_body_bytes() > 0, "max_body_bytes must be > 0, got ", options.max_body_bytes());
  for (const auto& path : atlases) {
    auto queries = std::make_unique<AtlasQueries>(path);
    const std::string& name = queries->model_name();
    auto seen = s.by_name.find(name);
    GOLGI_CHECK(seen == s.by_name.end(), "atlases '", seen == s.by_name.end() ? "" : seen->second->path(), "' and '",
                path, "' both hold model '", name, "'; serve one of them (models are addressed by name)");
    s.by_name[name] = queries.get();
    s.atlases.push_back(std::move(queries));
  }
  for (const auto& dir : model_dirs) {
    auto steering = std::make_unique<Steering>(dir, options.steering());
    // By name first; else by the folder the atlas was built from (relative paths as seen from here).
    AtlasQueries* match = nullptr;
    for (const auto& a : s.atlases)
      if (a->model_name() == steering->name()) match = a.get();
    for (const auto& a : s.atlases) {
      std::error_code error;
      if (!match && !a->source_path().empty() && fs::equivalent(a->source_path(), dir, error)) match = a.get();
    }
    std::vector<std::string> names;
    for (const auto& a : s.atlases) names.push_back(a->model_name());
    GOLGI_CHECK(match, "--model '", dir, "' (model '", steering->name(), "') matches none of the atlases (models: ",
                join(names, ", "), "); an atlas matches when its model name is the folder's name or it was built from "
                "that folder; pass the model folder the atlas was built from");
    GOLGI_CHECK(!s.steering.count(match->model_name()), "two --model folders match the atlas of model '",
                match->model_name(), "'; give one");
    s.steering[match->model_name()] = std::move(steering);
  }
  if (!options.web_dir().empty()) {
    std::error_code error;
    GOLGI_CHECK(fs::is_directory(options.web_dir(), error), "the viewer folder '", options.web_dir(),
                "' is not a folder; pass --web DIR with the viewer (the source tree's web/)");
    s.web_root = fs::canonical(options.web_dir());
  }

  // SO_REUSEADDR only: httplib's default also sets SO_REUSEPORT, with which a second server on a
  // busy port would bind silently and share its connections instead of failing. TCP_NODELAY (on
  // the listening socket, inherited by accepted ones): without it Nagle's algorithm and delayed
  // ACKs hold every small keep-alive answer for ~40 ms.
  s.http.set_tcp_nodelay(true);
  s.http.set_socket_options([&s](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof(yes));
    s.listen_socket = sock;
  });
  // httplib serves a connection on one worker for up to this many requests; more per connection
  // means fewer reconnects under load (each reconnect can meet a full accept backlog).
  s.http.set_keep_alive_max_count(100);
  s.http.set_payload_max_length(static_cast<size_t>(options.max_body_bytes()));
  int64_t workers = options.workers();
  if (workers <= 0)
    workers = std::max<int64_t>(32, 4 * static_cast<int64_t>(std::thread::hardware_concurrency())) +
              options.steering().queue() + 1;
  s.http.new_task_queue = [workers] { return new httplib::ThreadPool(static_cast<size_t>(workers)); };
  s.http.set_default_headers({{"X-Content-Type-Options", "nosniff"},
                              {"Content-Security-Policy", kContentSecurityPolicy},
                              {"Referrer-Policy", "no-referrer"},
                              {"X-Frame-Options", "DENY"}});
  s.http.set_post_routing_handler([](const httplib::Request& req, httplib::Response& res) {
    if (starts_with(req.path, "/api/")) res.set_header("Cache-Control", "no-store");
  });
  const int64_t max_body = options.max_body_bytes();
  // Errors that httplib answers itself (no route, body too large, malformed request) get the
  // API's JSON form; answers that already have a body keep it.
  s.http.set_error_handler([max_body](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    std::string message;
    switch (res.status) {
      case 404: message = "not found: " + req.path; break;
      case 413: message = detail::concat("the request body is larger than ", max_body, " bytes, the limit"); break;
      case 414: message = "the request URI is too long"; break;
      default: message = detail::concat("HTTP ", res.status, " for ", req.method, " ", req.path); break;
    }
    send_error(res, res.status, message);
  });
  s.http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr error) {
    std::string message = "internal error";
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      message += std::string(": ") + e.what();
    } catch (...) {
    }
    send_error(res, 500, message);
  });
  if (options.log())
    s.http.set_logger([](const httplib::Request& req, const httplib::Response& res) {
      std::fprintf(stderr, "%s %s %d\n", req.method.c_str(), req.path.c_str(), res.status);
    });
  s.routes();
}

AtlasServer::~AtlasServer() { stop(); }

void AtlasServer::start(const std::string& host, int port) {
  Impl& s = *impl_;
  std::lock_guard<std::mutex> lock(s.lifecycle);
  GOLGI_CHECK(!s.thread.joinable(), "the server already runs on ", url(), "; stop() it first");
  GOLGI_CHECK(port >= 0 && port <= 65535, "port must be in [0, 65535], got ", port);
  int bound = 0;
  s.listen_socket = -1;
  if (port == 0) {
    bound = s.http.bind_to_any_port(host);
  } else if (s.http.bind_to_port(host, port)) {
    bound = port;
  }
  GOLGI_CHECK(bound > 0, "cannot listen on ", host, ":", port, " (in use, or not an address of this machine); ",
              "pick another --port or --host");
  // httplib listens with a backlog of 5: under a burst of new connections the kernel drops the
  // rest, and clients retry only after a second. Listening again on the same socket raises it.
  if (const int sock = s.listen_socket; sock >= 0) ::listen(sock, kListenBacklog);
  s.host = host;
  s.port = bound;
  std::promise<void> done;
  s.finished = done.get_future().share();
  // The socket already listens, so connections made before the thread reaches accept() wait in
  // the backlog instead of failing.
  s.thread = std::thread([&http = s.http, done = std::move(done)]() mutable {
    http.listen_after_bind();
    done.set_value();
  });
  // httplib's stop() does nothing until the accept loop has marked itself running, so a stop()
  // right after start() would leave the thread in accept() forever: wait for that mark.
  while (!s.http.is_running() && s.finished.wait_for(std::chrono::milliseconds(1)) != std::future_status::ready) {
  }
}

int AtlasServer::port() const { return impl_->port; }

std::string AtlasServer::url() const {
  const std::string& host = impl_->host;
  const bool ipv6 = host.find(':') != std::string::npos;
  return "http://" + (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(impl_->port) + "/";
}

void AtlasServer::wait() {
  std::shared_future<void> finished;
  {
    std::lock_guard<std::mutex> lock(impl_->lifecycle);
    finished = impl_->finished;
  }
  if (finished.valid()) finished.wait();
}

void AtlasServer::stop() {
  Impl& s = *impl_;
  std::lock_guard<std::mutex> lock(s.lifecycle);
  if (!s.thread.joinable()) return;
  s.http.stop();
  s.thread.join();
}

std::vector<std::string> AtlasServer::models() const {
  std::vector<std::string> names;
  for (const auto& a : impl_->atlases) names.push_back(a->model_name());
  return names;
}

std::vector<std::string> AtlasServer::steerable_models() const {
  std::vector<std::string> names;
  for (const auto& a : impl_->atlases)
    if (impl_->steerable(a->model_name())) names.push_back(a->model_name());
  return names;
}

}  // namespace golgi::serve
