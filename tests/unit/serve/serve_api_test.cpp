// golgi serve's JSON API and static files (serve/server.h, docs/atlas.md "HTTP API") against the
// synthetic atlas of tests/support/atlas_fixture.h, over real HTTP on a free port; then hostile
// inputs: path traversal, SQL metacharacters, oversized bodies, out-of-range parameters.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "atlas_fixture.h"
#include "golgi/serve/server.h"
#include "serve_test_helpers.h"
#include "test_support.h"

namespace {

using namespace golgi;
using golgi::testing::Answer;
using golgi::testing::error_message;
using golgi::testing::get;
using golgi::testing::post;
namespace fs = std::filesystem;

void write_text(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

class ServeApi : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = golgi::testing::scratch_dir("serve_api");
    golgi::testing::write_toy_atlas(dir_ + "/toy.db");
    golgi::testing::write_toy_atlas(dir_ + "/two.db", "toy-two");
    // The viewer folder, a secret next to it, and links that stay inside or lead outside.
    const fs::path web = fs::path(dir_) / "web";
    write_text(web / "index.html", "<!doctype html><title>atlas</title>");
    write_text(web / "app.js", "console.log('atlas');");
    write_text(web / "style.css", "body { margin: 0 }");
    write_text(web / "data.json", "{\"a\": 1}");
    write_text(web / "logo.svg", "<svg xmlns=\"http://www.w3.org/2000/svg\"/>");
    write_text(web / "pic.png", golgi::testing::kToyPng);
    write_text(web / "notes.xyz", "unknown type");
    write_text(web / ".hidden", "hidden");
    write_text(web / "sub" / "index.html", "<p>sub</p>");
    write_text(fs::path(dir_) / "secret.txt", "root:x:0:0:secret");
    fs::create_symlink(fs::path(dir_) / "secret.txt", web / "escape.html");
    fs::create_symlink(fs::path(dir_), web / "outside");
    fs::create_symlink(web / "app.js", web / "inside.js");
    server_ = new serve::AtlasServer({dir_ + "/toy.db", dir_ + "/two.db"}, {},
                                     serve::ServeOptions().web_dir(web.string()));
    server_->start("127.0.0.1", 0);
    port_ = server_->port();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }

  static Answer api(const std::string& path, const httplib::Params& params = {}) { return get(port_, path, params); }

  static std::string dir_;
  static serve::AtlasServer* server_;
  static int port_;
};
std::string ServeApi::dir_;
serve::AtlasServer* ServeApi::server_ = nullptr;
int ServeApi::port_ = 0;

// The neuron list's refs, in order.
std::vector<std::string> refs_of(const Json& page) {
  std::vector<std::string> refs;
  for (const auto& n : page["neurons"]) refs.push_back(n["ref"].get<std::string>());
  return refs;
}

TEST_F(ServeApi, HealthAndSecurityHeaders) {
  Answer a = api("/api/health");
  ASSERT_EQ(a.status, 200) << a.body;
  EXPECT_EQ(a.content_type, "application/json; charset=utf-8");
  Json j = a.json();
  EXPECT_EQ(j["ok"], true);
  EXPECT_EQ(j["models"], 2);
  EXPECT_EQ(j["steering"], Json::array());
  EXPECT_EQ(a.header("X-Content-Type-Options"), "nosniff");
  EXPECT_NE(a.header("Content-Security-Policy").find("default-src 'self'"), std::string::npos);
  EXPECT_NE(a.header("Content-Security-Policy").find("img-src 'self' data: blob:"), std::string::npos);
  EXPECT_EQ(a.header("Cache-Control"), "no-store");
  EXPECT_GT(server_->port(), 0);
  EXPECT_EQ(server_->url(), "http://127.0.0.1:" + std::to_string(server_->port()) + "/");
}

TEST_F(ServeApi, Models) {
  Answer a = api("/api/models");
  ASSERT_EQ(a.status, 200) << a.body;
  Json j = a.json();
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[0]["name"], "toy-lm");
  EXPECT_EQ(j[1]["name"], "toy-two");
  EXPECT_EQ(j[0]["architecture"], "llama");
  EXPECT_EQ(j[0]["task"], "language-model");
  EXPECT_EQ(j[0]["dataset"], "toy-corpus");
  EXPECT_EQ(j[0]["split"], "val");
  EXPECT_EQ(j[0]["hooks"], 2);
  EXPECT_EQ(j[0]["neurons"], 16);
  EXPECT_EQ(j[0]["examples"], 3);
  EXPECT_EQ(j[0]["steerable"], false);
}

