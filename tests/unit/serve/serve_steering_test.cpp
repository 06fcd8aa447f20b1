// The steering playground (serve/steering.h) through POST /api/steer, with tiny random Llama models
// saved in temp folders with a byte tokenizer: base versus steered continuations, request
// validation, the bounded queue under concurrent clients, and the time limit.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include <torch/torch.h>

#include "atlas_fixture.h"
#include "golgi/models/registry.h"
#include "golgi/serve/server.h"
#include "golgi/tokenize/tokenizer.h"
#include "serve_test_helpers.h"
#include "test_support.h"

namespace {

using namespace golgi;
using golgi::testing::Answer;
using golgi::testing::error_message;
using golgi::testing::post;

// A random Llama over bytes (256 byte ids + <|bos|>, <|eos|>, <|pad|>) with its tokenizer.
// Weights are drawn wider than the default initialisation so continuations depend on the input.
void save_tiny_llama(const std::string& dir, int64_t d_model, int64_t n_layers, int64_t n_ctx, uint64_t seed) {
  torch::manual_seed(seed);
  Json options{{"vocab_size", 259}, {"n_ctx", n_ctx}, {"d_model", d_model}, {"n_layers", n_layers},
               {"n_heads", 2},      {"n_kv_heads", 1}, {"d_mlp", 8}};
  auto model = models::make_model("llama", options);
  {
    torch::NoGradGuard no_grad;
    for (auto& p : model->parameters())
      if (p.dim() == 2) p.normal_(0, 0.3);
  }
  models::save_model(dir, *model, {{"note", "serve steering test"}});
  tokenize::save_byte_tokenizer(dir);
}

std::string body(const Json& request) { return request.dump(); }

Json clamp_request(double value, int64_t max_new_tokens = 8) {
  return {{"model", "toy-lm"},
          {"prompt", "Der Hund"},
          {"interventions", {{{"ref", "blocks.1.mlp.hook_post:2"}, {"op", "clamp"}, {"value", value}}}},
          {"max_new_tokens", max_new_tokens},
          {"temperature", 0},
          {"top_n", 5}};
}

class ServeSteering : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = golgi::testing::scratch_dir("serve_steering");
    // The folder is named like the atlas's model, which is how --model finds its atlas.
    save_tiny_llama(dir_ + "/toy-lm", 16, 2, 64, 5);
    golgi::testing::write_toy_atlas(dir_ + "/toy.db");
    server_ = new serve::AtlasServer({dir_ + "/toy.db"}, {dir_ + "/toy-lm"});
    server_->start("127.0.0.1", 0);
    port_ = server_->port();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  static Answer steer(const Json& request) { return post(port_, "/api/steer", body(request)); }

  static std::string dir_;
  static serve::AtlasServer* server_;
  static int port_;
};
std::string ServeSteering::dir_;
serve::AtlasServer* ServeSteering::server_ = nullptr;
int ServeSteering::port_ = 0;

TEST_F(ServeSteering, HealthListsTheSteerableModel) {
  Json health = golgi::testing::get(port_, "/api/health").json();
  EXPECT_EQ(health["steering"], Json::array({"toy-lm"}));
  EXPECT_EQ(golgi::testing::get(port_, "/api/models").json()[0]["steerable"], true);
  EXPECT_EQ(server_->steerable_models(), std::vector<std::string>{"toy-lm"});
}

