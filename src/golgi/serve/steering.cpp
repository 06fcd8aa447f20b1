#include "golgi/serve/steering.h"

#include <chrono>
#include <cmath>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>

#include <torch/torch.h>

#include "golgi/core/strings.h"
#include "golgi/hooks/intervention_set.h"
#include "golgi/hooks/neuron_ref.h"
#include "golgi/hooks/scoped_hooks.h"
#include "golgi/models/generate.h"
#include "golgi/models/registry.h"
#include "golgi/models/transformer.h"
#include "golgi/serve/api_error.h"
#include "golgi/tokenize/tokenizer.h"
#include "golgi/train/language_model.h"

namespace golgi::serve {

namespace {

using Clock = std::chrono::steady_clock;

// Thrown by the deadline hook to abandon a generation; caught in run(), never escapes.
struct DeadlinePassed {};

// The largest integer a JSON number (a double in the browser) holds exactly.
constexpr int64_t kMaxSeed = int64_t{1} << 53;

// A copy, not a reference: the fallback is usually a temporary.
Json field_or(const Json& request, const char* key, const Json& fallback) {
  auto it = request.find(key);
  return it == request.end() ? fallback : *it;
}

int64_t integer_field(const Json& request, const char* key, int64_t fallback, int64_t low, int64_t high) {
  const Json value = field_or(request, key, Json(fallback));
  GOLGI_API_CHECK(value.is_number_integer() || (value.is_number_float() && std::isfinite(value.get<double>()) &&
                                                std::floor(value.get<double>()) == value.get<double>()),
                  400, "\"", key, "\" must be an integer in [", low, ", ", high, "], got ", value.dump());
  // Read as double first: a huge integer or float must be range-checked, not wrapped.
  const double number = value.get<double>();
  GOLGI_API_CHECK(number >= static_cast<double>(low) && number <= static_cast<double>(high), 400, "\"", key,
                  "\" must be in [", low, ", ", high, "], got ", value.dump());
  return value.is_number_unsigned() ? static_cast<int64_t>(value.get<uint64_t>()) : value.get<int64_t>();
}

double number_field(const Json& value, const std::string& where) {
  GOLGI_API_CHECK(value.is_number(), 400, where, " must be a number, got ", value.dump());
  const double number = value.get<double>();
  GOLGI_API_CHECK(std::isfinite(number), 400, where, " must be finite, got ", value.dump());
  return number;
}

// Text of one token for display: special tokens by name, others decoded (possibly a partial
// UTF-8 sequence, which the JSON writer replaces with U+FFFD).
std::string token_text(const tokenize::Tokenizer& tokenizer, int64_t id) { return tokenizer.decode({id}); }

}  // namespace

const OptionSchema<SteeringOptions>& SteeringOptions::schema() {
  static const auto schema =
      OptionSchema<SteeringOptions>("steering")
          .add("queue", &SteeringOptions::queue_, "requests that may wait while one runs", at_least<int64_t>(0))
          .add("timeout_seconds", &SteeringOptions::timeout_seconds_,
               "time limit per request, for waiting and again for running", at_least(0.0, /*inclusive=*/false))
          .add("max_prompt_bytes", &SteeringOptions::max_prompt_bytes_, "longest prompt accepted, in bytes",
               at_least<int64_t>(1))
          .add("max_new_tokens", &SteeringOptions::max_new_tokens_, "most tokens one request may generate",
               at_least<int64_t>(1))
          .add("max_top_n", &SteeringOptions::max_top_n_, "most next-token probabilities one request may ask for",
               at_least<int64_t>(1))
          .add("max_interventions", &SteeringOptions::max_interventions_, "most interventions in one request",
               at_least<int64_t>(0));
  return schema;
}

struct Steering::State {
  std::string folder, name;
  SteeringOptions options;
  models::LoadedModel loaded;
  models::TransformerLM* lm = nullptr;
  std::unique_ptr<tokenize::Tokenizer> tokenizer;
  std::optional<int64_t> separator;
  // Activation shape of every hook point on a one-token pass, and whether its neuron dimension
  // keeps its size when the pass grows. Every hook of golgi's transformers does (attention
  // patterns are indexed by head); a hook indexed along positions could not be steered by index,
  // because each generated token is a pass of another length.
  std::map<std::string, std::vector<int64_t>> shapes;
  std::map<std::string, bool> steerable;