TEST_F(ServeApi, Overview) {
  Answer a = api("/api/overview", {{"model", "toy-lm"}});
  ASSERT_EQ(a.status, 200) << a.body;
  Json j = a.json();
  EXPECT_EQ(j["model"]["name"], "toy-lm");
  EXPECT_EQ(j["model"]["positions"], 9);
  EXPECT_EQ(j["model"]["card"]["architecture"], "llama");
  EXPECT_EQ(j["model"]["config"]["d_mlp"], 8);
  EXPECT_EQ(j["model"]["steerable"], false);
  ASSERT_EQ(j["labels"].size(), 2u);
  EXPECT_EQ(j["labels"][1]["name"], "de");
  EXPECT_EQ(j["labels"][1]["examples"], 1);
  ASSERT_EQ(j["hooks"].size(), 2u);
  EXPECT_EQ(j["hooks"][1]["name"], "blocks.1.mlp.hook_post");
  EXPECT_EQ(j["hooks"][1]["layer"], 1);
  EXPECT_EQ(j["hooks"][1]["kind"], "mlp");
  EXPECT_EQ(j["hooks"][1]["neurons"], 8);
  bool der = false, de = false;
  for (const auto& c : j["annotation_counts"]) {
    if (c["kind"] == "decoded_tokens" && c["label"] == " der") der = c["count"] == 1 && c["layer"] == 1;
    if (c["kind"] == "language" && c["label"] == "de") de = c["count"] == 1 && c["layer"] == 0 && c["method"] == "language-neurons";
  }
  EXPECT_TRUE(der) << j["annotation_counts"].dump();
  EXPECT_TRUE(de) << j["annotation_counts"].dump();
  EXPECT_EQ(j["annotation_counts_truncated"], false);
  ASSERT_EQ(j["model_annotations"].size(), 1u);
  EXPECT_EQ(j["model_annotations"][0]["value"]["languages"], Json::array({"en", "de"}));
  EXPECT_EQ(j["build_info"]["complete"], true);
}