TEST_F(ServeSteering, LargeClampChangesTheContinuation) {
  Answer a = steer(clamp_request(60.0));
  ASSERT_EQ(a.status, 200) << a.body;
  EXPECT_EQ(a.header("Cache-Control"), "no-store");
  Json j = a.json();
  EXPECT_EQ(j["model"], "toy-lm");
  EXPECT_EQ(j["prompt_tokens"], 9);  // <|eos|> + 8 bytes
  EXPECT_EQ(j["interventions"], Json::parse(R"([{"ref": "blocks.1.mlp.hook_post:2", "op": "clamp", "value": 60.0}])"));
  for (const char* side : {"base", "steered"}) {
    const std::string text = j[side]["text"].get<std::string>();
    EXPECT_EQ(text.rfind("Der Hund", 0), 0u) << side;
    EXPECT_EQ(text, "Der Hund" + j[side]["continuation"].get<std::string>()) << side;
    EXPECT_LE(j[side]["tokens"].size(), 8u);
    ASSERT_EQ(j["next_tokens"][side].size(), 5u) << side;
    double previous = 1.0, total = 0.0;
    for (const auto& t : j["next_tokens"][side]) {
      EXPECT_TRUE(t["token"].is_string());
      EXPECT_LE(t["prob"].get<double>(), previous);
      previous = t["prob"].get<double>();
      total += previous;
    }
    EXPECT_LE(total, 1.0 + 1e-6);
  }
  EXPECT_GE(j["seconds"].get<double>(), 0.0);
  // A clamp of 60 on a model of this size moves the next-token distribution far.
  EXPECT_NE(j["next_tokens"]["base"], j["next_tokens"]["steered"]);
  EXPECT_NE(j["base"]["tokens"], j["steered"]["tokens"]);

  // The body is JSON whatever its declared type (curl -d sends application/x-www-form-urlencoded).
  Answer form = post(port_, "/api/steer", body(clamp_request(60.0)), "application/x-www-form-urlencoded");
  ASSERT_EQ(form.status, 200) << form.body;
  EXPECT_EQ(form.json()["steered"], j["steered"]);
  // Greedy decoding is deterministic, and without interventions both sides agree.
  EXPECT_EQ(steer(clamp_request(60.0)).json()["steered"], j["steered"]);
  Json plain = clamp_request(0);
  plain["interventions"] = Json::array();
  Json same = steer(plain).json();
  EXPECT_EQ(same["base"], same["steered"]);
  EXPECT_EQ(same["base"], j["base"]);
}

TEST_F(ServeSteering, EveryOpRunsAndSampledRunsRepeatWithTheirSeed) {
  for (const char* op : {"zero", "scale", "add", "clamp"}) {
    Json request = clamp_request(0);
    request["interventions"] = Json::array({{{"ref", "blocks.0.mlp.hook_post:1"}, {"op", op}}});
    if (std::string(op) != "zero") request["interventions"][0]["value"] = 25.0;
    request["temperature"] = 0.9;
    request["seed"] = 7;
    Answer a = steer(request);
    ASSERT_EQ(a.status, 200) << op << ": " << a.body;
    EXPECT_EQ(steer(request).json()["steered"], a.json()["steered"]) << op;
  }
  // add shifts the neuron: a large add changes the distribution as a clamp does.
  Json add = clamp_request(0);
  add["interventions"] = Json::array({{{"ref", "blocks.1.mlp.hook_post:2"}, {"op", "add"}, {"value", 80.0}}});
  Json j = steer(add).json();
  EXPECT_NE(j["next_tokens"]["base"], j["next_tokens"]["steered"]);
  // Residual-stream hooks steer too.
  Json resid = clamp_request(0);
  resid["interventions"] = Json::array({{{"ref", "blocks.0.hook_resid_post:3"}, {"op", "scale"}, {"value", -4.0}}});
  EXPECT_EQ(steer(resid).status, 200);
}