  // The queue: `busy` while a generation runs; `waiting` requests wait on `turn`.
  std::mutex mutex;
  std::condition_variable turn;
  bool busy = false;
  int64_t waiting = 0;
};

Steering::Steering(const std::string& model_dir, SteeringOptions options) : state_(std::make_unique<State>()) {
  SteeringOptions::schema().validate(options);
  State& s = *state_;
  s.folder = model_dir;
  s.options = options;
  s.name = std::filesystem::path(models::model_folder(model_dir)).lexically_normal().filename().string();
  if (s.name.empty()) s.name = std::filesystem::path(model_dir).lexically_normal().parent_path().filename().string();
  s.loaded = models::load_model(model_dir);
  s.lm = dynamic_cast<models::TransformerLM*>(s.loaded.model.get());
  GOLGI_CHECK(s.lm, "--model '", model_dir, "' is a ", s.loaded.model->architecture(),
              " model; steering needs a language model (gpt2 or llama)");
  try {
    s.tokenizer = tokenize::load_tokenizer(models::model_folder(model_dir));
  } catch (const Error& e) {
    GOLGI_FAIL("--model '", model_dir, "': steering needs the model's tokenizer next to it: ", e.what());
  }
  s.separator = train::document_separator(*s.tokenizer);
  s.lm->eval();

  // Probe passes of one and two tokens record every hook point's shape.
  torch::NoGradGuard no_grad;
  std::map<std::string, std::vector<int64_t>> one, two;
  auto probe = [&](int64_t length, std::map<std::string, std::vector<int64_t>>& out) {
    hooks::HookGuards guards;
    for (const auto& name : s.lm->hook_names())
      guards.push_back(hooks::read_hook(*s.lm, name, [&out, name](const at::Tensor& a) { out[name] = a.sizes().vec(); }));
    s.lm->forward(torch::zeros({1, length}, torch::kLong));
  };
  probe(1, one);
  probe(std::min<int64_t>(2, s.lm->config().n_ctx), two);
  for (const auto& [name, shape] : one) {
    const int64_t dim = s.lm->hook_point(name).neuron_dim_for_rank(static_cast<int64_t>(shape.size()));
    const auto& other = two[name];
    s.shapes[name] = shape;
    s.steerable[name] = other.size() == shape.size() && other[static_cast<size_t>(dim)] == shape[static_cast<size_t>(dim)];
  }
}

Steering::~Steering() = default;

const std::string& Steering::folder() const { return state_->folder; }
const std::string& Steering::name() const { return state_->name; }
const SteeringOptions& Steering::options() const { return state_->options; }

Json Steering::run(const Json& request) {
  State& s = *state_;
  const SteeringOptions& o = s.options;
  const auto started = Clock::now();
  GOLGI_API_CHECK(request.is_object(), 400, "the steer request must be a JSON object, got ", request.type_name());
  static const std::vector<std::string> kFields{"model",       "prompt", "interventions", "max_new_tokens",
                                                "temperature", "seed",   "top_n"};
  for (const auto& [key, value] : request.items()) {
    bool known = false;
    for (const auto& f : kFields) known = known || f == key;
    const std::string close = did_you_mean(key, kFields);
    GOLGI_API_CHECK(known, 400, "unknown field \"", key, "\" in the steer request", close.empty() ? "" : " (" + close + ")",
                    "; fields: ", join(kFields, ", "));
  }

  // --- Validation: everything a request can get wrong, before it takes a place in the queue.
  const Json prompt_json = field_or(request, "prompt", Json());
  GOLGI_API_CHECK(prompt_json.is_string(), 400, "\"prompt\" must be a string of text");
  const std::string prompt = prompt_json.get<std::string>();
  GOLGI_API_CHECK(static_cast<int64_t>(prompt.size()) <= o.max_prompt_bytes(), 400, "the prompt is ", prompt.size(),
                  " bytes; the limit is ", o.max_prompt_bytes(), " bytes: shorten it");
  const int64_t max_new = integer_field(request, "max_new_tokens", 32, 1, o.max_new_tokens());
  const Json temperature_json = field_or(request, "temperature", Json(0.0));
  const double temperature = number_field(temperature_json, "\"temperature\"");
  GOLGI_API_CHECK(temperature >= 0 && temperature <= 2, 400, "\"temperature\" must be in [0, 2] (0: greedy), got ",
                  temperature_json.dump());
  const int64_t seed = integer_field(request, "seed", 0, 0, kMaxSeed);
  const int64_t top_n = integer_field(request, "top_n", 10, 1, o.max_top_n());

  const Json list = field_or(request, "interventions", Json::array());
  GOLGI_API_CHECK(list.is_array(), 400, "\"interventions\" must be a list of {\"ref\", \"op\", \"value\"}");
  GOLGI_API_CHECK(static_cast<int64_t>(list.size()) <= o.max_interventions(), 400, "at most ", o.max_interventions(),
                  " interventions per request, got ", list.size());
  hooks::InterventionSet set;
  Json applied = Json::array();
  for (size_t i = 0; i < list.size(); ++i) {
    const Json& item = list[i];
    const std::string where = "intervention " + std::to_string(i);
    GOLGI_API_CHECK(item.is_object(), 400, where, " must be an object {\"ref\", \"op\", \"value\"}");
    for (const auto& [key, value] : item.items())
      GOLGI_API_CHECK(key == "ref" || key == "op" || key == "value", 400, where, ": unknown field \"", key,
                      "\" (fields: ref, op, value)");
    GOLGI_API_CHECK(item.contains("ref") && item["ref"].is_string(), 400, where,
                    ": needs \"ref\", a neuron such as \"blocks.0.mlp.hook_post:3\"");
    GOLGI_API_CHECK(item.contains("op") && item["op"].is_string(), 400, where,
                    ": needs \"op\": clamp, zero, scale or add");
    const std::string op = item["op"].get<std::string>();
    GOLGI_API_CHECK(op == "clamp" || op == "zero" || op == "scale" || op == "add", 400, where, ": unknown op '", op,
                    "' (expected clamp, zero, scale or add)");
    hooks::NeuronRef ref;
    try {
      ref = hooks::NeuronRef::parse(item["ref"].get<std::string>());
    } catch (const Error& e) {
      throw ApiError(400, where + ": " + e.what());
    }
    GOLGI_API_CHECK(ref.position.empty(), 400, where, ": '", ref.str(),
                    "' names a position; steering applies to every position (each generated token is a "
                    "one-position pass): drop the @...");
    try {
      hooks::validate(ref, *s.lm, {});  // the hook exists (with suggestions otherwise)
    } catch (const Error& e) {
      throw ApiError(400, where + ": " + e.what());
    }
    GOLGI_API_CHECK(s.shapes.count(ref.hook), 400, where, ": hook '", ref.hook,
                    "' does not run in this model's forward pass, so it cannot be steered");
    GOLGI_API_CHECK(s.steerable.at(ref.hook), 400, where, ": hook '", ref.hook,
                    "' is indexed along positions, whose number changes during generation, so it cannot be "
                    "steered by index; steer an MLP or residual-stream hook");
    const std::vector<int64_t>& shape = s.shapes.at(ref.hook);
    try {
      hooks::validate(ref, *s.lm, shape);  // the index is in range
    } catch (const Error& e) {
      throw ApiError(400, where + ": " + e.what());
    }
    double value = 0.0;
    if (op != "zero") {
      GOLGI_API_CHECK(item.contains("value"), 400, where, ": \"", op, "\" needs a numeric \"value\"");
      value = number_field(item["value"], where + ": \"value\"");
    }
    if (op == "clamp") {
      set.set(ref, value);
    } else if (op == "zero") {
      set.zero(ref);
    } else if (op == "scale") {
      set.scale(ref, value);
    } else {
      // value times the unit vector along the neuron dimension, shaped to broadcast over the
      // dimensions after it ([d] for [batch, pos, d]).
      const int64_t rank = static_cast<int64_t>(shape.size());
      const int64_t dim = s.lm->hook_point(ref.hook).neuron_dim_for_rank(rank);
      std::vector<int64_t> delta_shape{shape[static_cast<size_t>(dim)]};
      for (int64_t d = dim + 1; d < rank; ++d) delta_shape.push_back(1);
      at::Tensor delta = torch::zeros({delta_shape[0]}, torch::kFloat32);
      delta[ref.index] = value;
      set.add(ref.hook, delta.reshape(delta_shape));
    }
    Json entry{{"ref", ref.str()}, {"op", op}};
    if (op != "zero") entry["value"] = value;
    applied.push_back(entry);
  }

  std::vector<int64_t> ids;
  if (s.separator) ids.push_back(*s.separator);
  const auto text_ids = s.tokenizer->encode(prompt);
  ids.insert(ids.end(), text_ids.begin(), text_ids.end());
  GOLGI_API_CHECK(!ids.empty(), 400, "the prompt is empty and the model's tokenizer has no end-of-document token to "
                  "start from: give some text");
  const int64_t n_ctx = s.lm->config().n_ctx;
  GOLGI_API_CHECK(static_cast<int64_t>(ids.size()) + max_new <= n_ctx, 400, "the prompt is ", ids.size(),
                  " tokens; with max_new_tokens ", max_new, " that exceeds the model's context of ", n_ctx,
                  " tokens: shorten the prompt or lower max_new_tokens");

  // --- The queue: one generation at a time, at most `queue` waiting, none waiting forever.
  const auto limit = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.timeout_seconds()));
  {
    std::unique_lock<std::mutex> lock(s.mutex);
    GOLGI_API_CHECK(!s.busy || s.waiting < o.queue(), 503, "steering is busy: one generation runs and ", s.waiting,
                    " wait (the limit, --queue); try again in a few seconds");
    ++s.waiting;
    const bool turn = s.turn.wait_until(lock, started + limit, [&] { return !s.busy; });
    --s.waiting;
    GOLGI_API_CHECK(turn, 503, "steering is busy: this request waited ", o.timeout_seconds(),
                    " s (--steer-timeout) without its turn; try again later");
    s.busy = true;
  }
  struct Release {
    State& s;
    ~Release() {
      {
        std::lock_guard<std::mutex> lock(s.mutex);
        s.busy = false;
      }
      s.turn.notify_one();
    }
  } release{s};

  // --- The run, stopped at the next forward pass once the time limit has passed.
  const auto deadline = Clock::now() + limit;
  torch::NoGradGuard no_grad;
  hooks::HookGuard watchdog = hooks::read_hook(*s.lm, s.lm->hook_names().front(), [deadline](const at::Tensor&) {
    if (Clock::now() > deadline) throw DeadlinePassed{};
  });
  const at::Tensor prompt_ids = torch::tensor(ids, torch::kLong).unsqueeze(0);
  const auto options = models::GenerateOptions()
                           .max_new_tokens(max_new)
                           .temperature(temperature)
                           .seed(seed)
                           .stop_token(s.separator ? *s.separator : -1);
  auto next_tokens = [&]() {
    const at::Tensor probs = s.lm->forward(prompt_ids).select(1, -1)[0].to(torch::kFloat32).softmax(-1);
    const auto [values, indices] = probs.topk(std::min<int64_t>(top_n, probs.size(0)));
    Json out = Json::array();
    for (int64_t k = 0; k < values.size(0); ++k) {
      const int64_t id = indices[k].item<int64_t>();
      out.push_back({{"token", token_text(*s.tokenizer, id)}, {"id", id}, {"prob", values[k].item<double>()}});
    }
    return out;
  };
  auto continue_prompt = [&]() {
    const at::Tensor out = models::generate(*s.lm, prompt_ids, options);
    std::vector<int64_t> fresh;
    for (int64_t t = prompt_ids.size(1); t < out.size(1); ++t) {
      const int64_t id = out[0][t].item<int64_t>();
      if (id == options.stop_token()) break;
      fresh.push_back(id);
    }
    std::vector<int64_t> shown;
    for (int64_t id : fresh)
      if (!s.tokenizer->is_special(id)) shown.push_back(id);
    const std::string continuation = s.tokenizer->decode(shown);
    return Json{{"text", prompt + continuation}, {"continuation", continuation}, {"tokens", fresh}};
  };
  Json result{{"model", s.name}, {"prompt_tokens", ids.size()}, {"interventions", applied}};
  try {
    result["base"] = continue_prompt();
    result["next_tokens"]["base"] = next_tokens();
    hooks::HookGuards steering;
    try {
      steering = set.apply(*s.lm);
    } catch (const Error& e) {
      throw ApiError(400, e.what());
    }
    result["steered"] = continue_prompt();
    result["next_tokens"]["steered"] = next_tokens();
  } catch (const DeadlinePassed&) {
    throw ApiError(504, detail::concat("steering stopped after ", o.timeout_seconds(), " s, the time limit "
                                       "(--steer-timeout): ask for fewer max_new_tokens or a shorter prompt"));
  }
  result["seconds"] = std::chrono::duration<double>(Clock::now() - started).count();
  return result;
}

}  // namespace golgi::serve