TEST_F(ServeApi, NeuronsListSortsFiltersAndPages) {
  Json j = api("/api/neurons", {{"model", "toy-lm"}}).json();
  EXPECT_EQ(j["total"], 16);
  EXPECT_EQ(j["offset"], 0);
  EXPECT_EQ(j["limit"], 50);
  ASSERT_EQ(j["neurons"].size(), 16u);
  EXPECT_EQ(j["neurons"][0]["ref"], "blocks.0.mlp.hook_post:0");
  EXPECT_EQ(j["neurons"][15]["ref"], "blocks.1.mlp.hook_post:7");
  const Json& n3 = j["neurons"][3];
  EXPECT_DOUBLE_EQ(n3["mean"].get<double>(), 0.3);
  EXPECT_DOUBLE_EQ(n3["std"].get<double>(), 0.53);
  EXPECT_DOUBLE_EQ(n3["min"].get<double>(), -4.0);
  EXPECT_DOUBLE_EQ(n3["max"].get<double>(), 5.0);
  EXPECT_DOUBLE_EQ(n3["prob_active"].get<double>(), 0.2);
  EXPECT_EQ(n3["top_label"], "de");
  EXPECT_EQ(n3["idx"], 3);
  EXPECT_EQ(n3["layer"], 0);
  EXPECT_EQ(n3["hook"], "blocks.0.mlp.hook_post");
  EXPECT_EQ(n3["histogram"]["counts"], Json::array({1, 2, 3}));
  EXPECT_EQ(n3["histogram"]["total"], 60);
  ASSERT_EQ(n3["tags"].size(), 1u);
  EXPECT_EQ(n3["tags"][0]["kind"], "language");
  EXPECT_EQ(n3["tags"][0]["label"], "de");
  // The neuron that never fired has null statistics.
  EXPECT_TRUE(j["neurons"][15]["mean"].is_null());
  EXPECT_TRUE(j["neurons"][15]["histogram"].is_null());

  // Tags strongest first: label_selectivity 0.74 before decoded_tokens 0.32.
  Json hook1 = api("/api/neurons", {{"model", "toy-lm"}, {"hook", "blocks.1.mlp.hook_post"}}).json();
  EXPECT_EQ(hook1["total"], 8);
  ASSERT_EQ(hook1["neurons"][2]["tags"].size(), 2u);
  EXPECT_EQ(hook1["neurons"][2]["tags"][0]["kind"], "label_selectivity");
  EXPECT_EQ(hook1["neurons"][2]["tags"][1]["label"], " Hund");

  // Sorted by max, nulls last in both directions.
  Json desc = api("/api/neurons", {{"model", "toy-lm"}, {"hook", "blocks.1.mlp.hook_post"}, {"sort", "max"},
                                   {"order", "desc"}}).json();
  EXPECT_EQ(refs_of(desc).front(), "blocks.1.mlp.hook_post:6");
  EXPECT_EQ(refs_of(desc).back(), "blocks.1.mlp.hook_post:7");
  Json asc = api("/api/neurons", {{"model", "toy-lm"}, {"hook", "blocks.1.mlp.hook_post"}, {"sort", "max"}}).json();
  EXPECT_EQ(refs_of(asc).front(), "blocks.1.mlp.hook_post:0");
  EXPECT_EQ(refs_of(asc).back(), "blocks.1.mlp.hook_post:7");
  Json index_desc = api("/api/neurons", {{"model", "toy-lm"}, {"order", "desc"}, {"limit", "1"}}).json();
  EXPECT_EQ(refs_of(index_desc), std::vector<std::string>{"blocks.1.mlp.hook_post:7"});
  for (const char* key : {"index", "mean", "max", "prob_active", "selectivity", "std", "min"})
    EXPECT_EQ(api("/api/neurons", {{"model", "toy-lm"}, {"sort", key}}).status, 200) << key;

  Json page = api("/api/neurons", {{"model", "toy-lm"}, {"offset", "2"}, {"limit", "3"}}).json();
  EXPECT_EQ(page["total"], 16);
  EXPECT_EQ(refs_of(page), (std::vector<std::string>{"blocks.0.mlp.hook_post:2", "blocks.0.mlp.hook_post:3",
                                                     "blocks.0.mlp.hook_post:4"}));
  // Empty values are absent values: the defaults apply.
  Json empty = api("/api/neurons", {{"model", "toy-lm"}, {"limit", ""}, {"sort", ""}, {"hook", ""}, {"label", ""}}).json();
  EXPECT_EQ(empty["limit"], 50);
  EXPECT_EQ(empty["total"], 16);
  Json beyond = api("/api/neurons", {{"model", "toy-lm"}, {"offset", "1000"}}).json();
  EXPECT_EQ(beyond["total"], 16);
  EXPECT_TRUE(beyond["neurons"].empty());

  // Top label "de": odd indices, without the silent neuron (its top label is NULL).
  Json de = api("/api/neurons", {{"model", "toy-lm"}, {"label", "de"}}).json();
  EXPECT_EQ(de["total"], 7);
  Json language = api("/api/neurons", {{"model", "toy-lm"}, {"annotation", "language"}}).json();
  EXPECT_EQ(refs_of(language), (std::vector<std::string>{"blocks.0.mlp.hook_post:3", "blocks.0.mlp.hook_post:5"}));
  EXPECT_EQ(api("/api/neurons", {{"model", "toy-lm"}, {"annotation", "no-such-kind"}}).json()["total"], 0);
}