TEST_F(ServeSteering, BadRequestsAre400WithTheReason) {
  auto with = [](const std::function<void(Json&)>& edit) {
    Json r = clamp_request(5.0);
    edit(r);
    return r.dump();
  };
  struct Case {
    std::string body;
    std::string needle;
  };
  const std::vector<Case> cases{
      {with([](Json& r) { r["interventions"][0]["ref"] = "blocks.1.mlp.hook_pots:2"; }), "hook_post"},
      {with([](Json& r) { r["interventions"][0]["ref"] = "blocks.1.mlp.hook_post:8"; }), "out of range"},
      {with([](Json& r) { r["interventions"][0]["ref"] = "blocks.1.mlp.hook_post:2@1"; }), "every position"},
      {with([](Json& r) { r["interventions"][0]["ref"] = "not a ref"; }), "HOOK:INDEX"},
      // Attention patterns are indexed by head (2 here).
      {with([](Json& r) { r["interventions"][0]["ref"] = "blocks.0.attn.hook_pattern:2"; }), "out of range"},
      {with([](Json& r) { r["interventions"][0]["op"] = "boost"; }), "clamp, zero, scale or add"},
      {with([](Json& r) { r["interventions"][0].erase("value"); }), "needs a numeric \"value\""},
      {with([](Json& r) { r["interventions"][0]["value"] = "5"; }), "must be a number"},
      {with([](Json& r) { r["interventions"][0]["extra"] = 1; }), "unknown field \"extra\""},
      {with([](Json& r) { r["interventions"] = "blocks.1.mlp.hook_post:2"; }), "must be a list"},
      {with([](Json& r) { r["interventions"] = Json::array({1}); }), "must be an object"},
      {with([](Json& r) { r["temperature"] = 3; }), "[0, 2]"},
      {with([](Json& r) { r["temperature"] = -0.5; }), "[0, 2]"},
      {with([](Json& r) { r["max_new_tokens"] = 0; }), "[1, 128]"},
      {with([](Json& r) { r["max_new_tokens"] = 129; }), "[1, 128]"},
      {with([](Json& r) { r["max_new_tokens"] = 2.5; }), "integer"},
      {with([](Json& r) { r["max_new_tokens"] = "ten"; }), "integer"},
      {with([](Json& r) { r["top_n"] = 21; }), "[1, 20]"},
      {with([](Json& r) { r["seed"] = -1; }), "seed"},
      {with([](Json& r) { r["seed"] = 1e300; }), "seed"},
      {with([](Json& r) { r["prompt"] = std::string(2001, 'a'); }), "2000 bytes"},
      {with([](Json& r) { r["prompt"] = 5; }), "must be a string"},
      {with([](Json& r) { r["prompt"] = std::string(60, 'a'); }), "context of 64 tokens"},
      {with([](Json& r) { r["temprature"] = 0; }), "did you mean"},
      // Not JSON numbers at all: NaN and infinities never parse.
      {R"({"model": "toy-lm", "prompt": "a", "interventions": [{"ref": "blocks.1.mlp.hook_post:2", "op": "clamp", "value": NaN}]})",
       "not valid JSON"},
      {R"({"model": "toy-lm", "prompt": "a", "interventions": [{"ref": "blocks.1.mlp.hook_post:2", "op": "clamp", "value": Infinity}]})",
       "not valid JSON"},
      {R"({"model": "toy-lm", "prompt": "a", "interventions": [{"ref": "blocks.1.mlp.hook_post:2", "op": "clamp", "value": 1e999}]})",
       "not valid JSON"},
      {R"({"model": "toy-lm", "prompt": "a", "temperature": -Infinity})", "not valid JSON"},
      {R"([1, 2])", "\"model\""},
      {"", "not valid JSON"},
  };
  for (const auto& c : cases) {
    Answer a = post(port_, "/api/steer", c.body);
    EXPECT_EQ(a.status, 400) << c.body.substr(0, 160) << ": " << a.body;
    EXPECT_NE(error_message(a).find(c.needle), std::string::npos)
        << c.body.substr(0, 160) << ": " << error_message(a) << " (expected '" << c.needle << "')";
  }
  // A model the server does not know is 404.
  Json unknown = clamp_request(1.0);
  unknown["model"] = "toy-lmm";
  EXPECT_EQ(steer(unknown).status, 404);
  // After all that, a good request still works.
  EXPECT_EQ(steer(clamp_request(1.0)).status, 200);
}

// A slower model (wider, deeper, longer context) so that generations overlap in time.
class ServeSteeringLoad : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = golgi::testing::scratch_dir("serve_steering_load");
    save_tiny_llama(dir_ + "/slow-model", 192, 4, 256, 9);
    // Matched through models.source_path: the folder's name differs from the model's.
    golgi::testing::write_toy_atlas(dir_ + "/toy.db", "toy-lm", dir_ + "/slow-model");
  }
  static std::string dir_;
};
std::string ServeSteeringLoad::dir_;