TEST_F(ServeApi, NeuronPage) {
  Answer a = api("/api/neuron", {{"model", "toy-lm"}, {"ref", "blocks.0.mlp.hook_post:3"}});
  ASSERT_EQ(a.status, 200) << a.body;
  Json j = a.json();
  EXPECT_EQ(j["ref"], "blocks.0.mlp.hook_post:3");
  EXPECT_EQ(j["hook"], "blocks.0.mlp.hook_post");
  EXPECT_EQ(j["idx"], 3);
  EXPECT_DOUBLE_EQ(j["max"].get<double>(), 5.0);
  EXPECT_DOUBLE_EQ(j["selectivity"].get<double>(), 0.3);
  EXPECT_EQ(j["top_label"], "de");
  ASSERT_EQ(j["labels"].size(), 2u);
  EXPECT_EQ(j["labels"][0]["name"], "en");
  EXPECT_DOUBLE_EQ(j["labels"][1]["mean"].get<double>(), 1.3);
  EXPECT_DOUBLE_EQ(j["labels"][1]["max"].get<double>(), 4.0);
  ASSERT_EQ(j["exemplars"].size(), 2u);
  const Json& top = j["exemplars"][0];
  EXPECT_EQ(top["rank"], 0);
  EXPECT_DOUBLE_EQ(top["activation"].get<double>(), 5.0);
  EXPECT_EQ(top["example_id"], 10);
  EXPECT_EQ(top["label"], "de");
  EXPECT_EQ(top["position"], 0);
  EXPECT_EQ(top["tokens"], Json::array({"Der", " Hund", " bellt"}));
  EXPECT_EQ(top["acts"], Json::array({0.1, 5.0, 0.2}));
  EXPECT_TRUE(top["image_id"].is_null());
  EXPECT_TRUE(top["mask_image_id"].is_null());
  EXPECT_EQ(top["window_start"], 0);
  // The rank-1 exemplar stores a window from token 1: its tokens are sliced to match its acts.
  const Json& second = j["exemplars"][1];
  EXPECT_EQ(second["example_id"], 11);
  EXPECT_EQ(second["window_start"], 1);
  EXPECT_EQ(second["position"], 1);
  EXPECT_EQ(second["tokens"], Json::array({" dog", " barks"}));
  EXPECT_EQ(second["acts"], Json::array({2.5, 0.0}));
  ASSERT_EQ(j["annotations"].size(), 1u);
  EXPECT_EQ(j["annotations"][0]["method"], "language-neurons");
  EXPECT_EQ(j["annotations"][0]["kind"], "language");
  EXPECT_DOUBLE_EQ(j["annotations"][0]["score"].get<double>(), 0.81);
  EXPECT_EQ(j["annotations"][0]["value"]["language"], "de");
  EXPECT_DOUBLE_EQ(j["annotations"][0]["value"]["p_rest_max"].get<double>(), 0.12);

  Json decoded = api("/api/neuron", {{"model", "toy-lm"}, {"ref", "blocks.1.mlp.hook_post:0"}}).json();
  EXPECT_EQ(decoded["annotations"][0]["value"]["tokens"][0]["token"], " der");
}

TEST_F(ServeApi, Search) {
  auto search = [](const httplib::Params& params) {
    Answer a = get(port_, "/api/search", params);
    EXPECT_EQ(a.status, 200) << a.body;
    return a.json();
  };
  auto has = [](const Json& j, const std::string& model, const std::string& ref, const std::string& kind) {
    for (const auto& r : j["results"])
      if (r["model"] == model && r["ref"] == ref && r["kind"] == kind) return true;
    return false;
  };
  Json ref = search({{"q", "blocks.1.mlp.hook_post:2"}, {"model", "toy-lm"}});
  EXPECT_EQ(ref["query"], "blocks.1.mlp.hook_post:2");
  ASSERT_FALSE(ref["results"].empty());
  EXPECT_EQ(ref["results"][0]["kind"], "neuron");
  EXPECT_EQ(ref["results"][0]["ref"], "blocks.1.mlp.hook_post:2");

  Json hooks = search({{"q", "mlp.hook_po"}, {"model", "toy-lm"}});
  EXPECT_TRUE(has(hooks, "toy-lm", "blocks.0.mlp.hook_post", "hook"));
  EXPECT_TRUE(has(hooks, "toy-lm", "blocks.1.mlp.hook_post", "hook"));

  // Annotation labels: prefix, ASCII case-insensitive, over every atlas without model=.
  Json dog = search({{"q", " DO"}});
  EXPECT_TRUE(has(dog, "toy-lm", "blocks.1.mlp.hook_post:3", "decoded_tokens"));
  EXPECT_TRUE(has(dog, "toy-two", "blocks.1.mlp.hook_post:3", "decoded_tokens"));
  Json de = search({{"q", "de"}, {"model", "toy-lm"}});
  EXPECT_TRUE(has(de, "toy-lm", "blocks.0.mlp.hook_post:3", "language"));
  EXPECT_TRUE(has(de, "toy-lm", "blocks.1.mlp.hook_post:2", "label_selectivity"));
  for (const auto& r : de["results"]) EXPECT_EQ(r["model"], "toy-lm");

  // Exemplar text: " barks" is in example 11, the rank-0 exemplar of neurons with i % 3 == 1.
  Json barks = search({{"q", "bark"}, {"model", "toy-lm"}});
  EXPECT_TRUE(has(barks, "toy-lm", "blocks.1.mlp.hook_post:4", "exemplar"));
  for (const auto& r : barks["results"]) {
    EXPECT_EQ(r["kind"], "exemplar");
    EXPECT_NE(r["label"].get<std::string>().find("barks"), std::string::npos);
  }
  // The strongest exemplar first: blocks.1...:4, whose rank-0 exemplar (activation 16) is example 11.
  EXPECT_EQ(barks["results"][0]["ref"], "blocks.1.mlp.hook_post:4");
  EXPECT_DOUBLE_EQ(barks["results"][0]["score"].get<double>(), 16.0);

  // LIKE wildcards in the query are literal characters.
  Json percent = search({{"q", "%"}, {"model", "toy-lm"}});
  for (const auto& r : percent["results"]) {
    if (r["kind"] == "decoded_tokens") {
      EXPECT_EQ(r["label"], "%pct");
    }
    if (r["kind"] == "exemplar") {
      EXPECT_NE(r["label"].get<std::string>().find('%'), std::string::npos);
    }
  }
  EXPECT_TRUE(has(percent, "toy-lm", "blocks.1.mlp.hook_post:4", "decoded_tokens"));
  Json underscore = search({{"q", "_"}, {"model", "toy-lm"}});
  for (const auto& r : underscore["results"]) {
    if (r["kind"] == "decoded_tokens") {
      EXPECT_EQ(r["label"], "_x");  // a wildcard '_' would match every label
    }
  }
  EXPECT_TRUE(has(underscore, "toy-lm", "blocks.1.mlp.hook_post:5", "decoded_tokens"));
  Json limited = search({{"q", "blocks"}, {"limit", "1"}});
  EXPECT_EQ(limited["results"].size(), 1u);
  EXPECT_TRUE(search({{"q", "zzzz-nothing"}})["results"].empty());
}

TEST_F(ServeApi, Image) {
  Answer a = api("/api/image", {{"model", "toy-lm"}, {"id", "1"}});
  ASSERT_EQ(a.status, 200) << a.body;
  EXPECT_EQ(a.content_type, "image/png");
  EXPECT_EQ(a.body, golgi::testing::kToyPng);
  EXPECT_EQ(a.header("X-Content-Type-Options"), "nosniff");
  // Image ids are per atlas: the same id in the other atlas is that atlas's image.
  EXPECT_EQ(api("/api/image", {{"model", "toy-two"}, {"id", "1"}}).status, 200);
  EXPECT_EQ(api("/api/image", {{"model", "toy-lm"}, {"id", "2"}}).status, 404);
  EXPECT_EQ(api("/api/image", {{"id", "1"}}).status, 400);
  EXPECT_EQ(api("/api/image", {{"model", "toy-lm"}}).status, 400);
  EXPECT_EQ(api("/api/image", {{"model", "nope"}, {"id", "1"}}).status, 404);
  EXPECT_EQ(api("/api/image", {{"model", "toy-lm"}, {"id", "-1"}}).status, 400);
}

TEST_F(ServeApi, BadParametersAre400AndUnknownThingsAre404) {
  struct Case {
    std::string path;
    httplib::Params params;
    int status;
    std::string needle;  // in the error message
  };
  const std::vector<Case> cases{
      {"/api/overview", {}, 400, "needs the parameter 'model'"},
      {"/api/overview", {{"model", "toy-lm2"}}, 404, "toy-lm"},
      {"/api/overview", {{"model", "toy-lm"}, {"modle", "x"}}, 400, "unknown parameter 'modle'"},
      {"/api/neurons", {{"model", "toy-lm"}, {"hook", "blocks.1.mlp.hook_pos"}}, 404, "did you mean"},
      {"/api/neurons", {{"model", "toy-lm"}, {"label", "fr"}}, 404, "en, de"},
      {"/api/neurons", {{"model", "toy-lm"}, {"sort", "size"}}, 400, "prob_active"},
      {"/api/neurons", {{"model", "toy-lm"}, {"order", "up"}}, 400, "asc or desc"},
      {"/api/neurons", {{"model", "toy-lm"}, {"limit", "0"}}, 400, "[1, 500]"},
      {"/api/neurons", {{"model", "toy-lm"}, {"limit", "501"}}, 400, "[1, 500]"},
      {"/api/neurons", {{"model", "toy-lm"}, {"limit", "-5"}}, 400, "[1, 500]"},
      {"/api/neurons", {{"model", "toy-lm"}, {"limit", "ten"}}, 400, "integer"},
      {"/api/neurons", {{"model", "toy-lm"}, {"limit", "1e3"}}, 400, "integer"},
      {"/api/neurons", {{"model", "toy-lm"}, {"limit", "99999999999999999999999"}}, 400, "integer"},
      {"/api/neurons", {{"model", "toy-lm"}, {"offset", "-1"}}, 400, "offset"},
      {"/api/neurons", {{"model", "toy-lm"}, {"offset", "100000001"}}, 400, "offset"},
      {"/api/neurons", {{"model", "toy-lm"}, {"offset", "0x10"}}, 400, "offset"},
      {"/api/neuron", {{"model", "toy-lm"}}, 400, "'ref'"},
      {"/api/neuron", {{"model", "toy-lm"}, {"ref", "nonsense"}}, 400, "HOOK:INDEX"},
      {"/api/neuron", {{"model", "toy-lm"}, {"ref", "blocks.0.mlp.hook_post:x"}}, 400, "non-negative integer"},
      {"/api/neuron", {{"model", "toy-lm"}, {"ref", "blocks.0.mlp.hook_post:99"}}, 404, "8 neurons"},
      {"/api/neuron", {{"model", "toy-lm"}, {"ref", "blocks.0.mlp.hook_post:-1"}}, 400, "non-negative"},
      {"/api/neuron", {{"model", "toy-lm"}, {"ref", "blocks.9.mlp.hook_post:1"}}, 404, "no hook"},
      {"/api/neuron", {{"model", "toy-lm"}, {"ref", "blocks.0.mlp.hook_post:1@2"}}, 404, "positions"},
      {"/api/search", {}, 400, "'q'"},
      {"/api/search", {{"q", std::string(201, 'a')}}, 400, "200"},
      {"/api/search", {{"q", "a"}, {"limit", "201"}}, 400, "[1, 200]"},
      {"/api/search", {{"q", "a"}, {"model", "nope"}}, 404, "unknown model"},
      {"/api/nothing", {}, 404, "/api/health"},
      {"/api/steer", {}, 405, "POST"},
      {"/api/health", {{"x", "1"}}, 400, "unknown parameter"},
  };
  for (const auto& c : cases) {
    Answer a = api(c.path, c.params);
    std::string where = c.path;
    for (const auto& [k, v] : c.params) where += " " + k + "=" + v.substr(0, 30);
    EXPECT_EQ(a.status, c.status) << where << ": " << a.body;
    EXPECT_EQ(a.content_type, "application/json; charset=utf-8") << where;
    EXPECT_NE(error_message(a).find(c.needle), std::string::npos) << where << ": " << error_message(a);
  }
  // A parameter given twice is refused rather than silently picking one.
  Answer twice = get(port_, "/api/overview?model=toy-lm&model=toy-two");
  EXPECT_EQ(twice.status, 400);
  EXPECT_NE(error_message(twice).find("once"), std::string::npos);
  EXPECT_EQ(post(port_, "/api/models", "{}").status, 405);
  Answer no_steering = post(port_, "/api/steer", R"({"model": "toy-lm", "prompt": "a"})");
  EXPECT_EQ(no_steering.status, 400);
  EXPECT_NE(error_message(no_steering).find("--model"), std::string::npos);
  EXPECT_EQ(post(port_, "/api/steer", "{not json").status, 400);
  EXPECT_EQ(post(port_, "/api/steer", R"({"model": "nope"})").status, 404);
}