TEST_F(ServeSteeringLoad, EightClientsWithQueueTwoGet200Or503) {
  serve::AtlasServer server({dir_ + "/toy.db"}, {dir_ + "/slow-model"},
                            serve::ServeOptions().steering(serve::SteeringOptions().queue(2).timeout_seconds(120)));
  server.start("127.0.0.1", 0);
  ASSERT_EQ(server.steerable_models(), std::vector<std::string>{"toy-lm"});
  std::mutex mutex;
  std::condition_variable go;
  bool started = false;
  std::map<int, int> statuses;
  std::vector<std::string> odd;
  std::vector<std::thread> clients;
  for (int c = 0; c < 8; ++c)
    clients.emplace_back([&, c] {
      {
        std::unique_lock<std::mutex> lock(mutex);
        go.wait(lock, [&] { return started; });
      }
      Json request = clamp_request(10.0 + c, 100);
      request["prompt"] = "client " + std::to_string(c);
      Answer a = post(server.port(), "/api/steer", request.dump());
      std::lock_guard<std::mutex> lock(mutex);
      ++statuses[a.status];
      if (a.status != 200 && a.status != 503) odd.push_back(std::to_string(a.status) + " " + a.body);
      if (a.status == 503) {
        EXPECT_NE(error_message(a).find("busy"), std::string::npos) << a.body;
      }
    });
  {
    std::lock_guard<std::mutex> lock(mutex);
    started = true;
  }
  go.notify_all();
  for (auto& t : clients) t.join();
  EXPECT_TRUE(odd.empty()) << odd.front();
  EXPECT_EQ(statuses[200] + statuses[503], 8);
  // One runs and two wait; the others arrive while those three are in the system.
  EXPECT_GE(statuses[200], 1);
  EXPECT_GE(statuses[503], 1) << "no request was turned away: the generations did not overlap";
  // The server is healthy afterwards and serves the next request.
  EXPECT_EQ(post(server.port(), "/api/steer", clamp_request(1.0).dump()).status, 200);
  server.stop();
}

TEST_F(ServeSteeringLoad, OverTheTimeLimitIs504) {
  serve::AtlasServer server({dir_ + "/toy.db"}, {dir_ + "/slow-model"},
                            serve::ServeOptions().steering(serve::SteeringOptions().timeout_seconds(0.01)));
  server.start("127.0.0.1", 0);
  Answer a = post(server.port(), "/api/steer", clamp_request(3.0, 128).dump());
  EXPECT_EQ(a.status, 504) << a.body;
  EXPECT_NE(error_message(a).find("time limit"), std::string::npos) << a.body;
  EXPECT_NE(error_message(a).find("--steer-timeout"), std::string::npos) << a.body;
  // The stopped run released the model: the next request runs (and times out again, cleanly).
  EXPECT_EQ(post(server.port(), "/api/steer", clamp_request(3.0, 128).dump()).status, 504);
}

TEST(ServeSteeringSetup, ModelMustMatchAnAtlas) {
  const std::string dir = golgi::testing::scratch_dir("serve_steering_setup");
  save_tiny_llama(dir + "/other-model", 16, 1, 32, 1);
  golgi::testing::write_toy_atlas(dir + "/toy.db");
  const std::string message = golgi::testing::error_of(
      [&] { serve::AtlasServer({dir + "/toy.db"}, {dir + "/other-model"}); });
  EXPECT_NE(message.find("matches none of the atlases"), std::string::npos) << message;
  EXPECT_NE(message.find("toy-lm"), std::string::npos) << message;
  // A folder without a tokenizer cannot steer.
  save_tiny_llama(dir + "/toy-lm", 16, 1, 32, 1);
  std::filesystem::remove(dir + "/toy-lm/tokenizer_config.json");
  const std::string no_tokenizer =
      golgi::testing::error_of([&] { serve::AtlasServer({dir + "/toy.db"}, {dir + "/toy-lm"}); });
  EXPECT_NE(no_tokenizer.find("tokenizer"), std::string::npos) << no_tokenizer;
}

}  // namespace