TEST_F(ServeApi, StaticFiles) {
  struct Case {
    std::string path;
    std::string type;
  };
  for (const auto& c : std::vector<Case>{{"/", "text/html; charset=utf-8"},
                                         {"/index.html", "text/html; charset=utf-8"},
                                         {"/app.js", "text/javascript; charset=utf-8"},
                                         {"/inside.js", "text/javascript; charset=utf-8"},
                                         {"/style.css", "text/css; charset=utf-8"},
                                         {"/data.json", "application/json; charset=utf-8"},
                                         {"/logo.svg", "image/svg+xml"},
                                         {"/pic.png", "image/png"},
                                         {"/sub/", "text/html; charset=utf-8"}}) {
    Answer a = api(c.path);
    EXPECT_EQ(a.status, 200) << c.path << ": " << a.body;
    EXPECT_EQ(a.content_type, c.type) << c.path;
    EXPECT_EQ(a.header("X-Content-Type-Options"), "nosniff") << c.path;
    EXPECT_FALSE(a.header("Content-Security-Policy").empty()) << c.path;
  }
  EXPECT_EQ(api("/").body, "<!doctype html><title>atlas</title>");
  EXPECT_EQ(api("/pic.png").body, golgi::testing::kToyPng);
  for (const char* path : {"/missing.js", "/notes.xyz", "/.hidden", "/sub", "/sub/missing.html"})
    EXPECT_EQ(api(path).status, 404) << path;
}

TEST_F(ServeApi, PathTraversalNeverLeavesTheViewerFolder) {
  const std::vector<std::string> hostile{
      "/../../etc/passwd",
      "/../secret.txt",
      "/%2e%2e/secret.txt",
      "/%2e%2e%2fsecret.txt",
      "/%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
      "/..%2f..%2fetc%2fpasswd",
      "/sub/../../secret.txt",
      "/sub/%2e%2e/index.html",
      "/./index.html",
      "/%2fetc%2fpasswd",
      "//etc/passwd",
      "/escape.html",          // a symlink to a file outside
      "/outside/secret.txt",   // a symlink to the folder above
      "/..\\secret.txt",
      "/%5c..%5csecret.txt",
      "/index.html%00.png",
  };
  for (const auto& path : hostile) {
    Answer a = api(path);
    EXPECT_EQ(a.status, 404) << path << ": " << a.body;
    EXPECT_EQ(a.body.find("root:x"), std::string::npos) << path;
  }
}

TEST_F(ServeApi, SqlMetacharactersNeitherFailNorChangeAnswers) {
  const std::vector<std::string> payloads{"' OR 1=1 --", "\"; DROP TABLE neurons;", "x'); DELETE FROM neurons; --",
                                          "%", "_", "\\", "' UNION SELECT png FROM images --", "\xff\xfe"};
  const Json reference = api("/api/neurons", {{"model", "toy-lm"}}).json();
  for (const auto& p : payloads) {
    std::vector<std::pair<std::string, httplib::Params>> requests{
        {"/api/overview", {{"model", p}}},
        {"/api/neurons", {{"model", p}}},
        {"/api/neurons", {{"model", "toy-lm"}, {"hook", p}}},
        {"/api/neurons", {{"model", "toy-lm"}, {"label", p}}},
        {"/api/neurons", {{"model", "toy-lm"}, {"annotation", p}}},
        {"/api/neurons", {{"model", "toy-lm"}, {"sort", p}}},
        {"/api/neurons", {{"model", "toy-lm"}, {"order", p}}},
        {"/api/neurons", {{"model", "toy-lm"}, {"limit", p}}},
        {"/api/neuron", {{"model", "toy-lm"}, {"ref", p}}},
        {"/api/neuron", {{"model", "toy-lm"}, {"ref", "blocks.0.mlp.hook_post" + p + ":1"}}},
        {"/api/search", {{"q", p}}},
        {"/api/search", {{"q", "de"}, {"model", p}}},
        {"/api/image", {{"model", "toy-lm"}, {"id", p}}},
    };
    for (const auto& [path, params] : requests) {
      Answer a = api(path, params);
      EXPECT_TRUE(a.status == 200 || a.status == 400 || a.status == 404)
          << path << " " << params.begin()->first << "=" << p << ": " << a.status << " " << a.body;
      if (path == "/api/neurons" && a.status == 200) {
        EXPECT_EQ(a.json()["total"], 0) << p;  // an annotation kind no neuron has
      }
    }
    Json search = api("/api/search", {{"q", p}, {"model", "toy-lm"}}).json();
    for (const auto& r : search["results"]) {
      // Only literal matches: '%' and '_' hit the labels and texts that contain them.
      const std::string label = r["label"].is_string() ? r["label"].get<std::string>() : "";
      if (r["kind"] != "hook") {
        EXPECT_NE(label.find(p), std::string::npos) << p << " -> " << r.dump();
      }
    }
  }
  EXPECT_EQ(api("/api/neurons", {{"model", "toy-lm"}}).json(), reference);
}

TEST_F(ServeApi, LargeBodiesGet413) {
  const std::string big(70 * 1024, 'x');
  Answer a = post(port_, "/api/steer", "{\"prompt\": \"" + big + "\"}");
  EXPECT_EQ(a.status, 413) << a.body.substr(0, 200);
  EXPECT_NE(error_message(a).find("65536"), std::string::npos) << a.body;
  EXPECT_EQ(a.header("Cache-Control"), "no-store");
  // Just under the limit is read and judged on its content; deep nesting does not crash the parser.
  Answer deep = post(port_, "/api/steer", std::string(30000, '[') + std::string(30000, ']'));
  EXPECT_EQ(deep.status, 400) << deep.body.substr(0, 200);
  // The server still answers.
  EXPECT_EQ(api("/api/health").status, 200);
}

TEST_F(ServeApi, ConcurrentReadersShareThePool) {
  std::atomic<int> ok{0}, bad{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 15; ++i) {
        const std::string ref = "blocks." + std::to_string((t + i) % 2) + ".mlp.hook_post:" + std::to_string(i % 7);
        Answer a = get(port_, "/api/neuron", {{"model", t % 2 ? "toy-lm" : "toy-two"}, {"ref", ref}});
        (a.status == 200 && a.json()["ref"] == ref ? ok : bad)++;
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 120);
  EXPECT_EQ(bad.load(), 0);
}

TEST(ServeSetup, RefusesBadInputsWithClearErrors) {
  const std::string dir = golgi::testing::scratch_dir("serve_setup");
  golgi::testing::write_toy_atlas(dir + "/a.db");
  golgi::testing::write_toy_atlas(dir + "/b.db");
  std::ofstream(dir + "/not-an-atlas.db") << "hello";
  auto error = [](const std::function<void()>& f) { return golgi::testing::error_of(f); };
  EXPECT_NE(error([&] { serve::AtlasServer({dir + "/a.db", dir + "/b.db"}, {}); }).find("both hold model 'toy-lm'"),
            std::string::npos);
  EXPECT_NE(error([&] { serve::AtlasServer({dir + "/missing.db"}, {}); }).find("does not exist"), std::string::npos);
  EXPECT_FALSE(error([&] { serve::AtlasServer({dir + "/not-an-atlas.db"}, {}); }).empty());
  EXPECT_NE(error([&] { serve::AtlasServer({}, {}); }).find("at least one atlas"), std::string::npos);
  EXPECT_NE(error([&] { serve::AtlasServer({dir + "/a.db"}, {}, serve::ServeOptions().web_dir(dir + "/nope")); })
                .find("not a folder"),
            std::string::npos);
  // Without a viewer folder only the API answers; the root says how to get the viewer.
  {
    serve::AtlasServer api_only({dir + "/a.db"}, {});
    api_only.start("127.0.0.1", 0);
    Answer root = get(api_only.port(), "/");
    EXPECT_EQ(root.status, 404);
    EXPECT_NE(error_message(root).find("--web"), std::string::npos) << root.body;
    EXPECT_EQ(get(api_only.port(), "/api/health").status, 200);
  }
  // A port in use is an error naming it.
  serve::AtlasServer first({dir + "/a.db"}, {});
  first.start("127.0.0.1", 0);
  serve::AtlasServer second({dir + "/a.db"}, {});
  EXPECT_NE(error([&] { second.start("127.0.0.1", first.port()); }).find(std::to_string(first.port())),
            std::string::npos);
  first.stop();
  first.stop();  // idempotent
}

TEST(ServeSetup, CliHelpAndErrors) {
  auto help = golgi::testing::run_cli("serve --help");
  EXPECT_EQ(help.exit_code, 0) << help.out;
  EXPECT_NE(help.out.find("--steer-timeout"), std::string::npos);
  EXPECT_NE(help.out.find("127.0.0.1"), std::string::npos);
  const std::string dir = golgi::testing::scratch_dir("serve_cli");
  golgi::testing::write_toy_atlas(dir + "/a.db");
  auto no_match = golgi::testing::run_cli("serve " + dir + "/a.db --model " + dir + " --port 0");
  EXPECT_EQ(no_match.exit_code, 2) << no_match.out;
}

}  // namespace
